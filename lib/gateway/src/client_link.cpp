#include "client_link.hpp"

#include <nlohmann/json.hpp>

#include "sallyport/wire/control.hpp"
#include "web_auth.hpp"

namespace sallyport::gateway {

boost::asio::awaitable<void> refuse_client(transport::MessageSocket& socket, std::string code, std::string message) {
  std::string frame = wire::encode_control(
      nlohmann::json{{"type", wire::msg::kSessionFailed}, {"code", code}, {"message", message}}, wire::kClientChannel);
  co_await socket.write(std::move(frame));
  co_await socket.close_gracefully(code);
}

boost::asio::awaitable<std::optional<ClientHello>> read_client_hello(Authenticator& auth,
                                                                     const transport::HttpRequest& request,
                                                                     transport::MessageSocket& socket,
                                                                     const char* expected_type,
                                                                     std::initializer_list<std::string_view> also_accepted) {
  const std::string token = websocket_token(request);
  std::optional<store::User> user;
  if (!token.empty()) user = auth.authenticate(token);
  if (!user) {
    std::string code = "unauthorized", message = "not logged in or token expired: run `sallyport login`";
    co_await refuse_client(socket, std::move(code), std::move(message));
    co_return std::nullopt;
  }
  const std::optional<std::string> first = co_await socket.read();
  if (!first) co_return std::nullopt;
  ClientHello hello{std::move(*user), read_client_opening(first, expected_type, also_accepted)};
  co_return hello;
}

}  // namespace sallyport::gateway
