#pragma once
// The gateway's one listening port: TLS, then either HTTP requests (the REST API, the web
// console) or an upgrade to a link (agents, the CLI) or a WebSocket (the console). Each connection is a coroutine that owns
// its stream; every phase has its own deadline.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sallyport/transport/http_types.hpp"
#include "sallyport/transport/message_socket.hpp"

namespace boost::asio {
class io_context;
}

namespace sallyport::transport {

using HttpHandler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest)>;
// Serves an upgraded connection: a link (the agent, the CLI) or a WebSocket (the console).
using LinkHandler =
    std::function<boost::asio::awaitable<void>(HttpRequest, std::shared_ptr<MessageSocket>)>;
// Which upgrades a path takes. Agents and the CLI speak the link protocol; a browser can only
// speak WebSocket, so only the paths the web console uses take it too.
enum class Upgrades { kNone, kLink, kLinkOrWebSocket };
// Decides, before an upgrade is accepted, whether its target exists and in which protocols.
using LinkRoute = std::function<Upgrades(const HttpRequest&)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8443;           // 0 picks a free port
  std::string certificate_chain_pem;   // server certificate first, then its CA
  std::string private_key_pem;
  std::chrono::seconds tls_handshake_timeout{10};
  std::chrono::seconds http_idle_timeout{60};
  std::size_t max_request_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 10'000;
  LinkTimeouts link_timeouts{};
};

struct ServerHandlers {
  HttpHandler http;
  LinkRoute link_route;
  LinkHandler link;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, ServerHandlers handlers);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting; throws TransportError when the address cannot be bound or the
  // certificate or key is unusable.
  void start();
  void stop();
  std::uint16_t port() const;  // the bound port

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sallyport::transport
