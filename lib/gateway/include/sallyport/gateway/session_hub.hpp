#pragma once
// Brokers shell and command sessions: a client's WebSocket (/v1/sessions/connect) on one side,
// a channel on the node's agent link on the other. The gateway relays frames and credit
// without buffering beyond one window per direction, counts bytes, enforces idle and maximum
// durations, and records every start, end and termination in the store and audit log.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "sallyport/gateway/agent_hub.hpp"
#include "sallyport/gateway/api.hpp"
#include "sallyport/gateway/audit.hpp"
#include "sallyport/gateway/auth.hpp"
#include "sallyport/gateway/kept_sessions.hpp"
#include "sallyport/gateway/session_tap.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/transport/http_types.hpp"
#include "sallyport/transport/message_socket.hpp"
#include "sallyport/util/clock.hpp"

namespace sallyport::gateway {

inline constexpr const char* kSessionPath = "/v1/sessions/connect";

// What the hub needs to know per session start, read fresh each time (preferences change).
struct SessionSettings {
  std::chrono::milliseconds idle_timeout{20 * 60 * 1000};
  std::chrono::milliseconds max_duration{0};  // 0: no limit
  std::chrono::seconds reconnect_grace{60};   // a resumable client's time to come back; 0: none
  std::string default_run_as = "sallyport-user";
  std::string shell_profile;
  DestinationRequirements required;  // recording and log destinations that must be writable
};

struct AuthorizationResult {
  bool allowed = false;
  std::string explanation;
};
using Authorize = std::function<AuthorizationResult(const store::User& user, const std::string& action,
                                                    const std::string& resource,
                                                    const std::map<std::string, std::vector<std::string>>& context)>;

class SessionHub final : public SessionControl {
 public:
  SessionHub(boost::asio::any_io_executor executor, store::Store& store, Auditor& audit, const util::Clock& clock,
             AgentHub& agents, Authenticator& auth, Authorize authorize,
             std::function<SessionSettings()> settings, std::string gateway_id);
  ~SessionHub() override;

  boost::asio::awaitable<void> serve_client(transport::HttpRequest request,
                                            std::shared_ptr<transport::MessageSocket> socket);
  // One encoded frame from an agent link (header already checked), relayed without a copy.
  boost::asio::awaitable<void> on_agent_frame(const std::string& node_id,
                                              const std::shared_ptr<transport::MessageSocket>& link, std::string frame,
                                              wire::Header header);
  // A node's link ended: its sessions wait for the node to come back for the grace when the link
  // broke (or a newer one replaced it), and end when it was closed (the agent stopped or died).
  void on_link_closed(const std::string& node_id, const std::shared_ptr<transport::MessageSocket>& link, bool current);
  // A node's new link is up: sessions its agent no longer has (it restarted) end at once.
  void on_link_opened(const std::string& node_id, const std::vector<std::string>& kept);
  bool terminate(const std::string& session_id, const std::string& by, const std::string& reason) override;
  void close_all(const std::string& reason);
  // The gateway stops: resumable sessions are kept for its restart (returned, for the next run's
  // restore()); the others end with `reason`.
  std::vector<KeptSession> keep_all(const std::string& reason);
  // At start, with the tap set: takes back what the previous run kept.
  void restore(const std::vector<KeptSession>& kept);
  // Recording and log streaming of every session (optional; not owned).
  void set_tap(SessionTap* tap);
  recording::RecordingRead read_recording(const std::string& session_id) override;
  std::string waiting_for(const std::string& session_id) override;
  std::size_t active_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sallyport::gateway
