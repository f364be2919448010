// The commands against a fake gateway: argument checks before any network call, exit codes,
// login storage, token refresh and the printed output.
#include <gtest/gtest.h>

#include "commands.hpp"
#include "error.hpp"
#include "sallyport/crypto/pki.hpp"
#include "sallyport/util/files.hpp"
#include "test_support.hpp"

namespace sallyport::cli {
namespace {

using testing::Harness;
using testing::json_answer;
using testing::kNow;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- argument checks: exit 2 with a clear message and nothing sent -------------------------

struct BadArguments : ::testing::TestWithParam<std::pair<std::vector<std::string>, std::string>> {};

TEST_P(BadArguments, FailBeforeAnyNetworkCall) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, "{}"); };
  const auto& [args, message] = GetParam();
  EXPECT_EQ(harness.run(args), kExitUsage) << harness.err.str();
  EXPECT_TRUE(contains(harness.err.str(), message)) << harness.err.str();
  EXPECT_TRUE(contains(harness.err.str(), "sallyport: ")) << harness.err.str();
  EXPECT_TRUE(harness.requests.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Commands, BadArguments,
    ::testing::Values(
        std::pair{std::vector<std::string>{"activations", "create", "--tags", "env"}, "--tags: tag 'env' is not of the form key=value"},
        std::pair{std::vector<std::string>{"activations", "create", "--tags", "bad key=x"}, "--tags: tag key 'bad key'"},
        std::pair{std::vector<std::string>{"activations", "create", "--expires", "soon"}, "--expires: 'soon' is not a duration"},
        std::pair{std::vector<std::string>{"activations", "create", "--expires", "-5h"}, "--expires"},
        std::pair{std::vector<std::string>{"activations", "create", "--expires", "30s"}, "--expires must be between 1m and 30d"},
        std::pair{std::vector<std::string>{"activations", "create", "--expires", "31d"}, "--expires must be between 1m and 30d"},
        std::pair{std::vector<std::string>{"activations", "create", "--limit", "0"}, "--limit"},
        std::pair{std::vector<std::string>{"activations", "create", "--limit", "many"}, "--limit"},
        std::pair{std::vector<std::string>{"users", "create", "bob", "--tags", "a=b,=c"}, "--tags: tag key is empty"},
        std::pair{std::vector<std::string>{"nodes", "tag", "mi-1", "nonsense"}, "not of the form key=value"},
        std::pair{std::vector<std::string>{"nodes", "tag", "mi-1"}, "give tags"},
        std::pair{std::vector<std::string>{"nodes", "tag", "mi-1", "--remove", "a b"}, "--remove"},
        std::pair{std::vector<std::string>{"nodes", "show", ""}, "must not be empty"},
        std::pair{std::vector<std::string>{"audit", "ls", "--since", "yesterday"}, "--since: 'yesterday' is not an RFC 3339 time"},
        std::pair{std::vector<std::string>{"audit", "ls", "--limit", "0"}, "--limit"},
        std::pair{std::vector<std::string>{"nodes"}, "subcommand"},
        std::pair{std::vector<std::string>{"frobnicate"}, "frobnicate"},
        std::pair{std::vector<std::string>{}, "subcommand"},
        std::pair{std::vector<std::string>{"login", "--user", "admin", "--ca-fingerprint", "SHA256:ab"}, "--gateway"},
        std::pair{std::vector<std::string>{"login", "--gateway", "http://127.0.0.1:8443", "--user", "admin",
                                           "--ca-fingerprint", "SHA256:ab"}, "--gateway"},
        std::pair{std::vector<std::string>{"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin",
                                           "--ca-fingerprint", "SHA256:xyz"}, "--ca-fingerprint: 'SHA256:xyz' is not"},
        std::pair{std::vector<std::string>{"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin",
                                           "--ca-file", "/nonexistent/ca.pem"}, "--ca-file"},
        std::pair{std::vector<std::string>{"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin",
                                           "--ca-fingerprint", "SHA256:ab", "--ca-file", "x"}, "excludes"}));

TEST(Commands, NotLoggedInIsExit3) {
  Harness harness;
  EXPECT_EQ(harness.run({"nodes", "ls"}), kExitNotLoggedIn);
  EXPECT_TRUE(contains(harness.err.str(), "sallyport: not logged in: run `sallyport login")) << harness.err.str();
  EXPECT_TRUE(harness.requests.empty());
}

TEST(Commands, HelpAndVersionExitZero) {
  Harness harness;
  EXPECT_EQ(harness.run({"--help"}), kExitOk);
  EXPECT_TRUE(contains(harness.out.str(), "Exit codes:"));
  EXPECT_TRUE(contains(harness.out.str(), "6  cannot reach or trust the gateway"));
  EXPECT_TRUE(contains(harness.out.str(), "activations"));
  Harness version;
  EXPECT_EQ(version.run({"--version"}), kExitOk);
  EXPECT_TRUE(contains(version.out.str(), "sallyport 0.1.0"));
}

// --- login --------------------------------------------------------------------------------

transport::HttpResponse login_ok(const transport::HttpRequest& request) {
  if (request.target == "/v1/auth/login") {
    return json_answer(200, R"({"token":"tok-new","expires_at":"2027-01-15T09:00:00.000Z","user":"admin"})");
  }
  return json_answer(404, R"({"error":{"code":"not_found","message":"no such route"}})");
}

TEST(Login, WithoutTrustRefusesWithGuidance) {
  Harness harness;
  harness.env["SALLYPORT_PASSWORD"] = "admin-pass-123";
  harness.gateway = login_ok;
  EXPECT_EQ(harness.run({"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin"}), kExitUnreachable);
  EXPECT_TRUE(contains(harness.err.str(), "the gateway's CA is not trusted yet: pass --ca-fingerprint SHA256:<hex>"));
  EXPECT_TRUE(contains(harness.err.str(), "--ca-file DATA_DIR/tls/ca.pem"));
  EXPECT_TRUE(harness.requests.empty());
}

TEST(Login, SavesTokenAndPinnedCaPrivately) {
  Harness harness;
  harness.env["SALLYPORT_PASSWORD"] = "admin-pass-123";
  harness.gateway = login_ok;
  const std::string fingerprint = "SHA256:" + std::string(64, 'A');
  ASSERT_EQ(harness.run({"login", "--gateway", "https://127.0.0.1:8443/", "--user", "admin", "--ca-fingerprint",
                         fingerprint}),
            kExitOk)
      << harness.err.str();
  EXPECT_EQ(harness.out.str(),
            "Logged in to https://127.0.0.1:8443 as admin (token valid until 2027-01-15T09:00:00.000Z)\n");
  ASSERT_EQ(harness.requests.size(), 1u);
  EXPECT_EQ(harness.request_options[0].trust.fingerprint, "SHA256:" + std::string(64, 'a'));  // normalised
  EXPECT_EQ(nlohmann::json::parse(harness.requests[0].body),
            (nlohmann::json{{"user", "admin"}, {"password", "admin-pass-123"}}));

  const ConfigStore store(harness.config_dir());
  const auto credentials = store.load_credentials();
  ASSERT_TRUE(credentials);
  EXPECT_EQ(credentials->gateway, "https://127.0.0.1:8443");
  EXPECT_EQ(credentials->token, "tok-new");
  EXPECT_EQ(store.load_ca().value_or(""), harness.trusted_ca_pem);

  // The saved CA makes the trust flags unnecessary for the same gateway.
  Harness again;
  again.env = harness.env;
  again.gateway = login_ok;
  EXPECT_EQ(again.run({"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin"}), kExitOk) << again.err.str();
  EXPECT_EQ(again.request_options[0].trust.ca_pem, harness.trusted_ca_pem);
  // ...but not for another one.
  EXPECT_EQ(again.run({"login", "--gateway", "https://10.0.0.1:8443", "--user", "admin"}), kExitUnreachable);
}

TEST(Login, PasswordFromTheTerminalAndNeverPrinted) {
  Harness harness;
  harness.gateway = login_ok;
  harness.secrets = {"typed-secret-1"};
  ASSERT_EQ(harness.run({"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin", "--ca-fingerprint",
                         "SHA256:" + std::string(64, 'b')}),
            kExitOk);
  ASSERT_EQ(harness.prompts.size(), 1u);
  EXPECT_EQ(harness.prompts[0], "Password for admin at https://127.0.0.1:8443: ");
  EXPECT_EQ(nlohmann::json::parse(harness.requests[0].body)["password"], "typed-secret-1");
  EXPECT_FALSE(contains(harness.out.str() + harness.err.str(), "typed-secret-1"));
  EXPECT_FALSE(contains(harness.out.str() + harness.err.str(), "tok-new"));
}

TEST(Login, NoPasswordSourceIsAClearError) {
  Harness harness;
  harness.gateway = login_ok;
  EXPECT_EQ(harness.run({"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin", "--ca-fingerprint",
                         "SHA256:" + std::string(64, 'b')}),
            kExitUsage);
  EXPECT_TRUE(contains(harness.err.str(), "set SALLYPORT_PASSWORD"));
  EXPECT_TRUE(harness.requests.empty());
}

TEST(Login, WrongPasswordIsExit3WithTheGatewaysMessage) {
  Harness harness;
  harness.env["SALLYPORT_PASSWORD"] = "wrong";
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(401, R"({"error":{"code":"bad_credentials","message":"wrong user name or password"}})");
  };
  EXPECT_EQ(harness.run({"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin", "--ca-fingerprint",
                         "SHA256:" + std::string(64, 'b')}),
            kExitNotLoggedIn);
  EXPECT_EQ(harness.err.str(), "sallyport: wrong user name or password\n");
  EXPECT_FALSE(ConfigStore(harness.config_dir()).load_credentials());
}

TEST(Login, UnreachableGatewayIsExit6) {
  Harness harness;  // no gateway: the fake transport refuses
  harness.env["SALLYPORT_PASSWORD"] = "pw";
  EXPECT_EQ(harness.run({"login", "--gateway", "https://127.0.0.1:8443", "--user", "admin", "--ca-fingerprint",
                         "SHA256:" + std::string(64, 'b')}),
            kExitUnreachable);
  EXPECT_EQ(harness.err.str(), "sallyport: cannot connect to https://127.0.0.1:8443: refused\n");
}

// --- token refresh, logout, whoami --------------------------------------------------------

TEST(Session, RefreshesATokenThatExpiresSoon) {
  Harness harness;
  harness.log_in(5 * 60 * 1000);
  harness.gateway = [](const transport::HttpRequest& request) {
    if (request.target == "/v1/auth/refresh") {
      return json_answer(200, R"({"token":"tok-fresh","expires_at":"2027-01-15T10:00:00.000Z","user":"admin"})");
    }
    return json_answer(200, R"({"nodes":[]})");
  };
  ASSERT_EQ(harness.run({"nodes", "ls"}), kExitOk) << harness.err.str();
  ASSERT_EQ(harness.requests.size(), 2u);
  EXPECT_EQ(harness.requests[0].target, "/v1/auth/refresh");
  EXPECT_EQ(harness.requests[0].header("authorization"), "Bearer tok-secret");
  EXPECT_EQ(harness.requests[1].header("authorization"), "Bearer tok-fresh");
  const auto saved = ConfigStore(harness.config_dir()).load_credentials();
  EXPECT_EQ(saved->token, "tok-fresh");
  EXPECT_EQ(saved->expires_at, "2027-01-15T10:00:00.000Z");
}

TEST(Session, FreshTokenIsNotRefreshed) {
  Harness harness;
  harness.log_in(30 * 60 * 1000);
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, R"({"nodes":[]})"); };
  ASSERT_EQ(harness.run({"nodes", "ls"}), kExitOk);
  ASSERT_EQ(harness.requests.size(), 1u);
  EXPECT_EQ(harness.requests[0].target, "/v1/nodes");
  EXPECT_EQ(harness.request_options[0].trust.ca_pem, harness.trusted_ca_pem);
  EXPECT_EQ(harness.request_options[0].gateway.to_string(), "https://127.0.0.1:8443");
}

TEST(Session, ExpiredLoginIsExit3) {
  Harness harness;
  harness.log_in(-60 * 1000);
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(401, R"({"error":{"code":"unauthorized","message":"token is invalid or expired"}})");
  };
  EXPECT_EQ(harness.run({"users", "ls"}), kExitNotLoggedIn);
  EXPECT_TRUE(contains(harness.err.str(), "has expired: run `sallyport login --gateway https://127.0.0.1:8443 --user admin`"))
      << harness.err.str();
}

TEST(Logout, ForgetsTheLoginEvenWhenTheGatewayIsUnreachable) {
  Harness harness;
  harness.log_in();
  EXPECT_EQ(harness.run({"logout"}), kExitOk);
  EXPECT_TRUE(contains(harness.err.str(), "warning: could not tell the gateway"));
  EXPECT_FALSE(ConfigStore(harness.config_dir()).load_credentials());
  EXPECT_EQ(harness.requests.at(0).target, "/v1/auth/logout");
  // A second logout has nothing to do; the next command is not logged in.
  EXPECT_EQ(harness.run({"logout"}), kExitOk);
  EXPECT_EQ(harness.run({"whoami"}), kExitNotLoggedIn);
}

TEST(Logout, TellsTheGateway) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, R"({"status":"logged out"})"); };
  EXPECT_EQ(harness.run({"logout"}), kExitOk);
  EXPECT_EQ(harness.out.str(), "Logged out of https://127.0.0.1:8443\n");
  EXPECT_EQ(harness.requests.at(0).header("authorization"), "Bearer tok-secret");
}

TEST(Whoami, ShowsUserAndGateway) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"name":"admin","admin":true,"tags":{"team":"ops"},"created_at":"x"})");
  };
  ASSERT_EQ(harness.run({"whoami"}), kExitOk);
  EXPECT_TRUE(contains(harness.out.str(), "User:              admin\n"));
  EXPECT_TRUE(contains(harness.out.str(), "Administrator:     yes\n"));
  EXPECT_TRUE(contains(harness.out.str(), "Tags:              team=ops\n"));
  EXPECT_TRUE(contains(harness.out.str(), "Gateway:           https://127.0.0.1:8443\n"));
  EXPECT_FALSE(contains(harness.out.str(), "tok-secret"));
}

// --- gateway errors -----------------------------------------------------------------------

TEST(Commands, GatewayErrorsMapToExitCodes) {
  const std::vector<std::pair<unsigned, int>> cases = {{400, kExitBadRequest}, {403, kExitForbidden},
                                                       {404, kExitNotFound},   {409, kExitConflict},
                                                       {429, kExitRateLimited}, {500, kExitError}};
  for (const auto& [status, code] : cases) {
    Harness harness;
    harness.log_in();
    harness.gateway = [status = status](const transport::HttpRequest&) {
      return json_answer(status, R"({"error":{"code":"x","message":"user alice is not allowed to node:Tag"}})");
    };
    EXPECT_EQ(harness.run({"nodes", "tag", "web", "env=prod"}), code) << status;
    EXPECT_EQ(harness.err.str(), "sallyport: user alice is not allowed to node:Tag\n");
  }
}

// --- activations --------------------------------------------------------------------------

TEST(Activations, CreatePrintsCodeOnceAndTheAgentCommand) {
  const auto ca = crypto::generate_ca("test CA");
  const auto fingerprint = crypto::certificate_fingerprint(ca.certificate_pem);
  ASSERT_TRUE(fingerprint);
  Harness harness;
  harness.log_in(3'600'000, ca.certificate_pem);
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(201, R"({"id":"act123","code":"CODE-xyz","name":"web","tags":{"env":"dev","team":"core"},
                                "registration_limit":5,"registrations":0,"expires_at":"2027-01-16T08:00:00.000Z"})");
  };
  ASSERT_EQ(harness.run({"activations", "create", "--name", "web", "--tags", "env=dev,team=core", "--limit", "5",
                         "--expires", "24h"}),
            kExitOk)
      << harness.err.str();
  EXPECT_EQ(nlohmann::json::parse(harness.requests.at(0).body),
            (nlohmann::json{{"name", "web"},
                            {"tags", {{"env", "dev"}, {"team", "core"}}},
                            {"limit", 5},
                            {"expires_in_seconds", 86400}}));
  const std::string out = harness.out.str();
  EXPECT_TRUE(contains(out, "Activation ID: act123\n"));
  EXPECT_TRUE(contains(out, "Activation code: CODE-xyz (shown once; the gateway keeps only a hash)\n"));
  EXPECT_TRUE(contains(out, "sallyport-agent register --gateway https://127.0.0.1:8443 --ca-fingerprint " +
                                *fingerprint +
                                " --activation-id act123 --activation-code CODE-xyz --state-dir /var/lib/sallyport-agent\n"))
      << out;
}

TEST(Activations, DefaultsAreLeftToTheGateway) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(201, R"({"id":"a","code":"c"})"); };
  ASSERT_EQ(harness.run({"activations", "create"}), kExitOk) << harness.err.str();
  EXPECT_EQ(nlohmann::json::parse(harness.requests.at(0).body), (nlohmann::json{{"tags", nlohmann::json::object()}}));
}

TEST(Activations, ListMarksExpiredOnes) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"activations":[
      {"id":"a1","name":"web","tags":{"env":"dev"},"registration_limit":5,"registrations":2,
       "expires_at":"2030-01-01T00:00:00.000Z","created_by":"admin"},
      {"id":"a2","name":"","tags":{},"registration_limit":1,"registrations":0,
       "expires_at":"2020-01-01T00:00:00.000Z","created_by":"admin"}]})");
  };
  ASSERT_EQ(harness.run({"activations", "ls"}), kExitOk);
  EXPECT_EQ(harness.out.str(),
            "ID  NAME  TAGS     USED  EXPIRES                             CREATED BY\n"
            "a1  web   env=dev  2/5   2030-01-01T00:00:00.000Z            admin\n"
            "a2                 0/1   2020-01-01T00:00:00.000Z (expired)  admin\n");
}

TEST(Activations, DeleteEncodesTheId) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, R"({"status":"deleted"})"); };
  ASSERT_EQ(harness.run({"activations", "delete", "a/b"}), kExitOk);
  EXPECT_EQ(harness.requests.at(0).method, "DELETE");
  EXPECT_EQ(harness.requests.at(0).target, "/v1/activations/a%2Fb");
}

// --- nodes --------------------------------------------------------------------------------

constexpr const char* kNodes = R"({"nodes":[
  {"id":"mi-0123456789abcdef0","name":"web","ping_status":"Online","platform":"Debian GNU/Linux 12",
   "agent_version":"0.1.0","ip_addresses":["10.0.0.5","172.17.0.1"],"tags":{"env":"dev"},
   "last_ping_at":"2027-01-15T08:00:00.000Z"},
  {"id":"mi-1","name":"db","ping_status":"ConnectionLost","platform":"","agent_version":"0.1.0",
   "ip_addresses":[],"tags":{},"last_ping_at":""}]})";

TEST(Nodes, ListTable) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, kNodes); };
  ASSERT_EQ(harness.run({"nodes", "ls"}), kExitOk);
  EXPECT_EQ(harness.out.str(),
            "NODE ID               NAME  PING STATUS     PLATFORM             AGENT  IP             TAGS     LAST PING\n"
            "mi-0123456789abcdef0  web   Online          Debian GNU/Linux 12  0.1.0  10.0.0.5 (+1)  env=dev  "
            "2027-01-15T08:00:00.000Z\n"
            "mi-1                  db    ConnectionLost                       0.1.0\n");
}

TEST(Nodes, ListJsonIsTheGatewaysJsonPretty) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, kNodes); };
  ASSERT_EQ(harness.run({"nodes", "ls", "--json"}), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(harness.out.str()), nlohmann::json::parse(kNodes));
  EXPECT_TRUE(contains(harness.out.str(), "\n  \"nodes\": [\n"));
}

TEST(Nodes, ShowByName) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"id":"mi-1","name":"web","ping_status":"Online","ip_addresses":["10.0.0.5"]})");
  };
  ASSERT_EQ(harness.run({"nodes", "show", "web"}), kExitOk);
  EXPECT_EQ(harness.requests.at(0).target, "/v1/nodes/web");
  EXPECT_TRUE(contains(harness.out.str(), "Node ID:       mi-1\n"));
  EXPECT_TRUE(contains(harness.out.str(), "Ping status:   Online\n"));
  EXPECT_TRUE(contains(harness.out.str(), "IP addresses:  10.0.0.5\n"));
}

TEST(Nodes, TagSendsAdditionsAndRemovals) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"id":"mi-1","name":"web","tags":{"env":"prod","team":"core"}})");
  };
  ASSERT_EQ(harness.run({"nodes", "tag", "mi-1", "env=prod,team=core", "--remove", "old", "--remove", "tmp"}), kExitOk)
      << harness.err.str();
  EXPECT_EQ(harness.requests.at(0).method, "PUT");
  EXPECT_EQ(harness.requests.at(0).target, "/v1/nodes/mi-1/tags");
  EXPECT_EQ(nlohmann::json::parse(harness.requests.at(0).body),
            (nlohmann::json{{"tags", {{"env", "prod"}, {"team", "core"}}}, {"remove", {"old", "tmp"}}}));
  EXPECT_EQ(harness.out.str(), "Tags of mi-1 (web): env=prod,team=core\n");
}

TEST(Nodes, RemoveOnly) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, R"({"id":"mi-1","name":"web"})"); };
  ASSERT_EQ(harness.run({"nodes", "tag", "mi-1", "--remove", "env"}), kExitOk) << harness.err.str();
  EXPECT_EQ(nlohmann::json::parse(harness.requests.at(0).body),
            (nlohmann::json{{"tags", nlohmann::json::object()}, {"remove", {"env"}}}));
  EXPECT_EQ(harness.out.str(), "Tags of mi-1 (web): (none)\n");
}

TEST(Nodes, Deregister) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"id":"mi-1","status":"deregistered"})");
  };
  ASSERT_EQ(harness.run({"nodes", "deregister", "mi-1"}), kExitOk);
  EXPECT_EQ(harness.requests.at(0).method, "DELETE");
  EXPECT_TRUE(contains(harness.out.str(), "Deregistered node mi-1"));
}

// --- users --------------------------------------------------------------------------------

transport::HttpResponse user_created(const transport::HttpRequest&) {
  return json_answer(201, R"({"name":"bob","admin":false,"tags":{}})");
}

TEST(Users, CreateWithPasswordFromEnvironment) {
  Harness harness;
  harness.log_in();
  harness.env["SALLYPORT_NEW_PASSWORD"] = "bob-pass-123";
  harness.gateway = user_created;
  ASSERT_EQ(harness.run({"users", "create", "bob", "--tags", "team=core", "--admin"}), kExitOk) << harness.err.str();
  EXPECT_EQ(nlohmann::json::parse(harness.requests.at(0).body),
            (nlohmann::json{{"name", "bob"}, {"password", "bob-pass-123"}, {"tags", {{"team", "core"}}}, {"admin", true}}));
  EXPECT_EQ(harness.out.str(), "Created user bob (administrator)\n");
}

TEST(Users, CreateWithPasswordFromStdin) {
  Harness harness;
  harness.log_in();
  harness.in.str("from-stdin-1\nignored\n");
  harness.gateway = user_created;
  ASSERT_EQ(harness.run({"users", "create", "bob", "--password-stdin"}), kExitOk) << harness.err.str();
  EXPECT_EQ(nlohmann::json::parse(harness.requests.at(0).body)["password"], "from-stdin-1");
  EXPECT_FALSE(contains(harness.out.str(), "from-stdin-1"));
}

TEST(Users, CreateWithEmptyStdinIsUsageError) {
  Harness harness;
  harness.log_in();
  harness.gateway = user_created;
  EXPECT_EQ(harness.run({"users", "create", "bob", "--password-stdin"}), kExitUsage);
  EXPECT_TRUE(harness.requests.empty());
}

TEST(Users, CreateAsksTwiceOnATerminal) {
  Harness harness;
  harness.log_in();
  harness.stdin_terminal = true;
  harness.secrets = {"typed-pass-1", "typed-pass-1"};
  harness.gateway = user_created;
  ASSERT_EQ(harness.run({"users", "create", "bob"}), kExitOk) << harness.err.str();
  EXPECT_EQ(harness.prompts.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(harness.requests.at(0).body)["password"], "typed-pass-1");

  Harness mismatch;
  mismatch.log_in();
  mismatch.stdin_terminal = true;
  mismatch.secrets = {"typed-pass-1", "typed-pass-2"};
  mismatch.gateway = user_created;
  EXPECT_EQ(mismatch.run({"users", "create", "bob"}), kExitUsage);
  EXPECT_TRUE(contains(mismatch.err.str(), "the passwords do not match"));
  EXPECT_TRUE(mismatch.requests.empty());
}

TEST(Users, CreateGeneratesAPasswordWithoutATerminal) {
  Harness harness;
  harness.log_in();
  harness.gateway = user_created;
  ASSERT_EQ(harness.run({"users", "create", "bob"}), kExitOk) << harness.err.str();
  EXPECT_TRUE(harness.prompts.empty());
  const std::string password = nlohmann::json::parse(harness.requests.at(0).body)["password"];
  EXPECT_EQ(password.size(), 24u);
  EXPECT_EQ(harness.out.str(), "Created user bob\nPassword: " + password + " (shown once; pass it on safely)\n");
}

TEST(Users, ListTable) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"users":[{"name":"admin","admin":true,"tags":{},"created_at":"2027-01-01T00:00:00.000Z"},
                                         {"name":"bob","admin":false,"tags":{"team":"core"},"created_at":"2027-01-02T00:00:00.000Z"}]})");
  };
  ASSERT_EQ(harness.run({"users", "ls"}), kExitOk);
  EXPECT_EQ(harness.out.str(),
            "NAME   ADMIN  TAGS       CREATED\n"
            "admin  yes               2027-01-01T00:00:00.000Z\n"
            "bob    no     team=core  2027-01-02T00:00:00.000Z\n");
}

TEST(Users, DeleteConflictAndPasswd) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest& request) {
    if (request.method == "DELETE") return json_answer(404, R"({"error":{"code":"not_found","message":"no user carol"}})");
    return json_answer(200, R"({"name":"bob","status":"password changed"})");
  };
  EXPECT_EQ(harness.run({"users", "delete", "carol"}), kExitNotFound);
  EXPECT_EQ(harness.err.str(), "sallyport: no user carol\n");
  harness.env["SALLYPORT_NEW_PASSWORD"] = "new-pass-123";
  EXPECT_EQ(harness.run({"users", "passwd", "bob"}), kExitOk);
  EXPECT_EQ(harness.requests.back().method, "PUT");
  EXPECT_EQ(harness.requests.back().target, "/v1/users/bob/password");
  EXPECT_EQ(nlohmann::json::parse(harness.requests.back().body), (nlohmann::json{{"password", "new-pass-123"}}));
  EXPECT_TRUE(ConfigStore(harness.config_dir()).load_credentials());  // someone else's password
}

TEST(Users, OwnPasswordChangeEndsTheLogin) {
  Harness harness;
  harness.log_in();
  harness.env["SALLYPORT_NEW_PASSWORD"] = "new-pass-123";
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, R"({"status":"password changed"})"); };
  EXPECT_EQ(harness.run({"users", "passwd", "admin"}), kExitOk);
  EXPECT_FALSE(ConfigStore(harness.config_dir()).load_credentials());
  EXPECT_TRUE(contains(harness.out.str(), "Your logins have ended"));
}

// --- audit --------------------------------------------------------------------------------

TEST(Audit, ListPassesEncodedSinceAndLimit) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"events":[{"id":1,"time":"2027-01-15T07:59:00.000Z","actor":"admin",
      "source":"127.0.0.1","action":"auth:Login","target":"user/admin","outcome":"success","detail":""},
      {"id":2,"time":"2027-01-15T07:59:30.000Z","actor":"eve\u001b[31m","source":"10.1.1.1","action":"auth:Login",
       "target":"user/eve","outcome":"failure","detail":"wrong user or password"}]})");
  };
  ASSERT_EQ(harness.run({"audit", "ls", "--since", "2027-01-15T08:00:00+01:00", "--limit", "50"}), kExitOk)
      << harness.err.str();
  EXPECT_EQ(harness.requests.at(0).target, "/v1/audit?since=2027-01-15T08%3A00%3A00%2B01%3A00&limit=50");
  EXPECT_EQ(harness.out.str(),
            "TIME                      ACTOR     SOURCE     ACTION      TARGET      OUTCOME  DETAIL\n"
            "2027-01-15T07:59:00.000Z  admin     127.0.0.1  auth:Login  user/admin  success\n"
            "2027-01-15T07:59:30.000Z  eve?[31m  10.1.1.1   auth:Login  user/eve    failure  wrong user or password\n");

  EXPECT_EQ(harness.run({"audit", "ls", "--since", "1h", "--json"}), kExitOk);
  EXPECT_EQ(harness.requests.at(1).target, "/v1/audit?since=1h");
}

}  // namespace
}  // namespace sallyport::cli
