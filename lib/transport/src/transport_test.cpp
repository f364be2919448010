// A real server and client over loopback TLS: pinning, host names, HTTP limits, WebSockets.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "sallyport/crypto/pki.hpp"
#include "sallyport/transport/client.hpp"
#include "sallyport/transport/server.hpp"
#include "tls_context.hpp"

using namespace sallyport;
using namespace sallyport::transport;
namespace asio = boost::asio;

namespace {

struct Pki {
  crypto::KeyAndCertificate ca = crypto::generate_ca("test CA");
  crypto::KeyAndCertificate server = crypto::issue_server_certificate(ca, {"127.0.0.1", "localhost"});
};

const Pki& pki() {
  static const Pki instance;
  return instance;
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.certificate_chain_pem = pki().server.certificate_pem + pki().ca.certificate_pem;
    options.private_key_pem = pki().server.key_pem;
    options.max_request_body_bytes = 1024;
    ServerHandlers handlers;
    handlers.http = [](HttpRequest request) -> asio::awaitable<HttpResponse> {
      HttpResponse response;
      response.body = request.method + " " + request.target + " " + request.body + " " + request.header("x-test");
      co_return response;
    };
    handlers.link_route = [](const HttpRequest& request) {
      if (request.path() == "/echo") return Upgrades::kLinkOrWebSocket;
      if (request.path() == "/link-only") return Upgrades::kLink;
      return Upgrades::kNone;
    };
    handlers.link = [](HttpRequest, std::shared_ptr<MessageSocket> socket) -> asio::awaitable<void> {
      while (auto message = co_await socket->read()) {
        if (!co_await socket->write(*message)) break;
      }
    };
    server_ = std::make_unique<Server>(io_, options, handlers);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] { server_->stop(); io_.stop(); });
    thread_.join();
    server_.reset();
  }

  ClientOptions client(TrustConfig trust, std::string host = "127.0.0.1") const {
    ClientOptions options;
    options.gateway.host = std::move(host);
    options.gateway.port = server_->port();
    options.trust = std::move(trust);
    options.timeout = std::chrono::seconds(5);
    return options;
  }

  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

HttpRequest post(std::string body) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v1/x?y=1";
  request.body = std::move(body);
  request.headers = {{"X-Test", "yes"}};
  return request;
}

}  // namespace

TEST_F(TransportTest, PinnedFingerprintIsAcceptedAndReportsTheCa) {
  const auto fingerprint = crypto::certificate_fingerprint(pki().ca.certificate_pem).value();
  const auto result = https_request(client({"", fingerprint}), post("hello"));
  EXPECT_EQ(result.response.status, 200u);
  EXPECT_EQ(result.response.body, "POST /v1/x?y=1 hello yes");
  EXPECT_EQ(crypto::certificate_fingerprint(result.trusted_ca_pem), fingerprint);
}

TEST_F(TransportTest, CaPemIsAccepted) {
  EXPECT_EQ(https_request(client({pki().ca.certificate_pem, ""}), post("")).response.status, 200u);
}

TEST_F(TransportTest, WrongFingerprintIsRefusedWithReason) {
  const auto other = crypto::generate_ca("other");
  const auto fingerprint = crypto::certificate_fingerprint(other.certificate_pem).value();
  try {
    https_request(client({"", fingerprint}), post(""));
    FAIL() << "expected refusal";
  } catch (const TransportError& error) {
    EXPECT_NE(std::string(error.what()).find("does not contain the pinned fingerprint"), std::string::npos)
        << error.what();
  }
}

TEST_F(TransportTest, OtherCaIsRefused) {
  const auto other = crypto::generate_ca("other");
  EXPECT_THROW(https_request(client({other.certificate_pem, ""}), post("")), TransportError);
}

TEST_F(TransportTest, HostNameMustMatchCertificate) {
  const auto fingerprint = crypto::certificate_fingerprint(pki().ca.certificate_pem).value();
  // The certificate names 127.0.0.1 and localhost, not 127.0.0.2 (which also reaches loopback).
  EXPECT_THROW(https_request(client({"", fingerprint}, "127.0.0.2"), post("")), TransportError);
  EXPECT_THROW(https_request(client({pki().ca.certificate_pem, ""}, "127.0.0.2"), post("")), TransportError);
}

TEST_F(TransportTest, NoTrustIsRefused) {
  EXPECT_THROW(https_request(client({"", ""}), post("")), TransportError);
  EXPECT_THROW(https_request(client({"", "SHA256:zz"}), post("")), TransportError);
}

TEST_F(TransportTest, OversizedBodyGets413) {
  const auto result = https_request(client({pki().ca.certificate_pem, ""}), post(std::string(4096, 'x')));
  EXPECT_EQ(result.response.status, 413u);
}

TEST_F(TransportTest, WebSocketEchoesAndUnknownRouteIsRefused) {
  asio::io_context client_io;
  std::vector<std::string> received;
  std::string unknown_route_error;
  const auto options = client({pki().ca.certificate_pem, ""});
  asio::co_spawn(
      client_io,
      [&]() -> asio::awaitable<void> {
        auto connection = co_await connect_websocket(co_await asio::this_coro::executor, options, "/echo", {}, {});
        for (int i = 0; i < 50; ++i) co_await connection.socket->write("message " + std::to_string(i));
        co_await connection.socket->write(std::string(300 * 1024, 'b'));
        for (int i = 0; i < 51; ++i) received.push_back(*co_await connection.socket->read());
        co_await connection.socket->close_gracefully("done");
        try {
          co_await connect_websocket(co_await asio::this_coro::executor, options, "/nope", {}, {});
        } catch (const TransportError& error) {
          unknown_route_error = error.what();
        }
      },
      asio::detached);
  client_io.run();
  ASSERT_EQ(received.size(), 51u);
  EXPECT_EQ(received[0], "message 0");
  EXPECT_EQ(received[49], "message 49");
  EXPECT_EQ(received[50].size(), 300u * 1024);
  EXPECT_NE(unknown_route_error.find("404"), std::string::npos) << unknown_route_error;
}

TEST_F(TransportTest, OversizedWebSocketMessageClosesTheLink) {
  asio::io_context client_io;
  bool closed = false;
  const auto options = client({pki().ca.certificate_pem, ""});
  asio::co_spawn(
      client_io,
      [&]() -> asio::awaitable<void> {
        auto connection = co_await connect_websocket(co_await asio::this_coro::executor, options, "/echo", {}, {});
        co_await connection.socket->write(std::string(kMaxMessageBytes + 1, 'x'));
        closed = !(co_await connection.socket->read()).has_value();
      },
      asio::detached);
  client_io.run();
  EXPECT_TRUE(closed);
}

namespace {

std::string first_tls13_suite(SSL_CTX* context) {
  SSL* ssl = SSL_new(context);
  const STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl);
  std::string name = sk_SSL_CIPHER_num(ciphers) > 0 ? SSL_CIPHER_get_name(sk_SSL_CIPHER_value(ciphers, 0)) : "";
  SSL_free(ssl);
  return name;
}

TEST(TlsContexts, PreferAes128GcmForTls13) {
  TrustConfig trust;
  trust.ca_pem = pki().ca.certificate_pem;
  auto client = impl::make_client_tls(trust, "127.0.0.1");
  EXPECT_EQ(first_tls13_suite(client->context.native_handle()), "TLS_AES_128_GCM_SHA256");
  auto server = impl::make_server_tls(pki().server.certificate_pem + pki().ca.certificate_pem, pki().server.key_pem);
  EXPECT_EQ(first_tls13_suite(server.native_handle()), "TLS_AES_128_GCM_SHA256");
}

}  // namespace
