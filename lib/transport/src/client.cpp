#include "sallyport/transport/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket.hpp>

#include "link_socket.hpp"
#include "tls_context.hpp"
#include "websocket_socket.hpp"

namespace sallyport::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxResponseBodyBytes = 64 << 20;  // recordings are the largest answers
constexpr std::size_t kMaxRefusalBodyBytes = 64 * 1024;   // an upgrade's error answer

// Resolves, connects and completes the TLS handshake; throws TransportError.
asio::awaitable<void> open_tls(impl::TlsStream& stream, impl::ClientTls& tls, const ClientOptions& options) {
  const auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  boost::system::error_code ec;
  const auto endpoints = co_await resolver.async_resolve(options.gateway.host, std::to_string(options.gateway.port),
                                                         asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw TransportError("cannot resolve " + options.gateway.host + ": " + ec.message());
  auto& tcp_stream = beast::get_lowest_layer(stream);
  tcp_stream.expires_after(options.timeout);
  co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw TransportError("cannot connect to " + options.gateway.to_string() + ": " + ec.message());
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);
  impl::set_server_name(stream.native_handle(), options.gateway.host);
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw TransportError(impl::handshake_failure(*tls.state, ec.message()), !tls.state->failure.empty());
}

// Sends `message` and reads the answer into `parser`, its body at most body_limit; bytes read
// past the answer stay in `buffer`. A gateway may answer (413, say) and close before reading
// the whole request: its answer still waits in the receive buffer, so it is read before a
// write failure is reported. Throws TransportError naming `what` was sent.
template <class Message>
asio::awaitable<void> exchange(impl::TlsStream& stream, Message& message, beast::flat_buffer& buffer,
                               http::response_parser<http::string_body>& parser, std::uint64_t body_limit,
                               const std::string& what) {
  boost::system::error_code ec;
  co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
  const auto write_error = ec;
  parser.body_limit(body_limit);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec && write_error) throw TransportError("sending the " + what + " failed: " + write_error.message());
  if (ec) throw TransportError("reading the gateway's answer to the " + what + " failed: " + ec.message());
}

http::request<http::string_body> to_message(const HttpRequest& request, const Url& gateway) {
  http::request<http::string_body> message;
  message.method_string(request.method);
  message.target(request.target);
  message.version(11);
  message.set(http::field::host, gateway.host);
  message.set(http::field::user_agent, "sallyport");
  for (const auto& [name, value] : request.headers) message.set(name, value);
  if (!request.body.empty()) {
    if (message[http::field::content_type].empty()) message.set(http::field::content_type, "application/json");
    message.body() = request.body;
  }
  message.keep_alive(false);
  message.prepare_payload();
  return message;
}

asio::awaitable<ClientResponse> request_coroutine(const ClientOptions& options, const HttpRequest& request) {
  auto tls = impl::make_client_tls(options.trust, options.gateway.host);
  impl::TlsStream stream(co_await asio::this_coro::executor, tls->context);
  co_await open_tls(stream, *tls, options);
  auto message = to_message(request, options.gateway);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  const std::string what = "request";
  co_await exchange(stream, message, buffer, parser, kMaxResponseBodyBytes, what);
  auto response_message = parser.release();
  ClientResponse result;
  result.response.status = response_message.result_int();
  result.response.content_type = std::string(response_message[http::field::content_type]);
  for (const auto& field : response_message) {
    result.response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  result.response.body = std::move(response_message.body());
  result.trusted_ca_pem = tls->state->trusted_ca_pem;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  boost::system::error_code ignored;  // the answer is in; a peer that skips close_notify is fine
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ignored));
  co_return result;
}

}  // namespace

ClientResponse https_request(const ClientOptions& options, const HttpRequest& request) {
  asio::io_context io;
  ClientResponse result;
  std::exception_ptr failure;
  asio::co_spawn(io, request_coroutine(options, request), [&](std::exception_ptr error, ClientResponse response) {
    failure = error;
    result = std::move(response);
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return result;
}

asio::awaitable<LinkConnection> connect_websocket(asio::any_io_executor executor, const ClientOptions& options,
                                                       std::string target, Headers headers,
                                                       LinkTimeouts timeouts) {
  std::shared_ptr<impl::ClientTls> tls = impl::make_client_tls(options.trust, options.gateway.host);
  impl::TlsStream stream(executor, tls->context);
  co_await open_tls(stream, *tls, options);
  beast::get_lowest_layer(stream).expires_never();
  impl::WebSocketStream ws(std::move(stream));
  auto handshake_timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
  handshake_timeouts.handshake_timeout = timeouts.handshake;
  ws.set_option(handshake_timeouts);
  ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& request) {
    request.set(http::field::user_agent, "sallyport");
    for (const auto& [name, value] : headers) request.set(name, value);
  }));
  boost::system::error_code ec;
  websocket::response_type response;
  const std::string host = options.gateway.host + ":" + std::to_string(options.gateway.port);
  co_await ws.async_handshake(response, host, target, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (response.result_int() != 0 && response.result_int() != 101) {
      throw TransportError("the gateway refused the connection (HTTP " + std::to_string(response.result_int()) +
                           "): " + response.body(), true);
    }
    throw TransportError("WebSocket handshake failed: " + ec.message());
  }
  LinkConnection connection;
  connection.trusted_ca_pem = tls->state->trusted_ca_pem;
  connection.socket = impl::make_message_socket(std::move(ws), options.gateway.host, beast::role_type::client, timeouts,
                                                  tls);
  co_return connection;
}

asio::awaitable<LinkConnection> connect_link(asio::any_io_executor executor, const ClientOptions& options,
                                                  std::string target, Headers headers, LinkTimeouts timeouts) {
  std::shared_ptr<impl::ClientTls> tls = impl::make_client_tls(options.trust, options.gateway.host);
  impl::TlsStream stream(executor, tls->context);
  co_await open_tls(stream, *tls, options);
  auto& tcp_stream = beast::get_lowest_layer(stream);
  tcp_stream.expires_after(timeouts.handshake);
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, options.gateway.host + ":" + std::to_string(options.gateway.port));
  request.set(http::field::user_agent, "sallyport");
  request.set(http::field::connection, "Upgrade");
  request.set(http::field::upgrade, impl::kLinkProtocol);
  for (const auto& [name, value] : headers) request.set(name, value);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  const std::string what = "link request";
  co_await exchange(stream, request, buffer, parser, kMaxRefusalBodyBytes, what);
  const auto& response = parser.get();
  if (response.result() != http::status::switching_protocols) {
    throw TransportError("the gateway refused the connection (HTTP " + std::to_string(response.result_int()) +
                         "): " + response.body(), true);
  }
  if (!beast::iequals(response[http::field::upgrade], impl::kLinkProtocol)) {
    throw TransportError("the gateway did not switch to " + std::string(impl::kLinkProtocol));
  }
  tcp_stream.expires_never();
  std::string received(static_cast<const char*>(buffer.data().data()), buffer.size());
  LinkConnection connection;
  connection.trusted_ca_pem = tls->state->trusted_ca_pem;
  connection.socket = impl::make_link_socket(std::move(stream), std::move(received), options.gateway.host, timeouts, tls);
  co_return connection;
}

}  // namespace sallyport::transport
