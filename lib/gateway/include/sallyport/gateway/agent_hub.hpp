#pragma once
// The agent links this gateway holds. Each agent proves its identity on every connect by
// signing the gateway's random challenge with its Ed25519 key; then it sends inventory and
// heartbeats. Link state is written to the store so every gateway (and `nodes ls`) sees it.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "sallyport/gateway/api.hpp"
#include "sallyport/gateway/audit.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/transport/http_types.hpp"
#include "sallyport/transport/message_socket.hpp"
#include "sallyport/util/clock.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::gateway {

inline constexpr const char* kAgentLinkPath = "/v1/agent/connect";

struct HubSettings {
  std::string gateway_id;
  int heartbeat_seconds = 10;
};

class AgentHub final : public LinkControl {
 public:
  AgentHub(store::Store& store, Auditor& audit, const util::Clock& clock, HubSettings settings);

  // Runs one agent link until it ends.
  boost::asio::awaitable<void> serve(transport::HttpRequest request, std::shared_ptr<transport::MessageSocket> socket);
  void disconnect(const std::string& node_id, const std::string& reason) override;
  void close_all();
  std::size_t link_count() const { return links_.size(); }
  bool is_connected(const std::string& node_id) const { return links_.count(node_id) > 0; }
  // Sends a frame to a node's agent; false when this gateway holds no link to it.
  boost::asio::awaitable<bool> send(const std::string& node_id, std::string frame);
  // The node's current link, or null.
  std::shared_ptr<transport::MessageSocket> link(const std::string& node_id) const;

  // Where frames on session and stream channels (not 0) go, as received, with the link they
  // came on, and who hears that a link ended (`current`: no newer link from the node took over).
  std::function<boost::asio::awaitable<void>(const std::string& node_id,
                                             const std::shared_ptr<transport::MessageSocket>& link, std::string frame,
                                             wire::Header header)>
      on_channel_frame;
  std::function<void(const std::string& node_id, const std::shared_ptr<transport::MessageSocket>& link, bool current)>
      on_link_closed;
  // A node's new link is up; `kept`: the sessions its agent still has from an earlier link.
  std::function<void(const std::string& node_id, const std::vector<std::string>& kept)> on_link_opened;

 private:
  boost::asio::awaitable<void> refuse(transport::MessageSocket& socket, const std::string& code,
                                      const std::string& message);

  store::Store& store_;
  Auditor& audit_;
  const util::Clock& clock_;
  HubSettings settings_;
  std::map<std::string, std::shared_ptr<transport::MessageSocket>> links_;
};

}  // namespace sallyport::gateway
