#pragma once
// The first message of a client WebSocket (a shell or command session, a port forward): a
// control frame of the expected type in this gateway's protocol version. Pure, so both hubs
// read it the same way and it is tested without sockets.
#include <nlohmann/json.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::gateway {

struct ClientOpening {
  nlohmann::json message;  // the validated control message when `problem` is empty
  std::string problem;     // why the client is refused (bad_request)
};

// `first` is the client's first WebSocket message (nullopt: it went away before sending one);
// its type must be expected_type or, when given, also_accepted.
ClientOpening read_client_opening(const std::optional<std::string>& first, std::string_view expected_type,
                                  std::initializer_list<std::string_view> also_accepted = {});

}  // namespace sallyport::gateway
