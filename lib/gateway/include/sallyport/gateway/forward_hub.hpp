#pragma once
// Brokers port-forwarding sessions: a client's WebSocket (/v1/forwards/connect) carries one
// forwarding session (authorised once as session:PortForward on the node, with forward:host and
// forward:port) and any number of streams, one per forwarded TCP connection. Each stream maps a
// client channel to its own channel on the node's agent link (wire::kStreamChannelFlag set),
// with its own credit window per direction that the hub enforces; frames are relayed as
// received, with only the channel rewritten. The session goes through the same SessionTap as
// shell sessions (kind "port-forward"): start, end, and each connection's opening, failure and
// close (ForwardEvent), never its payload.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>

#include "sallyport/gateway/agent_hub.hpp"
#include "sallyport/gateway/api.hpp"
#include "sallyport/gateway/audit.hpp"
#include "sallyport/gateway/auth.hpp"
#include "sallyport/gateway/session_hub.hpp"
#include "sallyport/gateway/session_tap.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/transport/http_types.hpp"
#include "sallyport/transport/message_socket.hpp"
#include "sallyport/util/clock.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::gateway {

inline constexpr const char* kForwardPath = "/v1/forwards/connect";

class ForwardHub final : public SessionControl {
 public:
  static constexpr std::size_t kMaxStreamsPerSession = 256;

  ForwardHub(boost::asio::any_io_executor executor, store::Store& store, Auditor& audit, const util::Clock& clock,
             AgentHub& agents, Authenticator& auth, Authorize authorize, std::function<SessionSettings()> settings,
             std::string gateway_id);
  ~ForwardHub() override;

  // Recording and log streaming (the same tap as the session hub's); null: none.
  void set_tap(SessionTap* tap);

  boost::asio::awaitable<void> serve_client(transport::HttpRequest request,
                                            std::shared_ptr<transport::MessageSocket> socket);
  // A frame from an agent on a stream channel, as received.
  boost::asio::awaitable<void> on_agent_frame(const std::string& node_id, std::string frame, wire::Header header);
  // The node's link is gone: ends its sessions, telling their clients they may reconnect.
  void on_link_closed(const std::string& node_id);
  bool terminate(const std::string& session_id, const std::string& by, const std::string& reason) override;
  recording::RecordingRead read_recording(const std::string& session_id) override;
  std::string waiting_for(const std::string&) override { return ""; }  // forwards do not resume
  // The gateway is stopping: ends every session and tells each client it may reconnect.
  void close_all(const std::string& reason);
  std::size_t active_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sallyport::gateway
