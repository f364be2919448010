#include "sallyport/util/duration.hpp"

#include <gtest/gtest.h>

using sallyport::util::format_duration;
using sallyport::util::parse_duration;
using std::chrono::milliseconds;

TEST(Duration, ParsesUnitsAndCombinations) {
  EXPECT_EQ(parse_duration("90s"), milliseconds(90'000));
  EXPECT_EQ(parse_duration("15m"), milliseconds(900'000));
  EXPECT_EQ(parse_duration("24h"), milliseconds(86'400'000));
  EXPECT_EQ(parse_duration("7d"), milliseconds(7 * 86'400'000LL));
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
}

TEST(Duration, RefusesMalformed) {
  for (const char* bad : {"", "h", "10", "10x", "-5s", "1.5h", "10 s", "99999999999999999999d"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsReadably) {
  EXPECT_EQ(format_duration(milliseconds(5'400'000)), "1h30m");
  EXPECT_EQ(format_duration(milliseconds(45'000)), "45s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
}
