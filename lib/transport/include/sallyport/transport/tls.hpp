#pragma once
// Who a client trusts: a CA certificate (PEM) or the pinned SHA-256 fingerprint of a
// certificate the gateway presents in its chain (its CA, or the server certificate itself).
// There is no "trust anything" mode.
#include <stdexcept>
#include <string>

namespace sallyport::transport {

struct TransportError : std::runtime_error {
  // refused: the gateway was reached and said no (an HTTP refusal, a certificate that is not
  // the pinned one); trying again will not help. Otherwise it may be down or unreachable.
  explicit TransportError(const std::string& what, bool was_refused = false)
      : std::runtime_error(what), refused(was_refused) {}
  bool refused;
};

struct TrustConfig {
  std::string ca_pem;       // used when not empty
  std::string fingerprint;  // "SHA256:<hex>", used when ca_pem is empty
};

}  // namespace sallyport::transport
