// A few DOM helpers: the console builds its pages with createElement (never innerHTML with
// data), so nothing a node or user name holds can become markup.
import { errorText } from "./api";
type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key === "class") {
      el.className = String(value);
    } else if (key === "value" && "defaultValue" in el) {
      (el as HTMLInputElement).defaultValue = String(value);  // form.reset() comes back to it
      (el as HTMLInputElement).value = String(value);
    } else if (key === "checked" && "checked" in el) {
      (el as HTMLInputElement).checked = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

// A table with a header row; rows is a list of cells. Scrolls sideways on narrow screens.
export function table(headers: string[], rows: Child[][], empty = "Nothing here yet."): HTMLElement {
  const body = h("tbody");
  // data-label lets a phone-width screen show each row as a card of "label value" lines.
  for (const row of rows) body.appendChild(h("tr", {}, ...row.map((cell, i) => h("td", { "data-label": headers[i] || undefined }, cell))));
  if (rows.length === 0) body.appendChild(h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, empty)));
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", { scope: "col" }, t)))), body));
}

export function tagList(tags: Record<string, string> | undefined): HTMLElement {
  const list = h("span", { class: "tags" });
  for (const [key, value] of Object.entries(tags ?? {})) list.appendChild(h("span", { class: "tag" }, `${key}=${value}`));
  return list;
}

export function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`tag "${part}" must look like key=value`);
    tags[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return tags;
}

export function formatTime(text: string | undefined): string {
  if (!text) return "—";
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toLocaleString();
}

// A labelled form field with a slot for its own validation message.
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint = ""): { row: HTMLElement; error: HTMLElement } {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const error = h("div", { class: "field-error", id: `${id}-error`, role: "alert" });
  input.setAttribute("aria-describedby", `${id}-error`);
  const row = h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("div", { class: "hint" }, hint) : null, error);
  return { row, error };
}

export function message(kind: "error" | "ok" | "info", text: string): HTMLElement {
  return h("div", { class: `msg msg-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// Replaces target's content with what build() makes, or with the error it failed with.
export async function fill(target: HTMLElement, build: () => Promise<Node>): Promise<void> {
  try {
    const content = await build();
    clear(target);
    target.appendChild(content);
  } catch (error) {
    clear(target);
    target.appendChild(message("error", errorText(error)));
  }
}

export interface AskField {
  name: string;
  label: string;
  type?: string;   // input type, "password" for secrets
  value?: string;
  hint?: string;
}

// A modal form (the browser's <dialog>: focus stays inside, Escape cancels). Resolves with the
// values, or null when cancelled. With no fields it is a confirmation.
export function ask(title: string, fields: AskField[], submit = "OK", danger = false): Promise<Record<string, string> | null> {
  return new Promise((resolve) => {
    const inputs = fields.map((f) => h("input", { name: f.name, type: f.type ?? "text", value: f.value ?? "", autocomplete: f.type === "password" ? "new-password" : "off" }));
    const form = h("form", { method: "dialog", class: "ask" },
      h("h2", {}, title),
      ...fields.map((f, i) => field(f.label, inputs[i], f.hint ?? "").row),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: danger ? "danger" : "primary", value: "ok" }, submit),
        h("button", { type: "button", onclick: () => dialog.close("cancel") }, "Cancel")));
    const dialog = h("dialog", { "aria-label": title }, form);
    dialog.addEventListener("close", () => {
      const values = Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value]));
      dialog.remove();
      resolve(dialog.returnValue === "ok" ? values : null);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (inputs[0] ?? form.querySelector("button"))?.focus();
  });
}
