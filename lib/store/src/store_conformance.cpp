// The conformance tests. Times are arbitrary fixed instants so expiry is deterministic.
#include "store_conformance.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sallyport::store::conformance {
namespace {

constexpr Millis kNow = 1'700'000'000'000;
constexpr Millis kHour = 3'600'000;

User make_user(const std::string& name) {
  User user;
  user.name = name;
  user.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA-" + name;
  user.created_at = kNow;
  return user;
}

Activation make_activation(const std::string& id, Millis created_at = kNow) {
  Activation activation;
  activation.id = id;
  activation.name = "web";
  activation.code_hash = std::string(64, 'a');
  activation.registration_limit = 1;
  activation.expires_at = kNow + kHour;
  activation.created_at = created_at;
  activation.created_by = "admin";
  return activation;
}

Node make_node(const std::string& id, const std::string& name) {
  Node node;
  node.id = id;
  node.name = name;
  node.public_key = std::string(32, '\x42');
  node.activation_id = "act-1";
  node.registered_at = kNow;
  return node;
}

ApiToken make_token(const std::string& hash, const std::string& user, Millis expires_at) {
  ApiToken token;
  token.token_hash = hash;
  token.user = user;
  token.created_at = kNow;
  token.expires_at = expires_at;
  return token;
}

AuditEvent make_event(Millis time, const std::string& action) {
  AuditEvent event;
  event.time = time;
  event.actor = "alice";
  event.source = "127.0.0.1";
  event.action = action;
  event.target = "user/bob";
  event.outcome = "success";
  event.detail = "";
  return event;
}

// Tags that exercise JSON escaping and non-ASCII text.
Tags awkward_tags() {
  return {{"env", "prod"},
          {"quote\"key", "back\\slash"},
          {"empty", ""},
          {"unicode", "caf\xc3\xa9 \xe2\x9c\x93"},
          {"newline", "a\nb\tc"}};
}

void expect_same_user(const User& actual, const User& expected) {
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.password_hash, expected.password_hash);
  EXPECT_EQ(actual.tags, expected.tags);
  EXPECT_EQ(actual.is_admin, expected.is_admin);
  EXPECT_EQ(actual.created_at, expected.created_at);
}

void expect_same_activation(const Activation& actual, const Activation& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.code_hash, expected.code_hash);
  EXPECT_EQ(actual.tags, expected.tags);
  EXPECT_EQ(actual.registration_limit, expected.registration_limit);
  EXPECT_EQ(actual.registrations, expected.registrations);
  EXPECT_EQ(actual.expires_at, expected.expires_at);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.created_by, expected.created_by);
}

void expect_same_inventory(const Inventory& actual, const Inventory& expected) {
  EXPECT_EQ(actual.hostname, expected.hostname);
  EXPECT_EQ(actual.platform_name, expected.platform_name);
  EXPECT_EQ(actual.platform_version, expected.platform_version);
  EXPECT_EQ(actual.kernel, expected.kernel);
  EXPECT_EQ(actual.architecture, expected.architecture);
  EXPECT_EQ(actual.agent_version, expected.agent_version);
  EXPECT_EQ(actual.ip_addresses, expected.ip_addresses);
}

void expect_same_node(const Node& actual, const Node& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.public_key, expected.public_key);
  EXPECT_EQ(actual.activation_id, expected.activation_id);
  EXPECT_EQ(actual.tags, expected.tags);
  expect_same_inventory(actual.inventory, expected.inventory);
  EXPECT_EQ(actual.registered_at, expected.registered_at);
  EXPECT_EQ(actual.revoked, expected.revoked);
  EXPECT_EQ(actual.connected, expected.connected);
  EXPECT_EQ(actual.connected_gateway, expected.connected_gateway);
  EXPECT_EQ(actual.last_ping_at, expected.last_ping_at);
}

void expect_same_event(const AuditEvent& actual, const AuditEvent& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.time, expected.time);
  EXPECT_EQ(actual.actor, expected.actor);
  EXPECT_EQ(actual.source, expected.source);
  EXPECT_EQ(actual.action, expected.action);
  EXPECT_EQ(actual.target, expected.target);
  EXPECT_EQ(actual.outcome, expected.outcome);
  EXPECT_EQ(actual.detail, expected.detail);
}

std::vector<std::string> ids_of(const std::vector<Node>& nodes) {
  std::vector<std::string> ids;
  for (const auto& node : nodes) ids.push_back(node.id);
  return ids;
}

// ---- Users ------------------------------------------------------------------------------------

TEST_P(StoreConformance, UserRoundTripsEveryField) {
  User admin = make_user("alice");
  admin.tags = awkward_tags();
  admin.is_admin = true;
  admin.created_at = kNow + 17;
  User plain = make_user("bob");
  plain.is_admin = false;

  ASSERT_TRUE(store().create_user(admin));
  ASSERT_TRUE(store().create_user(plain));

  const auto got_admin = store().get_user("alice");
  ASSERT_TRUE(got_admin.has_value());
  expect_same_user(*got_admin, admin);
  const auto got_plain = store().get_user("bob");
  ASSERT_TRUE(got_plain.has_value());
  expect_same_user(*got_plain, plain);
  EXPECT_TRUE(got_plain->tags.empty());
}

TEST_P(StoreConformance, GetUserMissingIsEmpty) {
  EXPECT_FALSE(store().get_user("nobody").has_value());
  ASSERT_TRUE(store().create_user(make_user("alice")));
  EXPECT_FALSE(store().get_user("Alice").has_value());  // names are case-sensitive
}

TEST_P(StoreConformance, CreateUserRefusesDuplicateAndKeepsOriginal) {
  User original = make_user("alice");
  original.is_admin = true;
  ASSERT_TRUE(store().create_user(original));

  User impostor = make_user("alice");
  impostor.password_hash = "other";
  impostor.is_admin = false;
  EXPECT_FALSE(store().create_user(impostor));

  const auto got = store().get_user("alice");
  ASSERT_TRUE(got.has_value());
  expect_same_user(*got, original);
  EXPECT_EQ(store().list_users().size(), 1u);
}

TEST_P(StoreConformance, ListUsersOrderedByName) {
  EXPECT_TRUE(store().list_users().empty());
  for (const char* name : {"carol", "alice", "dave", "bob"}) {
    ASSERT_TRUE(store().create_user(make_user(name)));
  }
  std::vector<std::string> names;
  for (const auto& user : store().list_users()) names.push_back(user.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob", "carol", "dave"}));
}

TEST_P(StoreConformance, DeleteUserRemovesUserAndOnlyTheirTokens) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_user(make_user("bob")));
  store().create_token(make_token("hash-a1", "alice", kNow + kHour));
  store().create_token(make_token("hash-a2", "alice", kNow + kHour));
  store().create_token(make_token("hash-b1", "bob", kNow + kHour));

  EXPECT_TRUE(store().delete_user("alice"));
  EXPECT_FALSE(store().get_user("alice").has_value());
  EXPECT_FALSE(store().get_token("hash-a1").has_value());
  EXPECT_FALSE(store().get_token("hash-a2").has_value());
  EXPECT_TRUE(store().get_token("hash-b1").has_value());
  EXPECT_TRUE(store().get_user("bob").has_value());

  EXPECT_FALSE(store().delete_user("alice"));
  EXPECT_FALSE(store().delete_user("nobody"));
}

TEST_P(StoreConformance, RecreatedUserDoesNotInheritTokens) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  store().create_token(make_token("hash-old", "alice", kNow + kHour));
  ASSERT_TRUE(store().delete_user("alice"));
  ASSERT_TRUE(store().create_user(make_user("alice")));
  EXPECT_FALSE(store().get_token("hash-old").has_value());
}

TEST_P(StoreConformance, SetUserPassword) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  EXPECT_TRUE(store().set_user_password("alice", "$argon2id$new"));
  const auto got = store().get_user("alice");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->password_hash, "$argon2id$new");
  EXPECT_FALSE(store().set_user_password("nobody", "$argon2id$new"));
  EXPECT_FALSE(store().get_user("nobody").has_value());
}

TEST_P(StoreConformance, SetUserTagsReplacesAllTags) {
  User user = make_user("alice");
  user.tags = {{"team", "ops"}, {"old", "x"}};
  ASSERT_TRUE(store().create_user(user));

  EXPECT_TRUE(store().set_user_tags("alice", awkward_tags()));
  auto got = store().get_user("alice");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->tags, awkward_tags());

  EXPECT_TRUE(store().set_user_tags("alice", {}));
  got = store().get_user("alice");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->tags.empty());
  EXPECT_EQ(got->password_hash, user.password_hash);  // nothing else touched

  EXPECT_FALSE(store().set_user_tags("nobody", {{"a", "b"}}));
}

// ---- Activations ------------------------------------------------------------------------------

TEST_P(StoreConformance, ActivationRoundTripsEveryField) {
  Activation activation = make_activation("act-1");
  activation.name = "db servers";
  activation.code_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  activation.tags = awkward_tags();
  activation.registration_limit = 25;
  activation.registrations = 3;
  activation.expires_at = kNow + 7 * 24 * kHour;
  activation.created_at = kNow - 5;
  activation.created_by = "alice";
  ASSERT_TRUE(store().create_activation(activation));

  const auto got = store().get_activation("act-1");
  ASSERT_TRUE(got.has_value());
  expect_same_activation(*got, activation);
  EXPECT_FALSE(store().get_activation("act-2").has_value());
}

TEST_P(StoreConformance, CreateActivationRefusesDuplicateId) {
  ASSERT_TRUE(store().create_activation(make_activation("act-1")));
  Activation other = make_activation("act-1");
  other.name = "other";
  EXPECT_FALSE(store().create_activation(other));
  const auto got = store().get_activation("act-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name, "web");
}

TEST_P(StoreConformance, ListActivationsOrderedByCreatedAt) {
  EXPECT_TRUE(store().list_activations().empty());
  ASSERT_TRUE(store().create_activation(make_activation("act-b", kNow + 2)));
  ASSERT_TRUE(store().create_activation(make_activation("act-c", kNow + 1)));
  ASSERT_TRUE(store().create_activation(make_activation("act-a", kNow + 3)));
  std::vector<std::string> ids;
  for (const auto& activation : store().list_activations()) ids.push_back(activation.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"act-c", "act-b", "act-a"}));
}

TEST_P(StoreConformance, DeleteActivation) {
  ASSERT_TRUE(store().create_activation(make_activation("act-1")));
  ASSERT_TRUE(store().create_activation(make_activation("act-2")));
  EXPECT_TRUE(store().delete_activation("act-1"));
  EXPECT_FALSE(store().get_activation("act-1").has_value());
  EXPECT_TRUE(store().get_activation("act-2").has_value());
  EXPECT_FALSE(store().delete_activation("act-1"));
  EXPECT_EQ(store().consume_activation("act-1", kNow), ConsumeResult::kNotFound);
}

TEST_P(StoreConformance, ConsumeActivationCountsUpToTheLimit) {
  Activation activation = make_activation("act-1");
  activation.registration_limit = 2;
  ASSERT_TRUE(store().create_activation(activation));

  EXPECT_EQ(store().consume_activation("act-1", kNow), ConsumeResult::kConsumed);
  auto got = store().get_activation("act-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->registrations, 1);

  EXPECT_EQ(store().consume_activation("act-1", kNow), ConsumeResult::kConsumed);
  EXPECT_EQ(store().consume_activation("act-1", kNow), ConsumeResult::kExhausted);
  EXPECT_EQ(store().consume_activation("act-1", kNow), ConsumeResult::kExhausted);
  got = store().get_activation("act-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->registrations, 2);
}

TEST_P(StoreConformance, ConsumeActivationNotFound) {
  EXPECT_EQ(store().consume_activation("act-missing", kNow), ConsumeResult::kNotFound);
  ASSERT_TRUE(store().create_activation(make_activation("act-1")));
  EXPECT_EQ(store().consume_activation("act-missing", kNow), ConsumeResult::kNotFound);
}

TEST_P(StoreConformance, ConsumeActivationExpiredAtAndAfterExpiry) {
  Activation activation = make_activation("act-1");
  activation.registration_limit = 10;
  activation.expires_at = kNow;
  ASSERT_TRUE(store().create_activation(activation));

  EXPECT_EQ(store().consume_activation("act-1", kNow + 1), ConsumeResult::kExpired);
  EXPECT_EQ(store().consume_activation("act-1", kNow), ConsumeResult::kExpired);  // boundary
  EXPECT_EQ(store().consume_activation("act-1", kNow - 1), ConsumeResult::kConsumed);
  const auto got = store().get_activation("act-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->registrations, 1);  // expired attempts are not counted
}

TEST_P(StoreConformance, ConsumeActivationWithZeroLimitIsExhausted) {
  Activation activation = make_activation("act-1");
  activation.registration_limit = 0;
  ASSERT_TRUE(store().create_activation(activation));
  EXPECT_EQ(store().consume_activation("act-1", kNow), ConsumeResult::kExhausted);
}

TEST_P(StoreConformance, ConcurrentConsumptionNeverExceedsTheLimit) {
  constexpr int kLimit = 5;
  constexpr int kThreads = 8;
  constexpr int kAttemptsPerThread = 10;
  Activation activation = make_activation("act-1");
  activation.registration_limit = kLimit;
  ASSERT_TRUE(store().create_activation(activation));

  std::atomic<int> consumed{0};
  std::atomic<int> exhausted{0};
  std::atomic<int> other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kAttemptsPerThread; ++i) {
        switch (store().consume_activation("act-1", kNow)) {
          case ConsumeResult::kConsumed: ++consumed; break;
          case ConsumeResult::kExhausted: ++exhausted; break;
          default: ++other; break;
        }
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(consumed.load(), kLimit);
  EXPECT_EQ(exhausted.load(), kThreads * kAttemptsPerThread - kLimit);
  EXPECT_EQ(other.load(), 0);
  const auto got = store().get_activation("act-1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->registrations, kLimit);
}

// ---- Nodes ------------------------------------------------------------------------------------

TEST_P(StoreConformance, NodeRoundTripsEveryField) {
  Node node = make_node("mi-0123456789abcdef0", "web-1");
  // Raw key bytes, including NUL and high bytes.
  node.public_key = std::string("\x00\xff\x01\x80", 4) + std::string(28, '\x7f');
  node.activation_id = "act-9";
  node.tags = awkward_tags();
  node.inventory.hostname = "web-1.example.com";
  node.inventory.platform_name = "Debian GNU/Linux";
  node.inventory.platform_version = "12";
  node.inventory.kernel = "6.1.0-18-amd64";
  node.inventory.architecture = "x86_64";
  node.inventory.agent_version = "0.1.0";
  node.inventory.ip_addresses = {"10.0.0.5", "fe80::1%eth0", "192.168.1.20"};
  node.registered_at = kNow + 3;
  node.revoked = true;
  node.connected = true;
  node.connected_gateway = "gw-a";
  node.last_ping_at = kNow + 99;
  ASSERT_TRUE(store().create_node(node));

  const auto got = store().get_node(node.id);
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->public_key.size(), 32u);
  expect_same_node(*got, node);
}

TEST_P(StoreConformance, NodeDefaultsRoundTrip) {
  Node node = make_node("mi-00000000000000001", "bare");
  node.public_key.clear();
  node.activation_id.clear();
  ASSERT_TRUE(store().create_node(node));
  const auto got = store().get_node(node.id);
  ASSERT_TRUE(got.has_value());
  expect_same_node(*got, node);
  EXPECT_TRUE(got->inventory.ip_addresses.empty());
  EXPECT_FALSE(got->revoked);
  EXPECT_FALSE(got->connected);
}

TEST_P(StoreConformance, CreateNodeRefusesDuplicateId) {
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000001", "web")));
  EXPECT_FALSE(store().create_node(make_node("mi-00000000000000001", "db")));
  const auto got = store().get_node("mi-00000000000000001");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name, "web");
  EXPECT_FALSE(store().get_node("mi-00000000000000002").has_value());
}

TEST_P(StoreConformance, FindNodesByNameReturnsEveryNodeWithThatName) {
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000003", "web")));
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000001", "web")));
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000002", "db")));

  EXPECT_EQ(ids_of(store().find_nodes_by_name("web")),
            (std::vector<std::string>{"mi-00000000000000001", "mi-00000000000000003"}));
  EXPECT_EQ(ids_of(store().find_nodes_by_name("db")),
            (std::vector<std::string>{"mi-00000000000000002"}));
  EXPECT_TRUE(store().find_nodes_by_name("mail").empty());
  EXPECT_TRUE(store().find_nodes_by_name("WEB").empty());
}

TEST_P(StoreConformance, ListNodesOrderedByNameThenId) {
  EXPECT_TRUE(store().list_nodes().empty());
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000004", "web")));
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000002", "web")));
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000003", "db")));
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000001", "mail")));
  EXPECT_EQ(ids_of(store().list_nodes()),
            (std::vector<std::string>{"mi-00000000000000003", "mi-00000000000000001",
                                      "mi-00000000000000002", "mi-00000000000000004"}));
}

TEST_P(StoreConformance, SetNodeTags) {
  Node node = make_node("mi-00000000000000001", "web");
  node.tags = {{"env", "dev"}, {"old", "x"}};
  ASSERT_TRUE(store().create_node(node));
  EXPECT_TRUE(store().set_node_tags(node.id, awkward_tags()));
  auto got = store().get_node(node.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->tags, awkward_tags());
  EXPECT_TRUE(store().set_node_tags(node.id, {}));
  got = store().get_node(node.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->tags.empty());
  EXPECT_FALSE(store().set_node_tags("mi-missing", {{"a", "b"}}));
}

TEST_P(StoreConformance, SetNodeInventoryReplacesTheWholeInventory) {
  Node node = make_node("mi-00000000000000001", "web");
  node.inventory.hostname = "old";
  node.inventory.ip_addresses = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
  ASSERT_TRUE(store().create_node(node));

  Inventory fresh;
  fresh.hostname = "web-1";
  fresh.platform_name = "Ubuntu";
  fresh.platform_version = "24.04";
  fresh.kernel = "6.8.0";
  fresh.architecture = "aarch64";
  fresh.agent_version = "0.2.0";
  fresh.ip_addresses = {"2001:db8::7"};
  EXPECT_TRUE(store().set_node_inventory(node.id, fresh));
  auto got = store().get_node(node.id);
  ASSERT_TRUE(got.has_value());
  expect_same_inventory(got->inventory, fresh);
  EXPECT_EQ(got->name, "web");  // nothing else touched

  EXPECT_TRUE(store().set_node_inventory(node.id, Inventory{}));
  got = store().get_node(node.id);
  ASSERT_TRUE(got.has_value());
  expect_same_inventory(got->inventory, Inventory{});

  EXPECT_FALSE(store().set_node_inventory("mi-missing", fresh));
}

TEST_P(StoreConformance, RevokeNode) {
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000001", "web")));
  ASSERT_TRUE(store().create_node(make_node("mi-00000000000000002", "web")));
  EXPECT_TRUE(store().revoke_node("mi-00000000000000001"));
  auto got = store().get_node("mi-00000000000000001");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->revoked);
  got = store().get_node("mi-00000000000000002");
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->revoked);
  EXPECT_TRUE(store().revoke_node("mi-00000000000000001"));  // idempotent, still found
  EXPECT_FALSE(store().revoke_node("mi-missing"));
}

TEST_P(StoreConformance, NodeConnectionStateAndPing) {
  const std::string id = "mi-00000000000000001";
  ASSERT_TRUE(store().create_node(make_node(id, "web")));

  EXPECT_TRUE(store().set_node_connection(id, true, "gw-a", kNow + 10));
  auto got = store().get_node(id);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->connected);
  EXPECT_EQ(got->connected_gateway, "gw-a");
  EXPECT_EQ(got->last_ping_at, kNow + 10);

  EXPECT_TRUE(store().touch_node(id, kNow + 20));
  got = store().get_node(id);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->connected);
  EXPECT_EQ(got->connected_gateway, "gw-a");
  EXPECT_EQ(got->last_ping_at, kNow + 20);

  EXPECT_TRUE(store().set_node_connection(id, false, "gw-a", kNow + 30));
  got = store().get_node(id);
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->connected);
  EXPECT_EQ(got->connected_gateway, "");
  EXPECT_EQ(got->last_ping_at, kNow + 30);

  EXPECT_FALSE(store().set_node_connection("mi-missing", true, "gw-a", kNow));
  EXPECT_FALSE(store().touch_node("mi-missing", kNow));
}

TEST_P(StoreConformance, DisconnectGatewayNodesOnlyTouchesThatGateway) {
  const Millis ping = kNow + 5;
  for (const char* id : {"mi-00000000000000001", "mi-00000000000000002", "mi-00000000000000003",
                         "mi-00000000000000004"}) {
    ASSERT_TRUE(store().create_node(make_node(id, "web")));
  }
  ASSERT_TRUE(store().set_node_connection("mi-00000000000000001", true, "gw-a", ping));
  ASSERT_TRUE(store().set_node_connection("mi-00000000000000002", true, "gw-a", ping));
  ASSERT_TRUE(store().set_node_connection("mi-00000000000000003", true, "gw-b", ping));

  store().disconnect_gateway_nodes("gw-a");

  for (const char* id : {"mi-00000000000000001", "mi-00000000000000002"}) {
    const auto got = store().get_node(id);
    ASSERT_TRUE(got.has_value());
    EXPECT_FALSE(got->connected) << id;
    EXPECT_EQ(got->connected_gateway, "") << id;
    EXPECT_EQ(got->last_ping_at, ping) << id;  // last contact is still worth showing
  }
  auto other = store().get_node("mi-00000000000000003");
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE(other->connected);
  EXPECT_EQ(other->connected_gateway, "gw-b");
  other = store().get_node("mi-00000000000000004");
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->connected);

  store().disconnect_gateway_nodes("gw-unknown");  // no nodes: not an error
}

// ---- API tokens -------------------------------------------------------------------------------

TEST_P(StoreConformance, TokenRoundTripsEveryField) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ApiToken token = make_token(std::string(64, 'f'), "alice", kNow + kHour);
  token.created_at = kNow - 1;
  store().create_token(token);

  const auto got = store().get_token(token.token_hash);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->token_hash, token.token_hash);
  EXPECT_EQ(got->user, "alice");
  EXPECT_EQ(got->created_at, token.created_at);
  EXPECT_EQ(got->expires_at, token.expires_at);
  EXPECT_FALSE(store().get_token(std::string(64, 'e')).has_value());
}

TEST_P(StoreConformance, DeleteToken) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  store().create_token(make_token("hash-1", "alice", kNow + kHour));
  store().create_token(make_token("hash-2", "alice", kNow + kHour));
  EXPECT_TRUE(store().delete_token("hash-1"));
  EXPECT_FALSE(store().get_token("hash-1").has_value());
  EXPECT_TRUE(store().get_token("hash-2").has_value());
  EXPECT_FALSE(store().delete_token("hash-1"));
}

TEST_P(StoreConformance, DeleteUserTokensOnlyTouchesThatUser) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_user(make_user("bob")));
  store().create_token(make_token("hash-a1", "alice", kNow + kHour));
  store().create_token(make_token("hash-a2", "alice", kNow + kHour));
  store().create_token(make_token("hash-b1", "bob", kNow + kHour));

  store().delete_user_tokens("alice");
  EXPECT_FALSE(store().get_token("hash-a1").has_value());
  EXPECT_FALSE(store().get_token("hash-a2").has_value());
  EXPECT_TRUE(store().get_token("hash-b1").has_value());
  EXPECT_TRUE(store().get_user("alice").has_value());  // the user stays

  store().delete_user_tokens("nobody");  // not an error
}

TEST_P(StoreConformance, DeleteExpiredTokens) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  store().create_token(make_token("hash-past", "alice", kNow - 1));
  store().create_token(make_token("hash-now", "alice", kNow));  // expires at now: expired
  store().create_token(make_token("hash-future", "alice", kNow + 1));

  store().delete_expired_tokens(kNow);
  EXPECT_FALSE(store().get_token("hash-past").has_value());
  EXPECT_FALSE(store().get_token("hash-now").has_value());
  EXPECT_TRUE(store().get_token("hash-future").has_value());
}

// ---- Login failures ---------------------------------------------------------------------------

TEST_P(StoreConformance, LoginFailuresCountWithinTheWindowPerKey) {
  EXPECT_EQ(store().count_login_failures("user:alice", 0), 0);
  store().record_login_failure("user:alice", kNow - 2000);
  store().record_login_failure("user:alice", kNow - 1000);
  store().record_login_failure("user:alice", kNow);
  store().record_login_failure("user:alice", kNow);  // same instant counts twice
  store().record_login_failure("addr:127.0.0.1", kNow);

  EXPECT_EQ(store().count_login_failures("user:alice", 0), 4);
  EXPECT_EQ(store().count_login_failures("user:alice", kNow - 1000), 3);  // since is inclusive
  EXPECT_EQ(store().count_login_failures("user:alice", kNow - 999), 2);
  EXPECT_EQ(store().count_login_failures("user:alice", kNow + 1), 0);
  EXPECT_EQ(store().count_login_failures("addr:127.0.0.1", 0), 1);
  EXPECT_EQ(store().count_login_failures("user:bob", 0), 0);
}

TEST_P(StoreConformance, ClearLoginFailuresOnlyClearsThatKey) {
  store().record_login_failure("user:alice", kNow);
  store().record_login_failure("user:alice", kNow);
  store().record_login_failure("user:bob", kNow);
  store().clear_login_failures("user:alice");
  EXPECT_EQ(store().count_login_failures("user:alice", 0), 0);
  EXPECT_EQ(store().count_login_failures("user:bob", 0), 1);
  store().record_login_failure("user:alice", kNow);
  EXPECT_EQ(store().count_login_failures("user:alice", 0), 1);
  store().clear_login_failures("user:nobody");  // not an error
}

// ---- Audit log --------------------------------------------------------------------------------

TEST_P(StoreConformance, AuditRoundTripsEveryFieldWithIncreasingIds) {
  AuditEvent first = make_event(kNow, "auth:Login");
  first.actor = "anonymous";
  first.source = "[2001:db8::1]:443";
  first.target = "node/mi-00000000000000001";
  first.outcome = "failure";
  first.detail = "bad password for \"alice\"\nline two";
  AuditEvent second = make_event(kNow + 1, "activation:Create");
  second.outcome = "denied";

  first.id = store().append_audit(first);
  second.id = store().append_audit(second);
  EXPECT_GT(first.id, 0);
  EXPECT_GT(second.id, first.id);

  const auto events = store().list_audit(0, 100);
  ASSERT_EQ(events.size(), 2u);
  expect_same_event(events[0], first);
  expect_same_event(events[1], second);
}

TEST_P(StoreConformance, ListAuditIsOldestFirstWithSinceAndLimit) {
  EXPECT_TRUE(store().list_audit(0, 10).empty());
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(store().append_audit(make_event(kNow + i * 10, "a")));

  auto events = store().list_audit(0, 100);
  ASSERT_EQ(events.size(), 5u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].id, ids[i]);
    EXPECT_EQ(events[i].time, kNow + static_cast<Millis>(i) * 10);
  }

  events = store().list_audit(0, 2);  // limit keeps the oldest
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, ids[0]);
  EXPECT_EQ(events[1].id, ids[1]);

  events = store().list_audit(kNow + 20, 100);  // since is inclusive
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, ids[2]);
  EXPECT_EQ(events[2].id, ids[4]);

  events = store().list_audit(kNow + 15, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, ids[2]);

  EXPECT_TRUE(store().list_audit(kNow + 41, 100).empty());
  EXPECT_TRUE(store().list_audit(0, 0).empty());
}

TEST_P(StoreConformance, ListAuditOrdersByTimeEvenIfAppendedOutOfOrder) {
  const auto late = store().append_audit(make_event(kNow + 100, "late"));
  const auto early = store().append_audit(make_event(kNow, "early"));
  const auto events = store().list_audit(0, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, early);
  EXPECT_EQ(events[1].id, late);
}

TEST_P(StoreConformance, ConcurrentAuditAppendsGetDistinctIds) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<std::vector<std::int64_t>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ids[static_cast<std::size_t>(t)].push_back(
            store().append_audit(make_event(kNow, "t" + std::to_string(t))));
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::set<std::int64_t> unique;
  for (const auto& per_thread : ids) {
    for (std::size_t i = 1; i < per_thread.size(); ++i) EXPECT_GT(per_thread[i], per_thread[i - 1]);
    unique.insert(per_thread.begin(), per_thread.end());
  }
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(store().list_audit(0, 1000).size(), static_cast<std::size_t>(kThreads * kPerThread));
}


// ---- Policies ---------------------------------------------------------------------------------

PolicyRecord make_policy(const std::string& name, const std::string& document = "{\"v\":1}") {
  PolicyRecord policy;
  policy.name = name;
  policy.document = document;
  policy.created_at = kNow;
  policy.updated_at = kNow;
  return policy;
}

SessionRecord make_session(const std::string& id, Millis started_at,
                           const std::string& gateway_id = "gw-1") {
  SessionRecord session;
  session.id = id;
  session.owner = "alice";
  session.node_id = "mi-00000000000000001";
  session.run_as = "sallyport-user";
  session.kind = "shell";
  session.status = "Connected";
  session.gateway_id = gateway_id;
  session.started_at = started_at;
  return session;
}

std::vector<std::string> ids_of(const std::vector<SessionRecord>& sessions) {
  std::vector<std::string> ids;
  for (const auto& session : sessions) ids.push_back(session.id);
  return ids;
}

void expect_same_policy(const PolicyRecord& actual, const PolicyRecord& expected) {
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.document, expected.document);
  EXPECT_EQ(actual.builtin, expected.builtin);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.updated_at, expected.updated_at);
}

void expect_same_session(const SessionRecord& actual, const SessionRecord& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.owner, expected.owner);
  EXPECT_EQ(actual.node_id, expected.node_id);
  EXPECT_EQ(actual.run_as, expected.run_as);
  EXPECT_EQ(actual.kind, expected.kind);
  EXPECT_EQ(actual.command, expected.command);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.reason, expected.reason);
  EXPECT_EQ(actual.gateway_id, expected.gateway_id);
  EXPECT_EQ(actual.started_at, expected.started_at);
  EXPECT_EQ(actual.ended_at, expected.ended_at);
  EXPECT_EQ(actual.bytes_in, expected.bytes_in);
  EXPECT_EQ(actual.bytes_out, expected.bytes_out);
  EXPECT_EQ(actual.exit_code, expected.exit_code);
  EXPECT_EQ(actual.exit_signal, expected.exit_signal);
}

using Names = std::vector<std::string>;

TEST_P(StoreConformance, PolicyRoundTripsEveryField) {
  PolicyRecord policy = make_policy("AdministratorAccess",
                                    "{\n  \"Version\": \"2012-10-17\",\n  \"Id\": \"caf\xc3\xa9\"\n}");
  policy.builtin = true;
  policy.updated_at = kNow + 5;
  ASSERT_TRUE(store().create_policy(policy));
  const auto got = store().get_policy("AdministratorAccess");
  ASSERT_TRUE(got.has_value());
  expect_same_policy(*got, policy);
  EXPECT_FALSE(store().get_policy("administratoraccess").has_value());  // names are exact
  EXPECT_FALSE(store().get_policy("missing").has_value());
}

TEST_P(StoreConformance, CreatePolicyRefusesDuplicateAndKeepsOriginal) {
  ASSERT_TRUE(store().create_policy(make_policy("ops", "first")));
  EXPECT_FALSE(store().create_policy(make_policy("ops", "second")));
  EXPECT_EQ(store().get_policy("ops")->document, "first");
}

TEST_P(StoreConformance, UpdatePolicyChangesDocumentAndUpdatedAtOnly) {
  PolicyRecord policy = make_policy("ops", "first");
  ASSERT_TRUE(store().create_policy(policy));
  EXPECT_TRUE(store().update_policy("ops", "second", kNow + 10));
  policy.document = "second";
  policy.updated_at = kNow + 10;
  expect_same_policy(*store().get_policy("ops"), policy);
  EXPECT_FALSE(store().update_policy("missing", "x", kNow));
  EXPECT_FALSE(store().get_policy("missing").has_value());
}

TEST_P(StoreConformance, ListPoliciesOrderedByName) {
  EXPECT_TRUE(store().list_policies().empty());
  for (const char* name : {"b", "A", "a", "Z"}) ASSERT_TRUE(store().create_policy(make_policy(name)));
  Names names;
  for (const auto& policy : store().list_policies()) names.push_back(policy.name);
  EXPECT_EQ(names, (Names{"A", "Z", "a", "b"}));  // byte order
}

TEST_P(StoreConformance, DeletePolicyDetachesItEverywhere) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_group(Group{"ops", kNow}));
  ASSERT_TRUE(store().create_policy(make_policy("gone")));
  ASSERT_TRUE(store().create_policy(make_policy("kept")));
  for (const char* policy : {"gone", "kept"}) {
    ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kUser, "alice", policy));
    ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kGroup, "ops", policy));
  }
  EXPECT_TRUE(store().delete_policy("gone"));
  EXPECT_FALSE(store().delete_policy("gone"));
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kUser, "alice"), Names{"kept"});
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kGroup, "ops"), Names{"kept"});
  // A policy re-created under the old name starts unattached.
  ASSERT_TRUE(store().create_policy(make_policy("gone")));
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kUser, "alice"), Names{"kept"});
}

TEST_P(StoreConformance, AttachIsIdempotentAndNeedsBothSides) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_group(Group{"ops", kNow}));
  ASSERT_TRUE(store().create_policy(make_policy("p")));

  EXPECT_TRUE(store().attach_policy(PolicyPrincipal::kUser, "alice", "p"));
  EXPECT_TRUE(store().attach_policy(PolicyPrincipal::kUser, "alice", "p"));  // again: still true
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kUser, "alice"), Names{"p"});

  EXPECT_FALSE(store().attach_policy(PolicyPrincipal::kUser, "nobody", "p"));
  EXPECT_FALSE(store().attach_policy(PolicyPrincipal::kUser, "alice", "missing"));
  EXPECT_FALSE(store().attach_policy(PolicyPrincipal::kGroup, "nogroup", "p"));
  // Kinds are separate namespaces: a user is not a group of the same name.
  EXPECT_FALSE(store().attach_policy(PolicyPrincipal::kGroup, "alice", "p"));
  EXPECT_FALSE(store().attach_policy(PolicyPrincipal::kUser, "ops", "p"));
  EXPECT_TRUE(store().list_attached_policies(PolicyPrincipal::kGroup, "alice").empty());
  EXPECT_TRUE(store().list_attached_policies(PolicyPrincipal::kUser, "nobody").empty());

  EXPECT_TRUE(store().attach_policy(PolicyPrincipal::kGroup, "ops", "p"));
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kGroup, "ops"), Names{"p"});
}

TEST_P(StoreConformance, DetachReportsWhetherItWasAttached) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_group(Group{"alice", kNow}));  // same name, other kind
  ASSERT_TRUE(store().create_policy(make_policy("p")));
  ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kUser, "alice", "p"));
  ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kGroup, "alice", "p"));
  EXPECT_TRUE(store().detach_policy(PolicyPrincipal::kUser, "alice", "p"));
  EXPECT_FALSE(store().detach_policy(PolicyPrincipal::kUser, "alice", "p"));
  EXPECT_FALSE(store().detach_policy(PolicyPrincipal::kUser, "alice", "missing"));
  EXPECT_TRUE(store().list_attached_policies(PolicyPrincipal::kUser, "alice").empty());
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kGroup, "alice"), Names{"p"});
  EXPECT_TRUE(store().get_policy("p").has_value());  // detaching keeps the policy
}

TEST_P(StoreConformance, AttachedPoliciesOrderedByName) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  for (const char* name : {"c", "B", "a"}) {
    ASSERT_TRUE(store().create_policy(make_policy(name)));
    ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kUser, "alice", name));
  }
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kUser, "alice"), (Names{"B", "a", "c"}));
}

TEST_P(StoreConformance, DeletingAUserRemovesItsAttachmentsAndMemberships) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_user(make_user("bob")));
  ASSERT_TRUE(store().create_group(Group{"ops", kNow}));
  ASSERT_TRUE(store().create_policy(make_policy("p")));
  ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kUser, "alice", "p"));
  ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kUser, "bob", "p"));
  ASSERT_TRUE(store().add_group_member("ops", "alice"));
  ASSERT_TRUE(store().add_group_member("ops", "bob"));

  ASSERT_TRUE(store().delete_user("alice"));
  EXPECT_EQ(store().list_group_members("ops"), Names{"bob"});
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kUser, "bob"), Names{"p"});

  // Re-created under the same name, the user inherits nothing.
  ASSERT_TRUE(store().create_user(make_user("alice")));
  EXPECT_TRUE(store().list_attached_policies(PolicyPrincipal::kUser, "alice").empty());
  EXPECT_TRUE(store().list_user_groups("alice").empty());
  EXPECT_TRUE(store().get_policy("p").has_value());
}

// ---- Groups -----------------------------------------------------------------------------------

TEST_P(StoreConformance, GroupsCreateListDelete) {
  EXPECT_TRUE(store().list_groups().empty());
  ASSERT_TRUE(store().create_group(Group{"ops", kNow}));
  ASSERT_TRUE(store().create_group(Group{"Dev", kNow + 1}));
  ASSERT_TRUE(store().create_group(Group{"dba", kNow + 2}));
  EXPECT_FALSE(store().create_group(Group{"ops", kNow + 3}));
  const auto groups = store().list_groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].name, "Dev");
  EXPECT_EQ(groups[0].created_at, kNow + 1);
  EXPECT_EQ(groups[1].name, "dba");
  EXPECT_EQ(groups[2].name, "ops");
  EXPECT_EQ(groups[2].created_at, kNow);  // the duplicate changed nothing
  EXPECT_TRUE(store().delete_group("dba"));
  EXPECT_FALSE(store().delete_group("dba"));
  EXPECT_EQ(store().list_groups().size(), 2u);
}

TEST_P(StoreConformance, GroupMembershipIsIdempotentAndNeedsBothSides) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_user(make_user("bob")));
  ASSERT_TRUE(store().create_group(Group{"ops", kNow}));
  ASSERT_TRUE(store().create_group(Group{"dev", kNow}));

  EXPECT_TRUE(store().add_group_member("ops", "bob"));
  EXPECT_TRUE(store().add_group_member("ops", "alice"));
  EXPECT_TRUE(store().add_group_member("ops", "alice"));  // already a member: still true
  EXPECT_TRUE(store().add_group_member("dev", "alice"));
  EXPECT_FALSE(store().add_group_member("ops", "nobody"));
  EXPECT_FALSE(store().add_group_member("nogroup", "alice"));

  EXPECT_EQ(store().list_group_members("ops"), (Names{"alice", "bob"}));
  EXPECT_EQ(store().list_user_groups("alice"), (Names{"dev", "ops"}));
  EXPECT_TRUE(store().list_group_members("nogroup").empty());
  EXPECT_TRUE(store().list_user_groups("nobody").empty());

  EXPECT_TRUE(store().remove_group_member("ops", "alice"));
  EXPECT_FALSE(store().remove_group_member("ops", "alice"));
  EXPECT_FALSE(store().remove_group_member("nogroup", "alice"));
  EXPECT_EQ(store().list_group_members("ops"), Names{"bob"});
  EXPECT_EQ(store().list_user_groups("alice"), Names{"dev"});
  EXPECT_TRUE(store().get_user("alice").has_value());  // leaving a group keeps the user
}

TEST_P(StoreConformance, DeletingAGroupRemovesItsMembershipsAndAttachments) {
  ASSERT_TRUE(store().create_user(make_user("alice")));
  ASSERT_TRUE(store().create_group(Group{"ops", kNow}));
  ASSERT_TRUE(store().create_group(Group{"dev", kNow}));
  ASSERT_TRUE(store().create_policy(make_policy("p")));
  ASSERT_TRUE(store().add_group_member("ops", "alice"));
  ASSERT_TRUE(store().add_group_member("dev", "alice"));
  ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kGroup, "ops", "p"));
  ASSERT_TRUE(store().attach_policy(PolicyPrincipal::kGroup, "dev", "p"));

  ASSERT_TRUE(store().delete_group("ops"));
  EXPECT_EQ(store().list_user_groups("alice"), Names{"dev"});
  EXPECT_EQ(store().list_attached_policies(PolicyPrincipal::kGroup, "dev"), Names{"p"});
  EXPECT_TRUE(store().get_user("alice").has_value());
  EXPECT_TRUE(store().get_policy("p").has_value());

  // Re-created, the group starts empty and unattached.
  ASSERT_TRUE(store().create_group(Group{"ops", kNow + 1}));
  EXPECT_TRUE(store().list_group_members("ops").empty());
  EXPECT_TRUE(store().list_attached_policies(PolicyPrincipal::kGroup, "ops").empty());
}

// ---- Sessions ---------------------------------------------------------------------------------

TEST_P(StoreConformance, SessionRoundTripsEveryField) {
  SessionRecord session = make_session("alice-0123456789abcdef0", kNow);
  session.kind = "command";
  session.command = "uptime; echo \"caf\xc3\xa9\"\n";
  session.bytes_in = 12;
  session.bytes_out = 3'000'000'000'000;  // past 32 bits
  ASSERT_TRUE(store().create_session(session));
  EXPECT_FALSE(store().create_session(make_session("alice-0123456789abcdef0", kNow + 1)));
  const auto got = store().get_session(session.id);
  ASSERT_TRUE(got.has_value());
  expect_same_session(*got, session);
  EXPECT_FALSE(got->exit_code.has_value());
  EXPECT_FALSE(got->exit_signal.has_value());
  EXPECT_FALSE(store().get_session("missing").has_value());
}

TEST_P(StoreConformance, EndSessionSetsTheOutcomeOnlyOnce) {
  ASSERT_TRUE(store().create_session(make_session("s1", kNow)));
  SessionRecord ended = make_session("s1", kNow);
  ended.status = "Terminated";
  ended.reason = "exited";
  ended.ended_at = kNow + 5000;
  ended.bytes_in = 10;
  ended.bytes_out = 20;
  ended.exit_code = 0;
  EXPECT_TRUE(store().end_session(ended));
  expect_same_session(*store().get_session("s1"), ended);

  SessionRecord again = ended;
  again.status = "Failed";
  again.reason = "terminated by admin";
  again.ended_at = kNow + 9000;
  again.exit_code.reset();
  again.exit_signal = 9;
  EXPECT_FALSE(store().end_session(again));
  expect_same_session(*store().get_session("s1"), ended);  // the first ending stands

  EXPECT_FALSE(store().end_session(make_session("missing", kNow)));
}

TEST_P(StoreConformance, EndSessionKeepsASignalAndNoExitCode) {
  ASSERT_TRUE(store().create_session(make_session("s1", kNow)));
  SessionRecord ended = make_session("s1", kNow);
  ended.status = "Terminated";
  ended.reason = "terminated by admin";
  ended.ended_at = kNow + 1;
  ended.exit_signal = 15;
  ASSERT_TRUE(store().end_session(ended));
  const auto got = store().get_session("s1");
  EXPECT_FALSE(got->exit_code.has_value());
  EXPECT_EQ(got->exit_signal, 15);
}

TEST_P(StoreConformance, AddSessionBytesAccumulatesWhileActive) {
  ASSERT_TRUE(store().create_session(make_session("s1", kNow)));
  EXPECT_TRUE(store().add_session_bytes("s1", 5, 100));
  EXPECT_TRUE(store().add_session_bytes("s1", 1, 4'000'000'000));
  auto got = store().get_session("s1");
  EXPECT_EQ(got->bytes_in, 6);
  EXPECT_EQ(got->bytes_out, 4'000'000'100);
  EXPECT_FALSE(store().add_session_bytes("missing", 1, 1));

  SessionRecord ended = *got;
  ended.status = "Terminated";
  ended.ended_at = kNow + 1;
  ASSERT_TRUE(store().end_session(ended));
  EXPECT_FALSE(store().add_session_bytes("s1", 1, 1));  // final counts are final
  got = store().get_session("s1");
  EXPECT_EQ(got->bytes_in, 6);
  EXPECT_EQ(got->bytes_out, 4'000'000'100);
}

TEST_P(StoreConformance, ListSessionsActiveAndHistoryNewestFirstWithLimit) {
  EXPECT_TRUE(store().list_sessions(true, 10).empty());
  EXPECT_TRUE(store().list_sessions(false, 10).empty());
  // Created out of order; two share a start time (then the id decides, descending).
  for (const auto& [id, start] : std::vector<std::pair<std::string, Millis>>{
           {"a", kNow + 20}, {"b", kNow}, {"c", kNow + 40}, {"d", kNow + 10}, {"e", kNow + 30},
           {"f", kNow + 30}}) {
    ASSERT_TRUE(store().create_session(make_session(id, start)));
  }
  for (const char* id : {"b", "e", "c"}) {
    SessionRecord ended = *store().get_session(id);
    ended.status = "Terminated";
    ended.ended_at = kNow + 100;
    ASSERT_TRUE(store().end_session(ended));
  }
  EXPECT_EQ(ids_of(store().list_sessions(true, 10)), (Names{"f", "a", "d"}));
  EXPECT_EQ(ids_of(store().list_sessions(false, 10)), (Names{"c", "e", "b"}));
  EXPECT_EQ(ids_of(store().list_sessions(true, 2)), (Names{"f", "a"}));
  EXPECT_EQ(ids_of(store().list_sessions(false, 1)), Names{"c"});
  EXPECT_TRUE(store().list_sessions(true, 0).empty());
  EXPECT_TRUE(store().list_sessions(false, -1).empty());
}

TEST_P(StoreConformance, FailGatewaySessionsOnlyTouchesThatGatewaysActiveSessions) {
  ASSERT_TRUE(store().create_session(make_session("mine-1", kNow, "gw-1")));
  ASSERT_TRUE(store().create_session(make_session("mine-2", kNow + 1, "gw-1")));
  ASSERT_TRUE(store().create_session(make_session("other", kNow + 2, "gw-2")));
  ASSERT_TRUE(store().create_session(make_session("mine-ended", kNow + 3, "gw-1")));
  SessionRecord ended = *store().get_session("mine-ended");
  ended.status = "Terminated";
  ended.reason = "exited";
  ended.ended_at = kNow + 50;
  ended.exit_code = 0;
  ASSERT_TRUE(store().end_session(ended));

  store().fail_gateway_sessions("gw-1", kNow + 1000);
  for (const char* id : {"mine-1", "mine-2"}) {
    const auto got = store().get_session(id);
    EXPECT_EQ(got->status, "Failed") << id;
    EXPECT_EQ(got->reason, "gateway restarted") << id;
    EXPECT_EQ(got->ended_at, kNow + 1000) << id;
  }
  const auto other = store().get_session("other");
  EXPECT_EQ(other->status, "Connected");
  EXPECT_EQ(other->ended_at, 0);
  expect_same_session(*store().get_session("mine-ended"), ended);
  EXPECT_EQ(ids_of(store().list_sessions(true, 10)), Names{"other"});
  store().fail_gateway_sessions("gw-unknown", kNow);  // not an error
}

TEST_P(StoreConformance, FailingAGatewaysSessionsSparesTheOnesItTakesBack) {
  for (const char* id : {"kept-1", "lost", "kept-2", "o'quote"}) {
    ASSERT_TRUE(store().create_session(make_session(id, kNow, "gw-1")));
  }
  store().fail_gateway_sessions("gw-1", kNow + 1000, {"kept-1", "kept-2", "not-there"});
  for (const char* id : {"kept-1", "kept-2"}) {
    EXPECT_EQ(store().get_session(id)->status, "Connected") << id;
    EXPECT_EQ(store().get_session(id)->ended_at, 0) << id;
  }
  for (const char* id : {"lost", "o'quote"}) EXPECT_EQ(store().get_session(id)->status, "Failed") << id;
  store().fail_gateway_sessions("gw-1", kNow + 2000, {"kept-2"});
  EXPECT_EQ(store().get_session("kept-1")->status, "Failed");
  EXPECT_EQ(store().get_session("kept-2")->status, "Connected");
}

std::vector<std::string> requested_ids(const std::vector<TerminationRequest>& requests) {
  std::vector<std::string> ids;
  for (const auto& request : requests) ids.push_back(request.session_id);
  return ids;
}

TEST_P(StoreConformance, TerminationRequestsReachOnlyTheHoldingGatewayWhileTheSessionLives) {
  ASSERT_TRUE(store().create_session(make_session("late", kNow + 5, "gw-1")));
  ASSERT_TRUE(store().create_session(make_session("early", kNow, "gw-1")));
  ASSERT_TRUE(store().create_session(make_session("unasked", kNow + 1, "gw-1")));
  ASSERT_TRUE(store().create_session(make_session("elsewhere", kNow + 2, "gw-2")));
  EXPECT_TRUE(store().list_termination_requests("gw-1").empty());

  EXPECT_TRUE(store().request_termination({"late", "bob", ""}));
  EXPECT_TRUE(store().request_termination({"early", "carol", "first"}));
  EXPECT_TRUE(store().request_termination({"elsewhere", "dave", "caf\xc3\xa9 \"quoted\""}));
  EXPECT_TRUE(store().request_termination({"early", "admin", "second"}));  // replaces carol's
  EXPECT_FALSE(store().request_termination({"missing", "admin", ""}));

  const auto mine = store().list_termination_requests("gw-1");
  ASSERT_EQ(requested_ids(mine), (Names{"early", "late"}));  // oldest session first
  EXPECT_EQ(mine[0].requested_by, "admin");
  EXPECT_EQ(mine[0].reason, "second");
  EXPECT_EQ(mine[1].requested_by, "bob");
  EXPECT_EQ(mine[1].reason, "");
  const auto theirs = store().list_termination_requests("gw-2");
  ASSERT_EQ(requested_ids(theirs), Names{"elsewhere"});
  EXPECT_EQ(theirs[0].reason, "caf\xc3\xa9 \"quoted\"");
  EXPECT_TRUE(store().list_termination_requests("gw-unknown").empty());

  // An ended session has no request left to act on, and cannot be asked again.
  SessionRecord ended = *store().get_session("early");
  ended.status = "Terminated";
  ended.reason = "terminated by admin";
  ended.ended_at = kNow + 100;
  ASSERT_TRUE(store().end_session(ended));
  EXPECT_EQ(requested_ids(store().list_termination_requests("gw-1")), Names{"late"});
  EXPECT_FALSE(store().request_termination({"early", "admin", ""}));
  store().fail_gateway_sessions("gw-1", kNow + 200);
  EXPECT_TRUE(store().list_termination_requests("gw-1").empty());
  expect_same_session(*store().get_session("early"), ended);  // a request changes no session field
}

// ---- Preferences ------------------------------------------------------------------------------

TEST_P(StoreConformance, PreferencesRoundTripAndOverwrite) {
  EXPECT_FALSE(store().get_preference("idle_timeout_minutes").has_value());
  EXPECT_TRUE(store().list_preferences().empty());
  store().set_preference("idle_timeout_minutes", "20");
  store().set_preference("shell_profile", "export A=\"b\"\nalias ll='ls -l'\n");
  store().set_preference("default_run_as", "");
  store().set_preference("idle_timeout_minutes", "5");
  EXPECT_EQ(store().get_preference("idle_timeout_minutes"), "5");
  EXPECT_EQ(store().get_preference("shell_profile"), "export A=\"b\"\nalias ll='ls -l'\n");
  EXPECT_EQ(store().get_preference("default_run_as"), "");  // empty is a value, not absence
  const auto all = store().list_preferences();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"default_run_as", ""},
      {"idle_timeout_minutes", "5"},
      {"shell_profile", "export A=\"b\"\nalias ll='ls -l'\n"}};
  EXPECT_EQ(all, expected);
}

}  // namespace

// A test binary that compiles this file but instantiates no backend is not an error.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformance);

}  // namespace sallyport::store::conformance
