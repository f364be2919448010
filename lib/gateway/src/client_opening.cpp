#include "client_opening.hpp"

#include <algorithm>

#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::gateway {

ClientOpening read_client_opening(const std::optional<std::string>& first, std::string_view expected_type,
                                  std::initializer_list<std::string_view> also_accepted) {
  ClientOpening opening;
  const std::string expected = "expected a " + std::string(expected_type) + " message";
  if (!first) {
    opening.problem = expected;
    return opening;
  }
  const auto decoded = wire::decode_one(*first);
  if (!decoded.frame || decoded.frame->type != wire::FrameType::kControl) {
    opening.problem = expected;
    return opening;
  }
  auto parsed = wire::parse_control(decoded.frame->payload);
  if (!parsed.error.empty()) {
    opening.problem = parsed.error;
  } else if (parsed.message["type"] != expected_type &&
             std::find(also_accepted.begin(), also_accepted.end(), parsed.message["type"].get<std::string>()) ==
                 also_accepted.end()) {
    opening.problem = expected;
  } else if (parsed.message["protocol"] != wire::kProtocolVersion) {
    opening.problem = "unsupported protocol version " + parsed.message["protocol"].dump() + "; this gateway speaks " +
                      std::to_string(wire::kProtocolVersion);
  } else {
    opening.message = std::move(parsed.message);
  }
  return opening;
}

}  // namespace sallyport::gateway
