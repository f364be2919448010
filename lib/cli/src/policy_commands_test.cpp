// policies, groups, preferences and sessions commands against a fake gateway: argument checks
// before any network call, the requests sent and the printed output.
#include <gtest/gtest.h>

#include <fstream>

#include "commands.hpp"
#include "error.hpp"
#include "test_support.hpp"

namespace sallyport::cli {
namespace {

using nlohmann::json;
using testing::Harness;
using testing::json_answer;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string write_file(const Harness& harness, const std::string& name, const std::string& text) {
  const auto path = harness.temp.path() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// --- argument checks: exit 2 with a clear message and nothing sent -------------------------

struct BadAccessArguments : ::testing::TestWithParam<std::pair<std::vector<std::string>, std::string>> {};

TEST_P(BadAccessArguments, FailBeforeAnyNetworkCall) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, "{}"); };
  const auto& [args, message] = GetParam();
  EXPECT_EQ(harness.run(args), kExitUsage) << harness.err.str();
  EXPECT_TRUE(contains(harness.err.str(), message)) << harness.err.str();
  EXPECT_TRUE(harness.requests.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Access, BadAccessArguments,
    ::testing::Values(
        std::pair{std::vector<std::string>{"policies", "create", "P"}, "--file"},
        std::pair{std::vector<std::string>{"policies", "create", "P", "--file", "/nonexistent/p.json"}, "--file: "},
        std::pair{std::vector<std::string>{"policies", "update", "P"}, "--file"},
        std::pair{std::vector<std::string>{"policies", "show", ""}, "must not be empty"},
        std::pair{std::vector<std::string>{"policies", "attach", "P"}, "exactly one of --user and --group"},
        std::pair{std::vector<std::string>{"policies", "attach", "P", "--user", "a", "--group", "g"},
                  "exactly one of --user and --group"},
        std::pair{std::vector<std::string>{"policies", "detach", "P"}, "exactly one of --user and --group"},
        std::pair{std::vector<std::string>{"policies", "simulate", "--user", "a", "--action", "session:Start"},
                  "--resource"},
        std::pair{std::vector<std::string>{"policies", "simulate", "--user", "a", "--action", "Start", "--resource",
                                           "node/x"},
                  "--action: 'Start' is not of the form service:Name"},
        std::pair{std::vector<std::string>{"policies", "simulate", "--user", "a", "--action", "node:Read",
                                           "--resource", "node/x", "--context", "novalue"},
                  "--context: 'novalue' is not of the form key=value"},
        std::pair{std::vector<std::string>{"policies", "simulate", "--user", "a", "--action", "node:Read",
                                           "--resource", "node/x", "--context", "=v"},
                  "--context"},
        std::pair{std::vector<std::string>{"policies"}, "subcommand"},
        std::pair{std::vector<std::string>{"groups", "create", ""}, "must not be empty"},
        std::pair{std::vector<std::string>{"groups", "add-user", "ops"}, "user"},
        std::pair{std::vector<std::string>{"groups", "add-user", "ops", ""}, "must not be empty"},
        std::pair{std::vector<std::string>{"groups", "remove-user", "", "bob"}, "must not be empty"},
        std::pair{std::vector<std::string>{"groups"}, "subcommand"},
        std::pair{std::vector<std::string>{"preferences", "get", "colour"}, "unknown preference 'colour'"},
        std::pair{std::vector<std::string>{"preferences", "set", "colour", "blue"}, "known: idle_timeout_minutes"},
        std::pair{std::vector<std::string>{"preferences", "set", "idle_timeout_minutes"}, "value"},
        std::pair{std::vector<std::string>{"sessions", "ls", "--state", "paused"}, "--state must be 'active' or 'history'"},
        std::pair{std::vector<std::string>{"sessions", "ls", "--limit", "0"}, "--limit must be 1-1000"},
        std::pair{std::vector<std::string>{"sessions", "ls", "--limit", "many"}, "--limit"},
        std::pair{std::vector<std::string>{"sessions", "show", ""}, "must not be empty"},
        std::pair{std::vector<std::string>{"sessions", "terminate", "s1", "--reason", std::string(257, 'x')},
                  "--reason must be at most 256 bytes"},
        std::pair{std::vector<std::string>{"users", "create", "bob", "--policy", ""}, "--policy"}));

TEST(PolicyCommands, EmptyOrHugeFileIsAUsageError) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(201, "{}"); };
  EXPECT_EQ(harness.run({"policies", "create", "P", "--file", write_file(harness, "empty.json", " \n")}), kExitUsage);
  EXPECT_TRUE(contains(harness.err.str(), "is empty")) << harness.err.str();
  EXPECT_EQ(harness.run({"policies", "create", "P", "--file", write_file(harness, "big.json", std::string(65 * 1024, ' '))}),
            kExitUsage);
  EXPECT_TRUE(contains(harness.err.str(), "larger than 64 KiB")) << harness.err.str();
  EXPECT_TRUE(harness.requests.empty());
}

// --- policies -------------------------------------------------------------------------------

TEST(PolicyCommands, CreateSendsTheFileVerbatimAndPrintsWarnings) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(201, R"({"name":"DevOnly","warnings":["Statement[0].Action[0]: \"node:Raed\" matches no known action"]})");
  };
  const std::string text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}\n";
  ASSERT_EQ(harness.run({"policies", "create", "DevOnly", "--file", write_file(harness, "p.json", text)}), kExitOk)
      << harness.err.str();
  ASSERT_EQ(harness.requests.size(), 1u);
  EXPECT_EQ(harness.requests[0].method, "POST");
  EXPECT_EQ(harness.requests[0].target, "/v1/policies");
  EXPECT_EQ(json::parse(harness.requests[0].body), (json{{"name", "DevOnly"}, {"document", text}}));
  EXPECT_EQ(harness.out.str(), "Created policy DevOnly\n");
  EXPECT_TRUE(contains(harness.err.str(), "warning: Statement[0].Action[0]: \"node:Raed\" matches no known action"));
}

TEST(PolicyCommands, MalformedDocumentNamesTheFileAndPosition) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(400, R"({"error":{"code":"invalid_policy","message":"line 4, column 17 (Statement[0].Effect): Effect must be \"Allow\" or \"Deny\""}})");
  };
  const std::string path = write_file(harness, "bad.json", "{}");
  EXPECT_EQ(harness.run({"policies", "update", "DevOnly", "--file", path}), kExitBadRequest);
  EXPECT_EQ(harness.requests.at(0).method, "PUT");
  EXPECT_EQ(harness.requests.at(0).target, "/v1/policies/DevOnly");
  EXPECT_EQ(harness.err.str(),
            "sallyport: " + path + ": line 4, column 17 (Statement[0].Effect): Effect must be \"Allow\" or \"Deny\"\n");
}

TEST(PolicyCommands, ListShowDelete) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest& request) {
    if (request.method == "DELETE") return json_answer(200, R"({"status":"deleted"})");
    if (request.target == "/v1/policies") {
      return json_answer(200, R"({"policies":[
        {"name":"AdministratorAccess","builtin":true,"updated_at":"2027-01-15T08:00:00.000Z"},
        {"name":"DevOnly","builtin":false,"updated_at":"2027-01-15T09:00:00.000Z"}]})");
    }
    return json_answer(200, R"({"name":"DevOnly","builtin":false,"created_at":"c","updated_at":"u",
                                "document":"{\n  \"Version\": \"2012-10-17\"\u001b[31m\n}"})");
  };
  ASSERT_EQ(harness.run({"policies", "ls"}), kExitOk);
  EXPECT_EQ(harness.out.str(),
            "NAME                 BUILT-IN  UPDATED\n"
            "AdministratorAccess  yes       2027-01-15T08:00:00.000Z\n"
            "DevOnly              no        2027-01-15T09:00:00.000Z\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"policies", "show", "Dev Only"}), kExitOk);
  EXPECT_EQ(harness.requests.back().target, "/v1/policies/Dev%20Only");
  EXPECT_EQ(harness.out.str(),
            "Name:     DevOnly\nBuilt-in: no\nCreated:  c\nUpdated:  u\nDocument:\n"
            "{\n  \"Version\": \"2012-10-17\"?[31m\n}\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"policies", "ls", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(harness.out.str())["policies"].size(), 2u);
  harness.out.str("");
  ASSERT_EQ(harness.run({"policies", "delete", "DevOnly"}), kExitOk);
  EXPECT_EQ(harness.requests.back().method, "DELETE");
  EXPECT_TRUE(contains(harness.out.str(), "Deleted policy DevOnly"));
}

TEST(PolicyCommands, AttachAndDetach) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, R"({"status":"attached"})"); };
  ASSERT_EQ(harness.run({"policies", "attach", "SessionUser", "--user", "alice"}), kExitOk) << harness.err.str();
  EXPECT_EQ(harness.requests.at(0).target, "/v1/policies/SessionUser/attach");
  EXPECT_EQ(json::parse(harness.requests.at(0).body), (json{{"user", "alice"}}));
  ASSERT_EQ(harness.run({"policies", "detach", "ReadOnly", "--group", "ops"}), kExitOk);
  EXPECT_EQ(harness.requests.at(1).target, "/v1/policies/ReadOnly/detach");
  EXPECT_EQ(json::parse(harness.requests.at(1).body), (json{{"group", "ops"}}));
  EXPECT_EQ(harness.out.str(), "Attached policy SessionUser to user alice\nDetached policy ReadOnly from group ops\n");
}

TEST(PolicyCommands, SimulatePrintsDecisionAndExplanationAndExitsZeroOnDeny) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"decision":"deny","effect":"DefaultDeny","policy":"","sid":"","statement_index":-1,
                                "explanation":"no statement matched: default deny","warnings":[]})");
  };
  ASSERT_EQ(harness.run({"policies", "simulate", "--user", "alice", "--action", "session:Start", "--resource",
                         "node/mi-1", "--context", "session:runAs=root", "--context", "node:tag/env=dev",
                         "--context", "node:tag/env=prod", "--context", "x=a=b"}),
            kExitOk)
      << harness.err.str();
  EXPECT_EQ(harness.requests.at(0).target, "/v1/policies/simulate");
  EXPECT_EQ(json::parse(harness.requests.at(0).body),
            (json{{"user", "alice"},
                  {"action", "session:Start"},
                  {"resource", "node/mi-1"},
                  {"context", {{"session:runAs", {"root"}}, {"node:tag/env", {"dev", "prod"}}, {"x", {"a=b"}}}}}));
  EXPECT_EQ(harness.out.str(), "deny\nno statement matched: default deny\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"policies", "simulate", "--user", "alice", "--action", "node:Read", "--resource", "node/x",
                         "--json"}),
            kExitOk);
  EXPECT_EQ(json::parse(harness.out.str())["effect"], "DefaultDeny");
}

// --- groups ---------------------------------------------------------------------------------

TEST(GroupCommands, CreateListShowMembersDelete) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest& request) {
    if (request.method == "GET" && request.target == "/v1/groups") {
      return json_answer(200, R"({"groups":[{"name":"ops","members":["alice","bob"],"policies":["ReadOnly"],
                                  "created_at":"2027-01-15T08:00:00.000Z"},
                                 {"name":"dev","members":[],"policies":[],"created_at":"2027-01-15T09:00:00.000Z"}]})");
    }
    if (request.method == "GET") {
      return json_answer(200, R"({"name":"dev","members":[],"policies":[],"created_at":"c"})");
    }
    return json_answer(200, "{}");
  };
  ASSERT_EQ(harness.run({"groups", "create", "ops"}), kExitOk);
  EXPECT_EQ(json::parse(harness.requests.at(0).body), (json{{"name", "ops"}}));
  ASSERT_EQ(harness.run({"groups", "add-user", "ops", "alice"}), kExitOk);
  EXPECT_EQ(harness.requests.at(1).target, "/v1/groups/ops/members");
  EXPECT_EQ(json::parse(harness.requests.at(1).body), (json{{"user", "alice"}}));
  ASSERT_EQ(harness.run({"groups", "remove-user", "ops", "a/b"}), kExitOk);
  EXPECT_EQ(harness.requests.at(2).method, "DELETE");
  EXPECT_EQ(harness.requests.at(2).target, "/v1/groups/ops/members/a%2Fb");
  ASSERT_EQ(harness.run({"groups", "delete", "ops"}), kExitOk);
  EXPECT_EQ(harness.requests.at(3).method, "DELETE");
  EXPECT_EQ(harness.requests.at(3).target, "/v1/groups/ops");
  EXPECT_EQ(harness.out.str(),
            "Created group ops\nAdded user alice to group ops\nRemoved user a/b from group ops\n"
            "Deleted group ops (its members keep their accounts)\n");

  harness.out.str("");
  ASSERT_EQ(harness.run({"groups", "ls"}), kExitOk);
  EXPECT_EQ(harness.out.str(),
            "NAME  MEMBERS    POLICIES  CREATED\n"
            "ops   alice,bob  ReadOnly  2027-01-15T08:00:00.000Z\n"
            "dev                        2027-01-15T09:00:00.000Z\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"groups", "show", "dev"}), kExitOk);
  EXPECT_EQ(harness.out.str(), "Name:     dev\nMembers:  (none)\nPolicies: (none)\nCreated:  c\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"groups", "ls", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(harness.out.str())["groups"].size(), 2u);
}

// --- preferences ----------------------------------------------------------------------------

constexpr const char* kPreferences = R"({"preferences":{"idle_timeout_minutes":20,"idle_timeout_seconds":0,
  "max_session_duration_minutes":0,"default_run_as":"sallyport-user","shell_profile":"umask 027\nexport A=1\n"}})";

TEST(PreferenceCommands, GetAllOneAndJson) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) { return json_answer(200, kPreferences); };
  ASSERT_EQ(harness.run({"preferences", "get"}), kExitOk) << harness.err.str();
  EXPECT_EQ(harness.requests.at(0).target, "/v1/preferences");
  EXPECT_EQ(harness.out.str(),
            "idle_timeout_minutes:         20\n"
            "idle_timeout_seconds:         0\n"
            "max_session_duration_minutes: 0\n"
            "default_run_as:               sallyport-user\n"
            "shell_profile:                (21 bytes; see `sallyport preferences get shell_profile`)\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"preferences", "get", "shell_profile"}), kExitOk);
  EXPECT_EQ(harness.out.str(), "umask 027\nexport A=1\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"preferences", "get", "idle_timeout_minutes", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(harness.out.str()), (json{{"idle_timeout_minutes", 20}}));
  harness.out.str("");
  ASSERT_EQ(harness.run({"preferences", "get", "--json"}), kExitOk);
  EXPECT_EQ(json::parse(harness.out.str())["preferences"]["default_run_as"], "sallyport-user");
}

TEST(PreferenceCommands, SetSendsTextAndGatewayRangeErrorsPassThrough) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest& request) {
    if (contains(request.body, "99")) {
      return json_answer(400, R"({"error":{"code":"bad_request","message":"idle_timeout_minutes must be an integer from 1 to 60"}})");
    }
    return json_answer(200, R"({"preferences":{"idle_timeout_minutes":5}})");
  };
  ASSERT_EQ(harness.run({"preferences", "set", "idle_timeout_minutes", "5"}), kExitOk) << harness.err.str();
  EXPECT_EQ(harness.requests.at(0).method, "PUT");
  EXPECT_EQ(json::parse(harness.requests.at(0).body), (json{{"idle_timeout_minutes", "5"}}));
  EXPECT_EQ(harness.out.str(), "Set idle_timeout_minutes to 5\n");
  EXPECT_EQ(harness.run({"preferences", "set", "idle_timeout_minutes", "99"}), kExitBadRequest);
  EXPECT_EQ(harness.err.str(), "sallyport: idle_timeout_minutes must be an integer from 1 to 60\n");
  // Every key the gateway knows can be set from here, the session and the storage ones alike.
  for (const auto& [key, value] : {std::pair{"reconnect_grace_seconds", "0"}, std::pair{"syslog_required", "true"},
                                   std::pair{"recording_local_required", "false"}}) {
    ASSERT_EQ(harness.run({"preferences", "set", key, value}), kExitOk) << key << ": " << harness.err.str();
    EXPECT_EQ(json::parse(harness.requests.back().body), (json{{key, value}}));
  }
}

// --- sessions -------------------------------------------------------------------------------

TEST(SessionCommands, ListTableWithExitStatus) {
  Harness harness;
  harness.log_in();
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(200, R"({"state":"history","sessions":[
      {"id":"alice-1","owner":"alice","node_id":"mi-1","run_as":"sallyport-user","kind":"shell","status":"Terminated",
       "started_at":"2027-01-15T08:00:00.000Z","ended_at":"2027-01-15T08:05:00.000Z","exit_code":0,"exit_signal":null},
      {"id":"bob-1","owner":"bob","node_id":"mi-2","run_as":"deploy","kind":"command","status":"Terminated",
       "started_at":"2027-01-15T07:00:00.000Z","ended_at":"2027-01-15T07:01:00.000Z","exit_code":null,"exit_signal":9}]})");
  };
  ASSERT_EQ(harness.run({"sessions", "ls", "--state", "history", "--limit", "5"}), kExitOk) << harness.err.str();
  EXPECT_EQ(harness.requests.at(0).target, "/v1/sessions?state=history&limit=5");
  EXPECT_EQ(harness.out.str(),
            "SESSION ID  OWNER  NODE  RUN AS          KIND     STATUS      STARTED                   ENDED                     EXIT\n"
            "alice-1     alice  mi-1  sallyport-user  shell    Terminated  2027-01-15T08:00:00.000Z  2027-01-15T08:05:00.000Z  0\n"
            "bob-1       bob    mi-2  deploy          command  Terminated  2027-01-15T07:00:00.000Z  2027-01-15T07:01:00.000Z  signal 9\n");
  harness.out.str("");
  ASSERT_EQ(harness.run({"sessions", "ls", "--json"}), kExitOk);
  EXPECT_EQ(harness.requests.at(1).target, "/v1/sessions?state=active&limit=100");
  EXPECT_EQ(json::parse(harness.out.str())["sessions"].size(), 2u);
}

TEST(SessionCommands, ShowAndTerminate) {
  Harness harness;
  harness.log_in();
  int polls = 0;
  harness.gateway = [&polls](const transport::HttpRequest& request) {
    // Held by another gateway: accepted, then ended there by the time of the third look.
    if (request.method == "POST" && contains(request.target, "held")) {
      return json_answer(202, R"({"id":"held-1","status":"Connected","ended_at":"","termination_requested_from":"gw-b"})");
    }
    if (contains(request.target, "held")) {
      return ++polls < 3 ? json_answer(200, R"({"id":"held-1","status":"Connected","ended_at":""})")
                         : json_answer(200, R"({"id":"held-1","status":"Terminated","ended_at":"2027-01-15T08:05:00.000Z"})");
    }
    if (request.method == "POST" && contains(request.target, "gone")) {
      return json_answer(409, R"j({"error":{"code":"conflict","message":"session gone-1 has already ended (Failed)"}})j");
    }
    return json_answer(200, R"({"id":"alice-1","owner":"alice","node_id":"mi-1","status":"Terminated","exit_code":null,
                                "exit_signal":null,"bytes_in":12,"bytes_out":3400})");
  };
  ASSERT_EQ(harness.run({"sessions", "show", "alice-1"}), kExitOk);
  EXPECT_EQ(harness.requests.at(0).target, "/v1/sessions/alice-1");
  EXPECT_TRUE(contains(harness.out.str(), "Bytes out:  3400\n")) << harness.out.str();
  harness.out.str("");
  ASSERT_EQ(harness.run({"sessions", "terminate", "alice-1", "--reason", "maintenance"}), kExitOk);
  EXPECT_EQ(harness.requests.at(1).target, "/v1/sessions/alice-1/terminate");
  EXPECT_EQ(json::parse(harness.requests.at(1).body), (json{{"reason", "maintenance"}}));
  EXPECT_EQ(harness.out.str(), "Terminated session alice-1 (Terminated)\n");
  ASSERT_EQ(harness.run({"sessions", "terminate", "alice-1"}), kExitOk);
  EXPECT_EQ(json::parse(harness.requests.at(2).body), json::object());
  harness.out.str("");
  ASSERT_EQ(harness.run({"sessions", "terminate", "held-1"}), kExitOk) << harness.err.str();
  EXPECT_EQ(polls, 3);
  EXPECT_EQ(harness.requests.back().target, "/v1/sessions/held-1");
  EXPECT_EQ(harness.out.str(), "Terminated session held-1 (Terminated)\n");
  EXPECT_EQ(harness.run({"sessions", "terminate", "gone-1"}), kExitConflict);
  EXPECT_TRUE(contains(harness.err.str(), "has already ended")) << harness.err.str();
}

// --- users create --policy ------------------------------------------------------------------

TEST(UserCommands, CreateAttachesPolicies) {
  Harness harness;
  harness.log_in();
  harness.env["SALLYPORT_NEW_PASSWORD"] = "alice-password";
  harness.gateway = [](const transport::HttpRequest&) {
    return json_answer(201, R"({"name":"alice","policies":["ReadOnly","SessionUser"]})");
  };
  ASSERT_EQ(harness.run({"users", "create", "alice", "--policy", "SessionUser", "--policy", "ReadOnly"}), kExitOk)
      << harness.err.str();
  const auto body = json::parse(harness.requests.at(0).body);
  EXPECT_EQ(body["policies"], (json{"SessionUser", "ReadOnly"}));
  EXPECT_EQ(harness.out.str(), "Created user alice\nAttached policies: ReadOnly,SessionUser\n");
}

}  // namespace
}  // namespace sallyport::cli
