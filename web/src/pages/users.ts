// Administration: users (create, delete, reset password, tags) and groups (create, delete,
// members). The API decides every action; refusals show their message.
import { del, errorText, get, post, put } from "../api";
import { ask, clear, fill, formatTime, h, message, parseTags, table, tagList } from "../dom";
import type { Page } from "../main";

// Runs an action, reports its outcome in `status`, then reloads.
export async function act(status: HTMLElement, what: () => Promise<unknown>, done: string, reload: () => Promise<void>): Promise<void> {
  clear(status);
  try {
    await what();
    status.appendChild(message("ok", done));
  } catch (error) {
    status.appendChild(message("error", errorText(error)));
  }
  await reload();
}

interface User { name: string; tags: Record<string, string>; admin: boolean; created_at: string }
interface Group { name: string; members: string[]; policies: string[]; created_at: string }

export const usersPage: Page = (main) => {
  const status = h("div", {});
  const list = h("div", {});
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const password = h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" });
  const tags = h("input", { name: "tags", placeholder: "team=core,runAs=alice" });
  const policy = h("input", { name: "policy", placeholder: "SessionUser" });
  const create = h("form", { class: "card inline-form", "aria-label": "Create user" },
    h("h2", {}, "New user"),
    h("label", {}, "Name", name), h("label", {}, "Password", password), h("label", {}, "Tags", tags), h("label", {}, "Policy", policy),
    h("button", { type: "submit", class: "primary" }, "Create"));
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Users")), status, create, list);

  const load = (): Promise<void> => fill(list, async () => {
    const users = (await get<{ users: User[] }>("/v1/users")).users;
    return table(["Name", "Admin", "Tags", "Created", ""], users.map((user) => [
        h("span", { class: "strong" }, user.name), user.admin ? "yes" : "", tagList(user.tags), formatTime(user.created_at),
        h("span", { class: "actions" },
          h("button", { type: "button", onclick: async () => {
            const answer = await ask(`Reset the password of ${user.name}`, [{ name: "password", label: "New password", type: "password", hint: "At least 10 characters." }], "Reset password");
            if (answer) void act(status, () => put(`/v1/users/${encodeURIComponent(user.name)}/password`, answer), `Password of ${user.name} reset.`, load);
          } }, "Reset password"),
          h("button", { type: "button", onclick: async () => {
            const answer = await ask(`Tags of ${user.name}`, [{ name: "tags", label: "Tags", value: Object.entries(user.tags).map(([k, v]) => `${k}=${v}`).join(","), hint: "key=value, comma-separated; runAs=NAME sets the run-as user." }], "Save tags");
            if (answer) void act(status, () => put(`/v1/users/${encodeURIComponent(user.name)}/tags`, { tags: parseTags(answer.tags) }), `Tags of ${user.name} saved.`, load);
          } }, "Tags"),
          h("button", { type: "button", class: "danger", onclick: async () => {
            if (await ask(`Delete user ${user.name}?`, [], "Delete", true)) void act(status, () => del(`/v1/users/${encodeURIComponent(user.name)}`), `User ${user.name} deleted.`, load);
          } }, "Delete")),
      ]));
  });
  create.addEventListener("submit", (event) => {
    event.preventDefault();
    void act(status, async () => {
      const body: Record<string, unknown> = { name: name.value.trim(), password: password.value, tags: parseTags(tags.value) };
      if (policy.value.trim()) body.policies = [policy.value.trim()];
      await post("/v1/users", body);
      create.reset();
    }, `User ${name.value.trim()} created.`, load);
  });
  void load();
};

export const groupsPage: Page = (main) => {
  const status = h("div", {});
  const list = h("div", {});
  const name = h("input", { name: "name", required: true });
  const create = h("form", { class: "card inline-form", "aria-label": "Create group" },
    h("h2", {}, "New group"), h("label", {}, "Name", name), h("button", { type: "submit", class: "primary" }, "Create"));
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Groups")), status, create, list);
  const load = (): Promise<void> => fill(list, async () => {
    const groups = (await get<{ groups: Group[] }>("/v1/groups")).groups;
    return table(["Name", "Members", "Policies", "Created", ""], groups.map((group) => [
        h("span", { class: "strong" }, group.name),
        h("span", { class: "actions" }, ...group.members.map((member) => h("button", { type: "button", class: "chip", title: `Remove ${member}`,
          onclick: () => void act(status, () => del(`/v1/groups/${encodeURIComponent(group.name)}/members/${encodeURIComponent(member)}`), `${member} removed from ${group.name}.`, load) }, `${member} ×`))),
        group.policies.join(", "), formatTime(group.created_at),
        h("span", { class: "actions" },
          h("button", { type: "button", onclick: async () => {
            const answer = await ask(`Add a member to ${group.name}`, [{ name: "user", label: "User" }], "Add");
            if (answer) void act(status, () => post(`/v1/groups/${encodeURIComponent(group.name)}/members`, answer), `${answer.user} added to ${group.name}.`, load);
          } }, "Add member"),
          h("button", { type: "button", class: "danger", onclick: async () => {
            if (await ask(`Delete group ${group.name}?`, [], "Delete", true)) void act(status, () => del(`/v1/groups/${encodeURIComponent(group.name)}`), `Group ${group.name} deleted.`, load);
          } }, "Delete")),
      ]));
  });
  create.addEventListener("submit", (event) => {
    event.preventDefault();
    void act(status, () => post("/v1/groups", { name: name.value.trim() }).then(() => create.reset()), `Group ${name.value.trim()} created.`, load);
  });
  void load();
};
