#pragma once
// The CLI's side of a session's local terminal and pipes: raw mode, the window size, output
// written on its own thread (so a stalled consumer never blocks the event loop, which answers
// keep-alives), and stdin read only while the node has granted credit. Included by
// session_client.cpp alone.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "sallyport/util/files.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::cli::local_io {

namespace asio = boost::asio;

// Raw mode for the local terminal; the destructor (and restore()) put it back.
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) active_ = true;
  }
  ~RawTerminal() { restore(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  void restore() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    active_ = false;
  }

 private:
  termios saved_{};
  bool active_ = false;
};

inline std::pair<int, int> terminal_size() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return {size.ws_col, size.ws_row};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return {size.ws_col, size.ws_row};
  return {80, 24};
}

// A pipe on stdin or stdout (`tar c | sallyport … | tar x`) gets room for a whole data chunk.
inline void enlarge_if_pipe(int fd) { util::enlarge_pipe(fd, wire::kDataChunkBytes); }

inline void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        ::select(fd + 1, nullptr, &set, nullptr, nullptr);
        continue;
      }
      return;  // stdout closed: drop the rest
    }
    done += static_cast<std::size_t>(n);
  }
}

// True when `bytes` can be written to `fd` now without waiting: a pipe with a free buffer
// takes up to PIPE_BUF bytes at once. Small chunks (an echo, a line) are then written on the
// session's loop instead of waking the writer thread; larger ones, or a full pipe, go to it.
inline bool writable_now(int fd, std::size_t bytes) {
  if (bytes > PIPE_BUF) return false;
  pollfd probe{fd, POLLOUT, 0};
  return ::poll(&probe, 1, 0) == 1 && (probe.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)) == POLLOUT;
}

// Writes output on its own thread; reports each written chunk so credit can be returned.
class OutputWriter {
 public:
  explicit OutputWriter(std::function<void(std::size_t)> written) : written_(std::move(written)) {
    enlarge_if_pipe(STDOUT_FILENO);
    thread_ = std::thread([this] { loop(); });
  }
  ~OutputWriter() { finish(); }
  void push(int fd, std::string bytes) { queue(fd, std::move(bytes), true); }
  // Text of the CLI's own, in order with the output but not reported as written.
  void push_notice(int fd, std::string text) { queue(fd, std::move(text), false); }
  // True when nothing is queued or being written: a caller may write itself, in order.
  bool idle() {
    std::lock_guard lock(mutex_);
    return queue_.empty() && !writing_;
  }
  // Writes everything queued, then stops the thread.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      if (done_) return;
      done_ = true;
    }
    changed_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Item {
    int fd;
    std::string bytes;
    bool counted;  // session output, for which credit goes back
  };
  void queue(int fd, std::string bytes, bool counted) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({fd, std::move(bytes), counted});
    }
    changed_.notify_one();
  }
  void loop() {
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
      }
      write_all(item.fd, item.bytes);
      if (item.counted) written_(item.bytes.size());
      std::lock_guard lock(mutex_);
      writing_ = false;
    }
  }
  std::function<void(std::size_t)> written_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  bool writing_ = false;
  bool done_ = false;
  std::thread thread_;
};

// Reads stdin on its own thread when epoll cannot wait on it (a file, /dev/null), never more
// than the agent has granted.
// Its thread may still be blocked in read() when the session is over, so the reader is
// shared with that thread and delivery is switched off (detach()) before the caller's state
// goes away.
class InputReader : public std::enable_shared_from_this<InputReader> {
 public:
  using Deliver = std::function<void(std::string bytes)>;  // empty string: end of input
  explicit InputReader(Deliver deliver) : deliver_(std::move(deliver)) {}
  void start() {
    auto self = shared_from_this();
    std::thread([self] { self->loop(); }).detach();
  }
  void detach() {
    std::lock_guard lock(deliver_mutex_);
    deliver_ = nullptr;
  }
  void grant(std::size_t bytes) {
    {
      std::lock_guard lock(mutex_);
      credit_ += bytes;
    }
    changed_.notify_one();
  }

 private:
  void loop() {
    std::string buffer(wire::kDataChunkBytes, '\0');
    for (;;) {
      std::size_t allowed;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return credit_ > 0; });
        allowed = std::min(credit_, buffer.size());
      }
      const ssize_t n = ::read(STDIN_FILENO, buffer.data(), allowed);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        deliver("");
        return;
      }
      {
        std::lock_guard lock(mutex_);
        credit_ -= static_cast<std::size_t>(n);
      }
      deliver(std::string(buffer.data(), static_cast<std::size_t>(n)));
    }
  }
  void deliver(std::string bytes) {
    std::lock_guard lock(deliver_mutex_);
    if (deliver_) deliver_(std::move(bytes));
  }
  std::mutex deliver_mutex_;
  Deliver deliver_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t credit_ = wire::kInitialWindowBytes;
};

// Reads stdin on the session's own loop when epoll can wait on it (a terminal, a pipe, a
// socket), so a keystroke or a piped chunk goes out without a hop between threads. Asio makes
// the descriptor non-blocking; stdin's flags are put back when it closes.
class LoopInput {
 public:
  using Deliver = std::function<asio::awaitable<void>(std::string bytes)>;  // empty: end of input
  LoopInput(asio::io_context& io, Deliver deliver)
      : flags_(::fcntl(STDIN_FILENO, F_GETFL)), input_(io, ::dup(STDIN_FILENO)), credit_changed_(io),
        deliver_(std::move(deliver)) {
    credit_changed_.expires_at(asio::steady_timer::time_point::max());
    enlarge_if_pipe(STDIN_FILENO);
  }
  ~LoopInput() { close(); }
  LoopInput(const LoopInput&) = delete;
  LoopInput& operator=(const LoopInput&) = delete;

  static bool usable() {
    struct stat status {};
    if (::fstat(STDIN_FILENO, &status) != 0) return false;
    return ::isatty(STDIN_FILENO) == 1 || S_ISFIFO(status.st_mode) || S_ISSOCK(status.st_mode);
  }

  void grant(std::size_t bytes) {
    credit_ += bytes;
    credit_changed_.cancel();
  }
  void close() {
    if (!input_.is_open()) return;
    boost::system::error_code ignored;
    input_.close(ignored);
    credit_changed_.cancel();
    if (flags_ >= 0) ::fcntl(STDIN_FILENO, F_SETFL, flags_);
  }

  asio::awaitable<void> run() {
    std::string buffer(wire::kDataChunkBytes, '\0');
    while (input_.is_open()) {
      if (credit_ == 0) {
        boost::system::error_code ec;
        co_await credit_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        credit_changed_.expires_at(asio::steady_timer::time_point::max());
        continue;
      }
      boost::system::error_code ec;
      const std::size_t n = co_await input_.async_read_some(asio::buffer(buffer.data(), std::min(credit_, buffer.size())),
                                                             asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !input_.is_open()) co_return;
      if (ec || n == 0) {
        co_await deliver_("");
        co_return;
      }
      credit_ -= n;
      co_await deliver_(std::string(buffer.data(), n));
    }
  }

 private:
  int flags_;
  asio::posix::stream_descriptor input_;
  asio::steady_timer credit_changed_;
  Deliver deliver_;
  std::size_t credit_ = wire::kInitialWindowBytes;
};

}  // namespace sallyport::cli::local_io
