// web/src/cast.ts turns a command's base64 chunks ("o64", "e64", "i64", as the gateway writes
// binary output) back into the plain events the player knows, and leaves everything else be.
//   node cast_check.mjs <source dir>
import fs from "node:fs";
import path from "node:path";

const root = process.argv[2];
const { transformSync } = await import(path.join(root, "web/node_modules/esbuild/lib/main.js"));
const source = fs.readFileSync(path.join(root, "web/src/cast.ts"), "utf8");
const { code } = transformSync(source, { loader: "ts", format: "esm" });
const { playable } = await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);

const failures = [];
const expectEqual = (what, got, want) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
};
const b64 = (text) => Buffer.from(text, "utf8").toString("base64");
const header = '{"version": 2, "width": 80, "height": 24, "title": "o64 in a title stays"}';
const cast = [
  header,
  '[0.1, "o", "plain \\u001b[1mtext\\r\\n"]',
  `[0.2, "o64", "${b64("héllo\n")}"]`,
  `[0.3, "e64", "${b64("oops\n")}"]`,
  '[0.4, "o64", "not base64!"]',
  '[0.5, "r", "100x30"]',
  "",
].join("\n");
const lines = playable(cast).split("\n");
expectEqual("line count", lines.length, 7);
expectEqual("header", lines[0], header);
expectEqual("plain output", lines[1], '[0.1, "o", "plain \\u001b[1mtext\\r\\n"]');
expectEqual("base64 output", JSON.parse(lines[2]), [0.2, "o", "héllo\n"]);
expectEqual("base64 stderr", JSON.parse(lines[3]), [0.3, "e", "oops\n"]);
expectEqual("malformed base64 kept", lines[4], '[0.4, "o64", "not base64!"]');
expectEqual("resize", lines[5], '[0.5, "r", "100x30"]');
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log("cast.ts: 7 checks passed");
