#include "link_socket.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>
#include <span>
#include <array>
#include <vector>

#include "link_frame.hpp"
#include "queued_message.hpp"
#include "tcp_state.hpp"

namespace sallyport::transport::impl {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kInitialReadBytes = 16 * 1024;
constexpr std::size_t kKeptReadBytes = 64 * 1024 + kFrameHeaderBytes;  // a data frame; larger is given back
// ...once this many frames in a row fitted in it: a bulk transfer's frames keep the grown
// buffer instead of shrinking and zero-filling it again for every one.
constexpr int kSmallFramesBeforeShrink = 8;
constexpr std::size_t kFramesPerWrite = 8;  // queued frames joined in one gathered write
// Pongs and pings beyond this many unsent are dropped: a peer that pings without reading must
// not grow the queue (a later pong answers as well as a dropped one).
constexpr std::size_t kMaxQueuedControlFrames = 4;
constexpr auto kCloseWait = std::chrono::seconds(2);  // for the peer's answer to a close

struct Outgoing {
  FrameHeader header;
  QueuedMessage message;
  std::string_view bytes() const { return message.bytes(); }
};

class LinkSocket final : public MessageSocket, public std::enable_shared_from_this<LinkSocket> {
 public:
  LinkSocket(TlsStream stream, std::string received, std::string remote_address, LinkTimeouts timeouts,
             std::shared_ptr<void> keep_alive)
      : keep_alive_(std::move(keep_alive)),
        stream_(std::move(stream)),
        remote_address_(std::move(remote_address)),
        idle_(timeouts.idle),
        queue_changed_(stream_.get_executor()),
        keep_alive_timer_(stream_.get_executor()) {
    queue_changed_.expires_at(asio::steady_timer::time_point::max());
    buffer_.resize(std::max(kInitialReadBytes, received.size()));
    std::memcpy(buffer_.data(), received.data(), received.size());
    end_ = received.size();
  }

  void start_keep_alive() {
    asio::co_spawn(stream_.get_executor(), keep_alive(weak_from_this()), asio::detached);
  }

  asio::awaitable<std::optional<std::string>> read() override {
    reading_ = true;
    auto message = co_await read_message();
    reading_ = false;
    queue_changed_.cancel();  // close_gracefully may wait for the reader
    co_return message;
  }

  // Named, not braced in the co_await: GCC 12 destroys such a temporary twice.
  asio::awaitable<bool> write(std::string message) override {
    Outgoing outgoing{{}, {std::move(message), nullptr}};
    co_return co_await enqueue(std::move(outgoing));
  }

  asio::awaitable<bool> write_shared(std::shared_ptr<const std::string> message) override {
    Outgoing outgoing{{}, {std::string(), std::move(message)}};
    co_return co_await enqueue(std::move(outgoing));
  }

  asio::awaitable<void> close_gracefully(std::string reason) override {
    while (open_ && (writing_ || !queue_.empty())) {
      if (!writing_) co_await drain();
      else co_await wait_for_queue_change();
    }
    if (!open_ || closing_) co_return;
    closing_ = true;
    reason.resize(std::min(reason.size(), std::size_t{120}));
    co_await send_control(FrameKind::close, std::move(reason));
    // Wait for the peer's close (or its end of stream): closing with its last frames unread
    // would reset the connection and could lose them on its side.
    const auto deadline = Clock::now() + kCloseWait;
    while (open_ && Clock::now() < deadline) {
      if (reading_) {
        co_await wait_for_queue_change(deadline);
      } else {
        reading_ = true;
        const auto discarded = co_await read_message(deadline);
        reading_ = false;
        if (!discarded) break;
      }
    }
    close();
  }

  void close() override {
    if (!open_) return;
    open_ = false;
    boost::system::error_code ignored;
    auto& socket = stream_.next_layer().socket();
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close();
    // A write in flight still points into the queue; the writer empties it when it ends.
    if (!writing_) drop_queue();
    queue_changed_.cancel();
    keep_alive_timer_.cancel();
  }

  bool is_open() const override { return open_; }
  std::string remote_address() const override { return remote_address_; }
  bool lost() const override { return lost_; }

 private:
  void fail() {
    if (open_) lost_ = true;
    close();
  }

  void drop_queue() {
    queue_.clear();
    queued_bytes_ = 0;
    queued_controls_ = 0;
  }

  asio::awaitable<bool> enqueue(Outgoing message) {
    const std::size_t size = message.bytes().size();
    while (open_ && queued_bytes_ >= kMaxQueuedBytes) co_await wait_for_queue_change();
    if (!open_ || closing_) co_return false;
    if (size > kMaxMessageBytes) {  // the peer would refuse it; fail here, where the bug is
      spdlog::error("link to {}: a message of {} bytes is over the limit; closing", remote_address_, size);
      close();
      co_return false;
    }
    message.header = encode_frame_header(FrameKind::message, size);
    queued_bytes_ += size;
    queue_.push_back(std::move(message));
    if (!writing_) co_await drain();
    co_return open_;
  }

  std::string_view buffered() const { return {buffer_.data() + begin_, end_ - begin_}; }

  // The next message; answers pings and closes on the way. With a deadline, gives up then.
  asio::awaitable<std::optional<std::string>> read_message(Clock::time_point deadline = Clock::time_point::max()) {
    while (open_) {
      const DecodedFrame frame = decode_frame(buffered(), kMaxMessageBytes);
      if (frame.status == DecodedFrame::Status::malformed) {
        spdlog::debug("link from {} sent a malformed frame: {}", remote_address_, frame.error);
        close();
        break;
      }
      if (frame.status == DecodedFrame::Status::incomplete) {
        if (!co_await receive(frame.frame_bytes, deadline)) break;
        continue;
      }
      begin_ += frame.frame_bytes;
      small_frames_ = frame.frame_bytes <= kKeptReadBytes ? small_frames_ + 1 : 0;
      switch (frame.kind) {
        case FrameKind::message: {
          std::string message(frame.payload);
          release_space();
          co_return message;
        }
        case FrameKind::ping:
          send_control_soon(FrameKind::pong, frame.payload);
          release_space();
          break;
        case FrameKind::pong:
          release_space();
          break;
        case FrameKind::close:
          if (!closing_) {
            closing_ = true;
            co_await send_control(FrameKind::close, frame.payload);
          }
          close();
          co_return std::nullopt;
      }
    }
    co_return std::nullopt;
  }

  // Reads more, with room for a frame of `frame_bytes`; false when the link ended.
  asio::awaitable<bool> receive(std::size_t frame_bytes, Clock::time_point deadline) {
    if (begin_ > 0 && begin_ == end_) begin_ = end_ = 0;
    if (buffer_.size() - begin_ < frame_bytes) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (buffer_.size() < frame_bytes) buffer_.resize(frame_bytes);
    }
    if (deadline != Clock::time_point::max()) stream_.next_layer().expires_at(deadline);
    boost::system::error_code ec;
    const std::size_t n = co_await stream_.async_read_some(asio::buffer(buffer_.data() + end_, buffer_.size() - end_),
                                                           asio::redirect_error(asio::use_awaitable, ec));
    if (deadline != Clock::time_point::max()) stream_.next_layer().expires_never();
    if (ec) {
      // A read with a deadline (waiting for the peer's close frame) that ends is no break.
      const bool ended = deadline != Clock::time_point::max() ||
                         read_ended_in_order(ec, stream_.next_layer().socket().native_handle());
      if (ended) close();
      else fail();
      co_return false;
    }
    end_ += n;
    last_received_ = Clock::now();
    co_return true;
  }

  // After large messages, gives the space back once nothing is buffered and small frames
  // (keystrokes, credit, keep-alive pings) have followed for a while.
  void release_space() {
    if (begin_ != end_ || buffer_.size() <= kKeptReadBytes || small_frames_ < kSmallFramesBeforeShrink) return;
    begin_ = end_ = 0;
    buffer_.resize(kKeptReadBytes);
    buffer_.shrink_to_fit();
  }

  // Control frames skip the queue's bound: they are small and answer the peer.
  void queue_control(FrameKind kind, std::string_view payload) {
    ++queued_controls_;
    queue_.push_back(Outgoing{encode_frame_header(kind, payload.size()), {std::string(payload), nullptr}});
  }

  asio::awaitable<void> send_control(FrameKind kind, std::string_view payload) {
    if (!open_) co_return;
    queue_control(kind, payload);
    if (!writing_) co_await drain();
  }

  // The same without waiting: a reader answering a ping, or the keep-alive, must not block on
  // a peer that does not read (the keep-alive is what closes such a link).
  void send_control_soon(FrameKind kind, std::string_view payload) {
    if (!open_ || queued_controls_ >= kMaxQueuedControlFrames) return;  // before allocating
    queue_control(kind, payload);
    if (writing_) return;
    asio::co_spawn(
        stream_.get_executor(),
        [self = shared_from_this()]() -> asio::awaitable<void> {
          if (!self->writing_) co_await self->drain();  // or the writer that started meanwhile sends it
        },
        asio::detached);
  }

  // Only one coroutine writes at a time; it drains whatever others queued meanwhile, several
  // frames per write so small messages share TLS records.
  asio::awaitable<void> drain() {
    writing_ = true;
    std::array<asio::const_buffer, 2 * kFramesPerWrite> buffers;  // no allocation per write
    bool failed = false;
    while (open_ && !queue_.empty()) {
      const std::size_t count = std::min(queue_.size(), kFramesPerWrite);
      std::size_t used = 0;
      for (std::size_t i = 0; i < count; ++i) {
        buffers[used++] = asio::buffer(queue_[i].header);
        if (const auto bytes = queue_[i].bytes(); !bytes.empty()) buffers[used++] = asio::buffer(bytes.data(), bytes.size());
      }
      boost::system::error_code ec;
      co_await asio::async_write(stream_, std::span<const asio::const_buffer>(buffers.data(), used),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        failed = true;
        break;
      }
      for (std::size_t i = 0; i < count; ++i) {
        if (queue_.front().header[0] == static_cast<unsigned char>(FrameKind::message)) {
          queued_bytes_ -= queue_.front().bytes().size();
        } else {
          --queued_controls_;
        }
        queue_.pop_front();
      }
      queue_changed_.cancel();
    }
    writing_ = false;
    if (failed) fail();
    if (!open_) drop_queue();
    queue_changed_.cancel();
  }

  asio::awaitable<void> wait_for_queue_change(Clock::time_point deadline = Clock::time_point::max()) {
    if (deadline != Clock::time_point::max()) queue_changed_.expires_at(deadline);
    boost::system::error_code ec;
    co_await queue_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    queue_changed_.expires_at(asio::steady_timer::time_point::max());
  }

  // A ping after half the idle time without a frame; the link closes after the whole of it.
  static asio::awaitable<void> keep_alive(std::weak_ptr<LinkSocket> weak) {
    for (;;) {
      asio::steady_timer* timer = nullptr;
      {
        const auto self = weak.lock();
        if (!self || !self->open_) co_return;
        const auto silent = Clock::now() - self->last_received_;
        if (silent >= self->idle_) {
          spdlog::debug("link from {} idle for {} s: closing", self->remote_address_, self->idle_.count());
          self->fail();
          co_return;
        }
        if (silent >= self->idle_ / 2 && !self->closing_) self->send_control_soon(FrameKind::ping, "");
        timer = &self->keep_alive_timer_;
        timer->expires_after(std::chrono::duration_cast<Clock::duration>(self->idle_) / 4);
      }
      // Holds no reference while waiting: destroying the socket cancels the wait.
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
    }
  }

  std::shared_ptr<void> keep_alive_;  // declared first: destroyed after the stream
  TlsStream stream_;
  std::string remote_address_;
  std::chrono::seconds idle_;
  asio::steady_timer queue_changed_;  // cancelled to wake waiters when the queue shrinks or a read ends
  asio::steady_timer keep_alive_timer_;
  Clock::time_point last_received_ = Clock::now();
  std::vector<char> buffer_;  // received bytes [begin_, end_) not yet decoded
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  int small_frames_ = 0;  // frames in a row that fitted in kKeptReadBytes
  std::deque<Outgoing> queue_;
  std::size_t queued_bytes_ = 0;  // message payloads only
  std::size_t queued_controls_ = 0;  // control frames not yet written
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;  // a close frame was sent
  bool open_ = true;
  bool lost_ = false;  // see MessageSocket::lost()
};

}  // namespace

std::shared_ptr<MessageSocket> make_link_socket(TlsStream stream, std::string received, std::string remote_address,
                                                LinkTimeouts timeouts, std::shared_ptr<void> keep_alive) {
  auto socket = std::make_shared<LinkSocket>(std::move(stream), std::move(received), std::move(remote_address),
                                             timeouts, std::move(keep_alive));
  socket->start_keep_alive();
  return socket;
}

}  // namespace sallyport::transport::impl
