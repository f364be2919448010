#include "sallyport/util/time_format.hpp"

#include <gtest/gtest.h>

using namespace sallyport::util;

TEST(TimeFormat, RoundTrips) {
  const Millis t = 1'764'400'000'123;
  EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t);
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
}

TEST(TimeFormat, ParsesOffsets) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01.5Z"), 1500);
}

TEST(TimeFormat, RefusesMalformed) {
  for (const char* bad : {"", "1970-01-01", "1970-13-01T00:00:00Z", "1970-02-30T00:00:00Z",
                          "1970-01-01T00:00:00", "1970-01-01T00:00:00Zjunk"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

TEST(TimeFormat, SinceTakesDurationOrTime) {
  EXPECT_EQ(parse_since("1h", 10'000'000), 10'000'000 - 3'600'000);
  EXPECT_EQ(parse_since("1970-01-01T00:00:00Z", 5), 0);
  EXPECT_FALSE(parse_since("yesterday", 5).has_value());
}
