// End-to-end tests of the PostgreSQL store: two real gateways (each with its own data dir,
// CA and port) share one real PostgreSQL database, so what one gateway writes the other
// serves. Each gateway gets its own sandbox, hence its own CLI config dirs.
#include <gtest/gtest.h>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "harness.hpp"
#include "postgres_server.hpp"
#include "sallyport/crypto/crypto.hpp"

namespace sallyport::e2e {
namespace {

// Trust authentication ignores it; it is there to prove no gateway ever prints it.
constexpr char kDatabasePassword[] = "pg-Secret-0f-e2e";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool process_running(const std::string& pattern) {
  // "[s]leep 641" matches the process but not this shell, whose command line holds the brackets.
  const std::string command = "pgrep -f '[" + pattern.substr(0, 1) + "]" + pattern.substr(1) + "' >/dev/null";
  return std::system(command.c_str()) == 0;
}

std::string current_user() {
  const passwd* entry = ::getpwuid(::geteuid());
  return entry != nullptr ? entry->pw_name : "root";
}

// The ID of the live session whose command holds `part`, as `sessions ls --json` through
// `gateway` shows it; "" when there is none.
std::string live_session_id(TestGateway& gateway, const std::string& part) {
  const auto listed = gateway.cli({"sessions", "ls", "--json"});
  if (listed.exit_code != 0) return "";
  for (const auto& session : json::parse(listed.out).value("sessions", json::array())) {
    if (contains(session.value("command", ""), part)) return session.value("id", "");
  }
  return "";
}

class PostgresE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { crypto::initialize(); }

  void SetUp() override {
    if (!Binaries::have_cli()) GTEST_FAIL() << "the sallyport CLI is not built";
    postgres_ = std::make_unique<store::testing::PostgresServer>();
    postgres_->execute("CREATE DATABASE sallyport");
  }

  void TearDown() override {
    for (auto* gateway : {second_.get(), first_.get()}) {
      if (gateway) gateway->stop(SIGTERM, 5s);
    }
    if (HasFailure()) std::cerr << first_box_.tails() << second_box_.tails() << std::flush;
  }

  // The URI form, with a password as an operator might (wrongly) give it on the command line.
  std::string store_uri() const {
    return "postgresql://postgres:" + std::string(kDatabasePassword) + "@127.0.0.1:" +
           std::to_string(postgres_->port()) + "/sallyport?sslmode=disable";
  }

  TestGateway& start(Sandbox& box, std::unique_ptr<TestGateway>& slot) {
    GatewayOptions options;
    options.extra_args = {"--store", store_uri()};
    slot = std::make_unique<TestGateway>(box, options);
    slot->start();
    return *slot;
  }

  std::unique_ptr<store::testing::PostgresServer> postgres_;  // outlives both gateways
  Sandbox first_box_;
  Sandbox second_box_;
  std::unique_ptr<TestGateway> first_;
  std::unique_ptr<TestGateway> second_;
};

TEST_F(PostgresE2e, TwoGatewaysServeTheSameUsersAndActivations) {
  auto& a = start(first_box_, first_);
  auto& b = start(second_box_, second_);
  ASSERT_NE(a.fingerprint(), b.fingerprint()) << "each gateway keeps its own CA in its data dir";
  EXPECT_TRUE(contains(a.process().stdout_text(), "Created user admin")) << a.process().stdout_text();
  EXPECT_FALSE(contains(b.process().stdout_text(), "Created user admin")) << "B found A's admin";

  // Written through A with the CLI...
  const std::string alice_password = "alice-Pa55word";
  const auto created = a.cli({"users", "create", "alice"}, "admin", {{"SALLYPORT_NEW_PASSWORD", alice_password}});
  ASSERT_EQ(created.exit_code, 0) << created.describe();
  const auto activation = a.cli({"activations", "create", "--name", "shared-web", "--limit", "3"});
  ASSERT_EQ(activation.exit_code, 0) << activation.describe();

  // ... and served by B.
  const auto users = b.cli({"users", "ls"});
  EXPECT_EQ(users.exit_code, 0) << users.describe();
  EXPECT_TRUE(contains(users.out, "alice")) << users.describe();
  const auto activations = b.cli({"activations", "ls"});
  EXPECT_EQ(activations.exit_code, 0) << activations.describe();
  EXPECT_TRUE(contains(activations.out, "shared-web")) << activations.describe();
  const auto login = b.cli_login("alice", alice_password);
  EXPECT_EQ(login.exit_code, 0) << login.describe();

  // A deletion through B is seen by A.
  const auto deleted = b.cli({"users", "delete", "alice"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.describe();
  EXPECT_FALSE(contains(a.cli({"users", "ls"}).out, "alice"));

  for (const auto* box : {&first_box_, &second_box_}) {
    for (const auto& [label, file] : box->output_files()) {
      EXPECT_FALSE(contains(read_text(file), kDatabasePassword)) << label << " printed the store's password";
    }
  }
}

TEST_F(PostgresE2e, ASessionThroughTheOtherGatewayNamesTheGatewayThatHoldsTheAgent) {
  auto& a = start(first_box_, first_);
  auto& b = start(second_box_, second_);
  const TestAgent agent = add_agent(a, "web-1");
  ASSERT_TRUE(wait_for_status(a, "web-1", "Online", 30s)) << first_box_.tails();
  // B lists the node from the shared store...
  EXPECT_EQ(node_status(b, "web-1"), "Online");
  // ... but the agent's link is on A: B refuses with a message that says so.
  const auto through_b = b.cli({"start-session", "--target", "web-1", "--", "true"});
  EXPECT_EQ(through_b.exit_code, 11) << through_b.describe();
  EXPECT_TRUE(contains(through_b.err, "node " + agent.node_id + " (web-1) is connected to gateway ")) << through_b.describe();
  EXPECT_TRUE(contains(through_b.err, "not routed between gateways")) << through_b.describe();
  const auto forward = b.cli({"port-forward", "--target", "web-1", "--remote-port", "22"});
  EXPECT_NE(forward.exit_code, 0) << forward.describe();
  EXPECT_TRUE(contains(forward.err, "is connected to gateway ")) << forward.describe();
  EXPECT_EQ(node_status(a, "web-1"), "Online");
}

// A session lives on the gateway its node's agent is connected to; `sessions terminate` and
// `users delete` through another gateway reach it through the shared store.
TEST_F(PostgresE2e, ASessionOnOneGatewayEndsWhenTerminatedThroughTheOther) {
  auto& a = start(first_box_, first_);
  auto& b = start(second_box_, second_);
  add_agent(a, "web-1");
  ASSERT_TRUE(wait_for_status(a, "web-1", "Online", 30s)) << first_box_.tails();
  ASSERT_EQ(a.cli({"preferences", "set", "default_run_as", current_user()}).exit_code, 0);
  ASSERT_EQ(a.cli({"users", "create", "erin", "--policy", "SessionUser"}, "admin",
                  {{"SALLYPORT_NEW_PASSWORD", "erin-Pa55word"}}).exit_code, 0);
  ASSERT_EQ(a.cli_login("erin", "erin-Pa55word").exit_code, 0);
  const auto open = [&](const std::string& label, int nn, const std::string& user) -> Process& {
    auto& client = first_box_.spawn(label, {Binaries::cli(), "start-session", "--target", "web-1", "--",
                                            "exec sleep $((640 + " + std::to_string(nn) + "))"},
                                    {{"SALLYPORT_CONFIG_DIR", a.cli_config_dir(user).string()}});
    if (!wait_until([&] { return process_running("sleep " + std::to_string(640 + nn)); }, 15s)) {
      throw E2eError("sleep " + std::to_string(640 + nn) + " never ran: " + first_box_.tails());
    }
    return client;
  };
  auto& first = open("erin-1", 1, "erin");
  auto& second = open("erin-2", 2, "erin");
  const std::string first_id = live_session_id(b, "640 + 1");
  ASSERT_FALSE(first_id.empty()) << b.cli({"sessions", "ls", "--json"}).describe();

  // The admin, logged in to B, terminates a session A holds.
  const auto terminated = b.cli({"sessions", "terminate", first_id, "--reason", "incident 7"});
  EXPECT_EQ(terminated.exit_code, 0) << terminated.describe();
  EXPECT_EQ(terminated.out, "Terminated session " + first_id + " (Terminated)\n") << terminated.describe();
  EXPECT_EQ(first.wait_for(10s), 13) << first.stderr_text();
  EXPECT_TRUE(contains(first.stderr_text(), "terminated by admin: incident 7")) << first.stderr_text();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 641"); }, 10s)) << "the remote process outlived it";
  EXPECT_TRUE(second.running()) << second.stderr_text();
  const auto audit = a.cli({"audit", "ls", "--json", "--limit", "200"});
  EXPECT_TRUE(contains(audit.out, "requested from gateway ")) << audit.describe();
  EXPECT_TRUE(contains(audit.out, "as asked through another gateway; reason: incident 7")) << audit.describe();

  // Deleting erin through B ends her other session on A.
  const auto deleted = b.cli({"users", "delete", "erin"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.describe();
  EXPECT_EQ(deleted.out, "Deleted user erin; the gateway holding 1 live session was asked to end it\n")
      << deleted.describe();
  EXPECT_EQ(second.wait_for(10s), 13) << second.stderr_text();
  EXPECT_TRUE(contains(second.stderr_text(), "user erin was deleted")) << second.stderr_text();

  // While A cannot act (stopped), B's CLI says so after its wait; A ends the session once it runs again.
  auto& third = open("admin-3", 3, "admin");
  const std::string third_id = live_session_id(b, "640 + 3");
  ASSERT_FALSE(third_id.empty());
  a.process().signal(SIGSTOP);
  const auto waited = b.cli({"sessions", "terminate", third_id});
  a.process().signal(SIGCONT);
  EXPECT_EQ(waited.exit_code, 1) << waited.describe();
  EXPECT_TRUE(contains(waited.err, "was asked to end it, but it has not within 10 s")) << waited.describe();
  EXPECT_EQ(third.wait_for(10s), 13) << third.stderr_text();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 643"); }, 10s));
}

TEST_F(PostgresE2e, AnUnreachableStoreIsOneErrorLineAtStartUp) {
  const std::string unreachable =
      "host=127.0.0.1 port=" + std::to_string(free_port()) + " dbname=sallyport password=" + kDatabasePassword;
  const auto run = first_box_.run("gateway", {Binaries::gateway(), "--data-dir", first_box_.dir("gw").string(),
                                              "--listen", "127.0.0.1:0", "--store", unreachable});
  EXPECT_EQ(run.exit_code, 1) << run.describe();
  EXPECT_TRUE(contains(run.err, "sallyport-gateway: postgres: cannot connect to 127.0.0.1:")) << run.describe();
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.describe();
  EXPECT_FALSE(contains(run.err + run.out, kDatabasePassword)) << run.describe();
}

}  // namespace
}  // namespace sallyport::e2e
