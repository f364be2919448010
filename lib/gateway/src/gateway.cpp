#include "sallyport/gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sallyport/crypto/crypto.hpp"
#include "sallyport/gateway/agent_hub.hpp"
#include "sallyport/gateway/api.hpp"
#include "sallyport/gateway/audit.hpp"
#include "sallyport/gateway/auth.hpp"
#include "sallyport/gateway/bootstrap.hpp"
#include "sallyport/gateway/forward_hub.hpp"
#include "sallyport/gateway/preferences.hpp"
#include "sallyport/gateway/session_hub.hpp"
#include "sallyport/transport/server.hpp"
#include "sallyport/transport/url.hpp"
#include "sallyport/util/files.hpp"
#include "sallyport/util/logging.hpp"
#include "authorizer.hpp"
#include "web_console.hpp"
#include "session_recorder.hpp"

#include <unistd.h>

#include <cstdio>

namespace sallyport::gateway {

namespace asio = boost::asio;

namespace {

// How often a gateway looks for terminations of its sessions asked for through another one.
constexpr std::chrono::seconds kTerminationPollInterval{1};

// SQLite in the data dir unless the configuration names a PostgreSQL database. The connection
// string stays out of the log: it may hold a password.
std::unique_ptr<store::Store> open_store(const GatewayConfig& config) {
  if (config.store.empty()) return store::open_sqlite((config.data_dir / "state.db").string());
  auto opened = store::open_postgres(config.store);
  spdlog::info("state is kept in PostgreSQL");
  return opened;
}

}  // namespace

struct Gateway::Impl {
  explicit Impl(GatewayConfig gateway_config)
      : config(std::move(gateway_config)),
        clock(util::SystemClock::instance()),
        data_dir_ready((util::ensure_directory(config.data_dir, 0700), true)),
        tls(prepare_tls(config)),
        gateway_id(load_gateway_id(config)),
        store(open_store(config)),
        auditor(*store, clock, config.data_dir / "audit.log"),
        auth(*store, clock, static_cast<util::Millis>(config.token_ttl_minutes) * 60'000),
        recordings(recording_options(config)),
        events(event_options(config)),
        recorder(recordings, events),
        hub(*store, auditor, clock, HubSettings{gateway_id, config.agent_heartbeat_seconds}),
        sessions(io.get_executor(), *store, auditor, clock, hub, auth, session_authorizer(), session_settings(),
                 gateway_id),
        forwards(io.get_executor(), *store, auditor, clock, hub, auth, session_authorizer(), session_settings(),
                 gateway_id),
        any_session(sessions, forwards),
        api(*store, auth, auditor, clock, hub, any_session,
            ApiSettings{static_cast<util::Millis>(config.agent_timeout_seconds) * 1000, "0.1.0"}),
        signals(io, SIGINT, SIGTERM),
        hangups(io, SIGHUP) {
    notice = ensure_admin(*store, config, clock);
    api.set_ca_fingerprint(tls.ca_fingerprint);
    // Links this gateway held before it stopped are gone; agents reconnect by themselves.
    // Sessions it kept when it stopped gracefully are taken back below; the others (all of
    // them after a crash) are recorded as failed.
    store->disconnect_gateway_nodes(gateway_id);
    const auto taken_back = take_kept_sessions(kept_sessions_path());
    std::vector<std::string> kept_ids;
    for (const auto& session : taken_back) kept_ids.push_back(session.id);
    store->fail_gateway_sessions(gateway_id, clock.now_ms(), kept_ids);
    // Their recordings were complete up to the last flush: finish and upload them now.
    recordings.recover({kept_ids.begin(), kept_ids.end()});
    recordings.start_worker();
    if (config.recording_enabled) {
      sessions.set_tap(&recorder);
      forwards.set_tap(&recorder);
    } else {
      spdlog::warn("session recording and streaming are OFF (--no-recording)");
    }
    sessions.restore(taken_back);
    auditor.set_listener([this](const nlohmann::json& event) { events.audit(event); });
    hub.on_channel_frame = [this](const std::string& node_id, const std::shared_ptr<transport::MessageSocket>& link,
                                  std::string frame, wire::Header header) -> asio::awaitable<void> {
      if (wire::is_stream_channel(header.channel)) {
        co_await forwards.on_agent_frame(node_id, std::move(frame), header);
      } else {
        co_await sessions.on_agent_frame(node_id, link, std::move(frame), header);
      }
    };
    hub.on_link_closed = [this](const std::string& node_id, const std::shared_ptr<transport::MessageSocket>& link,
                                bool current) {
      sessions.on_link_closed(node_id, link, current);
      if (current) forwards.on_link_closed(node_id);
    };
    hub.on_link_opened = [this](const std::string& node_id, const std::vector<std::string>& kept) {
      sessions.on_link_opened(node_id, kept);
    };
    const auto listen = transport::parse_host_port(config.listen);
    transport::ServerOptions options;
    options.host = listen->host;
    options.port = listen->port;
    options.certificate_chain_pem = tls.chain_pem;
    options.private_key_pem = tls.key_pem;
    options.link_timeouts.idle = std::chrono::seconds(config.agent_timeout_seconds);
    transport::ServerHandlers handlers;
    handlers.http = [this](transport::HttpRequest request) -> asio::awaitable<transport::HttpResponse> {
      if (auto page = serve_console(request)) co_return std::move(*page);  // the web console, outside /v1/
      co_return api.handle(request);
    };
    handlers.link_route = [](const transport::HttpRequest& request) {
      using transport::Upgrades;
      if (request.path() == kSessionPath) return Upgrades::kLinkOrWebSocket;  // the console's terminal
      if (request.path() == kAgentLinkPath || request.path() == kForwardPath) return Upgrades::kLink;
      return Upgrades::kNone;
    };
    handlers.link = [this](transport::HttpRequest request,
                                std::shared_ptr<transport::MessageSocket> socket) -> asio::awaitable<void> {
      if (request.path() == kSessionPath) {
        co_await sessions.serve_client(std::move(request), std::move(socket));
      } else if (request.path() == kForwardPath) {
        co_await forwards.serve_client(std::move(request), std::move(socket));
      } else {
        co_await hub.serve(std::move(request), std::move(socket));
      }
    };
    server = std::make_unique<transport::Server>(io, options, handlers);
    server->start();
  }

  std::filesystem::path kept_sessions_path() const { return config.data_dir / "kept-sessions.json"; }

  // Session starts are decided by the same policies as the API, read fresh each time.
  Authorize session_authorizer() {
    return [this](const store::User& user, const std::string& action, const std::string& resource,
                  const std::map<std::string, std::vector<std::string>>& context) {
      const auto decision = authorizer.decide(user, action, resource, context);
      return AuthorizationResult{Authorizer::allowed(decision), decision.explanation};
    };
  }

  std::function<SessionSettings()> session_settings() {
    return [this] {
      const Preferences preferences = load_preferences(*store);
      SessionSettings settings;
      settings.idle_timeout = std::chrono::seconds(preferences.idle_timeout_in_seconds());
      settings.max_duration = std::chrono::minutes(preferences.max_session_duration_minutes);
      settings.reconnect_grace = std::chrono::seconds(preferences.reconnect_grace_seconds);
      settings.default_run_as = preferences.default_run_as;
      settings.shell_profile = preferences.shell_profile;
      settings.required = {preferences.recording_local_required, preferences.recording_s3_required,
                           preferences.syslog_required};
      return settings;
    };
  }

  static recording::StorageOptions recording_options(const GatewayConfig& config) {
    recording::StorageOptions options;
    options.dir = config.recording_dir.empty() ? config.data_dir / "recordings" : config.recording_dir;
    options.compress = config.recording_compress;
    options.retry_interval = std::chrono::seconds(config.s3_retry_seconds);
    options.keep_local = std::chrono::hours(24 * config.recording_keep_days);
    if (!config.s3_endpoint.empty()) {
      const auto [access_key, secret_key] = recording::load_s3_credentials(config.s3_key_file.string());
      options.s3 = recording::S3Options{config.s3_endpoint, config.s3_bucket, config.s3_prefix, config.s3_region,
                                        access_key, secret_key, std::chrono::seconds(30),
                                        static_cast<std::uint64_t>(config.s3_part_mib) << 20};
    }
    return options;
  }

  static recording::EventStreamOptions event_options(const GatewayConfig& config) {
    recording::EventStreamOptions options;
    options.file = config.event_log_file.empty() ? config.data_dir / "events.log" : config.event_log_file;
    if (!config.syslog.empty()) options.syslog = recording::parse_syslog_target(config.syslog);
    char host[256] = "-";
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "-");
    options.hostname = host;
    return options;
  }

  // `sessions terminate` or `users delete` through another gateway sharing the store left a
  // request on the session's row: end the session here, as a local request would.
  void poll_termination_requests() {
    termination_poll.expires_after(kTerminationPollInterval);
    termination_poll.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      try {
        for (const auto& request : store->list_termination_requests(gateway_id)) {
          if (!any_session.terminate(request.session_id, request.requested_by, request.reason)) continue;
          spdlog::info("session {} terminated by {}, as asked through another gateway", request.session_id,
                       request.requested_by);
          const std::string why = request.reason.empty() ? "" : "; reason: " + request.reason;
          auditor.record(request.requested_by, "gateway " + gateway_id, "session:Terminate",
                         "session/" + request.session_id, "success", "as asked through another gateway" + why);
        }
        termination_poll_failing = false;
      } catch (const store::Error& error) {
        // Once per outage, not every second of it.
        if (!termination_poll_failing) spdlog::warn("cannot read the termination requests: {}", error.what());
        termination_poll_failing = true;
      }
      poll_termination_requests();
    });
  }

  // After logrotate renamed them: the gateway's own log and the event log start new files.
  void wait_for_hangup() {
    hangups.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      std::string why = util::reopen_log_file();
      if (!why.empty()) spdlog::error("SIGHUP: the log file stays as it was: {}", why);
      why = events.reopen();
      if (!why.empty()) spdlog::error("SIGHUP: the event log stays as it was: {}", why);
      spdlog::info("SIGHUP: log files reopened");
      wait_for_hangup();
    });
  }

  GatewayConfig config;
  const util::Clock& clock;
  bool data_dir_ready;
  TlsFiles tls;
  std::string gateway_id;
  std::unique_ptr<store::Store> store;
  Auditor auditor;
  Authenticator auth;
  recording::RecordingStorage recordings;
  recording::EventStream events;
  SessionRecorder recorder;
  asio::io_context io;
  Authorizer authorizer{*store};
  AgentHub hub;
  SessionHub sessions;
  ForwardHub forwards;
  // `sessions terminate` reaches shell, command and forwarding sessions alike.
  struct AnySession final : SessionControl {
    AnySession(SessionControl& a, SessionControl& b) : first(a), second(b) {}
    bool terminate(const std::string& id, const std::string& by, const std::string& reason) override {
      return first.terminate(id, by, reason) || second.terminate(id, by, reason);
    }
    // Both hubs record through the same recorder, which finds any session's recording by ID.
    recording::RecordingRead read_recording(const std::string& id) override {
      return first.read_recording(id);
    }
    std::string waiting_for(const std::string& id) override {
      auto waiting = first.waiting_for(id);
      return waiting.empty() ? second.waiting_for(id) : waiting;
    }
    SessionControl& first;
    SessionControl& second;
  } any_session;
  Api api;
  asio::signal_set signals;
  asio::signal_set hangups;  // SIGHUP: reopen the log files (logrotate)
  asio::steady_timer termination_poll{io};
  bool termination_poll_failing = false;
  std::unique_ptr<transport::Server> server;
  std::string notice;
};

Gateway::Gateway(GatewayConfig config) {
  crypto::initialize();
  validate(config);
  impl_ = std::make_unique<Impl>(std::move(config));
}

Gateway::~Gateway() = default;

void Gateway::run() {
  impl_->signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received; shutting down", signal);
    impl_->server->stop();
    // Shells and commands wait for the restart (their clients and agents reconnect to it);
    // port forwards end.
    const auto kept = impl_->sessions.keep_all("gateway shutting down");
    if (!kept.empty() && save_kept_sessions(impl_->kept_sessions_path(), kept)) {
      spdlog::info("{} session(s) kept for the gateway's restart", kept.size());
    }
    impl_->forwards.close_all("gateway shutting down");
    impl_->hub.close_all();
    impl_->hangups.cancel();
    impl_->termination_poll.cancel();
    impl_->io.stop();
  });
  impl_->wait_for_hangup();
  impl_->poll_termination_requests();
  impl_->io.run();
  for (const auto& node : impl_->store->list_nodes()) {
    if (node.connected && node.connected_gateway == impl_->gateway_id) {
      impl_->store->set_node_connection(node.id, false, impl_->gateway_id, node.last_ping_at);
    }
  }
}

std::uint16_t Gateway::port() const { return impl_->server->port(); }
const std::string& Gateway::ca_fingerprint() const { return impl_->tls.ca_fingerprint; }
const std::string& Gateway::startup_notice() const { return impl_->notice; }

}  // namespace sallyport::gateway
