#include "sallyport/wire/replay_queue.hpp"

#include <gtest/gtest.h>

namespace sallyport::wire {
namespace {

ReplayQueue::Frame frame(std::string bytes) { return std::make_shared<const std::string>(std::move(bytes)); }

TEST(ReplayQueue, CreditDropsTheFramesItCovers) {
  ReplayQueue queue;
  queue.sent(frame("aaaa"), 4);
  queue.sent(frame("bb"), 2);
  queue.sent(frame("cccccc"), 6);
  EXPECT_EQ(queue.count(), 3u);
  EXPECT_EQ(queue.bytes(), 12u);
  queue.credited(5);  // covers the first frame, part of the second
  ASSERT_EQ(queue.count(), 2u);
  EXPECT_EQ(*queue.frame(0), "bb");
  queue.credited(1);  // exactly the end of the second
  ASSERT_EQ(queue.count(), 1u);
  EXPECT_EQ(*queue.frame(0), "cccccc");
  EXPECT_EQ(queue.next_number(), 3u);
  queue.credited(6);
  EXPECT_EQ(queue.count(), 0u);
  EXPECT_EQ(queue.bytes(), 0u);
}

TEST(ReplayQueue, AResendWalksFromACursorPastWhatWasDroppedAndIntoWhatWasAdded) {
  ReplayQueue queue;
  for (const char* bytes : {"a", "b", "c"}) queue.sent(frame(bytes), 1);
  std::uint64_t cursor = 1;  // the peer has frame 0
  ASSERT_NE(queue.next_from(cursor), nullptr);
  EXPECT_EQ(cursor, 2u);
  queue.credited(3);  // the rest is credited while the resend waits: nothing left to send
  EXPECT_EQ(queue.next_from(cursor), nullptr);
  queue.sent(frame("d"), 1);  // sent during the resend: it goes too
  const auto next = queue.next_from(cursor);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(*next, "d");
  EXPECT_EQ(cursor, 4u);
  EXPECT_EQ(queue.next_from(cursor), nullptr);
}

TEST(ReplayQueue, AnEndOfInputStaysUntilCreditPassesIt) {
  ReplayQueue queue;
  queue.sent(frame("data"), 4);
  queue.sent(frame("eof"), 0);
  queue.credited(4);
  ASSERT_EQ(queue.count(), 1u);  // credit for the data says nothing of the end that followed it
  EXPECT_EQ(*queue.frame(0), "eof");
  queue.sent(frame("more"), 4);
  queue.credited(1);  // credit past the end's position: it arrived before
  ASSERT_EQ(queue.count(), 1u);
  EXPECT_EQ(*queue.frame(0), "more");
}

TEST(ReplayQueue, ReceivedCountDropsWhatArrivedAndRefusesTheImpossible) {
  ReplayQueue queue;
  for (int i = 0; i < 5; ++i) queue.sent(frame(std::string(1, static_cast<char>('a' + i))), 1);
  queue.credited(2);  // frames 0 and 1 dropped
  EXPECT_FALSE(queue.received(1));  // below what was dropped: the peer lost frames it credited
  EXPECT_FALSE(queue.received(6));  // more than was ever sent
  EXPECT_EQ(queue.count(), 3u);
  EXPECT_TRUE(queue.received(4));
  ASSERT_EQ(queue.count(), 1u);
  EXPECT_EQ(*queue.frame(0), "e");
  EXPECT_TRUE(queue.received(5));
  EXPECT_EQ(queue.count(), 0u);
  EXPECT_EQ(queue.next_number(), 5u);
  // Credit for the frames dropped by count still arrives later; it does not cover the next.
  queue.sent(frame("f"), 1);
  queue.credited(3);
  EXPECT_EQ(queue.count(), 1u);
  queue.credited(1);
  EXPECT_EQ(queue.count(), 0u);
}

TEST(ReplayQueue, AQueueStartedPartWayNumbersOnAndCountsCreditForTheEarlierFramesFirst) {
  ReplayQueue queue;
  EXPECT_FALSE(queue.start_at(7, 100, 101));  // more credited than ever sent
  ASSERT_TRUE(queue.start_at(7, 100, 90));    // 10 bytes of the first 7 frames are not credited yet
  EXPECT_EQ(queue.next_number(), 7u);
  EXPECT_FALSE(queue.received(6));  // before the start: those frames are not here to send again
  queue.sent(frame("xyz"), 3);
  queue.sent(frame("w"), 1);
  queue.credited(10);  // the earlier frames' credit covers nothing of the new ones
  EXPECT_EQ(queue.count(), 2u);
  queue.credited(3);
  ASSERT_EQ(queue.count(), 1u);
  EXPECT_EQ(*queue.frame(0), "w");
  std::uint64_t cursor = 7;
  const auto next = queue.next_from(cursor);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(*next, "w");
  EXPECT_EQ(cursor, 9u);
  EXPECT_TRUE(queue.received(9));
  EXPECT_EQ(queue.count(), 0u);
}

}  // namespace
}  // namespace sallyport::wire
