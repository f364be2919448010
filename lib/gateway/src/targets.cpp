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

}  // namespace sallyport::gateway
