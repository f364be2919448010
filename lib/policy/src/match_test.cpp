// Wildcard and policy-variable matching.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "pattern.hpp"
#include "sallyport/policy/policy.hpp"

namespace sallyport::policy {
namespace {

struct MatchCase {
  std::string name;
  std::string pattern;
  std::string text;
  bool expected;
};

class ActionMatch : public testing::TestWithParam<MatchCase> {};
TEST_P(ActionMatch, Matches) {
  EXPECT_EQ(action_matches(GetParam().pattern, GetParam().text), GetParam().expected);
}
INSTANTIATE_TEST_SUITE_P(
    Table, ActionMatch,
    testing::Values(
        MatchCase{"Exact", "session:Start", "session:Start", true},
        MatchCase{"CaseInsensitiveText", "session:Start", "SESSION:START", true},
        MatchCase{"CaseInsensitivePattern", "Session:start", "session:Start", true},
        MatchCase{"ServiceStar", "session:*", "session:PortForward", true},
        MatchCase{"ServiceStarOtherService", "session:*", "node:List", false},
        MatchCase{"PrefixStar", "session:Port*", "session:PortForward", true},
        MatchCase{"PrefixStarMismatch", "session:Port*", "session:Start", false},
        MatchCase{"Question", "node:Li?t", "node:List", true},
        MatchCase{"QuestionNeedsOneChar", "node:List?", "node:List", false},
        MatchCase{"StarEverything", "*", "audit:Read", true},
        MatchCase{"StarService", "*:Read", "recording:Read", true},
        MatchCase{"NoPartialMatch", "session:Start", "session:StartX", false},
        MatchCase{"MiddleStar", "user:*Password", "user:UpdatePassword", true}),
    [](const auto& p) { return p.param.name; });

class ResourceMatch : public testing::TestWithParam<MatchCase> {};
TEST_P(ResourceMatch, Matches) {
  EXPECT_EQ(resource_matches(GetParam().pattern, GetParam().text), GetParam().expected);
}
INSTANTIATE_TEST_SUITE_P(
    Table, ResourceMatch,
    testing::Values(
        MatchCase{"Exact", "node/mi-1", "node/mi-1", true},
        MatchCase{"CaseSensitive", "node/mi-*", "node/MI-1", false},
        MatchCase{"StarCrossesSlash", "node/*", "node/a/b/c", true},
        MatchCase{"StarAlone", "*", "session/s-1", true},
        MatchCase{"StarMatchesEmpty", "node/*", "node/", true},
        MatchCase{"QuestionExactlyOne", "session/s-??", "session/s-12", true},
        MatchCase{"QuestionTooShort", "session/s-??", "session/s-1", false},
        MatchCase{"QuestionTooLong", "session/s-??", "session/s-123", false},
        MatchCase{"QuestionIsOneCodePoint", "node/?", "node/\xC3\xA9", true},
        MatchCase{"SeveralStars", "node/*-*-prod", "node/web-01-prod", true},
        MatchCase{"BacktrackingStar", "a*b*c", "aXbYbZc", true},
        MatchCase{"BacktrackingStarFails", "a*b*c", "aXbYbZ", false},
        MatchCase{"PrefixOnly", "node/", "node/x", false},
        MatchCase{"EscapedStarIsLiteral", "files/${*}", "files/*", true},
        MatchCase{"EscapedStarNotWildcard", "files/${*}", "files/x", false},
        MatchCase{"EscapedQuestionAndDollar", "a${?}${$}", "a?$", true},
        MatchCase{"VariableWithoutContextNeverMatches", "home/${user:name}", "home/${user:name}",
                  false}),
    [](const auto& p) { return p.param.name; });

TEST(Pattern, SubstitutedValuesAreLiteral) {
  const detail::VariableLookup lookup = [](std::string_view name) -> std::optional<std::string> {
    if (name == "user:name") {
      return "a*";
    }
    return std::nullopt;
  };
  const auto pattern = detail::compile("home/${user:name}/*", true, &lookup);
  ASSERT_TRUE(pattern);
  EXPECT_TRUE(detail::match(*pattern, "home/a*/x", detail::CaseMode::kSensitive));
  EXPECT_FALSE(detail::match(*pattern, "home/abc/x", detail::CaseMode::kSensitive));
  EXPECT_FALSE(detail::compile("home/${user:tag/x}", true, &lookup));
  EXPECT_FALSE(detail::compile("home/${user:name", true, &lookup));
}

TEST(Pattern, LongPathologicalInputStaysFast) {
  const std::string text(20000, 'a');
  const std::string pattern = std::string(50, '*') + "a*a*a*a*a*a*a*a*b";
  EXPECT_FALSE(resource_matches(pattern, text));
}

TEST(Pattern, CheckVariables) {
  EXPECT_FALSE(detail::check_variables("node/${user:name}/${*}"));
  EXPECT_TRUE(detail::check_variables("node/${user:name"));
  EXPECT_TRUE(detail::check_variables("node/${}"));
  EXPECT_FALSE(detail::check_variables("price: $5 {x}"));
}

}  // namespace
}  // namespace sallyport::policy
