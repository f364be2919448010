// End-to-end tests of the PostgreSQL store: two real gateways (each with its own data dir,
// CA and port) share one real PostgreSQL database, so what one gateway writes the other
// serves. Each gateway gets its own sandbox, hence its own CLI config dirs.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
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
