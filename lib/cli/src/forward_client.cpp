#include "sallyport/cli/forward_client.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "sallyport/cli/exit_codes.hpp"
#include "sallyport/cli/session_client.hpp"
#include "sallyport/forward/stream.hpp"
#include "sallyport/wire/control.hpp"

namespace sallyport::cli {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr const char* kForwardPath = "/v1/forwards/connect";
constexpr std::uint32_t kFirstStreamChannel = 2;
constexpr std::chrono::milliseconds kFirstReconnectPause{250};
constexpr std::chrono::milliseconds kMaxReconnectPause{5000};

enum class Mode { kListen, kProxy };

// One forwarding session: the gateway WebSocket, the streams on it and, in listen mode, the
// local acceptor.
class ForwardSession {
 public:
  ForwardSession(const ForwardRequest& request, Mode mode, std::ostream& out, std::ostream& err)
      : request_(request),
        mode_(mode),
        out_(out),
        err_(err),
        acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM),
        retry_timer_(io_),
        connected_changed_(io_) {
    signals_.add(SIGHUP);
  }

  // Listen mode: binds before anything goes to the gateway, so a busy port fails fast.
  bool listen(const std::string& bind, std::uint16_t port) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(bind, ec);
    if (ec) {
      err_ << "sallyport: --bind must be an IP address, not '" << bind << "'\n";
      status_ = kExitUsage;
      return false;
    }
    const asio::ip::tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      err_ << "sallyport: cannot listen on " << bind << ":" << port << ": " << ec.message() << "\n";
      status_ = kExitError;
      return false;
    }
    return true;
  }

  int status() const { return status_; }

  int run() {
    ::signal(SIGPIPE, SIG_IGN);
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      // Ctrl-C ends a port-forward normally; ssh hangs up its ProxyCommand when it is done.
      status_ = mode_ == Mode::kListen || signal == SIGHUP ? kExitOk : 128 + signal;
      message_.clear();
      finish();
    });
    asio::co_spawn(io_, main(), asio::detached);
    io_.run();
    if (!message_.empty()) err_ << "sallyport: " << message_ << "\n";
    err_.flush();
    return status_;
  }

 private:
  // How a forwarding session's link ended.
  enum class Ending { kLost, kEnded, kGatewayLeaving, kFailed, kProtocolError };

  asio::awaitable<void> main() {
    if (!co_await open_session()) {
      finish();
      co_return;
    }
    for (;;) {
      const Ending ending = co_await read_loop();
      if (finished_) co_return;
      // A port-forward outlives its gateway connection: the local port stays open and a new
      // session takes over. Not a proxy (its one connection cannot move), nor a session that
      // someone ended or a gateway refused.
      const bool transient = ending == Ending::kLost || ending == Ending::kGatewayLeaving ||
                             (ending == Ending::kFailed && reconnecting_ && failure_code_ == "node_offline");
      if (mode_ != Mode::kListen || session_id_.empty() || !transient) {
        if (ending == Ending::kLost && message_.empty()) message_ = "the connection to the gateway was lost";
        break;
      }
      // Named, not a conditional in the co_await: GCC 12 destroys such a temporary twice.
      std::string why = message_;
      if (ending == Ending::kLost) why = "the connection to the gateway was lost";
      if (!co_await reconnect(std::move(why))) break;
    }
    finish();
  }

  // Connects and asks for the forwarding session; false (status and message set) when the
  // gateway cannot be reached or refuses.
  asio::awaitable<bool> open_session() {
    transport::Headers headers = {{"Authorization", "Bearer " + request_.token}};
    try {
      auto connection = co_await transport::connect_link(io_.get_executor(), request_.gateway, kForwardPath, headers, {});
      socket_ = connection.socket;
    } catch (const transport::TransportError& error) {
      status_ = kExitUnreachable;
      message_ = error.what();
      refused_ = error.refused;
      co_return false;
    }
    json start = {{"type", wire::msg::kForwardStart}, {"protocol", wire::kProtocolVersion}, {"target", request_.target},
                  {"remote_host", request_.remote_host}, {"remote_port", request_.remote_port}};
    std::string start_frame = wire::encode_control(start, wire::kClientChannel);
    co_await socket_->write(std::move(start_frame));
    if (mode_ == Mode::kProxy) {
      // Sent at once, not after forward_started: ssh's connection is up one round trip sooner.
      co_await open_stream(-1);
    }
    co_return true;
  }

  // After the link was lost, or the session ended for `why` with leave to reconnect: closes
  // the connections that went through it (their bytes in flight are gone) and tries again,
  // with back-off, until a new session starts, the gateway refuses, or the user stops. New
  // local connections wait in the listen backlog meanwhile.
  asio::awaitable<bool> reconnect(std::string why) {
    connected_ = false;
    drop_connections(why);
    if (socket_ && socket_->is_open()) {  // ended by the gateway: answer its close, do not make it wait
      std::string reason = "reconnecting";
      co_await socket_->close_gracefully(std::move(reason));
    }
    if (!reconnecting_) {
      reconnecting_ = true;
      reconnect_pause_ = kFirstReconnectPause;
      err_ << "sallyport: " << why << " (open connections were closed); reconnecting...\n";
      err_.flush();
    }
    for (;;) {
      retry_timer_.expires_after(reconnect_pause_);
      boost::system::error_code ignored;
      co_await retry_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      if (finished_) co_return false;
      reconnect_pause_ = std::min(reconnect_pause_ * 2, kMaxReconnectPause);
      status_ = kExitSessionLost;
      message_.clear();
      if (co_await open_session()) co_return true;
      if (refused_) co_return false;
    }
  }

  void drop_connections(const std::string& reason) {
    for (auto& [channel, fd] : pending_) {
      if (fd >= 0) ::close(fd);
    }
    pending_.clear();
    auto streams = std::move(streams_);
    streams_.clear();
    for (auto& [channel, stream] : streams) stream->abort(reason);
  }

  asio::awaitable<Ending> read_loop() {
    while (auto bytes = co_await socket_->read()) {
      const auto header = wire::peek_header(*bytes);
      if (!header) {
        message_ = "protocol error from the gateway";
        co_return Ending::kProtocolError;
      }
      if (header->channel != wire::kClientChannel) {
        on_stream_frame(std::move(*bytes), *header);
        continue;
      }
      if (header->type != wire::FrameType::kControl) continue;
      const auto parsed = wire::parse_control(std::string_view(*bytes).substr(wire::kHeaderBytes));
      if (!parsed.error.empty()) continue;
      const auto& message = parsed.message;
      const std::string type = message["type"].get<std::string>();
      if (type == wire::msg::kForwardStarted) {
        on_started(message);
      } else if (type == wire::msg::kSessionFailed) {
        failure_code_ = message["code"].get<std::string>();
        status_ = exit_status_for_failure(failure_code_);
        message_ = message["message"].get<std::string>();
        co_return Ending::kFailed;
      } else if (type == wire::msg::kSessionEnded) {
        status_ = kExitSessionTerminated;
        message_ = message["reason"].get<std::string>();
        co_return message.value("reconnect", false) ? Ending::kGatewayLeaving : Ending::kEnded;
      } else if (type == wire::msg::kNotice) {
        err_ << "[sallyport] " << message["message"].get<std::string>() << "\n";
        err_.flush();
      }
    }
    co_return Ending::kLost;
  }

  void on_started(const nlohmann::json& message) {
    const bool first = session_id_.empty();
    session_id_ = message["session_id"].get<std::string>();
    connected_ = true;
    if (mode_ != Mode::kListen) return;
    const auto local = acceptor_.local_endpoint();
    if (first) {
      out_ << "Starting session with SessionId: " << session_id_ << "\n"
           << "Port " << local.port() << " opened for sessionId " << session_id_ << ".\n"
           << "Forwarding " << local.address().to_string() << ":" << local.port() << " to " << request_.remote_host
           << ":" << request_.remote_port << " on " << message["node_id"].get<std::string>()
           << "\nWaiting for connections...\n";
      out_.flush();
      asio::co_spawn(io_, accept_loop(), asio::detached);
      return;
    }
    reconnecting_ = false;
    err_ << "sallyport: reconnected; port " << local.port() << " now forwards through session " << session_id_ << "\n";
    err_.flush();
    connected_changed_.cancel();
  }

  asio::awaitable<void> accept_loop() {
    while (!finished_) {
      // While reconnecting, new connections wait in the kernel's listen backlog.
      while (!connected_ && !finished_) {
        boost::system::error_code ignored;
        connected_changed_.expires_at(asio::steady_timer::time_point::max());
        co_await connected_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      }
      if (finished_) co_return;
      if (held_) {
        const int fd = held_->release();
        held_.reset();
        co_await open_stream(fd);
      }
      boost::system::error_code ec;
      auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (finished_ || ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      if (!connected_) {  // the link went while this one was accepted: it waits for the next
        held_.emplace(std::move(socket));
        continue;
      }
      co_await open_stream(socket.release());
    }
  }

  // Asks the gateway for a new stream; fd is the accepted socket (-1: stdin/stdout).
  asio::awaitable<void> open_stream(int fd) {
    const std::uint32_t channel = next_channel_++;
    pending_[channel] = fd;
    std::string open = wire::encode_control(json{{"type", wire::msg::kStreamOpen}}, channel);
    co_await socket_->write(std::move(open));
  }

  void on_stream_frame(std::string bytes, const wire::Header& header) {
    if (const auto it = streams_.find(header.channel); it != streams_.end()) {
      auto stream = it->second;
      stream->on_frame(std::move(bytes), header);
      return;
    }
    const auto pending = pending_.find(header.channel);
    if (pending == pending_.end() || header.type != wire::FrameType::kControl) return;
    const auto parsed = wire::parse_control(std::string_view(bytes).substr(wire::kHeaderBytes));
    if (!parsed.error.empty()) return;
    const auto& message = parsed.message;
    const int fd = pending->second;
    const std::uint32_t channel = header.channel;
    pending_.erase(pending);
    if (message["type"] == wire::msg::kStreamOpened) {
      start_stream(channel, fd);
      return;
    }
    // stream_failed, or stream_close (the gateway refused it): the local client sees the
    // connection close at once; the session stays up for the next one.
    const std::string why = message["type"] == wire::msg::kStreamFailed ? message["message"].get<std::string>()
                                                                        : message.value("reason", std::string("refused"));
    if (fd >= 0) ::close(fd);
    if (mode_ == Mode::kProxy) {
      status_ = kExitForwardFailed;
      message_ = why;
      finish();
    } else {
      err_ << "sallyport: connection " << channel - 1 << " to " << request_.remote_host << ":" << request_.remote_port
           << " failed: " << why << "\n";
      err_.flush();
    }
  }

  void start_stream(std::uint32_t channel, int fd) {
    auto link = socket_;
    forward::SendFrame send = [link](std::string frame) -> asio::awaitable<bool> {
      co_return co_await link->write(std::move(frame));
    };
    auto done = [this, channel](const std::string& reason, const forward::StreamTotals&) {
      streams_.erase(channel);
      if (finished_) return;  // ended with the session
      if (mode_ == Mode::kProxy) {
        status_ = reason.empty() ? kExitOk : kExitError;
        message_ = reason.empty() ? "" : "connection closed: " + reason;
        finish();
      } else if (!reason.empty()) {
        err_ << "sallyport: connection " << channel - 1 << " closed: " << reason << "\n";
        err_.flush();
      }
    };
    auto stream = fd >= 0 ? forward::Stream::from_socket(io_.get_executor(), fd, channel, send, done)
                          : forward::Stream::from_descriptors(io_.get_executor(), ::dup(STDIN_FILENO),
                                                              ::dup(STDOUT_FILENO), channel, send, done);
    streams_[channel] = stream;
    stream->start();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel(ignored);
    retry_timer_.cancel();
    connected_changed_.cancel();
    held_.reset();
    drop_connections("session over");
    if (!socket_) {
      io_.stop();
      return;
    }
    // Queued frames (the last data and eof of a proxy connection) go out before the close.
    auto link = socket_;
    asio::co_spawn(io_, [this, link]() -> asio::awaitable<void> {
      co_await link->close_gracefully("done");
      io_.stop();  // the WebSocket's keep-alive timer would hold the loop
    }, asio::detached);
  }

  const ForwardRequest& request_;
  Mode mode_;
  std::ostream& out_;
  std::ostream& err_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer retry_timer_;
  asio::steady_timer connected_changed_;  // cancelled when a new session starts
  std::optional<asio::ip::tcp::socket> held_;  // accepted as the link went; opened on the next
  std::shared_ptr<transport::MessageSocket> socket_;
  std::string session_id_;  // the latest; empty until the first session started
  bool connected_ = false;  // a session is up
  bool reconnecting_ = false;
  bool refused_ = false;  // the last connection attempt was refused, not just unanswered
  std::string failure_code_;
  std::chrono::milliseconds reconnect_pause_ = kFirstReconnectPause;
  std::uint32_t next_channel_ = kFirstStreamChannel;
  std::map<std::uint32_t, int> pending_;
  std::map<std::uint32_t, std::shared_ptr<forward::Stream>> streams_;
  int status_ = kExitSessionLost;
  std::string message_;
  bool finished_ = false;
};

}  // namespace

int run_port_forward(const ForwardRequest& request, const std::string& bind, std::uint16_t local_port,
                     std::ostream& out, std::ostream& err) {
  ForwardSession session(request, Mode::kListen, out, err);
  if (!session.listen(bind, local_port)) return session.status();
  return session.run();
}

int run_proxy(const ForwardRequest& request, std::ostream& err) {
  ForwardSession session(request, Mode::kProxy, err, err);
  return session.run();
}

}  // namespace sallyport::cli
