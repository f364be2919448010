#pragma once
// The client side of port forwarding: `sallyport port-forward` (a local listener; every
// accepted connection becomes its own stream through the gateway to host:port as seen from
// the node) and `sallyport proxy` (one stream on stdin/stdout, for OpenSSH's ProxyCommand).
// Both keep one WebSocket to the gateway for the whole forwarding session.
#include <cstdint>
#include <iosfwd>
#include <string>

#include "sallyport/transport/client.hpp"

namespace sallyport::cli {

// A forwarded connection could not be made (refused, unreachable, timed out) — `proxy` only;
// `port-forward` reports it and keeps listening.
inline constexpr int kExitForwardFailed = 15;

struct ForwardRequest {
  transport::ClientOptions gateway;
  std::string token;
  std::string target;
  std::string remote_host = "localhost";
  std::uint16_t remote_port = 0;
};

// Listens on bind:local_port (0: a free port, printed) until interrupted or the session ends.
// Returns the CLI exit status (0 after Ctrl-C / SIGTERM).
int run_port_forward(const ForwardRequest& request, const std::string& bind, std::uint16_t local_port,
                     std::ostream& out, std::ostream& err);

// One connection on stdin/stdout; returns when it closes (0 for a clean close).
int run_proxy(const ForwardRequest& request, std::ostream& err);

}  // namespace sallyport::cli
