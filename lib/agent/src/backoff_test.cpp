#include "sallyport/agent/backoff.hpp"

#include <gtest/gtest.h>

using sallyport::agent::Backoff;
using std::chrono::milliseconds;

TEST(Backoff, GrowsToTheCapWithJitterAndResets) {
  Backoff backoff(milliseconds(1000), milliseconds(30'000), 42);
  std::vector<milliseconds> waits;
  for (int i = 0; i < 12; ++i) waits.push_back(backoff.next());
  for (std::size_t i = 0; i < waits.size(); ++i) {
    const auto ceiling = std::min<long>(30'000, 1000L << i);
    EXPECT_GE(waits[i].count(), 500) << i;
    EXPECT_LE(waits[i].count(), ceiling) << i;
  }
  backoff.reset();
  EXPECT_LE(backoff.next().count(), 1000);
}

TEST(Backoff, JitterSpreadsAFleet) {
  std::set<long> distinct;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Backoff backoff(milliseconds(1000), milliseconds(30'000), seed);
    for (int i = 0; i < 5; ++i) backoff.next();
    distinct.insert(backoff.next().count());
  }
  EXPECT_GT(distinct.size(), 10u);
}
