#include "targets.hpp"

#include <vector>

namespace sallyport::gateway {

std::optional<store::Node> resolve_target(store::Store& store, const std::string& target) {
  if (target.rfind("mi-", 0) == 0) {
    if (auto node = store.get_node(target); node && !node->revoked) return node;
  }
  std::vector<store::Node> live;
  for (auto& node : store.find_nodes_by_name(target)) {
    if (!node.revoked) live.push_back(std::move(node));
  }
  if (live.size() == 1) return live.front();
  return std::nullopt;
}

std::string unreachable_node_message(const store::Node& node, const std::string& this_gateway_id) {
  const std::string named = "node " + node.id + " (" + node.name + ")";
  if (node.connected && !node.connected_gateway.empty() && node.connected_gateway != this_gateway_id) {
    return named + " is connected to gateway " + node.connected_gateway +
           ", not this one; sessions are not routed between gateways: use that gateway";
  }
  return named + " is not connected (ConnectionLost)";
}

}  // namespace sallyport::gateway
