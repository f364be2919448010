#include "sallyport/cli/session_client.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::cli {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr std::size_t kCreditBatchBytes = 128 * 1024;  // an eighth of the window

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

std::pair<int, int> terminal_size() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return {size.ws_col, size.ws_row};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return {size.ws_col, size.ws_row};
  return {80, 24};
}

void write_all(int fd, const std::string& bytes) {
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
bool writable_now(int fd, std::size_t bytes) {
  if (bytes > PIPE_BUF) return false;
  pollfd probe{fd, POLLOUT, 0};
  return ::poll(&probe, 1, 0) == 1 && (probe.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)) == POLLOUT;
}

// Writes output on its own thread; reports each written chunk so credit can be returned.
class OutputWriter {
 public:
  explicit OutputWriter(std::function<void(std::size_t)> written) : written_(std::move(written)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~OutputWriter() { finish(); }
  void push(int fd, std::string bytes) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back({fd, std::move(bytes)});
    }
    changed_.notify_one();
  }
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
  void loop() {
    for (;;) {
      std::pair<int, std::string> item;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
      }
      write_all(item.first, item.second);
      written_(item.second.size());
      std::lock_guard lock(mutex_);
      writing_ = false;
    }
  }
  std::function<void(std::size_t)> written_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<int, std::string>> queue_;
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

struct Outcome {
  int status = kExitSessionLost;
  std::string session_id;
  std::string message;  // printed on stderr when not empty
  bool exited = false;
};

}  // namespace

int exit_status_for_failure(const std::string& code) {
  if (code == "unauthorized") return 3;
  if (code == "forbidden") return 4;
  if (code == "not_found") return 5;
  if (code == "bad_request") return 9;
  if (code == "node_offline") return kExitSessionNodeOffline;
  if (code == "run_as_user") return kExitSessionRunAsUser;
  return 1;
}

int run_session(const SessionRequest& request) {
  const bool interactive = request.command.empty();
  ::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  Outcome outcome;
  std::unique_ptr<RawTerminal> raw;
  std::shared_ptr<transport::MessageSocket> socket;

  // Credit for output goes back once it is written, in batches of kCreditBatchBytes.
  std::size_t unreturned = 0;
  auto credit_written = [&](std::size_t bytes) {  // on the loop
    unreturned += bytes;
    if (unreturned >= kCreditBatchBytes && socket && socket->is_open()) {
      const auto credit = static_cast<std::uint32_t>(unreturned);
      unreturned = 0;
      auto link = socket;
      asio::co_spawn(io, [link, credit]() -> asio::awaitable<void> {
        co_await link->write(wire::encode_credit(wire::kClientChannel, credit));
      }, asio::detached);
    }
  };
  // From the writer thread: handed to the loop a batch at a time, not after every chunk,
  // each hand-over being a wake-up of the loop.
  std::size_t written_off_loop = 0;  // the writer thread's own
  auto return_credit = [&](std::size_t bytes) {
    written_off_loop += bytes;
    if (written_off_loop < kCreditBatchBytes) return;
    asio::post(io, [&, batch = written_off_loop] { credit_written(batch); });
    written_off_loop = 0;
  };
  OutputWriter writer(return_credit);
  auto input_frame = [](const std::string& bytes) {
    return bytes.empty() ? wire::encode_control({{"type", wire::msg::kEof}}, wire::kClientChannel)
                         : wire::encode(wire::FrameType::kData, wire::kClientChannel, bytes);
  };
  auto reader = std::make_shared<InputReader>([&](std::string bytes) {
    asio::post(io, [&, bytes = std::move(bytes)]() mutable {
      if (!socket || !socket->is_open()) return;
      auto link = socket;
      asio::co_spawn(io, [link, frame = input_frame(bytes)]() mutable -> asio::awaitable<void> {
        co_await link->write(std::move(frame));
      }, asio::detached);
    });
  });
  std::unique_ptr<LoopInput> loop_input;
  if (LoopInput::usable()) {
    loop_input = std::make_unique<LoopInput>(io, [&](std::string bytes) -> asio::awaitable<void> {
      if (!socket || !socket->is_open()) co_return;
      auto link = socket;
      std::string frame = input_frame(bytes);
      co_await link->write(std::move(frame));
    });
  }

  asio::signal_set stop_signals(io, SIGTERM, SIGHUP, SIGINT);
  stop_signals.add(SIGQUIT);
  asio::signal_set resize_signal(io, SIGWINCH);

  auto session = [&]() -> asio::awaitable<void> {
    transport::Headers headers = {{"Authorization", "Bearer " + request.token}};
    transport::LinkConnection connection;
    try {
      connection = co_await transport::connect_link(io.get_executor(), request.gateway, "/v1/sessions/connect",
                                                         headers, {});
    } catch (const transport::TransportError& error) {
      outcome.status = 6;
      outcome.message = error.what();
      io.stop();
      co_return;
    }
    socket = connection.socket;
    const auto [cols, rows] = terminal_size();
    const char* term = std::getenv("TERM");
    json start = {{"type", wire::msg::kSessionStart}, {"protocol", wire::kProtocolVersion}, {"target", request.target},
                  {"mode", interactive ? "shell" : "command"}, {"cols", cols}, {"rows", rows},
                  {"term", term && *term ? term : "xterm-256color"}};
    if (!interactive) start["command"] = request.command;
    std::string start_frame = wire::encode_control(start, wire::kClientChannel);
    co_await socket->write(std::move(start_frame));

    while (auto bytes = co_await socket->read()) {
      auto decoded = wire::decode_one(*bytes);
      if (!decoded.frame) {
        outcome.message = "protocol error from the gateway";
        break;
      }
      auto& frame = *decoded.frame;
      if (frame.type == wire::FrameType::kData || frame.type == wire::FrameType::kStderr) {
        // A terminal takes a keystroke's echo at once, and a pipe with room a small chunk:
        // writing it here saves a thread hop. In order: only when the writer has nothing queued.
        const int fd = frame.type == wire::FrameType::kData ? STDOUT_FILENO : STDERR_FILENO;
        if (writer.idle() && ((interactive && fd == STDOUT_FILENO) || writable_now(fd, frame.payload.size()))) {
          write_all(fd, frame.payload);
          credit_written(frame.payload.size());
        } else {
          writer.push(fd, std::move(frame.payload));
        }
        continue;
      }
      if (frame.type == wire::FrameType::kCredit) {
        if (auto credit = wire::decode_credit(frame.payload)) {
          if (loop_input) {
            loop_input->grant(*credit);
          } else {
            reader->grant(*credit);
          }
        }
        continue;
      }
      const auto parsed = wire::parse_control(frame.payload);
      if (!parsed.error.empty()) continue;
      const auto& message = parsed.message;
      const std::string type = message["type"].get<std::string>();
      if (type == wire::msg::kSessionStarted) {
        outcome.session_id = message["session_id"].get<std::string>();
        const std::string banner = "\nStarting session with SessionId: " + outcome.session_id + "\n\n";
        if (interactive) {
          std::fputs(banner.c_str(), stdout);
          std::fflush(stdout);
          raw = std::make_unique<RawTerminal>();
        } else {
          std::fputs(banner.c_str() + 1, stderr);
        }
        if (loop_input) {
          asio::co_spawn(io, loop_input->run(), asio::detached);
        } else {
          reader->start();
        }
      } else if (type == wire::msg::kSessionFailed) {
        outcome.status = exit_status_for_failure(message["code"].get<std::string>());
        outcome.message = message["message"].get<std::string>();
        break;
      } else if (type == wire::msg::kNotice) {
        writer.push(STDERR_FILENO, "\r\n[sallyport] " + message["message"].get<std::string>() + "\r\n");
      } else if (type == wire::msg::kSessionEnded) {
        outcome.status = kExitSessionTerminated;
        outcome.message = message["reason"].get<std::string>();
        break;
      } else if (type == wire::msg::kExit) {
        outcome.exited = true;
        outcome.status = message.contains("signal") ? 128 + message["signal"].get<int>()
                                                    : message.value("exit_code", 0);
        break;
      }
    }
    if (!outcome.exited && outcome.message.empty() && outcome.status == kExitSessionLost) {
      outcome.message = "the connection to the gateway was lost";
    }
    stop_signals.cancel();
    resize_signal.cancel();
    if (loop_input) loop_input->close();
    socket->close();
    // The WebSocket's keep-alive timer would hold the loop until its next tick.
    io.stop();
  };

  stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    outcome.status = 128 + signal;
    outcome.message = "interrupted";
    if (socket) socket->close();
  });
  std::function<void(const boost::system::error_code&, int)> on_resize = [&](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (socket && socket->is_open()) {
      const auto [cols, rows] = terminal_size();
      auto link = socket;
      std::string frame = wire::encode_control({{"type", wire::msg::kResize}, {"cols", cols}, {"rows", rows}},
                                               wire::kClientChannel);
      asio::co_spawn(io, [link, frame = std::move(frame)]() mutable -> asio::awaitable<void> {
        co_await link->write(std::move(frame));
      }, asio::detached);
    }
    resize_signal.async_wait(on_resize);
  };
  if (interactive) resize_signal.async_wait(on_resize);

  asio::co_spawn(io, session(), asio::detached);
  io.run();
  reader->detach();
  writer.finish();
  if (loop_input) loop_input->close();
  if (raw) raw->restore();
  if (!outcome.message.empty()) std::cerr << (interactive ? "\n" : "") << "sallyport: " << outcome.message << "\n";
  if (!outcome.session_id.empty()) {
    const std::string goodbye = "\nExiting session with sessionId: " + outcome.session_id + ".\n\n";
    if (interactive) {
      std::fputs(goodbye.c_str(), stdout);
      std::fflush(stdout);
    } else {
      std::fputs(goodbye.c_str() + 1, stderr);
    }
  }
  return outcome.status;
}

}  // namespace sallyport::cli
