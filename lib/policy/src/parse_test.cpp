// Parsing: accepted shapes, and rejected documents with their error path and position.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "sallyport/policy/policy.hpp"

namespace sallyport::policy {
namespace {

Document parse_ok(std::string_view text) {
  auto parsed = parse_policy(text);
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << format_parse_error(*error);
    return {};
  }
  return std::get<Document>(std::move(parsed));
}

// A one-statement document on separate lines; the statement's text starts on line 4, column 5.
std::string wrap(const std::string& statement) {
  return "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    " + statement + "\n  ]\n}\n";
}

struct ErrorCase {
  std::string name;
  std::string text;
  std::string path;
  int line;
  int column;
  std::string message;  // expected substring
};

class ParseErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrors, ReportsPathAndPosition) {
  const ErrorCase& c = GetParam();
  auto parsed = parse_policy(c.text);
  ASSERT_TRUE(std::holds_alternative<ParseError>(parsed)) << "accepted:\n" << c.text;
  const ParseError& e = std::get<ParseError>(parsed);
  EXPECT_EQ(e.path, c.path) << format_parse_error(e);
  EXPECT_EQ(e.line, c.line) << format_parse_error(e);
  EXPECT_EQ(e.column, c.column) << format_parse_error(e);
  EXPECT_NE(e.message.find(c.message), std::string::npos) << format_parse_error(e);
}

const std::string kOk = R"("Effect": "Allow", "Action": "session:Start", "Resource": "*")";

INSTANTIATE_TEST_SUITE_P(
    Syntax, ParseErrors,
    testing::Values(
        ErrorCase{"TrailingComma", wrap(R"({"Effect": "Allow",})"), "", 4, 24, "invalid JSON"},
        ErrorCase{"Unterminated", "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [", "", 3, 17,
                  "invalid JSON"},
        ErrorCase{"BareWord", wrap(R"({"Effect": Allow})"), "", 4, 16, "invalid JSON"},
        // nlohmann reports the last byte it read: here the end of the unexpected string.
        ErrorCase{"MissingColon", "{\"Version\" \"2012-10-17\"}", "", 1, 23, "invalid JSON"},
        ErrorCase{"Empty", "", "", 1, 1, "invalid JSON"},
        ErrorCase{"TrailingGarbage", "{}\n}", "", 2, 1, "invalid JSON"},
        ErrorCase{"InvalidUtf8", "{\"Version\": \"\xff\"}", "", 1, 14, "invalid JSON"},
        ErrorCase{"NumberOverflow", "{\"Version\":\n 1e999}", "", 2, 6, "invalid JSON"},
        ErrorCase{"UnicodeColumnsCountCodePoints", "{\"S\xC3\xA9\": x}", "", 1, 8, "invalid JSON"}),
    [](const auto& p) { return p.param.name; });

INSTANTIATE_TEST_SUITE_P(
    TopLevel, ParseErrors,
    testing::Values(
        ErrorCase{"NotAnObject", "[]", "", 1, 1, "must be a JSON object"},
        ErrorCase{"MissingVersion", "\n{\"Statement\": [{" + kOk + "}]}", "Version", 2, 1, "missing \"Version\""},
        ErrorCase{"OldVersion", "{\n  \"Version\": \"2008-10-17\",\n  \"Statement\": []}", "Version", 2, 14,
                  "\"2012-10-17\" or \"2026-01-01\""},
        ErrorCase{"VersionNotString", "{\n  \"Version\": 2012,\n  \"Statement\": []}", "Version", 2, 14,
                  "Version must be a string"},
        ErrorCase{"UnknownTopLevelKey", "{\n  \"Version\": \"2012-10-17\",\n  \"Statment\": []}", "Statment", 3, 3,
                  "unknown key \"Statment\""},
        ErrorCase{"MissingStatement", "{\"Version\": \"2012-10-17\"}", "Statement", 1, 1, "missing \"Statement\""},
        ErrorCase{"StatementWrongType", "{\"Version\": \"2012-10-17\",\n\"Statement\": \"Allow\"}", "Statement", 2, 14,
                  "object or a list of objects"},
        ErrorCase{"StatementEmpty", "{\"Version\": \"2012-10-17\",\n\"Statement\": []}", "Statement", 2, 14,
                  "must not be empty"},
        ErrorCase{"StatementElementNotObject", wrap("42"), "Statement[0]", 4, 5, "must be an object"},
        ErrorCase{"IdNotString", "{\"Version\": \"2012-10-17\", \"Id\": [], \"Statement\": {" + kOk + "}}", "Id", 1, 33,
                  "Id must be a string"},
        ErrorCase{"DuplicateKey", "{\"Version\": \"2012-10-17\",\n \"Version\": \"2012-10-17\"}", "Version", 2, 2,
                  "duplicate key"},
        ErrorCase{"DuplicateEscapedKey", "{\"Version\": \"2012-10-17\",\n \"Versio\\u006e\": \"2012-10-17\"}", "Version",
                  2, 2, "duplicate key"},
        ErrorCase{"FirstErrorInTextOrder",
                  "{\n  \"Version\": \"2012-10-17\",\n  \"Zebra\": 1,\n  \"Apple\": 2,\n  \"Statement\": []}", "Zebra", 3, 3,
                  "unknown key"}),
    [](const auto& p) { return p.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Statements, ParseErrors,
    testing::Values(
        ErrorCase{"BadEffect", wrap(R"({"Effect": "allow", "Action": "session:Start", "Resource": "*"})"),
                  "Statement[0].Effect", 4, 16, "Effect must be \"Allow\" or \"Deny\""},
        ErrorCase{"EffectInSingleStatementObject",
                  "{\"Version\": \"2012-10-17\",\n \"Statement\": {\"Effect\": \"Permit\"}}", "Statement.Effect", 2, 26,
                  "Effect must be"},
        ErrorCase{"MissingEffect", wrap(R"({"Action": "session:Start", "Resource": "*"})"), "Statement[0].Effect", 4, 5,
                  "missing \"Effect\""},
        ErrorCase{"ActionWrongType", wrap(R"({"Effect": "Allow", "Action": 42, "Resource": "*"})"),
                  "Statement[0].Action", 4, 35, "Action must be a string or a list of strings"},
        ErrorCase{"ActionObject", wrap(R"({"Effect": "Allow", "Action": {}, "Resource": "*"})"), "Statement[0].Action",
                  4, 35, "Action must be a string or a list of strings"},
        ErrorCase{"ActionElementWrongType",
                  wrap(R"({"Effect": "Allow", "Action": ["session:Start", 7], "Resource": "*"})"),
                  "Statement[0].Action[1]", 4, 53, "Action must be a string or a list of strings"},
        ErrorCase{"ActionEmptyList", wrap(R"({"Effect": "Allow", "Action": [], "Resource": "*"})"),
                  "Statement[0].Action", 4, 35, "must not be empty"},
        ErrorCase{"ActionWithoutService", wrap(R"({"Effect": "Allow", "Action": "Start", "Resource": "*"})"),
                  "Statement[0].Action", 4, 35, "invalid action \"Start\""},
        ErrorCase{"ActionWithVariable", wrap(R"({"Effect": "Allow", "Action": "session:${x}", "Resource": "*"})"),
                  "Statement[0].Action", 4, 35, "invalid action"},
        ErrorCase{"ActionAndNotAction",
                  wrap(R"({"Effect": "Allow", "Action": "a:b", "NotAction": "c:d", "Resource": "*"})"),
                  "Statement[0].NotAction", 4, 42, "both Action and NotAction"},
        ErrorCase{"MissingAction", wrap(R"({"Effect": "Allow", "Resource": "*"})"), "Statement[0].Action", 4, 5,
                  "missing \"Action\""},
        ErrorCase{"MissingResource", wrap(R"({"Effect": "Allow", "Action": "a:b"})"), "Statement[0].Resource", 4, 5,
                  "missing \"Resource\""},
        ErrorCase{"ResourceAndNotResource",
                  wrap(R"({"Effect": "Allow", "Action": "a:b", "Resource": "x", "NotResource": "y"})"),
                  "Statement[0].NotResource", 4, 59, "both Resource and NotResource"},
        ErrorCase{"ResourceEmptyString", wrap(R"({"Effect": "Allow", "Action": "a:b", "Resource": ["x", ""]})"),
                  "Statement[0].Resource[1]", 4, 60, "must not be an empty string"},
        ErrorCase{"ResourceUnterminatedVariable",
                  wrap(R"({"Effect": "Allow", "Action": "a:b", "Resource": "home/${user:name"})"),
                  "Statement[0].Resource", 4, 54, "unterminated policy variable"},
        ErrorCase{"ResourceEmptyVariable", wrap(R"({"Effect": "Allow", "Action": "a:b", "Resource": "home/${}"})"),
                  "Statement[0].Resource", 4, 54, "empty policy variable"},
        ErrorCase{"UnknownStatementKey", wrap(R"({"Effect": "Allow", "Actions": "a:b", "Resource": "*"})"),
                  "Statement[0].Actions", 4, 25, "unknown key \"Actions\" in statement"},
        ErrorCase{"PrincipalNotSupported",
                  wrap(R"({"Effect": "Allow", "Principal": "*", "Action": "a:b", "Resource": "*"})"),
                  "Statement[0].Principal", 4, 25, "Principal is not supported"},
        ErrorCase{"SidNotString", wrap(R"({"Sid": 1, "Effect": "Allow", "Action": "a:b", "Resource": "*"})"),
                  "Statement[0].Sid", 4, 13, "Sid must be a string"},
        ErrorCase{"DuplicateSid",
                  "{\"Version\": \"2012-10-17\", \"Statement\": [\n {\"Sid\": \"A\", " + kOk + "},\n {\"Sid\": \"A\", " +
                      kOk + "}]}",
                  "Statement[1].Sid", 3, 10, "duplicate Sid \"A\" (also statement #0)"},
        ErrorCase{"DuplicateStatementKey",
                  wrap(R"({"Effect": "Allow", "Effect": "Deny", "Action": "a:b", "Resource": "*"})"),
                  "Statement[0].Effect", 4, 25, "duplicate key \"Effect\""},
        ErrorCase{"SecondStatementPath",
                  "{\"Version\": \"2012-10-17\", \"Statement\": [\n {" + kOk + "},\n {\"Effect\": \"Maybe\"}]}",
                  "Statement[1].Effect", 3, 13, "Effect must be"}),
    [](const auto& p) { return p.param.name; });

std::string with_condition(const std::string& condition) {
  return wrap(R"({"Effect": "Allow", "Action": "a:b", "Resource": "*",)" "\n    \"Condition\": " + condition +
              "}");
}

INSTANTIATE_TEST_SUITE_P(
    Conditions, ParseErrors,
    testing::Values(
        ErrorCase{"ConditionNotObject", with_condition(R"(["StringEquals"])"), "Statement[0].Condition", 5, 18,
                  "Condition must be an object"},
        ErrorCase{"UnknownOperator", with_condition(R"({"NumericEquals": {"forward:port": 22}})"),
                  "Statement[0].Condition.NumericEquals", 5, 19, "unknown condition operator \"NumericEquals\""},
        ErrorCase{"OperatorCaseMatters", with_condition(R"({"stringequals": {"a": "b"}})"),
                  "Statement[0].Condition.stringequals", 5, 19, "unknown condition operator"},
        ErrorCase{"NullIfExistsUnknown", with_condition(R"({"NullIfExists": {"a": "true"}})"),
                  "Statement[0].Condition.NullIfExists", 5, 19, "unknown condition operator"},
        ErrorCase{"SetQualifierUnsupported", with_condition(R"({"ForAnyValue:StringEquals": {"a": "b"}})"),
                  "Statement[0].Condition.ForAnyValue:StringEquals", 5, 19, "unknown condition operator"},
        ErrorCase{"OperatorValueNotObject", with_condition(R"({"StringEquals": "a"})"),
                  "Statement[0].Condition.StringEquals", 5, 35, "must be an object of condition keys"},
        ErrorCase{"ConditionValueFloat", with_condition(R"({"StringEquals": {"forward:port": 2.5}})"),
                  "Statement[0].Condition.StringEquals.forward:port", 5, 52, "a condition value must be"},
        ErrorCase{"ConditionValueNull", with_condition(R"({"StringEquals": {"k": [null]}})"),
                  "Statement[0].Condition.StringEquals.k[0]", 5, 42, "a condition value must be"},
        ErrorCase{"ConditionValueEmptyList", with_condition(R"({"StringLike": {"k": []}})"),
                  "Statement[0].Condition.StringLike.k", 5, 39, "must not be empty"},
        ErrorCase{"BoolValueInvalid", with_condition(R"({"Bool": {"k": "yes"}})"), "Statement[0].Condition.Bool.k",
                  5, 33, "Bool values must be \"true\" or \"false\""},
        ErrorCase{"NullValueInvalid", with_condition(R"({"Null": {"k": 1}})"), "Statement[0].Condition.Null.k", 5,
                  33, "Null values must be"},
        ErrorCase{"ConditionVariableUnterminated", with_condition(R"({"StringEquals": {"k": "${user:name"}})"),
                  "Statement[0].Condition.StringEquals.k", 5, 41, "unterminated policy variable"},
        ErrorCase{"EmptyConditionKey", with_condition(R"({"StringEquals": {"": "x"}})"),
                  "Statement[0].Condition.StringEquals[\"\"]", 5, 36, "empty condition key"},
        ErrorCase{"KeyWithDotIsQuotedInPath", with_condition(R"({"StringEquals": {"a.b": []}})"),
                  "Statement[0].Condition.StringEquals[\"a.b\"]", 5, 43, "must not be empty"}),
    [](const auto& p) { return p.param.name; });

std::string many_statements(std::size_t count) {
  std::string statements;
  for (std::size_t i = 0; i < count; ++i) {
    statements += (i == 0 ? "" : ",\n") + std::string("{") + kOk + "}";
  }
  return "{\"Version\": \"2012-10-17\", \"Statement\": [\n" + statements + "]}";
}

std::string nested(std::size_t depth) {
  return "{\"Version\": \"2012-10-17\", \"Statement\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
}

INSTANTIATE_TEST_SUITE_P(
    Limits, ParseErrors,
    testing::Values(
        ErrorCase{"TooManyStatements", many_statements(kMaxStatements + 1), "Statement[100]", 102, 1,
                  "too many statements (the limit is 100)"},
        ErrorCase{"OversizedText", "{\"Version\": \"" + std::string(kMaxPolicyBytes, 'x') + "\"}", "", 0, 0,
                  "the limit is 65536"},
        ErrorCase{"TooDeep", nested(40), "Statement[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]", 1, 71,
                  "nesting deeper than 32"}),
    [](const auto& p) { return p.param.name; });

TEST(Parse, AcceptsBothVersions) {
  EXPECT_EQ(parse_ok(R"({"Version": "2012-10-17", "Statement": {)" + kOk + "}}").version, "2012-10-17");
  EXPECT_EQ(parse_ok(R"({"Version": "2026-01-01", "Statement": {)" + kOk + "}}").version, "2026-01-01");
}

TEST(Parse, ExactlyMaxStatementsIsAccepted) {
  EXPECT_EQ(parse_ok(many_statements(kMaxStatements)).statements.size(), kMaxStatements);
}

TEST(Parse, ExactlyMaxBytesIsAccepted) {
  std::string text = R"({"Version": "2012-10-17", "Statement": {)" + kOk + "}}";
  text += std::string(kMaxPolicyBytes - text.size(), ' ');
  ASSERT_EQ(text.size(), kMaxPolicyBytes);
  parse_ok(text);
}

TEST(Parse, FillsStatementFields) {
  const Document d = parse_ok(R"({
    "Version": "2012-10-17", "Id": "team-access",
    "Statement": [{
      "Sid": "Team", "Effect": "Deny", "NotAction": ["user:*", "group:*"], "NotResource": "node/${user:tag/team}-*",
      "Condition": {"StringEqualsIfExists": {"forward:port": [22, "443"]}, "Bool": {"mfa": true}, "Null": {"x": "TRUE"}}
    }]})");
  ASSERT_EQ(d.statements.size(), 1U);
  const Statement& s = d.statements[0];
  EXPECT_EQ(d.id, "team-access");
  EXPECT_EQ(s.sid, "Team");
  EXPECT_EQ(s.effect, Effect::kDeny);
  EXPECT_TRUE(s.actions.empty());
  EXPECT_EQ(s.not_actions, (std::vector<std::string>{"user:*", "group:*"}));
  EXPECT_TRUE(s.resources.empty());
  EXPECT_EQ(s.not_resources, (std::vector<std::string>{"node/${user:tag/team}-*"}));
  ASSERT_EQ(s.conditions.size(), 3U);
  // Conditions keep the order of the text.
  EXPECT_EQ(s.conditions[0], (Condition{ConditionOperator::kStringEquals, true, "forward:port", {"22", "443"}}));
  EXPECT_EQ(s.conditions[1], (Condition{ConditionOperator::kBool, false, "mfa", {"true"}}));
  EXPECT_EQ(s.conditions[2], (Condition{ConditionOperator::kNull, false, "x", {"true"}}));
  EXPECT_EQ(operator_name(s.conditions[0].op, s.conditions[0].if_exists), "StringEqualsIfExists");
}

TEST(Parse, AcceptsByteOrderMarkAndEscapedKeys) {
  const Document d = parse_ok("\xEF\xBB\xBF{\"Versio\\u006e\": \"2012-10-17\", \"Statement\": {" + kOk + "}}");
  EXPECT_EQ(d.version, "2012-10-17");
}

TEST(Parse, EmptyConditionBlockIsAccepted) {
  const Document d = parse_ok(R"({"Version": "2012-10-17", "Statement": {)" + kOk + R"(, "Condition": {}}})");
  EXPECT_TRUE(d.statements.at(0).conditions.empty());
}

TEST(Parse, ErrorsAreValidUtf8ForBinaryInput) {
  const auto parsed = parse_policy(std::string_view("\x80\xff\x00", 3));
  ASSERT_TRUE(std::holds_alternative<ParseError>(parsed));
  const std::string message = std::get<ParseError>(parsed).message;
  EXPECT_EQ(message.find('\xff'), std::string::npos) << message;
}

TEST(FormatParseError, IncludesPositionAndPath) {
  EXPECT_EQ(format_parse_error({"Effect must be \"Allow\" or \"Deny\"", "Statement[0].Effect", 4, 13}),
            "line 4, column 13 (Statement[0].Effect): Effect must be \"Allow\" or \"Deny\"");
  EXPECT_EQ(format_parse_error({"invalid JSON: x", "", 1, 6}), "line 1, column 6: invalid JSON: x");
  EXPECT_EQ(format_parse_error({"too big", "", 0, 0}), "too big");
}

TEST(FormatParseError, RealError) {
  const auto parsed = parse_policy(wrap(R"({"Effect": "allow", "Action": "a:b", "Resource": "*"})"));
  ASSERT_TRUE(std::holds_alternative<ParseError>(parsed));
  EXPECT_EQ(format_parse_error(std::get<ParseError>(parsed)),
            "line 4, column 16 (Statement[0].Effect): Effect must be \"Allow\" or \"Deny\"");
}

TEST(Warnings, UnknownActionsAreWarnedNotRejected) {
  const Document d = parse_ok(R"({"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["sesion:Start", "session:*", "node:Li?t"], "Resource": "*"},
      {"Effect": "Deny", "NotAction": "audit:Write", "Resource": "*"}]})");
  const auto warnings = policy_warnings(d);
  ASSERT_EQ(warnings.size(), 2U);
  EXPECT_EQ(warnings[0], "Statement[0].Action[0]: \"sesion:Start\" matches no known action");
  EXPECT_EQ(warnings[1], "Statement[1].NotAction[0]: \"audit:Write\" matches no known action");
}

}  // namespace
}  // namespace sallyport::policy
