#include "sallyport/forward/stream.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <nlohmann/json.hpp>

#include "sallyport/wire/control.hpp"

namespace sallyport::forward {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// Credit goes back once this much was written. The window is far larger, so the peer never
// waits for it; returning it whenever the queue ran empty cost an interactive stream (ssh
// through `sallyport proxy`, a database query) one credit frame per message through every hop.
constexpr std::size_t kCreditBatchBytes = 128 * 1024;
static_assert(kCreditBatchBytes + wire::kMaxPayloadBytes < wire::kStreamWindowBytes);
constexpr std::size_t kFirstReadBytes = 16 * 1024;  // a stream's read buffer until a read fills it

// A condition variable for one waiting coroutine: notify() wakes it.
class Signal {
 public:
  explicit Signal(asio::any_io_executor executor) : timer_(std::move(executor)) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }
  asio::awaitable<void> wait() {
    error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    timer_.expires_at(asio::steady_timer::time_point::max());
  }
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

// The local end: a TCP socket, or a pair of descriptors.
class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual asio::awaitable<std::size_t> read_some(char* data, std::size_t size, error_code& ec) = 0;
  // For budgeted reads: wait until readable, then read what is there without waiting.
  virtual asio::awaitable<void> wait_readable(error_code& ec) = 0;
  virtual std::size_t read_now(char* data, std::size_t size, error_code& ec) = 0;
  virtual asio::awaitable<void> write_all(const char* data, std::size_t size, error_code& ec) = 0;
  virtual void shutdown_send() = 0;
  virtual void close() = 0;
};

class SocketEndpoint final : public Endpoint {
 public:
  SocketEndpoint(asio::any_io_executor executor, int fd) : socket_(std::move(executor)) {
    error_code ec;
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const bool v6 = ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 && address.ss_family == AF_INET6;
    socket_.assign(v6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd, ec);
    if (ec) ::close(fd);
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);  // read_now never blocks the thread; async operations are unaffected
  }
  asio::awaitable<std::size_t> read_some(char* data, std::size_t size, error_code& ec) override {
    co_return co_await socket_.async_read_some(asio::buffer(data, size), asio::redirect_error(asio::use_awaitable, ec));
  }
  asio::awaitable<void> wait_readable(error_code& ec) override {
    co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
  }
  std::size_t read_now(char* data, std::size_t size, error_code& ec) override {
    return socket_.read_some(asio::buffer(data, size), ec);
  }
  asio::awaitable<void> write_all(const char* data, std::size_t size, error_code& ec) override {
    co_await asio::async_write(socket_, asio::buffer(data, size), asio::redirect_error(asio::use_awaitable, ec));
  }
  void shutdown_send() override {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
  void close() override {
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  asio::ip::tcp::socket socket_;
};

class DescriptorEndpoint final : public Endpoint {
 public:
  DescriptorEndpoint(asio::any_io_executor executor, int input_fd, int output_fd)
      : input_(executor, input_fd), output_(executor, output_fd) {}
  asio::awaitable<std::size_t> read_some(char* data, std::size_t size, error_code& ec) override {
    co_return co_await input_.async_read_some(asio::buffer(data, size), asio::redirect_error(asio::use_awaitable, ec));
  }
  // Budgets are for the agent's sockets; stdin is never switched to non-blocking (it is shared).
  asio::awaitable<void> wait_readable(error_code& ec) override {
    co_await input_.async_wait(asio::posix::stream_descriptor::wait_read, asio::redirect_error(asio::use_awaitable, ec));
  }
  std::size_t read_now(char* data, std::size_t size, error_code& ec) override {
    return input_.read_some(asio::buffer(data, size), ec);
  }
  asio::awaitable<void> write_all(const char* data, std::size_t size, error_code& ec) override {
    co_await asio::async_write(output_, asio::buffer(data, size), asio::redirect_error(asio::use_awaitable, ec));
  }
  void shutdown_send() override {
    error_code ignored;
    output_.close(ignored);
  }
  void close() override {
    error_code ignored;
    input_.close(ignored);
    output_.close(ignored);
  }

 private:
  asio::posix::stream_descriptor input_;
  asio::posix::stream_descriptor output_;
};

class StreamImpl final : public Stream, public std::enable_shared_from_this<StreamImpl> {
 public:
  StreamImpl(asio::any_io_executor executor, std::unique_ptr<Endpoint> endpoint, std::uint32_t channel, SendFrame send,
             StreamDone done, std::shared_ptr<SendBudget> budget)
      : executor_(executor), endpoint_(std::move(endpoint)), channel_(channel), send_(std::move(send)),
        done_(std::move(done)), budget_(std::move(budget)), credit_changed_(executor), queue_changed_(executor) {}

  void start() override {
    auto self = shared_from_this();
    asio::co_spawn(executor_, read_loop(self), asio::detached);
    asio::co_spawn(executor_, write_loop(self), asio::detached);
  }

  void on_frame(std::string frame, const wire::Header& header) override {
    if (finished_) return;
    switch (header.type) {
      case wire::FrameType::kData: {
        if (eof_received_) return fail("data after end-of-file");
        if (queued_bytes_ + header.length > wire::kStreamWindowBytes) return fail("the peer ignored flow control");
        if (header.length == 0) return;
        queued_bytes_ += header.length;
        queue_.push_back(std::move(frame));
        queue_changed_.notify();
        return;
      }
      case wire::FrameType::kCredit: {
        const auto credit = wire::decode_credit(std::string_view(frame).substr(wire::kHeaderBytes));
        if (!credit) return;
        credit_ = std::min<std::uint64_t>(credit_ + *credit, 2 * wire::kStreamWindowBytes);
        credit_changed_.notify();
        return;
      }
      case wire::FrameType::kControl: {
        const auto parsed = wire::parse_control(std::string_view(frame).substr(wire::kHeaderBytes));
        if (!parsed.error.empty()) return;
        const auto& type = parsed.message["type"];
        if (type == wire::msg::kEof) {
          eof_received_ = true;
          queue_changed_.notify();
        } else if (type == wire::msg::kStreamClose) {
          abort(parsed.message["reason"].get<std::string>());
        }
        return;
      }
      case wire::FrameType::kStderr:
        return;
    }
  }

  void abort(const std::string& reason) override { finish(reason.empty() ? "closed" : reason); }
  bool done() const override { return finished_; }
  const StreamTotals& totals() const override { return totals_; }

 private:
  bool may_send() const { return credit_ > 0 && (!budget_ || budget_->available() > 0); }

  void wait_for_budget() {
    if (!budget_ || budget_->available() > 0 || budget_waiting_) return;
    budget_waiting_ = true;
    std::weak_ptr<StreamImpl> weak = weak_from_this();
    budget_->wait([weak] {
      if (auto self = weak.lock()) {
        self->budget_waiting_ = false;
        self->credit_changed_.notify();
      }
    });
  }

  asio::awaitable<void> read_loop(std::shared_ptr<StreamImpl> /*keep_alive*/) {
    // One buffer for the stream's life; each read leaves as a frame of its own size. A fresh
    // buffer per read would be allocated and zero-filled at the largest payload every time.
    // It starts small, so thousands of idle or interactive connections hold little, and grows
    // to the largest payload once a read fills it.
    std::string buffer(wire::kHeaderBytes + kFirstReadBytes, '\0');
    for (;;) {
      const std::size_t room = buffer.size() - wire::kHeaderBytes;
      while (!may_send() && !finished_) {
        wait_for_budget();
        co_await credit_changed_.wait();
      }
      if (finished_) co_return;
      error_code ec;
      std::size_t n = 0;
      if (budget_) {
        // Take only what is read now, never waiting with a share of the budget: it is
        // shared, and a stream waiting on an idle socket must not hold any of it.
        const std::size_t want = std::min<std::uint64_t>({room, credit_, budget_->available()});
        n = endpoint_->read_now(buffer.data() + wire::kHeaderBytes, want, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          co_await endpoint_->wait_readable(ec);
          if (finished_) co_return;
          if (!ec) continue;  // readable now: read again with what the budget holds then
        }
        if (!ec) budget_->take(n);
      } else {
        const std::size_t want = std::min<std::uint64_t>(room, credit_);
        n = co_await endpoint_->read_some(buffer.data() + wire::kHeaderBytes, want, ec);
        if (finished_) co_return;
      }
      if (ec == asio::error::eof) {
        read_ended_ = true;
        std::string eof = wire::encode_control(nlohmann::json{{"type", wire::msg::kEof}}, channel_);
        if (!co_await send_(std::move(eof))) finish("the link closed");
        maybe_finish();
        co_return;
      }
      if (ec) {
        fail("read failed: " + ec.message());
        co_return;
      }
      credit_ -= n;
      totals_.bytes_sent += n;
      wire::write_header(buffer.data(), wire::FrameType::kData, channel_, static_cast<std::uint32_t>(n));
      std::string frame(buffer.data(), wire::kHeaderBytes + n);
      if (n == room && room < wire::kMaxPayloadBytes) buffer.resize(wire::kHeaderBytes + wire::kMaxPayloadBytes);
      if (!co_await send_(std::move(frame))) {
        finish("the link closed");
        co_return;
      }
    }
  }

  asio::awaitable<void> write_loop(std::shared_ptr<StreamImpl> /*keep_alive*/) {
    for (;;) {
      while (queue_.empty() && !eof_received_ && !finished_) co_await queue_changed_.wait();
      if (finished_) co_return;
      if (queue_.empty()) {  // the peer's end-of-file, after all its data
        endpoint_->shutdown_send();
        write_ended_ = true;
        maybe_finish();
        co_return;
      }
      std::string frame = std::move(queue_.front());
      queue_.pop_front();
      const std::size_t n = frame.size() - wire::kHeaderBytes;
      error_code ec;
      co_await endpoint_->write_all(frame.data() + wire::kHeaderBytes, n, ec);
      if (finished_) co_return;
      if (ec) {
        fail("write failed: " + ec.message());
        co_return;
      }
      queued_bytes_ -= n;
      totals_.bytes_received += n;
      unreturned_ += n;
      if (unreturned_ >= kCreditBatchBytes) {
        const auto credit = static_cast<std::uint32_t>(unreturned_);
        unreturned_ = 0;
        if (!co_await send_(wire::encode_credit(channel_, credit))) {
          finish("the link closed");
          co_return;
        }
      }
    }
  }

  // A local error: tell the peer, then end.
  void fail(const std::string& reason) {
    if (finished_) return;
    std::string close = wire::encode_control(nlohmann::json{{"type", wire::msg::kStreamClose}, {"reason", reason}}, channel_);
    auto send = send_;
    asio::co_spawn(executor_, [send, close = std::move(close)]() mutable -> asio::awaitable<void> {
      co_await send(std::move(close));
    }, asio::detached);
    finish(reason);
  }

  void maybe_finish() {
    if (read_ended_ && write_ended_) finish("");
  }

  void finish(const std::string& reason) {
    if (finished_) return;
    finished_ = true;
    endpoint_->close();
    queue_.clear();
    queued_bytes_ = 0;
    credit_changed_.notify();
    queue_changed_.notify();
    if (auto done = std::move(done_)) done(reason, totals_);
  }

  asio::any_io_executor executor_;
  std::unique_ptr<Endpoint> endpoint_;
  std::uint32_t channel_;
  SendFrame send_;
  StreamDone done_;
  std::shared_ptr<SendBudget> budget_;  // null: only the stream's own credit limits sending
  bool budget_waiting_ = false;
  StreamTotals totals_;
  std::uint64_t credit_ = wire::kStreamWindowBytes;  // bytes we may still send
  Signal credit_changed_;
  std::deque<std::string> queue_;  // peer data frames (header included) not yet written
  std::size_t queued_bytes_ = 0;
  std::size_t unreturned_ = 0;
  Signal queue_changed_;
  bool eof_received_ = false;
  bool read_ended_ = false;
  bool write_ended_ = false;
  bool finished_ = false;
};

}  // namespace

void SendBudget::give(std::uint64_t bytes) {
  available_ = std::min(limit_, available_ + bytes);
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& wake : waiters) wake();
}

std::shared_ptr<Stream> Stream::from_socket(asio::any_io_executor executor, int socket_fd, std::uint32_t channel,
                                            SendFrame send, StreamDone done, std::shared_ptr<SendBudget> budget) {
  auto endpoint = std::make_unique<SocketEndpoint>(executor, socket_fd);
  return std::make_shared<StreamImpl>(executor, std::move(endpoint), channel, std::move(send), std::move(done),
                                      std::move(budget));
}

std::shared_ptr<Stream> Stream::from_descriptors(asio::any_io_executor executor, int input_fd, int output_fd,
                                                 std::uint32_t channel, SendFrame send, StreamDone done) {
  auto endpoint = std::make_unique<DescriptorEndpoint>(executor, input_fd, output_fd);
  return std::make_shared<StreamImpl>(executor, std::move(endpoint), channel, std::move(send), std::move(done), nullptr);
}

}  // namespace sallyport::forward
