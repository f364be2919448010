#pragma once
// Brokers port-forwarding sessions: a client's WebSocket (/v1/forwards/connect) carries one
// forwarding session (authorised once as session:PortForward on the node, with forward:host and
// forward:port) and any number of streams, one per forwarded TCP connection. Each stream maps a
// client channel to its own channel on the node's agent link (wire::kStreamChannelFlag set),
// with its own credit window per direction that the hub enforces; frames are relayed as
// received, with only the channel rewritten. The session is recorded like a shell session
// (kind "port-forward"); each connection's opening, failure and close is reported to the
// ForwardEvent sink (for recordings), never its payload.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sallyport/gateway/agent_hub.hpp"
#include "sallyport/gateway/api.hpp"
#include "sallyport/gateway/audit.hpp"
#include "sallyport/gateway/auth.hpp"
#include "sallyport/gateway/session_hub.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/transport/http_types.hpp"
#include "sallyport/transport/message_socket.hpp"
#include "sallyport/util/clock.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::gateway {

inline constexpr const char* kForwardPath = "/v1/forwards/connect";

// One forwarded connection's event, as a recorder stores it.
struct ForwardEvent {
  enum class Kind { kOpened, kFailed, kClosed };
  Kind kind = Kind::kOpened;
  std::string session_id;
  std::uint32_t stream = 0;      // the connection's number within the session (client channel)
  std::string remote_address;    // kOpened/kClosed: the address the node connected to; kFailed: host:port asked for
  std::string client_address;    // the client's address as the gateway sees it
  std::int64_t bytes_in = 0;     // kClosed: client -> node on this connection
  std::int64_t bytes_out = 0;    // kClosed: node -> client
  std::string reason;            // kFailed: why; kClosed: "" for a clean close, else why
  util::Millis at = 0;
};
using ForwardEventSink = std::function<void(const ForwardEvent& event)>;

class ForwardHub final : public SessionControl {
 public:
  static constexpr std::size_t kMaxStreamsPerSession = 256;

  ForwardHub(boost::asio::any_io_executor executor, store::Store& store, Auditor& audit, const util::Clock& clock,
             AgentHub& agents, Authenticator& auth, Authorize authorize, std::function<SessionSettings()> settings,
             std::string gateway_id);
  ~ForwardHub() override;

  // The hook for recordings: every connection event of every forwarding session.
  void set_event_sink(ForwardEventSink sink);

  boost::asio::awaitable<void> serve_client(transport::HttpRequest request,
                                            std::shared_ptr<transport::MessageSocket> socket);
  // A frame from an agent on a stream channel, as received.
  boost::asio::awaitable<void> on_agent_frame(const std::string& node_id, std::string frame, wire::Header header);
  void on_link_closed(const std::string& node_id);
  bool terminate(const std::string& session_id, const std::string& by, const std::string& reason) override;
  std::optional<std::string> read_recording(const std::string& session_id, std::string* error) override;
  void close_all(const std::string& reason);
  std::size_t active_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sallyport::gateway
