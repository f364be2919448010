// The terminal: xterm.js fitted to the window, speaking the same session protocol as the CLI
// over /v1/sessions/connect (the cookie authenticates it, the Origin must be this gateway).
// Output credit goes back only after xterm has rendered the bytes; input waits for credit.
// A broken connection is resumed like the CLI's (session_resume with the token).
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

  let socket: WebSocket | null = null;  // null while reconnecting
  let started = false;
  let ended = false;
  let inputCredit = INITIAL_WINDOW_BYTES;
  let pending: Uint8Array[] = [];
  let unreturned = 0;
  const encoder = new TextEncoder();
  // Resuming after a broken connection, as the CLI does: the gateway's token, the output frames
  // received, the input frames sent and not yet credited (with the counted bytes up to each),
  // and the credit totals that settle what a broken connection swallowed.
  let sessionId = "";
  let resumeToken = "";
  let resumeGraceMs = 0;
  let outputFrames = 0;
  let outputBytes = 0;  // in those frames: a restarted gateway lines its count up with it
  let outputCreditSent = 0;
  let inputCreditReceived = 0;
  let inputSent = 0;  // counted bytes in all
  let inputFramesFirst = 0;  // number of replay[0]
  const replay: { frame: Uint8Array; end: number }[] = [];
  let reconnectTimer = 0;

  const showBanner = (text: string, kind: "info" | "error" | "ok"): void => {
    banner.hidden = false;
    banner.className = `banner banner-${kind}`;
    banner.textContent = text;
  };
  const finish = (text: string, kind: "info" | "error" | "ok"): void => {
    if (ended) return;
    ended = true;
    window.clearTimeout(reconnectTimer);
    showBanner(text, kind);
    title.textContent = `Session ended · ${target}`;
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
  };

  const send = (bytes: Uint8Array): boolean => {
    if (socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(bytes as Uint8Array<ArrayBuffer>);
    return true;
  };
  const returnCredit = (): void => {
    if (unreturned === 0 || !send(encodeCredit(unreturned))) return;
    outputCreditSent += unreturned;
    unreturned = 0;
  };
  const grantInput = (bytes: number): void => {
    inputCredit += bytes;
    inputCreditReceived += bytes;
    while (replay.length && replay[0].end <= inputCreditReceived) {
      replay.shift();
      inputFramesFirst++;
    }
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
      inputSent += chunk.length;
      const frame = encodeFrame(FrameType.Data, chunk);
      if (resumeToken) replay.push({ frame, end: inputSent });
      send(frame);
    }
  };
  const sendResize = (): void => {
    if (started && !ended) send(encodeControl({ type: Msg.Resize, cols: term.cols, rows: term.rows }));
  };

  const onMessage = (event: MessageEvent): void => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const frame = decodeFrame(event.data);
    if (!frame) return;
    if (frame.type === FrameType.Data || frame.type === FrameType.Stderr) {
      outputFrames++;
      const size = frame.payload.length;
      outputBytes += size;
      term.write(frame.payload.slice(), () => {
        unreturned += size;
        if (unreturned >= kCreditBatchBytes || socket?.bufferedAmount === 0) returnCredit();
      });
    } else if (frame.type === FrameType.Credit) {
      grantInput(decodeCredit(frame.payload) ?? 0);
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
        sessionId = message.session_id;
        resumeToken = message.resume_token ?? "";
        resumeGraceMs = (message.resume_grace_seconds ?? 0) * 1000;
        title.textContent = `${message.node_id} · as ${message.run_as} · ${message.session_id}`;
        host.setAttribute("data-session-id", message.session_id);
        sendResize();
      } else if (message.type === Msg.SessionResumed) {
        resumed(message);
      } else if (message.type === Msg.SessionFailed) {
        finish(started ? `Session ended: ${message.message}` : `Could not start the session: ${message.message} (${message.code})`, "error");
      } else if (message.type === Msg.Notice) {
        showBanner(message.message, "info");
      } else if (message.type === Msg.SessionEnded) {
        finish(`Session ended: ${message.reason}`, "error");
      } else if (message.type === Msg.Exit) {
        finish(message.signal !== undefined ? `Session ended: the shell was killed by signal ${message.signal}`
          : `Session ended: the shell exited with status ${message.exit_code ?? 0}`, "ok");
        socket?.close(1000, "done");  // a close frame: the gateway ends the session now
      }
    }
  };

  // The gateway took the session back: input it did not receive goes again, then the size.
  const resumed = (message: { input_frames: number; input_credit: number }): void => {
    const received = message.input_frames;
    if (received < inputFramesFirst || received > inputFramesFirst + replay.length || message.input_credit < inputCreditReceived) {
      finish("Session ended: the gateway's counts did not match on reconnecting", "error");
      socket?.close();
      return;
    }
    replay.splice(0, received - inputFramesFirst);
    inputFramesFirst = received;
    grantInput(message.input_credit - inputCreditReceived);
    for (const entry of replay) send(entry.frame);
    showBanner("Reconnected.", "ok");
    returnCredit();
    sendResize();
    flushInput();
  };

  const connect = (resume: boolean, deadline: number, pause: number): void => {
    const next = new WebSocket(`wss://${location.host}/v1/sessions/connect`);
    next.binaryType = "arraybuffer";
    socket = next;
    next.addEventListener("open", () => {
      send(resume
        ? encodeControl({ type: Msg.SessionResume, protocol: PROTOCOL_VERSION, session_id: sessionId, resume_token: resumeToken,
          output_frames: outputFrames, output_bytes: outputBytes, output_credit: outputCreditSent })
        : encodeControl({ type: Msg.SessionStart, protocol: PROTOCOL_VERSION, target, mode: "shell", cols: term.cols, rows: term.rows,
          term: "xterm-256color", resumable: true }));
    });
    next.addEventListener("message", onMessage);
    next.addEventListener("close", () => {
      if (socket !== next || ended) return;
      socket = null;
      if (!started) {
        finish("Could not connect to the gateway", "error");
      } else if (!resumeToken) {
        finish("Session ended: the connection to the gateway closed", "error");
      } else {
        // Broken or refused: try again until the gateway's grace (and the time it may take to
        // notice the break) has passed.
        const until = resume ? deadline : Date.now() + resumeGraceMs + 35000;
        if (Date.now() >= until) {
          finish("Session ended: the connection to the gateway was lost and could not be restored", "error");
          return;
        }
        showBanner("The connection to the gateway broke; reconnecting…", "info");
        const wait = resume ? Math.min(pause * 2, 2000) : 200;
        reconnectTimer = window.setTimeout(() => connect(true, until, wait), wait);
      }
    });
  };
  connect(false, 0, 0);

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
    window.clearTimeout(reconnectTimer);
    ended = true;
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) socket.close();
    term.dispose();
  };
};
