#include "sallyport/wire/replay_queue.hpp"

namespace sallyport::wire {

bool ReplayQueue::start_at(std::uint64_t frames, std::uint64_t counted, std::uint64_t credited) {
  if (credited > counted) return false;
  entries_.clear();
  bytes_ = 0;
  first_number_ = frames;
  counted_sent_ = counted;
  credited_ = credited;
  return true;
}

void ReplayQueue::sent(Frame frame, std::uint64_t counted) {
  counted_sent_ += counted;
  bytes_ += frame->size();
  entries_.push_back({std::move(frame), counted, counted_sent_});
}

void ReplayQueue::credited(std::uint64_t bytes) {
  credited_ += bytes;
  while (!entries_.empty()) {
    const Entry& front = entries_.front();
    // Equal ends: a frame with counted bytes is covered; one without may not have arrived.
    const bool covered = front.end < credited_ || (front.end == credited_ && front.counted > 0);
    if (!covered) break;
    drop_front();
  }
}

bool ReplayQueue::received(std::uint64_t frames) {
  if (frames < first_number_ || frames > next_number()) return false;
  while (first_number_ < frames) drop_front();
  return true;
}

ReplayQueue::Frame ReplayQueue::next_from(std::uint64_t& cursor) const {
  if (cursor < first_number_) cursor = first_number_;
  if (cursor >= next_number()) return nullptr;
  return entries_[static_cast<std::size_t>(cursor++ - first_number_)].frame;
}

void ReplayQueue::drop_front() {
  bytes_ -= entries_.front().frame->size();
  entries_.pop_front();
  ++first_number_;
}

}  // namespace sallyport::wire
