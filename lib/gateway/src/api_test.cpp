// The API against a real SQLite store, with a manual clock.
#include "sallyport/gateway/api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "sallyport/crypto/crypto.hpp"
#include "sallyport/util/files.hpp"
#include "web_auth.hpp"

using namespace sallyport;
using namespace sallyport::gateway;
using nlohmann::json;

namespace {

struct NoSessions : SessionControl {
  bool terminate(const std::string&, const std::string&, const std::string&) override { return false; }
  std::string waiting_for(const std::string&) override { return ""; }
  recording::RecordingRead read_recording(const std::string&) override {
    return recording::RecordingRead::failed(recording::RecordingRead::Failure::kNotFound, "no recordings in this test");
  }
};

struct RecordingLinks : LinkControl {
  std::vector<std::string> disconnected;
  void disconnect(const std::string& node_id, const std::string&) override { disconnected.push_back(node_id); }
};

class ApiTest : public ::testing::Test {
 protected:
  ApiTest()
      : dir_(std::filesystem::temp_directory_path() / ("sp-api-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))),
        clock_(1'800'000'000'000) {
    std::filesystem::create_directories(dir_);
    crypto::initialize();
    store_ = store::open_sqlite((dir_ / "state.db").string());
    store_->create_user({"admin", crypto::hash_password("admin-password"), {}, true, clock_.now_ms()});
    auditor_ = std::make_unique<Auditor>(*store_, clock_, dir_ / "audit.log");
    auth_ = std::make_unique<Authenticator>(*store_, clock_, 3'600'000);
    api_ = std::make_unique<Api>(*store_, *auth_, *auditor_, clock_, links_, sessions_, ApiSettings{25'000, "test"});
  }
  ~ApiTest() override { std::filesystem::remove_all(dir_); }

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

  std::string login(const std::string& user, const std::string& password) {
    const auto response = call("POST", "/v1/auth/login", json{{"user", user}, {"password", password}}.dump());
    EXPECT_EQ(response.status, 200u) << response.body;
    return json::parse(response.body)["token"];
  }

  // The web console's requests: the session cookie (among others) and, when given, the CSRF header.
  transport::HttpResponse web_call(const std::string& method, const std::string& target, const std::string& body,
                                   const std::string& cookie, const std::string& csrf = "") {
    transport::HttpRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.remote_address = "127.0.0.7";
    if (!cookie.empty()) request.headers.emplace_back("Cookie", "theme=dark; sp_session=" + cookie);
    if (!csrf.empty()) request.headers.emplace_back("X-CSRF-Token", csrf);
    return api_->handle(request);
  }

  static std::string header(const transport::HttpResponse& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return "";
  }

  // Logs in through the console's route; returns {cookie token, csrf token}.
  std::pair<std::string, std::string> web_login() {
    const auto response = web_call("POST", "/v1/auth/session", R"({"user":"admin","password":"admin-password"})", "");
    EXPECT_EQ(response.status, 200u) << response.body;
    const json body = json::parse(response.body);
    EXPECT_FALSE(body.contains("token"));  // the secret lives only in the HttpOnly cookie
    const std::string set_cookie = header(response, "Set-Cookie");
    EXPECT_NE(set_cookie.find("HttpOnly; Secure; SameSite=Strict"), std::string::npos) << set_cookie;
    const std::string token = cookie_value(set_cookie.substr(0, set_cookie.find(';')), kSessionCookie);
    EXPECT_FALSE(token.empty());
    return {token, body["csrf_token"].get<std::string>()};
  }

  json activation(const std::string& token, json body) {
    const auto response = call("POST", "/v1/activations", body.dump(), token);
    EXPECT_EQ(response.status, 201u) << response.body;
    return json::parse(response.body);
  }

  transport::HttpResponse register_node(const json& activation, const std::string& code, json extra = json::object()) {
    json body = {{"activation_id", activation["id"]},
                 {"activation_code", code},
                 {"public_key", crypto::base64url_encode(crypto::SigningKey::generate().public_key)}};
    body.update(extra);
    return call("POST", "/v1/agents/register", body.dump());
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  util::ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Auditor> auditor_;
  std::unique_ptr<Authenticator> auth_;
  RecordingLinks links_;
  NoSessions sessions_;
  std::unique_ptr<Api> api_;
};

}  // namespace

TEST_F(ApiTest, HealthAndUnknownRoutes) {
  EXPECT_EQ(call("GET", "/v1/health").status, 200u);
  EXPECT_EQ(call("GET", "/nope").status, 404u);
  const std::string token = login("admin", "admin-password");
  EXPECT_EQ(call("GET", "/v1/nothing", "", token).status, 404u);
}

// Found by the API fuzzer: a path that is not UTF-8 is echoed in the error message.
TEST_F(ApiTest, NonUtf8PathGetsAJsonErrorNotAnException) {
  const std::string token = login("admin", "admin-password");
  const auto response = call("POST", "/v1/gro\xa6\xa6ups/x/members", R"({"user":"admin"})", token);
  EXPECT_EQ(response.status, 404u);
  EXPECT_TRUE(json::accept(response.body)) << response.body;
}

TEST_F(ApiTest, MissingOrBadTokenIs401) {
  EXPECT_EQ(call("GET", "/v1/nodes").status, 401u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", "spt_forged").status, 401u);
}

TEST_F(ApiTest, TokenExpires) {
  const std::string token = login("admin", "admin-password");
  EXPECT_EQ(call("GET", "/v1/auth/whoami", "", token).status, 200u);
  clock_.advance(3'600'001);
  EXPECT_EQ(call("GET", "/v1/auth/whoami", "", token).status, 401u);
}

TEST_F(ApiTest, RefreshReplacesTokenAndLogoutRevokes) {
  const std::string token = login("admin", "admin-password");
  const auto refreshed = call("POST", "/v1/auth/refresh", "", token);
  ASSERT_EQ(refreshed.status, 200u);
  const std::string fresh = json::parse(refreshed.body)["token"];
  EXPECT_EQ(call("GET", "/v1/auth/whoami", "", token).status, 401u);
  EXPECT_EQ(call("GET", "/v1/auth/whoami", "", fresh).status, 200u);
  EXPECT_EQ(call("POST", "/v1/auth/logout", "", fresh).status, 200u);
  EXPECT_EQ(call("GET", "/v1/auth/whoami", "", fresh).status, 401u);
}

TEST_F(ApiTest, MalformedJsonIs400WithMessage) {
  const auto response = call("POST", "/v1/auth/login", "{not json");
  EXPECT_EQ(response.status, 400u);
  EXPECT_NE(response.body.find("not valid JSON"), std::string::npos);
  const std::string token = login("admin", "admin-password");
  const auto wrong_type = call("POST", "/v1/activations", R"({"limit":"five"})", token);
  EXPECT_EQ(wrong_type.status, 400u);
  EXPECT_NE(wrong_type.body.find("limit"), std::string::npos);
}

TEST_F(ApiTest, FailedLoginsAreRateLimitedPerUser) {
  for (int i = 0; i < kMaxFailuresPerUser; ++i) {
    EXPECT_EQ(call("POST", "/v1/auth/login", R"({"user":"admin","password":"wrong"})").status, 401u);
  }
  // Even the right password is refused while limited, then accepted after the window.
  EXPECT_EQ(call("POST", "/v1/auth/login", R"({"user":"admin","password":"admin-password"})").status, 429u);
  clock_.advance(kFailureWindowMs + 1);
  EXPECT_EQ(call("POST", "/v1/auth/login", R"({"user":"admin","password":"admin-password"})").status, 200u);
}

TEST_F(ApiTest, ActivationLifecycleAndRegistration) {
  const std::string token = login("admin", "admin-password");
  const json created = activation(token, {{"name", "web"}, {"tags", {{"env", "dev"}}}, {"limit", 2}, {"expires_in_seconds", 3600}});
  const std::string code = created["code"];
  EXPECT_FALSE(code.empty());

  const auto wrong = register_node(created, "wrong-code");
  EXPECT_EQ(wrong.status, 403u);
  EXPECT_NE(wrong.body.find("wrong"), std::string::npos);

  const auto first = register_node(created, code, {{"name", "web-1"}, {"tags", {{"team", "core"}, {"env", "prod"}}}});
  ASSERT_EQ(first.status, 200u) << first.body;
  const json node = json::parse(first.body);
  EXPECT_TRUE(std::regex_match(node["node_id"].get<std::string>(), std::regex("mi-[0-9a-f]{17}")));
  EXPECT_EQ(node["tags"]["env"], "dev");  // the activation's tag wins
  EXPECT_EQ(node["tags"]["team"], "core");

  EXPECT_EQ(register_node(created, code).status, 200u);
  const auto exhausted = register_node(created, code);
  EXPECT_EQ(exhausted.status, 403u);
  EXPECT_NE(exhausted.body.find("limit"), std::string::npos);

  const json second = activation(token, {{"expires_in_seconds", 60}});
  clock_.advance(61'000);
  const auto expired = register_node(second, second["code"]);
  EXPECT_EQ(expired.status, 403u);
  EXPECT_NE(expired.body.find("expired"), std::string::npos);

  const auto list = json::parse(call("GET", "/v1/activations", "", token).body);
  EXPECT_EQ(list["activations"].size(), 2u);
  EXPECT_EQ(list["activations"][0].count("code"), 0u);
  EXPECT_EQ(call("DELETE", "/v1/activations/" + created["id"].get<std::string>(), "", token).status, 200u);
  EXPECT_EQ(call("DELETE", "/v1/activations/" + created["id"].get<std::string>(), "", token).status, 404u);
}

TEST_F(ApiTest, RegistrationRefusesBadKey) {
  const std::string token = login("admin", "admin-password");
  const json created = activation(token, json::object());
  const auto response = call("POST", "/v1/agents/register",
                             json{{"activation_id", created["id"]}, {"activation_code", created["code"]}, {"public_key", "abc"}}.dump());
  EXPECT_EQ(response.status, 400u);
}

TEST_F(ApiTest, NodesListShowTagDeregister) {
  const std::string token = login("admin", "admin-password");
  const json created = activation(token, {{"limit", 5}});
  const std::string id = json::parse(register_node(created, created["code"], {{"name", "db-1"}}).body)["node_id"];
  const auto list = json::parse(call("GET", "/v1/nodes", "", token).body);
  ASSERT_EQ(list["nodes"].size(), 1u);
  EXPECT_EQ(list["nodes"][0]["ping_status"], "ConnectionLost");
  store_->set_node_connection(id, true, "gw-test", clock_.now_ms());
  EXPECT_EQ(json::parse(call("GET", "/v1/nodes/db-1", "", token).body)["ping_status"], "Online");
  clock_.advance(26'000);
  EXPECT_EQ(json::parse(call("GET", "/v1/nodes/" + id, "", token).body)["ping_status"], "ConnectionLost");

  const auto tagged = call("PUT", "/v1/nodes/" + id + "/tags", R"({"tags":{"role":"db"}})", token);
  ASSERT_EQ(tagged.status, 200u) << tagged.body;
  EXPECT_EQ(json::parse(tagged.body)["tags"]["role"], "db");
  EXPECT_EQ(call("PUT", "/v1/nodes/" + id + "/tags", R"({"tags":{"bad key":"x"}})", token).status, 400u);

  EXPECT_EQ(call("DELETE", "/v1/nodes/" + id, "", token).status, 200u);
  EXPECT_EQ(links_.disconnected, std::vector<std::string>{id});
  EXPECT_EQ(call("GET", "/v1/nodes/" + id, "", token).status, 404u);
  EXPECT_TRUE(store_->get_node(id)->revoked);
}

// Permissions come from policies only: alice holds the built-in SessionUser, which lets her
// browse nodes but administer nothing.
TEST_F(ApiTest, SessionUserMayListNodesOnly) {
  const std::string admin = login("admin", "admin-password");
  ASSERT_EQ(call("POST", "/v1/users",
                 R"({"name":"alice","password":"alice-password","tags":{"team":"core"},"policies":["SessionUser"]})", admin)
                .status,
            201u);
  EXPECT_EQ(call("POST", "/v1/users", R"({"name":"alice","password":"alice-password"})", admin).status, 409u);
  EXPECT_EQ(call("POST", "/v1/users", R"({"name":"bob","password":"short"})", admin).status, 400u);
  const std::string alice = login("alice", "alice-password");
  EXPECT_EQ(call("GET", "/v1/nodes", "", alice).status, 200u);
  EXPECT_EQ(call("GET", "/v1/activations", "", alice).status, 403u);
  EXPECT_EQ(call("POST", "/v1/activations", "{}", alice).status, 403u);
  EXPECT_EQ(call("POST", "/v1/users", R"({"name":"eve","password":"eve-password"})", alice).status, 403u);
  EXPECT_EQ(call("GET", "/v1/audit", "", alice).status, 403u);
  // Users may change their own password; it ends their logins.
  EXPECT_EQ(call("PUT", "/v1/users/alice/password", R"({"password":"new-password"})", alice).status, 200u);
  EXPECT_EQ(call("GET", "/v1/nodes", "", alice).status, 401u);
  EXPECT_EQ(call("PUT", "/v1/users/admin/password", R"({"password":"new-password"})", login("alice", "new-password")).status, 403u);
  EXPECT_EQ(call("DELETE", "/v1/users/alice", "", admin).status, 200u);
  EXPECT_EQ(call("GET", "/v1/users", "", admin).status, 200u);
}

TEST_F(ApiTest, AuditRecordsEventsWithoutSecrets) {
  const std::string token = login("admin", "admin-password");
  call("POST", "/v1/auth/login", R"({"user":"admin","password":"wrong-secret-pw"})");
  const json created = activation(token, json::object());
  const std::string code = created["code"];
  register_node(created, code);
  const auto response = call("GET", "/v1/audit?since=1h", "", token);
  ASSERT_EQ(response.status, 200u);
  const auto events = json::parse(response.body)["events"];
  std::set<std::string> actions;
  for (const auto& event : events) actions.insert(event["action"].get<std::string>() + "/" + event["outcome"].get<std::string>());
  EXPECT_TRUE(actions.count("auth:Login/success"));
  EXPECT_TRUE(actions.count("auth:Login/failure"));
  EXPECT_TRUE(actions.count("activation:Create/success"));
  EXPECT_TRUE(actions.count("agent:Register/success"));
  const std::string log = util::read_file(dir_ / "audit.log");
  for (const std::string& secret : {std::string("admin-password"), std::string("wrong-secret-pw"), code, token}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
    EXPECT_EQ(response.body.find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(call("GET", "/v1/audit?since=yesterday", "", token).status, 400u);
}

// The web console's cookie session and CSRF protection.
TEST_F(ApiTest, WebSessionCookieAuthenticatesReadsAndWhoamiGivesTheCsrfToken) {
  const auto [cookie, csrf] = web_login();
  EXPECT_EQ(web_call("GET", "/v1/nodes", "", cookie).status, 200u);
  const auto whoami = web_call("GET", "/v1/auth/whoami", "", cookie);
  ASSERT_EQ(whoami.status, 200u);
  const json me = json::parse(whoami.body);
  EXPECT_EQ(me["csrf_token"], csrf);
  EXPECT_EQ(me["can"]["user:List"], true);
  EXPECT_EQ(web_call("GET", "/v1/nodes", "", "spt_forged").status, 401u);
}

TEST_F(ApiTest, WebSessionStateChangeWithoutTheCsrfTokenIsRefusedAndAudited) {
  const auto [cookie, csrf] = web_login();
  const std::string body = R"({"name":"mallory","password":"0123456789ab"})";
  const auto forged = web_call("POST", "/v1/users", body, cookie);
  EXPECT_EQ(forged.status, 403u);
  EXPECT_NE(forged.body.find("csrf"), std::string::npos);
  EXPECT_FALSE(store_->get_user("mallory"));
  EXPECT_EQ(web_call("POST", "/v1/users", body, cookie, std::string(64, '0')).status, 403u);
  EXPECT_EQ(web_call("DELETE", "/v1/auth/session", "", cookie).status, 403u);  // logout too
  const auto events = store_->list_audit(0, 100);
  EXPECT_TRUE(std::any_of(events.begin(), events.end(),
                          [](const store::AuditEvent& e) { return e.action == "auth:Csrf" && e.outcome == "denied"; }));
  EXPECT_EQ(web_call("POST", "/v1/users", body, cookie, csrf).status, 201u);
  EXPECT_TRUE(store_->get_user("mallory"));
}

TEST_F(ApiTest, WebSessionBearerRequestsNeedNoCsrfToken) {
  const auto login = call("POST", "/v1/auth/login", R"({"user":"admin","password":"admin-password"})");
  const std::string token = json::parse(login.body)["token"];
  transport::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/groups";
  request.body = R"({"name":"ops"})";
  request.headers.emplace_back("Authorization", "Bearer " + token);
  EXPECT_EQ(api_->handle(request).status, 201u);
}

TEST_F(ApiTest, WebSessionLogoutRevokesAndClearsTheCookie) {
  const auto [cookie, csrf] = web_login();
  const auto response = web_call("DELETE", "/v1/auth/session", "", cookie, csrf);
  ASSERT_EQ(response.status, 200u);
  EXPECT_NE(header(response, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(web_call("GET", "/v1/nodes", "", cookie).status, 401u);
}

TEST_F(ApiTest, WebSessionExpiredCookieIs401) {
  const auto [cookie, csrf] = web_login();
  clock_.advance(3'600'001);
  EXPECT_EQ(web_call("GET", "/v1/auth/whoami", "", cookie).status, 401u);
}

TEST_F(ApiTest, WebSessionWrongPasswordSetsNoCookie) {
  const auto response = web_call("POST", "/v1/auth/session", R"({"user":"admin","password":"nope"})", "");
  EXPECT_EQ(response.status, 401u);
  EXPECT_EQ(header(response, "Set-Cookie"), "");
}

TEST_F(ApiTest, WebSessionPoliciesStillDecideForCookieCallers) {
  store_->create_user({"bob", crypto::hash_password("bob-password-1"), {}, false, clock_.now_ms()});
  const auto response = web_call("POST", "/v1/auth/session", R"({"user":"bob","password":"bob-password-1"})", "");
  ASSERT_EQ(response.status, 200u);
  const std::string set_cookie = header(response, "Set-Cookie");
  const std::string cookie = cookie_value(set_cookie.substr(0, set_cookie.find(';')), kSessionCookie);
  const std::string csrf = json::parse(response.body)["csrf_token"];
  EXPECT_EQ(web_call("GET", "/v1/users", "", cookie).status, 403u);
  EXPECT_EQ(web_call("POST", "/v1/users", R"({"name":"eve","password":"0123456789ab"})", cookie, csrf).status, 403u);
  EXPECT_EQ(json::parse(web_call("GET", "/v1/auth/whoami", "", cookie).body)["can"]["user:List"], false);
}

TEST_F(ApiTest, WebSessionLoginFromAnotherOriginIsRefused) {
  transport::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/auth/session";
  request.body = R"({"user":"admin","password":"admin-password"})";
  request.headers = {{"Origin", "https://evil.example"}, {"Host", "gw:8443"}};
  const auto refused = api_->handle(request);
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(header(refused, "Set-Cookie"), "");
  request.headers = {{"Origin", "https://gw:8443"}, {"Host", "gw:8443"}};
  EXPECT_EQ(api_->handle(request).status, 200u);
}
