#pragma once
// What the session and forward hubs do alike with a client's WebSocket before they read its
// request: find who is calling, or tell the client why it is refused.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "client_opening.hpp"
#include "sallyport/gateway/auth.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/transport/message_socket.hpp"
#include "sallyport/transport/http_types.hpp"

namespace sallyport::gateway {

// Sends a session_failed control frame with code and message, then closes the link.
boost::asio::awaitable<void> refuse_client(transport::MessageSocket& socket, std::string code, std::string message);

// Who opened a client link and what it asked for first.
struct ClientHello {
  store::User user;
  ClientOpening opening;  // check opening.problem before using opening.message
};

// Authenticates the link and reads its first message (of expected_type). nullopt when the
// client was refused for not being logged in, or went away before asking.
boost::asio::awaitable<std::optional<ClientHello>> read_client_hello(Authenticator& auth,
                                                                     const transport::HttpRequest& request,
                                                                     transport::MessageSocket& socket,
                                                                     const char* expected_type,
                                                                     std::initializer_list<std::string_view> also_accepted = {});

}  // namespace sallyport::gateway
