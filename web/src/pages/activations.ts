// Administration: activations (the one-time code and the commands for a new machine) and the
// audit log with filters.
import { del, get, post } from "../api";
import { ask, clear, fill, formatTime, h, parseTags, table, tagList } from "../dom";
import type { Page } from "../main";
import { act } from "./users";

interface Activation {
  id: string; name: string; tags: Record<string, string>; registration_limit: number; registrations: number; expires_at: string; created_by: string;
  code?: string; gateway_ca_fingerprint?: string;
}
interface AuditEvent { id: number; time: string; actor: string; source: string; action: string; target: string; outcome: string; detail: string }

function copyButton(text: () => string): HTMLElement {
  const button = h("button", { type: "button" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
  });
  return button;
}

export const activationsPage: Page = (main, me) => {
  const status = h("div", {});
  const created = h("div", {});
  const list = h("div", {});
  const name = h("input", { name: "name", placeholder: "web" });
  const tags = h("input", { name: "tags", placeholder: "env=dev,team=core" });
  const limit = h("input", { name: "limit", type: "number", min: 1, max: 10000, value: 1 });
  const hours = h("input", { name: "hours", type: "number", min: 1, max: 720, value: 24 });
  const create = h("form", { class: "card inline-form", "aria-label": "Create activation" },
    h("h2", {}, "New activation"), h("label", {}, "Name", name), h("label", {}, "Tags", tags),
    h("label", {}, "Registrations", limit), h("label", {}, "Expires in (hours)", hours),
    h("button", { type: "submit", class: "primary", disabled: !me.can["activation:Create"] }, "Create"));
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Activations")), status, create, created, list);

  const load = (): Promise<void> => fill(list, async () => {
    const items = (await get<{ activations: Activation[] }>("/v1/activations")).activations;
    return table(["ID", "Name", "Tags", "Used", "Expires", "Created by", ""], items.map((a) => [
        h("code", {}, a.id), a.name, tagList(a.tags), `${a.registrations} / ${a.registration_limit}`, formatTime(a.expires_at), a.created_by,
        h("button", { type: "button", class: "danger", onclick: async () => {
          if (await ask(`Delete activation ${a.id}?`, [], "Delete", true)) void act(status, () => del(`/v1/activations/${a.id}`), "Activation deleted.", load);
        } }, "Delete"),
      ]));
  });
  create.addEventListener("submit", (event) => {
    event.preventDefault();
    void act(status, async () => {
      const body: Record<string, unknown> = { tags: parseTags(tags.value), limit: Number(limit.value), expires_in_seconds: Number(hours.value) * 3600 };
      if (name.value.trim()) body.name = name.value.trim();
      const activation = await post<Activation>("/v1/activations", body);
      const gateway = `https://${location.host}`;
      const trust = activation.gateway_ca_fingerprint ? `--ca-fingerprint ${activation.gateway_ca_fingerprint}` : "--ca-file ca.pem";
      const command = `sallyport-agent register --gateway ${gateway} ${trust} --activation-id ${activation.id} ` +
        `--activation-code ${activation.code} --state-dir /var/lib/sallyport-agent && sallyport-agent run --state-dir /var/lib/sallyport-agent`;
      clear(created);
      created.appendChild(h("div", { class: "card secret" },
        h("h2", {}, "Activation created"),
        h("p", {}, "The code is shown only now; the gateway keeps only its hash."),
        h("dl", {}, h("dt", {}, "Activation ID"), h("dd", {}, h("code", { "data-activation-id": "" }, activation.id)),
          h("dt", {}, "Activation code"), h("dd", {}, h("code", { "data-activation-code": "" }, activation.code ?? ""))),
        h("p", {}, "On the new machine, as root (the agent pins this gateway's CA by its fingerprint):"),
        h("pre", { class: "command" }, command), copyButton(() => command)));
      create.reset();
    }, "Activation created.", load);
  });
  void load();
};

export const auditPage: Page = (main) => {
  const since = h("select", { "aria-label": "Since" }, ...[["1h", "1 hour"], ["24h", "24 hours"], ["168h", "7 days"], ["720h", "30 days"]].map(([value, label]) =>
    h("option", { value, selected: value === "24h" }, `Last ${label}`)));
  const outcome = h("select", { "aria-label": "Outcome" }, h("option", { value: "" }, "Any outcome"),
    ...["success", "failure", "denied"].map((o) => h("option", { value: o }, o)));
  const text = h("input", { type: "search", placeholder: "Actor, action, target, detail", "aria-label": "Filter by text" });
  const list = h("div", {});
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Audit log")), h("div", { class: "filters" }, since, outcome, text), list);
  let events: AuditEvent[] = [];
  const filtered = (): HTMLElement => {
    const needle = text.value.trim().toLowerCase();
    const shown = events.filter((e) => (!outcome.value || e.outcome === outcome.value) &&
      (!needle || [e.actor, e.action, e.target, e.detail, e.source].some((v) => v?.toLowerCase().includes(needle))));
    return table(["Time", "Actor", "Source", "Action", "Target", "Outcome", "Detail"], shown.map((e) => [
      formatTime(e.time), e.actor, e.source, h("code", {}, e.action), e.target, h("span", { class: `status status-${e.outcome}` }, e.outcome), e.detail,
    ]), "No events match.");
  };
  const render = (): void => { clear(list); list.appendChild(filtered()); };
  const load = (): Promise<void> => fill(list, async () => {
    events = (await get<{ events: AuditEvent[] }>(`/v1/audit?since=${since.value}&limit=1000`)).events;
    return filtered();
  });
  since.addEventListener("change", () => void load());
  outcome.addEventListener("change", render);
  text.addEventListener("input", render);
  void load();
};
