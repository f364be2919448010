// The terminal: xterm.js fitted to the window, speaking the same session protocol as the CLI
// over /v1/sessions/connect (the cookie authenticates it, the Origin must be this gateway).
// Output credit goes back only after xterm has rendered the bytes; input waits for credit.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { h } from "../dom";
import type { Page } from "../main";
import {
  decodeCredit, decodeFrame, encodeControl, encodeCredit, encodeFrame, FrameType, INITIAL_WINDOW_BYTES, Msg, PROTOCOL_VERSION,
} from "../protocol";

const kCreditBatchBytes = 16 * 1024;

export const terminalPage: Page = (main, _me, args) => {
  const target = args[0] ?? "";
  const title = h("span", { class: "strong" }, `Connecting to ${target}…`);
  const banner = h("div", { class: "banner", role: "status", hidden: true });
  const host = h("div", { class: "terminal-host", "aria-label": "Terminal" });
  const close = h("a", { class: "button", href: "#/nodes" }, "Back to nodes");
  main.append(h("div", { class: "term-bar" }, title, close), banner, host);

  const term = new Terminal({
    cursorBlink: true,
    fontFamily: '"DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: "#101418", foreground: "#e6e9ee" },
  });
  // Ctrl+C (or Ctrl+Shift+C) with a selection copies it; without one, ^C goes to the shell.
  // Pasting (Ctrl+V, Ctrl+Shift+V, the context menu) is xterm.js's own, as bracketed paste.
  term.attachCustomKeyEventHandler((event) => {
    if (event.type === "keydown" && (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "c" && term.hasSelection()) {
      void navigator.clipboard?.writeText(term.getSelection()).catch(() => {});
      term.clearSelection();
      return false;
    }
    return true;
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(host);
  fit.fit();
  term.focus();

  const socket = new WebSocket(`wss://${location.host}/v1/sessions/connect`);
  socket.binaryType = "arraybuffer";
  let started = false;
  let ended = false;
  let inputCredit = INITIAL_WINDOW_BYTES;
  let pending: Uint8Array[] = [];
  let unreturned = 0;
  const encoder = new TextEncoder();

  const showBanner = (text: string, kind: "info" | "error" | "ok"): void => {
    banner.hidden = false;
    banner.className = `banner banner-${kind}`;
    banner.textContent = text;
  };
  const finish = (text: string, kind: "info" | "error" | "ok"): void => {
    if (ended) return;
    ended = true;
    showBanner(text, kind);
    title.textContent = `Session ended · ${target}`;
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
  };

  const send = (bytes: Uint8Array): void => {
    if (socket.readyState === WebSocket.OPEN) socket.send(bytes as Uint8Array<ArrayBuffer>);
  };
  const flushInput = (): void => {
    while (pending.length && inputCredit > 0) {
      let chunk = pending[0];
      if (chunk.length > inputCredit) {
        pending[0] = chunk.subarray(inputCredit);
        chunk = chunk.subarray(0, inputCredit);
      } else {
        pending.shift();
      }
      inputCredit -= chunk.length;
      send(encodeFrame(FrameType.Data, chunk));
    }
  };
  const sendResize = (): void => {
    if (started && !ended) send(encodeControl({ type: Msg.Resize, cols: term.cols, rows: term.rows }));
  };

  socket.addEventListener("open", () => {
    send(encodeControl({ type: Msg.SessionStart, protocol: PROTOCOL_VERSION, target, mode: "shell", cols: term.cols, rows: term.rows, term: "xterm-256color" }));
  });
  socket.addEventListener("message", (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const frame = decodeFrame(event.data);
    if (!frame) return;
    if (frame.type === FrameType.Data || frame.type === FrameType.Stderr) {
      const size = frame.payload.length;
      term.write(frame.payload.slice(), () => {
        unreturned += size;
        if (unreturned >= kCreditBatchBytes || socket.bufferedAmount === 0) {
          send(encodeCredit(unreturned));
          unreturned = 0;
        }
      });
    } else if (frame.type === FrameType.Credit) {
      inputCredit += decodeCredit(frame.payload) ?? 0;
      flushInput();
    } else {
      let message: any;
      try {
        message = JSON.parse(new TextDecoder().decode(frame.payload));
      } catch {
        return;
      }
      if (message.type === Msg.SessionStarted) {
        started = true;
        title.textContent = `${message.node_id} · as ${message.run_as} · ${message.session_id}`;
        host.setAttribute("data-session-id", message.session_id);
        sendResize();
      } else if (message.type === Msg.SessionFailed) {
        finish(`Could not start the session: ${message.message} (${message.code})`, "error");
      } else if (message.type === Msg.Notice) {
        showBanner(message.message, "info");
      } else if (message.type === Msg.SessionEnded) {
        finish(`Session ended: ${message.reason}`, "error");
      } else if (message.type === Msg.Exit) {
        finish(message.signal !== undefined ? `Session ended: the shell was killed by signal ${message.signal}`
          : `Session ended: the shell exited with status ${message.exit_code ?? 0}`, "ok");
      }
    }
  });
  socket.addEventListener("close", () => finish(started ? "Session ended: the connection to the gateway closed" : "Could not connect to the gateway", "error"));

  const input = term.onData((data) => {
    if (!started || ended) return;
    pending.push(encoder.encode(data));
    flushInput();
  });
  const binary = term.onBinary((data) => {
    if (!started || ended) return;
    pending.push(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff));
    flushInput();
  });
  const resized = term.onResize(sendResize);
  const observer = new ResizeObserver(() => {
    try {
      fit.fit();
    } catch {
      // not laid out yet
    }
  });
  observer.observe(host);

  return () => {
    observer.disconnect();
    input.dispose();
    binary.dispose();
    resized.dispose();
    pending = [];
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close();
    term.dispose();
  };
};
