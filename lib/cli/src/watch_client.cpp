// sessions watch ID: a read-only view of a live session. Output (and the owner's stderr) is
// printed as it comes; nothing typed is sent. Ctrl-C stops watching, not the session.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "local_io.hpp"
#include "sallyport/cli/session_client.hpp"
#include "sallyport/transport/client.hpp"
#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::cli {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

int run_watch(const transport::ClientOptions& gateway, const std::string& token, const std::string& session_id) {
  ::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  int status = 0;
  std::string message;
  bool stopped = false;
  std::shared_ptr<transport::MessageSocket> socket;
  asio::signal_set stop_signals(io, SIGINT, SIGTERM, SIGHUP);
  stop_signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    stopped = true;
    if (auto link = socket) {
      asio::co_spawn(io, [link]() -> asio::awaitable<void> { co_await link->close_gracefully("done watching"); },
                     asio::detached);
    }
  });
  auto watch = [&]() -> asio::awaitable<void> {
    try {
      const transport::Headers headers = {{"Authorization", "Bearer " + token}};  // named: see session_client.cpp
      auto connection = co_await transport::connect_link(io.get_executor(), gateway, "/v1/sessions/connect", headers, {});
      socket = connection.socket;
      std::string request = wire::encode_control(
          {{"type", wire::msg::kSessionWatch}, {"protocol", wire::kProtocolVersion}, {"session_id", session_id}},
          wire::kClientChannel);
      co_await socket->write(std::move(request));
      status = kExitSessionLost;
      while (auto bytes = co_await socket->read()) {
        auto decoded = wire::decode_one(*bytes);
        if (!decoded.frame) {
          message = "protocol error from the gateway";
          status = kExitError;
          break;
        }
        const auto& frame = *decoded.frame;
        if (frame.type == wire::FrameType::kData || frame.type == wire::FrameType::kStderr) {
          local_io::write_all(frame.type == wire::FrameType::kData ? STDOUT_FILENO : STDERR_FILENO, frame.payload);
          continue;
        }
        if (frame.type != wire::FrameType::kControl) continue;
        const auto parsed = wire::parse_control(frame.payload);
        if (!parsed.error.empty()) continue;
        const std::string type = parsed.message["type"].get<std::string>();
        if (type == wire::msg::kSessionWatching) {
          std::cerr << "Watching session " << session_id << " of " << parsed.message["owner"].get<std::string>()
                    << " on " << parsed.message["node_id"].get<std::string>() << " (read-only; Ctrl-C stops watching)\n"
                    << std::flush;
        } else if (type == wire::msg::kSessionFailed) {
          status = exit_status_for_failure(parsed.message["code"].get<std::string>());
          message = parsed.message["message"].get<std::string>();
          break;
        } else if (type == wire::msg::kSessionEnded) {
          status = 0;
          message = "the session ended: " + parsed.message["reason"].get<std::string>();
          break;
        } else if (type == wire::msg::kNotice) {
          std::cerr << "[sallyport] " << parsed.message["message"].get<std::string>() << "\n" << std::flush;
        }
      }
      if (stopped) {
        status = 0;
        message.clear();
      } else if (status == kExitSessionLost && message.empty()) {
        message = "the connection to the gateway was lost";
      }
    } catch (const transport::TransportError& error) {
      status = 6;
      message = error.what();
    }
    stop_signals.cancel();
    if (socket) socket->close();
    io.stop();
  };
  asio::co_spawn(io, watch(), asio::detached);
  io.run();
  if (!message.empty()) std::cerr << "sallyport: " << message << "\n";
  return status;
}

}  // namespace

void add_watch_command(CLI::App& sessions, Context& context) {
  auto id = std::make_shared<std::string>();
  auto* watch = sessions.add_subcommand("watch", "follow a live session's output, read-only (Ctrl-C stops watching)");
  watch->add_option("id", *id, "session ID")->required();
  watch->callback([&context, id] {
    ApiClient& api = context.api();  // refreshes the token first when needed
    const int status = run_watch(api.options(), context.credentials().token, *id);
    if (status != 0) throw CliError(status, "");
  });
}

}  // namespace sallyport::cli
