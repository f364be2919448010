#pragma once
// First start in an empty data dir: folders, the private CA and server certificate, the
// gateway's stable id, and the bootstrap administrator. Later starts reuse what is there.
#include <string>

#include "sallyport/gateway/config.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/util/clock.hpp"

namespace sallyport::gateway {

struct TlsFiles {
  std::string chain_pem;  // server certificate, then CA
  std::string key_pem;
  std::string ca_fingerprint;  // of the CA (or of the server certificate when no CA is known)
};

// Loads --tls-cert/--tls-key, or the generated CA and certificate in DATA_DIR/tls/, creating
// them on first start. Throws ConfigError on unusable files.
TlsFiles prepare_tls(const GatewayConfig& config);

// A stable id for this gateway, kept in DATA_DIR/gateway-id.
std::string load_gateway_id(const GatewayConfig& config);

// Creates `admin` when there are no users. The password comes from SALLYPORT_ADMIN_PASSWORD or
// is random and written to DATA_DIR/initial-admin-password (0600). Returns a line for the
// operator ("" when nothing was created).
std::string ensure_admin(store::Store& store, const GatewayConfig& config, const util::Clock& clock);

}  // namespace sallyport::gateway
