#pragma once
// How a session or forward names its node: an ID (mi-…) or a name that exactly one live
// (not deregistered) node carries.
#include <optional>
#include <string>

#include "sallyport/store/store.hpp"

namespace sallyport::gateway {

std::optional<store::Node> resolve_target(store::Store& store, const std::string& target);

// Why a session or forward to `node` cannot start on this gateway, whose agent hub does not
// hold the node's link: the node is offline, or (gateways sharing a store) its agent is
// connected to another gateway, and sessions are not routed between gateways.
std::string unreachable_node_message(const store::Node& node, const std::string& this_gateway_id);

}  // namespace sallyport::gateway
