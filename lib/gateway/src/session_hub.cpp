#include "sallyport/gateway/session_hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "sallyport/crypto/crypto.hpp"
#include "sallyport/wire/control.hpp"
#include "sallyport/wire/replay_queue.hpp"
#include "authorizer.hpp"
#include "client_link.hpp"
#include "targets.hpp"

namespace sallyport::gateway {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr auto kOpenTimeout = std::chrono::seconds(15);
constexpr auto kWatchdogTick = std::chrono::milliseconds(500);
constexpr std::int64_t kWarnBeforeEndMs = 60'000;
// A peer may have at most one window of unacknowledged data in flight; a little slack covers
// credit frames crossing data frames.
static_assert(wire::kInitialWindowBytes + wire::kDataChunkBytes < transport::kMaxQueuedBytes,
              "a session's window must fit a client socket's write queue");
constexpr std::int64_t kWindowLimit = static_cast<std::int64_t>(wire::kInitialWindowBytes) + wire::kDataChunkBytes;
// A watcher more than this behind (written to its socket, not yet sent) is dropped: a viewer
// never slows the session down, and its memory is bounded.
constexpr std::int64_t kWatcherLagBytes = static_cast<std::int64_t>(wire::kInitialWindowBytes);
constexpr std::size_t kMaxWatchers = 8;  // per session

std::string control(const json& message, std::uint32_t channel) { return wire::encode_control(message, channel); }

struct Session {
  explicit Session(asio::any_io_executor executor)
      : opened(executor), watchdog(executor), reconnect(executor), node_grace(executor) {
    opened.expires_at(asio::steady_timer::time_point::max());
  }
  store::SessionRecord record;
  std::shared_ptr<transport::MessageSocket> client;
  std::uint32_t channel = 0;
  enum class State { kOpening, kOpen, kEnded } state = State::kOpening;
  asio::steady_timer opened;  // cancelled when the agent answers session_open
  std::string failure_code, failure_message;
  asio::steady_timer watchdog;
  std::int64_t last_activity = 0;
  std::int64_t agent_output_in_flight = 0;  // node -> client bytes not yet credited by the client
  std::int64_t client_input_in_flight = 0;  // client -> node bytes not yet credited by the agent
  bool warned_idle = false;
  bool warned_duration = false;
  SessionSettings settings;
  // What begin() needs when the agent answers: the terminal and who asked from where.
  int cols = 80, rows = 24;
  std::string term, source;
  // Resuming (a CLI that asked for it, while reconnect_grace is not 0). The client link is null
  // while the session waits for its client to come back.
  bool resumable = false;
  std::string resume_token_sha256;  // of a secret only the client that started the session holds
  wire::ReplayQueue output_replay;  // output sent to the client and not yet credited by it
  std::uint64_t input_frames = 0;   // data and eof frames received from the client, over all its links
  std::uint32_t input_credit_held = 0;  // credit from the node while the client was away
  // Credit totals over all links: what a broken link swallowed is settled on resuming. Output
  // credit from the client is owed to the node as it is; input credit goes the other way.
  std::uint64_t output_credit_from_client = 0;
  std::uint64_t input_credit_from_node = 0;
  std::uint64_t link_generation = 0;  // the client link in use; an older link's end changes nothing
  asio::steady_timer reconnect;     // the grace a lost client has to come back
  bool exited = false;              // the process exited; ends once the client has been told

  // The node's side: its link can break too, and its agent keeps the session for the grace.
  std::shared_ptr<transport::MessageSocket> agent_link;  // the link the node has the session on
  bool node_attached = true;  // frames go to the node; false while it is away or being caught up
  wire::ReplayQueue input_replay;             // input sent to the node and not yet credited by it
  std::uint64_t output_frames_from_node = 0;  // data, stderr and exit frames received
  std::uint64_t node_generation = 0;          // the node link in use; an older one's timer is void
  asio::steady_timer node_grace;

  // Frames numbered up to these were recorded and counted by the gateway's run before a restart:
  // when the client and the agent send them again they are relayed, not recorded twice.
  std::uint64_t input_recorded_through = 0;
  std::uint64_t output_recorded_through = 0;
  // Kept by that run and not yet taken back: the session waits for its node's offer (agent_link
  // is set, node_attached is not) and its client's resume, and goes on once both are here.
  struct TakeBack {
    explicit TakeBack(asio::any_io_executor executor) : both_here(executor) {
      both_here.expires_at(asio::steady_timer::time_point::max());
    }
    json offer;
    std::shared_ptr<transport::MessageSocket> client;     // the client waiting for the node
    asio::steady_timer both_here;                          // cancelled when something changes
  };
  std::unique_ptr<TakeBack> taking_back;

  // Read-only viewers (`sessions watch`): output and resizes are copied to them.
  struct Watcher {
    std::shared_ptr<transport::MessageSocket> socket;
    std::string user;
    std::int64_t in_flight = 0;  // bytes handed to its socket and not yet written
  };
  std::vector<std::shared_ptr<Watcher>> watchers;

  // Open, and `generation` is still the client link in use.
  bool current(std::uint64_t generation) const { return state == State::kOpen && link_generation == generation; }
};

}  // namespace

struct SessionHub::Impl : std::enable_shared_from_this<SessionHub::Impl> {
  asio::any_io_executor executor;
  store::Store& store;
  Auditor& audit;
  const util::Clock& clock;
  AgentHub& agents;
  Authenticator& auth;
  Authorize authorize;
  std::function<SessionSettings()> settings;
  std::string gateway_id;
  std::map<std::string, std::shared_ptr<Session>> by_id;
  std::map<std::pair<std::string, std::uint32_t>, std::shared_ptr<Session>> by_channel;
  std::map<std::string, std::uint32_t> next_channel;
  SessionTap* tap = nullptr;

  Impl(asio::any_io_executor executor_, store::Store& store_, Auditor& audit_, const util::Clock& clock_,
       AgentHub& agents_, Authenticator& auth_, Authorize authorize_, std::function<SessionSettings()> settings_,
       std::string gateway_id_)
      : executor(std::move(executor_)), store(store_), audit(audit_), clock(clock_), agents(agents_), auth(auth_),
        authorize(std::move(authorize_)), settings(std::move(settings_)), gateway_id(std::move(gateway_id_)) {}

  std::uint32_t allocate_channel(const std::string& node_id) {
    std::uint32_t& next = next_channel[node_id];
    for (;;) {
      next = next >= 0x7fffffff ? 1 : next + 1;
      if (!by_channel.count({node_id, next})) return next;
    }
  }

  std::optional<store::Node> resolve(const std::string& target) { return resolve_target(store, target); }

  // Ends a session once: store, audit, both sides. Safe to call from any path.
  // By value: callers pass the map's own pointer, which the erase below would destroy.
  void end(std::shared_ptr<Session> session, const std::string& status, const std::string& reason,
           const std::string& actor, bool close_agent, std::optional<std::string> client_notice) {
    if (session->state == Session::State::kEnded) return;
    const bool was_open = session->state == Session::State::kOpen;
    session->state = Session::State::kEnded;
    session->watchdog.cancel();
    session->opened.cancel();
    session->reconnect.cancel();
    if (const auto& back = session->taking_back) {
      back->both_here.cancel();  // a client waiting for the node hears of the end
      if (session->agent_link) session->node_attached = true;  // and the node that offered it hangs up
    }
    by_id.erase(session->record.id);
    by_channel.erase({session->record.node_id, session->channel});
    session->record.status = status;
    session->record.reason = reason;
    session->record.ended_at = clock.now_ms();
    if (was_open) store.end_session(session->record);
    if (was_open && tap) tap->ended(session->record);
    audit.record(actor, session->client ? session->client->remote_address() : "", "session:End",
                 "session/" + session->record.id, status == "Failed" ? "failure" : "success", reason);
    spdlog::info("session {} ended: {} ({})", session->record.id, status, reason);
    session->node_grace.cancel();
    auto client = session->client;
    for (auto& watcher : std::exchange(session->watchers, {})) {
      asio::co_spawn(
          executor,
          [watcher, reason]() -> asio::awaitable<void> {
            std::string ended = control({{"type", wire::msg::kSessionEnded}, {"reason", reason.substr(0, 256)}},
                                        wire::kClientChannel);
            co_await watcher->socket->write(std::move(ended));
            co_await watcher->socket->close_gracefully("session ended");
          },
          asio::detached);
    }
    asio::co_spawn(
        executor,
        [session, close_agent, reason, client, client_notice]() -> asio::awaitable<void> {
          if (close_agent) co_await send_to_node(session, close_frame(session, reason));
          if (client && client->is_open()) {
            if (client_notice) {
              std::string ended = control({{"type", wire::msg::kSessionEnded}, {"reason", client_notice->substr(0, 256)}},
                                          wire::kClientChannel);
              co_await client->write(std::move(ended));
            }
            co_await client->close_gracefully("session ended");
          }
        },
        asio::detached);
  }

  // The agent opened the session: stored, recorded, audited, and announced to the client.
  // False when the recording could not start (the session has ended).
  asio::awaitable<bool> begin(std::shared_ptr<Session> session) {
    session->state = Session::State::kOpen;
    session->record.started_at = clock.now_ms();
    session->last_activity = session->record.started_at;
    store.create_session(session->record);
    if (tap && !tap->started(session->record, session->cols, session->rows, session->term, session->settings.required)) {
      end(session, "Failed", "the recording could not be started", "gateway", true,
          "session refused: the recording could not be started (required destination)");
      co_return false;
    }
    audit.record(session->record.owner, session->source, "session:Start", "session/" + session->record.id, "success",
                 session->record.kind + " on " + session->record.node_id + " as " + session->record.run_as);
    json started = {{"type", wire::msg::kSessionStarted}, {"session_id", session->record.id},
                    {"node_id", session->record.node_id}, {"run_as", session->record.run_as}};
    if (session->resumable) {
      const std::string token = crypto::hex_encode(crypto::random_bytes(32));
      session->resume_token_sha256 = crypto::sha256_hex(token);
      started["resume_token"] = token;
      started["resume_grace_seconds"] = session->settings.reconnect_grace.count();
    }
    std::string started_frame = control(started, wire::kClientChannel);
    co_await session->client->write(std::move(started_frame));
    co_return true;
  }

  static std::string exit_reason(const store::SessionRecord& record) {
    return record.exit_signal ? "killed by signal " + std::to_string(*record.exit_signal)
                              : "exited with status " + std::to_string(record.exit_code.value_or(0));
  }

  static std::string exit_frame(const store::SessionRecord& record) {
    json exit = {{"type", wire::msg::kExit}};
    if (record.exit_code) exit["exit_code"] = *record.exit_code;
    if (record.exit_signal) exit["signal"] = *record.exit_signal;
    return control(exit, wire::kClientChannel);
  }

  static std::string close_frame(const std::string& session_id, std::uint32_t channel, const std::string& reason) {
    return control({{"type", wire::msg::kSessionClose}, {"reason", reason.substr(0, 256)}, {"session_id", session_id}},
                   channel);
  }

  static std::string close_frame(const std::shared_ptr<Session>& session, const std::string& reason) {
    return close_frame(session->record.id, session->channel, reason);
  }

  // The node's link while it has the session, else null: what is not sent then is resent, or
  // settled as a credit total, when the node comes back.
  static std::shared_ptr<transport::MessageSocket> node_link(const Session& session) {
    return session.node_attached ? session.agent_link : nullptr;
  }

  static asio::awaitable<bool> send_to_node(std::shared_ptr<Session> session, std::string frame) {
    const auto link = node_link(*session);
    if (!link) co_return false;
    co_return co_await link->write(std::move(frame));
  }

  // The client consumed `bytes` more output: the node may send as much again.
  asio::awaitable<void> credit_node(std::shared_ptr<Session> session, std::uint64_t bytes) {
    session->agent_output_in_flight = std::max<std::int64_t>(0, session->agent_output_in_flight - static_cast<std::int64_t>(bytes));
    if (session->resumable) session->output_replay.credited(bytes);
    session->output_credit_from_client += bytes;
    co_await send_to_node(session, wire::encode_credit(session->channel, static_cast<std::uint32_t>(bytes)));
  }

  // The node wrote `bytes` more input to the process: the client may send as much again.
  asio::awaitable<void> credit_client(std::shared_ptr<Session> session, std::uint64_t bytes) {
    session->input_replay.credited(bytes);
    session->client_input_in_flight = std::max<std::int64_t>(0, session->client_input_in_flight - static_cast<std::int64_t>(bytes));
    session->input_credit_from_node += bytes;
    // A client away for now gets the credit when it is back.
    if (auto client = session->client) {
      co_await client->write(wire::encode_credit(wire::kClientChannel, static_cast<std::uint32_t>(bytes)));
    } else {
      session->input_credit_held += static_cast<std::uint32_t>(bytes);  // at most one window: the client sent no more
    }
  }

  // Input for the node, kept until the node credits it (an eof until credit passes it).
  static asio::awaitable<void> send_input(std::shared_ptr<Session> session, std::string frame, std::uint64_t counted) {
    auto kept = std::make_shared<const std::string>(std::move(frame));
    session->input_replay.sent(kept, counted);
    if (const auto link = node_link(*session)) co_await link->write_shared(std::move(kept));
  }

  asio::awaitable<void> notify_client(std::shared_ptr<Session> session, const std::string& text) {
    std::string frame = control({{"type", wire::msg::kNotice}, {"message", text}}, wire::kClientChannel);
    if (auto client = session->client) co_await client->write(std::move(frame));
  }

  // The node's link broke: the agent keeps the session for the grace; so does the gateway.
  void detach_node(const std::shared_ptr<Session>& session) {
    session->agent_link = nullptr;
    session->node_attached = false;
    const auto generation = ++session->node_generation;
    const auto grace = session->settings.reconnect_grace;
    spdlog::info("session {}: the connection to node {} broke; waiting {} s for it", session->record.id,
                 session->record.node_id, grace.count());
    asio::co_spawn(
        executor,
        [self = shared_from_this(), session, generation, grace]() -> asio::awaitable<void> {
          co_await self->notify_client(session, "the connection to the node broke; waiting up to " +
                                                    std::to_string(grace.count()) + " s for it to come back");
          session->node_grace.expires_after(grace);
          boost::system::error_code ec;
          co_await session->node_grace.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          if (session->state != Session::State::kOpen || session->node_generation != generation) co_return;
          self->end(session, "Failed",
                    "connection to the node was lost and it did not come back within " + std::to_string(grace.count()) + " s",
                    "gateway", false, "session ended: connection to the node was lost");
        },
        asio::detached);
  }

  // The node's agent offers a session it kept over a new link: it gets the input it missed and
  // the credit a broken link swallowed, and sends again the output the gateway did not receive.
  asio::awaitable<void> reattach(const std::string& node_id, const std::shared_ptr<transport::MessageSocket>& link,
                                 std::uint32_t channel, std::shared_ptr<Session> session, const json& offer) {
    const std::string id = offer["session_id"].get<std::string>();
    if (!session || session->state != Session::State::kOpen || session->record.id != id) {
      spdlog::info("node {} offered session {}, which has ended here; closing it", node_id, id.substr(0, 128));
      co_await link->write(close_frame(id, channel, "the session ended while the node was away"));
      co_return;
    }
    if (const auto& back = session->taking_back) {
      // Held until its client is back too: only then is it known where the output goes on.
      back->offer = offer;
      session->agent_link = link;
      back->both_here.cancel();
      spdlog::info("session {}: node {} offered it after the gateway restart{}", id, node_id,
                   back->client ? "" : "; waiting for its client");
      co_return;
    }
    const auto input_frames = offer["input_frames"].get<std::uint64_t>();
    const auto input_credit = offer["input_credit"].get<std::uint64_t>();
    const auto output_credit = offer["output_credit"].get<std::uint64_t>();
    session->agent_link = link;
    const auto generation = ++session->node_generation;
    session->node_grace.cancel();
    if (!session->input_replay.received(input_frames) || input_credit < session->input_credit_from_node ||
        output_credit > session->output_credit_from_client) {
      session->node_attached = true;  // so that the close reaches it
      end(session, "Failed", "the node's counts did not match when it reconnected", "node/" + node_id, true,
          "session ended: the node broke the protocol");
      co_return;
    }
    session->node_attached = false;  // until what it missed is on its way
    if (input_credit > session->input_credit_from_node) {
      co_await credit_client(session, input_credit - session->input_credit_from_node);
    }
    std::string reattached =
        control({{"type", wire::msg::kSessionReattached}, {"output_frames", session->output_frames_from_node}}, channel);
    co_await link->write(std::move(reattached));
    // Input it did not receive, in order; input arriving meanwhile joins the queue.
    std::uint64_t cursor = input_frames;
    while (auto frame = session->input_replay.next_from(cursor)) {
      if (session->state != Session::State::kOpen || session->node_generation != generation) co_return;
      co_await link->write_shared(std::move(frame));
    }
    session->node_attached = true;
    // Owed and never received; at most what the agent would hold (a client may over-credit).
    const std::uint64_t lost_credit =
        std::min<std::uint64_t>(session->output_credit_from_client - output_credit, 16 * wire::kInitialWindowBytes);
    spdlog::info("session {}: node {} is back ({} input frames sent again, {} bytes of its credit made up)",
                 session->record.id, node_id, cursor - input_frames, lost_credit);
    if (lost_credit > 0) co_await link->write(wire::encode_credit(channel, static_cast<std::uint32_t>(lost_credit)));
    if (session->record.kind == "shell") {
      std::string size = control({{"type", wire::msg::kResize}, {"cols", session->cols}, {"rows", session->rows}}, channel);
      co_await link->write(std::move(size));
    }
    co_await notify_client(session, "the node is back");
  }

  // A resumable session's client link broke: the session goes on without it (output waits in
  // the replay queue, then at the source once the window is used) for the grace period.
  void detach(const std::shared_ptr<Session>& session, std::uint64_t generation) {
    session->client = nullptr;
    const auto grace = session->settings.reconnect_grace;
    spdlog::info("session {}: the client's connection broke; waiting {} s for it to reconnect", session->record.id,
                 grace.count());
    asio::co_spawn(
        executor,
        [self = shared_from_this(), session, generation, grace]() -> asio::awaitable<void> {
          session->reconnect.expires_after(grace);
          boost::system::error_code ec;
          co_await session->reconnect.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          if (!session->current(generation) || session->client) co_return;
          self->end(session, "Terminated",
                    "the client's connection broke and it did not reconnect within " + std::to_string(grace.count()) + " s",
                    "gateway", true, std::nullopt);
        },
        asio::detached);
  }

  // A client coming back to its session over a new link: the same user with the session's
  // token. It gets what it missed, then the session goes on as before.
  asio::awaitable<void> resume(const store::User& user, const json& request,
                               std::shared_ptr<transport::MessageSocket> socket, const std::string& source) {
    const std::string id = request["session_id"].get<std::string>();
    const auto it = by_id.find(id);
    const auto session = it == by_id.end() ? nullptr : it->second;
    const bool allowed = session && session->state == Session::State::kOpen && session->resumable &&
                         session->record.owner == user.name &&
                         crypto::constant_time_equal(session->resume_token_sha256,
                                                     crypto::sha256_hex(request["resume_token"].get<std::string>()));
    if (!allowed) {
      audit.record(user.name, source, "session:Resume", "session/" + id, "denied", "no resumable session with this token");
      std::string code = "not_found", message = "session " + id + " cannot be resumed";
      if (const auto ended = store.get_session(id); ended && ended->owner == user.name && ended->ended_at != 0) {
        code = "session_ended";
        message = "session " + id + " ended while this client was away: " + ended->reason;
      }
      co_await refuse_client(*socket, std::move(code), std::move(message));
      co_return;
    }
    if (session->taking_back) {
      co_await take_back(session, user, request, std::move(socket), source);
      co_return;
    }
    const auto output_credit = request["output_credit"].get<std::uint64_t>();
    if (!session->output_replay.received(request["output_frames"].get<std::uint64_t>()) ||
        output_credit < session->output_credit_from_client ||
        output_credit > static_cast<std::uint64_t>(session->record.bytes_out)) {
      audit.record(user.name, source, "session:Resume", "session/" + id, "failure", "the client's output counts do not match");
      co_await refuse_client(*socket, "bad_request", "session " + id + " cannot be resumed: its output counts do not match");
      co_return;
    }
    // The old link may still look open here (a silent network): this one takes over.
    if (auto old = std::exchange(session->client, nullptr)) old->close();
    const std::uint64_t generation = ++session->link_generation;
    // Credit the client sent on the broken link that never arrived.
    if (const auto lost = output_credit - session->output_credit_from_client; lost > 0) {
      co_await credit_node(session, lost);
    }
    session->reconnect.cancel();
    // The node's input credit in all: the client counts what it missed, held credit included.
    session->input_credit_held = 0;
    std::string resumed = control({{"type", wire::msg::kSessionResumed}, {"session_id", id},
                                   {"input_frames", session->input_frames},
                                   {"input_credit", session->input_credit_from_node}},
                                  wire::kClientChannel);
    co_await socket->write(std::move(resumed));
    // What the client missed, in order, and the node's credit for its input. Output and credit
    // arriving meanwhile join in; the link is attached only once nothing is left to send.
    std::uint64_t cursor = request["output_frames"].get<std::uint64_t>();
    for (;;) {
      if (!session->current(generation)) co_return;
      if (auto frame = session->output_replay.next_from(cursor)) {
        co_await socket->write_shared(std::move(frame));
      } else if (const auto held = std::exchange(session->input_credit_held, 0); held > 0) {
        co_await socket->write(wire::encode_credit(wire::kClientChannel, held));
      } else {
        break;
      }
    }
    session->client = socket;
    audit.record(user.name, source, "session:Resume", "session/" + id, "success", "reconnected");
    spdlog::info("session {}: the client reconnected from {}", id, source);
    if (session->exited) co_await socket->write(exit_frame(session->record));
    co_await relay_from_client(session, generation);
  }

  // Hands a frame to every watcher's socket without waiting for it; one too far behind is
  // dropped (and told so by its closed link), so a slow viewer never slows the session.
  void copy_to_watchers(const std::shared_ptr<Session>& session, const std::shared_ptr<const std::string>& frame) {
    auto& watchers = session->watchers;
    for (auto it = watchers.begin(); it != watchers.end();) {
      auto watcher = *it;
      if (watcher->in_flight > kWatcherLagBytes || !watcher->socket->is_open()) {
        spdlog::info("session {}: {} fell behind and stops watching", session->record.id, watcher->user);
        watcher->socket->close();
        it = watchers.erase(it);
        continue;
      }
      const auto size = static_cast<std::int64_t>(frame->size());
      watcher->in_flight += size;
      // Started in order on the one executor, and never past the socket's queue bound
      // (kWatcherLagBytes is below it), so the frames keep their order.
      asio::co_spawn(
          executor,
          [watcher, frame, size]() -> asio::awaitable<void> {
            co_await watcher->socket->write_shared(frame);
            watcher->in_flight -= size;
          },
          asio::detached);
      ++it;
    }
  }

  // `sessions watch`: a read-only view of a live session for a user allowed session:Watch on it.
  // The owner is told who watches; nothing the watcher sends reaches the session.
  asio::awaitable<void> observe(const store::User& user, const std::string& id,
                                std::shared_ptr<transport::MessageSocket> socket, std::string source) {
    const auto it = by_id.find(id);
    const auto session = it == by_id.end() ? nullptr : it->second;
    if (!session || session->state != Session::State::kOpen) {
      audit.record(user.name, source, "session:Watch", "session/" + id, "failure", "no such live session");
      co_await refuse_client(*socket, "not_found", "no live session " + id + " on this gateway");
      co_return;
    }
    const std::string resource = "session/" + id;
    RequestContext context;  // as the API decides on a session: its node's tags too
    if (const auto node = store.get_node(session->record.node_id)) add_node_context(context, *node);
    add_session_context(context, session->record);
    const auto decision = authorize(user, "session:Watch", resource, context);
    if (!decision.allowed) {
      audit.record(user.name, source, "session:Watch", resource, "denied", decision.explanation);
      std::string why = "user " + user.name + " is not allowed to watch session " + id;
      if (!decision.explanation.empty()) why += " (" + decision.explanation + ")";
      co_await refuse_client(*socket, "forbidden", std::move(why));
      co_return;
    }
    if (session->watchers.size() >= kMaxWatchers) {
      audit.record(user.name, source, "session:Watch", resource, "failure", "too many watchers");
      co_await refuse_client(*socket, "conflict",
                             "session " + id + " already has " + std::to_string(kMaxWatchers) + " watchers");
      co_return;
    }
    auto watcher = std::make_shared<Session::Watcher>();
    watcher->socket = socket;
    watcher->user = user.name;
    std::string watching = control({{"type", wire::msg::kSessionWatching}, {"session_id", id},
                                    {"owner", session->record.owner}, {"node_id", session->record.node_id},
                                    {"kind", session->record.kind}, {"cols", session->cols}, {"rows", session->rows}},
                                   wire::kClientChannel);
    co_await socket->write(std::move(watching));
    if (session->state != Session::State::kOpen) co_return;
    session->watchers.push_back(watcher);
    audit.record(user.name, source, "session:Watch", resource, "success", "watching, read-only");
    spdlog::info("session {}: {} watches from {}", id, user.name, source);
    co_await notify_client(session, user.name + " is watching this session (read-only)");
    while (co_await socket->read()) {
    }  // nothing a watcher sends counts; the read ends with its link
    auto& watchers = session->watchers;
    const auto kept = std::find(watchers.begin(), watchers.end(), watcher);
    if (kept == watchers.end()) co_return;  // dropped, or the session ended
    watchers.erase(kept);
    spdlog::info("session {}: {} stopped watching", id, user.name);
    if (session->state == Session::State::kOpen) co_await notify_client(session, user.name + " stopped watching");
  }

  // A kept session's client is back (token checked): it waits for the node's offer, then both
  // are told where to go on from, each side sends again what the other has not received, and
  // the session goes on as after any resume.
  asio::awaitable<void> take_back(std::shared_ptr<Session> session, const store::User& user, const json& request,
                                  std::shared_ptr<transport::MessageSocket> socket, std::string source) {
    const std::string id = session->record.id;
    auto& back = *session->taking_back;
    if (auto old = std::exchange(back.client, socket)) old->close();
    back.both_here.cancel();  // an older client's wait ends
    if (!session->agent_link) {
      spdlog::info("session {}: its client is back after the gateway restart; waiting for node {}", id,
                   session->record.node_id);
    }
    while (session->state == Session::State::kOpen && session->taking_back && back.client == socket &&
           !session->agent_link) {
      boost::system::error_code ignored;  // cancelled by whatever changes; the expiry stays at max
      co_await back.both_here.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (session->state != Session::State::kOpen || !session->taking_back) {
      // Built outside the co_await: GCC 12 destroys a conditional's temporaries twice in one.
      const auto ended = store.get_session(id);
      std::string why = "session " + id + " ended while this client was away";
      if (ended) why += ": " + ended->reason;
      co_await refuse_client(*socket, "session_ended", std::move(why));
      co_return;
    }
    if (back.client != socket) co_return;  // a newer client took over
    const json offer = back.offer;
    const auto link = session->agent_link;
    // Where each side goes on from: the client received `output_frames` (`output_bytes` in
    // them), the agent `input_frames`. Neither can have more than this gateway's last run relayed.
    const auto output_frames = request["output_frames"].get<std::uint64_t>();
    const auto output_bytes = request.value("output_bytes", std::uint64_t{0});
    const auto output_credit = request["output_credit"].get<std::uint64_t>();
    const auto input_frames = offer["input_frames"].get<std::uint64_t>();
    const auto input_bytes = offer.value("input_bytes", std::uint64_t{0});
    const auto input_credit = offer["input_credit"].get<std::uint64_t>();
    const auto node_output_credit = offer["output_credit"].get<std::uint64_t>();
    const bool counts_agree =
        request.contains("output_bytes") && offer.contains("input_bytes") &&
        output_frames <= session->output_recorded_through && input_frames <= session->input_recorded_through &&
        node_output_credit <= output_credit && session->output_replay.start_at(output_frames, output_bytes, output_credit) &&
        session->input_replay.start_at(input_frames, input_bytes, input_credit);
    if (!counts_agree) {
      audit.record(user.name, source, "session:Resume", "session/" + id, "failure",
                   "the counts of the client and the node do not agree after the gateway restart");
      end(session, "Failed", "the counts of its client and node did not agree after the gateway restart", "gateway",
          true, std::nullopt);
      co_await refuse_client(*socket, "session_ended",
                             "session " + id + " cannot be resumed: its client and node disagree on what was sent");
      co_return;
    }
    session->taking_back.reset();
    session->output_frames_from_node = output_frames;
    session->input_frames = input_frames;
    session->output_credit_from_client = output_credit;
    session->input_credit_from_node = input_credit;
    session->node_attached = true;  // an end from here on reaches the node (it sends nothing yet)
    ++session->node_generation;
    const std::uint64_t generation = ++session->link_generation;
    // The client first: it reads session_resumed before any output the node sends again.
    std::string resumed = control({{"type", wire::msg::kSessionResumed}, {"session_id", id},
                                   {"input_frames", input_frames}, {"input_credit", input_credit}},
                                  wire::kClientChannel);
    co_await socket->write(std::move(resumed));
    if (!session->current(generation)) co_return;
    session->client = socket;
    std::string reattached =
        control({{"type", wire::msg::kSessionReattached}, {"output_frames", output_frames}}, session->channel);
    co_await link->write(std::move(reattached));
    // Credit the client gave that never reached the node; at most what the agent would hold.
    const std::uint64_t lost_credit =
        std::min<std::uint64_t>(output_credit - node_output_credit, 16 * wire::kInitialWindowBytes);
    if (lost_credit > 0) co_await link->write(wire::encode_credit(session->channel, static_cast<std::uint32_t>(lost_credit)));
    if (session->record.kind == "shell") {
      std::string size = control({{"type", wire::msg::kResize}, {"cols", session->cols}, {"rows", session->rows}},
                                 session->channel);
      co_await link->write(std::move(size));
    }
    audit.record(user.name, source, "session:Resume", "session/" + id, "success", "taken back after a gateway restart");
    spdlog::info("session {} taken back after the gateway restart: client from {}, node {}", id, source,
                 session->record.node_id);
    co_await relay_from_client(session, generation);
  }

  // At start: sessions the previous run kept when it stopped. Each is open with neither side
  // attached until both are back, for the reconnect grace; its recording goes on in its file.
  void restore(const std::vector<KeptSession>& kept) {
    const SessionSettings current = settings();
    for (const auto& k : kept) {
      auto stored = store.get_session(k.id);
      if (!stored || stored->ended_at != 0 || stored->gateway_id != gateway_id ||
          (stored->kind != "shell" && stored->kind != "command") || by_id.count(k.id) ||
          by_channel.count({stored->node_id, k.channel})) {
        spdlog::warn("session {} kept by the previous run is not active here any more; not taken back", k.id);
        continue;
      }
      auto session = std::make_shared<Session>(executor);
      session->record = std::move(*stored);
      session->record.bytes_in = k.bytes_in;
      session->record.bytes_out = k.bytes_out;
      session->settings = current;
      session->state = Session::State::kOpen;
      session->resumable = true;
      session->resume_token_sha256 = k.resume_token_sha256;
      session->channel = k.channel;
      session->cols = k.cols;
      session->rows = k.rows;
      session->last_activity = k.last_activity;
      session->node_attached = false;
      session->input_recorded_through = k.input_frames;
      session->output_recorded_through = k.output_frames;
      session->taking_back = std::make_unique<Session::TakeBack>(executor);
      by_id[k.id] = session;
      by_channel[{session->record.node_id, k.channel}] = session;
      if (tap && !tap->resumed(session->record, clock.now_ms(), current.required)) {
        end(session, "Failed", "its recording could not be continued after the gateway restart", "gateway", true,
            std::nullopt);
        continue;
      }
      const auto grace = current.reconnect_grace.count() > 0 ? current.reconnect_grace : std::chrono::seconds(60);
      spdlog::info("session {} kept by the previous run: waiting up to {} s for its client and node {}", k.id,
                   grace.count(), session->record.node_id);
      asio::co_spawn(executor, watch(session), asio::detached);
      asio::co_spawn(
          executor,
          [self = shared_from_this(), session, grace]() -> asio::awaitable<void> {
            asio::steady_timer timer(self->executor, grace);
            boost::system::error_code ec;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            const auto& back = session->taking_back;
            if (session->state != Session::State::kOpen || !back) co_return;
            const std::string missing = !back->client ? (session->agent_link ? "its client" : "its client and node") : "its node";
            self->end(session, "Failed",
                      "the gateway restarted and " + missing + " did not come back within " + std::to_string(grace.count()) + " s",
                      "gateway", true, std::nullopt);
          },
          asio::detached);
    }
  }

  // The gateway stops: an open resumable session is kept for the next run instead of ended. Its
  // client and node see their links break and reconnect; the recording stays unfinished.
  KeptSession keep(const std::shared_ptr<Session>& session) {
    KeptSession kept;
    kept.id = session->record.id;
    kept.channel = session->channel;
    kept.resume_token_sha256 = session->resume_token_sha256;
    kept.cols = session->cols;
    kept.rows = session->rows;
    kept.bytes_in = session->record.bytes_in;
    kept.bytes_out = session->record.bytes_out;
    kept.last_activity = session->last_activity;
    kept.input_frames = std::max(session->input_frames, session->input_recorded_through);
    kept.output_frames = std::max(session->output_frames_from_node, session->output_recorded_through);
    session->state = Session::State::kEnded;  // without an end in the store: the next run goes on
    session->watchdog.cancel();
    session->reconnect.cancel();
    session->node_grace.cancel();
    by_id.erase(session->record.id);
    by_channel.erase({session->record.node_id, session->channel});
    if (tap) tap->suspended(session->record.id);
    for (const auto& client : {session->client, session->taking_back ? session->taking_back->client : nullptr}) {
      if (client) client->close();
    }
    for (const auto& watcher : std::exchange(session->watchers, {})) watcher->socket->close();
    spdlog::info("session {} kept for the gateway's restart", kept.id);
    return kept;
  }

  asio::awaitable<void> serve(transport::HttpRequest request, std::shared_ptr<transport::MessageSocket> socket) {
    auto self = shared_from_this();
    const std::string source = request.remote_address;
    // Named, not braced in the co_await: GCC 12 mishandles such a temporary in a coroutine.
    const std::initializer_list<std::string_view> also_accepted = {wire::msg::kSessionResume, wire::msg::kSessionWatch};
    std::optional<ClientHello> hello =
        co_await read_client_hello(auth, request, *socket, wire::msg::kSessionStart, also_accepted);
    if (!hello) co_return;
    const store::User* user = &hello->user;
    json start = std::move(hello->opening.message);
    std::string problem = std::move(hello->opening.problem);
    if (problem.empty() && start["type"] == wire::msg::kSessionResume) {
      co_await resume(*user, start, socket, source);
      co_return;
    }
    if (problem.empty() && start["type"] == wire::msg::kSessionWatch) {
      co_await observe(*user, start["session_id"].get<std::string>(), socket, source);
      co_return;
    }
    const std::string mode = problem.empty() ? start["mode"].get<std::string>() : "";
    if (problem.empty() && mode != "shell" && mode != "command") problem = "mode must be shell or command";
    const auto command = problem.empty() ? start.value("command", std::vector<std::string>{}) : std::vector<std::string>{};
    if (problem.empty() && mode == "command" && command.empty()) problem = "a command session needs a command";
    if (!problem.empty()) {
      spdlog::warn("session request from {} refused: {}", source, problem);
      co_await refuse_client(*socket, "bad_request", problem);
      co_return;
    }
    const std::string target = start["target"].get<std::string>();
    const auto node = resolve(target);
    if (!node) {
      audit.record(user->name, source, "session:Start", "node/" + target.substr(0, 64), "failure", "unknown target");
      co_await refuse_client(*socket, "not_found", "no node with id or name '" + target.substr(0, 64) + "'");
      co_return;
    }
    const SessionSettings current = settings();
    const auto tag = user->tags.find("runAs");
    const std::string run_as = tag != user->tags.end() ? tag->second : current.default_run_as;
    std::map<std::string, std::vector<std::string>> context = {{"node:id", {node->id}}, {"session:runAs", {run_as}}};
    for (const auto& [key, value] : node->tags) context["node:tag/" + key] = {value};
    const std::string resource = "node/" + node->id;
    const auto decision = authorize(*user, "session:Start", resource, context);
    if (!decision.allowed) {
      audit.record(user->name, source, "session:Start", resource, "denied", decision.explanation);
      // Built outside the co_await: GCC 12 destroys a conditional's temporaries twice in one.
      std::string why = "user " + user->name + " is not allowed to start a session on " + node->id + " as " + run_as;
      if (!decision.explanation.empty()) why += " (" + decision.explanation + ")";
      co_await refuse_client(*socket, "forbidden", why);
      co_return;
    }
    if (tap) {
      if (const std::string why = tap->refusal(current.required); !why.empty()) {
        audit.record(user->name, source, "session:Start", resource, "failure", why);
        co_await refuse_client(*socket, "recording_unavailable", "session refused: " + why);
        co_return;
      }
    }
    if (!agents.is_connected(node->id)) {
      audit.record(user->name, source, "session:Start", resource, "failure", "node offline");
      co_await refuse_client(*socket, "node_offline", unreachable_node_message(*node, gateway_id));
      co_return;
    }

    auto session = std::make_shared<Session>(executor);
    session->client = socket;
    session->settings = current;
    session->record.id = user->name + "-" + crypto::hex_encode(crypto::random_bytes(9)).substr(0, 17);
    session->record.owner = user->name;
    session->record.node_id = node->id;
    session->record.run_as = run_as;
    session->record.kind = mode;
    for (const auto& word : command) session->record.command += (session->record.command.empty() ? "" : " ") + word;
    session->record.status = "Connected";
    session->record.gateway_id = gateway_id;
    session->cols = start.value("cols", 80);
    session->rows = start.value("rows", 24);
    session->term = start.value("term", std::string("xterm-256color"));
    session->source = source;
    session->resumable = start.value("resumable", false) && current.reconnect_grace.count() > 0;
    session->channel = allocate_channel(node->id);
    session->agent_link = agents.link(node->id);
    by_id[session->record.id] = session;
    by_channel[{node->id, session->channel}] = session;

    json open = {{"type", wire::msg::kSessionOpen}, {"session_id", session->record.id}, {"mode", mode},
                 {"run_as", run_as}, {"cols", start.value("cols", 80)}, {"rows", start.value("rows", 24)},
                 {"term", start.value("term", std::string("xterm-256color"))}};
    if (mode == "command") open["command"] = command;
    if (mode == "shell" && !current.shell_profile.empty()) open["shell_profile"] = current.shell_profile;
    open["resume_grace_seconds"] = current.reconnect_grace.count();
    std::string open_frame = control(open, session->channel);
    const bool sent = co_await send_to_node(session, std::move(open_frame));
    if (sent && session->state == Session::State::kOpening) {
      session->opened.expires_after(kOpenTimeout);
      boost::system::error_code ec;
      co_await session->opened.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (session->state != Session::State::kOpen) {
      const std::string code = session->failure_code.empty() ? "node_offline" : session->failure_code;
      const std::string message = session->failure_message.empty()
                                      ? "node " + node->id + " did not answer the session request"
                                      : session->failure_message;
      by_id.erase(session->record.id);
      by_channel.erase({node->id, session->channel});
      const bool already_ended = session->state == Session::State::kEnded;
      session->state = Session::State::kEnded;
      // A node that answers late must not keep a session nobody has.
      if (sent && session->failure_code.empty()) co_await send_to_node(session, close_frame(session, "no answer in time"));
      if (!already_ended) {
        audit.record(user->name, source, "session:Start", resource, "failure", message);
        co_await refuse_client(*socket, code, message);
      }
      co_return;
    }

    asio::co_spawn(executor, watch(session), asio::detached);
    co_await relay_from_client(session, session->link_generation);
  }

  asio::awaitable<void> relay_from_client(std::shared_ptr<Session> session, std::uint64_t generation) {
    const std::string node_id = session->record.node_id;
    const auto client = session->client;
    while (session->current(generation)) {
      auto bytes = co_await client->read();
      if (!bytes || !session->current(generation)) break;
      // Frames are relayed as received: only the channel in the header changes, no payload copy.
      const auto header = wire::peek_header(*bytes);
      if (!header) {
        end(session, "Terminated", std::string("client protocol error: ") + wire::to_string(wire::decode_one(*bytes).error),
            session->record.owner, true, "protocol error");
        co_return;
      }
      const std::string_view payload = std::string_view(*bytes).substr(wire::kHeaderBytes);
      if (header->type == wire::FrameType::kData) {
        const auto size = static_cast<std::int64_t>(payload.size());
        session->client_input_in_flight += size;
        if (session->client_input_in_flight > kWindowLimit) {
          end(session, "Terminated", "client ignored flow control", session->record.owner, true, "protocol error: flow control");
          co_return;
        }
        ++session->input_frames;
        session->last_activity = clock.now_ms();
        if (session->input_frames > session->input_recorded_through) {
          session->record.bytes_in += size;
          if (tap) tap->data(session->record.id, TapStream::kInput, payload);
        }
        wire::set_channel(*bytes, session->channel);
        co_await send_input(session, std::move(*bytes), static_cast<std::uint64_t>(size));
      } else if (header->type == wire::FrameType::kCredit) {
        const auto credit = wire::decode_credit(payload);
        if (!credit) continue;
        co_await credit_node(session, *credit);
      } else if (header->type == wire::FrameType::kControl) {
        const auto parsed = wire::parse_control(payload);
        if (!parsed.error.empty()) continue;
        const auto& type = parsed.message["type"];
        if (type == wire::msg::kResize) {
          session->cols = parsed.message["cols"].get<int>();
          session->rows = parsed.message["rows"].get<int>();
          if (tap) tap->resized(session->record.id, session->cols, session->rows);
          if (!session->watchers.empty()) {
            copy_to_watchers(session, std::make_shared<const std::string>(control(parsed.message, wire::kClientChannel)));
          }
          co_await send_to_node(session, control(parsed.message, session->channel));
        } else if (type == wire::msg::kEof) {
          ++session->input_frames;
          co_await send_input(session, control(parsed.message, session->channel), 0);
        }
      }
    }
    if (!session->current(generation)) co_return;
    if (session->resumable && client->lost()) {
      detach(session, generation);
    } else if (session->exited) {
      end(session, "Terminated", exit_reason(session->record), session->record.owner, true, std::nullopt);
    } else {
      end(session, "Terminated", "client disconnected", session->record.owner, true, std::nullopt);
    }
  }

  asio::awaitable<void> on_agent_frame(const std::string& node_id, const std::shared_ptr<transport::MessageSocket>& link,
                                       std::string frame, wire::Header header) {
    const auto it = by_channel.find({node_id, header.channel});
    auto session = it == by_channel.end() ? nullptr : it->second;
    const std::string_view payload = std::string_view(frame).substr(wire::kHeaderBytes);
    if (header.type == wire::FrameType::kControl && (!session || session->agent_link != link)) {
      // Only a kept session's offer comes on a link the session is not on (yet).
      const auto parsed = wire::parse_control(payload);
      if (parsed.error.empty() && parsed.message["type"] == wire::msg::kSessionReattach) {
        co_await reattach(node_id, link, header.channel, session, parsed.message);
      }
      co_return;
    }
    // Anything else from a link the session is not on is stale: the node resends what counts.
    if (!session || session->agent_link != link) co_return;
    if (header.type == wire::FrameType::kData || header.type == wire::FrameType::kStderr) {
      if (session->state != Session::State::kOpen) co_return;
      ++session->output_frames_from_node;
      const auto size = static_cast<std::int64_t>(payload.size());
      session->agent_output_in_flight += size;
      if (session->agent_output_in_flight > kWindowLimit) {
        end(session, "Failed", "agent ignored flow control", "node/" + node_id, true, "the node broke the protocol");
        co_return;
      }
      session->last_activity = clock.now_ms();
      if (session->output_frames_from_node > session->output_recorded_through) {
        session->record.bytes_out += size;
        if (tap) {
          tap->data(session->record.id, header.type == wire::FrameType::kStderr ? TapStream::kStderr : TapStream::kOutput,
                    payload);
        }
      }
      wire::set_channel(frame, wire::kClientChannel);
      if (session->resumable || !session->watchers.empty()) {
        // Kept for a resend and copied to watchers, all written from the same buffer.
        auto kept = std::make_shared<const std::string>(std::move(frame));
        if (session->resumable) session->output_replay.sent(kept, static_cast<std::uint64_t>(size));
        copy_to_watchers(session, kept);
        if (auto client = session->client) co_await client->write_shared(std::move(kept));
      } else if (auto client = session->client) {
        co_await client->write(std::move(frame));
      }
      co_return;
    }
    if (header.type == wire::FrameType::kCredit) {
      const auto credit = wire::decode_credit(payload);
      if (!credit || session->state != Session::State::kOpen) co_return;
      co_await credit_client(session, *credit);
      co_return;
    }
    const auto parsed = wire::parse_control(payload);
    if (!parsed.error.empty()) {
      spdlog::warn("malformed session message from {}: {}", node_id, parsed.error);
      co_return;
    }
    const std::string type = parsed.message["type"].get<std::string>();
    if (type == wire::msg::kSessionOpened && session->state == Session::State::kOpening) {
      // Begun here, before the next frame from the agent (maybe output) is handled, so the
      // recording and the client see everything from the first byte.
      if (co_await begin(session)) session->opened.cancel();
    } else if (type == wire::msg::kSessionFailed && session->state == Session::State::kOpening) {
      session->failure_code = parsed.message["code"].get<std::string>();
      session->failure_message = parsed.message["message"].get<std::string>();
      session->opened.cancel();
    } else if (type == wire::msg::kExit && session->state == Session::State::kOpen && !session->exited) {
      ++session->output_frames_from_node;
      if (parsed.message.contains("exit_code")) session->record.exit_code = parsed.message["exit_code"].get<int>();
      if (parsed.message.contains("signal")) session->record.exit_signal = parsed.message["signal"].get<int>();
      session->exited = true;
      if (auto client = session->client) co_await client->write(exit_frame(session->record));
      // A resumable session ends when its client closes the link after the exit status, or
      // when a client that lost its link does not come back for it.
      if (!session->resumable) end(session, "Terminated", exit_reason(session->record), session->record.owner, true, std::nullopt);
    }
  }

  asio::awaitable<void> watch(std::shared_ptr<Session> session) {
    const auto idle_ms = session->settings.idle_timeout.count();
    const auto max_ms = session->settings.max_duration.count();
    while (session->state == Session::State::kOpen) {
      session->watchdog.expires_after(kWatchdogTick);
      boost::system::error_code ec;
      co_await session->watchdog.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (session->state != Session::State::kOpen) co_return;
      if (tap) tap->tick(session->record.id);
      const auto now = clock.now_ms();
      const auto idle = now - session->last_activity;
      const auto age = now - session->record.started_at;
      const auto warn_idle_at = idle_ms - std::min(kWarnBeforeEndMs, idle_ms / 2);
      if (idle < warn_idle_at) session->warned_idle = false;
      if (idle_ms > 0 && idle >= idle_ms) {
        end(session, "Terminated", "idle timeout", "gateway", true, "session ended: idle for " + std::to_string(idle_ms / 1000) + " s");
        co_return;
      }
      if (max_ms > 0 && age >= max_ms) {
        end(session, "Terminated", "maximum session duration reached", "gateway", true,
            "session ended: maximum duration of " + std::to_string(max_ms / 1000) + " s reached");
        co_return;
      }
      std::string notice;
      if (idle_ms > 0 && idle >= warn_idle_at && !session->warned_idle) {
        session->warned_idle = true;
        notice = "this session will end in " + std::to_string((idle_ms - idle + 999) / 1000) + " s unless there is activity";
      } else if (max_ms > 0 && age >= max_ms - std::min(kWarnBeforeEndMs, max_ms / 2) && !session->warned_duration) {
        session->warned_duration = true;
        notice = "this session will end in " + std::to_string((max_ms - age + 999) / 1000) + " s (maximum duration)";
      }
      auto client = session->client;
      if (!notice.empty() && client) {
        std::string frame = control({{"type", wire::msg::kNotice}, {"message", notice}}, wire::kClientChannel);
        co_await client->write(std::move(frame));
      }
    }
  }
};

SessionHub::SessionHub(asio::any_io_executor executor, store::Store& store, Auditor& audit, const util::Clock& clock,
                       AgentHub& agents, Authenticator& auth, Authorize authorize,
                       std::function<SessionSettings()> settings, std::string gateway_id)
    : impl_(std::make_shared<Impl>(std::move(executor), store, audit, clock, agents, auth, std::move(authorize),
                                   std::move(settings), std::move(gateway_id))) {}

SessionHub::~SessionHub() = default;

asio::awaitable<void> SessionHub::serve_client(transport::HttpRequest request,
                                               std::shared_ptr<transport::MessageSocket> socket) {
  auto impl = impl_;
  co_await impl->serve(std::move(request), std::move(socket));
}

asio::awaitable<void> SessionHub::on_agent_frame(const std::string& node_id,
                                                 const std::shared_ptr<transport::MessageSocket>& link, std::string frame,
                                                 wire::Header header) {
  auto impl = impl_;
  co_await impl->on_agent_frame(node_id, link, std::move(frame), header);
}

void SessionHub::on_link_closed(const std::string& node_id, const std::shared_ptr<transport::MessageSocket>& link,
                                bool current) {
  std::vector<std::shared_ptr<Session>> lost;
  for (const auto& [key, session] : impl_->by_channel) {
    if (key.first == node_id && session->agent_link == link) lost.push_back(session);
  }
  const bool broke = link->lost() || !current;
  for (auto& session : lost) {
    if (const auto& back = session->taking_back) {  // its offer is gone; another may come
      back->offer = nullptr;
      session->agent_link = nullptr;
      continue;
    }
    if (session->state == Session::State::kOpening) {
      session->failure_code = "node_offline";
      session->failure_message = "the node disconnected while the session was starting";
      session->opened.cancel();
    } else if (broke && session->state == Session::State::kOpen && session->settings.reconnect_grace.count() > 0) {
      impl_->detach_node(session);
    } else {
      impl_->end(session, "Failed", "connection to the node was lost", "gateway", false,
                 "session ended: connection to the node was lost");
    }
  }
}

void SessionHub::on_link_opened(const std::string& node_id, const std::vector<std::string>& kept) {
  std::vector<std::shared_ptr<Session>> gone;
  for (const auto& [key, session] : impl_->by_channel) {
    if (key.first == node_id && session->state == Session::State::kOpen &&
        std::find(kept.begin(), kept.end(), session->record.id) == kept.end()) {
      gone.push_back(session);
    }
  }
  for (auto& session : gone) {
    impl_->end(session, "Failed", "the node's agent restarted and no longer has the session", "gateway", false,
               "session ended: connection to the node was lost");
  }
}

bool SessionHub::terminate(const std::string& session_id, const std::string& by, const std::string& reason) {
  const auto it = impl_->by_id.find(session_id);
  if (it == impl_->by_id.end() || it->second->state != Session::State::kOpen) return false;
  const std::string why = "terminated by " + by + (reason.empty() ? "" : ": " + reason);
  impl_->end(it->second, "Terminated", why, by, true, "session " + why);
  return true;
}

std::vector<KeptSession> SessionHub::keep_all(const std::string& reason) {
  std::vector<KeptSession> kept;
  auto sessions = impl_->by_id;
  for (auto& [id, session] : sessions) {
    const bool keepable = session->state == Session::State::kOpen && session->resumable && !session->exited &&
                          !session->resume_token_sha256.empty();
    if (keepable) {
      kept.push_back(impl_->keep(session));
    } else {
      impl_->end(session, "Terminated", reason, "gateway", true, "session ended: " + reason);
    }
  }
  return kept;
}

void SessionHub::restore(const std::vector<KeptSession>& kept) { impl_->restore(kept); }

void SessionHub::close_all(const std::string& reason) {
  auto sessions = impl_->by_id;
  for (auto& [id, session] : sessions) impl_->end(session, "Terminated", reason, "gateway", true, "session ended: " + reason);
}

void SessionHub::set_tap(SessionTap* tap) { impl_->tap = tap; }

recording::RecordingRead SessionHub::read_recording(const std::string& session_id) {
  return read_recording_via(impl_->tap, session_id);
}

std::string SessionHub::waiting_for(const std::string& session_id) {
  const auto it = impl_->by_id.find(session_id);
  if (it == impl_->by_id.end() || it->second->state != Session::State::kOpen) return "";
  if (const auto& back = it->second->taking_back) return back->client ? "node" : "client";
  if (!it->second->client) return "client";
  return it->second->node_attached ? "" : "node";
}

std::size_t SessionHub::active_count() const { return impl_->by_id.size(); }

}  // namespace sallyport::gateway
