// Replay: the session's asciicast v2 recording (GET /v1/sessions/{id}/recording, allowed by
// recording:Read) in asciinema-player, with its seek bar and a speed choice.
import * as AsciinemaPlayer from "asciinema-player";
import { ApiError, errorText } from "../api";
import { clear, h, message } from "../dom";
import type { Page } from "../main";
import { playable } from "../cast";

const kSpeeds = [0.5, 1, 2, 4, 8];

export const replayPage: Page = (main, _me, args) => {
  const id = args[0] ?? "";
  const status = h("div", {});
  const speed = h("select", { "aria-label": "Playback speed" }, ...kSpeeds.map((s) => h("option", { value: String(s), selected: s === 1 }, `${s}×`)));
  const host = h("div", { class: "player-host" });
  main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Replay"), h("code", {}, id)),
    h("div", { class: "filters" }, h("label", {}, "Speed ", speed), h("a", { class: "button", href: "#/sessions" }, "Back to sessions")),
    status, host);
  let player: ReturnType<typeof AsciinemaPlayer.create> | null = null;
  let recording = "";

  const mount = (startAt: number): void => {
    player?.dispose();
    clear(host);
    player = AsciinemaPlayer.create({ data: recording }, host, {
      speed: Number(speed.value), startAt, autoPlay: true, fit: "width", controls: true, idleTimeLimit: 2,
    });
  };

  void (async () => {
    try {
      const response = await fetch(`/v1/sessions/${encodeURIComponent(id)}/recording`, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) {
        let text = `HTTP ${response.status}`;
        try {
          text = (await response.json()).error.message;
        } catch {
          // not JSON
        }
        throw new ApiError(response.status, "error", text, null);
      }
      recording = playable(await response.text());
      host.setAttribute("data-loaded", "true");
      mount(0);
    } catch (error) {
      status.appendChild(message("error", error instanceof ApiError && error.status === 404 ? `No recording: ${error.message}` : errorText(error)));
    }
  })();
  speed.addEventListener("change", () => {
    if (recording) mount(player ? player.getCurrentTime() : 0);
  });
  return () => player?.dispose();
};
