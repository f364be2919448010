// Evaluation: deny/allow precedence, wildcards, conditions, variables, built-in policies.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sallyport/policy/policy.hpp"

namespace sallyport::policy {
namespace {

using Context = std::map<std::string, std::vector<std::string>>;
using PolicyText = std::pair<std::string, std::string>;  // name, JSON
constexpr auto kAllow = Decision::Effect::kAllow;
constexpr auto kDeny = Decision::Effect::kExplicitDeny;
constexpr auto kDefault = Decision::Effect::kDefaultDeny;

std::string doc(const std::string& statements) {
  return R"({"Version": "2012-10-17", "Statement": [)" + statements + "]}";
}

PolicyText builtin(const std::string& name) {
  return {name, builtin_policies().at(name)};
}

NamedPolicy load(const PolicyText& text) {
  auto parsed = parse_policy(text.second);
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << text.first << ": " << format_parse_error(*error);
    return {text.first, {}};
  }
  return {text.first, std::get<Document>(std::move(parsed))};
}

std::vector<NamedPolicy> load_all(const std::vector<PolicyText>& texts) {
  std::vector<NamedPolicy> out;
  for (const auto& t : texts) {
    out.push_back(load(t));
  }
  return out;
}

// Statements reused across cases.
const std::string kAllowStart =
    R"({"Sid": "AllowStart", "Effect": "Allow", "Action": "session:Start", "Resource": "node/*"})";
const std::string kDenyProd =
    R"({"Sid": "DenyProd", "Effect": "Deny", "Action": "session:*", "Resource": "*",
        "Condition": {"StringEquals": {"node:tag/env": "prod"}}})";

std::string allow_if(const std::string& condition, const std::string& resource = "node/*") {
  return doc(R"({"Sid": "Cond", "Effect": "Allow", "Action": "session:Start", "Resource": ")" +
             resource + R"(", "Condition": )" + condition + "}");
}

struct EvalCase {
  std::string name;
  std::vector<PolicyText> policies;
  Request request;
  Decision::Effect expected;
  std::string policy = {};  // deciding policy, checked when set
  std::string sid = {};     // deciding Sid, checked when set
};

class Evaluate : public testing::TestWithParam<EvalCase> {};

TEST_P(Evaluate, Decides) {
  const EvalCase& c = GetParam();
  const Decision decision = evaluate(load_all(c.policies), c.request);
  EXPECT_EQ(to_string(decision.effect), to_string(c.expected)) << decision.explanation;
  if (!c.policy.empty()) {
    EXPECT_EQ(decision.policy_name, c.policy);
  }
  if (!c.sid.empty()) {
    EXPECT_EQ(decision.sid, c.sid);
  }
}

Request start(const std::string& resource, Context context = {}) {
  return Request{"session:Start", resource, std::move(context)};
}

const std::vector<PolicyText> kStartOnly = {{"P", doc(kAllowStart)}};

INSTANTIATE_TEST_SUITE_P(
    Basics, Evaluate,
    testing::Values(
        EvalCase{"AllowMatchingStatement", kStartOnly, start("node/mi-1"), kAllow, "P", "AllowStart"},
        EvalCase{"DefaultDenyOtherAction", kStartOnly, {"session:Terminate", "node/mi-1", {}}, kDefault},
        EvalCase{"DefaultDenyNoPolicies", {}, start("node/mi-1"), kDefault},
        EvalCase{"DefaultDenyOtherResource", kStartOnly, start("session/s-1"), kDefault},
        EvalCase{"DenyBeatsAllowSamePolicy", {{"P", doc(kAllowStart + "," + kDenyProd)}},
                 start("node/mi-1", {{"node:tag/env", {"prod"}}}), kDeny, "P", "DenyProd"},
        EvalCase{"DenyBeatsAllowAcrossPolicies", {{"Allow", doc(kAllowStart)}, {"Guard", doc(kDenyProd)}},
                 start("node/mi-1", {{"node:tag/env", {"prod"}}}), kDeny, "Guard", "DenyProd"},
        EvalCase{"DenyFirstThenAllowStillDenies", {{"Guard", doc(kDenyProd)}, {"Allow", doc(kAllowStart)}},
                 start("node/mi-1", {{"node:tag/env", {"prod"}}}), kDeny, "Guard"},
        EvalCase{"DenyConditionUnmetAllows", {{"P", doc(kAllowStart + "," + kDenyProd)}},
                 start("node/mi-1", {{"node:tag/env", {"dev"}}}), kAllow, "P", "AllowStart"},
        EvalCase{"DenyAloneIsNotAllow", {{"Guard", doc(kDenyProd)}},
                 start("node/mi-1", {{"node:tag/env", {"dev"}}}), kDefault},
        EvalCase{"FirstAllowReported",
                 {{"A", doc(R"({"Sid": "One", "Effect": "Allow", "Action": "*", "Resource": "*"})")},
                  {"B", doc(kAllowStart)}},
                 start("node/mi-1"), kAllow, "A", "One"}),
    [](const auto& p) { return p.param.name; });

INSTANTIATE_TEST_SUITE_P(
    ActionsAndResources, Evaluate,
    testing::Values(
        EvalCase{"RequestActionCaseInsensitive", kStartOnly, {"SESSION:start", "node/mi-1", {}}, kAllow},
        EvalCase{"PolicyActionCaseInsensitive",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "Session:START", "Resource": "*"})")}},
                 start("node/x"), kAllow},
        EvalCase{"ServiceWildcard",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:*", "Resource": "*"})")}},
                 {"session:Terminate", "session/s-1", {}}, kAllow},
        EvalCase{"ServiceWildcardStaysInService",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:*", "Resource": "*"})")}},
                 {"node:List", "*", {}}, kDefault},
        EvalCase{"ActionList",
                 {{"P", doc(R"({"Effect": "Allow", "Action": ["node:List", "node:Read"], "Resource": "*"})")}},
                 {"node:Read", "node/mi-1", {}}, kAllow},
        EvalCase{"NotActionAllowsOthers",
                 {{"P", doc(R"({"Effect": "Allow", "NotAction": "user:*", "Resource": "*"})")}},
                 start("node/x"), kAllow},
        EvalCase{"NotActionExcludes",
                 {{"P", doc(R"({"Effect": "Allow", "NotAction": "user:*", "Resource": "*"})")}},
                 {"user:Delete", "user/bob", {}}, kDefault},
        EvalCase{"ResourceCaseSensitive", kStartOnly, start("Node/mi-1"), kDefault},
        EvalCase{"ResourceStarCrossesSlash", kStartOnly, start("node/a/b"), kAllow},
        EvalCase{"ResourceQuestionMark",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:Read", "Resource": "session/s-??"})")}},
                 {"session:Read", "session/s-42", {}}, kAllow},
        EvalCase{"ResourceQuestionMarkLength",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:Read", "Resource": "session/s-??"})")}},
                 {"session:Read", "session/s-420", {}}, kDefault},
        EvalCase{"ResourceList",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:Start", "Resource": ["node/a", "node/b"]})")}},
                 start("node/b"), kAllow},
        EvalCase{"NotResourceAllowsOthers",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:Start", "NotResource": "node/prod-*"})")}},
                 start("node/dev-1"), kAllow},
        EvalCase{"NotResourceExcludes",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:Start", "NotResource": "node/prod-*"})")}},
                 start("node/prod-1"), kDefault}),
    [](const auto& p) { return p.param.name; });

const std::string kEnvDev = R"({"StringEquals": {"node:tag/env": "dev"}})";

INSTANTIATE_TEST_SUITE_P(
    Conditions, Evaluate,
    testing::Values(
        EvalCase{"StringEqualsMatch", {{"P", allow_if(kEnvDev)}}, start("node/x", {{"node:tag/env", {"dev"}}}), kAllow},
        EvalCase{"StringEqualsMismatch", {{"P", allow_if(kEnvDev)}}, start("node/x", {{"node:tag/env", {"prod"}}}), kDefault},
        EvalCase{"StringEqualsMissingKey", {{"P", allow_if(kEnvDev)}}, start("node/x"), kDefault},
        EvalCase{"StringEqualsCaseSensitiveValue", {{"P", allow_if(kEnvDev)}}, start("node/x", {{"node:tag/env", {"DEV"}}}), kDefault},
        EvalCase{"ConditionKeyCaseInsensitive", {{"P", allow_if(R"({"StringEquals": {"Node:Tag/ENV": "dev"}})")}},
                 start("node/x", {{"node:tag/env", {"dev"}}}), kAllow},
        EvalCase{"ValuesAreOr", {{"P", allow_if(R"({"StringEquals": {"node:tag/env": ["dev", "staging"]}})")}},
                 start("node/x", {{"node:tag/env", {"staging"}}}), kAllow},
        EvalCase{"KeysAreAnd", {{"P", allow_if(R"({"StringEquals": {"node:tag/env": "dev", "node:tag/team": "core"}})")}},
                 start("node/x", {{"node:tag/env", {"dev"}}, {"node:tag/team", {"web"}}}), kDefault},
        EvalCase{"KeysAreAndAllMatch", {{"P", allow_if(R"({"StringEquals": {"node:tag/env": "dev", "node:tag/team": "core"}})")}},
                 start("node/x", {{"node:tag/env", {"dev"}}, {"node:tag/team", {"core"}}}), kAllow},
        EvalCase{"OperatorsAreAnd",
                 {{"P", allow_if(R"({"StringEquals": {"node:tag/env": "dev"}, "StringLike": {"node:id": "mi-0*"}})")}},
                 start("node/x", {{"node:tag/env", {"dev"}}, {"node:id", {"mi-1abc"}}}), kDefault},
        EvalCase{"StringNotEqualsDifferent", {{"P", allow_if(R"({"StringNotEquals": {"session:runAs": "root"}})")}},
                 start("node/x", {{"session:runAs", {"ubuntu"}}}), kAllow},
        EvalCase{"StringNotEqualsSame", {{"P", allow_if(R"({"StringNotEquals": {"session:runAs": "root"}})")}},
                 start("node/x", {{"session:runAs", {"root"}}}), kDefault},
        EvalCase{"StringNotEqualsMissingKeyIsTrue", {{"P", allow_if(R"({"StringNotEquals": {"session:runAs": "root"}})")}},
                 start("node/x"), kAllow},
        EvalCase{"StringEqualsIgnoreCase", {{"P", allow_if(R"({"StringEqualsIgnoreCase": {"node:tag/env": "DEV"}})")}},
                 start("node/x", {{"node:tag/env", {"dev"}}}), kAllow},
        EvalCase{"StringEqualsIgnoreCaseMissing", {{"P", allow_if(R"({"StringEqualsIgnoreCase": {"node:tag/env": "DEV"}})")}},
                 start("node/x"), kDefault},
        EvalCase{"StringNotEqualsIgnoreCaseSame", {{"P", allow_if(R"({"StringNotEqualsIgnoreCase": {"node:tag/env": "PROD"}})")}},
                 start("node/x", {{"node:tag/env", {"prod"}}}), kDefault},
        EvalCase{"StringNotEqualsIgnoreCaseMissingIsTrue",
                 {{"P", allow_if(R"({"StringNotEqualsIgnoreCase": {"node:tag/env": "PROD"}})")}}, start("node/x"), kAllow},
        EvalCase{"StringLikeStar", {{"P", allow_if(R"({"StringLike": {"forward:host": "web-*"}})")}},
                 start("node/x", {{"forward:host", {"web-01"}}}), kAllow},
        EvalCase{"StringLikeQuestion", {{"P", allow_if(R"({"StringLike": {"forward:port": "80?"}})")}},
                 start("node/x", {{"forward:port", {"8080"}}}), kDefault},
        EvalCase{"StringLikeMismatch", {{"P", allow_if(R"({"StringLike": {"forward:host": "web-*"}})")}},
                 start("node/x", {{"forward:host", {"db-01"}}}), kDefault},
        EvalCase{"StringLikeMissing", {{"P", allow_if(R"({"StringLike": {"forward:host": "*"}})")}}, start("node/x"), kDefault},
        EvalCase{"StringNotLikeMatchExcludes", {{"P", allow_if(R"({"StringNotLike": {"forward:host": "10.*"}})")}},
                 start("node/x", {{"forward:host", {"10.0.0.1"}}}), kDefault},
        EvalCase{"StringNotLikeOther", {{"P", allow_if(R"({"StringNotLike": {"forward:host": "10.*"}})")}},
                 start("node/x", {{"forward:host", {"localhost"}}}), kAllow},
        EvalCase{"StringNotLikeMissingIsTrue", {{"P", allow_if(R"({"StringNotLike": {"forward:host": "10.*"}})")}},
                 start("node/x"), kAllow},
        EvalCase{"IfExistsMissing", {{"P", allow_if(R"({"StringEqualsIfExists": {"node:tag/env": "dev"}})")}},
                 start("node/x"), kAllow},
        EvalCase{"IfExistsPresentMismatch", {{"P", allow_if(R"({"StringEqualsIfExists": {"node:tag/env": "dev"}})")}},
                 start("node/x", {{"node:tag/env", {"prod"}}}), kDefault},
        EvalCase{"IfExistsPresentMatch", {{"P", allow_if(R"({"StringLikeIfExists": {"node:tag/env": "d*"}})")}},
                 start("node/x", {{"node:tag/env", {"dev"}}}), kAllow},
        EvalCase{"IfExistsEmptyListIsMissing", {{"P", allow_if(R"({"StringEqualsIfExists": {"node:tag/env": "dev"}})")}},
                 start("node/x", {{"node:tag/env", {}}}), kAllow},
        EvalCase{"BoolTrue", {{"P", allow_if(R"({"Bool": {"session:recorded": true}})")}},
                 start("node/x", {{"session:recorded", {"true"}}}), kAllow},
        EvalCase{"BoolCaseInsensitive", {{"P", allow_if(R"({"Bool": {"session:recorded": "True"}})")}},
                 start("node/x", {{"session:recorded", {"TRUE"}}}), kAllow},
        EvalCase{"BoolFalse", {{"P", allow_if(R"({"Bool": {"session:recorded": "true"}})")}},
                 start("node/x", {{"session:recorded", {"false"}}}), kDefault},
        EvalCase{"BoolMissing", {{"P", allow_if(R"({"Bool": {"session:recorded": "true"}})")}}, start("node/x"), kDefault},
        EvalCase{"BoolIfExistsMissing", {{"P", allow_if(R"({"BoolIfExists": {"session:recorded": "true"}})")}},
                 start("node/x"), kAllow},
        EvalCase{"NullTrueMissing", {{"P", allow_if(R"({"Null": {"node:tag/quarantine": "true"}})")}}, start("node/x"), kAllow},
        EvalCase{"NullTruePresent", {{"P", allow_if(R"({"Null": {"node:tag/quarantine": "true"}})")}},
                 start("node/x", {{"node:tag/quarantine", {"yes"}}}), kDefault},
        EvalCase{"NullFalsePresent", {{"P", allow_if(R"({"Null": {"node:tag/quarantine": false}})")}},
                 start("node/x", {{"node:tag/quarantine", {"yes"}}}), kAllow},
        EvalCase{"NullFalseMissing", {{"P", allow_if(R"({"Null": {"node:tag/quarantine": false}})")}}, start("node/x"), kDefault},
        EvalCase{"IntegerValue", {{"P", allow_if(R"({"StringEquals": {"forward:port": [22, 443]}})")}},
                 start("node/x", {{"forward:port", {"443"}}}), kAllow},
        EvalCase{"MultiValuedContextAnyMatches", {{"P", allow_if(R"({"StringEquals": {"user:groups": "ops"}})")}},
                 start("node/x", {{"user:groups", {"dev", "ops"}}}), kAllow}),
    [](const auto& p) { return p.param.name; });

const std::string kTeamNodes = doc(
    R"({"Sid": "TeamNodes", "Effect": "Allow", "Action": "session:Start", "Resource": "node/${user:tag/team}-*"})");
const std::string kOwnSessions = doc(
    R"({"Sid": "Own", "Effect": "Allow", "Action": "session:Terminate", "Resource": "session/*",
        "Condition": {"StringEquals": {"session:owner": "${user:name}"}}})");

INSTANTIATE_TEST_SUITE_P(
    Variables, Evaluate,
    testing::Values(
        EvalCase{"ResourceVariable", {{"P", kTeamNodes}}, start("node/core-1", {{"user:tag/team", {"core"}}}), kAllow},
        EvalCase{"ResourceVariableOtherTeam", {{"P", kTeamNodes}}, start("node/web-1", {{"user:tag/team", {"core"}}}), kDefault},
        EvalCase{"ResourceVariableMissing", {{"P", kTeamNodes}}, start("node/core-1"), kDefault},
        EvalCase{"ResourceVariableMultiValued", {{"P", kTeamNodes}},
                 start("node/core-1", {{"user:tag/team", {"core", "web"}}}), kDefault},
        EvalCase{"ResourceVariableValueIsLiteral", {{"P", kTeamNodes}}, start("node/core-1", {{"user:tag/team", {"*"}}}), kDefault},
        EvalCase{"ResourceVariableCaseInsensitiveName",
                 {{"P", doc(R"({"Effect": "Allow", "Action": "session:Start", "Resource": "node/${User:Tag/Team}-*"})")}},
                 start("node/core-1", {{"user:tag/team", {"core"}}}), kAllow},
        EvalCase{"ConditionVariable", {{"P", kOwnSessions}},
                 {"session:Terminate", "session/s1", {{"session:owner", {"alice"}}, {"user:name", {"alice"}}}}, kAllow},
        EvalCase{"ConditionVariableOtherOwner", {{"P", kOwnSessions}},
                 {"session:Terminate", "session/s1", {{"session:owner", {"bob"}}, {"user:name", {"alice"}}}}, kDefault},
        EvalCase{"ConditionVariableMissing", {{"P", kOwnSessions}},
                 {"session:Terminate", "session/s1", {{"session:owner", {"alice"}}}}, kDefault},
        EvalCase{"NegatedConditionVariableMissingIsFalse",
                 {{"P", allow_if(R"({"StringNotEquals": {"node:tag/owner": "${user:name}"}})")}},
                 start("node/x", {{"node:tag/owner", {"bob"}}}), kDefault},
        EvalCase{"EscapedWildcardInCondition", {{"P", allow_if(R"({"StringLike": {"node:tag/name": "a${*}*"}})")}},
                 start("node/x", {{"node:tag/name", {"a*b"}}}), kAllow},
        EvalCase{"EscapedWildcardInConditionLiteral", {{"P", allow_if(R"({"StringLike": {"node:tag/name": "a${*}*"}})")}},
                 start("node/x", {{"node:tag/name", {"ab"}}}), kDefault}),
    [](const auto& p) { return p.param.name; });

// Users reach prod nodes only with the oncall role: a Deny on node tags and user tags.
const std::string kProdGuard = doc(
    R"({"Sid": "ProdNeedsOncall", "Effect": "Deny", "Action": "session:*", "Resource": "node/*",
        "Condition": {"StringEquals": {"node:tag/env": "prod"},
                      "StringNotEquals": {"user:tag/role": "oncall"}}})");
const std::string kCoreTeam = doc(
    R"({"Sid": "CoreNodes", "Effect": "Allow", "Action": ["session:Start", "session:PortForward"],
        "Resource": "node/*", "Condition": {"StringEquals": {"node:tag/team": "${user:tag/team}"}}})");

INSTANTIATE_TEST_SUITE_P(
    TagsAndGroups, Evaluate,
    testing::Values(
        EvalCase{"TagMatchAllows", {{"user", kCoreTeam}},
                 start("node/a", {{"node:tag/team", {"core"}}, {"user:tag/team", {"core"}}}), kAllow},
        EvalCase{"TagMismatchDenies", {{"user", kCoreTeam}},
                 start("node/a", {{"node:tag/team", {"web"}}, {"user:tag/team", {"core"}}}), kDefault},
        EvalCase{"GroupDenyOverridesUserAllow", {{"user", kCoreTeam}, {"group:all", kProdGuard}},
                 start("node/a", {{"node:tag/team", {"core"}}, {"user:tag/team", {"core"}}, {"node:tag/env", {"prod"}}}),
                 kDeny, "group:all", "ProdNeedsOncall"},
        EvalCase{"OncallPassesGuard", {{"user", kCoreTeam}, {"group:all", kProdGuard}},
                 start("node/a", {{"node:tag/team", {"core"}}, {"user:tag/team", {"core"}}, {"node:tag/env", {"prod"}},
                                  {"user:tag/role", {"oncall"}}}),
                 kAllow, "user"},
        EvalCase{"GuardWithoutRoleTagDenies", {{"group:all", kProdGuard}, builtin("AdministratorAccess")},
                 start("node/a", {{"node:tag/env", {"prod"}}}), kDeny},
        EvalCase{"GroupAllowAddsPermission", {{"user", kCoreTeam}, builtin("ReadOnly")},
                 {"audit:Read", "audit", {}}, kAllow, "ReadOnly"}),
    [](const auto& p) { return p.param.name; });

const Context kAlice = {{"user:name", {"alice"}}};
Context owned_by(const std::string& owner) {
  return {{"user:name", {"alice"}}, {"session:owner", {owner}}};
}

INSTANTIATE_TEST_SUITE_P(
    Builtins, Evaluate,
    testing::Values(
        EvalCase{"AdminAllowsAnything", {builtin("AdministratorAccess")}, {"user:Delete", "user/bob", {}}, kAllow,
                 "AdministratorAccess"},
        EvalCase{"SessionUserStartsOnNodes", {builtin("SessionUser")}, start("node/mi-1", kAlice), kAllow},
        EvalCase{"SessionUserPortForward", {builtin("SessionUser")}, {"session:PortForward", "node/mi-1", kAlice}, kAllow},
        EvalCase{"SessionUserNotStartOnOtherResource", {builtin("SessionUser")}, start("session/s1", kAlice), kDefault},
        EvalCase{"SessionUserListsNodes", {builtin("SessionUser")}, {"node:List", "*", kAlice}, kAllow},
        EvalCase{"SessionUserListsSessions", {builtin("SessionUser")}, {"session:List", "*", kAlice}, kAllow},
        EvalCase{"SessionUserTerminatesOwn", {builtin("SessionUser")}, {"session:Terminate", "session/s1", owned_by("alice")},
                 kAllow},
        EvalCase{"SessionUserNotOthers", {builtin("SessionUser")}, {"session:Terminate", "session/s1", owned_by("bob")},
                 kDefault},
        EvalCase{"SessionUserReadsOwnRecording", {builtin("SessionUser")},
                 {"recording:Read", "session/s1", owned_by("alice")}, kAllow},
        EvalCase{"SessionUserNoOthersRecording", {builtin("SessionUser")},
                 {"recording:Read", "session/s1", owned_by("bob")}, kDefault},
        EvalCase{"SessionUserCannotTag", {builtin("SessionUser")}, {"node:Tag", "node/mi-1", kAlice}, kDefault},
        EvalCase{"SessionUserCannotCreateUsers", {builtin("SessionUser")}, {"user:Create", "user/x", kAlice}, kDefault},
        EvalCase{"ReadOnlyReadsAudit", {builtin("ReadOnly")}, {"audit:Read", "*", {}}, kAllow},
        EvalCase{"ReadOnlyReadsSessions", {builtin("ReadOnly")}, {"session:Read", "session/s1", {}}, kAllow},
        EvalCase{"ReadOnlyCannotStart", {builtin("ReadOnly")}, start("node/mi-1"), kDefault},
        EvalCase{"ReadOnlyCannotUpdatePolicy", {builtin("ReadOnly")}, {"policy:Update", "policy/x", {}}, kDefault},
        EvalCase{"ReadOnlyCannotReadRecordings", {builtin("ReadOnly")}, {"recording:Read", "session/s1", {}}, kDefault}),
    [](const auto& p) { return p.param.name; });

TEST(Explanation, AllowNamesStatementAndPolicy) {
  const Decision d = evaluate({load({"SessionUser", doc(kAllowStart)})}, start("node/x"));
  EXPECT_EQ(d.explanation, R"(allowed by statement "AllowStart" (#0) of policy "SessionUser")");
  EXPECT_EQ(d.statement_index, 0);
}

TEST(Explanation, DenyAndUnnamedStatement) {
  const Decision d = evaluate(
      {load({"Guard", doc(kAllowStart + R"(, {"Effect": "Deny", "Action": "*", "Resource": "*"})")})},
      start("node/x"));
  EXPECT_EQ(d.effect, Decision::Effect::kExplicitDeny);
  EXPECT_EQ(d.explanation, R"(explicitly denied by statement #1 of policy "Guard")");
  EXPECT_EQ(d.statement_index, 1);
  EXPECT_EQ(d.sid, "");
}

TEST(Explanation, DefaultDeny) {
  const Decision d = evaluate({}, start("node/x"));
  EXPECT_EQ(d.explanation, "no statement matched: default deny");
  EXPECT_EQ(d.statement_index, -1);
  EXPECT_EQ(d.policy_name, "");
}

TEST(EffectivePolicies, UnionDropsExactRepeats) {
  const NamedPolicy session = load(builtin("SessionUser"));
  const NamedPolicy read = load(builtin("ReadOnly"));
  const NamedPolicy guard = load({"Guard", doc(kDenyProd)});
  const auto all = effective_policies({session}, {{read, session}, {guard}, {}});
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].name, "SessionUser");
  EXPECT_EQ(all[1].name, "ReadOnly");
  EXPECT_EQ(all[2].name, "Guard");
  // Same name, different document: both kept so no Deny is lost.
  const NamedPolicy other{"Guard", load({"x", doc(kAllowStart)}).document};
  EXPECT_EQ(effective_policies({guard}, {{other}}).size(), 2U);
  const Decision d = evaluate(all, start("node/x", {{"node:tag/env", {"prod"}}, {"user:name", {"alice"}}}));
  EXPECT_EQ(d.effect, Decision::Effect::kExplicitDeny);
}

TEST(Builtins, AllParseWithoutWarnings) {
  ASSERT_EQ(builtin_policies().size(), 3U);
  for (const auto& [name, text] : builtin_policies()) {
    auto parsed = parse_policy(text);
    ASSERT_TRUE(std::holds_alternative<Document>(parsed)) << name;
    EXPECT_TRUE(policy_warnings(std::get<Document>(parsed)).empty()) << name;
  }
}

TEST(KnownActions, CatalogueIsComplete) {
  const auto& actions = known_actions();
  EXPECT_EQ(actions.size(), 36U);
  for (const auto& a : actions) {
    EXPECT_NE(a.find(':'), std::string::npos) << a;
  }
}

}  // namespace
}  // namespace sallyport::policy
