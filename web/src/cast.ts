// Recordings as the player takes them. No DOM: tests/web/cast_check.mjs runs it in node.

// A command's binary chunks are recorded as base64 under "o64"/"e64"/"i64" (see the gateway's
// asciicast.hpp); the player knows only the plain codes, so they are decoded back to text here.
export function playable(recording: string): string {
  const decoder = new TextDecoder();
  return recording.split("\n").map((line, index) => {
    if (index === 0 || !line.includes('64", "')) return line;
    try {
      const [time, code, data] = JSON.parse(line) as [number, string, string];
      if (typeof code !== "string" || !code.endsWith("64") || code.length < 3) return line;
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      return JSON.stringify([time, code.slice(0, -2), decoder.decode(bytes)]);
    } catch {
      return line;
    }
  }).join("\n");
}
