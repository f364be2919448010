// The session WebSocket's framing and control messages, as in lib/wire (frame.hpp, control.hpp).
// tests/web/protocol_check.mjs compares these constants with the C++ headers, so the two
// cannot drift apart.
export const PROTOCOL_VERSION = 3;
export const HEADER_BYTES = 9;
export const INITIAL_WINDOW_BYTES = 1024 * 1024;
export const DATA_CHUNK_BYTES = 256 * 1024;
export const CLIENT_CHANNEL = 1;

export enum FrameType {
  Control = 1,
  Data = 2,
  Credit = 3,
  Stderr = 4,
}

export const Msg = {
  SessionStart: "session_start",
  SessionStarted: "session_started",
  SessionFailed: "session_failed",
  Resize: "resize",
  Eof: "eof",
  Exit: "exit",
  SessionEnded: "session_ended",
  Notice: "notice",
  SessionResume: "session_resume",
  SessionResumed: "session_resumed",
} as const;

export interface Frame {
  type: FrameType;
  channel: number;
  payload: Uint8Array;
}

export function encodeFrame(type: FrameType, payload: Uint8Array, channel = CLIENT_CHANNEL): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setUint32(1, channel);
  view.setUint32(5, payload.length);
  out.set(payload, HEADER_BYTES);
  return out;
}

export function encodeControl(message: Record<string, unknown>): Uint8Array {
  return encodeFrame(FrameType.Control, new TextEncoder().encode(JSON.stringify(message)));
}

export function encodeCredit(bytes: number): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, bytes);
  return encodeFrame(FrameType.Credit, payload);
}

// One frame per WebSocket message; null when it is malformed.
export function decodeFrame(data: ArrayBuffer): Frame | null {
  if (data.byteLength < HEADER_BYTES) return null;
  const view = new DataView(data);
  const type = view.getUint8(0);
  const length = view.getUint32(5);
  if (type < FrameType.Control || type > FrameType.Stderr || length !== data.byteLength - HEADER_BYTES) return null;
  return { type, channel: view.getUint32(1), payload: new Uint8Array(data, HEADER_BYTES) };
}

export function decodeCredit(payload: Uint8Array): number | null {
  if (payload.length !== 4) return null;
  return new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
}
