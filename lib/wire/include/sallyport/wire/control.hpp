#pragma once
// Control messages of the agent link: one JSON object per control frame, {"type": ..., ...}.
// The schema (message types, their fields, kinds and size bounds) is one table in control.cpp;
// parse_control() refuses anything outside it, so handlers only ever see validated messages.
// The first message each side sends carries the protocol version.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sallyport/wire/frame.hpp"

namespace sallyport::wire {

// Gateway, agent and clients must speak the same version; a mismatch is refused with both
// versions named. 2: forwarding sessions share a window the gateway returns (forward_credit,
// forward_end) and the agent answers every stream_close; a version-1 agent would stall.
// 3: sessions resume after a broken link on either side (session_resume carries credit totals;
// session_open the grace; session_reattach); a version-2 agent would refuse session_open.
constexpr int kProtocolVersion = 3;
constexpr std::size_t kMaxControlBytes = 64 * 1024;
// Session IDs an agent names in its hello, well inside kMaxControlBytes.
constexpr std::size_t kMaxKeptSessions = 512;

// Message type names.
namespace msg {
inline constexpr const char* kChallenge = "challenge";   // gateway -> agent: protocol, nonce
inline constexpr const char* kHello = "hello";           // agent -> gateway: protocol, node_id, signature, kept_sessions
inline constexpr const char* kWelcome = "welcome";       // gateway -> agent: heartbeat_seconds
inline constexpr const char* kInventory = "inventory";   // agent -> gateway
inline constexpr const char* kHeartbeat = "heartbeat";   // agent -> gateway, gateway -> agent (reply)
inline constexpr const char* kError = "error";           // either way: code, message; then close

// Sessions. Between client and gateway they travel on channel 1 of the session's WebSocket;
// between gateway and agent on the channel the gateway assigned to the session.
inline constexpr const char* kSessionStart = "session_start";      // client -> gateway
inline constexpr const char* kSessionStarted = "session_started";  // gateway -> client
inline constexpr const char* kSessionOpen = "session_open";        // gateway -> agent
inline constexpr const char* kSessionOpened = "session_opened";    // agent -> gateway
inline constexpr const char* kSessionFailed = "session_failed";    // agent -> gateway -> client
inline constexpr const char* kResize = "resize";                   // client -> gateway -> agent
inline constexpr const char* kEof = "eof";                         // client -> gateway -> agent (stdin closed)
inline constexpr const char* kExit = "exit";                       // agent -> gateway -> client
inline constexpr const char* kSessionClose = "session_close";      // gateway -> agent: end it (SIGHUP)
inline constexpr const char* kSessionEnded = "session_ended";      // gateway -> client: ended by someone
// (with reconnect: true when the gateway is going away, so a port-forward may open a new session)
inline constexpr const char* kNotice = "notice";                   // gateway -> client: a warning to show
// Resuming a session over a new client link after the old one broke (a reset or a silent
// network, not a closed connection). session_started gives a resumable client a token and how
// long the gateway waits; each side then tells the other how many frames it received (output:
// data and stderr; input: data and eof) and sends again what came after (wire::ReplayQueue).
inline constexpr const char* kSessionResume = "session_resume";    // client -> gateway: session_id, resume_token, output_frames, output_bytes, output_credit
inline constexpr const char* kSessionResumed = "session_resumed";  // gateway -> client: input_frames, input_credit
inline constexpr const char* kSessionWatch = "session_watch";        // client -> gateway: session_id (read-only view)
inline constexpr const char* kSessionWatching = "session_watching";  // gateway -> client: session_id, owner, node_id, kind, cols, rows
// The same between the gateway and the agent after the agent's link broke: session_open gives
// the grace (resume_grace_seconds), and on its next link the agent offers each session it kept
// (counts as above, output counting exit too; credit as totals). The gateway answers with its
// count, or session_close for a session it no longer has.
inline constexpr const char* kSessionReattach = "session_reattach";      // agent -> gateway: session_id, input_frames, input_bytes, input_credit, output_credit
inline constexpr const char* kSessionReattached = "session_reattached";  // gateway -> agent: output_frames

// Port forwarding. A forwarding session is started on channel 1 of a client WebSocket on
// /v1/forwards/connect; each forwarded TCP connection is then a stream on its own channel
// (>= 2, chosen by the client; on the agent link a channel with kStreamChannelFlag that the
// gateway assigns) with its own credit window of kStreamWindowBytes per direction. `eof` on a
// stream is a half-close; `stream_close` ends it at once in both directions.
inline constexpr const char* kForwardStart = "forward_start";      // client -> gateway: target, remote_host, remote_port
inline constexpr const char* kForwardStarted = "forward_started";  // gateway -> client
inline constexpr const char* kStreamOpen = "stream_open";          // client -> gateway: a new connection
inline constexpr const char* kStreamConnect = "stream_connect";    // gateway -> agent: connect to host:port
inline constexpr const char* kStreamOpened = "stream_opened";      // agent -> gateway -> client
inline constexpr const char* kStreamFailed = "stream_failed";      // agent -> gateway -> client: code, message
inline constexpr const char* kStreamClose = "stream_close";        // either way: reason
// On the agent link, kForwardControlChannel: the session-level window (below).
inline constexpr const char* kForwardCredit = "forward_credit";    // gateway -> agent: session_id, bytes
inline constexpr const char* kForwardEnd = "forward_end";          // gateway -> agent: session_id, forget its window
}  // namespace msg

// Per stream and direction: enough for fast links times the credit round trip through three
// processes (measured: 2 MiB capped a loaded 2-core machine at ~100 MiB/s).
constexpr std::size_t kStreamWindowBytes = 4 * 1024 * 1024;
// Per forwarding session, node -> client, shared by all its streams: what the agent may have
// sent that the gateway has not yet handed to the client's socket. The gateway returns it
// (`forward_credit`) as it hands data on or drops it, so the sum of stream windows never
// becomes a buffer in the gateway and a client that stops reading never blocks the agent
// link. A `stream_close` from the gateway is answered with `stream_close`, the last frame on
// that channel, so the gateway knows when late data for a closed stream has all arrived.
constexpr std::size_t kForwardSessionWindowBytes = 4 * 1024 * 1024;
constexpr std::uint32_t kForwardControlChannel = kStreamChannelFlag;  // a stream channel no stream gets

constexpr std::uint32_t kClientChannel = 1;  // the one session channel on a client WebSocket

struct ParsedControl {
  nlohmann::json message;  // a validated object when error is empty
  std::string error;
};

ParsedControl parse_control(std::string_view payload);

// Builds the control frame for a message on a channel; checks it against the schema first
// (throws std::invalid_argument on our own malformed message, a programming error).
std::string encode_control(const nlohmann::json& message, std::uint32_t channel = 0);

// The bytes an agent signs to prove its identity for one connection.
std::string hello_signing_input(std::string_view nonce, std::string_view node_id);

}  // namespace sallyport::wire
