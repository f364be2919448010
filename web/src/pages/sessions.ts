// Session history: active and ended sessions the user may read, terminate where the policy
// allows (the API decides; a refusal shows its message), and a link to each replay.
import { errorText, get, post } from "../api";
import { clear, formatTime, h, message, table } from "../dom";
import type { Page } from "../main";

const kRefreshMs = 4000;

interface Session {
  id: string;
  owner: string;
  node_id: string;
  run_as: string;
  kind: string;
  status: string;
  waiting_for?: string;  // a live session after a broken connection: "client" or "node"
  reason: string;
  started_at: string;
  ended_at: string;
}

export const sessionsPage: Page = (main) => {
  const notice = h("div", {});
  const active = h("div", {});
  const history = h("div", {});
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Sessions")), notice,
    h("h2", {}, "Active"), active, h("h2", {}, "History"), history);

  const terminateButton = (session: Session): HTMLElement => {
    const button = h("button", { type: "button", class: "danger", "data-terminate": session.id }, "Terminate");
    let armed = false;
    button.addEventListener("click", async () => {
      if (!armed) {
        armed = true;
        button.textContent = "Confirm terminate";
        return;
      }
      button.disabled = true;
      try {
        const answer = await post<{ termination_requested_from?: string }>(
          `/v1/sessions/${encodeURIComponent(session.id)}/terminate`, { reason: "terminated from the web console" });
        clear(notice);
        // A session another gateway holds ends there within seconds; the list shows it then.
        notice.appendChild(message("ok", answer.termination_requested_from
          ? `Session ${session.id}: gateway ${answer.termination_requested_from} holds it and was asked to end it.`
          : `Session ${session.id} terminated.`));
      } catch (error) {
        clear(notice);
        notice.appendChild(message("error", errorText(error)));
      }
      void refresh();
    });
    return button;
  };

  const row = (session: Session, live: boolean) => [
    h("code", {}, session.id), session.owner, h("code", {}, session.node_id), session.run_as,
    formatTime(session.started_at), live ? "—" : formatTime(session.ended_at),
    h("span", { class: `status status-${session.status}`, title: session.reason },
      session.waiting_for ? `${session.status} (waiting for ${session.waiting_for})` : session.status),
    live ? "" : session.reason,
    h("span", { class: "actions" },
      live ? terminateButton(session) : null,
      h("a", { class: "button", href: `#/replay/${encodeURIComponent(session.id)}` }, "Replay")),
  ];
  const headers = ["Session", "Owner", "Node", "Run as", "Started", "Ended", "Status", "Reason", ""];

  const refresh = async (): Promise<void> => {
    try {
      const [live, ended] = await Promise.all([
        get<{ sessions: Session[] }>("/v1/sessions?state=active"),
        get<{ sessions: Session[] }>("/v1/sessions?state=history&limit=100"),
      ]);
      // Keep an armed button armed: only redraw when the list changed.
      const key = JSON.stringify(live.sessions.map((s) => s.id));
      if (active.dataset.key !== key) {
        active.dataset.key = key;
        clear(active);
        active.appendChild(table(headers, live.sessions.map((s) => row(s, true)), "No active sessions."));
      }
      clear(history);
      history.appendChild(table(headers, ended.sessions.map((s) => row(s, false)), "No ended sessions yet."));
    } catch (error) {
      clear(notice);
      notice.appendChild(message("error", errorText(error)));
    }
  };
  void refresh();
  const timer = window.setInterval(() => void refresh(), kRefreshMs);
  return () => window.clearInterval(timer);
};
