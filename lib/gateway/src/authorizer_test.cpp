// The Authorizer against a real SQLite store: where policies come from, what context it adds,
// how its parse cache follows edits, and seeding of the built-ins.
#include "authorizer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace sallyport;
using namespace sallyport::gateway;

namespace {

constexpr store::Millis kNow = 1'800'000'000'000;

std::string allow(const std::string& action, const std::string& resource = "*", const std::string& condition = "") {
  return R"({"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Action":")" + action +
         R"(","Resource":")" + resource + "\"" + (condition.empty() ? "" : ",\"Condition\":" + condition) + "}]}";
}

std::string deny(const std::string& action) {
  return R"({"Version":"2012-10-17","Statement":[{"Sid":"D","Effect":"Deny","Action":")" + action +
         R"(","Resource":"*"}]})";
}

class AuthorizerTest : public ::testing::Test {
 protected:
  AuthorizerTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("sp-authz-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    std::filesystem::create_directories(dir_);
    store_ = store::open_sqlite((dir_ / "state.db").string());
    authorizer_ = std::make_unique<Authorizer>(*store_);
  }
  ~AuthorizerTest() override { std::filesystem::remove_all(dir_); }

  store::User add_user(const std::string& name, store::Tags tags = {}) {
    store::User user{name, "hash", std::move(tags), false, kNow};
    EXPECT_TRUE(store_->create_user(user));
    return user;
  }
  void add_policy(const std::string& name, const std::string& document) {
    ASSERT_TRUE(store_->create_policy({name, document, false, kNow, kNow}));
  }
  bool allowed(const store::User& user, const std::string& action, const std::string& resource,
               const RequestContext& extra = {}) {
    return Authorizer::allowed(authorizer_->decide(user, action, resource, extra));
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Authorizer> authorizer_;
};

}  // namespace

TEST_F(AuthorizerTest, NoPoliciesMeansDefaultDeny) {
  const auto alice = add_user("alice");
  const auto decision = authorizer_->decide(alice, "node:List", "node/*");
  EXPECT_EQ(decision.effect, policy::Decision::Effect::kDefaultDeny);
}

TEST_F(AuthorizerTest, UnionOfUserAndGroupPoliciesWithDenyWinning) {
  const auto alice = add_user("alice");
  add_policy("ListNodes", allow("node:List"));
  add_policy("ReadNodes", allow("node:Read"));
  add_policy("NoRead", deny("node:Read"));
  ASSERT_TRUE(store_->create_group({"ops", kNow}));
  ASSERT_TRUE(store_->create_group({"dev", kNow}));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "alice", "ListNodes"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kGroup, "ops", "ReadNodes"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kGroup, "dev", "NoRead"));

  EXPECT_TRUE(allowed(alice, "node:List", "node/x"));
  EXPECT_FALSE(allowed(alice, "node:Read", "node/x"));
  ASSERT_TRUE(store_->add_group_member("ops", "alice"));
  EXPECT_TRUE(allowed(alice, "node:Read", "node/x"));
  ASSERT_TRUE(store_->add_group_member("dev", "alice"));
  const auto decision = authorizer_->decide(alice, "node:Read", "node/x");
  EXPECT_EQ(decision.effect, policy::Decision::Effect::kExplicitDeny);
  EXPECT_EQ(decision.policy_name, "NoRead");

  const auto principal = authorizer_->principal(alice);
  EXPECT_EQ(principal.groups, (std::vector<std::string>{"dev", "ops"}));
  ASSERT_EQ(principal.policies.size(), 3u);
  EXPECT_EQ(principal.policies[0].name, "ListNodes");  // the user's own come first
}

TEST_F(AuthorizerTest, PolicyAttachedTwiceIsCountedOnce) {
  const auto alice = add_user("alice");
  add_policy("ListNodes", allow("node:List"));
  ASSERT_TRUE(store_->create_group({"ops", kNow}));
  ASSERT_TRUE(store_->add_group_member("ops", "alice"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "alice", "ListNodes"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kGroup, "ops", "ListNodes"));
  EXPECT_EQ(authorizer_->principal(alice).policies.size(), 1u);
}

TEST_F(AuthorizerTest, AddsUserNameAndTagsToTheContext) {
  const auto alice = add_user("alice", {{"Team", "core"}});
  add_policy("Own", allow("session:Read", "session/*", R"({"StringEquals":{"session:owner":"${user:name}"}})"));
  add_policy("Team", allow("node:Read", "node/*", R"({"StringEquals":{"node:tag/team":"${user:tag/team}"}})"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "alice", "Own"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "alice", "Team"));

  EXPECT_TRUE(allowed(alice, "session:Read", "session/1", {{"session:owner", {"alice"}}}));
  EXPECT_FALSE(allowed(alice, "session:Read", "session/1", {{"session:owner", {"bob"}}}));
  // A caller cannot speak for the user, whatever the key's case.
  EXPECT_FALSE(allowed(alice, "session:Read", "session/1", {{"session:owner", {"bob"}}, {"user:name", {"bob"}}}));
  EXPECT_FALSE(allowed(alice, "session:Read", "session/1", {{"session:owner", {"bob"}}, {"User:Name", {"bob"}}}));

  store::Node node;
  node.id = "mi-1";
  node.tags = {{"team", "core"}};
  RequestContext extra;
  add_node_context(extra, node);
  EXPECT_EQ(extra.at("node:id"), std::vector<std::string>{"mi-1"});
  EXPECT_TRUE(allowed(alice, "node:Read", "node/mi-1", extra));
  node.tags = {{"team", "web"}};
  extra.clear();
  add_node_context(extra, node);
  EXPECT_FALSE(allowed(alice, "node:Read", "node/mi-1", extra));
}

TEST_F(AuthorizerTest, SessionContextNamesOwnerRunAsAndNode) {
  store::SessionRecord session;
  session.owner = "alice";
  session.run_as = "deploy";
  session.node_id = "mi-2";
  RequestContext extra;
  add_session_context(extra, session);
  EXPECT_EQ(extra.at("session:owner"), std::vector<std::string>{"alice"});
  EXPECT_EQ(extra.at("session:runas"), std::vector<std::string>{"deploy"});
  EXPECT_EQ(extra.at("node:id"), std::vector<std::string>{"mi-2"});

  const auto bob = add_user("bob");
  add_policy("RunAsDeploy", allow("session:Start", "node/*", R"({"StringEquals":{"session:runAs":"deploy"}})"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "bob", "RunAsDeploy"));
  EXPECT_TRUE(allowed(bob, "session:Start", "node/mi-2", extra));
  extra["session:runas"] = {"root"};
  EXPECT_FALSE(allowed(bob, "session:Start", "node/mi-2", extra));
}

TEST_F(AuthorizerTest, EditsApplyToTheNextDecisionEvenWithinOneMillisecond) {
  const auto alice = add_user("alice");
  add_policy("Flip", allow("node:List"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "alice", "Flip"));
  EXPECT_TRUE(allowed(alice, "node:List", "node/*"));
  ASSERT_TRUE(store_->update_policy("Flip", deny("node:List"), kNow));  // same updated_at
  EXPECT_FALSE(allowed(alice, "node:List", "node/*"));
  ASSERT_TRUE(store_->update_policy("Flip", allow("node:List"), kNow + 1));
  EXPECT_TRUE(allowed(alice, "node:List", "node/*"));
  ASSERT_TRUE(store_->detach_policy(store::PolicyPrincipal::kUser, "alice", "Flip"));
  EXPECT_FALSE(allowed(alice, "node:List", "node/*"));
}

TEST_F(AuthorizerTest, AnUnreadableStoredPolicyDeniesEverything) {
  const auto alice = add_user("alice");
  add_policy("All", allow("*"));
  add_policy("Garbage", "{\"Version\": \"2012-10-17\", \"Statement\": [");
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "alice", "All"));
  EXPECT_TRUE(allowed(alice, "node:List", "node/*"));
  ASSERT_TRUE(store_->attach_policy(store::PolicyPrincipal::kUser, "alice", "Garbage"));
  const auto decision = authorizer_->decide(alice, "node:List", "node/*");
  EXPECT_EQ(decision.effect, policy::Decision::Effect::kExplicitDeny);
  EXPECT_EQ(decision.policy_name, "Garbage");
  EXPECT_EQ(decision.sid, "StoredPolicyUnreadable");
}

TEST_F(AuthorizerTest, SeedingCreatesBuiltinsOnceAndCarriesAdminsOver) {
  store::User old_admin{"root", "hash", {}, true, kNow};
  ASSERT_TRUE(store_->create_user(old_admin));
  add_user("alice");
  const auto created = seed_builtin_policies(*store_, kNow);
  EXPECT_EQ(created, (std::vector<std::string>{"AdministratorAccess", "ReadOnly", "SessionUser"}));
  for (const auto& [name, text] : policy::builtin_policies()) {
    const auto record = store_->get_policy(name);
    ASSERT_TRUE(record.has_value()) << name;
    EXPECT_TRUE(record->builtin);
    EXPECT_EQ(record->document, text);
  }
  // A pre-policy administrator keeps administering; others get nothing implicitly.
  EXPECT_EQ(store_->list_attached_policies(store::PolicyPrincipal::kUser, "root"),
            std::vector<std::string>{"AdministratorAccess"});
  EXPECT_TRUE(store_->list_attached_policies(store::PolicyPrincipal::kUser, "alice").empty());
  EXPECT_TRUE(allowed(old_admin, "user:Delete", "user/alice"));

  // Later starts change nothing, and a flagged user created since gains nothing.
  ASSERT_TRUE(store_->create_user({"flagged", "hash", {}, true, kNow}));
  EXPECT_TRUE(seed_builtin_policies(*store_, kNow + 1).empty());
  EXPECT_TRUE(store_->list_attached_policies(store::PolicyPrincipal::kUser, "flagged").empty());

  // A built-in that differs from this release's text (an older release's) is refreshed.
  ASSERT_TRUE(store_->update_policy("ReadOnly", deny("*"), kNow));
  EXPECT_EQ(seed_builtin_policies(*store_, kNow + 2), std::vector<std::string>{"ReadOnly"});
  EXPECT_EQ(store_->get_policy("ReadOnly")->document, policy::builtin_policies().at("ReadOnly"));
}
