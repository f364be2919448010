#include "sallyport/gateway/forward_hub.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "authorizer.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/wire/control.hpp"
#include "client_link.hpp"
#include "targets.hpp"

namespace sallyport::gateway {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr auto kWatchdogTick = std::chrono::milliseconds(500);
constexpr std::int64_t kWindow = static_cast<std::int64_t>(wire::kStreamWindowBytes);
constexpr std::int64_t kSessionWindow = static_cast<std::int64_t>(wire::kForwardSessionWindowBytes);
// The session window goes back to the agent in batches: while the agent waits for it, all of it
// is in flight, in the outbox or to return, so a batch always comes.
constexpr std::int64_t kReturnBatchBytes = 256 * 1024;
static_assert(kReturnBatchBytes <= static_cast<std::int64_t>(wire::kForwardSessionWindowBytes));
// Frames other than node data waiting for a client (stream replies, closes): past this the
// client's own frames are not read until it reads ours, so it cannot make the gateway queue more.
constexpr std::size_t kMaxOutboxControlBytes = 64 * 1024;
// Closed streams whose late frames the gateway still expects, across all nodes.
constexpr std::size_t kMaxTombstones = 65536;
// A forward's recording has no terminal; asciicast still wants a size.
constexpr int kRecordingCols = 80, kRecordingRows = 24;

std::string control(const json& message, std::uint32_t channel) { return wire::encode_control(message, channel); }

// A host name or address as a policy sees it: printable, no spaces, no URL syntax.
bool valid_host(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (unsigned char c : host) {
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':')) return false;
  }
  return true;
}

struct Stream {
  std::uint32_t client_channel = 0;
  std::int64_t client_credit = 0;  // the node's credit for the client, coalesced in the outbox
  bool credit_queued = false;
  std::uint32_t agent_channel = 0;
  bool open = false;                 // the agent connected
  bool eof_from_client = false;
  bool eof_from_node = false;
  std::int64_t to_node_in_flight = 0;    // not yet credited by the agent
  std::int64_t to_client_in_flight = 0;  // not yet credited by the client
  std::int64_t bytes_in = 0;
  std::int64_t bytes_out = 0;
  std::string remote_address;
};

// A frame for the client, in order. Node data counts in the session window until handed on.
struct Outgoing {
  std::string frame;
  std::shared_ptr<Stream> credit_for;  // a coalesced credit frame, built when it is sent
  std::uint32_t agent_channel = 0;     // the stream it belongs to (0: the session's own)
  std::int64_t window_bytes = 0;
};

struct Session {
  explicit Session(const asio::any_io_executor& executor)
      : watchdog(executor), outbox_filled(executor), outbox_drained(executor) {
    outbox_filled.expires_at(asio::steady_timer::time_point::max());
    outbox_drained.expires_at(asio::steady_timer::time_point::max());
  }
  store::SessionRecord record;
  std::shared_ptr<transport::MessageSocket> client;
  std::string client_address;
  std::string host;
  int port = 0;
  bool ended = false;
  std::map<std::uint32_t, std::shared_ptr<Stream>> streams;  // by client channel
  asio::steady_timer watchdog;
  std::int64_t last_activity = 0;
  bool warned = false;
  SessionSettings settings;
  // Everything for the client goes through the outbox, written by one coroutine, so the agent
  // link's reader never waits for a client. Node data there is bounded by the session window.
  std::deque<Outgoing> outbox;
  std::size_t outbox_control_bytes = 0;
  std::int64_t node_in_flight = 0;  // node data received and not yet returned to the agent
  std::int64_t to_return = 0;       // handed on or dropped, to return with the next forward_credit
  asio::steady_timer outbox_filled;
  asio::steady_timer outbox_drained;
};

asio::awaitable<void> wait_on(asio::steady_timer& timer) {
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  timer.expires_at(asio::steady_timer::time_point::max());
}

}  // namespace

struct ForwardHub::Impl : std::enable_shared_from_this<ForwardHub::Impl> {
  asio::any_io_executor executor;
  store::Store& store;
  Auditor& audit;
  const util::Clock& clock;
  AgentHub& agents;
  Authenticator& auth;
  Authorize authorize;
  std::function<SessionSettings()> settings;
  std::string gateway_id;
  SessionTap* tap = nullptr;
  std::map<std::string, std::shared_ptr<Session>> by_id;
  std::map<std::pair<std::string, std::uint32_t>, std::pair<std::shared_ptr<Session>, std::shared_ptr<Stream>>> by_channel;
  std::map<std::string, std::uint32_t> next_channel;
  // Streams the gateway closed: late node frames still count in their session's window until
  // the agent's answering stream_close. Value: the session ID.
  std::map<std::pair<std::string, std::uint32_t>, std::string> tombstones;

  Impl(asio::any_io_executor executor_, store::Store& store_, Auditor& audit_, const util::Clock& clock_,
       AgentHub& agents_, Authenticator& auth_, Authorize authorize_, std::function<SessionSettings()> settings_,
       std::string gateway_id_)
      : executor(std::move(executor_)), store(store_), audit(audit_), clock(clock_), agents(agents_), auth(auth_),
        authorize(std::move(authorize_)), settings(std::move(settings_)), gateway_id(std::move(gateway_id_)) {}

  std::uint32_t allocate_channel(const std::string& node_id) {
    std::uint32_t& next = next_channel[node_id];
    for (;;) {
      next = (next + 1) & ~wire::kStreamChannelFlag;
      const std::uint32_t channel = next | wire::kStreamChannelFlag;
      if (next != 0 && !by_channel.count({node_id, channel}) && !tombstones.count({node_id, channel})) return channel;
    }
  }

  std::optional<store::Node> resolve(const std::string& target) { return resolve_target(store, target); }

  void emit(ForwardEvent::Kind kind, const Session& session, const Stream& stream, const std::string& reason) {
    if (!tap) return;
    ForwardEvent event;
    event.kind = kind;
    event.session_id = session.record.id;
    event.stream = stream.client_channel;
    event.remote_address = kind == ForwardEvent::Kind::kFailed || stream.remote_address.empty()
                               ? session.host + ":" + std::to_string(session.port)
                               : stream.remote_address;
    event.client_address = session.client_address;
    event.bytes_in = stream.bytes_in;
    event.bytes_out = stream.bytes_out;
    event.reason = reason;
    tap->connection(event);
  }

  void forget(Session& session, const Stream& stream) {
    by_channel.erase({session.record.node_id, stream.agent_channel});
    session.streams.erase(stream.client_channel);
  }

  void enqueue(Session& session, Outgoing out) {
    if (out.window_bytes == 0) session.outbox_control_bytes += out.frame.size();
    session.outbox.push_back(std::move(out));
    session.outbox_filled.cancel();
  }

  void queue_to_client(Session& session, std::string frame) {
    Outgoing out;
    out.frame = std::move(frame);
    enqueue(session, std::move(out));
  }

  // Hands the window the client no longer holds back to the agent.
  void return_window(Session& session) {
    if (session.to_return <= 0 || session.ended) return;
    const std::int64_t bytes = std::min(session.to_return, kSessionWindow);  // never more than the schema allows
    session.to_return = 0;
    session.node_in_flight -= bytes;
    send_to_agent(session.record.node_id,
                  control(json{{"type", wire::msg::kForwardCredit}, {"session_id", session.record.id}, {"bytes", bytes}},
                          wire::kForwardControlChannel));
  }

  // Drops what the outbox holds for a stream the client will not see again.
  void purge(Session& session, std::uint32_t agent_channel) {
    std::erase_if(session.outbox, [&](const Outgoing& out) {
      if (out.agent_channel != agent_channel) return false;
      if (out.window_bytes > 0) session.to_return += out.window_bytes;
      else session.outbox_control_bytes -= out.frame.size();
      return true;
    });
    session.outbox_drained.cancel();
  }

  // The one writer to a client: the outbox in order, the window returned as data goes out.
  asio::awaitable<void> write_to_client(std::shared_ptr<Session> session) {
    while (!session->ended) {
      if (session->outbox.empty()) {
        co_await wait_on(session->outbox_filled);
        continue;
      }
      Outgoing next = std::move(session->outbox.front());
      session->outbox.pop_front();
      if (next.window_bytes == 0) {
        session->outbox_control_bytes -= next.frame.size();
        session->outbox_drained.cancel();
      }
      if (next.credit_for) {
        Stream& stream = *next.credit_for;
        stream.credit_queued = false;
        const auto amount = std::min<std::int64_t>(stream.client_credit, std::numeric_limits<std::uint32_t>::max());
        stream.client_credit = 0;
        const auto live = session->streams.find(stream.client_channel);
        if (amount <= 0 || live == session->streams.end() || live->second != next.credit_for) continue;
        next.frame = wire::encode_credit(stream.client_channel, static_cast<std::uint32_t>(amount));
      }
      const bool written = co_await session->client->write(std::move(next.frame));
      if (!written || session->ended) co_return;
      session->to_return += next.window_bytes;
      if (session->to_return >= kReturnBatchBytes) return_window(*session);
    }
  }

  // Node data counts in the session window until returned; a node that sends past the window
  // ends the session (false).
  bool count_node_data(const std::shared_ptr<Session>& session, std::uint32_t bytes) {
    session->node_in_flight += bytes;
    if (session->node_in_flight <= kSessionWindow) return true;
    end(session, "Failed", "the node broke flow control", "gateway", true, "session ended: the node broke flow control");
    return false;
  }

  // A node frame on a stream the gateway closed: only its window and the agent's answer matter.
  void late_frame(std::map<std::pair<std::string, std::uint32_t>, std::string>::iterator tombstone,
                  const std::string& bytes, const wire::Header& header) {
    if (header.type == wire::FrameType::kData) {
      const auto found = by_id.find(tombstone->second);
      if (found == by_id.end()) return;
      auto session = found->second;
      if (!count_node_data(session, header.length)) return;
      session->to_return += header.length;
      return_window(*session);
    } else if (header.type == wire::FrameType::kControl) {
      const auto parsed = wire::parse_control(std::string_view(bytes).substr(wire::kHeaderBytes));
      if (parsed.error.empty() && parsed.message["type"] == wire::msg::kStreamClose) tombstones.erase(tombstone);
    }
  }

  void send_to_agent(const std::string& node_id, std::string frame) {
    auto self = shared_from_this();
    asio::co_spawn(executor, [self, node_id, frame = std::move(frame)]() mutable -> asio::awaitable<void> {
      co_await self->agents.send(node_id, std::move(frame));
    }, asio::detached);
  }

  // Closes one stream on both sides (the side that asked already knows).
  void close_stream(Session& session, const std::shared_ptr<Stream>& stream, const std::string& reason,
                    bool tell_agent, bool tell_client) {
    forget(session, *stream);
    emit(stream->open ? ForwardEvent::Kind::kClosed : ForwardEvent::Kind::kFailed, session, *stream, reason);
    json close = {{"type", wire::msg::kStreamClose}, {"reason", reason.substr(0, 256)}};
    if (tell_agent) {
      send_to_agent(session.record.node_id, control(close, stream->agent_channel));
      if (tombstones.size() < kMaxTombstones) tombstones[{session.record.node_id, stream->agent_channel}] = session.record.id;
    }
    purge(session, stream->agent_channel);
    if (tell_client && !session.ended) queue_to_client(session, control(close, stream->client_channel));
    return_window(session);
  }

  // By value: a caller may pass by_id's own pointer, which the erase below destroys.
  void end(std::shared_ptr<Session> session, const std::string& status, const std::string& reason,
           const std::string& actor, bool agent_reachable, std::optional<std::string> client_notice,
           bool client_may_reconnect = false) {
    if (session->ended) return;
    session->ended = true;
    session->watchdog.cancel();
    auto streams = session->streams;
    for (auto& [channel, stream] : streams) close_stream(*session, stream, reason, agent_reachable, false);
    by_id.erase(session->record.id);
    session->outbox.clear();
    session->outbox_filled.cancel();
    session->outbox_drained.cancel();
    if (agent_reachable) {
      send_to_agent(session->record.node_id,
                    control(json{{"type", wire::msg::kForwardEnd}, {"session_id", session->record.id}},
                            wire::kForwardControlChannel));
    }
    session->record.status = status;
    session->record.reason = reason;
    session->record.ended_at = clock.now_ms();
    store.end_session(session->record);
    if (tap) tap->ended(session->record);
    audit.record(actor, session->client_address, "session:End", "session/" + session->record.id,
                 status == "Failed" ? "failure" : "success", reason);
    spdlog::info("forwarding session {} ended: {} ({})", session->record.id, status, reason);
    auto client = session->client;
    asio::co_spawn(executor, [client, client_notice, client_may_reconnect]() -> asio::awaitable<void> {
      if (!client->is_open()) co_return;
      if (client_notice) {
        json message = {{"type", wire::msg::kSessionEnded}, {"reason", client_notice->substr(0, 256)}};
        if (client_may_reconnect) message["reconnect"] = true;
        std::string ended = control(message, wire::kClientChannel);
        co_await client->write(std::move(ended));
      }
      co_await client->close_gracefully("session ended");
    }, asio::detached);
  }

  asio::awaitable<void> serve(transport::HttpRequest request, std::shared_ptr<transport::MessageSocket> socket) {
    auto self = shared_from_this();
    const std::string source = request.remote_address;
    std::optional<ClientHello> hello = co_await read_client_hello(auth, request, *socket, wire::msg::kForwardStart);
    if (!hello) co_return;
    const store::User* user = &hello->user;
    json start = std::move(hello->opening.message);
    std::string problem = std::move(hello->opening.problem);
    const std::string host = problem.empty() ? start["remote_host"].get<std::string>() : "";
    const int port = problem.empty() ? start["remote_port"].get<int>() : 0;
    if (problem.empty() && !valid_host(host)) problem = "remote host must be a host name or an IP address";
    if (problem.empty() && (port < 1 || port > 65535)) problem = "remote port must be 1-65535";
    if (!problem.empty()) {
      std::string code = "bad_request";
      co_await refuse_client(*socket, code, problem);
      co_return;
    }
    const std::string target = start["target"].get<std::string>();
    const auto node = resolve(target);
    if (!node) {
      audit.record(user->name, source, "session:PortForward", "node/" + target.substr(0, 64), "failure", "unknown target");
      std::string code = "not_found", message = "no node with id or name '" + target.substr(0, 64) + "'";
      co_await refuse_client(*socket, code, message);
      co_return;
    }
    RequestContext context;
    add_node_context(context, *node);
    add_forward_context(context, host, port);
    const std::string resource = "node/" + node->id;
    const std::string where = host + ":" + std::to_string(port);
    const auto decision = authorize(*user, "session:PortForward", resource, context);
    if (!decision.allowed) {
      audit.record(user->name, source, "session:PortForward", resource, "denied", where + ": " + decision.explanation);
      std::string code = "forbidden";
      std::string message = "user " + user->name + " is not allowed to forward to " + where + " on " + node->id;
      if (!decision.explanation.empty()) message += " (" + decision.explanation + ")";
      co_await refuse_client(*socket, code, message);
      co_return;
    }
    const SessionSettings current = settings();
    if (tap) {
      if (const std::string why = tap->refusal(current.required); !why.empty()) {
        audit.record(user->name, source, "session:PortForward", resource, "failure", why);
        std::string code = "recording_unavailable", message = "session refused: " + why;
        co_await refuse_client(*socket, code, message);
        co_return;
      }
    }
    if (!agents.is_connected(node->id)) {
      audit.record(user->name, source, "session:PortForward", resource, "failure", "node offline");
      std::string code = "node_offline", message = unreachable_node_message(*node, gateway_id);
      co_await refuse_client(*socket, code, message);
      co_return;
    }
    auto session = std::make_shared<Session>(executor);
    session->client = socket;
    session->client_address = source;
    session->host = host;
    session->port = port;
    session->settings = current;
    session->record.id = user->name + "-" + crypto::hex_encode(crypto::random_bytes(9)).substr(0, 17);
    session->record.owner = user->name;
    session->record.node_id = node->id;
    session->record.kind = "port-forward";
    session->record.command = where;
    session->record.status = "Connected";
    session->record.gateway_id = gateway_id;
    session->record.started_at = clock.now_ms();
    session->last_activity = session->record.started_at;
    store.create_session(session->record);
    by_id[session->record.id] = session;
    if (tap && !tap->started(session->record, kRecordingCols, kRecordingRows, "", current.required)) {
      end(session, "Failed", "the recording could not be started", "gateway", false,
          "session refused: the recording could not be started (required destination)");
      co_return;
    }
    audit.record(user->name, source, "session:PortForward", "session/" + session->record.id, "success",
                 "forward to " + where + " on " + node->id);
    std::string started = control(json{{"type", wire::msg::kForwardStarted}, {"session_id", session->record.id},
                                       {"node_id", node->id}, {"remote_host", host}, {"remote_port", port}},
                                  wire::kClientChannel);
    co_await socket->write(std::move(started));
    asio::co_spawn(executor, watch(session), asio::detached);
    asio::co_spawn(executor, write_to_client(session), asio::detached);
    co_await relay_from_client(session);
  }

  asio::awaitable<void> relay_from_client(std::shared_ptr<Session> session) {
    const std::string node_id = session->record.node_id;
    while (!session->ended) {
      while (!session->ended && session->outbox_control_bytes > kMaxOutboxControlBytes) {
        co_await wait_on(session->outbox_drained);
      }
      if (session->ended) co_return;
      auto bytes = co_await session->client->read();
      if (!bytes) break;
      if (session->ended) co_return;
      const auto header = wire::peek_header(*bytes);
      if (!header) {
        end(session, "Terminated", "client protocol error: malformed frame", session->record.owner, true, "protocol error");
        co_return;
      }
      if (header->channel <= wire::kClientChannel || wire::is_stream_channel(header->channel)) continue;
      const auto it = session->streams.find(header->channel);
      std::shared_ptr<Stream> stream = it == session->streams.end() ? nullptr : it->second;
      if (header->type == wire::FrameType::kControl) {
        const auto parsed = wire::parse_control(std::string_view(*bytes).substr(wire::kHeaderBytes));
        if (!parsed.error.empty()) continue;
        const auto& type = parsed.message["type"];
        if (type == wire::msg::kStreamOpen && !stream) {
          open_stream(session, header->channel);
        } else if (type == wire::msg::kEof && stream && stream->open && !stream->eof_from_client) {
          stream->eof_from_client = true;
          wire::set_channel(*bytes, stream->agent_channel);
          co_await agents.send(node_id, std::move(*bytes));
          if (stream->eof_from_node) finish_stream(*session, stream);
        } else if (type == wire::msg::kStreamClose && stream) {
          close_stream(*session, stream, parsed.message["reason"].get<std::string>(), true, false);
        }
        continue;
      }
      if (!stream || !stream->open) continue;  // late frames of a closed stream
      if (header->type == wire::FrameType::kData) {
        stream->to_node_in_flight += header->length;
        if (stream->to_node_in_flight > kWindow || stream->eof_from_client) {
          close_stream(*session, stream, "the client broke flow control", true, true);
          continue;
        }
        stream->bytes_in += header->length;
        session->record.bytes_in += header->length;
        session->last_activity = clock.now_ms();
      } else if (header->type == wire::FrameType::kCredit) {
        const auto credit = wire::decode_credit(std::string_view(*bytes).substr(wire::kHeaderBytes));
        if (!credit) continue;
        stream->to_client_in_flight = std::max<std::int64_t>(0, stream->to_client_in_flight - *credit);
      } else {
        continue;
      }
      wire::set_channel(*bytes, stream->agent_channel);
      co_await agents.send(node_id, std::move(*bytes));
    }
    if (!session->ended) end(session, "Terminated", "client disconnected", session->record.owner, true, std::nullopt);
  }

  void open_stream(const std::shared_ptr<Session>& session, std::uint32_t client_channel) {
    if (session->streams.size() >= ForwardHub::kMaxStreamsPerSession) {
      std::string failed = control(json{{"type", wire::msg::kStreamFailed}, {"code", "too_many_streams"},
                                        {"message", "this forwarding session has too many open connections"}},
                                   client_channel);
      queue_to_client(*session, std::move(failed));
      return;
    }
    auto stream = std::make_shared<Stream>();
    stream->client_channel = client_channel;
    stream->agent_channel = allocate_channel(session->record.node_id);
    session->streams[client_channel] = stream;
    by_channel[{session->record.node_id, stream->agent_channel}] = {session, stream};
    session->last_activity = clock.now_ms();
    send_to_agent(session->record.node_id,
                  control(json{{"type", wire::msg::kStreamConnect}, {"session_id", session->record.id},
                               {"host", session->host}, {"port", session->port}},
                          stream->agent_channel));
  }

  // Both directions ended cleanly.
  void finish_stream(Session& session, const std::shared_ptr<Stream>& stream) {
    forget(session, *stream);
    emit(ForwardEvent::Kind::kClosed, session, *stream, "");
  }

  // Never waits for the client: the frame joins the session's outbox.
  void on_agent_frame(const std::string& node_id, std::string bytes, wire::Header header) {
    if (const auto tombstone = tombstones.find({node_id, header.channel}); tombstone != tombstones.end()) {
      late_frame(tombstone, bytes, header);
      return;
    }
    const auto it = by_channel.find({node_id, header.channel});
    if (it == by_channel.end()) return;  // a stream that already ended
    auto [session, stream] = it->second;
    if (session->ended) return;
    Outgoing out;
    out.agent_channel = stream->agent_channel;
    if (header.type == wire::FrameType::kData) {
      if (!count_node_data(session, header.length)) return;
      stream->to_client_in_flight += header.length;
      if (!stream->open || stream->eof_from_node || stream->to_client_in_flight > kWindow) {
        session->to_return += header.length;
        close_stream(*session, stream, "the node broke flow control", true, true);
        return;
      }
      stream->bytes_out += header.length;
      session->record.bytes_out += header.length;
      session->last_activity = clock.now_ms();
      out.window_bytes = header.length;
    } else if (header.type == wire::FrameType::kCredit) {
      const auto credit = wire::decode_credit(std::string_view(bytes).substr(wire::kHeaderBytes));
      if (!credit) return;
      stream->to_node_in_flight = std::max<std::int64_t>(0, stream->to_node_in_flight - *credit);
      // Coalesced: however many credits the node sends, one waits in the outbox per stream.
      stream->client_credit += *credit;
      if (stream->credit_queued) return;
      stream->credit_queued = true;
      out.credit_for = stream;
      enqueue(*session, std::move(out));
      return;
    } else if (header.type == wire::FrameType::kControl) {
      const auto parsed = wire::parse_control(std::string_view(bytes).substr(wire::kHeaderBytes));
      if (!parsed.error.empty()) {
        spdlog::warn("malformed stream message from {}: {}", node_id, parsed.error);
        return;
      }
      const auto& message = parsed.message;
      const auto& type = message["type"];
      if (type == wire::msg::kStreamOpened && !stream->open) {
        stream->open = true;
        stream->remote_address = message.value("remote_address", std::string());
        emit(ForwardEvent::Kind::kOpened, *session, *stream, "");
      } else if (type == wire::msg::kStreamFailed && !stream->open) {
        forget(*session, *stream);
        emit(ForwardEvent::Kind::kFailed, *session, *stream, message["message"].get<std::string>());
      } else if (type == wire::msg::kEof && stream->open && !stream->eof_from_node) {
        stream->eof_from_node = true;
        if (stream->eof_from_client) finish_stream(*session, stream);
      } else if (type == wire::msg::kStreamClose) {
        forget(*session, *stream);
        emit(stream->open ? ForwardEvent::Kind::kClosed : ForwardEvent::Kind::kFailed, *session, *stream,
             message["reason"].get<std::string>());
      } else {
        return;
      }
    } else {
      return;
    }
    wire::set_channel(bytes, stream->client_channel);
    out.frame = std::move(bytes);
    enqueue(*session, std::move(out));
  }

  asio::awaitable<void> watch(std::shared_ptr<Session> session) {
    const auto idle_ms = session->settings.idle_timeout.count();
    const auto max_ms = session->settings.max_duration.count();
    while (!session->ended) {
      session->watchdog.expires_after(kWatchdogTick);
      boost::system::error_code ec;
      co_await session->watchdog.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (session->ended) co_return;
      if (tap) tap->tick(session->record.id);
      const auto now = clock.now_ms();
      if (idle_ms > 0 && now - session->last_activity >= idle_ms) {
        end(session, "Terminated", "idle timeout", "gateway", true,
            "session ended: idle for " + std::to_string(idle_ms / 1000) + " s");
        co_return;
      }
      if (max_ms > 0 && now - session->record.started_at >= max_ms) {
        end(session, "Terminated", "maximum session duration reached", "gateway", true,
            "session ended: maximum duration of " + std::to_string(max_ms / 1000) + " s reached");
        co_return;
      }
    }
  }
};

ForwardHub::ForwardHub(asio::any_io_executor executor, store::Store& store, Auditor& audit, const util::Clock& clock,
                       AgentHub& agents, Authenticator& auth, Authorize authorize,
                       std::function<SessionSettings()> settings, std::string gateway_id)
    : impl_(std::make_shared<Impl>(std::move(executor), store, audit, clock, agents, auth, std::move(authorize),
                                   std::move(settings), std::move(gateway_id))) {}

ForwardHub::~ForwardHub() = default;

void ForwardHub::set_tap(SessionTap* tap) { impl_->tap = tap; }

asio::awaitable<void> ForwardHub::serve_client(transport::HttpRequest request,
                                               std::shared_ptr<transport::MessageSocket> socket) {
  auto impl = impl_;
  co_await impl->serve(std::move(request), std::move(socket));
}

asio::awaitable<void> ForwardHub::on_agent_frame(const std::string& node_id, std::string frame, wire::Header header) {
  impl_->on_agent_frame(node_id, std::move(frame), header);
  co_return;
}

void ForwardHub::on_link_closed(const std::string& node_id) {
  std::erase_if(impl_->tombstones, [&](const auto& entry) { return entry.first.first == node_id; });
  std::vector<std::shared_ptr<Session>> lost;
  for (const auto& [id, session] : impl_->by_id) {
    if (session->record.node_id == node_id) lost.push_back(session);
  }
  // The node may come back (a restarted agent, a network that blinked): its clients may
  // reconnect, and are refused if it was deregistered.
  for (auto& session : lost) {
    impl_->end(session, "Failed", "connection to the node was lost", "gateway", false,
               "session ended: connection to the node was lost", true);
  }
}

recording::RecordingRead ForwardHub::read_recording(const std::string& session_id) {
  return read_recording_via(impl_->tap, session_id);
}

bool ForwardHub::terminate(const std::string& session_id, const std::string& by, const std::string& reason) {
  const auto it = impl_->by_id.find(session_id);
  if (it == impl_->by_id.end()) return false;
  const std::string why = "terminated by " + by + (reason.empty() ? "" : ": " + reason);
  impl_->end(it->second, "Terminated", why, by, true, "session " + why);
  return true;
}

void ForwardHub::close_all(const std::string& reason) {
  auto sessions = impl_->by_id;
  // The gateway is going away, not the session's reason to exist: its client may reconnect.
  for (auto& [id, session] : sessions) {
    impl_->end(session, "Terminated", reason, "gateway", true, "session ended: " + reason, true);
  }
}

std::size_t ForwardHub::active_count() const { return impl_->by_id.size(); }

}  // namespace sallyport::gateway
