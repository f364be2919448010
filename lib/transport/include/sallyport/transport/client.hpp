#pragma once
// Client side: one HTTPS request (blocking, for the CLI and agent registration) and links or
// WebSockets (coroutines, for the agent link, sessions and forwards). Both verify the gateway against
// a TrustConfig and the host name, and throw TransportError with a user-readable message.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "sallyport/transport/http_types.hpp"
#include "sallyport/transport/message_socket.hpp"
#include "sallyport/transport/tls.hpp"
#include "sallyport/transport/url.hpp"

namespace sallyport::transport {

struct ClientOptions {
  Url gateway;
  TrustConfig trust;
  std::chrono::seconds timeout{30};
};

struct ClientResponse {
  HttpResponse response;
  std::string trusted_ca_pem;  // the certificate that anchored trust (to save after pinning)
};

ClientResponse https_request(const ClientOptions& options, const HttpRequest& request);

struct LinkConnection {
  std::shared_ptr<MessageSocket> socket;
  std::string trusted_ca_pem;
};

boost::asio::awaitable<LinkConnection> connect_websocket(boost::asio::any_io_executor executor,
                                                              const ClientOptions& options,
                                                              std::string target,
                                                              Headers headers,
                                                              LinkTimeouts timeouts);

// The agent's and the CLI's link: the same authorisation and routes as a WebSocket, but after
// an upgrade to the unmasked binary framing of link_frame.hpp.
boost::asio::awaitable<LinkConnection> connect_link(boost::asio::any_io_executor executor,
                                                         const ClientOptions& options, std::string target,
                                                         Headers headers, LinkTimeouts timeouts);

}  // namespace sallyport::transport
