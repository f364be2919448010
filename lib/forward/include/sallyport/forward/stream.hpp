#pragma once
// One forwarded connection as a stream of frames on one channel. The local end is a connected
// TCP socket (or stdin/stdout); the peer is whoever receives the frames (the gateway relays
// them to the other end, which runs the same code).
//
// Flow control: each direction has a window of wire::kStreamWindowBytes. The stream reads its
// socket only while it holds credit, and returns credit for the peer's data only after it has
// written that data to its socket, so a slow local reader stops the remote sender of this
// stream alone. Half-close: end-of-file on the socket is sent as `eof` after the data; an `eof`
// from the peer shuts down the socket's sending side once the data before it is written. The
// stream is done when both directions have ended, or at once on an error or `stream_close`
// (a local error sends `stream_close` to the peer). Memory: at most one window of peer data is
// queued, plus one read buffer.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <memory>
#include <vector>
#include <string>

#include "sallyport/wire/frame.hpp"

namespace sallyport::forward {

// Sends one encoded frame towards the peer; false once the link is gone.
using SendFrame = std::function<boost::asio::awaitable<bool>(std::string frame)>;

struct StreamTotals {
  std::uint64_t bytes_sent = 0;      // read from the local socket and sent to the peer
  std::uint64_t bytes_received = 0;  // received from the peer and written to the local socket
};

// Called once when the stream is over; reason is empty for a clean close of both directions.
using StreamDone = std::function<void(const std::string& reason, const StreamTotals& totals)>;

// Bytes a group of streams may send together until the peer gives them back (the agent's
// streams of one forwarding session: wire::kForwardSessionWindowBytes). A stream with a budget
// waits until its socket is readable and only then takes what it reads, so an idle connection
// never holds any of it. One executor; not thread-safe.
class SendBudget {
 public:
  explicit SendBudget(std::uint64_t bytes) : limit_(bytes), available_(bytes) {}
  std::uint64_t available() const { return available_; }
  bool full() const { return available_ == limit_; }
  void take(std::uint64_t bytes) { available_ -= std::min(bytes, available_); }
  // Adds bytes back (never beyond the initial amount) and wakes every waiter.
  void give(std::uint64_t bytes);
  // `wake` is called once, at the next give().
  void wait(std::function<void()> wake) { waiters_.push_back(std::move(wake)); }

 private:
  std::uint64_t limit_;
  std::uint64_t available_;
  std::vector<std::function<void()>> waiters_;
};

class Stream {
 public:
  virtual ~Stream() = default;

  // Adopts a connected TCP socket's descriptor; with a budget, what it sends also counts there.
  static std::shared_ptr<Stream> from_socket(boost::asio::any_io_executor executor, int socket_fd,
                                             std::uint32_t channel, SendFrame send, StreamDone done,
                                             std::shared_ptr<SendBudget> budget = nullptr);
  // Reads input_fd and writes output_fd (pipes, sockets or terminals; not regular files).
  // Half-close closes output_fd.
  static std::shared_ptr<Stream> from_descriptors(boost::asio::any_io_executor executor, int input_fd, int output_fd,
                                                  std::uint32_t channel, SendFrame send, StreamDone done);

  virtual void start() = 0;
  // A frame the peer sent on this stream's channel, as received (header included).
  virtual void on_frame(std::string frame, const wire::Header& header) = 0;
  // Ends the stream without telling the peer (the peer already knows, or the link is gone).
  virtual void abort(const std::string& reason) = 0;
  virtual bool done() const = 0;
  virtual const StreamTotals& totals() const = 0;
};

}  // namespace sallyport::forward
