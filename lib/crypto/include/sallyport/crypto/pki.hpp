#pragma once
// The gateway's private certificate authority and server certificate (OpenSSL 3), and the
// SHA-256 fingerprints that clients pin. Keys are ECDSA P-256. Throws crypto::Error on failure.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sallyport/crypto/crypto.hpp"

namespace sallyport::crypto {

struct KeyAndCertificate {
  std::string key_pem;          // PKCS#8 private key; never logged
  std::string certificate_pem;
};

// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign), valid for 10 years.
KeyAndCertificate generate_ca(std::string_view common_name);

// A server certificate signed by the CA, valid for 2 years, with the given subject alternative
// names (each either a DNS name or an IPv4/IPv6 literal) and serverAuth extended key usage.
KeyAndCertificate issue_server_certificate(const KeyAndCertificate& ca,
                                           const std::vector<std::string>& subject_alt_names);

// "SHA256:" followed by 64 lowercase hex digits of the SHA-256 of the certificate's DER form.
// nullopt when the PEM does not hold a certificate.
std::optional<std::string> certificate_fingerprint(std::string_view certificate_pem);
std::string der_fingerprint(std::string_view certificate_der);

// Accepts "SHA256:<hex>", "sha256:<hex>" or bare hex, with or without ':' between byte pairs;
// returns the canonical "SHA256:<lowercase hex>" form, or nullopt when malformed.
std::optional<std::string> normalize_fingerprint(std::string_view text);

}  // namespace sallyport::crypto
