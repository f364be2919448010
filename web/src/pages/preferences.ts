// Preferences: every gateway preference as a field. Each changed field is saved on its own,
// so a refused value gets its message beside it while the others are kept.
import { ApiError, errorText, get, put } from "../api";
import { clear, field, h, message } from "../dom";
import type { Page } from "../main";

interface Known {
  label: string;
  hint: string;
  integer?: [number, number, boolean];  // min, max, zero allowed
  multiline?: boolean;
}

const kKnown: Record<string, Known> = {
  idle_timeout_minutes: { label: "Idle timeout (minutes)", hint: "1–60. A session with no input or output for this long ends.", integer: [1, 60, false] },
  max_session_duration_minutes: { label: "Maximum session duration (minutes)", hint: "1–1440, or 0 for no limit.", integer: [1, 1440, true] },
  reconnect_grace_seconds: { label: "Reconnect grace (seconds)", hint: "0–3600. How long a CLI session whose connection broke waits for the client to come back; 0 ends it at once.", integer: [1, 3600, true] },
  default_run_as: { label: "Default run-as user", hint: "Used when a user has no runAs tag." },
  shell_profile: { label: "Shell profile", hint: "Typed into every new shell.", multiline: true },
  idle_timeout_seconds: { label: "Idle timeout override (seconds)", hint: "5–3600, or 0 to use the minutes above (tests and operations).", integer: [5, 3600, true] },
};

function localProblem(known: Known | undefined, text: string): string {
  if (!known?.integer) return "";
  const [min, max, zero] = known.integer;
  if (!/^-?\d+$/.test(text.trim())) return "Enter a whole number.";
  const value = Number(text);
  if (zero && value === 0) return "";
  return value < min || value > max ? `Must be from ${min} to ${max}${zero ? ", or 0" : ""}.` : "";
}

export const preferencesPage: Page = (main, me) => {
  const status = h("div", {});
  const form = h("form", { class: "card form", novalidate: true });
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Preferences")), status, form);
  const canUpdate = Boolean(me.can["preferences:Update"]);

  void (async () => {
    let values: Record<string, unknown>;
    try {
      values = (await get<{ preferences: Record<string, unknown> }>("/v1/preferences")).preferences;
    } catch (error) {
      status.appendChild(message("error", errorText(error)));
      return;
    }
    const inputs: { key: string; input: HTMLInputElement | HTMLTextAreaElement; error: HTMLElement; initial: string }[] = [];
    const keys = [...Object.keys(kKnown).filter((k) => k in values), ...Object.keys(values).filter((k) => !(k in kKnown))];
    for (const key of keys) {
      const known = kKnown[key];
      const initial = typeof values[key] === "string" ? (values[key] as string) : JSON.stringify(values[key]);
      const input = known?.multiline
        ? h("textarea", { name: key, rows: 4, disabled: !canUpdate })
        : h("input", { name: key, inputmode: known?.integer ? "numeric" : undefined, disabled: !canUpdate });
      input.value = initial;
      const { row, error } = field(known?.label ?? key.replace(/_/g, " "), input, known?.hint ?? "");
      input.addEventListener("input", () => { error.textContent = localProblem(known, input.value); input.toggleAttribute("aria-invalid", Boolean(error.textContent)); });
      inputs.push({ key, input, error, initial });
      form.appendChild(row);
    }
    const save = h("button", { type: "submit", class: "primary", disabled: !canUpdate }, "Save");
    form.appendChild(h("div", { class: "form-actions" }, save, canUpdate ? null : h("span", { class: "muted" }, "Read-only: your policies do not allow preferences:Update.")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear(status);
      let saved = 0;
      let failed = 0;
      for (const item of inputs) {
        if (item.input.value === item.initial) continue;
        const local = localProblem(kKnown[item.key], item.input.value);
        item.error.textContent = local;
        if (local) { failed++; continue; }
        const known = kKnown[item.key];
        const value = known?.integer ? Number(item.input.value) : item.input.value;
        try {
          await put("/v1/preferences", { [item.key]: value });
          item.initial = item.input.value;
          item.error.textContent = "";
          item.input.removeAttribute("aria-invalid");
          saved++;
        } catch (error) {
          item.error.textContent = error instanceof ApiError ? error.message : errorText(error);
          item.input.setAttribute("aria-invalid", "true");
          failed++;
        }
      }
      status.appendChild(failed ? message("error", `${failed} field(s) were not saved; see the messages below them.`)
        : message("ok", saved ? "Preferences saved." : "Nothing changed."));
    });
  })();
};
