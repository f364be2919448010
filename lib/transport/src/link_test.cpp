// The agent's and CLI's link (HTTP upgrade to sallyport-link/1, then unmasked frames) between
// a real server and client on loopback: echo, limits, keep-alive, and peers that misbehave.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <thread>

#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();  // libasan's; no header in Debian's GCC
#endif

#include "link_frame.hpp"
#include "sallyport/crypto/pki.hpp"
#include "sallyport/transport/client.hpp"
#include "sallyport/transport/server.hpp"
#include "tls_context.hpp"
#include "tls_stream.hpp"

using namespace sallyport;
using namespace sallyport::transport;
namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

constexpr auto kServerIdle = std::chrono::seconds(2);

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    options.certificate_chain_pem = server_.certificate_pem + ca_.certificate_pem;
    options.private_key_pem = server_.key_pem;
    options.link_timeouts.idle = kServerIdle;
    ServerHandlers handlers;
    handlers.http = [](HttpRequest) -> asio::awaitable<HttpResponse> { co_return HttpResponse{}; };
    handlers.link_route = [](const HttpRequest& request) {
      if (request.path() == "/echo") return Upgrades::kLinkOrWebSocket;
      if (request.path() == "/link-only") return Upgrades::kLink;
      return Upgrades::kNone;
    };
    handlers.link = [this](HttpRequest request, std::shared_ptr<MessageSocket> socket) -> asio::awaitable<void> {
      seen_header_ = request.header("x-test");
      while (auto message = co_await socket->read()) {
        if (!co_await socket->write(*message)) break;
      }
      server_lost_ = socket->lost() ? 1 : 0;
      server_read_ended_ = true;
    };
    server = std::make_unique<Server>(io_, options, handlers);
    server->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] { server->stop(); io_.stop(); });
    thread_.join();
    server.reset();
  }

  ClientOptions options() const {
    ClientOptions result;
    result.gateway.host = "127.0.0.1";
    result.gateway.port = server->port();
    result.trust.ca_pem = ca_.certificate_pem;
    result.timeout = 5s;
    return result;
  }

  // Runs `body` on a fresh client io_context until it and everything it started end.
  void run_client(std::function<asio::awaitable<void>()> body) {
    asio::io_context client_io;
    asio::co_spawn(client_io, std::move(body), [](std::exception_ptr error) {
      if (error) std::rethrow_exception(error);
    });
    client_io.run();
  }

  // A TLS connection that sent the upgrade (to a link, or a WebSocket) by hand and read the
  // answer's head into `answer`.
  asio::awaitable<void> raw_upgrade(impl::TlsStream& stream, std::string& answer, bool websocket = false) {
    error_code ec;
    co_await stream.next_layer().async_connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()),
        asio::redirect_error(asio::use_awaitable, ec));
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    const std::string request =
        websocket ? "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                  : "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: sallyport-link/1\r\n\r\n";
    co_await asio::async_write(stream, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
    char byte = 0;
    while (!ec && answer.find("\r\n\r\n") == std::string::npos) {
      co_await asio::async_read(stream, asio::buffer(&byte, 1), asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) answer += byte;
    }
  }

  crypto::KeyAndCertificate ca_ = crypto::generate_ca("test CA");
  crypto::KeyAndCertificate server_ = crypto::issue_server_certificate(ca_, {"127.0.0.1"});
  asio::io_context io_;
  std::unique_ptr<Server> server;
  std::thread thread_;
  std::string seen_header_;
  std::atomic<bool> server_read_ended_{false};
  std::atomic<int> server_lost_{-1};  // the server's socket->lost() when its read ended
};

}  // namespace

TEST_F(LinkTest, EchoesMessagesOfEverySizeInOrderAndClosesGracefully) {
  std::vector<std::string> sent{"", "x", std::string(16 * 1024 - 4, 'a'), std::string(64 * 1024, 'b'),
                                std::string(kMaxMessageBytes, 'c')};
  for (int i = 0; i < 200; ++i) sent.push_back("burst " + std::to_string(i));
  std::vector<std::string> received;
  bool ended_after_close = false;
  run_client([&]() -> asio::awaitable<void> {
    const Headers headers{{"X-Test", "yes"}};  // named: GCC 12 mishandles braced temporaries in co_await
    auto link = co_await connect_link(co_await asio::this_coro::executor, options(), "/echo", headers, {});
    for (const auto& message : sent) co_await link.socket->write(message);
    while (received.size() < sent.size()) {
      auto message = co_await link.socket->read();
      if (!message) break;
      received.push_back(std::move(*message));
    }
    co_await link.socket->close_gracefully("done");
    ended_after_close = !link.socket->is_open();
  });
  ASSERT_EQ(received.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(received[i], sent[i]) << "message " << i;
  EXPECT_EQ(seen_header_, "yes");
  EXPECT_TRUE(ended_after_close);
  for (int i = 0; i < 100 && !server_read_ended_; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(server_read_ended_) << "the server's read did not end after the close";
}

TEST_F(LinkTest, UnknownRouteIsRefusedWithTheGatewaysAnswer) {
  std::string error;
  run_client([&]() -> asio::awaitable<void> {
    try {
      co_await connect_link(co_await asio::this_coro::executor, options(), "/nope", {}, {});
    } catch (const TransportError& e) {
      error = e.what();
    }
  });
  EXPECT_NE(error.find("HTTP 404"), std::string::npos) << error;
  EXPECT_NE(error.find("no such link endpoint"), std::string::npos) << error;
}

TEST_F(LinkTest, ALinkOnlyRouteTakesALinkButRefusesAWebSocket) {
  std::optional<std::string> echoed;
  std::string websocket_error;
  run_client([&]() -> asio::awaitable<void> {
    auto link = co_await connect_link(co_await asio::this_coro::executor, options(), "/link-only", {}, {});
    co_await link.socket->write("over the link");
    echoed = co_await link.socket->read();
    co_await link.socket->close_gracefully("done");
    try {
      co_await connect_websocket(co_await asio::this_coro::executor, options(), "/link-only", {}, {});
    } catch (const TransportError& e) {
      websocket_error = e.what();
    }
  });
  EXPECT_EQ(echoed, "over the link");
  EXPECT_NE(websocket_error.find("404"), std::string::npos) << websocket_error;
}

TEST_F(LinkTest, AMessageOverTheLimitIsNotSentAndClosesTheLink) {
  bool written = true, closed = false;
  run_client([&]() -> asio::awaitable<void> {
    auto link = co_await connect_link(co_await asio::this_coro::executor, options(), "/echo", {}, {});
    written = co_await link.socket->write(std::string(kMaxMessageBytes + 1, 'x'));
    closed = !(co_await link.socket->read()).has_value();
  });
  EXPECT_FALSE(written);
  EXPECT_TRUE(closed);
}

TEST_F(LinkTest, AnIdleLinkStaysOpenThroughPings) {
  std::optional<std::string> echoed;
  run_client([&]() -> asio::awaitable<void> {
    auto link = co_await connect_link(co_await asio::this_coro::executor, options(), "/echo", {}, {});
    auto socket = link.socket;
    asio::co_spawn(
        co_await asio::this_coro::executor,
        [socket]() -> asio::awaitable<void> {
          asio::steady_timer wait(co_await asio::this_coro::executor, 2 * kServerIdle + 1s);
          co_await wait.async_wait(asio::use_awaitable);
          co_await socket->write("still here");
        },
        asio::detached);
    echoed = co_await socket->read();  // answers the server's pings meanwhile
    socket->close();
  });
  EXPECT_EQ(echoed, "still here");
}

TEST_F(LinkTest, APeerThatNeverAnswersIsPingedThenClosedAfterTheIdleTime) {
  std::string answer, after;
  error_code end;
  std::chrono::steady_clock::duration took{};
  run_client([&]() -> asio::awaitable<void> {
    auto tls = impl::make_client_tls(TrustConfig{ca_.certificate_pem, {}}, "127.0.0.1");
    impl::TlsStream stream(co_await asio::this_coro::executor, tls->context);
    co_await raw_upgrade(stream, answer);
    const auto started = std::chrono::steady_clock::now();
    std::array<char, 256> buffer;
    while (!end && after.size() < 4096) {
      const std::size_t n =
          co_await stream.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, end));
      after.append(buffer.data(), n);
    }
    took = std::chrono::steady_clock::now() - started;
  });
  EXPECT_NE(answer.find("HTTP/1.1 101"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Upgrade: sallyport-link/1"), std::string::npos) << answer;
  EXPECT_EQ(after.substr(0, 4), std::string("\x01\x00\x00\x00", 4)) << "a ping first";
  EXPECT_TRUE(end) << "the server closed the link";
  EXPECT_GE(took, kServerIdle - 100ms);
  EXPECT_LE(took, 2 * kServerIdle);
}

// Memory this process (the server runs in it) holds, in bytes: resident pages, or under
// AddressSanitizer the live heap, since its quarantine keeps freed memory resident.
std::size_t resident_bytes() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
#endif
}

TEST_F(LinkTest, PingsFromAPeerThatNeverReadsDoNotQueueWithoutBound) {
  std::string answer;
  error_code ec;
  const std::size_t before = resident_bytes();
  run_client([&]() -> asio::awaitable<void> {
    auto tls = impl::make_client_tls(TrustConfig{ca_.certificate_pem, {}}, "127.0.0.1");
    impl::TlsStream stream(co_await asio::this_coro::executor, tls->context);
    co_await raw_upgrade(stream, answer);
    // 64 MiB of pings with the largest payload, never reading the pongs.
    std::string pings;
    for (int i = 0; i < 4096; ++i) pings += std::string("\x01\x00\x00\x7d", 4) + std::string(125, 'p');
    for (int i = 0; i < 128 && !ec; ++i) {
      co_await asio::async_write(stream, asio::buffer(pings), asio::redirect_error(asio::use_awaitable, ec));
    }
  });
  EXPECT_FALSE(ec) << ec.message();
  // Each queued pong would cost about 200 bytes: 128 Ki of them, over 25 MiB.
  EXPECT_LT(resident_bytes(), before + (8 << 20)) << "grew by " << (resident_bytes() - before) / 1024 << " KiB";
}

TEST_F(LinkTest, AMalformedFrameClosesTheLink) {
  for (const std::string& frame : {std::string("\x07\x00\x00\x00", 4), std::string("\x00\x08\x00\x01", 4),
                                  std::string("\x01\x00\x00\x7e", 4)}) {
    std::string answer;
    error_code end;
    run_client([&]() -> asio::awaitable<void> {
      auto tls = impl::make_client_tls(TrustConfig{ca_.certificate_pem, {}}, "127.0.0.1");
      impl::TlsStream stream(co_await asio::this_coro::executor, tls->context);
      co_await raw_upgrade(stream, answer);
      co_await asio::async_write(stream, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, end));
      std::array<char, 256> buffer;
      while (!end) co_await stream.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, end));
    });
    EXPECT_NE(answer.find("HTTP/1.1 101"), std::string::npos) << answer;
    EXPECT_TRUE(end) << "the server closed the link";
  }
}

// What a session may outlive: a reset or a silent peer is the network; a close frame or an
// orderly end of stream (the peer process exited or was killed) is the peer going away.
// The same for a WebSocket (the web console's), whose break the gateway resumes too.
TEST_F(LinkTest, ALinkOrWebSocketIsLostOnAResetOrSilenceButNotWhenThePeerEndsIt) {
  enum class End { kCloseFrame, kEndOfStream, kReset, kSilence };
  for (const bool websocket : {false, true}) {
  for (const End how : {End::kCloseFrame, End::kEndOfStream, End::kReset, End::kSilence}) {
    SCOPED_TRACE(websocket ? "websocket" : "link");
    server_read_ended_ = false;
    server_lost_ = -1;
    std::string answer;
    run_client([&]() -> asio::awaitable<void> {
      if (how == End::kCloseFrame) {
        auto executor = co_await asio::this_coro::executor;
        LinkConnection link;  // GCC 12: no co_await inside a conditional expression
        if (websocket) {
          link = co_await connect_websocket(executor, options(), "/echo", {}, {});
        } else {
          link = co_await connect_link(executor, options(), "/echo", {}, {});
        }
        co_await link.socket->close_gracefully("done");
        co_return;
      }
      auto tls = impl::make_client_tls(TrustConfig{ca_.certificate_pem, {}}, "127.0.0.1");
      impl::TlsStream stream(co_await asio::this_coro::executor, tls->context);
      co_await raw_upgrade(stream, answer, websocket);
      auto& socket = stream.next_layer().socket();
      if (how == End::kReset) socket.set_option(asio::socket_base::linger(true, 0));
      if (how == End::kSilence) {
        // Never answers the server's pings; the client's kernel still acknowledges them.
        asio::steady_timer wait(co_await asio::this_coro::executor, kServerIdle + 1500ms);
        co_await wait.async_wait(asio::use_awaitable);
      }
      error_code ignored;
      socket.close(ignored);  // end of stream without TLS's close_notify; with linger 0, a reset
    });
    for (int i = 0; i < 200 && !server_read_ended_; ++i) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(server_read_ended_) << static_cast<int>(how);
    EXPECT_EQ(server_lost_, how == End::kReset || how == End::kSilence ? 1 : 0) << static_cast<int>(how);
  }
  }
}

TEST(LinkFrames, HeadersRoundTripAndBadFramesAreNamed) {
  using impl::DecodedFrame;
  const auto header = impl::encode_frame_header(impl::FrameKind::message, 0x012345);
  EXPECT_EQ(std::string(header.begin(), header.end()), std::string("\x00\x01\x23\x45", 4));
  std::string frame = std::string("\x02\x00\x00\x03", 4) + "abc" + "next";
  auto decoded = impl::decode_frame(frame, 100);
  EXPECT_EQ(decoded.status, DecodedFrame::Status::frame);
  EXPECT_EQ(decoded.kind, impl::FrameKind::pong);
  EXPECT_EQ(decoded.payload, "abc");
  EXPECT_EQ(decoded.frame_bytes, 7u);
  decoded = impl::decode_frame(frame.substr(0, 5), 100);
  EXPECT_EQ(decoded.status, DecodedFrame::Status::incomplete);
  EXPECT_EQ(decoded.frame_bytes, 7u);
  EXPECT_EQ(impl::decode_frame("\x00\x00", 100).frame_bytes, impl::kFrameHeaderBytes);
  EXPECT_STREQ(impl::decode_frame(std::string("\x00\x00\x00\x65", 4), 100).error, "message too large");
  EXPECT_STREQ(impl::decode_frame(std::string("\x03\x00\x00\x7e", 4), 1000).error, "control frame too large");
  EXPECT_STREQ(impl::decode_frame(std::string("\x04\x00\x00\x00", 4), 100).error, "unknown frame kind");
}
