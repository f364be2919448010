// TlsStream between two real sockets on loopback: both directions at once, buffers of every
// size, clean shutdown and truncation.
#include "tls_stream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "sallyport/crypto/pki.hpp"
#include "tls_context.hpp"

using namespace sallyport;
using namespace sallyport::transport;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t kBytesEachWay = 6 << 20;

char pattern(std::size_t at, std::uint8_t seed) { return static_cast<char>((at * 131 + seed) >> 3); }

// Writes kBytesEachWay as runs of three buffers of odd sizes (a header-like 5 bytes, a large
// body, 3 bytes), the shapes WebSocket and HTTP writers hand down.
asio::awaitable<error_code> send_all(impl::TlsStream& stream, std::uint8_t seed) {
  std::vector<char> data(kBytesEachWay);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = pattern(i, seed);
  std::size_t at = 0;
  error_code ec;
  while (at < data.size() && !ec) {
    const std::size_t body = std::min<std::size_t>(70001, data.size() - at);
    std::array<asio::const_buffer, 3> pieces{asio::buffer(data.data() + at, std::min<std::size_t>(5, body)),
                                             asio::buffer(data.data() + at + std::min<std::size_t>(5, body),
                                                          body - std::min<std::size_t>(5, body)),
                                             asio::const_buffer()};
    const std::size_t tail = std::min<std::size_t>(3, data.size() - at - body);
    pieces[2] = asio::buffer(data.data() + at + body, tail);
    at += co_await asio::async_write(stream, pieces, asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

// Reads until kBytesEachWay arrived, into a buffer smaller than a record, checking each byte.
asio::awaitable<std::size_t> receive_all(impl::TlsStream& stream, std::uint8_t seed) {
  std::array<char, 7001> buffer;
  std::size_t at = 0;
  error_code ec;
  while (at < kBytesEachWay) {
    const std::size_t n = co_await stream.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    for (std::size_t i = 0; i < n; ++i) {
      if (buffer[i] != pattern(at + i, seed)) co_return at + i;  // the first wrong byte
    }
    at += n;
  }
  co_return at;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  TlsStreamTest()
      : ca_(crypto::generate_ca("test CA")),
        leaf_(crypto::issue_server_certificate(ca_, {"127.0.0.1"})),
        server_tls_(impl::make_server_tls(leaf_.certificate_pem + ca_.certificate_pem, leaf_.key_pem)),
        client_tls_(impl::make_client_tls(TrustConfig{ca_.certificate_pem, {}}, "127.0.0.1")),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  // A connected, handshaken pair: {client, server}.
  std::pair<impl::TlsStream, impl::TlsStream> connect() {
    tcp::socket accepted(io_);
    impl::TlsStream client(io_.get_executor(), client_tls_->context);
    error_code accept_error, connect_error, client_error, server_error;
    acceptor_.async_accept(accepted, [&](error_code ec) { accept_error = ec; });
    client.next_layer().async_connect(acceptor_.local_endpoint(), [&](error_code ec) { connect_error = ec; });
    io_.run();
    io_.restart();
    EXPECT_FALSE(accept_error || connect_error);
    impl::TlsStream server(beast::tcp_stream(std::move(accepted)), server_tls_);
    client.async_handshake(asio::ssl::stream_base::client, [&](error_code ec, std::size_t) { client_error = ec; });
    server.async_handshake(asio::ssl::stream_base::server, [&](error_code ec, std::size_t) { server_error = ec; });
    io_.run();
    io_.restart();
    EXPECT_FALSE(client_error) << client_error.message();
    EXPECT_FALSE(server_error) << server_error.message();
    return {std::move(client), std::move(server)};
  }

  asio::io_context io_;
  crypto::KeyAndCertificate ca_;
  crypto::KeyAndCertificate leaf_;
  asio::ssl::context server_tls_;
  std::unique_ptr<impl::ClientTls> client_tls_;
  tcp::acceptor acceptor_;
};

TEST_F(TlsStreamTest, BothDirectionsAtOnceArriveIntactAndCloseCleanly) {
  auto [client, server] = connect();
  error_code client_sent, server_sent, client_closed, server_closed, after_close;
  std::size_t client_got = 0, server_got = 0;
  asio::co_spawn(io_, [&]() -> asio::awaitable<void> { client_sent = co_await send_all(client, 1); }, asio::detached);
  asio::co_spawn(io_, [&]() -> asio::awaitable<void> { server_sent = co_await send_all(server, 2); }, asio::detached);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        server_got = co_await receive_all(server, 1);
        // The client's close_notify ends the server's reading with a clean end of stream.
        std::array<char, 16> rest;
        co_await server.async_read_some(asio::buffer(rest), asio::redirect_error(asio::use_awaitable, after_close));
        co_await server.async_shutdown(asio::redirect_error(asio::use_awaitable, server_closed));
      },
      asio::detached);
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        client_got = co_await receive_all(client, 2);
        co_await client.async_shutdown(asio::redirect_error(asio::use_awaitable, client_closed));
      },
      asio::detached);
  io_.run();
  EXPECT_FALSE(client_sent) << client_sent.message();
  EXPECT_FALSE(server_sent) << server_sent.message();
  EXPECT_EQ(server_got, kBytesEachWay);
  EXPECT_EQ(client_got, kBytesEachWay);
  EXPECT_EQ(after_close, asio::error::eof) << after_close.message();
  EXPECT_FALSE(server_closed) << server_closed.message();
  EXPECT_FALSE(client_closed) << client_closed.message();
}

TEST_F(TlsStreamTest, ConnectionDroppedWithoutCloseNotifyIsTruncation) {
  auto [client, server] = connect();
  error_code read_error;
  std::array<char, 16> buffer;
  server.async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t) { read_error = ec; });
  client.next_layer().socket().shutdown(tcp::socket::shutdown_send);  // a FIN, no close_notify
  io_.run();
  EXPECT_EQ(read_error, asio::ssl::error::stream_truncated) << read_error.message();
}

TEST_F(TlsStreamTest, UntrustedServerFailsTheHandshakeWithTheReason) {
  const auto other_ca = crypto::generate_ca("other CA");
  client_tls_ = impl::make_client_tls(TrustConfig{other_ca.certificate_pem, {}}, "127.0.0.1");
  tcp::socket accepted(io_);
  impl::TlsStream client(io_.get_executor(), client_tls_->context);
  acceptor_.async_accept(accepted, [](error_code) {});
  client.next_layer().async_connect(acceptor_.local_endpoint(), [](error_code) {});
  io_.run();
  io_.restart();
  impl::TlsStream server(beast::tcp_stream(std::move(accepted)), server_tls_);
  error_code client_error, server_error;
  client.async_handshake(asio::ssl::stream_base::client, [&](error_code ec, std::size_t) { client_error = ec; });
  server.async_handshake(asio::ssl::stream_base::server, [&](error_code ec, std::size_t) { server_error = ec; });
  io_.run();
  EXPECT_NE(client_error.message().find("certificate verify failed"), std::string::npos) << client_error.message();
  EXPECT_TRUE(server_error);  // the client's alert reached it
}

}  // namespace
