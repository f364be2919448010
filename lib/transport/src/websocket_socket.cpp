#include "websocket_socket.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <deque>

#include "queued_message.hpp"
#include "tcp_state.hpp"

namespace sallyport::transport::impl {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

constexpr std::size_t kReadReserveBytes = 64 * 1024 + 64;  // a 64 KiB data frame and its header

class WebSocketMessageSocket final : public MessageSocket {
 public:
  WebSocketMessageSocket(WebSocketStream stream, std::string remote_address, std::shared_ptr<void> keep_alive)
      : keep_alive_(std::move(keep_alive)),
        stream_(std::move(stream)),
        remote_address_(std::move(remote_address)),
        queue_changed_(stream_.get_executor()) {
    queue_changed_.expires_at(asio::steady_timer::time_point::max());
    read_buffer_.reserve(kReadReserveBytes);
  }

  asio::awaitable<std::optional<std::string>> read() override {
    if (!open_) co_return std::nullopt;
    boost::system::error_code ec;
    co_await stream_.async_read(read_buffer_, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // A close frame is an end too; Beast's idle timeout is not.
      const bool ended = ec == websocket::error::closed ||
                         read_ended_in_order(ec, beast::get_lowest_layer(stream_).socket().native_handle());
      if (open_ && !ended) lost_ = true;
      close();
      co_return std::nullopt;
    }
    std::string message = beast::buffers_to_string(read_buffer_.data());
    read_buffer_.consume(read_buffer_.size());
    co_return message;
  }

  // Named, not braced in the co_await: GCC 12 destroys such a temporary twice.
  asio::awaitable<bool> write(std::string message) override {
    QueuedMessage queued{std::move(message), nullptr};
    co_return co_await enqueue(std::move(queued));
  }

  // Beast writes from the caller's buffers (a client masks into a buffer of its own): no copy.
  asio::awaitable<bool> write_shared(std::shared_ptr<const std::string> message) override {
    QueuedMessage queued{std::string(), std::move(message)};
    co_return co_await enqueue(std::move(queued));
  }

  asio::awaitable<void> close_gracefully(std::string reason) override {
    while (open_ && (writing_ || !queue_.empty())) {
      if (!writing_) co_await drain();
      else co_await wait_for_queue_change();
    }
    if (!open_) co_return;
    boost::system::error_code ec;
    websocket::close_reason close_reason(websocket::close_code::normal);
    close_reason.reason = reason.substr(0, 120);
    co_await stream_.async_close(close_reason, asio::redirect_error(asio::use_awaitable, ec));
    close();
  }

  void close() override {
    if (!open_) return;
    open_ = false;
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
    // A write in flight still points into the queue; the writer empties it when it ends.
    if (!writing_) drop_queue();
    queue_changed_.cancel();
  }

  bool is_open() const override { return open_; }
  std::string remote_address() const override { return remote_address_; }
  bool lost() const override { return lost_; }

 private:
  asio::awaitable<bool> enqueue(QueuedMessage message) {
    while (open_ && queued_bytes_ >= kMaxQueuedBytes) co_await wait_for_queue_change();
    if (!open_) co_return false;
    queued_bytes_ += message.bytes().size();
    queue_.push_back(std::move(message));
    if (!writing_) co_await drain();
    co_return open_;
  }

  // Only one coroutine writes at a time; it drains whatever others queued meanwhile.
  asio::awaitable<void> drain() {
    writing_ = true;
    while (open_ && !queue_.empty()) {
      boost::system::error_code ec;
      const std::string_view bytes = queue_.front().bytes();
      co_await stream_.async_write(asio::buffer(bytes.data(), bytes.size()), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        writing_ = false;
        if (open_) lost_ = true;
        close();
        drop_queue();
        co_return;
      }
      queued_bytes_ -= queue_.front().bytes().size();
      queue_.pop_front();
      queue_changed_.cancel();
    }
    writing_ = false;
    if (!open_) drop_queue();
    queue_changed_.cancel();
  }

  void drop_queue() {
    queue_.clear();
    queued_bytes_ = 0;
  }

  asio::awaitable<void> wait_for_queue_change() {
    boost::system::error_code ec;
    co_await queue_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    queue_changed_.expires_at(asio::steady_timer::time_point::max());
  }

  std::shared_ptr<void> keep_alive_;  // declared first: destroyed after the stream
  WebSocketStream stream_;
  std::string remote_address_;
  asio::steady_timer queue_changed_;  // cancelled to wake waiters when the queue shrinks
  // Kept between reads with room for a data frame, so a message is not read into a buffer
  // that grows (reallocated and copied) several times.
  beast::flat_buffer read_buffer_{kMaxMessageBytes};
  std::deque<QueuedMessage> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool open_ = true;
  bool lost_ = false;  // see MessageSocket::lost()
};

}  // namespace

std::shared_ptr<MessageSocket> make_message_socket(WebSocketStream stream, std::string remote_address,
                                                   beast::role_type role, LinkTimeouts timeouts,
                                                   std::shared_ptr<void> keep_alive) {
  websocket::stream_base::timeout options = websocket::stream_base::timeout::suggested(role);
  options.handshake_timeout = timeouts.handshake;
  options.idle_timeout = timeouts.idle;
  options.keep_alive_pings = true;
  stream.set_option(options);
  stream.read_message_max(kMaxMessageBytes);
  stream.binary(true);
  stream.auto_fragment(false);
  // A client masks its frames through this buffer, one socket write per buffer-full; Beast's
  // 4 KiB default turns every data chunk into many small TLS records.
  if (role == beast::role_type::client) stream.write_buffer_bytes(kClientMaskBufferBytes);
  return std::make_shared<WebSocketMessageSocket>(std::move(stream), std::move(remote_address),
                                                  std::move(keep_alive));
}

}  // namespace sallyport::transport::impl
