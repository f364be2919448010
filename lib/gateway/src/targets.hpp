#pragma once
// How a session or forward names its node: an ID (mi-…) or a name that exactly one live
// (not deregistered) node carries.
#include <optional>
#include <string>

#include "sallyport/store/store.hpp"

namespace sallyport::gateway {

std::optional<store::Node> resolve_target(store::Store& store, const std::string& target);

}  // namespace sallyport::gateway
