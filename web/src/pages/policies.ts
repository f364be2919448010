// Administration: policies. A JSON editor that shows the engine's errors inline (line, column
// and path, as the API reports them; JSON syntax errors before sending), attach/detach, and
// the simulator.
import { ApiError, del, errorText, get, post, put } from "../api";
import { ask, clear, fill, formatTime, h, message, table } from "../dom";
import type { Page } from "../main";
import { act } from "./users";

interface PolicySummary { name: string; builtin?: boolean; updated_at?: string }

const kTemplate = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "StartSessionsOnDev",
      "Effect": "Allow",
      "Action": ["session:Start"],
      "Resource": "node/*",
      "Condition": { "StringEquals": { "node:tag/env": "dev" } }
    }
  ]
}`;

function lineColumn(text: string, offset: number): [number, number] {
  const before = text.slice(0, offset).split("\n");
  return [before.length, before[before.length - 1].length + 1];
}

export const policiesPage: Page = (main, me) => {
  const status = h("div", {});
  const list = h("div", {});
  const name = h("input", { name: "policy-name", placeholder: "DevSessions", "aria-label": "Policy name" });
  const editor = h("textarea", { class: "code", rows: 18, spellcheck: "false", "aria-label": "Policy document (JSON)" });
  editor.value = kTemplate;
  const problems = h("div", { class: "field-error", role: "alert", id: "policy-problems" });
  editor.setAttribute("aria-describedby", "policy-problems");
  const gutter = h("div", { class: "editor-note muted small" });
  const save = h("button", { type: "button", class: "primary" }, "Save policy");
  let editing = "";

  const checkLocally = (): boolean => {
    clear(problems);
    editor.removeAttribute("aria-invalid");
    try {
      JSON.parse(editor.value);
      return true;
    } catch (error) {
      const match = /position (\d+)/.exec(String(error));
      const where = match ? lineColumn(editor.value, Number(match[1])) : null;
      problems.textContent = `JSON syntax error${where ? ` at line ${where[0]}, column ${where[1]}` : ""}: ${(error as Error).message}`;
      editor.setAttribute("aria-invalid", "true");
      return false;
    }
  };
  editor.addEventListener("input", () => { checkLocally(); });

  save.addEventListener("click", async () => {
    if (!checkLocally()) return;
    const policyName = name.value.trim();
    clear(status);
    try {
      if (editing && editing === policyName) await put(`/v1/policies/${encodeURIComponent(policyName)}`, { document: editor.value });
      else await post("/v1/policies", { name: policyName, document: editor.value });
      editing = policyName;
      status.appendChild(message("ok", `Policy ${policyName} saved.`));
      gutter.textContent = `Editing ${policyName}`;
      await load();
    } catch (error) {
      if (error instanceof ApiError && error.status === 400 && error.body?.error?.line) {
        const e = error.body.error;
        problems.textContent = /^line \d+/i.test(e.message) ? e.message.replace(/^l/, "L") : `Line ${e.line}, column ${e.column}: ${e.message}`;
        editor.setAttribute("aria-invalid", "true");
        // Put the caret where the engine found the problem.
        const lines = editor.value.split("\n");
        const offset = lines.slice(0, e.line - 1).reduce((sum: number, line: string) => sum + line.length + 1, 0) + Math.max(0, e.column - 1);
        editor.focus();
        editor.setSelectionRange(offset, offset);
      } else {
        status.appendChild(message("error", errorText(error)));
      }
    }
  });

  const open = async (policyName: string): Promise<void> => {
    try {
      const policy = await get<{ name: string; document: string }>(`/v1/policies/${encodeURIComponent(policyName)}`);
      name.value = policy.name;
      editor.value = policy.document;
      editing = policy.name;
      gutter.textContent = `Editing ${policy.name}`;
      checkLocally();
      editor.focus();
    } catch (error) {
      clear(status);
      status.appendChild(message("error", errorText(error)));
    }
  };

  const attachment = async (policy: string, verb: "attach" | "detach"): Promise<void> => {
    const answer = await ask(`${verb === "attach" ? "Attach" : "Detach"} ${policy}`, [
      { name: "user", label: "User", hint: "Give a user or a group." }, { name: "group", label: "Group" }], verb === "attach" ? "Attach" : "Detach");
    if (!answer) return;
    const body = answer.user.trim() ? { user: answer.user.trim() } : { group: answer.group.trim() };
    await act(status, () => post(`/v1/policies/${encodeURIComponent(policy)}/${verb}`, body), `${policy} ${verb === "attach" ? "attached to" : "detached from"} ${body.user ?? body.group}.`, load);
  };

  const load = (): Promise<void> => fill(list, async () => {
    const policies = (await get<{ policies: PolicySummary[] }>("/v1/policies")).policies;
    return table(["Name", "Built in", "Updated", ""], policies.map((p) => [
        h("span", { class: "strong" }, p.name), p.builtin ? "yes" : "", formatTime(p.updated_at),
        h("span", { class: "actions" },
          h("button", { type: "button", onclick: () => void open(p.name) }, "Edit"),
          h("button", { type: "button", onclick: () => void attachment(p.name, "attach") }, "Attach"),
          h("button", { type: "button", onclick: () => void attachment(p.name, "detach") }, "Detach"),
          p.builtin ? null : h("button", { type: "button", class: "danger", onclick: async () => {
            if (await ask(`Delete policy ${p.name}?`, [], "Delete", true)) void act(status, () => del(`/v1/policies/${encodeURIComponent(p.name)}`), `Policy ${p.name} deleted.`, load);
          } }, "Delete")),
      ]));
  });

  // The simulator: would this user be allowed this action on this resource?
  const simUser = h("input", { name: "sim-user", placeholder: "alice" });
  const simAction = h("input", { name: "sim-action", placeholder: "session:Start" });
  const simResource = h("input", { name: "sim-resource", placeholder: "node/mi-…" });
  const simContext = h("input", { name: "sim-context", placeholder: "session:runAs=alice" });
  const simResult = h("div", { role: "status" });
  const simulate = h("form", { class: "card inline-form", "aria-label": "Policy simulator" },
    h("h2", {}, "Simulator"), h("label", {}, "User", simUser), h("label", {}, "Action", simAction),
    h("label", {}, "Resource", simResource), h("label", {}, "Context (k=v, …)", simContext),
    h("button", { type: "submit", disabled: !me.can["policy:Simulate"] }, "Simulate"), simResult);
  simulate.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(simResult);
    const context: Record<string, string> = {};
    for (const pair of simContext.value.split(",").map((p) => p.trim()).filter(Boolean)) {
      const eq = pair.indexOf("=");
      if (eq > 0) context[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    try {
      const r = await post("/v1/policies/simulate", { user: simUser.value.trim(), action: simAction.value.trim(), resource: simResource.value.trim(), context });
      simResult.appendChild(message(r.decision === "allow" ? "ok" : "error",
        `${r.decision.toUpperCase()} (${r.effect})${r.policy ? ` by ${r.policy}${r.sid ? ` / ${r.sid}` : ""}` : ""}: ${r.explanation}`));
      for (const warning of r.warnings ?? []) simResult.appendChild(message("info", warning));
    } catch (error) {
      simResult.appendChild(message("error", errorText(error)));
    }
  });

  main.append(h("div", { class: "page-head" }, h("h1", {}, "Policies")), status, list,
    h("div", { class: "card" }, h("h2", {}, "Editor"), h("label", {}, "Name ", name), gutter, editor, problems,
      h("div", { class: "form-actions" }, save, h("button", { type: "button", onclick: () => { name.value = ""; editing = ""; editor.value = kTemplate; gutter.textContent = ""; checkLocally(); } }, "New"))),
    simulate);
  void load();
};
