#pragma once
// A bidirectional message link: a Sallyport link (the agent's and the CLI's framing, see
// src/link_frame.hpp) or a WebSocket (the web console), carrying binary messages. One reader coroutine
// calls read(); any number of coroutines may call write(): messages are queued in order and
// written by one writer. The queue is bounded: write() suspends while kMaxQueuedBytes are
// waiting, so a slow peer pushes back on the producer instead of growing memory.
// All calls must come from the io_context thread that owns the socket.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace sallyport::transport {

constexpr std::size_t kMaxMessageBytes = 512 * 1024;   // refused (connection closed) beyond this
constexpr std::size_t kMaxQueuedBytes = 2 * 1024 * 1024;  // per socket write queue (holds a session window)
constexpr std::size_t kClientMaskBufferBytes = 64 * 1024;  // per client socket, for masking

class MessageSocket {
 public:
  virtual ~MessageSocket() = default;

  // The next message; nullopt once the peer closed, the link failed or close() was called.
  virtual boost::asio::awaitable<std::optional<std::string>> read() = 0;
  // Queues a message; false when the socket is closed (the message is dropped).
  virtual boost::asio::awaitable<bool> write(std::string message) = 0;
  // The same for a message something else keeps too (a resend queue), without a copy where
  // the framing allows.
  virtual boost::asio::awaitable<bool> write_shared(std::shared_ptr<const std::string> message) = 0;
  // Sends a close frame after the queued messages, waits briefly for the peer's, then closes. Idempotent.
  virtual boost::asio::awaitable<void> close_gracefully(std::string reason) = 0;
  // Closes at once, failing pending reads and writes. Idempotent.
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  virtual std::string remote_address() const = 0;
  // True once the link broke rather than ended: a reset, a failed write or a peer silent past
  // the idle limit, what a network blink looks like. False after a close frame, the peer's
  // orderly end of stream (a process that exited or was killed) or close() here.
  virtual bool lost() const { return false; }
};

struct LinkTimeouts {
  std::chrono::seconds handshake{10};
  // No traffic for this long (pings included, sent every half of it) closes the link.
  std::chrono::seconds idle{30};
};

}  // namespace sallyport::transport
