// The console's shell: login, the navigation (only what the user's policies allow) and a
// hash router (#/nodes, #/sessions, ...). Each page renders into <main> and returns a cleanup
// that stops its timers and sockets when the user leaves it.
import "./style.css";
import "@xterm/xterm/css/xterm.css";
import "asciinema-player/dist/bundle/asciinema-player.css";
import { api, errorText, get, Me, onSessionExpired, setCsrf } from "./api";
import { clear, h, message } from "./dom";
import { nodesPage } from "./pages/nodes";
import { sessionsPage } from "./pages/sessions";
import { terminalPage } from "./pages/terminal";
import { replayPage } from "./pages/replay";
import { preferencesPage } from "./pages/preferences";
import { usersPage, groupsPage } from "./pages/users";
import { policiesPage } from "./pages/policies";
import { activationsPage, auditPage } from "./pages/activations";

export type Cleanup = () => void;
export type Page = (main: HTMLElement, me: Me, args: string[]) => Cleanup | void;

interface Route {
  path: string;
  title: string;
  page: Page;
  can?: string;      // the action that makes it worth showing
  admin?: boolean;   // listed under Administration
  hidden?: boolean;  // reached by links, not the menu
}

const routes: Route[] = [
  { path: "nodes", title: "Managed nodes", page: nodesPage, can: "node:List" },
  { path: "sessions", title: "Sessions", page: sessionsPage, can: "session:List" },
  { path: "preferences", title: "Preferences", page: preferencesPage, can: "preferences:Read" },
  { path: "admin/users", title: "Users", page: usersPage, can: "user:List", admin: true },
  { path: "admin/groups", title: "Groups", page: groupsPage, can: "group:List", admin: true },
  { path: "admin/policies", title: "Policies", page: policiesPage, can: "policy:List", admin: true },
  { path: "admin/activations", title: "Activations", page: activationsPage, can: "activation:List", admin: true },
  { path: "admin/audit", title: "Audit log", page: auditPage, can: "audit:Read", admin: true },
  { path: "terminal", title: "Terminal", page: terminalPage, hidden: true },
  { path: "replay", title: "Replay", page: replayPage, hidden: true },
];

const root = document.getElementById("app")!;
let me: Me | null = null;
let cleanup: Cleanup | void;

function allowed(route: Route): boolean {
  return !route.can || Boolean(me?.can?.[route.can]);
}

function showLogin(note = ""): void {
  if (cleanup) cleanup();
  cleanup = undefined;
  me = null;
  setCsrf("");
  clear(root);
  const user = h("input", { name: "user", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const status = h("div", { class: "login-status" }, note ? message("info", note) : null);
  const button = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "login card", "aria-label": "Log in" },
    h("h1", {}, "Sallyport"),
    h("p", { class: "muted" }, "Sign in with your Sallyport user and password."),
    h("label", { for: "login-user" }, "User"), Object.assign(user, { id: "login-user" }),
    h("label", { for: "login-password" }, "Password"), Object.assign(password, { id: "login-password" }),
    status, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    clear(status);
    try {
      const session = await api("POST", "/v1/auth/session", { user: user.value, password: password.value });
      setCsrf(session.csrf_token);
      await start();
    } catch (error) {
      status.appendChild(message("error", errorText(error)));
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  root.appendChild(h("div", { class: "login-wrap" }, form));
  user.focus();
}

async function logout(): Promise<void> {
  try {
    await api("DELETE", "/v1/auth/session");
  } catch {
    // already gone
  }
  location.hash = "";
  showLogin("You are logged out.");
}

function layout(): HTMLElement {
  const nav = h("nav", { "aria-label": "Main" });
  const main = h("main", { id: "main", tabindex: "-1" });
  const plain = routes.filter((r) => !r.hidden && !r.admin && allowed(r));
  const admin = routes.filter((r) => !r.hidden && r.admin && allowed(r));
  for (const route of plain) nav.appendChild(h("a", { href: `#/${route.path}`, "data-route": route.path }, route.title));
  if (admin.length) {
    nav.appendChild(h("span", { class: "nav-group" }, "Administration"));
    for (const route of admin) nav.appendChild(h("a", { href: `#/${route.path}`, "data-route": route.path }, route.title));
  }
  const header = h("header", { class: "top" },
    h("a", { class: "brand", href: "#/nodes" }, "Sallyport"),
    nav,
    h("div", { class: "who" }, h("span", { class: "muted" }, me!.name),
      h("button", { type: "button", class: "link", onclick: () => void logout() }, "Log out")));
  clear(root);
  root.append(h("a", { class: "skip", href: "#main", onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, "Skip to content"), header, main);
  return main;
}

function route(): void {
  if (!me) return;
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/").map(decodeURIComponent);
  let found = routes.find((r) => hash === r.path || hash.startsWith(r.path + "/"));
  if (!found) {
    found = routes.find((r) => !r.hidden && allowed(r));
    if (found) {
      location.replace(`#/${found.path}`);
      return;
    }
  }
  if (cleanup) cleanup();
  cleanup = undefined;
  let main = document.getElementById("main");
  if (!main) main = layout();
  clear(main);
  main.className = found?.path === "terminal" ? "full" : "";
  document.querySelectorAll("nav a").forEach((a) => a.toggleAttribute("aria-current", a.getAttribute("data-route") === found?.path));
  if (!found) {
    main.appendChild(message("info", "Your policies give you no pages here. Ask an administrator."));
    return;
  }
  document.title = `${found.title} · Sallyport`;
  if (!allowed(found)) {
    main.append(h("h1", {}, found.title), message("error", `Not allowed: your policies do not grant ${found.can}.`));
    return;
  }
  const args = parts.slice(found.path.split("/").length);
  cleanup = found.page(main, me, args);
}

async function start(): Promise<void> {
  try {
    me = await get<Me>("/v1/auth/whoami");
  } catch {
    showLogin();
    return;
  }
  setCsrf(me.csrf_token);
  layout();
  route();
}

onSessionExpired(() => showLogin("Your session has ended. Please log in again."));
window.addEventListener("hashchange", route);
void start();
