#include "session_manager.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <nlohmann/json.hpp>

#include "sallyport/wire/control.hpp"
#include "sallyport/wire/replay_queue.hpp"

namespace sallyport::agent {

namespace asio = boost::asio;
using nlohmann::json;
using asio::posix::stream_descriptor;

namespace {
constexpr auto kHangupGrace = std::chrono::seconds(5);      // SIGHUP, then SIGKILL after this
constexpr auto kOutputGrace = std::chrono::milliseconds(500);  // output drained after exit
constexpr std::size_t kFirstOutputReadBytes = 16 * 1024;      // a session's output buffer until a read fills it
static_assert(pty::kCommandPipeBytes == wire::kDataChunkBytes, "a command's pipe holds one whole chunk");
constexpr std::size_t kInputCreditBatchBytes = 128 * 1024;  // an eighth of the window
static_assert(kInputCreditBatchBytes <= wire::kInitialWindowBytes / 4, "a client must never wait for a batch");

std::string control_frame(std::uint32_t channel, const json& message) { return wire::encode_control(message, channel); }

// A condition variable for one coroutine: cancel() wakes the waiter.
struct Signal {
  explicit Signal(asio::any_io_executor executor) : timer(executor) { timer.expires_at(asio::steady_timer::time_point::max()); }
  asio::awaitable<void> wait() {
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    timer.expires_at(asio::steady_timer::time_point::max());
  }
  void notify() { timer.cancel(); }
  asio::steady_timer timer;
};
}  // namespace

class AgentSession : public std::enable_shared_from_this<AgentSession> {
 public:
  AgentSession(std::shared_ptr<SessionManager> manager, std::uint32_t channel, pty::Process process,
               std::string session_id, std::chrono::seconds grace)
      : manager_(std::move(manager)),
        channel_(channel),
        process_(process),
        session_id_(std::move(session_id)),
        grace_(grace),
        credit_changed_(manager_->executor_),
        input_changed_(manager_->executor_),
        exit_timer_(manager_->executor_),
        grace_timer_(manager_->executor_) {
    if (process.pty_master >= 0) {
      pty_ = std::make_unique<stream_descriptor>(manager_->executor_, process.pty_master);
    } else {
      stdin_ = std::make_unique<stream_descriptor>(manager_->executor_, process.stdin_fd);
      stdout_ = std::make_unique<stream_descriptor>(manager_->executor_, process.stdout_fd);
      stderr_ = std::make_unique<stream_descriptor>(manager_->executor_, process.stderr_fd);
    }
  }

  void start(const std::string& initial_input) {
    auto self = shared_from_this();
    if (!initial_input.empty()) queue_input(initial_input, /*counted=*/false);
    pumps_running_ = pty_ ? 1 : 2;
    if (pty_) {
      asio::co_spawn(manager_->executor_, pump(*pty_, wire::FrameType::kData, self), asio::detached);
    } else {
      asio::co_spawn(manager_->executor_, pump(*stdout_, wire::FrameType::kData, self), asio::detached);
      asio::co_spawn(manager_->executor_, pump(*stderr_, wire::FrameType::kStderr, self), asio::detached);
    }
    asio::co_spawn(manager_->executor_, write_input(self), asio::detached);
  }

  const std::string& session_id() const { return session_id_; }

  void grant(std::uint32_t bytes) {
    credit_ = std::min<std::uint64_t>(credit_ + bytes, 16 * wire::kInitialWindowBytes);
    output_credit_received_ += bytes;
    output_replay_.credited(bytes);
    credit_changed_.notify();
  }

  // Input from the client; the gateway never sends more than the window we granted.
  bool input(std::string bytes) {
    ++input_frames_;
    input_bytes_ += bytes.size();
    return queue_input(std::move(bytes));
  }

  void end_input() {
    ++input_frames_;
    input_closed_ = true;
    input_changed_.notify();
  }

  // The link broke: wait for the next one, for the grace the gateway gave.
  void detach() {
    attached_ = false;
    const auto generation = ++link_generation_;
    if (grace_.count() == 0) return abandon();
    auto self = shared_from_this();
    grace_timer_.expires_after(grace_);
    grace_timer_.async_wait([self, generation](const boost::system::error_code& ec) {
      if (ec || self->link_generation_ != generation) return;
      spdlog::info("session {}: the gateway did not come back within {} s; hanging up", self->session_id_,
                   self->grace_.count());
      self->abandon();
    });
  }

  // A new link: offer the session to the gateway with what this side received and granted.
  void offer() {
    ++link_generation_;
    grace_timer_.cancel();
    auto manager = manager_;
    std::string frame = control_frame(channel_, {{"type", wire::msg::kSessionReattach},
                                                 {"session_id", session_id_},
                                                 {"input_frames", input_frames_},
                                                 {"input_bytes", input_bytes_},
                                                 {"input_credit", input_credit_sent_},
                                                 {"output_credit", output_credit_received_}});
    asio::co_spawn(manager->executor_, [manager, frame]() -> asio::awaitable<void> { co_await manager->send(frame); },
                   asio::detached);
  }

  // The gateway took the session back, having received `output_frames` in all: the rest goes
  // again, in order, before anything new.
  asio::awaitable<void> reattached(std::uint64_t output_frames) {
    if (!output_replay_.received(output_frames)) {
      spdlog::warn("session {}: the gateway's output count does not match; hanging up", session_id_);
      abandon();
      co_return;
    }
    const auto generation = link_generation_;
    std::uint64_t cursor = output_frames;
    while (auto frame = output_replay_.next_from(cursor)) {
      const auto link = manager_->link_;
      if (!link || link_generation_ != generation) co_return;
      co_await link->write_shared(std::move(frame));
    }
    attached_ = true;
    spdlog::info("session {} is back on the gateway ({} output frames sent again)", session_id_, cursor - output_frames);
  }

  // The agent stops: no link will come back for this session.
  void stop() {
    ++link_generation_;
    grace_timer_.cancel();
    abandon();
  }

  // Ends the session for good: the gateway closed it, or nobody came back for it.
  void abandon() {
    abandoned_ = true;
    if (finished_) {
      manager_->forget(channel_, this);
    } else {
      hang_up();
    }
  }

  bool waiting_for_gateway() const { return !attached_; }

 private:
  bool queue_input(std::string bytes, bool counted = true) {
    if (counted && queued_input_ + bytes.size() > wire::kInitialWindowBytes) return false;
    if (counted && write_input_now(bytes)) return true;
    if (counted) queued_input_ += bytes.size();
    input_.push_back({std::move(bytes), counted});
    input_changed_.notify();
    return true;
  }


 public:
  void resize(unsigned short cols, unsigned short rows) {
    if (pty_) pty::resize(pty_->native_handle(), cols, rows);
  }

  // The gateway ended the session: hang up the group, kill it if it lingers.
  void hang_up() {
    if (exit_status_) {  // nobody is left to drain the remaining output to
      close_descriptors();
      return;
    }
    if (hung_up_) return;
    hung_up_ = true;
    pty::signal_group(process_.pid, SIGHUP);
    auto self = shared_from_this();
    exit_timer_.expires_after(kHangupGrace);
    exit_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && !self->exit_status_) pty::signal_group(self->process_.pid, SIGKILL);
    });
  }

  void check_exit() {
    if (exit_status_) return;
    if (auto status = pty::try_reap(process_.pid)) {
      exit_status_ = status;
      exit_timer_.cancel();
      // Hung up, the session has nobody to drain its last output to.
      if (hung_up_) close_descriptors();
      else arm_output_grace();
      maybe_finish();
    }
  }

  // After the exit, output is drained to the end at the reader's pace; the descriptors close
  // only once they stay quiet for the grace period (a background child may keep them open).
  void arm_output_grace() {
    auto self = shared_from_this();
    const std::uint64_t seen = bytes_read_;
    exit_timer_.expires_after(kOutputGrace);
    exit_timer_.async_wait([self, seen](const boost::system::error_code& ec) {
      if (ec) return;
      if (self->bytes_read_ != seen || self->credit_waiters_ > 0) {
        self->arm_output_grace();
      } else {
        self->close_descriptors();
      }
    });
  }

  pid_t pid() const { return process_.pid; }
  bool exited() const { return exit_status_.has_value(); }

 private:
  struct Input {
    std::string bytes;
    bool counted;
  };

  asio::awaitable<void> pump(stream_descriptor& source, wire::FrameType type, std::shared_ptr<AgentSession> /*keep_alive*/) {
    // Small at first (a shell's output comes a few KiB at a time); a command's bulk output
    // grows it to a whole chunk once a read fills it.
    std::string buffer(kFirstOutputReadBytes, '\0');
    for (;;) {
      while (credit_ == 0 && source.is_open()) {
        ++credit_waiters_;
        co_await credit_changed_.wait();
        --credit_waiters_;
      }
      if (!source.is_open()) break;
      const std::size_t want = std::min<std::size_t>(buffer.size(), credit_);
      boost::system::error_code ec;
      const std::size_t n = co_await source.async_read_some(asio::buffer(buffer.data(), want),
                                                            asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;  // EOF, or EIO once the PTY's last holder closed it
      credit_ -= n;
      bytes_read_ += n;
      co_await send_output(wire::encode(type, channel_, std::string_view(buffer.data(), n)), n);
      if (n == buffer.size() && n < wire::kDataChunkBytes) buffer.resize(wire::kDataChunkBytes);
    }
    --pumps_running_;
    maybe_finish();
  }

  // Output, and the exit, are kept until the gateway credits them when the session can come
  // back after a broken link; sent only while the gateway has the session.
  asio::awaitable<void> send_output(std::string frame, std::uint64_t counted) {
    const auto link = attached_ ? manager_->link_ : nullptr;
    if (grace_.count() == 0) {
      if (link) co_await link->write(std::move(frame));
      co_return;
    }
    auto kept = std::make_shared<const std::string>(std::move(frame));
    output_replay_.sent(kept, counted);
    if (link) co_await link->write_shared(std::move(kept));
  }

  // A keystroke goes to the process at once when nothing is queued before it, instead of
  // waking the writer coroutine a scheduler round later. False: queue it (the sink is full,
  // or its credit is due back, which the writer sends).
  bool write_input_now(std::string_view bytes) {
    stream_descriptor* sink = pty_ ? pty_.get() : stdin_.get();
    if (!sink || !sink->is_open() || writing_input_ || !input_.empty() ||
        unreturned_input_ + bytes.size() >= kInputCreditBatchBytes) {
      return false;
    }
    boost::system::error_code ec;
    if (!sink->non_blocking()) sink->non_blocking(true, ec);  // once: it costs a syscall
    const std::size_t n = ec ? 0 : sink->write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec && n == 0) return false;  // would block, or an error the writer meets and reports
    unreturned_input_ += n;
    if (n < bytes.size()) {
      const std::string rest(bytes.substr(n));
      queued_input_ += rest.size();
      input_.push_back({rest, true});
      input_changed_.notify();
    }
    return true;
  }

  asio::awaitable<void> write_input(std::shared_ptr<AgentSession> /*keep_alive*/) {
    stream_descriptor* sink = pty_ ? pty_.get() : stdin_.get();
    while (sink->is_open()) {
      if (input_.empty()) {
        if (input_closed_ && stdin_) {
          boost::system::error_code ignored;
          stdin_->close(ignored);  // EOF for the command
          break;
        }
        if (finished_) break;
        co_await input_changed_.wait();
        continue;
      }
      Input next = std::move(input_.front());
      input_.pop_front();
      boost::system::error_code ec;
      writing_input_ = true;
      co_await asio::async_write(*sink, asio::buffer(next.bytes), asio::redirect_error(asio::use_awaitable, ec));
      writing_input_ = false;
      if (ec) break;
      if (next.counted) {
        queued_input_ -= next.bytes.size();
        // Credit goes back in batches: a credit frame per keystroke would travel just ahead of
        // the keystroke's echo and delay it at every hop; the window is far larger than a batch.
        unreturned_input_ += next.bytes.size();
        if (unreturned_input_ >= kInputCreditBatchBytes) {
          const auto credit = static_cast<std::uint32_t>(unreturned_input_);
          unreturned_input_ = 0;
          input_credit_sent_ += credit;  // a total: a reattach settles what a broken link lost
          if (attached_) co_await manager_->send(wire::encode_credit(channel_, credit));
        }
      }
    }
  }

  void close_descriptors() {
    boost::system::error_code ignored;
    for (auto* descriptor : {pty_.get(), stdin_.get(), stdout_.get(), stderr_.get()}) {
      if (descriptor && descriptor->is_open()) descriptor->close(ignored);
    }
    credit_changed_.notify();
    input_changed_.notify();
  }

  void maybe_finish() {
    if (finished_ || !exit_status_ || pumps_running_ > 0) return;
    finished_ = true;
    exit_timer_.cancel();
    close_descriptors();
    json exit = {{"type", wire::msg::kExit}};
    if (exit_status_->exit_code) exit["exit_code"] = *exit_status_->exit_code;
    if (exit_status_->signal) exit["signal"] = *exit_status_->signal;
    auto self = shared_from_this();
    std::string frame = control_frame(channel_, exit);
    asio::co_spawn(manager_->executor_,
                   [self, frame = std::move(frame)]() mutable -> asio::awaitable<void> {
                     co_await self->send_output(std::move(frame), 0);
                   },
                   asio::detached);
    spdlog::info("session on channel {} ended (pid {})", channel_, process_.pid);
    // Kept until the gateway closes it, so the exit can go again over a new link.
    if (abandoned_ || grace_.count() == 0) manager_->forget(channel_, this);
  }

  std::shared_ptr<SessionManager> manager_;
  std::uint32_t channel_;
  pty::Process process_;
  std::string session_id_;
  std::chrono::seconds grace_;  // how long to wait for a new link; 0: end with the link
  std::unique_ptr<stream_descriptor> pty_, stdin_, stdout_, stderr_;
  std::uint64_t credit_ = wire::kInitialWindowBytes;
  std::size_t unreturned_input_ = 0;  // written to the process, credit not yet sent back
  bool writing_input_ = false;        // the writer coroutine has a write in flight
  Signal credit_changed_;
  std::deque<Input> input_;
  std::size_t queued_input_ = 0;
  bool input_closed_ = false;
  Signal input_changed_;
  int pumps_running_ = 0;
  std::optional<pty::ExitStatus> exit_status_;
  std::uint64_t bytes_read_ = 0;  // output read so far, to tell a draining session from a quiet one
  int credit_waiters_ = 0;        // pumps holding output until the reader grants credit
  asio::steady_timer exit_timer_;
  bool hung_up_ = false;
  bool finished_ = false;
  // Resuming over a new link: what was sent and not yet credited, and the totals the gateway
  // compares with its own.
  wire::ReplayQueue output_replay_;
  bool attached_ = true;  // the gateway has the session on the current link
  std::uint64_t link_generation_ = 0;
  std::uint64_t input_frames_ = 0;  // data and eof frames received
  std::uint64_t input_bytes_ = 0;   // in those frames: a restarted gateway lines its count up with it
  std::uint64_t input_credit_sent_ = 0;
  std::uint64_t output_credit_received_ = 0;
  asio::steady_timer grace_timer_;
  bool abandoned_ = false;
};

struct SessionManager::Reaper {
  explicit Reaper(asio::any_io_executor executor) : signals(executor, SIGCHLD), sweep(executor) {}
  asio::signal_set signals;
  asio::steady_timer sweep;  // once stopping: a last reap, should a SIGCHLD go missing
  bool done = false;  // stopping, and every child is reaped: nothing keeps the agent running
};

SessionManager::SessionManager(asio::any_io_executor executor, pty::CreateUser create_users)
    : executor_(std::move(executor)), create_users_(create_users), reaper_(std::make_unique<Reaper>(executor_)) {}

SessionManager::~SessionManager() = default;

void SessionManager::start() {
  std::weak_ptr<SessionManager> weak = shared_from_this();
  // Re-arms itself after each SIGCHLD.
  struct Rearm {
    std::weak_ptr<SessionManager> weak;
    void operator()(const boost::system::error_code& ec, int) const {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->reap();
        if (!self->reaper_->done) self->reaper_->signals.async_wait(Rearm{weak});
      }
    }
  };
  reaper_->signals.async_wait(Rearm{weak});
}

void SessionManager::reap() {
  // Copy: check_exit may forget sessions.
  auto sessions = sessions_;
  for (auto& [channel, session] : sessions) session->check_exit();
  for (auto& session : leaving_) session->check_exit();
  std::erase_if(leaving_, [](const auto& session) { return session->exited(); });
  if (!stopping_ || reaper_->done || !leaving_.empty()) return;
  for (const auto& [channel, session] : sessions_) {
    if (!session->exited()) return;
  }
  reaper_->done = true;
  boost::system::error_code ignored;
  reaper_->signals.cancel(ignored);
  reaper_->sweep.cancel();
}

void SessionManager::forget(std::uint32_t channel, const AgentSession* session) {
  // Only this session: a new one may have the channel already.
  if (auto it = sessions_.find(channel); it != sessions_.end() && it->second.get() == session) sessions_.erase(it);
}

void SessionManager::attach(std::shared_ptr<transport::MessageSocket> link) {
  link_ = std::move(link);
  auto sessions = sessions_;
  for (auto& [channel, session] : sessions) session->offer();
  if (!sessions.empty()) spdlog::info("offering {} kept session(s) to the gateway", sessions.size());
}

void SessionManager::detach() {
  link_ = nullptr;
  if (stopping_) return;  // hung up already: nothing to wait for
  auto sessions = sessions_;  // with no grace, sessions end and may be forgotten
  for (auto& [channel, session] : sessions) session->detach();
}

std::vector<std::string> SessionManager::session_ids() const {
  std::vector<std::string> ids;
  for (const auto& [channel, session] : sessions_) {
    if (ids.size() < wire::kMaxKeptSessions) ids.push_back(session->session_id());
  }
  return ids;
}

asio::awaitable<bool> SessionManager::send(std::string frame) {
  const auto link = link_;
  if (!link || !link->is_open()) co_return false;
  co_return co_await link->write(std::move(frame));
}

// Hangs up every session and keeps reaping until the last child is gone (at once for a shell
// that dies of its SIGHUP; at the SIGKILL grace for one that ignores it); then nothing holds
// the agent's event loop.
void SessionManager::close_all() {
  stopping_ = true;
  auto sessions = sessions_;
  for (auto& [channel, session] : sessions) session->stop();
  reaper_->sweep.expires_after(kHangupGrace + std::chrono::seconds(1));
  auto self = shared_from_this();
  reaper_->sweep.async_wait([self](const boost::system::error_code& ec) {
    if (!ec) self->reap();
  });
  reap();  // children that already exited; ends the wait when there are none
}

asio::awaitable<void> SessionManager::open(std::uint32_t channel, const json& request) {
  auto self = shared_from_this();
  const bool interactive = request["mode"] == "shell";
  std::string failure_code = "spawn_failed";
  std::string failure;
  try {
    if (!interactive && request["mode"] != "command") {
      failure_code = "bad_request";
      throw pty::PtyError("unknown session mode");
    }
    pty::SpawnOptions options;
    failure_code = "run_as_user";
    options.user = pty::resolve_run_as_user(request["run_as"].get<std::string>(), create_users_);
    failure_code = "spawn_failed";
    options.term = request.value("term", std::string("xterm-256color"));
    options.cols = static_cast<unsigned short>(std::clamp(request.value("cols", 80), 1, 10000));
    options.rows = static_cast<unsigned short>(std::clamp(request.value("rows", 24), 1, 10000));
    options.extra_env = {{"SALLYPORT_SESSION_ID", request["session_id"].get<std::string>()}};
    if (!interactive) {
      options.command = request.value("command", std::vector<std::string>{});
      if (options.command.empty()) {
        failure_code = "bad_request";
        throw pty::PtyError("a command session needs a command");
      }
    }
    const auto process = interactive ? pty::spawn_interactive(options) : pty::spawn_command(options);
    auto session = std::make_shared<AgentSession>(self, channel, process, request["session_id"].get<std::string>(),
                                                  std::chrono::seconds(request.value("resume_grace_seconds", 0)));
    sessions_[channel] = session;
    std::string profile = request.value("shell_profile", std::string());
    if (interactive && !profile.empty() && profile.back() != '\n') profile.push_back('\n');
    session->start(interactive ? profile : "");
    spdlog::info("session {} started on channel {} as {} (pid {})", request["session_id"].get<std::string>(), channel,
                 options.user.name, process.pid);
    std::string opened = control_frame(channel, {{"type", wire::msg::kSessionOpened}});
    co_await send(std::move(opened));
    session->check_exit();  // a command may already be done
  } catch (const pty::PtyError& error) {
    failure = error.what();
  }
  if (!failure.empty()) {
    spdlog::warn("session on channel {} failed to start: {}", channel, failure);
    std::string failed =
        control_frame(channel, {{"type", wire::msg::kSessionFailed}, {"code", failure_code}, {"message", failure}});
    co_await send(std::move(failed));
  }
}

asio::awaitable<void> SessionManager::on_frame(wire::Frame frame) {
  const auto it = sessions_.find(frame.channel);
  std::shared_ptr<AgentSession> session = it == sessions_.end() ? nullptr : it->second;
  switch (frame.type) {
    case wire::FrameType::kData:
      if (session && !session->input(std::move(frame.payload))) {
        spdlog::warn("gateway overran the input window on channel {}; ending the session", frame.channel);
        session->hang_up();
      }
      co_return;
    case wire::FrameType::kCredit:
      if (auto bytes = wire::decode_credit(frame.payload); bytes && session) session->grant(*bytes);
      co_return;
    case wire::FrameType::kStderr:
      co_return;
    case wire::FrameType::kControl:
      break;
  }
  auto parsed = wire::parse_control(frame.payload);
  if (!parsed.error.empty()) {
    spdlog::warn("ignoring malformed session message on channel {}: {}", frame.channel, parsed.error);
    co_return;
  }
  const json& message = parsed.message;
  const std::string type = message["type"].get<std::string>();
  if (type == wire::msg::kSessionOpen) {
    if (session && !session->waiting_for_gateway()) co_return;  // duplicate open
    if (session) {
      // A gateway that opens a new session here no longer has the one kept for it (it restarted).
      spdlog::info("session {} was not taken back by the gateway; hanging up", session->session_id());
      session->abandon();
      if (sessions_.erase(frame.channel) > 0) leaving_.push_back(session);  // still to be reaped
    }
    co_await open(frame.channel, message);
  } else if (!session) {
    co_return;
  } else if (type == wire::msg::kResize) {
    session->resize(static_cast<unsigned short>(std::clamp(message["cols"].get<int>(), 1, 10000)),
                    static_cast<unsigned short>(std::clamp(message["rows"].get<int>(), 1, 10000)));
  } else if (type == wire::msg::kEof) {
    session->end_input();
  } else if (type == wire::msg::kSessionReattached) {
    co_await session->reattached(message["output_frames"].get<std::uint64_t>());
  } else if (type == wire::msg::kSessionClose) {
    // A close for another session that had this channel (one this agent kept) is not for this one.
    if (message.contains("session_id") && message["session_id"] != session->session_id()) co_return;
    spdlog::info("gateway closed the session on channel {}: {}", frame.channel, message["reason"].get<std::string>());
    session->abandon();
  }
}

}  // namespace sallyport::agent
