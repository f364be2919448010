#include "sallyport/util/tags.hpp"

#include <gtest/gtest.h>

using sallyport::util::format_tags;
using sallyport::util::parse_tags;

TEST(Tags, ParsesList) {
  const auto result = parse_tags("env=dev,team=core");
  ASSERT_TRUE(result.error.empty()) << result.error;
  EXPECT_EQ(result.tags.at("env"), "dev");
  EXPECT_EQ(result.tags.at("team"), "core");
  EXPECT_EQ(format_tags(result.tags), "env=dev,team=core");
}

TEST(Tags, EmptyTextGivesNoTags) {
  const auto result = parse_tags("");
  EXPECT_TRUE(result.error.empty());
  EXPECT_TRUE(result.tags.empty());
}

TEST(Tags, ValueMayBeEmptyOrContainEquals) {
  const auto result = parse_tags("a=,b=x=y");
  ASSERT_TRUE(result.error.empty());
  EXPECT_EQ(result.tags.at("a"), "");
  EXPECT_EQ(result.tags.at("b"), "x=y");
}

TEST(Tags, RefusesMalformed) {
  EXPECT_FALSE(parse_tags("novalue").error.empty());
  EXPECT_FALSE(parse_tags("=x").error.empty());
  EXPECT_FALSE(parse_tags("bad key=x").error.empty());
  EXPECT_FALSE(parse_tags("k=v;rm").error.empty());
  EXPECT_FALSE(parse_tags(std::string(200, 'k') + "=v").error.empty());
}
