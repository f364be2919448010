// End-to-end test of the web console in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core) against a real sallyport-gateway and sallyport-agent started here on
// loopback. Saves a screenshot of every page under --artifacts.
//   node console_e2e.mjs --gateway BIN --agent BIN --web DIR --artifacts DIR [--chromium PATH]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, word, i, all) => (word.startsWith("--") ? [...pairs, [word.slice(2), all[i + 1]]] : pairs), []));
const chromiumPath = args.chromium ?? "/usr/bin/chromium";
const artifacts = args.artifacts;
const { chromium } = createRequire(path.resolve(args.web, "package.json"))("playwright-core");
const kAdminPassword = "admin-password-e2e";
const kBobPassword = "bob-password-e2e";
const started = Date.now();
const children = [];
let steps = 0;

function step(name) {
  steps++;
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${name}`);
}
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}
async function waitFor(what, probe, timeoutMs = 15000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => { const { port } = server.address(); server.close(() => resolve(port)); });
    server.on("error", reject);
  });
}
function start(label, argv, env = {}) {
  const out = fs.openSync(path.join(root, `${label}.out`), "w");
  const err = fs.openSync(path.join(root, `${label}.err`), "w");
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", out, err], detached: true });
  children.push(child);
  return child;
}
function run(label, argv) {
  return new Promise((resolve, reject) => {
    const child = start(label, argv);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${label} exited ${code}: ${fs.readFileSync(path.join(root, `${label}.err`), "utf8")}`))));
  });
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "sallyport-web-e2e-"));
fs.mkdirSync(artifacts, { recursive: true });
let browser;

async function main() {
  step("start the gateway");
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  start("gateway", [args.gateway, "--data-dir", path.join(root, "gw"), "--listen", `127.0.0.1:${port}`,
    "--agent-heartbeat", "1", "--agent-timeout", "5"], { SALLYPORT_ADMIN_PASSWORD: kAdminPassword });
  await waitFor("the gateway's CA fingerprint", () => fs.readFileSync(path.join(root, "gateway.out"), "utf8").includes("CA fingerprint"));
  const caFile = path.join(root, "gw", "tls", "ca.pem");
  const ca = fs.readFileSync(caFile);

  const api = (method, target, body, token) => new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const request = https.request(`${url}${target}`, {
      method, ca, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(data ? { "Content-Type": "application/json" } : {}) },
    }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      const json = (response.headers["content-type"] ?? "").startsWith("application/json");
      response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: text && json ? JSON.parse(text) : text || null }));
    });
    request.on("error", reject);
    request.end(data);
  });
  const expect = async (status, method, target, body, token) => {
    const response = await api(method, target, body, token);
    check(response.status === status, `${method} ${target}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  };

  step("set up: admin token, run-as preference, a non-admin user, an agent");
  const admin = (await expect(200, "POST", "/v1/auth/login", { user: "admin", password: kAdminPassword })).token;
  await expect(200, "PUT", "/v1/preferences", { default_run_as: os.userInfo().username }, admin);
  await expect(201, "POST", "/v1/users", { name: "bob", password: kBobPassword, policies: ["SessionUser"] }, admin);
  const activation = await expect(201, "POST", "/v1/activations", { name: "web", tags: { env: "e2e" }, limit: 1 }, admin);
  await run("agent-register", [args.agent, "register", "--gateway", url, "--ca-file", caFile, "--activation-id", activation.id,
    "--activation-code", activation.code, "--state-dir", path.join(root, "agent"), "--name", "web-node"]);
  start("agent", [args.agent, "run", "--state-dir", path.join(root, "agent")]);

  step("the console's page carries a strict CSP and no inline script");
  const page0 = await new Promise((resolve, reject) => https.get(`${url}/`, { ca }, (r) => {
    let text = "";
    r.on("data", (c) => (text += c));
    r.on("end", () => resolve({ csp: r.headers["content-security-policy"], text }));
  }).on("error", reject));
  check(/script-src 'self' 'wasm-unsafe-eval';/.test(page0.csp ?? ""), `CSP: ${page0.csp}`);
  check(!/<script(?![^>]*\bsrc=)/.test(page0.text), "index.html has an inline script");

  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cspViolations = [];
  page.on("console", (msg) => { if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text()); });
  const shot = (p, name) => p.screenshot({ path: path.join(artifacts, `${name}.png`) });

  step("log in");
  await page.goto(`${url}/`);
  await page.getByLabel("User").fill("admin");
  await page.getByLabel("Password").fill("wrong-password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByText("wrong user name or password").waitFor();
  await shot(page, "01-login");
  await page.getByLabel("Password").fill(kAdminPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  const cookies = await context.cookies();
  const session = await waitFor("the session cookie", async () => (await context.cookies()).find((c) => c.name === "sp_session"));
  check(session.httpOnly && session.secure && session.sameSite === "Strict", `cookie attributes ${JSON.stringify({ ...session, value: "…" })}`);
  void cookies;

  step("the node is listed Online");
  const row = page.locator("tr", { hasText: "web-node" });
  await row.getByText("Online").waitFor({ timeout: 20000 });
  await page.getByLabel("Filter by tag").fill("env=nope");
  await page.getByText("No node matches the filters.").waitFor();
  await page.getByLabel("Filter by tag").fill("env=e2e");
  await row.getByText("Online").waitFor();
  await shot(page, "02-nodes");

  step("start a session and see echo output");
  await row.getByRole("link", { name: /Start session/ }).click();
  const host = page.locator(".terminal-host[data-session-id]");
  await host.waitFor({ timeout: 20000 });
  const sessionId = await host.getAttribute("data-session-id");
  const screenText = () => page.locator(".xterm-rows").innerText();
  await page.locator(".xterm").click();
  await page.keyboard.type("echo hi-$RANDOM\n");
  const hiLine = await waitFor("hi-<number> in the terminal", async () => /hi-(\d+)/.exec(await screenText()));
  const hi = hiLine[0];
  await shot(page, "03-terminal");
  await page.keyboard.type("sleep 60; echo not-interrupted\n");
  await page.waitForTimeout(300);
  await page.keyboard.press("Control+C");
  await page.keyboard.type("echo after-ctrl-c-$((6*7))\n");
  await waitFor("Ctrl-C to reach the shell", async () => (await screenText()).includes("after-ctrl-c-42"), 10000);
  check(!(await screenText()).includes("\nnot-interrupted"), "sleep was not interrupted by Ctrl-C");

  step("resize the window: stty size follows");
  const sttySize = async (marker) => {
    await page.keyboard.type(`echo ${marker}-$(stty size | tr ' ' x)\n`);
    const m = await waitFor(`stty size (${marker})`, async () => new RegExp(`${marker}-(\\d+)x(\\d+)`).exec(await screenText()));
    return [Number(m[1]), Number(m[2])];
  };
  const before = await sttySize("sizeA");
  await page.setViewportSize({ width: 900, height: 560 });
  await page.keyboard.type("clear\n");
  const after = await waitFor("a smaller terminal", async () => {
    const size = await sttySize(`sizeB${Date.now() % 100000}`);
    return size[0] < before[0] && size[1] < before[1] ? size : null;
  }, 15000, 300);
  console.log(`  stty size ${before.join("x")} -> ${after.join("x")}`);
  await page.setViewportSize({ width: 1280, height: 800 });

  step("a terminal outlives a broken connection");
  // A TCP relay to the gateway whose connections the test resets, as a network failure would.
  const links = new Set();
  let resets = 0;
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    const pair = { client, upstream };
    links.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => links.delete(pair);
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const roaming = await context.newPage();
  await roaming.goto(`https://127.0.0.1:${relay.address().port}/#/terminal/web-node`);
  await roaming.locator(".terminal-host[data-session-id]").waitFor({ timeout: 20000 });
  const roamingText = () => roaming.locator(".xterm-rows").innerText();
  await roaming.locator(".xterm").click();
  await roaming.keyboard.type("export MARK=kept-$((6*7)); echo exported\n");
  await waitFor("the export", async () => (await roamingText()).includes("exported"), 10000);
  for (const pair of [...links]) {
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
    resets++;
  }
  check(resets > 0, "no connection to reset");
  await roaming.locator(".banner", { hasText: "Reconnected" }).waitFor({ timeout: 20000 });
  await roaming.keyboard.type("echo mark=$MARK\n");
  await waitFor("the shell's state after the break", async () => (await roamingText()).includes("mark=kept-42"), 10000);
  await shot(roaming, "03b-terminal-reconnected");
  await roaming.keyboard.type("exit 4\n");
  await roaming.locator(".banner", { hasText: "exited with status 4" }).waitFor({ timeout: 10000 });
  const resumes = fs.readFileSync(path.join(root, "gw", "audit.log"), "utf8").split("\n")
    .filter((line) => line.includes('"session:Resume"') && line.includes('"success"'));
  check(resumes.length >= 1, "the gateway audited no resume");
  await roaming.close();
  relay.close();

  step("terminate the session from the history page");
  const history = await context.newPage();
  await history.goto(`${url}/#/sessions`);
  const activeRow = history.locator("tr", { hasText: sessionId });
  await activeRow.getByRole("button", { name: "Terminate" }).click();
  await activeRow.getByRole("button", { name: "Confirm terminate" }).click();
  await history.getByText(`Session ${sessionId} terminated.`).waitFor();
  await page.locator(".banner", { hasText: "terminated by admin" }).waitFor();
  await shot(page, "04-terminal-ended");
  await history.locator("tr", { hasText: sessionId }).getByText("Terminated").first().waitFor();
  await shot(history, "05-sessions");

  step("replay shows the text");
  const recording = await api("GET", `/v1/sessions/${sessionId}/recording`, undefined, admin);
  check(recording.status === 200 && recording.body.includes(hi), `the recording holds the echoed text: ${recording.status}`);
  await history.goto(`${url}/#/replay/${encodeURIComponent(sessionId)}`);
  await history.locator(".player-host[data-loaded]").waitFor();
  await history.getByLabel("Playback speed").selectOption("8");
  await waitFor("the echoed text in the replay", async () => (await history.locator(".player-host").innerText()).includes(hi), 20000, 200);
  await shot(history, "06-replay");

  step("preferences: an invalid value is refused beside its field");
  await history.goto(`${url}/#/preferences`);
  const idle = history.getByLabel("Idle timeout (minutes)");
  await idle.fill("999");
  await history.getByRole("button", { name: "Save" }).click();
  await history.locator(".field", { has: idle }).getByText("Must be from 1 to 60").waitFor();
  const runAs = history.getByLabel("Default run-as user");
  await runAs.fill("Not A User!");
  await history.getByRole("button", { name: "Save" }).click();
  await history.locator(".field", { has: runAs }).getByText(/default_run_as/).waitFor();  // the gateway's own message
  await shot(history, "07-preferences");

  step("administration pages");
  for (const [hash, name, marker] of [["admin/users", "08-users", "bob"], ["admin/groups", "09-groups", "New group"],
    ["admin/policies", "10-policies", "AdministratorAccess"], ["admin/activations", "11-activations", "New activation"],
    ["admin/audit", "12-audit", "session:Start"]]) {
    await history.goto(`${url}/#/${hash}`);
    await history.getByText(marker).first().waitFor();
    await shot(history, name);
  }
  await history.goto(`${url}/#/admin/groups`);
  await history.getByLabel("Name").fill("ops");
  await history.getByRole("button", { name: "Create" }).click();
  await history.locator("tr", { hasText: "ops" }).getByRole("button", { name: "Add member" }).click();
  await history.getByRole("dialog").getByLabel("User").fill("bob");
  await history.getByRole("dialog").getByRole("button", { name: "Add" }).click();
  await history.locator("tr", { hasText: "ops" }).getByRole("button", { name: "bob ×" }).waitFor();
  await history.goto(`${url}/#/admin/policies`);
  await history.getByLabel("Policy name").fill("Broken");
  await history.getByLabel("Policy document (JSON)").fill('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "node:Lst", "Resource": "node/*", "Bogus": 1}]}');
  await history.getByRole("button", { name: "Save policy" }).click();
  await history.locator("#policy-problems").getByText(/Line \d+, column \d+/).waitFor();
  await shot(history, "13-policy-error");
  await history.goto(`${url}/#/admin/activations`);
  await history.getByRole("button", { name: "Create" }).click();
  const command = await history.locator("pre.command", { hasText: "sallyport-agent register" }).innerText();
  await shot(history, "14-activation-created");
  // The copy-paste command works as shown (its register half, with this test's paths).
  check(command.includes("--ca-fingerprint SHA256:"), `the command pins no CA: ${command}`);
  const register = command.split(" && ")[0].trim().split(/\s+/)
    .map((word) => (word === "sallyport-agent" ? args.agent : word === "/var/lib/sallyport-agent" ? path.join(root, "agent2") : word));
  await run("agent2-register", [...register, "--name", "pasted-node"]);
  await expect(200, "GET", "/v1/nodes/pasted-node", undefined, admin);

  step("a CSRF attempt without the token is refused");
  const forged = await page.evaluate(async () => {
    const r = await fetch("/v1/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "mallory", password: "0123456789abc" }) });
    return { status: r.status, body: await r.json() };
  });
  check(forged.status === 403 && forged.body.error.code === "csrf", `forged POST answered ${JSON.stringify(forged)}`);
  await expect(404, "GET", "/v1/users/mallory", undefined, admin);

  step("a non-admin sees no administration and gets 403 from the API");
  const bobContext = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 800 } });
  const bob = await bobContext.newPage();
  await bob.goto(`${url}/`);
  await bob.getByLabel("User").fill("bob");
  await bob.getByLabel("Password").fill(kBobPassword);
  await bob.getByRole("button", { name: "Log in" }).click();
  await bob.locator("tr", { hasText: "web-node" }).waitFor();
  check(await bob.getByText("Administration").count() === 0, "bob's menu shows Administration");
  await shot(bob, "15-nonadmin-nodes-phone");
  await bob.goto(`${url}/#/admin/users`);
  await bob.getByText("Not allowed").waitFor();
  await shot(bob, "16-nonadmin-admin-page");
  const bobApi = await bob.evaluate(async () => {
    const me = await (await fetch("/v1/auth/whoami")).json();
    const users = await fetch("/v1/users");
    const policies = await fetch("/v1/policies", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token },
      body: JSON.stringify({ name: "Sneaky", document: { Version: "2012-10-17", Statement: [] } }) });
    return [users.status, policies.status];
  });
  check(bobApi[0] === 403 && bobApi[1] === 403, `bob's API calls answered ${bobApi}`);

  step("log out brings the login page back");
  await page.goto(`${url}/#/nodes`);
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("button", { name: "Log in" }).waitFor();
  const afterLogout = await page.evaluate(async () => (await fetch("/v1/nodes")).status);
  check(afterLogout === 401, `after logout /v1/nodes answered ${afterLogout}`);
  check(cspViolations.length === 0, `CSP violations: ${cspViolations.join("; ")}`);
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(error.stack ?? String(error));
  for (const name of ["gateway.err", "agent.err"]) {
    const file = path.join(root, name);
    if (fs.existsSync(file)) console.error(`--- ${name} (last lines) ---\n${fs.readFileSync(file, "utf8").split("\n").slice(-25).join("\n")}`);
  }
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (!failed) fs.rmSync(root, { recursive: true, force: true });
}
console.log(`${failed ? 0 : steps} passed, ${failed ? 1 : 0} failed (${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${artifacts})`);
process.exit(failed ? 1 : 0);
