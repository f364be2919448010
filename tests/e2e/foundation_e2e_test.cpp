// End-to-end tests of the foundation (issue 2): the real gateway, agent and CLI binaries on
// loopback. Every test has its own temporary folder and gateway, so tests run in any order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <thread>

#include "harness.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/crypto/pki.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/transport/client.hpp"
#include "sallyport/util/version.hpp"
#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::e2e {
namespace {

namespace asio = boost::asio;

#define REQUIRE_CLI()                                                         \
  do {                                                                        \
    if (!Binaries::have_cli()) GTEST_SKIP() << "the sallyport CLI is not built"; \
  } while (false)

class E2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { crypto::initialize(); }

  void TearDown() override {
    // Stop the gateway before reporting so its last log lines are in the report.
    if (gateway_) gateway_->stop(SIGTERM, 5s);
    if (HasFailure()) std::cerr << sandbox_.tails() << std::flush;
    gateway_.reset();
  }

  TestGateway& start_gateway(GatewayOptions options = {}) {
    gateway_ = std::make_unique<TestGateway>(sandbox_, std::move(options));
    gateway_->start();
    return *gateway_;
  }

  Sandbox sandbox_;  // declared first: outlives the gateway and every process
  std::unique_ptr<TestGateway> gateway_;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The error message of an API answer ({"error": {"message": ...}}), "" when absent.
std::string error_message(const transport::HttpResponse& response) {
  const auto body = json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return "";
  return body["error"].value("message", "");
}

bool has_event(const std::vector<json>& events, const std::string& action, const std::string& outcome,
               const std::string& target_part = "") {
  return std::any_of(events.begin(), events.end(), [&](const json& event) {
    return event.value("action", "") == action && event.value("outcome", "") == outcome &&
           contains(event.value("target", ""), target_part);
  });
}

std::size_t count_events(const std::vector<json>& events, const std::string& action, const std::string& outcome,
                         const std::string& target) {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const json& event) {
    return event.value("action", "") == action && event.value("outcome", "") == outcome &&
           event.value("target", "") == target;
  }));
}

std::string line_value(const std::string& text, const std::string& prefix) {
  const std::regex pattern("(^|\n)" + prefix + R"(\s*([^\s]+))");
  std::smatch match;
  return std::regex_search(text, match, pattern) ? match[2].str() : "";
}

// ============================================================================================
// Gateway first start

TEST_F(E2e, FirstStartCreatesStateCaAndRandomAdminPassword) {
  GatewayOptions options;
  options.admin_password = std::nullopt;  // the password must land in the data dir
  auto& gw = start_gateway(options);
  const auto dir = gw.data_dir();

  EXPECT_EQ(file_mode(dir), 0700u);
  EXPECT_TRUE(fs::exists(dir / "state.db"));
  ASSERT_TRUE(fs::exists(dir / "tls" / "ca.pem"));
  EXPECT_EQ(file_mode(dir / "tls" / "ca.key"), 0600u);
  ASSERT_TRUE(fs::exists(dir / "initial-admin-password"));
  EXPECT_EQ(file_mode(dir / "initial-admin-password"), 0600u);
  const std::string password = gw.admin_password();
  EXPECT_GE(password.size(), 16u);
  const std::string out = gw.process().stdout_text();
  EXPECT_TRUE(contains(out, "Created user admin; its password is in " + (dir / "initial-admin-password").string())) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(listening on https://127\.0\.0\.1:\d+)"))) << out;

  // The printed fingerprint is the CA's, computed independently of the gateway.
  const std::string ca_pem = read_text(gw.ca_file());
  EXPECT_EQ(crypto::certificate_fingerprint(ca_pem).value_or("none"), gw.fingerprint());
  if (fs::exists("/usr/bin/openssl")) {
    const auto openssl = sandbox_.run("openssl", {"/usr/bin/openssl", "x509", "-in", gw.ca_file().string(), "-noout",
                                                  "-fingerprint", "-sha256"});
    ASSERT_EQ(openssl.exit_code, 0) << openssl.describe();
    std::string hex = lower(openssl.out.substr(openssl.out.find('=') + 1));
    hex.erase(std::remove_if(hex.begin(), hex.end(), [](char c) { return c == ':' || c == '\n'; }), hex.end());
    EXPECT_EQ("SHA256:" + hex, gw.fingerprint());
  }

  // The password works, a wrong one does not, and it is never printed.
  EXPECT_FALSE(gw.api_login("admin", password).empty());
  EXPECT_EQ(gw.api("POST", "/v1/auth/login", json{{"user", "admin"}, {"password", password + "x"}}.dump()).status, 401u);
  EXPECT_FALSE(contains(gw.process().stdout_text(), password));
  EXPECT_FALSE(contains(gw.process().stderr_text(), password));

  // A second start keeps the CA and the admin, and says nothing about a new password.
  const std::string fingerprint = gw.fingerprint();
  gw.restart();
  EXPECT_EQ(gw.fingerprint(), fingerprint);
  EXPECT_FALSE(contains(gw.process().stdout_text(), "Created user admin")) << gw.process().stdout_text();
  EXPECT_EQ(gw.admin_password(), password);
  EXPECT_FALSE(gw.api_login("admin", password).empty());
}

TEST_F(E2e, AdminPasswordFromEnvironmentLeavesNoPasswordFile) {
  auto& gw = start_gateway();
  EXPECT_FALSE(fs::exists(gw.data_dir() / "initial-admin-password"));
  EXPECT_TRUE(contains(gw.process().stdout_text(), "from SALLYPORT_ADMIN_PASSWORD")) << gw.process().stdout_text();
  EXPECT_FALSE(gw.api_login("admin", gw.admin_password()).empty());
  const auto health = gw.api("GET", "/v1/health");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(json::parse(health.body).value("status", ""), "ok");
}

// ============================================================================================
// CLI login and trust

TEST_F(E2e, CliLoginPinsTheCaAndKeepsTheTokenPrivate) {
  REQUIRE_CLI();
  GatewayOptions options;
  options.login_cli = false;
  auto& gw = start_gateway(options);
  const EnvOverrides with_password = {{"SALLYPORT_PASSWORD", gw.admin_password()}};

  // No trust flags: refused, with a hint how to trust the gateway.
  const auto no_trust = gw.cli({"login", "--gateway", gw.url(), "--user", "admin"}, "admin", with_password);
  EXPECT_NE(no_trust.exit_code, 0) << no_trust.describe();
  EXPECT_TRUE(contains(no_trust.err + no_trust.out, "--ca-fingerprint")) << no_trust.describe();

  // A wrong fingerprint: cannot trust the gateway (6), and the message says why.
  std::string wrong = gw.fingerprint();
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  const auto untrusted =
      gw.cli({"login", "--gateway", gw.url(), "--user", "admin", "--ca-fingerprint", wrong}, "admin", with_password);
  EXPECT_EQ(untrusted.exit_code, 6) << untrusted.describe();
  EXPECT_TRUE(contains(lower(untrusted.err + untrusted.out), "fingerprint")) << untrusted.describe();

  // A wrong password: not logged in (3).
  const auto bad_password = gw.cli_login("admin", "not-the-password");
  EXPECT_EQ(bad_password.exit_code, 3) << bad_password.describe();

  const auto login = gw.cli_login("admin", gw.admin_password());
  ASSERT_EQ(login.exit_code, 0) << login.describe();
  const auto credentials = gw.cli_config_dir("admin") / "credentials.json";
  ASSERT_TRUE(fs::exists(credentials)) << "files in the config dir: " << [&] {
    std::string names;
    for (const auto& entry : fs::recursive_directory_iterator(gw.cli_config_dir("admin"))) names += entry.path().string() + " ";
    return names;
  }();
  EXPECT_EQ(file_mode(credentials), 0600u);
  const std::string token = json::parse(read_text(credentials)).value("token", "");
  EXPECT_EQ(token.rfind("spt_", 0), 0u) << read_text(credentials).size();
  EXPECT_FALSE(contains(login.out + login.err, token));

  const auto whoami = gw.cli({"whoami"});
  EXPECT_EQ(whoami.exit_code, 0) << whoami.describe();
  EXPECT_TRUE(contains(whoami.out, "admin")) << whoami.describe();

  // --ca-file works as well (another config dir).
  const auto with_file = gw.cli({"login", "--gateway", gw.url(), "--user", "admin", "--ca-file", gw.ca_file().string()},
                                "admin-ca-file", with_password);
  EXPECT_EQ(with_file.exit_code, 0) << with_file.describe();
  EXPECT_EQ(gw.cli({"whoami"}, "admin-ca-file").exit_code, 0);

  // Logout ends the token on the gateway too.
  const auto logout = gw.cli({"logout"});
  EXPECT_EQ(logout.exit_code, 0) << logout.describe();
  const auto after = gw.cli({"whoami"});
  EXPECT_EQ(after.exit_code, 3) << after.describe();
  EXPECT_EQ(gw.api("GET", "/v1/auth/whoami", "", token).status, 401u);
  EXPECT_EQ(gw.cli({"nodes", "ls"}).exit_code, 3);
}

TEST_F(E2e, FailedLoginsAreRateLimited) {
  REQUIRE_CLI();
  auto& gw = start_gateway();
  for (int attempt = 1; attempt <= 5; ++attempt) {
    const auto failed = gw.cli_login("admin", "wrong-password-" + std::to_string(attempt));
    EXPECT_EQ(failed.exit_code, 3) << "attempt " << attempt << ": " << failed.describe();
  }
  // The sixth attempt is refused even with the right password.
  const auto limited = gw.cli_login("admin", gw.admin_password());
  EXPECT_EQ(limited.exit_code, 8) << limited.describe();
  EXPECT_TRUE(contains(lower(limited.err + limited.out), "too many")) << limited.describe();
  EXPECT_TRUE(has_event(gw.audit_log(), "auth:Login", "failure", "user/admin"));
}

// ============================================================================================
// Activations and registration

TEST_F(E2e, CliActivationsCreateListDelete) {
  REQUIRE_CLI();
  auto& gw = start_gateway();
  const auto created =
      gw.cli({"activations", "create", "--name", "web", "--tags", "env=dev,team=core", "--limit", "5", "--expires", "24h"});
  ASSERT_EQ(created.exit_code, 0) << created.describe();
  const std::string id = line_value(created.out, "Activation ID:");
  const std::string code = line_value(created.out, "Activation code:");
  ASSERT_FALSE(id.empty()) << created.describe();
  ASSERT_FALSE(code.empty()) << created.describe();

  const auto listed = gw.cli({"activations", "ls"});
  EXPECT_EQ(listed.exit_code, 0) << listed.describe();
  EXPECT_TRUE(contains(listed.out, id)) << listed.describe();
  EXPECT_FALSE(contains(listed.out, code)) << "the code is shown once only";

  const auto activations = gw.api_json("GET", "/v1/activations").at("activations");
  const auto activation = find_by(activations.get<std::vector<json>>(), "id", id);
  ASSERT_TRUE(activation);
  EXPECT_EQ((*activation)["name"], "web");
  EXPECT_EQ((*activation)["registration_limit"], 5);
  EXPECT_EQ((*activation)["tags"], (json{{"env", "dev"}, {"team", "core"}}));

  // The code registers an agent.
  const auto registered = register_agent(gw, {id, code}, sandbox_.root() / "agent-web", "web-1");
  EXPECT_EQ(registered.exit_code, 0) << registered.describe();

  const auto deleted = gw.cli({"activations", "delete", id});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.describe();
  EXPECT_FALSE(contains(gw.cli({"activations", "ls"}).out, id));
  const auto again = gw.cli({"activations", "delete", id});
  EXPECT_EQ(again.exit_code, 5) << again.describe();

  // A bad limit is a bad request, refused before anything is created.
  const auto bad = gw.cli({"activations", "create", "--limit", "0"});
  EXPECT_TRUE(bad.exit_code == 9 || bad.exit_code == 2) << bad.describe();
}

TEST_F(E2e, RegistrationIsRefusedForWrongExhaustedAndDeletedActivations) {
  auto& gw = start_gateway();
  const auto root = sandbox_.root();

  const auto activation = gw.create_activation("once", {}, 1);
  const auto wrong = register_agent(gw, {activation.id, "not-the-code"}, root / "agent-wrong", "wrong");
  EXPECT_NE(wrong.exit_code, 0) << wrong.describe();
  EXPECT_TRUE(contains(wrong.err, "activation ID or code is wrong")) << wrong.describe();
  EXPECT_FALSE(fs::exists(root / "agent-wrong" / "agent.json"));

  // Limit 1, used twice: the second is refused.
  const auto first = register_agent(gw, activation, root / "agent-first", "first");
  EXPECT_EQ(first.exit_code, 0) << first.describe();
  EXPECT_TRUE(std::regex_search(first.out, std::regex(R"(Registered as mi-[0-9a-f]{17} \(first\))"))) << first.describe();
  const auto second = register_agent(gw, activation, root / "agent-second", "second");
  EXPECT_NE(second.exit_code, 0) << second.describe();
  EXPECT_TRUE(contains(second.err, "registration limit")) << second.describe();
  EXPECT_FALSE(fs::exists(root / "agent-second" / "agent.json"));

  // A deleted activation no longer works.
  const auto doomed = gw.create_activation("doomed", {}, 5);
  gw.api_json("DELETE", "/v1/activations/" + doomed.id);
  const auto deleted = register_agent(gw, doomed, root / "agent-deleted", "deleted");
  EXPECT_NE(deleted.exit_code, 0) << deleted.describe();
  EXPECT_TRUE(contains(deleted.err, "registration refused")) << deleted.describe();
  EXPECT_FALSE(fs::exists(root / "agent-deleted" / "agent.json"));

  // The agent trusts only the pinned CA.
  {
    std::vector<std::string> argv = {Binaries::agent(), "register", "--gateway", gw.url(), "--ca-fingerprint",
                                     "SHA256:" + std::string(64, 'a'), "--activation-id", activation.id,
                                     "--activation-code", activation.code, "--state-dir", (root / "agent-mitm").string()};
    const auto untrusted = sandbox_.run("agent-register-mitm", argv);
    EXPECT_NE(untrusted.exit_code, 0) << untrusted.describe();
    EXPECT_TRUE(contains(untrusted.err, "pinned fingerprint")) << untrusted.describe();
    EXPECT_FALSE(fs::exists(root / "agent-mitm" / "agent.json"));
  }

  // Registering into a state dir that already holds an identity is refused locally.
  const auto twice = register_agent(gw, gw.create_activation(), root / "agent-first", "first-again");
  EXPECT_NE(twice.exit_code, 0) << twice.describe();
  EXPECT_TRUE(contains(twice.err, "already holds a registered agent")) << twice.describe();

  const auto events = gw.audit_log();
  EXPECT_TRUE(has_event(events, "agent:Register", "failure", "activation/" + activation.id));
  EXPECT_TRUE(has_event(events, "agent:Register", "success", "node/mi-"));
  EXPECT_EQ(gw.api_nodes().size(), 1u);
}

// ============================================================================================
// Agent link

TEST_F(E2e, AgentComesOnlineWithInventoryAndMergedTags) {
  auto& gw = start_gateway();
  const auto activation = gw.create_activation("web", {{"env", "dev"}, {"team", "core"}}, 1);
  const auto state_dir = sandbox_.root() / "agent-web-1";
  // The agent asks for team=other; the activation's team=core wins.
  const auto registered = register_agent(gw, activation, state_dir, "web-1", "team=other,role=db");
  ASSERT_EQ(registered.exit_code, 0) << registered.describe();
  EXPECT_EQ(file_mode(state_dir / "agent.key"), 0600u);
  const std::string node_id = json::parse(read_text(state_dir / "agent.json")).at("node_id");
  EXPECT_TRUE(std::regex_match(node_id, std::regex("mi-[0-9a-f]{17}"))) << node_id;

  auto& agent = start_agent(gw, state_dir);
  ASSERT_TRUE(wait_for_status(gw, node_id, "Online", 20s)) << "status: " << node_status(gw, node_id);
  // Inventory arrives right after the welcome.
  ASSERT_TRUE(wait_until([&] { return !gw.api_node(node_id)->value("agent_version", "").empty(); }, 10s));

  const auto node = *gw.api_node(node_id);
  EXPECT_EQ(node["name"], "web-1");
  EXPECT_EQ(node["agent_version"], kVersion);
  EXPECT_FALSE(node.value("platform", "").empty()) << node.dump();
  EXPECT_FALSE(node.value("hostname", "").empty()) << node.dump();
  EXPECT_FALSE(node.value("kernel", "").empty()) << node.dump();
  EXPECT_FALSE(node.value("architecture", "").empty()) << node.dump();
  ASSERT_TRUE(node["ip_addresses"].is_array());
  EXPECT_FALSE(node["ip_addresses"].empty()) << node.dump();
  EXPECT_EQ(node["tags"], (json{{"env", "dev"}, {"team", "core"}, {"role", "db"}}));
  EXPECT_EQ(node["activation_id"], activation.id);
  EXPECT_FALSE(node.value("last_ping_at", "").empty());
  EXPECT_TRUE(agent.running());
  EXPECT_TRUE(contains(agent.stderr_text(), "connected to")) << agent.stderr_text();

  // Heartbeats keep it Online beyond the timeout (3 s).
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(node_status(gw, node_id), "Online");
}

TEST_F(E2e, CliNodesListShowTagDeregister) {
  REQUIRE_CLI();
  auto& gw = start_gateway();
  const auto created = gw.cli({"activations", "create", "--name", "web", "--tags", "env=dev,team=core"});
  ASSERT_EQ(created.exit_code, 0) << created.describe();
  const Activation activation{line_value(created.out, "Activation ID:"), line_value(created.out, "Activation code:")};
  const auto state_dir = sandbox_.root() / "agent-web-1";
  const auto registered = register_agent(gw, activation, state_dir, "web-1", "role=db,team=other");
  ASSERT_EQ(registered.exit_code, 0) << registered.describe();
  const std::string node_id = json::parse(read_text(state_dir / "agent.json")).at("node_id");
  start_agent(gw, state_dir);

  // `nodes ls --json` shows it Online with its inventory.
  std::optional<json> node;
  ASSERT_TRUE(wait_until(
      [&] {
        node = find_by(gw.cli_nodes(), "id", node_id);
        return node && node->value("ping_status", "") == "Online" && !node->value("agent_version", "").empty();
      },
      20s, 200ms))
      << (node ? node->dump() : "not listed");
  EXPECT_EQ((*node)["name"], "web-1");
  EXPECT_EQ((*node)["agent_version"], kVersion);
  EXPECT_FALSE(node->value("platform", "").empty()) << node->dump();
  EXPECT_FALSE((*node)["ip_addresses"].empty()) << node->dump();
  EXPECT_EQ((*node)["tags"], (json{{"env", "dev"}, {"team", "core"}, {"role", "db"}}));

  // The table lists it too.
  const auto table = gw.cli({"nodes", "ls"});
  EXPECT_EQ(table.exit_code, 0) << table.describe();
  EXPECT_TRUE(contains(table.out, node_id) && contains(table.out, "web-1") && contains(table.out, "Online"))
      << table.describe();

  // show by name and by id.
  const auto by_name = gw.cli({"nodes", "show", "web-1", "--json"});
  ASSERT_EQ(by_name.exit_code, 0) << by_name.describe();
  EXPECT_EQ(json::parse(by_name.out).value("id", ""), node_id) << by_name.describe();
  const auto by_id = gw.cli({"nodes", "show", node_id});
  EXPECT_EQ(by_id.exit_code, 0) << by_id.describe();
  EXPECT_TRUE(contains(by_id.out, "web-1")) << by_id.describe();
  EXPECT_EQ(gw.cli({"nodes", "show", "no-such-node"}).exit_code, 5);

  // tag
  const auto tagged = gw.cli({"nodes", "tag", node_id, "owner=ops"});
  EXPECT_EQ(tagged.exit_code, 0) << tagged.describe();
  const auto after_tag = json::parse(gw.cli({"nodes", "show", node_id, "--json"}).out);
  EXPECT_EQ(after_tag["tags"], (json{{"env", "dev"}, {"team", "core"}, {"role", "db"}, {"owner", "ops"}}));
  const auto bad_tag = gw.cli({"nodes", "tag", node_id, "no-equals-sign"});
  EXPECT_NE(bad_tag.exit_code, 0) << bad_tag.describe();

  // deregister
  const auto deregistered = gw.cli({"nodes", "deregister", node_id});
  EXPECT_EQ(deregistered.exit_code, 0) << deregistered.describe();
  EXPECT_FALSE(find_by(gw.cli_nodes(), "id", node_id));
  EXPECT_EQ(gw.cli({"nodes", "show", node_id}).exit_code, 5);
  EXPECT_EQ(gw.cli({"nodes", "deregister", node_id}).exit_code, 5);
}

TEST_F(E2e, KilledAgentIsConnectionLostWithShortHeartbeats) {
  auto& gw = start_gateway();  // --agent-heartbeat 1 --agent-timeout 3
  auto agent = add_agent(gw, "victim");
  ASSERT_TRUE(wait_for_status(gw, agent.node_id, "Online", 20s)) << node_status(gw, agent.node_id);
  agent.process->signal(SIGKILL);
  EXPECT_EQ(agent.process->wait_for(5s), 128 + SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_for_status(gw, agent.node_id, "ConnectionLost", 30s)) << node_status(gw, agent.node_id);
  std::cerr << "ConnectionLost after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at).count()
            << " ms\n";
  EXPECT_TRUE(gw.process().running());
}

TEST_F(E2e, KilledAgentIsDetectedThroughTcpCloseWithDefaultTimers) {
  GatewayOptions options;
  options.defaults = true;  // heartbeat 10 s, timeout 25 s
  auto& gw = start_gateway(options);
  auto agent = add_agent(gw, "victim");
  ASSERT_TRUE(wait_for_status(gw, agent.node_id, "Online", 20s)) << node_status(gw, agent.node_id);
  agent.process->signal(SIGKILL);
  // Well inside the 25 s timeout: only the closed TCP connection can tell the gateway.
  EXPECT_TRUE(wait_for_status(gw, agent.node_id, "ConnectionLost", 10s)) << node_status(gw, agent.node_id);
}

TEST_F(E2e, FrozenAgentTimesOutAndRecoversWhenResumed) {
  auto& gw = start_gateway();  // --agent-heartbeat 1 --agent-timeout 3
  auto agent = add_agent(gw, "sleepy");
  ASSERT_TRUE(wait_for_status(gw, agent.node_id, "Online", 20s)) << node_status(gw, agent.node_id);
  // SIGSTOP keeps the TCP connection open but silent: only the heartbeat timeout can notice.
  agent.process->signal(SIGSTOP);
  const bool lost = wait_for_status(gw, agent.node_id, "ConnectionLost", 15s);
  agent.process->signal(SIGCONT);
  EXPECT_TRUE(lost) << node_status(gw, agent.node_id);
  EXPECT_TRUE(wait_for_status(gw, agent.node_id, "Online", 30s)) << node_status(gw, agent.node_id);
}

TEST_F(E2e, SigtermStopsTheAgentPromptlyAndCleanly) {
  GatewayOptions options;
  options.defaults = true;  // timeout 25 s: a quick ConnectionLost can only come from a close
  auto& gw = start_gateway(options);
  auto agent = add_agent(gw, "polite");
  ASSERT_TRUE(wait_for_status(gw, agent.node_id, "Online", 20s)) << node_status(gw, agent.node_id);
  const auto started = std::chrono::steady_clock::now();
  agent.process->signal(SIGTERM);
  // The agent closes its link at once.
  EXPECT_TRUE(wait_for_status(gw, agent.node_id, "ConnectionLost", 5s)) << node_status(gw, agent.node_id);
  const auto status = agent.process->wait_for(20s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  ASSERT_TRUE(status) << "the agent did not exit within 20 s of SIGTERM";
  EXPECT_EQ(*status, 0);
  EXPECT_LT(took, 4s) << "the agent took " << took.count() << " ms to exit after SIGTERM";
  EXPECT_TRUE(contains(agent.process->stderr_text(), "agent stopped")) << agent.process->stderr_text();
}

TEST_F(E2e, GatewayExitsCleanlyOnSigtermWithAgentsConnected) {
  auto& gw = start_gateway();
  auto first = add_agent(gw, "alpha");
  auto second = add_agent(gw, "beta");
  ASSERT_TRUE(wait_for_status(gw, first.node_id, "Online", 20s));
  ASSERT_TRUE(wait_for_status(gw, second.node_id, "Online", 20s));
  const int status = gw.stop(SIGTERM, 10s);
  EXPECT_EQ(status, 0) << "128+n means killed by signal n\n" << gw.process().stderr_text();
  // The agents survive the gateway and keep trying.
  EXPECT_TRUE(first.process->running());
  EXPECT_TRUE(second.process->running());
}

TEST_F(E2e, AgentsReconnectByThemselvesAfterGatewayRestart) {
  auto& gw = start_gateway();
  auto first = add_agent(gw, "alpha");
  auto second = add_agent(gw, "beta");
  ASSERT_TRUE(wait_for_status(gw, first.node_id, "Online", 20s));
  ASSERT_TRUE(wait_for_status(gw, second.node_id, "Online", 20s));
  const std::string token = gw.admin_token();
  const auto port = gw.port();
  const auto fingerprint = gw.fingerprint();

  // Its exit status is GatewayExitsCleanlyOnSigtermWithAgentsConnected's business.
  EXPECT_NE(gw.stop(), -1) << "the gateway did not stop on SIGTERM";
  std::this_thread::sleep_for(1s);  // the agents notice and start backing off
  ASSERT_TRUE(first.process->running());
  gw.start();
  EXPECT_EQ(gw.port(), port);
  EXPECT_EQ(gw.fingerprint(), fingerprint);

  EXPECT_TRUE(wait_for_status(gw, first.node_id, "Online", 30s)) << node_status(gw, first.node_id);
  EXPECT_TRUE(wait_for_status(gw, second.node_id, "Online", 30s)) << node_status(gw, second.node_id);
  EXPECT_TRUE(first.process->running());
  EXPECT_TRUE(second.process->running());
  // Logins survive the restart.
  EXPECT_EQ(gw.api("GET", "/v1/auth/whoami", "", token).status, 200u);
  if (Binaries::have_cli()) {
    const auto nodes = gw.cli_nodes();
    ASSERT_TRUE(find_by(nodes, "id", first.node_id));
    EXPECT_EQ((*find_by(nodes, "id", first.node_id))["ping_status"], "Online");
  }
}

TEST_F(E2e, DeregisteredAgentIsDisconnectedAndItsReconnectsAreRefused) {
  auto& gw = start_gateway();
  auto agent = add_agent(gw, "doomed");
  ASSERT_TRUE(wait_for_status(gw, agent.node_id, "Online", 20s));

  const auto answer = gw.api_json("DELETE", "/v1/nodes/" + agent.node_id);
  EXPECT_EQ(answer.value("status", ""), "deregistered");
  const std::string target = "node/" + agent.node_id;
  // At least two refused reconnects (back-off at most 2 s): not just a one-off.
  EXPECT_TRUE(wait_until([&] { return count_events(gw.audit_log(), "agent:Connect", "denied", target) >= 2; }, 20s))
      << read_text(gw.data_dir() / "audit.log");
  EXPECT_TRUE(has_event(gw.audit_log(), "node:Deregister", "success", target));
  EXPECT_TRUE(contains(agent.process->stderr_text(), "deregistered")) << agent.process->stderr_text();
  EXPECT_TRUE(contains(gw.process().stderr_text(), "closing link of " + agent.node_id + ": node deregistered"))
      << gw.process().stderr_text();
  EXPECT_TRUE(contains(gw.process().stderr_text(), "refused agent connection")) << gw.process().stderr_text();

  const auto nodes = gw.api_nodes();
  EXPECT_FALSE(find_by(nodes, "id", agent.node_id));
  EXPECT_FALSE(gw.api_node(agent.node_id));
  if (Binaries::have_cli()) {
    EXPECT_FALSE(find_by(gw.cli_nodes(), "id", agent.node_id));
  }
}

// ============================================================================================
// Users

TEST_F(E2e, CliUsersAndNonAdminPermissions) {
  REQUIRE_CLI();
  auto& gw = start_gateway();
  const std::string alice_password = "alice-Pa55word";
  const auto created = gw.cli({"users", "create", "alice", "--tags", "team=core"}, "admin",
                              {{"SALLYPORT_NEW_PASSWORD", alice_password}});
  ASSERT_EQ(created.exit_code, 0) << created.describe();
  const auto duplicate = gw.cli({"users", "create", "alice"}, "admin", {{"SALLYPORT_NEW_PASSWORD", alice_password}});
  EXPECT_EQ(duplicate.exit_code, 7) << duplicate.describe();
  const auto short_password = gw.cli({"users", "create", "bob"}, "admin", {{"SALLYPORT_NEW_PASSWORD", "short"}});
  EXPECT_EQ(short_password.exit_code, 9) << short_password.describe();

  const auto listed = gw.cli({"users", "ls"});
  EXPECT_EQ(listed.exit_code, 0) << listed.describe();
  EXPECT_TRUE(contains(listed.out, "alice") && contains(listed.out, "admin")) << listed.describe();
  const auto alice = find_by(gw.api_json("GET", "/v1/users").at("users").get<std::vector<json>>(), "name", "alice");
  ASSERT_TRUE(alice);
  EXPECT_EQ((*alice)["admin"], false);
  EXPECT_EQ((*alice)["tags"], (json{{"team", "core"}}));

  // Authorisation is policy-based and denies by default: a user without policies may not
  // even list nodes. With the built-in SessionUser policy (attached through the API: the CLI
  // has no policy commands yet) alice may list nodes, but still not manage activations or
  // users, nor read the audit log.
  ASSERT_EQ(gw.cli_login("alice", alice_password).exit_code, 0);
  const auto whoami = gw.cli({"whoami"}, "alice");
  EXPECT_TRUE(contains(whoami.out, "alice")) << whoami.describe();
  const auto no_policy = gw.cli({"nodes", "ls"}, "alice");
  EXPECT_EQ(no_policy.exit_code, 4) << no_policy.describe();
  gw.api_json("POST", "/v1/policies/SessionUser/attach", {{"user", "alice"}});
  const auto nodes = gw.cli({"nodes", "ls"}, "alice");
  EXPECT_EQ(nodes.exit_code, 0) << nodes.describe();
  const auto activation = gw.cli({"activations", "create"}, "alice");
  EXPECT_EQ(activation.exit_code, 4) << activation.describe();
  const auto user = gw.cli({"users", "create", "mallory"}, "alice", {{"SALLYPORT_NEW_PASSWORD", "mallory-Pa55word"}});
  EXPECT_EQ(user.exit_code, 4) << user.describe();
  const auto audit = gw.cli({"audit", "ls"}, "alice");
  EXPECT_EQ(audit.exit_code, 4) << audit.describe();
  EXPECT_TRUE(has_event(gw.audit_log(), "activation:Create", "denied"));

  // A changed password ends alice's logins; the new one works.
  const auto passwd = gw.cli({"users", "passwd", "alice"}, "admin", {{"SALLYPORT_NEW_PASSWORD", "alice-N3w-password"}});
  EXPECT_EQ(passwd.exit_code, 0) << passwd.describe();
  EXPECT_EQ(gw.cli({"whoami"}, "alice").exit_code, 3);
  EXPECT_EQ(gw.cli_login("alice", alice_password).exit_code, 3);
  EXPECT_EQ(gw.cli_login("alice", "alice-N3w-password").exit_code, 0);

  const auto deleted = gw.cli({"users", "delete", "alice"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.describe();
  EXPECT_FALSE(contains(gw.cli({"users", "ls"}).out, "alice"));
  EXPECT_EQ(gw.cli({"whoami"}, "alice").exit_code, 3);
  EXPECT_EQ(gw.cli({"users", "delete", "alice"}).exit_code, 5);
}

// ============================================================================================
// Audit trail and secrets

TEST_F(E2e, AuditTrailCoversTheWalkThroughAndLogsHoldNoSecrets) {
  REQUIRE_CLI();
  GatewayOptions options;
  options.admin_password = std::nullopt;  // a random one, so it cannot appear by coincidence
  auto& gw = start_gateway(options);
  const std::string admin_password = gw.admin_password();

  EXPECT_EQ(gw.cli_login("admin", admin_password + "-wrong").exit_code, 3);
  const auto created = gw.cli({"activations", "create", "--name", "audited", "--tags", "env=dev"});
  ASSERT_EQ(created.exit_code, 0) << created.describe();
  const Activation activation{line_value(created.out, "Activation ID:"), line_value(created.out, "Activation code:")};
  const auto state_dir = sandbox_.root() / "agent-audited";
  const auto registered = register_agent(gw, activation, state_dir, "audited");
  ASSERT_EQ(registered.exit_code, 0) << registered.describe();
  const std::string node_id = json::parse(read_text(state_dir / "agent.json")).at("node_id");
  auto& agent = start_agent(gw, state_dir);
  ASSERT_TRUE(wait_for_status(gw, node_id, "Online", 20s));

  const auto spare = gw.cli({"activations", "create", "--name", "spare"});
  ASSERT_EQ(spare.exit_code, 0) << spare.describe();
  const Activation spare_activation{line_value(spare.out, "Activation ID:"), line_value(spare.out, "Activation code:")};
  EXPECT_EQ(gw.cli({"activations", "delete", spare_activation.id}).exit_code, 0);
  const std::string carol_password = "carol-Pa55word-secret";
  EXPECT_EQ(gw.cli({"users", "create", "carol"}, "admin", {{"SALLYPORT_NEW_PASSWORD", carol_password}}).exit_code, 0);
  EXPECT_EQ(gw.cli({"users", "delete", "carol"}).exit_code, 0);
  EXPECT_EQ(gw.cli({"nodes", "deregister", node_id}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return has_event(gw.audit_log(), "agent:Connect", "denied", node_id); }, 20s));

  const auto listed = gw.cli({"audit", "ls", "--since", "1h", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.describe();
  const auto document = json::parse(listed.out, nullptr, false);
  ASSERT_FALSE(document.is_discarded()) << listed.describe();
  const auto events = document.is_array() ? document.get<std::vector<json>>()
                                          : document.at("events").get<std::vector<json>>();
  EXPECT_TRUE(has_event(events, "auth:Login", "success", "user/admin"));
  EXPECT_TRUE(has_event(events, "auth:Login", "failure", "user/admin"));
  EXPECT_TRUE(has_event(events, "activation:Create", "success", activation.id));
  EXPECT_TRUE(has_event(events, "activation:Delete", "success", spare_activation.id));
  EXPECT_TRUE(has_event(events, "agent:Register", "success", node_id));
  EXPECT_TRUE(has_event(events, "node:Deregister", "success", node_id));
  EXPECT_TRUE(has_event(events, "agent:Connect", "denied", node_id));
  EXPECT_TRUE(has_event(events, "user:Create", "success", "user/carol"));
  EXPECT_TRUE(has_event(events, "user:Delete", "success", "user/carol"));
  // The same trail is in DATA_DIR/audit.log.
  EXPECT_TRUE(has_event(gw.audit_log(), "user:Delete", "success", "user/carol"));

  // Secrets: none may appear in any log or output (the one-time code display excepted).
  agent.signal(SIGTERM);
  agent.wait_for(5s);
  gw.stop();
  std::string key = read_text(state_dir / "agent.key");
  key.erase(std::remove(key.begin(), key.end(), '\n'), key.end());
  const std::string token = json::parse(read_text(gw.cli_config_dir("admin") / "credentials.json")).value("token", "");
  const std::map<std::string, std::string> secrets = {{"admin password", admin_password},
                                                      {"carol's password", carol_password},
                                                      {"activation code", activation.code},
                                                      {"spare activation code", spare_activation.code},
                                                      {"CLI token", token},
                                                      {"agent private key", key}};
  for (const auto& [what, secret] : secrets) ASSERT_GE(secret.size(), 12u) << what;
  auto files = sandbox_.output_files();
  files.emplace_back("audit.log", gw.data_dir() / "audit.log");
  int scanned = 0;
  for (const auto& [label, path] : files) {
    const bool shows_code = label.rfind("cli-admin-activations-create", 0) == 0 && path.extension() == ".stdout";
    const std::string text = read_text(path);
    ++scanned;
    for (const auto& [what, secret] : secrets) {
      if (shows_code && what.find("activation code") != std::string::npos) continue;
      EXPECT_FALSE(contains(text, secret)) << what << " found in " << path;
    }
  }
  EXPECT_GT(scanned, 20);
}

// ============================================================================================
// REST API bad input over real HTTPS

TEST_F(E2e, ApiRefusesBadInputWithClearAnswers) {
  GatewayOptions options;
  options.login_cli = false;
  auto& gw = start_gateway(options);
  const std::string admin = gw.admin_token();

  const auto malformed = gw.api("POST", "/v1/auth/login", "{\"user\": \"admin\", ");
  EXPECT_EQ(malformed.status, 400u) << malformed.body;
  EXPECT_EQ(error_message(malformed), "request body is not valid JSON") << malformed.body;
  const auto not_object = gw.api("POST", "/v1/activations", "[1,2]", admin);
  EXPECT_EQ(not_object.status, 400u) << not_object.body;
  const auto wrong_type = gw.api("POST", "/v1/activations", R"({"limit": "five"})", admin);
  EXPECT_EQ(wrong_type.status, 400u) << wrong_type.body;
  EXPECT_TRUE(contains(error_message(wrong_type), "limit")) << wrong_type.body;

  const auto unknown = gw.api("GET", "/v1/no/such/route", "", admin);
  EXPECT_EQ(unknown.status, 404u) << unknown.body;
  EXPECT_FALSE(error_message(unknown).empty());
  EXPECT_EQ(gw.api("GET", "/definitely-not-api").status, 404u);

  const auto anonymous = gw.api("GET", "/v1/nodes");
  EXPECT_EQ(anonymous.status, 401u) << anonymous.body;
  EXPECT_TRUE(contains(error_message(anonymous), "missing bearer token")) << anonymous.body;
  const auto forged = gw.api("GET", "/v1/nodes", "", "spt_" + crypto::base64url_encode(crypto::random_bytes(32)));
  EXPECT_EQ(forged.status, 401u) << forged.body;
  EXPECT_TRUE(contains(error_message(forged), "invalid or expired")) << forged.body;
  EXPECT_EQ(gw.api("GET", "/v1/nodes", "", std::string(5000, 'x')).status, 401u);

  // An expired token, planted in the gateway's own store (WAL mode allows a second writer).
  const std::string expired = "spt_" + crypto::base64url_encode(crypto::random_bytes(32));
  {
    auto store = store::open_sqlite((gw.data_dir() / "state.db").string());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    store->create_token({crypto::sha256_hex(expired), "admin", now - 7'200'000, now - 3'600'000});
  }
  const auto stale = gw.api("GET", "/v1/nodes", "", expired);
  EXPECT_EQ(stale.status, 401u) << stale.body;

  // A token that was logged out.
  const std::string ended = gw.api_login("admin", gw.admin_password());
  EXPECT_EQ(gw.api("POST", "/v1/auth/logout", "", ended).status, 200u);
  EXPECT_EQ(gw.api("GET", "/v1/nodes", "", ended).status, 401u);

  // A non-admin: denied by default; with the SessionUser policy may read the inventory, but
  // still may not create activations or read the audit log.
  gw.api_json("POST", "/v1/users", {{"name", "dave"}, {"password", "dave-Pa55word"}}, 201);
  const std::string dave = gw.api_login("dave", "dave-Pa55word");
  EXPECT_EQ(gw.api("GET", "/v1/nodes", "", dave).status, 403u);
  gw.api_json("POST", "/v1/policies/SessionUser/attach", {{"user", "dave"}});
  EXPECT_EQ(gw.api("GET", "/v1/nodes", "", dave).status, 200u);
  const auto forbidden = gw.api("POST", "/v1/activations", "{}", dave);
  EXPECT_EQ(forbidden.status, 403u) << forbidden.body;
  EXPECT_TRUE(contains(error_message(forbidden), "not allowed")) << forbidden.body;
  EXPECT_EQ(gw.api("GET", "/v1/audit", "", dave).status, 403u);
  EXPECT_TRUE(has_event(gw.audit_log(), "activation:Create", "denied"));

  // Over the JSON limit (64 KiB) but under the transport's (1 MiB): 400 with a message.
  const std::string big_json = json{{"name", std::string(100 * 1024, 'a')}}.dump();
  const auto big = gw.api("POST", "/v1/activations", big_json, admin);
  EXPECT_EQ(big.status, 400u) << big.body.substr(0, 300);
  EXPECT_TRUE(contains(error_message(big), "64 KiB")) << big.body.substr(0, 300);
  EXPECT_TRUE(gw.healthy());
  EXPECT_TRUE(gw.process().running());
}

// 2 MiB is over the transport's 1 MiB request limit. curl reads the answer while it is still
// sending, as browsers and proxies do.
TEST_F(E2e, OversizedBodyIsRefusedWith413) {
  if (!fs::exists("/usr/bin/curl")) GTEST_SKIP() << "needs /usr/bin/curl";
  GatewayOptions options;
  options.login_cli = false;
  auto& gw = start_gateway(options);
  const auto body = sandbox_.root() / "body.json";
  std::ofstream(body) << json{{"name", std::string(2 << 20, 'a')}}.dump();
  const auto curl = sandbox_.run("curl", {"/usr/bin/curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert",
                                          gw.ca_file().string(), "-X", "POST", "-H", "Authorization: Bearer " + gw.admin_token(),
                                          "--data-binary", "@" + body.string(), gw.url() + "/v1/activations"});
  EXPECT_EQ(curl.exit_code, 0) << curl.describe();
  EXPECT_TRUE(curl.out.size() >= 3 && curl.out.substr(curl.out.size() - 3) == "413") << curl.describe();
  EXPECT_TRUE(contains(curl.out, "too large")) << curl.describe();
  EXPECT_TRUE(gw.healthy());
}

// The same request through the project's own client (transport::https_request, used by the CLI
// and the agent) must see the 413 too, not a reset connection.
TEST_F(E2e, TransportClientSeesThe413ForAnOversizedBody) {
  GatewayOptions options;
  options.login_cli = false;
  auto& gw = start_gateway(options);
  transport::HttpResponse huge;
  try {
    huge = gw.api("POST", "/v1/activations", json{{"name", std::string(2 << 20, 'a')}}.dump(), gw.admin_token());
  } catch (const std::exception& error) {
    FAIL() << "a 2 MiB body got no HTTP answer: " << error.what();
  }
  EXPECT_EQ(huge.status, 413u) << huge.body.substr(0, 300);
  EXPECT_TRUE(gw.healthy());
}

// ============================================================================================
// Agent protocol bad input over a real link

struct ProbeResult {
  bool finished = false;
  std::string challenge_type;
  std::vector<json> messages;  // control messages after the challenge
  bool closed = false;         // read() returned nullopt
  std::string failure;
};

// Connects to /v1/agent/connect, reads the challenge, sends what make_message builds from the
// nonce, then reads until the gateway closes the link (or the deadline passes).
ProbeResult probe_agent_link(TestGateway& gateway, const std::function<std::string(const std::string&)>& make_message) {
  ProbeResult result;
  asio::io_context io;
  transport::ClientOptions options;
  options.gateway.host = "127.0.0.1";
  options.gateway.port = gateway.port();
  options.trust.ca_pem = read_text(gateway.ca_file());
  options.timeout = 10s;
  transport::LinkTimeouts timeouts;
  timeouts.idle = 60s;  // longer than the deadline: a close must come from the gateway
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto connection = co_await transport::connect_link(io.get_executor(), options, "/v1/agent/connect", {},
                                                           timeouts);
        auto socket = connection.socket;
        const auto challenge = co_await socket->read();
        if (!challenge) co_return;
        const auto decoded = wire::decode_one(*challenge);
        std::string nonce;
        if (decoded.frame) {
          const auto parsed = wire::parse_control(decoded.frame->payload);
          result.challenge_type = parsed.message.value("type", "");
          nonce = parsed.message.value("nonce", "");
        }
        co_await socket->write(make_message(nonce));
        while (auto bytes = co_await socket->read()) {
          const auto frame = wire::decode_one(*bytes);
          if (!frame.frame) {
            result.messages.push_back({{"undecodable", true}});
            continue;
          }
          result.messages.push_back(json::parse(frame.frame->payload, nullptr, false));
        }
        result.closed = true;
        socket->close();
      },
      [&](std::exception_ptr failure) {
        result.finished = true;
        if (failure) {
          try {
            std::rethrow_exception(failure);
          } catch (const std::exception& error) {
            result.failure = error.what();
          }
        }
      });
  io.run_for(15s);
  return result;
}

std::string control_bytes(const json& message) { return wire::encode(wire::FrameType::kControl, 0, message.dump()); }

void expect_refused(const ProbeResult& result, const std::string& code, const std::string& what) {
  EXPECT_TRUE(result.finished) << what << ": the gateway did not close the link within 15 s";
  EXPECT_TRUE(result.failure.empty()) << what << ": " << result.failure;
  EXPECT_EQ(result.challenge_type, "challenge") << what;
  EXPECT_TRUE(result.closed) << what;
  ASSERT_LE(result.messages.size(), 1u) << what << ": more than an error frame before the close";
  if (!result.messages.empty()) {
    EXPECT_EQ(result.messages[0].value("type", ""), "error") << what << ": " << result.messages[0].dump();
    EXPECT_EQ(result.messages[0].value("code", ""), code) << what << ": " << result.messages[0].dump();
  }
}

TEST_F(E2e, MalformedAgentLinksAreClosedAndTheGatewayStaysUp) {
  GatewayOptions options;
  options.login_cli = false;
  auto& gw = start_gateway(options);

  const auto garbage = probe_agent_link(gw, [](const std::string&) { return std::string("\x07garbage, not a frame"); });
  expect_refused(garbage, "protocol_error", "garbage bytes");
  EXPECT_TRUE(gw.healthy());

  const auto unknown_type = probe_agent_link(gw, [](const std::string&) {
    return control_bytes({{"type", "launch_missiles"}, {"protocol", wire::kProtocolVersion}});
  });
  expect_refused(unknown_type, "protocol_error", "unknown message type");
  EXPECT_TRUE(gw.healthy());

  const auto session_first = probe_agent_link(gw, [](const std::string&) {
    return wire::encode(wire::FrameType::kData, 7, "data before hello");
  });
  expect_refused(session_first, "protocol_error", "data frame instead of hello");
  EXPECT_TRUE(gw.healthy());

  const auto key = crypto::SigningKey::generate();
  const auto hello = [&key](const std::string& nonce, int protocol, const std::string& node_id) {
    const auto signature = key.sign(wire::hello_signing_input(nonce, node_id));
    return control_bytes({{"type", "hello"},
                          {"protocol", protocol},
                          {"node_id", node_id},
                          {"signature", crypto::base64url_encode(signature)},
                          {"agent_version", kVersion}});
  };
  const auto future = probe_agent_link(gw, [&](const std::string& nonce) { return hello(nonce, 99, "mi-0123456789abcdef0"); });
  expect_refused(future, "unsupported_protocol", "protocol version 99");
  if (!future.messages.empty()) {
    EXPECT_TRUE(contains(future.messages[0].value("message", ""), "99")) << future.messages[0].dump();
  }
  EXPECT_TRUE(gw.healthy());

  const auto stranger = probe_agent_link(gw, [&](const std::string& nonce) {
    return hello(nonce, wire::kProtocolVersion, "mi-0123456789abcdef0");
  });
  expect_refused(stranger, "unauthorized", "hello for an unknown node");
  EXPECT_TRUE(gw.healthy());

  // A registered node, but the hello is signed with another key.
  const auto activation = gw.create_activation();
  const auto state_dir = sandbox_.root() / "agent-real";
  ASSERT_EQ(register_agent(gw, activation, state_dir, "real").exit_code, 0);
  const std::string node_id = json::parse(read_text(state_dir / "agent.json")).at("node_id");
  const auto impostor =
      probe_agent_link(gw, [&](const std::string& nonce) { return hello(nonce, wire::kProtocolVersion, node_id); });
  expect_refused(impostor, "unauthorized", "hello signed with the wrong key");
  EXPECT_EQ(node_status(gw, node_id), "ConnectionLost");

  // A link or a WebSocket to a path that is no agent link is refused at the upgrade, and so
  // is a WebSocket to the agents' and the port forwards' paths, which take only links (a
  // browser has no business there).
  const std::vector<std::pair<decltype(&transport::connect_link), std::string>> refused = {
      {&transport::connect_link, "/v1/agent/elsewhere"},
      {&transport::connect_websocket, "/v1/agent/elsewhere"},
      {&transport::connect_websocket, "/v1/agent/connect"},
      {&transport::connect_websocket, "/v1/forwards/connect"}};
  for (const auto& [connect, path] : refused) {
    asio::io_context io;
    transport::ClientOptions options_ws;
    options_ws.gateway.host = "127.0.0.1";
    options_ws.gateway.port = gw.port();
    options_ws.trust.ca_pem = read_text(gw.ca_file());
    std::string failure;
    asio::co_spawn(io, connect(io.get_executor(), options_ws, path, {}, {}),
                   [&](std::exception_ptr error, transport::LinkConnection) {
                     try {
                       if (error) std::rethrow_exception(error);
                     } catch (const std::exception& e) {
                       failure = e.what();
                     }
                   });
    io.run_for(15s);
    EXPECT_TRUE(contains(failure, "404")) << path << ": " << failure;
  }

  EXPECT_TRUE(gw.healthy());
  EXPECT_TRUE(gw.process().running());
  const std::string log = gw.process().stderr_text();
  EXPECT_TRUE(contains(log, "protocol error: malformed frame")) << log;
  EXPECT_TRUE(contains(log, "protocol error")) << log;
  EXPECT_TRUE(contains(log, "unsupported protocol version 99")) << log;
  EXPECT_TRUE(contains(log, "unknown node or bad signature")) << log;
  const auto events = gw.audit_log();
  EXPECT_TRUE(has_event(events, "agent:Connect", "failure"));
  EXPECT_TRUE(has_event(events, "agent:Connect", "denied", "node/mi-0123456789abcdef0"));
}

// ============================================================================================
// A fleet

TEST_F(E2e, TwoHundredAgentsComeOnlineTogether) {
  constexpr int kAgents = 200;
  GatewayOptions options;
  options.heartbeat_seconds = 5;
  options.timeout_seconds = 15;
  auto& gw = start_gateway(options);
  const auto activation = gw.create_activation("swarm", {{"fleet", "swarm"}}, kAgents);
  const auto started = std::chrono::steady_clock::now();
  auto& swarm = sandbox_.spawn("swarm", {Binaries::swarm(), "--gateway", gw.url(), "--ca-file", gw.ca_file().string(),
                                         "--activation-id", activation.id, "--activation-code", activation.code,
                                         "--count", std::to_string(kAgents), "--state-dir",
                                         (sandbox_.root() / "swarm").string()});
  ASSERT_TRUE(wait_until([&] { return contains(swarm.stdout_text(), "registered " + std::to_string(kAgents)) || !swarm.running(); },
                         60s, 100ms))
      << swarm.stderr_text();
  ASSERT_TRUE(swarm.running()) << swarm.stderr_text();
  const auto registered_at = std::chrono::steady_clock::now();

  // Polled as a user would, through `nodes ls --json` (the API when the CLI is not built).
  std::size_t online = 0;
  std::vector<json> nodes;
  const bool all_online = wait_until(
      [&] {
        nodes = Binaries::have_cli() ? gw.cli_nodes() : gw.api_nodes();
        online = static_cast<std::size_t>(std::count_if(nodes.begin(), nodes.end(), [](const json& node) {
          return node.value("ping_status", "") == "Online";
        }));
        return online == kAgents;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(60s - (registered_at - started)), 500ms);
  const auto online_at = std::chrono::steady_clock::now();
  std::cerr << "registered " << kAgents << " in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(registered_at - started).count() << " ms, all online after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(online_at - started).count() << " ms\n";
  EXPECT_TRUE(all_online) << online << " of " << kAgents << " Online";
  EXPECT_LT(online_at - started, 60s);
  EXPECT_EQ(nodes.size(), static_cast<std::size_t>(kAgents));
  std::set<std::string> names;
  for (const auto& node : nodes) {
    names.insert(node.value("name", ""));
    EXPECT_EQ(node["tags"], (json{{"fleet", "swarm"}})) << node.dump();
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kAgents));
  EXPECT_TRUE(names.count("swarm-0") && names.count("swarm-" + std::to_string(kAgents - 1)));

  swarm.signal(SIGTERM);
  const auto status = swarm.wait_for(20s);
  EXPECT_EQ(status, std::optional<int>(0)) << swarm.stderr_text();
  EXPECT_TRUE(wait_until(
      [&] {
        const auto now = gw.api_nodes();
        return std::none_of(now.begin(), now.end(),
                            [](const json& node) { return node.value("ping_status", "") == "Online"; });
      },
      20s, 500ms));
  EXPECT_TRUE(gw.healthy());
}

}  // namespace
}  // namespace sallyport::e2e
