#pragma once
#include <memory>
#include <string>

#include "sallyport/transport/message_socket.hpp"
#include "tls_stream.hpp"

namespace sallyport::transport::impl {

// The HTTP Upgrade token of the agent's and the CLI's links (see link_frame.hpp).
inline constexpr const char* kLinkProtocol = "sallyport-link/1";

// Wraps a TLS stream whose HTTP upgrade to kLinkProtocol is done. `received` holds bytes read
// past the upgrade's HTTP message (frames the peer sent at once). keep_alive holds whatever
// the stream needs to outlive it (the client's TLS context).
std::shared_ptr<MessageSocket> make_link_socket(TlsStream stream, std::string received, std::string remote_address,
                                                LinkTimeouts timeouts, std::shared_ptr<void> keep_alive = nullptr);

}  // namespace sallyport::transport::impl
