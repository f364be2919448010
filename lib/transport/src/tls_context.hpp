#pragma once
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "sallyport/transport/tls.hpp"

namespace sallyport::transport::impl {

// Outcome of the client's certificate check, read after the handshake.
struct VerifyState {
  std::string pinned_fingerprint;  // canonical form, empty when a CA file is used
  std::string host;
  std::string trusted_ca_pem;  // the anchor that verified (PEM)
  std::string failure;         // why verification failed, for the user
};

struct ClientTls {
  ClientTls() : context(boost::asio::ssl::context::tls_client) {}
  boost::asio::ssl::context context;
  std::unique_ptr<VerifyState> state;
};

// Throws TransportError when the trust configuration is unusable.
std::unique_ptr<ClientTls> make_client_tls(const TrustConfig& trust, const std::string& host);
// Sets SNI (host names only) on a client connection.
void set_server_name(SSL* ssl, const std::string& host);
// Throws TransportError when the certificate chain or key is unusable.
boost::asio::ssl::context make_server_tls(const std::string& chain_pem, const std::string& key_pem);
// A readable reason for a failed client handshake.
std::string handshake_failure(const VerifyState& state, const std::string& error);

}  // namespace sallyport::transport::impl
