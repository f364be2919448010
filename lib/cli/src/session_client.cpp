#include "sallyport/cli/session_client.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "local_io.hpp"
#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"
#include "sallyport/wire/replay_queue.hpp"

namespace sallyport::cli {

namespace asio = boost::asio;
using nlohmann::json;
using namespace local_io;

namespace {

constexpr std::size_t kCreditBatchBytes = 128 * 1024;  // an eighth of the window
// After a broken connection: how long past the gateway's grace to keep trying (the gateway may
// notice a silent network only after its idle limit), and the longest pause between tries.
constexpr auto kReconnectSlack = std::chrono::seconds(35);
constexpr auto kMaxReconnectPause = std::chrono::seconds(2);

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
  if (code == "session_ended") return kExitSessionTerminated;
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
  std::uint64_t output_credit_sent = 0;  // over all links; a resume tells the gateway
  auto credit_written = [&](std::size_t bytes) {  // on the loop
    unreturned += bytes;
    if (unreturned >= kCreditBatchBytes && socket && socket->is_open()) {
      const auto credit = static_cast<std::uint32_t>(unreturned);
      unreturned = 0;
      output_credit_sent += credit;
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

  // Resuming after a broken connection: the gateway's token, the output frames received, and
  // the input frames sent that the node has not yet credited. `socket` is null while away.
  std::string resume_token;
  std::chrono::seconds resume_grace{0};
  std::uint64_t output_frames = 0;
  std::uint64_t output_bytes = 0;  // in those frames: a restarted gateway lines its count up with it
  wire::ReplayQueue input_replay;
  std::uint64_t input_credit_received = 0;  // over all links
  bool interrupted = false;
  auto input_frame = [](const std::string& bytes) {
    return bytes.empty() ? wire::encode_control({{"type", wire::msg::kEof}}, wire::kClientChannel)
                         : wire::encode(wire::FrameType::kData, wire::kClientChannel, bytes);
  };
  // Sends an input frame, kept for a resend first when the session can resume; while away it
  // is only kept.
  auto send_input = [&](std::string bytes) -> asio::awaitable<void> {
    auto frame = std::make_shared<const std::string>(input_frame(bytes));
    if (!resume_token.empty()) input_replay.sent(frame, bytes.size());
    auto link = socket;
    if (link && link->is_open()) co_await link->write_shared(std::move(frame));
  };
  auto reader = std::make_shared<InputReader>([&](std::string bytes) {
    asio::post(io, [&, bytes = std::move(bytes)]() mutable {
      asio::co_spawn(io, send_input(std::move(bytes)), asio::detached);
    });
  });
  std::unique_ptr<LoopInput> loop_input;
  if (LoopInput::usable()) {
    loop_input = std::make_unique<LoopInput>(io, [&](std::string bytes) -> asio::awaitable<void> {
      co_await send_input(std::move(bytes));
    });
  }
  auto grant_input = [&](std::size_t credit) {
    input_credit_received += credit;
    input_replay.credited(credit);
    if (loop_input) {
      loop_input->grant(credit);
    } else {
      reader->grant(credit);
    }
  };
  asio::steady_timer reconnect_pause(io);

  asio::signal_set stop_signals(io, SIGTERM, SIGHUP, SIGINT);
  stop_signals.add(SIGQUIT);
  asio::signal_set resize_signal(io, SIGWINCH);

  // A line of its own on stderr, in order with the output. A raw terminal needs "\r\n" and a
  // fresh line first; a pipe or file gets plain lines.
  auto notify = [&](const std::string& text) {
    writer.push_notice(STDERR_FILENO, interactive ? "\r\n[sallyport] " + text + "\r\n" : "[sallyport] " + text + "\n");
  };
  const transport::Headers headers = {{"Authorization", "Bearer " + request.token}};
  auto resize_frame = [] {
    const auto [cols, rows] = terminal_size();
    return wire::encode_control({{"type", wire::msg::kResize}, {"cols", cols}, {"rows", rows}}, wire::kClientChannel);
  };

  // Reads one link until it ends; true when the session is over (outcome set), false when the
  // link broke first.
  auto relay = [&](std::shared_ptr<transport::MessageSocket> link) -> asio::awaitable<bool> {
    while (auto bytes = co_await link->read()) {
      auto decoded = wire::decode_one(*bytes);
      if (!decoded.frame) {
        outcome.message = "protocol error from the gateway";
        co_return true;
      }
      auto& frame = *decoded.frame;
      if (frame.type == wire::FrameType::kData || frame.type == wire::FrameType::kStderr) {
        ++output_frames;
        output_bytes += frame.payload.size();
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
        if (auto credit = wire::decode_credit(frame.payload)) grant_input(*credit);
        continue;
      }
      const auto parsed = wire::parse_control(frame.payload);
      if (!parsed.error.empty()) continue;
      const auto& message = parsed.message;
      const std::string type = message["type"].get<std::string>();
      if (type == wire::msg::kSessionStarted) {
        outcome.session_id = message["session_id"].get<std::string>();
        resume_token = message.value("resume_token", std::string());
        resume_grace = std::chrono::seconds(message.value("resume_grace_seconds", 0));
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
        co_return true;
      } else if (type == wire::msg::kNotice) {
        notify(message["message"].get<std::string>());
      } else if (type == wire::msg::kSessionEnded) {
        outcome.status = kExitSessionTerminated;
        outcome.message = message["reason"].get<std::string>();
        co_return true;
      } else if (type == wire::msg::kExit) {
        outcome.exited = true;
        outcome.status = message.contains("signal") ? 128 + message["signal"].get<int>()
                                                    : message.value("exit_code", 0);
        co_return true;
      }
    }
    co_return false;
  };

  // Back to the session over a new link: the gateway sends the output not received, and the
  // input it did not receive goes again. Tries until the gateway's grace (and the time it may
  // take to notice the break) has passed. True when the session goes on.
  auto reconnect = [&]() -> asio::awaitable<bool> {
    notify("the connection to the gateway broke; reconnecting...");
    const auto deadline = std::chrono::steady_clock::now() + resume_grace + kReconnectSlack;
    auto pause = std::chrono::milliseconds(200);
    std::string why = "no answer";
    while (!interrupted && std::chrono::steady_clock::now() < deadline) {
      try {
        auto connection = co_await transport::connect_link(io.get_executor(), request.gateway, "/v1/sessions/connect",
                                                           headers, {});
        auto link = connection.socket;
        json resume = {{"type", wire::msg::kSessionResume}, {"protocol", wire::kProtocolVersion},
                       {"session_id", outcome.session_id}, {"resume_token", resume_token},
                       {"output_frames", output_frames}, {"output_bytes", output_bytes},
                       {"output_credit", output_credit_sent}};
        std::string resume_frame = wire::encode_control(resume, wire::kClientChannel);
        co_await link->write(std::move(resume_frame));
        auto answer = co_await link->read();
        auto decoded = answer ? wire::decode_one(*answer) : wire::DecodeResult{};
        const auto parsed = decoded.frame && decoded.frame->type == wire::FrameType::kControl
                                ? wire::parse_control(decoded.frame->payload)
                                : wire::ParsedControl{{}, "no answer"};
        if (parsed.error.empty() && parsed.message["type"] == wire::msg::kSessionResumed) {
          const auto input_credit = parsed.message["input_credit"].get<std::uint64_t>();
          std::uint64_t cursor = parsed.message["input_frames"].get<std::uint64_t>();
          if (!input_replay.received(cursor) || input_credit < input_credit_received) {
            outcome.message = "the gateway's count of input received does not match what was sent";
            co_await link->close_gracefully("bad resume");
            co_return false;
          }
          // Credit the gateway sent on the broken link that never arrived.
          if (input_credit > input_credit_received) grant_input(input_credit - input_credit_received);
          // Input not received goes first, in order; input typed meanwhile joins the queue.
          while (auto frame = input_replay.next_from(cursor)) co_await link->write_shared(std::move(frame));
          socket = link;
          credit_written(0);  // what was written while away
          if (interactive) co_await link->write(resize_frame());
          notify("reconnected");
          co_return true;
        }
        if (parsed.error.empty() && parsed.message["type"] == wire::msg::kSessionFailed) {
          outcome.status = exit_status_for_failure(parsed.message["code"].get<std::string>());
          outcome.message = parsed.message["message"].get<std::string>();
          co_return false;
        }
        why = "the gateway did not resume the session";
      } catch (const transport::TransportError& error) {
        why = error.what();
      }
      reconnect_pause.expires_after(pause);
      boost::system::error_code ignored;
      co_await reconnect_pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      pause = std::min<std::chrono::milliseconds>(pause * 2, kMaxReconnectPause);
    }
    if (!interrupted) outcome.message = "the connection to the gateway was lost and could not be restored: " + why;
    co_return false;
  };

  auto session = [&]() -> asio::awaitable<void> {
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
                  {"term", term && *term ? term : "xterm-256color"}, {"resumable", true}};
    if (!interactive) start["command"] = request.command;
    std::string start_frame = wire::encode_control(start, wire::kClientChannel);
    co_await socket->write(std::move(start_frame));

    for (;;) {
      auto link = socket;
      const bool over = co_await relay(link);
      if (over || interrupted || resume_token.empty()) {
        // A close frame, not just a closed socket: the gateway then knows this client is done
        // rather than cut off, and ends the session at once.
        if (link->is_open()) co_await link->close_gracefully(interrupted ? "interrupted" : "done");
        break;
      }
      socket = nullptr;
      link->close();
      if (!co_await reconnect()) break;
    }
    if (!outcome.exited && outcome.message.empty() && outcome.status == kExitSessionLost) {
      outcome.message = "the connection to the gateway was lost";
    }
    stop_signals.cancel();
    resize_signal.cancel();
    if (loop_input) loop_input->close();
    if (socket) socket->close();
    // The WebSocket's keep-alive timer would hold the loop until its next tick.
    io.stop();
  };

  stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    outcome.status = 128 + signal;
    outcome.message = "interrupted";
    interrupted = true;
    reconnect_pause.cancel();
    if (auto link = socket) {
      asio::co_spawn(io, [link]() -> asio::awaitable<void> { co_await link->close_gracefully("interrupted"); },
                     asio::detached);
    }
  });
  std::function<void(const boost::system::error_code&, int)> on_resize = [&](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (socket && socket->is_open()) {
      auto link = socket;
      asio::co_spawn(io, [link, frame = resize_frame()]() mutable -> asio::awaitable<void> {
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
