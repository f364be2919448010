// The issue-3 control plane through the API against a real SQLite store: policies, attachments,
// groups, the simulator, preferences and sessions, each with its success and refusal paths.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "authorizer.hpp"
#include "sallyport/recording/storage.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/gateway/api.hpp"
#include "sallyport/gateway/bootstrap.hpp"
#include "sallyport/gateway/preferences.hpp"
#include "sallyport/policy/policy.hpp"
#include "sallyport/util/files.hpp"

using namespace sallyport;
using namespace sallyport::gateway;
using nlohmann::json;

namespace {

// Stands in for the session hub: records what it was asked and, when it "holds" the session,
// ends the record the way the hub would.
struct FakeSessions : SessionControl {
  store::Store* store = nullptr;
  bool holds = true;
  std::set<std::string> elsewhere;  // held by another gateway even when `holds`
  std::string waiting;  // what every held session waits for
  std::string waiting_for(const std::string&) override { return waiting; }
  std::vector<std::string> calls;  // "id by reason"
  bool terminate(const std::string& id, const std::string& by, const std::string& reason) override {
    calls.push_back(id + " " + by + " " + reason);
    if (!holds || elsewhere.count(id) != 0) return false;
    auto session = store->get_session(id);
    session->status = "Terminated";
    session->reason = "terminated by " + by;
    session->ended_at = 1'800'000'000'500;
    store->end_session(*session);
    return true;
  }
  recording::RecordingRead read_recording(const std::string& id) override {
    using recording::RecordingRead;
    if (id == "bob-1") return RecordingRead::found("{\"version\": 2}\n[0.1, \"o\", \"hi\"]\n");
    if (id == "bob-3") {
      return RecordingRead::failed(RecordingRead::Failure::kTooLarge, "the recording is 700 MiB, too large to serve");
    }
    return RecordingRead::failed(RecordingRead::Failure::kNotFound, "no recording is stored for this session");
  }
};

struct NoLinks : LinkControl {
  void disconnect(const std::string&, const std::string&) override {}
};

constexpr char kDenyNodeRead[] = R"({
  "Version": "2012-10-17",
  "Statement": [{"Sid": "NoNodeDetails", "Effect": "Deny", "Action": "node:Read", "Resource": "node/*"}]
})";

constexpr char kDevNodesOnly[] = R"({
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "DevNodes",
    "Effect": "Allow",
    "Action": ["node:List", "node:Read"],
    "Resource": "node/*",
    "Condition": {"StringEquals": {"node:tag/env": "dev"}}
  }]
})";

class ApiPolicyTest : public ::testing::Test {
 protected:
  ApiPolicyTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("sp-api-pol-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))),
        clock_(1'800'000'000'000) {
    std::filesystem::create_directories(dir_);
    crypto::initialize();
    store_ = store::open_sqlite((dir_ / "state.db").string());
    // As a fresh gateway starts: built-ins seeded, then the bootstrap admin with
    // AdministratorAccess.
    GatewayConfig config;
    config.data_dir = dir_;
    ::setenv("SALLYPORT_ADMIN_PASSWORD", "admin-password", 1);
    ensure_admin(*store_, config, clock_);
    ::unsetenv("SALLYPORT_ADMIN_PASSWORD");
    sessions_.store = store_.get();
    auditor_ = std::make_unique<Auditor>(*store_, clock_, dir_ / "audit.log");
    auth_ = std::make_unique<Authenticator>(*store_, clock_, 3'600'000);
    api_ = std::make_unique<Api>(*store_, *auth_, *auditor_, clock_, links_, sessions_, ApiSettings{25'000, "test"});
    admin_ = login("admin", "admin-password");
  }
  ~ApiPolicyTest() override { std::filesystem::remove_all(dir_); }

  transport::HttpResponse call(const std::string& method, const std::string& target, const std::string& body = "",
                               const std::string& token = "") {
    transport::HttpRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.remote_address = "127.0.0.9";
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    return api_->handle(request);
  }
  transport::HttpResponse send(const std::string& method, const std::string& target, const json& body,
                               const std::string& token) {
    return call(method, target, body.dump(), token);
  }

  std::string login(const std::string& user, const std::string& password) {
    const auto response = call("POST", "/v1/auth/login", json{{"user", user}, {"password", password}}.dump());
    EXPECT_EQ(response.status, 200u) << response.body;
    return json::parse(response.body).value("token", "");
  }

  // Creates a user through the API with the given policies and returns their token.
  std::string user(const std::string& name, const std::vector<std::string>& policies = {},
                   const json& tags = json::object()) {
    const auto response = send("POST", "/v1/users", json{{"name", name}, {"password", name + "-password"}, {"tags", tags}, {"policies", policies}},
                               admin_);
    EXPECT_EQ(response.status, 201u) << response.body;
    return login(name, name + "-password");
  }

  void create_policy(const std::string& name, const std::string& document) {
    const auto response = send("POST", "/v1/policies", json{{"name", name}, {"document", document}}, admin_);
    ASSERT_EQ(response.status, 201u) << response.body;
  }

  void attach(const std::string& policy, const std::string& kind, const std::string& principal) {
    const auto response = send("POST", "/v1/policies/" + policy + "/attach", json{{kind, principal}}, admin_);
    ASSERT_EQ(response.status, 200u) << response.body;
  }

  std::string add_node(const std::string& name, const store::Tags& tags) {
    store::Node node;
    node.id = "mi-" + std::string(16, '0') + std::to_string(nodes_++);
    node.name = name;
    node.public_key = std::string(32, 'k');
    node.tags = tags;
    node.registered_at = clock_.now_ms();
    EXPECT_TRUE(store_->create_node(node));
    return node.id;
  }

  std::string add_session(const std::string& id, const std::string& owner, const std::string& node_id,
                          bool ended = false) {
    store::SessionRecord session;
    session.id = id;
    session.owner = owner;
    session.node_id = node_id;
    session.run_as = "sallyport-user";
    session.kind = "shell";
    session.status = "Connected";
    session.gateway_id = "gw-test";
    session.started_at = clock_.now_ms() + sessions_started_++;
    EXPECT_TRUE(store_->create_session(session));
    if (ended) {
      session.status = "Terminated";
      session.reason = "exited";
      session.ended_at = session.started_at + 1000;
      session.exit_code = 0;
      EXPECT_TRUE(store_->end_session(session));
    }
    return id;
  }

  static std::vector<std::string> names(const json& items, const char* field = "name") {
    std::vector<std::string> out;
    for (const auto& item : items) out.push_back(item[field].get<std::string>());
    return out;
  }

  std::set<std::string> audit_actions() {
    std::set<std::string> actions;
    for (const auto& event : store_->list_audit(0, 10'000)) actions.insert(event.action + "/" + event.outcome);
    return actions;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  util::ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Auditor> auditor_;
  std::unique_ptr<Authenticator> auth_;
  NoLinks links_;
  FakeSessions sessions_;
  std::unique_ptr<Api> api_;
  std::string admin_;
  int nodes_ = 0;
  int sessions_started_ = 0;
};

}  // namespace

// ---- Built-ins and bootstrap --------------------------------------------------------------------

TEST_F(ApiPolicyTest, BuiltinsAreSeededAndImmutable) {
  const auto list = call("GET", "/v1/policies", "", admin_);
  ASSERT_EQ(list.status, 200u) << list.body;
  const auto policies = json::parse(list.body)["policies"];
  EXPECT_EQ(names(policies), (std::vector<std::string>{"AdministratorAccess", "ReadOnly", "SessionUser"}));
  for (const auto& policy : policies) EXPECT_TRUE(policy["builtin"].get<bool>());

  const auto shown = json::parse(call("GET", "/v1/policies/SessionUser", "", admin_).body);
  EXPECT_EQ(shown["document"], policy::builtin_policies().at("SessionUser"));

  const auto update = send("PUT", "/v1/policies/ReadOnly", json{{"document", kDenyNodeRead}}, admin_);
  EXPECT_EQ(update.status, 409u);
  EXPECT_NE(update.body.find("built in"), std::string::npos);
  EXPECT_EQ(call("DELETE", "/v1/policies/AdministratorAccess", "", admin_).status, 409u);
  EXPECT_EQ(store_->get_policy("ReadOnly")->document, policy::builtin_policies().at("ReadOnly"));
}

TEST_F(ApiPolicyTest, BootstrapAdminHoldsAdministratorAccess) {
  EXPECT_EQ(store_->list_attached_policies(store::PolicyPrincipal::kUser, "admin"),
            std::vector<std::string>{"AdministratorAccess"});
  // Seeding again (every start) changes nothing.
  EXPECT_TRUE(seed_builtin_policies(*store_, clock_.now_ms()).empty());
}

TEST_F(ApiPolicyTest, AdminFlagAloneGrantsNothing) {
  // Written straight to the store after the built-ins exist: no policy is attached.
  store_->create_user({"flagged", crypto::hash_password("flagged-password"), {}, true, clock_.now_ms()});
  const std::string flagged = login("flagged", "flagged-password");
  EXPECT_EQ(call("GET", "/v1/users", "", flagged).status, 403u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", flagged).status, 403u);
}

TEST_F(ApiPolicyTest, CreatingAnAdminAttachesAdministratorAccess) {
  const auto created = send("POST", "/v1/users", json{{"name", "root2"}, {"password", "root2-password"}, {"admin", true}}, admin_);
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(json::parse(created.body)["policies"], json::array({"AdministratorAccess"}));
  EXPECT_EQ(call("GET", "/v1/audit", "", login("root2", "root2-password")).status, 200u);
}

TEST_F(ApiPolicyTest, UserCreationAttachesPoliciesAndRefusesUnknownOnesFirst) {
  const auto unknown = send("POST", "/v1/users", json{{"name", "carol"}, {"password", "carol-password"}, {"policies", {"SessionUser", "Nope"}}},
                            admin_);
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_NE(unknown.body.find("Nope"), std::string::npos);
  EXPECT_FALSE(store_->get_user("carol").has_value());  // nothing created

  const auto created = send("POST", "/v1/users", json{{"name", "carol"}, {"password", "carol-password"}, {"policies", {"ReadOnly", "SessionUser"}}},
                            admin_);
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(json::parse(created.body)["policies"], json::array({"ReadOnly", "SessionUser"}));
  const auto shown = json::parse(call("GET", "/v1/users/carol", "", admin_).body);
  EXPECT_EQ(shown["policies"], json::array({"ReadOnly", "SessionUser"}));
  EXPECT_TRUE(audit_actions().count("policy:Attach/success"));

  EXPECT_EQ(send("POST", "/v1/users", json{{"name", "dave"}, {"password", "dave-password"}, {"policies", "ReadOnly"}}, admin_).status,
            400u);
}

TEST_F(ApiPolicyTest, UserCreationNeedsPolicyAttachForTheGivenPolicies) {
  create_policy("UserAdmin", R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":["user:Create"],"Resource":"*"},
    {"Effect":"Allow","Action":"policy:Attach","Resource":"policy/SessionUser"}]})");
  const std::string helpdesk = user("helpdesk", {"UserAdmin"});
  EXPECT_EQ(send("POST", "/v1/users", json{{"name", "u1"}, {"password", "u1-password"}, {"policies", {"SessionUser"}}}, helpdesk).status,
            201u);
  // No escalation: neither AdministratorAccess by name nor through "admin": true.
  EXPECT_EQ(send("POST", "/v1/users", json{{"name", "u2"}, {"password", "u2-password"}, {"policies", {"AdministratorAccess"}}}, helpdesk)
                .status,
            403u);
  EXPECT_EQ(send("POST", "/v1/users", json{{"name", "u3"}, {"password", "u3-password"}, {"admin", true}}, helpdesk).status,
            403u);
  EXPECT_FALSE(store_->get_user("u2").has_value());
  EXPECT_FALSE(store_->get_user("u3").has_value());
}

// ---- Policy CRUD --------------------------------------------------------------------------------

TEST_F(ApiPolicyTest, PolicyLifecycle) {
  // A document as a string is kept verbatim; as an object it is stored as JSON text.
  const auto created = send("POST", "/v1/policies", json{{"name", "NoDetails"}, {"document", kDenyNodeRead}}, admin_);
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(json::parse(created.body)["document"], kDenyNodeRead);
  EXPECT_FALSE(json::parse(created.body)["builtin"].get<bool>());
  const auto as_object =
      send("POST", "/v1/policies", json{{"name", "Obj"}, {"document", json::parse(kDevNodesOnly)}}, admin_);
  ASSERT_EQ(as_object.status, 201u) << as_object.body;
  EXPECT_EQ(json::parse(json::parse(as_object.body)["document"].get<std::string>()), json::parse(kDevNodesOnly));

  EXPECT_EQ(send("POST", "/v1/policies", json{{"name", "NoDetails"}, {"document", kDenyNodeRead}}, admin_).status, 409u);
  EXPECT_EQ(send("POST", "/v1/policies", json{{"name", "bad name"}, {"document", kDenyNodeRead}}, admin_).status, 400u);
  EXPECT_EQ(send("POST", "/v1/policies", json{{"name", "NoDoc"}}, admin_).status, 400u);
  EXPECT_EQ(send("POST", "/v1/policies", json{{"name", "Num"}, {"document", 5}}, admin_).status, 400u);

  EXPECT_EQ(names(json::parse(call("GET", "/v1/policies", "", admin_).body)["policies"]),
            (std::vector<std::string>{"AdministratorAccess", "NoDetails", "Obj", "ReadOnly", "SessionUser"}));

  clock_.advance(1000);
  const auto updated = send("PUT", "/v1/policies/NoDetails", json{{"document", kDevNodesOnly}}, admin_);
  ASSERT_EQ(updated.status, 200u) << updated.body;
  const auto shown = json::parse(call("GET", "/v1/policies/NoDetails", "", admin_).body);
  EXPECT_EQ(shown["document"], kDevNodesOnly);
  EXPECT_NE(shown["updated_at"], shown["created_at"]);
  EXPECT_EQ(send("PUT", "/v1/policies/Missing", json{{"document", kDevNodesOnly}}, admin_).status, 404u);
  EXPECT_EQ(call("GET", "/v1/policies/Missing", "", admin_).status, 404u);

  attach("NoDetails", "user", "admin");
  EXPECT_EQ(call("DELETE", "/v1/policies/NoDetails", "", admin_).status, 200u);
  EXPECT_EQ(call("DELETE", "/v1/policies/NoDetails", "", admin_).status, 404u);
  EXPECT_EQ(store_->list_attached_policies(store::PolicyPrincipal::kUser, "admin"),
            std::vector<std::string>{"AdministratorAccess"});
  const auto actions = audit_actions();
  for (const char* action : {"policy:Create/success", "policy:Update/success", "policy:Delete/success", "policy:Attach/success"}) {
    EXPECT_TRUE(actions.count(action)) << action;
  }
}

TEST_F(ApiPolicyTest, MalformedPolicyIsRefusedWithItsLocation) {
  const std::string text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allw\", \"Action\": \"*\", \"Resource\": \"*\"}\n  ]\n}";
  const auto parsed = policy::parse_policy(text);
  ASSERT_TRUE(std::holds_alternative<policy::ParseError>(parsed));
  const auto& error = std::get<policy::ParseError>(parsed);

  const auto response = send("POST", "/v1/policies", json{{"name", "Broken"}, {"document", text}}, admin_);
  ASSERT_EQ(response.status, 400u);
  const auto body = json::parse(response.body)["error"];
  EXPECT_EQ(body["code"], "invalid_policy");
  EXPECT_EQ(body["message"], policy::format_parse_error(error));
  EXPECT_EQ(body["line"], 4);
  EXPECT_EQ(body["line"], error.line);
  EXPECT_EQ(body["column"], error.column);
  EXPECT_EQ(body["path"], "Statement[0].Effect");
  EXPECT_NE(body["message"].get<std::string>().find("line 4, column"), std::string::npos);
  EXPECT_FALSE(store_->get_policy("Broken").has_value());

  // Syntax errors too, and on update the stored document stays as it was.
  create_policy("Fine", kDenyNodeRead);
  const auto syntax = send("PUT", "/v1/policies/Fine", json{{"document", "{\n  \"Version\": \n}"}}, admin_);
  ASSERT_EQ(syntax.status, 400u);
  EXPECT_NE(json::parse(syntax.body)["error"]["message"].get<std::string>().find("line 3"), std::string::npos);
  EXPECT_EQ(store_->get_policy("Fine")->document, kDenyNodeRead);
}

TEST_F(ApiPolicyTest, PolicyRoutesRefuseWithoutPermission) {
  create_policy("Custom", kDenyNodeRead);
  const std::string reader = user("reader", {"ReadOnly"});
  EXPECT_EQ(call("GET", "/v1/policies", "", reader).status, 200u);
  EXPECT_EQ(call("GET", "/v1/policies/Custom", "", reader).status, 200u);
  EXPECT_EQ(send("POST", "/v1/policies", json{{"name", "X"}, {"document", kDenyNodeRead}}, reader).status, 403u);
  EXPECT_EQ(send("PUT", "/v1/policies/Custom", json{{"document", kDevNodesOnly}}, reader).status, 403u);
  EXPECT_EQ(call("DELETE", "/v1/policies/Custom", "", reader).status, 403u);
  EXPECT_EQ(send("POST", "/v1/policies/AdministratorAccess/attach", json{{"user", "reader"}}, reader).status, 403u);
  EXPECT_EQ(send("POST", "/v1/policies/ReadOnly/detach", json{{"user", "reader"}}, reader).status, 403u);
  EXPECT_EQ(send("POST", "/v1/policies/simulate", json{{"user", "admin"}, {"action", "node:Read"}, {"resource", "node/x"}}, reader)
                .status,
            403u);

  const std::string nobody = user("nobody");
  EXPECT_EQ(call("GET", "/v1/policies", "", nobody).status, 403u);
  EXPECT_EQ(call("GET", "/v1/policies/Custom", "", nobody).status, 403u);
  EXPECT_EQ(store_->get_policy("Custom")->document, kDenyNodeRead);
  EXPECT_TRUE(audit_actions().count("policy:Create/denied"));
}

TEST_F(ApiPolicyTest, AttachAndDetach) {
  const std::string bob = user("bob");
  ASSERT_EQ(send("POST", "/v1/groups", json{{"name", "ops"}}, admin_).status, 201u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 403u);

  const auto attached = send("POST", "/v1/policies/SessionUser/attach", json{{"user", "bob"}}, admin_);
  ASSERT_EQ(attached.status, 200u) << attached.body;
  EXPECT_EQ(json::parse(attached.body)["status"], "attached");
  EXPECT_EQ(send("POST", "/v1/policies/SessionUser/attach", json{{"user", "bob"}}, admin_).status, 200u);  // idempotent
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 200u);
  attach("ReadOnly", "group", "ops");
  EXPECT_EQ(json::parse(call("GET", "/v1/groups/ops", "", admin_).body)["policies"], json::array({"ReadOnly"}));

  EXPECT_EQ(send("POST", "/v1/policies/Nope/attach", json{{"user", "bob"}}, admin_).status, 404u);
  EXPECT_EQ(send("POST", "/v1/policies/ReadOnly/attach", json{{"user", "ghost"}}, admin_).status, 404u);
  EXPECT_EQ(send("POST", "/v1/policies/ReadOnly/attach", json{{"group", "ghosts"}}, admin_).status, 404u);
  EXPECT_EQ(send("POST", "/v1/policies/ReadOnly/attach", json{{"user", "bob"}, {"group", "ops"}}, admin_).status, 400u);
  EXPECT_EQ(send("POST", "/v1/policies/ReadOnly/attach", json::object(), admin_).status, 400u);

  EXPECT_EQ(send("POST", "/v1/policies/SessionUser/detach", json{{"user", "bob"}}, admin_).status, 200u);
  EXPECT_EQ(send("POST", "/v1/policies/SessionUser/detach", json{{"user", "bob"}}, admin_).status, 404u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 403u);
  EXPECT_EQ(send("POST", "/v1/policies/ReadOnly/detach", json{{"group", "ops"}}, admin_).status, 200u);
  EXPECT_TRUE(audit_actions().count("policy:Detach/success"));
}

// ---- Decisions through the API ------------------------------------------------------------------

TEST_F(ApiPolicyTest, ExplicitDenyBeatsAllow) {
  const std::string id = add_node("web-1", {{"env", "prod"}});
  create_policy("NoDetails", kDenyNodeRead);
  const std::string ops = user("ops", {"AdministratorAccess", "NoDetails"});
  EXPECT_EQ(call("GET", "/v1/users", "", ops).status, 200u);
  const auto denied = call("GET", "/v1/nodes/" + id, "", ops);
  EXPECT_EQ(denied.status, 403u);
  EXPECT_NE(denied.body.find("explicitly denied by policy NoDetails"), std::string::npos) << denied.body;
  const auto events = store_->list_audit(0, 10'000);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().outcome, "denied");
  EXPECT_NE(events.back().detail.find("NoDetails"), std::string::npos) << events.back().detail;
}

TEST_F(ApiPolicyTest, GroupAttachedPoliciesApplyToMembers) {
  add_node("web-1", {});
  const std::string bob = user("bob");
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 403u);
  ASSERT_EQ(send("POST", "/v1/groups", json{{"name", "ops"}}, admin_).status, 201u);
  attach("SessionUser", "group", "ops");
  ASSERT_EQ(send("POST", "/v1/groups/ops/members", json{{"user", "bob"}}, admin_).status, 200u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 200u);
  // A group-attached Deny holds too.
  create_policy("NoDetails", kDenyNodeRead);
  attach("NoDetails", "group", "ops");
  const std::string id = store_->list_nodes().front().id;
  EXPECT_EQ(call("GET", "/v1/nodes/" + id, "", bob).status, 403u);
  ASSERT_EQ(call("DELETE", "/v1/groups/ops/members/bob", "", admin_).status, 200u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 403u);
}

TEST_F(ApiPolicyTest, TagConditionsOnNodeResources) {
  const std::string dev = add_node("dev-1", {{"env", "dev"}});
  const std::string prod = add_node("prod-1", {{"env", "prod"}});
  create_policy("DevOnly", kDevNodesOnly);
  const std::string alice = user("alice", {"DevOnly"});
  const auto list = call("GET", "/v1/nodes", "", alice);
  ASSERT_EQ(list.status, 200u) << list.body;
  EXPECT_EQ(names(json::parse(list.body)["nodes"], "id"), std::vector<std::string>{dev});
  EXPECT_EQ(call("GET", "/v1/nodes/" + dev, "", alice).status, 200u);
  EXPECT_EQ(call("GET", "/v1/nodes/" + prod, "", alice).status, 403u);
  // Retagging the node changes the answer on the next request.
  ASSERT_EQ(call("PUT", "/v1/nodes/" + prod + "/tags", R"({"tags":{"env":"dev"}})", admin_).status, 200u);
  EXPECT_EQ(call("GET", "/v1/nodes/" + prod, "", alice).status, 200u);
  EXPECT_EQ(json::parse(call("GET", "/v1/nodes", "", alice).body)["nodes"].size(), 2u);
}

TEST_F(ApiPolicyTest, UserTagVariablesInPolicies) {
  const std::string core = add_node("core-1", {{"team", "core"}});
  add_node("web-1", {{"team", "web"}});
  create_policy("OwnTeam", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":["node:List","node:Read"],"Resource":"*",
    "Condition":{"StringEquals":{"node:tag/team":"${user:tag/team}"}}}]})");
  const std::string alice = user("alice", {"OwnTeam"}, {{"team", "core"}});
  EXPECT_EQ(names(json::parse(call("GET", "/v1/nodes", "", alice).body)["nodes"], "id"), std::vector<std::string>{core});
}

TEST_F(ApiPolicyTest, PolicyUpdateTakesEffectOnTheNextRequest) {
  add_node("web-1", {});
  create_policy("Flip", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"node:List","Resource":"*"}]})");
  const std::string bob = user("bob", {"Flip"});
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 200u);
  // Same millisecond as the creation: the change must still be seen.
  ASSERT_EQ(send("PUT", "/v1/policies/Flip", json{{"document", R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"node:List","Resource":"*"}]})"}},
                 admin_)
                .status,
            200u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 403u);
  clock_.advance(10);
  ASSERT_EQ(send("PUT", "/v1/policies/Flip", json{{"document", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"node:*","Resource":"*"}]})"}},
                 admin_)
                .status,
            200u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", bob).status, 200u);
}

// ---- Simulator ----------------------------------------------------------------------------------

TEST_F(ApiPolicyTest, SimulateNamesTheDecidingStatement) {
  const std::string id = add_node("web-1", {{"env", "prod"}});
  user("alice", {"SessionUser"});
  auto response = send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "session:Start"}, {"resource", "node/" + id}}, admin_);
  ASSERT_EQ(response.status, 200u) << response.body;
  auto result = json::parse(response.body);
  EXPECT_EQ(result["decision"], "allow");
  EXPECT_EQ(result["effect"], "Allow");
  EXPECT_EQ(result["policy"], "SessionUser");
  EXPECT_EQ(result["sid"], "StartSessions");
  EXPECT_EQ(result["statement_index"], 1);
  EXPECT_NE(result["explanation"].get<std::string>().find("StartSessions"), std::string::npos);

  response = send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "user:Delete"}, {"resource", "user/admin"}}, admin_);
  result = json::parse(response.body);
  EXPECT_EQ(result["decision"], "deny");
  EXPECT_EQ(result["effect"], "DefaultDeny");
  EXPECT_EQ(result["policy"], "");
  EXPECT_EQ(result["statement_index"], -1);
  EXPECT_NE(result["explanation"].get<std::string>().find("no statement matched"), std::string::npos);
  EXPECT_TRUE(audit_actions().count("policy:Simulate/success"));
}

TEST_F(ApiPolicyTest, SimulateUsesStoredTagsGroupsAndGivenContext) {
  const std::string prod = add_node("prod-1", {{"env", "prod"}});
  create_policy("DevOnly", kDevNodesOnly);
  create_policy("OwnSessions", R"({"Version":"2012-10-17","Statement":[{"Sid":"Own","Effect":"Allow",
    "Action":"session:Terminate","Resource":"session/*",
    "Condition":{"StringEquals":{"session:owner":"${user:name}"}}}]})");
  user("alice");
  ASSERT_EQ(send("POST", "/v1/groups", json{{"name", "devs"}}, admin_).status, 201u);
  ASSERT_EQ(send("POST", "/v1/groups/devs/members", json{{"user", "alice"}}, admin_).status, 200u);
  attach("DevOnly", "group", "devs");
  attach("OwnSessions", "user", "alice");

  // The node's real tags win over a context that claims otherwise.
  auto result = json::parse(send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "node:Read"}, {"resource", "node/" + prod},
                                      {"context", {{"node:tag/env", "dev"}}}},
                                 admin_)
                                .body);
  EXPECT_EQ(result["decision"], "deny");
  EXPECT_EQ(result["groups"], json::array({"devs"}));
  // For an unknown node the given context is what there is.
  result = json::parse(send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "node:Read"}, {"resource", "node/mi-planned"},
                                 {"context", {{"node:tag/env", json::array({"dev"})}}}},
                            admin_)
                           .body);
  EXPECT_EQ(result["decision"], "allow");
  EXPECT_EQ(result["policy"], "DevOnly");
  // user:name always comes from the simulated user, whatever the context says.
  result = json::parse(send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "session:Terminate"}, {"resource", "session/s-1"},
                                 {"context", {{"session:owner", "bob"}, {"User:Name", "bob"}}}},
                            admin_)
                           .body);
  EXPECT_EQ(result["decision"], "deny");
  result = json::parse(send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "session:Terminate"}, {"resource", "session/s-1"},
                                 {"context", {{"session:owner", "alice"}}}},
                            admin_)
                           .body);
  EXPECT_EQ(result["decision"], "allow");
  EXPECT_EQ(result["sid"], "Own");

  EXPECT_EQ(send("POST", "/v1/policies/simulate", json{{"user", "ghost"}, {"action", "node:Read"}, {"resource", "node/x"}}, admin_).status,
            404u);
  EXPECT_EQ(send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"resource", "node/x"}}, admin_).status, 400u);
  EXPECT_EQ(send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "node:Read"}, {"resource", "node/x"}, {"context", {{"k", 5}}}}, admin_)
                .status,
            400u);
  const auto typo = json::parse(send("POST", "/v1/policies/simulate", json{{"user", "alice"}, {"action", "node:Raed"}, {"resource", "node/x"}}, admin_)
                                    .body);
  EXPECT_EQ(typo["warnings"].size(), 1u);
}

// ---- Groups -------------------------------------------------------------------------------------

TEST_F(ApiPolicyTest, GroupLifecycle) {
  user("alice");
  user("bob");
  const auto created = send("POST", "/v1/groups", json{{"name", "ops"}}, admin_);
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(json::parse(created.body)["members"], json::array());
  EXPECT_EQ(send("POST", "/v1/groups", json{{"name", "ops"}}, admin_).status, 409u);
  EXPECT_EQ(send("POST", "/v1/groups", json{{"name", "no way"}}, admin_).status, 400u);
  EXPECT_EQ(send("POST", "/v1/groups", json::object(), admin_).status, 400u);
  ASSERT_EQ(send("POST", "/v1/groups", json{{"name", "dev"}}, admin_).status, 201u);

  EXPECT_EQ(send("POST", "/v1/groups/ops/members", json{{"user", "bob"}}, admin_).status, 200u);
  EXPECT_EQ(send("POST", "/v1/groups/ops/members", json{{"user", "alice"}}, admin_).status, 200u);
  EXPECT_EQ(send("POST", "/v1/groups/ops/members", json{{"user", "ghost"}}, admin_).status, 404u);
  EXPECT_EQ(send("POST", "/v1/groups/ghosts/members", json{{"user", "bob"}}, admin_).status, 404u);
  attach("ReadOnly", "group", "ops");

  const auto shown = call("GET", "/v1/groups/ops", "", admin_);
  ASSERT_EQ(shown.status, 200u);
  EXPECT_EQ(json::parse(shown.body)["members"], json::array({"alice", "bob"}));
  EXPECT_EQ(json::parse(shown.body)["policies"], json::array({"ReadOnly"}));
  EXPECT_EQ(call("GET", "/v1/groups/ghosts", "", admin_).status, 404u);
  const auto list = json::parse(call("GET", "/v1/groups", "", admin_).body)["groups"];
  EXPECT_EQ(names(list), (std::vector<std::string>{"dev", "ops"}));
  EXPECT_EQ(json::parse(call("GET", "/v1/users/alice", "", admin_).body)["groups"], json::array({"ops"}));

  EXPECT_EQ(call("DELETE", "/v1/groups/ops/members/alice", "", admin_).status, 200u);
  EXPECT_EQ(call("DELETE", "/v1/groups/ops/members/alice", "", admin_).status, 404u);
  EXPECT_EQ(call("DELETE", "/v1/groups/ops", "", admin_).status, 200u);
  EXPECT_EQ(call("DELETE", "/v1/groups/ops", "", admin_).status, 404u);
  EXPECT_TRUE(store_->list_user_groups("bob").empty());
  const auto actions = audit_actions();
  for (const char* action : {"group:Create/success", "group:AddUser/success", "group:RemoveUser/success", "group:Delete/success"}) {
    EXPECT_TRUE(actions.count(action)) << action;
  }
}

TEST_F(ApiPolicyTest, GroupRoutesRefuseWithoutPermission) {
  ASSERT_EQ(send("POST", "/v1/groups", json{{"name", "ops"}}, admin_).status, 201u);
  const std::string reader = user("reader", {"ReadOnly"});
  EXPECT_EQ(call("GET", "/v1/groups", "", reader).status, 200u);
  EXPECT_EQ(call("GET", "/v1/groups/ops", "", reader).status, 200u);
  EXPECT_EQ(send("POST", "/v1/groups", json{{"name", "x"}}, reader).status, 403u);
  EXPECT_EQ(call("DELETE", "/v1/groups/ops", "", reader).status, 403u);
  // Joining a group is how one would gain its policies: refused without group:AddUser.
  EXPECT_EQ(send("POST", "/v1/groups/ops/members", json{{"user", "reader"}}, reader).status, 403u);
  ASSERT_EQ(send("POST", "/v1/groups/ops/members", json{{"user", "reader"}}, admin_).status, 200u);
  EXPECT_EQ(call("DELETE", "/v1/groups/ops/members/reader", "", reader).status, 403u);
  const std::string nobody = user("nobody");
  EXPECT_EQ(call("GET", "/v1/groups", "", nobody).status, 403u);
  EXPECT_EQ(call("GET", "/v1/groups/ops", "", nobody).status, 403u);
}

// ---- Preferences --------------------------------------------------------------------------------

TEST_F(ApiPolicyTest, PreferencesDefaultsUpdateAndValidation) {
  auto response = call("GET", "/v1/preferences", "", admin_);
  ASSERT_EQ(response.status, 200u) << response.body;
  auto prefs = json::parse(response.body)["preferences"];
  EXPECT_EQ(prefs["idle_timeout_minutes"], 20);
  EXPECT_EQ(prefs["idle_timeout_seconds"], 0);
  EXPECT_EQ(prefs["max_session_duration_minutes"], 0);
  EXPECT_EQ(prefs["default_run_as"], "sallyport-user");
  EXPECT_EQ(prefs["shell_profile"], "");

  response = send("PUT", "/v1/preferences", json{{"idle_timeout_minutes", 5}, {"default_run_as", "ops_user"}, {"shell_profile", "export TZ=UTC\n"},
                       {"max_session_duration_minutes", "90"}},
                  admin_);
  ASSERT_EQ(response.status, 200u) << response.body;
  prefs = json::parse(response.body)["preferences"];
  EXPECT_EQ(prefs["idle_timeout_minutes"], 5);
  EXPECT_EQ(prefs["max_session_duration_minutes"], 90);
  EXPECT_EQ(prefs["default_run_as"], "ops_user");
  EXPECT_EQ(load_preferences(*store_).shell_profile, "export TZ=UTC\n");
  EXPECT_EQ(load_preferences(*store_).idle_timeout_in_seconds(), 300);

  // The seconds knob overrides the minutes; null goes back to the default.
  ASSERT_EQ(send("PUT", "/v1/preferences", json{{"idle_timeout_seconds", 5}}, admin_).status, 200u);
  EXPECT_EQ(load_preferences(*store_).idle_timeout_in_seconds(), 5);
  ASSERT_EQ(send("PUT", "/v1/preferences", json{{"idle_timeout_seconds", nullptr}}, admin_).status, 200u);
  EXPECT_EQ(load_preferences(*store_).idle_timeout_in_seconds(), 300);

  const auto before = store_->list_preferences();
  const std::vector<std::pair<json, std::string>> bad = {
      {json{{"idle_timeout_minutes", 0}}, "idle_timeout_minutes must be an integer from 1 to 60"},
      {json{{"idle_timeout_minutes", 61}}, "from 1 to 60"},
      {json{{"idle_timeout_minutes", "ten"}}, "idle_timeout_minutes"},
      {json{{"idle_timeout_seconds", 4}}, "from 5 to 3600"},
      {json{{"max_session_duration_minutes", 1441}}, "0 or an integer from 1 to 1440"},
      {json{{"default_run_as", "Root"}}, "default_run_as must be a POSIX user name"},
      {json{{"default_run_as", 7}}, "default_run_as"},
      {json{{"shell_profile", std::string(4097, 'x')}}, "shell_profile must be at most 4096 bytes"},
      {json{{"colour", "blue"}}, "unknown preference 'colour'"},
      // One bad value spoils the whole request: nothing of it is stored.
      {json{{"idle_timeout_minutes", 30}, {"zzz", 1}}, "zzz"},
      {json::object(), "at least one"},
  };
  for (const auto& [body, message] : bad) {
    const auto refused = send("PUT", "/v1/preferences", body, admin_);
    EXPECT_EQ(refused.status, 400u) << body.dump();
    EXPECT_NE(refused.body.find(message), std::string::npos) << refused.body;
  }
  EXPECT_EQ(store_->list_preferences(), before);
  EXPECT_TRUE(audit_actions().count("preferences:Update/success"));
}

TEST_F(ApiPolicyTest, PreferencesRefuseWithoutPermission) {
  const std::string reader = user("reader", {"ReadOnly"});
  EXPECT_EQ(call("GET", "/v1/preferences", "", reader).status, 200u);
  EXPECT_EQ(send("PUT", "/v1/preferences", json{{"idle_timeout_minutes", 5}}, reader).status, 403u);
  const std::string session_user = user("su", {"SessionUser"});
  EXPECT_EQ(call("GET", "/v1/preferences", "", session_user).status, 403u);
  EXPECT_TRUE(store_->list_preferences().empty());
}

// ---- Sessions -----------------------------------------------------------------------------------

TEST_F(ApiPolicyTest, SessionListsAndVisibility) {
  const std::string node = add_node("web-1", {{"env", "prod"}});
  add_session("alice-1", "alice", node);
  add_session("bob-1", "bob", node);
  add_session("alice-old", "alice", node, /*ended=*/true);
  const std::string alice = user("alice", {"SessionUser"});

  auto list = json::parse(call("GET", "/v1/sessions", "", admin_).body);
  EXPECT_EQ(list["state"], "active");
  EXPECT_EQ(names(list["sessions"], "id"), (std::vector<std::string>{"bob-1", "alice-1"}));  // newest first
  list = json::parse(call("GET", "/v1/sessions?state=history", "", admin_).body);
  ASSERT_EQ(names(list["sessions"], "id"), std::vector<std::string>{"alice-old"});
  const auto& ended = list["sessions"][0];
  EXPECT_EQ(ended["status"], "Terminated");
  EXPECT_EQ(ended["exit_code"], 0);
  EXPECT_TRUE(ended["exit_signal"].is_null());
  EXPECT_NE(ended["ended_at"], "");
  for (const char* field : {"id", "owner", "node_id", "run_as", "kind", "command", "status", "reason", "started_at",
                            "ended_at", "bytes_in", "bytes_out", "exit_code", "exit_signal"}) {
    EXPECT_TRUE(ended.contains(field)) << field;
  }
  EXPECT_EQ(json::parse(call("GET", "/v1/sessions?limit=1", "", admin_).body)["sessions"].size(), 1u);
  EXPECT_EQ(call("GET", "/v1/sessions?state=paused", "", admin_).status, 400u);
  EXPECT_EQ(call("GET", "/v1/sessions?limit=0", "", admin_).status, 400u);

  // SessionUser sees only their own sessions.
  list = json::parse(call("GET", "/v1/sessions", "", alice).body);
  EXPECT_EQ(names(list["sessions"], "id"), std::vector<std::string>{"alice-1"});
  EXPECT_EQ(call("GET", "/v1/sessions/alice-1", "", alice).status, 200u);
  EXPECT_EQ(call("GET", "/v1/sessions/bob-1", "", alice).status, 403u);
  EXPECT_EQ(call("GET", "/v1/sessions/nope", "", alice).status, 404u);
  const std::string nobody = user("nobody");
  EXPECT_EQ(call("GET", "/v1/sessions", "", nobody).status, 403u);
}

// A live session waiting for its client or node to reconnect says so; an ended one never does.
TEST_F(ApiPolicyTest, LiveSessionsSayWhatTheyWaitFor) {
  const std::string node = add_node("web-1", {});
  add_session("alice-1", "alice", node);
  add_session("alice-old", "alice", node, /*ended=*/true);
  EXPECT_FALSE(json::parse(call("GET", "/v1/sessions/alice-1", "", admin_).body).contains("waiting_for"));
  sessions_.waiting = "node";
  EXPECT_EQ(json::parse(call("GET", "/v1/sessions/alice-1", "", admin_).body)["waiting_for"], "node");
  EXPECT_EQ(json::parse(call("GET", "/v1/sessions", "", admin_).body)["sessions"][0]["waiting_for"], "node");
  EXPECT_FALSE(json::parse(call("GET", "/v1/sessions/alice-old", "", admin_).body).contains("waiting_for"));
}

TEST_F(ApiPolicyTest, SessionsVisibleByNodeTag) {
  const std::string prod = add_node("prod-1", {{"env", "prod"}});
  const std::string dev = add_node("dev-1", {{"env", "dev"}});
  add_session("s-prod", "bob", prod);
  add_session("s-dev", "bob", dev);
  create_policy("DevSessions", R"({"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":"session:List","Resource":"*"},
    {"Effect":"Allow","Action":["session:Read","session:Terminate"],"Resource":"session/*",
     "Condition":{"StringEquals":{"node:tag/env":"dev"}}}]})");
  const std::string oncall = user("oncall", {"DevSessions"});
  EXPECT_EQ(names(json::parse(call("GET", "/v1/sessions", "", oncall).body)["sessions"], "id"),
            std::vector<std::string>{"s-dev"});
  EXPECT_EQ(call("POST", "/v1/sessions/s-prod/terminate", "{}", oncall).status, 403u);
  EXPECT_EQ(call("POST", "/v1/sessions/s-dev/terminate", "{}", oncall).status, 200u);
}

TEST_F(ApiPolicyTest, TerminateSession) {
  const std::string node = add_node("web-1", {});
  add_session("alice-1", "alice", node);
  add_session("bob-1", "bob", node);
  add_session("old", "alice", node, /*ended=*/true);
  const std::string alice = user("alice", {"SessionUser"});

  EXPECT_EQ(call("POST", "/v1/sessions/nope/terminate", "{}", admin_).status, 404u);
  EXPECT_EQ(call("POST", "/v1/sessions/old/terminate", "{}", admin_).status, 409u);
  EXPECT_EQ(call("POST", "/v1/sessions/bob-1/terminate", "{}", alice).status, 403u);  // not hers
  EXPECT_TRUE(sessions_.calls.empty());

  const auto own = call("POST", "/v1/sessions/alice-1/terminate", R"({"reason":"done for today"})", alice);
  ASSERT_EQ(own.status, 200u) << own.body;
  EXPECT_EQ(json::parse(own.body)["status"], "Terminated");
  EXPECT_EQ(sessions_.calls, std::vector<std::string>{"alice-1 alice done for today"});
  EXPECT_EQ(call("POST", "/v1/sessions/alice-1/terminate", "{}", alice).status, 409u);

  // Held elsewhere: the hub says no and the record is still live, so the request is left in
  // the store for the gateway that holds it (it ends the session there).
  sessions_.holds = false;
  EXPECT_EQ(call("POST", "/v1/sessions/bob-1/terminate", R"({"reason":5})", admin_).status, 400u);
  EXPECT_TRUE(store_->list_termination_requests("gw-test").empty());
  const auto elsewhere = call("POST", "/v1/sessions/bob-1/terminate", R"({"reason":"incident 7"})", admin_);
  ASSERT_EQ(elsewhere.status, 202u) << elsewhere.body;
  EXPECT_EQ(json::parse(elsewhere.body)["termination_requested_from"], "gw-test");
  EXPECT_EQ(json::parse(elsewhere.body)["status"], "Connected");
  const auto requests = store_->list_termination_requests("gw-test");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].session_id, "bob-1");
  EXPECT_EQ(requests[0].requested_by, "admin");
  EXPECT_EQ(requests[0].reason, "incident 7");
  bool audited = false;
  for (const auto& event : store_->list_audit(0, 10'000)) {
    audited |= event.action == "session:Terminate" && event.target == "session/bob-1" && event.outcome == "success" &&
               event.detail == "requested from gateway gw-test; reason: incident 7";
  }
  EXPECT_TRUE(audited);
  const auto actions = audit_actions();
  EXPECT_TRUE(actions.count("session:Terminate/success"));
  EXPECT_TRUE(actions.count("session:Terminate/denied"));
}

TEST_F(ApiPolicyTest, DeletingAUserEndsTheirSessionsHereAndAsksTheOtherGatewaysForTheRest) {
  const std::string node = add_node("web-1", {});
  add_session("carol-here", "carol", node);
  add_session("carol-away", "carol", node);
  add_session("carol-done", "carol", node, /*ended=*/true);
  add_session("dave-1", "dave", node);
  user("carol", {"SessionUser"});
  sessions_.elsewhere = {"carol-away"};

  const auto deleted = call("DELETE", "/v1/users/carol", "", admin_);
  ASSERT_EQ(deleted.status, 200u) << deleted.body;
  EXPECT_EQ(json::parse(deleted.body)["sessions_ended"], 1);
  EXPECT_EQ(json::parse(deleted.body)["sessions_ending_elsewhere"], 1);
  EXPECT_EQ(store_->get_session("carol-here")->status, "Terminated");
  EXPECT_EQ(store_->get_session("carol-away")->status, "Connected");
  EXPECT_EQ(store_->get_session("dave-1")->status, "Connected");
  const auto requests = store_->list_termination_requests("gw-test");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].session_id, "carol-away");
  EXPECT_EQ(requests[0].requested_by, "admin");
  EXPECT_EQ(requests[0].reason, "user carol was deleted");
}

TEST_F(ApiPolicyTest, NodeListSaysWhetherASessionStartWouldBeAllowed) {
  add_node("web-1", {{"env", "dev"}});
  const json as_admin = json::parse(call("GET", "/v1/nodes", "", admin_).body)["nodes"][0]["session_start"];
  EXPECT_EQ(as_admin["allowed"], true);
  EXPECT_EQ(as_admin["run_as"], "sallyport-user");
  const std::string reader = user("reader", {"ReadOnly"}, json{{"runAs", "reader"}});
  const json as_reader = json::parse(call("GET", "/v1/nodes", "", reader).body)["nodes"][0]["session_start"];
  EXPECT_EQ(as_reader["allowed"], false);
  EXPECT_EQ(as_reader["run_as"], "reader");
  EXPECT_FALSE(as_reader["reason"].get<std::string>().empty());
}

TEST_F(ApiPolicyTest, NodeListSaysWhetherAPortForwardWouldBeAllowedWhenAsked) {
  add_node("web-1", {{"role", "web"}});
  add_node("db-1", {{"role", "db"}});
  const json policy = {
      {"Version", "2012-10-17"},
      {"Statement",
       {{{"Effect", "Allow"}, {"Action", "node:List"}, {"Resource", "*"}},
        {{"Effect", "Allow"},
         {"Action", "session:PortForward"},
         {"Resource", "node/*"},
         {"Condition", {{"StringEquals", {{"forward:port", "22"}, {"forward:host", "localhost"}, {"node:tag/role", "web"}}}}}}}}};
  create_policy("ssh-web", policy.dump());
  const std::string ops = user("ops", {"ssh-web"});
  std::map<std::string, json> by_name;
  const auto listed = call("GET", "/v1/nodes?forward_port=22", "", ops);
  ASSERT_EQ(listed.status, 200u) << listed.body;
  const json nodes = json::parse(listed.body)["nodes"];
  for (const auto& node : nodes) {
    by_name[node["name"].get<std::string>()] = node["port_forward"];
  }
  ASSERT_EQ(by_name.size(), 2u) << listed.body;
  EXPECT_EQ(by_name["web-1"]["allowed"], true);
  EXPECT_EQ(by_name["web-1"]["port"], 22);
  EXPECT_EQ(by_name["web-1"]["host"], "localhost");
  EXPECT_EQ(by_name["db-1"]["allowed"], false);
  EXPECT_FALSE(by_name["db-1"]["reason"].get<std::string>().empty());
  // Another port or host is decided as asked; without the parameter nothing is said.
  const auto other = json::parse(call("GET", "/v1/nodes?forward_port=2222", "", ops).body)["nodes"];
  for (const auto& node : other) EXPECT_EQ(node["port_forward"]["allowed"], false) << node.dump();
  const auto elsewhere = json::parse(call("GET", "/v1/nodes?forward_port=22&forward_host=10.0.0.5", "", ops).body)["nodes"];
  for (const auto& node : elsewhere) EXPECT_EQ(node["port_forward"]["allowed"], false) << node.dump();
  const auto unasked = json::parse(call("GET", "/v1/nodes", "", ops).body)["nodes"];
  for (const auto& node : unasked) EXPECT_FALSE(node.contains("port_forward"));
  for (const std::string bad : {"0", "65536", "22x", "-1", "999999999999"}) {
    EXPECT_EQ(call("GET", "/v1/nodes?forward_port=" + bad, "", ops).status, 400u) << bad;
  }
}

TEST_F(ApiPolicyTest, RecordingReadFollowsPolicyAndRefusesPathTricks) {
  const std::string node = add_node("web-1", {{"env", "prod"}});
  add_session("bob-1", "bob", node, /*ended=*/true);
  add_session("bob-2", "bob", node, /*ended=*/true);
  const std::string bob = user("bob", {"SessionUser"});
  const std::string alice = user("alice", {"SessionUser"});
  auto response = call("GET", "/v1/sessions/bob-1/recording", "", bob);
  EXPECT_EQ(response.status, 200u) << response.body;
  EXPECT_EQ(response.content_type, "application/x-asciicast");
  EXPECT_EQ(response.body.rfind("{\"version\": 2}", 0), 0u);
  EXPECT_EQ(call("GET", "/v1/sessions/bob-1/recording", "", admin_).status, 200u);
  EXPECT_EQ(call("GET", "/v1/sessions/bob-1/recording", "", alice).status, 403u);
  EXPECT_EQ(call("GET", "/v1/sessions/bob-2/recording", "", bob).status, 404u);   // none stored
  add_session("bob-3", "bob", node, /*ended=*/true);
  const auto large = call("GET", "/v1/sessions/bob-3/recording", "", bob);
  EXPECT_EQ(large.status, 413u) << large.body;
  EXPECT_NE(large.body.find("700 MiB"), std::string::npos) << large.body;
  EXPECT_EQ(call("GET", "/v1/sessions/bob-9/recording", "", bob).status, 404u);   // no session
  EXPECT_EQ(call("GET", "/v1/sessions/../recording", "", bob).status, 400u);
  EXPECT_EQ(call("GET", "/v1/sessions/..%2Fstate.db/recording", "", bob).status, 400u);
  EXPECT_EQ(call("GET", "/v1/sessions/bob-1/recording", "").status, 401u);
  const auto audit = json::parse(call("GET", "/v1/audit", "", admin_).body);
  int denied = 0;
  for (const auto& event : audit["events"]) {
    if (event["action"] == "recording:Read" && event["outcome"] == "denied") ++denied;
  }
  EXPECT_EQ(denied, 3);  // alice's attempt and the two path tricks
}
