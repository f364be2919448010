#include "sallyport/agent/runner.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "sallyport/agent/backoff.hpp"
#include "sallyport/agent/inventory.hpp"
#include "forward_manager.hpp"
#include "session_manager.hpp"
#include "sallyport/transport/client.hpp"
#include "sallyport/util/version.hpp"
#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::agent {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr const char* kAgentLinkPath = "/v1/agent/connect";

// Reads the next control message; nullopt when the link closed. Protocol errors throw.
asio::awaitable<std::optional<json>> read_control(transport::MessageSocket& socket) {
  const auto bytes = co_await socket.read();
  if (!bytes) co_return std::nullopt;
  const auto decoded = wire::decode_one(*bytes);
  if (!decoded.frame || decoded.frame->type != wire::FrameType::kControl) {
    throw transport::TransportError("protocol error from the gateway: malformed frame");
  }
  auto parsed = wire::parse_control(decoded.frame->payload);
  if (!parsed.error.empty()) throw transport::TransportError("protocol error from the gateway: " + parsed.error);
  co_return std::move(parsed.message);
}

// kept: the sessions this agent still has from an earlier link; the gateway ends any other it
// was keeping for this node at once.
std::string hello_frame(const Identity& identity, const std::string& nonce, const std::vector<std::string>& kept) {
  const std::string signature = identity.key.sign(wire::hello_signing_input(nonce, identity.node_id));
  return wire::encode_control({{"type", wire::msg::kHello},
                               {"protocol", wire::kProtocolVersion},
                               {"node_id", identity.node_id},
                               {"signature", crypto::base64url_encode(signature)},
                               {"agent_version", kVersion},
                               {"kept_sessions", kept}});
}

std::string inventory_frame() {
  const auto inventory = collect_inventory();
  return wire::encode_control({{"type", wire::msg::kInventory},
                               {"hostname", inventory.hostname},
                               {"platform_name", inventory.platform_name},
                               {"platform_version", inventory.platform_version},
                               {"kernel", inventory.kernel},
                               {"architecture", inventory.architecture},
                               {"agent_version", kVersion},
                               {"ip_addresses", inventory.ip_addresses}});
}

std::string heartbeat_frame() { return wire::encode_control({{"type", wire::msg::kHeartbeat}}); }

}  // namespace

struct Runner::Impl : std::enable_shared_from_this<Runner::Impl> {
  Impl(asio::any_io_executor executor_, Identity identity_, RunnerOptions options_)
      : executor(std::move(executor_)),
        identity(std::move(identity_)),
        options(options_),
        backoff(options.initial_backoff, options.max_backoff, std::random_device{}()),
        wait_timer(executor),
        sessions(std::make_shared<SessionManager>(executor, options.create_run_as_user ? pty::CreateUser::kYes
                                                                                       : pty::CreateUser::kNo)) {}

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    sessions->start();
    const auto url = transport::parse_url(identity.gateway);
    if (!url.url) {
      spdlog::error("agent state names an invalid gateway: {}", url.error);
      co_return;
    }
    transport::ClientOptions client;
    client.gateway = *url.url;
    client.trust.ca_pem = identity.ca_pem;
    client.timeout = std::chrono::seconds(10);
    while (!stopping) {
      state = LinkState::kConnecting;
      try {
        co_await run_link(client);
      } catch (const std::exception& error) {
        if (!stopping) spdlog::warn("link to {} failed: {}", identity.gateway, error.what());
      }
      socket.reset();
      if (stopping) break;
      const auto wait = backoff.next();
      spdlog::info("reconnecting in {} ms", wait.count());
      wait_timer.expires_after(wait);
      boost::system::error_code ec;
      co_await wait_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    state = LinkState::kStopped;
  }

  asio::awaitable<void> run_link(const transport::ClientOptions& client) {
    transport::LinkTimeouts timeouts;
    timeouts.idle = options.link_idle_timeout;
    auto connection = co_await transport::connect_link(executor, client, kAgentLinkPath, {}, timeouts);
    socket = connection.socket;
    if (stopping) co_return;
    const auto challenge = co_await read_control(*socket);
    if (!challenge) throw transport::TransportError("the gateway closed the link before its challenge");
    if ((*challenge)["type"] != wire::msg::kChallenge) throw transport::TransportError("expected a challenge");
    if ((*challenge)["protocol"] != wire::kProtocolVersion) {
      throw transport::TransportError("the gateway speaks protocol " + (*challenge)["protocol"].dump() +
                                      "; this agent speaks " + std::to_string(wire::kProtocolVersion));
    }
    std::string hello = hello_frame(identity, (*challenge)["nonce"].get<std::string>(), sessions->session_ids());
    co_await socket->write(std::move(hello));
    const auto welcome = co_await read_control(*socket);
    if (!welcome) throw transport::TransportError("the gateway closed the link during the handshake");
    if ((*welcome)["type"] == wire::msg::kError) {
      throw transport::TransportError("the gateway refused this agent: " + (*welcome)["message"].get<std::string>());
    }
    if ((*welcome)["type"] != wire::msg::kWelcome) throw transport::TransportError("expected welcome");
    const int heartbeat_seconds = (*welcome)["heartbeat_seconds"].get<int>();
    spdlog::info("connected to {} as {} ({})", identity.gateway, identity.node_id, identity.name);
    state = LinkState::kOnline;
    backoff.reset();
    std::string inventory = inventory_frame();
    co_await socket->write(std::move(inventory));
    asio::co_spawn(executor, heartbeats(socket, std::max(1, heartbeat_seconds)), asio::detached);

    auto link = socket;
    sessions->attach(link);
    auto forwards = std::make_shared<ForwardManager>(
        executor, [link](std::string frame) -> asio::awaitable<bool> { co_return co_await link->write(std::move(frame)); });
    // Port forwards live only as long as their link; sessions wait for the next link for their
    // grace. However the loop ends.
    struct Detach {
      std::shared_ptr<SessionManager> sessions;
      std::shared_ptr<ForwardManager> forwards;
      ~Detach() {
        sessions->detach();
        forwards->close_all();
      }
    } detach{sessions, forwards};
    while (auto bytes = co_await socket->read()) {
      // Forwarded data is handed on as received, without a copy.
      if (const auto header = wire::peek_header(*bytes); header && wire::is_stream_channel(header->channel)) {
        forwards->on_frame(std::move(*bytes), *header);
        continue;
      }
      auto decoded = wire::decode_one(*bytes);
      if (!decoded.frame) {
        throw transport::TransportError(std::string("protocol error from the gateway: ") + wire::to_string(decoded.error));
      }
      if (decoded.frame->channel != 0) {
        co_await sessions->on_frame(std::move(*decoded.frame));
        continue;
      }
      if (decoded.frame->type != wire::FrameType::kControl) throw transport::TransportError("protocol error: data on channel 0");
      const auto parsed = wire::parse_control(decoded.frame->payload);
      if (!parsed.error.empty()) throw transport::TransportError("protocol error from the gateway: " + parsed.error);
      if (parsed.message["type"] == wire::msg::kError) {
        throw transport::TransportError("the gateway closed the link: " + parsed.message["message"].get<std::string>());
      }
    }
    if (!stopping) throw transport::TransportError("the link closed");
  }

  asio::awaitable<void> heartbeats(std::shared_ptr<transport::MessageSocket> link, int seconds) {
    auto timer = std::make_shared<asio::steady_timer>(executor);
    heartbeat_timer = timer;  // stop() cancels it so the process can exit at once
    while (link->is_open() && !stopping) {
      timer->expires_after(std::chrono::seconds(seconds));
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!link->is_open() || stopping) break;
      std::string beat = heartbeat_frame();
      if (!co_await link->write(std::move(beat))) break;
    }
  }

  void stop() {
    stopping = true;
    sessions->close_all();
    wait_timer.cancel();
    if (auto timer = heartbeat_timer.lock()) timer->cancel();
    if (socket) {
      auto link = socket;
      asio::co_spawn(executor, [link]() -> asio::awaitable<void> { co_await link->close_gracefully("agent stopping"); },
                     asio::detached);
    }
  }

  asio::any_io_executor executor;
  Identity identity;
  RunnerOptions options;
  Backoff backoff;
  asio::steady_timer wait_timer;
  std::shared_ptr<transport::MessageSocket> socket;
  std::weak_ptr<asio::steady_timer> heartbeat_timer;
  std::shared_ptr<SessionManager> sessions;  // outlive a link: they wait for the next one
  LinkState state = LinkState::kConnecting;
  bool stopping = false;
};

Runner::Runner(asio::any_io_executor executor, Identity identity, RunnerOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(identity), options)) {}
Runner::~Runner() = default;
asio::awaitable<void> Runner::run() { return impl_->run(); }
void Runner::stop() { impl_->stop(); }
LinkState Runner::state() const { return impl_->state; }
const Identity& Runner::identity() const { return impl_->identity; }

int run_agent(const std::filesystem::path& state_dir, RunnerOptions options) {
  crypto::initialize();
  Identity identity = load_identity(state_dir);
  asio::io_context io;
  Runner runner(io.get_executor(), std::move(identity), options);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received; stopping", signal);
    runner.stop();
  });
  asio::co_spawn(io, runner.run(), [&](std::exception_ptr) { signals.cancel(); });
  io.run();
  spdlog::info("agent stopped");
  return 0;
}

}  // namespace sallyport::agent
