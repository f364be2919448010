#pragma once
// Frames one side of a session has sent but does not yet know the other side received, kept so
// they can be sent again over a new connection after the old one broke. Frames are numbered
// from 0 in the order sent. A frame is dropped once credit (bytes the far end consumed) covers
// it; a frame that carries no counted bytes (an end of input) is dropped only when credit covers
// a later one. Bounded by the flow-control window: the sender cannot have more than one window
// of counted bytes uncredited. Frames are shared with the socket that sends them, not copied.
// Pure: no I/O.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace sallyport::wire {

class ReplayQueue {
 public:
  using Frame = std::shared_ptr<const std::string>;
  // For a side that takes a session over from another that kept the frames (a restarted
  // gateway), on an empty queue: `frames` frames with `counted` counted bytes in all went before
  // the next one, and the far end has credited `credited` bytes of them. False when credited >
  // counted.
  bool start_at(std::uint64_t frames, std::uint64_t counted, std::uint64_t credited);
  // Keeps a frame just sent; `counted` is the bytes credit will count for it.
  void sent(Frame frame, std::uint64_t counted);
  // The far end consumed `bytes` more counted bytes.
  void credited(std::uint64_t bytes);
  // The far end says it received `frames` frames in all. Drops those; false when the count is
  // impossible (below what was already dropped, or above what was sent).
  bool received(std::uint64_t frames);

  std::uint64_t next_number() const { return first_number_ + entries_.size(); }  // of the next frame sent
  // For a resend that may take a while: the kept frame numbered `cursor` or, when that was
  // dropped meanwhile, the first kept after it; the cursor then points past it. Null once the
  // cursor has caught up with what was sent, frames sent during the resend included.
  Frame next_from(std::uint64_t& cursor) const;
  std::size_t count() const { return entries_.size(); }
  const Frame& frame(std::size_t i) const { return entries_[i].frame; }  // 0: the oldest kept
  std::uint64_t bytes() const { return bytes_; }  // held, for the memory bound

 private:
  struct Entry {
    Frame frame;
    std::uint64_t counted = 0;
    std::uint64_t end = 0;  // counted bytes sent up to and including this frame
  };
  void drop_front();

  std::deque<Entry> entries_;
  std::uint64_t first_number_ = 0;  // number of entries_.front()
  std::uint64_t counted_sent_ = 0;
  std::uint64_t credited_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace sallyport::wire
