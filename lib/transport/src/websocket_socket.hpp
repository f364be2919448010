#pragma once
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>

#include "sallyport/transport/message_socket.hpp"
#include "tls_stream.hpp"

namespace sallyport::transport::impl {

using WebSocketStream = boost::beast::websocket::stream<TlsStream>;

// Wraps an open (handshake done) WebSocket; applies limits and timeouts. keep_alive holds
// whatever the stream needs to outlive it (the client's TLS context).
std::shared_ptr<MessageSocket> make_message_socket(WebSocketStream stream, std::string remote_address,
                                                   boost::beast::role_type role, LinkTimeouts timeouts,
                                                   std::shared_ptr<void> keep_alive = nullptr);

}  // namespace sallyport::transport::impl
