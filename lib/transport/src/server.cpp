#include "sallyport/transport/server.hpp"

#include <spdlog/spdlog.h>

#include <array>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket.hpp>

#include "sallyport/transport/tls.hpp"
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

constexpr std::size_t kMaxDiscardBytes = 16 << 20;

bool is_benign(const boost::system::error_code& ec) {
  return ec == asio::error::operation_aborted || ec == asio::error::eof ||
         ec == asio::ssl::error::stream_truncated || ec == http::error::end_of_stream ||
         ec == beast::error::timeout || ec == asio::error::connection_reset;
}

HttpRequest to_request(const http::request<http::string_body>& message, const std::string& remote) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = message.body();
  request.remote_address = remote;
  return request;
}

http::response<http::string_body> to_message(const HttpResponse& response, unsigned version, bool keep_alive) {
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  message.set(http::field::server, "sallyport");
  message.set(http::field::content_type, response.content_type);
  message.set(http::field::cache_control, "no-store");
  message.set("X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : response.headers) message.insert(name, value);
  message.keep_alive(keep_alive);
  message.body() = response.body;
  message.prepare_payload();
  return message;
}

HttpResponse error_response(unsigned status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = std::string(R"({"error":{"code":")") + (status == 413 ? "too_large" : status == 404 ? "not_found" : "bad_request") +
                  R"(","message":")" + std::string(message) + "\"}}";
  return response;
}

// An HTTP/1.1 GET asking to switch to the agent's and CLI's link protocol.
bool is_link_upgrade(const http::request<http::string_body>& message) {
  return message.version() == 11 && message.method() == http::verb::get &&
         beast::iequals(message[http::field::upgrade], impl::kLinkProtocol) &&
         http::token_list(message[http::field::connection]).exists("upgrade");
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_context, ServerOptions server_options, ServerHandlers server_handlers)
      : io(io_context),
        options(std::move(server_options)),
        handlers(std::move(server_handlers)),
        tls(impl::make_server_tls(options.certificate_chain_pem, options.private_key_pem)),
        acceptor(io_context) {}

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (acceptor.is_open()) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      if (connections >= options.max_connections) {
        spdlog::warn("refusing connection: {} connections open", connections);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io, self->serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    ++connections;
    struct Counter {
      std::size_t& count;
      ~Counter() { --count; }
    } counter{connections};
    boost::system::error_code ec;
    const std::string remote = socket.remote_endpoint(ec).address().to_string();
    impl::TlsStream stream(beast::tcp_stream(std::move(socket)), tls);
    beast::get_lowest_layer(stream).expires_after(options.tls_handshake_timeout);
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!is_benign(ec)) spdlog::debug("TLS handshake from {} failed: {}", remote, ec.message());
      co_return;
    }
    beast::flat_buffer buffer;
    for (;;) {
      beast::get_lowest_layer(stream).expires_after(options.http_idle_timeout);
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_request_body_bytes);
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == http::error::body_limit || ec == http::error::header_limit) {
          auto message = to_message(error_response(413, "request too large"), 11, false);
          co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
          // Read and drop what the client is still sending (bounded in bytes and time):
          // closing with unread data would reset the connection and lose the 413.
          std::array<char, 16384> discard;
          std::size_t dropped = 0;
          beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
          while (!ec && dropped < kMaxDiscardBytes) {
            dropped += co_await stream.async_read_some(asio::buffer(discard), asio::redirect_error(asio::use_awaitable, ec));
          }
        } else if (!is_benign(ec) && ec != http::error::partial_message) {
          spdlog::debug("bad HTTP request from {}: {}", remote, ec.message());
          auto message = to_message(error_response(400, "malformed HTTP request"), 11, false);
          co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
        }
        break;
      }
      http::request<http::string_body> message = parser.release();
      HttpRequest request = to_request(message, remote);

      const Upgrades upgrades = handlers.link_route ? handlers.link_route(request) : Upgrades::kNone;
      if (websocket::is_upgrade(message)) {
        if (upgrades != Upgrades::kLinkOrWebSocket) {
          auto response = to_message(error_response(404, "no such WebSocket endpoint"), message.version(), false);
          co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
          break;
        }
        beast::get_lowest_layer(stream).expires_never();
        impl::WebSocketStream ws(std::move(stream));
        ws.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& response) { response.set(http::field::server, "sallyport"); }));
        auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
        timeouts.handshake_timeout = options.link_timeouts.handshake;
        ws.set_option(timeouts);
        co_await ws.async_accept(message, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          spdlog::debug("WebSocket upgrade from {} failed: {}", remote, ec.message());
          co_return;
        }
        auto socket_ptr = impl::make_message_socket(std::move(ws), remote, beast::role_type::server,
                                                    options.link_timeouts);
        co_await handlers.link(std::move(request), socket_ptr);
        socket_ptr->close();
        co_return;
      }

      if (is_link_upgrade(message)) {
        if (upgrades == Upgrades::kNone) {
          auto response = to_message(error_response(404, "no such link endpoint"), message.version(), false);
          co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
          break;
        }
        http::response<http::empty_body> switching{http::status::switching_protocols, message.version()};
        switching.set(http::field::server, "sallyport");
        switching.set(http::field::connection, "Upgrade");
        switching.set(http::field::upgrade, impl::kLinkProtocol);
        co_await http::async_write(stream, switching, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        beast::get_lowest_layer(stream).expires_never();
        std::string received(static_cast<const char*>(buffer.data().data()), buffer.size());
        auto socket_ptr = impl::make_link_socket(std::move(stream), std::move(received), remote,
                                                 options.link_timeouts);
        co_await handlers.link(std::move(request), socket_ptr);
        socket_ptr->close();
        co_return;
      }

      const bool keep_alive = message.keep_alive();
      HttpResponse response = co_await handlers.http(std::move(request));
      auto reply = to_message(response, message.version(), keep_alive);
      co_await http::async_write(stream, reply, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep_alive) break;
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::io_context& io;
  ServerOptions options;
  ServerHandlers handlers;
  asio::ssl::context tls;
  tcp::acceptor acceptor;
  std::size_t connections = 0;
};

Server::Server(asio::io_context& io, ServerOptions options, ServerHandlers handlers)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handlers))) {}

Server::~Server() { stop(); }

void Server::start() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) throw TransportError("cannot listen on '" + impl_->options.host + "': not an IP address");
  const tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw TransportError("cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) +
                         ": " + ec.message());
  }
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
}

void Server::stop() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

std::uint16_t Server::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

}  // namespace sallyport::transport
