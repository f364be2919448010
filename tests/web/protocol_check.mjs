// The web console's session protocol constants (web/src/protocol.ts) must equal lib/wire's
// (frame.hpp, control.hpp): one schema, checked rather than trusted to be typed twice alike.
//   node protocol_check.mjs <source dir>
import fs from "node:fs";
import path from "node:path";

const root = process.argv[2];
const read = (file) => fs.readFileSync(path.join(root, file), "utf8");
const frame = read("lib/wire/include/sallyport/wire/frame.hpp");
const control = read("lib/wire/include/sallyport/wire/control.hpp");
const ts = read("web/src/protocol.ts");
const failures = [];
let checked = 0;
const expectEqual = (what, cpp, web) => {
  checked++;
  if (String(cpp) !== String(web)) failures.push(`${what}: C++ ${cpp}, web ${web}`);
};
const cppNumber = (text, name) => {
  const m = new RegExp(`constexpr [\\w:]+ ${name} = ([^;]+);`).exec(text);
  if (!m) throw new Error(`no ${name} in the C++ headers`);
  return Function(`return (${m[1].replace(/std::size_t\{1\}/g, "1")})`)();
};
const tsNumber = (name) => {
  const m = new RegExp(`export const ${name} = ([^;]+);`).exec(ts);
  if (!m) throw new Error(`no ${name} in protocol.ts`);
  return Function(`return (${m[1]})`)();
};
expectEqual("protocol version", cppNumber(control, "kProtocolVersion"), tsNumber("PROTOCOL_VERSION"));
expectEqual("header bytes", cppNumber(frame, "kHeaderBytes"), tsNumber("HEADER_BYTES"));
expectEqual("window bytes", cppNumber(frame, "kInitialWindowBytes"), tsNumber("INITIAL_WINDOW_BYTES"));
expectEqual("data chunk bytes", cppNumber(frame, "kDataChunkBytes"), tsNumber("DATA_CHUNK_BYTES"));
expectEqual("client channel", cppNumber(control, "kClientChannel"), tsNumber("CLIENT_CHANNEL"));
for (const m of frame.matchAll(/(k[A-Z]\w*) = (\d+)\s*[,}]/g)) {
  const web = new RegExp(`\\b${m[1].slice(1)} = (\\d+)`).exec(ts);
  expectEqual(`frame type ${m[1]}`, m[2], web?.[1]);
}
const webMessages = Object.fromEntries([...ts.matchAll(/^\s+(\w+): "(\w+)",$/gm)].map((m) => [m[1], m[2]]));
for (const [name, value] of Object.entries(webMessages)) {
  const cpp = new RegExp(`k${name} = "(\\w+)"`).exec(control);
  expectEqual(`message ${name}`, cpp?.[1], value);
}
if (Object.keys(webMessages).length < 8) failures.push("protocol.ts lists fewer message types than the console uses");
for (const failure of failures) console.error(failure);
console.log(`${checked - failures.length} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
