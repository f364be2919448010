#include "sallyport/crypto/pki.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include <array>
#include <climits>
#include <string>

#include "openssl_ptr.hpp"

namespace sallyport::crypto {
namespace {

using namespace detail;

constexpr int kCaValidityDays = 3652;      // 10 years including leap days
constexpr int kServerValidityDays = 730;   // 2 years
constexpr long kClockSkewSeconds = 3600;   // notBefore is backdated for peers with slow clocks
constexpr std::size_t kSerialBytes = 16;   // 128 random bits
constexpr std::size_t kMaxCommonName = 64;  // RFC 5280 ub-common-name
constexpr std::size_t kMaxDnsName = 253;
constexpr std::string_view kServerFallbackName = "sallyport gateway";
constexpr std::string_view kFingerprintPrefix = "SHA256:";
constexpr std::size_t kFingerprintBytes = 32;

// Throws with OpenSSL's queued reasons appended, and empties the queue so stale errors never
// leak into a later, unrelated failure message.
[[noreturn]] void throw_openssl(std::string_view what) {
  std::string message(what);
  while (const unsigned long code = ERR_get_error()) {
    std::array<char, 256> reason{};
    ERR_error_string_n(code, reason.data(), reason.size());
    message += "; ";
    message += reason.data();
  }
  throw Error(message);
}

void check(int result, std::string_view what) {
  if (result <= 0) throw_openssl(what);
}

// Never let OpenSSL fall back to prompting on the terminal for a PEM pass phrase.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

BioPtr read_bio(std::string_view data) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bio_contents(BIO* bio) {
  BUF_MEM* memory = nullptr;
  BIO_get_mem_ptr(bio, &memory);
  if (memory == nullptr) throw_openssl("reading memory BIO");
  return std::string(memory->data, memory->length);
}

EvpPkeyPtr generate_p256_key() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx) throw_openssl("creating EC key context");
  check(EVP_PKEY_keygen_init(ctx.get()), "initializing EC key generation");
  check(EVP_PKEY_CTX_set_group_name(ctx.get(), SN_X9_62_prime256v1), "selecting P-256");
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_generate(ctx.get(), &raw), "generating P-256 key");
  return EvpPkeyPtr(raw);
}

std::string private_key_pem(EVP_PKEY* key) {
  // Secure-heap memory BIO: cleared when freed, so the key does not linger in freed memory.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) throw_openssl("allocating BIO");
  check(PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "encoding private key");
  return bio_contents(bio.get());
}

std::string certificate_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) throw_openssl("allocating BIO");
  check(PEM_write_bio_X509(bio.get(), cert), "encoding certificate");
  return bio_contents(bio.get());
}

X509NamePtr common_name(std::string_view cn) {
  X509NamePtr name(X509_NAME_new());
  if (!name) throw_openssl("allocating X509 name");
  check(X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.data()),
                                   static_cast<int>(cn.size()), -1, 0),
        "setting common name");
  return name;
}

void set_random_serial(X509* cert) {
  // Random serials make issuance unpredictable and avoid collisions without any state. Retry
  // the (astronomically unlikely) zero, which is not a valid serial.
  BignumPtr number;
  do {
    const std::string bytes = random_bytes(kSerialBytes);
    number.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                           static_cast<int>(bytes.size()), nullptr));
    if (!number) throw_openssl("building serial number");
  } while (BN_is_zero(number.get()));
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(number.get(), nullptr));
  if (!serial) throw_openssl("encoding serial number");
  check(X509_set_serialNumber(cert, serial.get()), "setting serial number");
}

// Common skeleton: version 3, random serial, backdated validity, subject and public key.
X509Ptr new_certificate(const X509_NAME* subject, EVP_PKEY* key, int validity_days) {
  X509Ptr cert(X509_new());
  if (!cert) throw_openssl("allocating certificate");
  check(X509_set_version(cert.get(), X509_VERSION_3), "setting certificate version");
  set_random_serial(cert.get());
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kClockSkewSeconds) == nullptr) {
    throw_openssl("setting notBefore");
  }
  if (X509_time_adj_ex(X509_getm_notAfter(cert.get()), validity_days, 0, nullptr) == nullptr) {
    throw_openssl("setting notAfter");
  }
  check(X509_set_subject_name(cert.get(), subject), "setting subject");
  check(X509_set_pubkey(cert.get(), key), "setting public key");
  return cert;
}

// Adds an extension given in OpenSSL's config syntax. Only ever called with constant values;
// user-supplied names go through add_subject_alt_names so they cannot inject config syntax.
void add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext) throw_openssl("building certificate extension");
  check(X509_add_ext(cert, ext.get(), -1), "adding certificate extension");
}

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxDnsName) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '*';
    if (!ok) return false;
  }
  return true;
}

// Returns the 4- or 16-byte address when text is an IPv4 or IPv6 literal ("[::1]" allowed).
std::optional<std::string> ip_address_bytes(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  const std::string terminated(text);
  std::array<unsigned char, 16> address{};
  if (inet_pton(AF_INET, terminated.c_str(), address.data()) == 1) {
    return std::string(reinterpret_cast<const char*>(address.data()), 4);
  }
  if (inet_pton(AF_INET6, terminated.c_str(), address.data()) == 1) {
    return std::string(reinterpret_cast<const char*>(address.data()), 16);
  }
  return std::nullopt;
}

void add_subject_alt_names(X509* cert, const std::vector<std::string>& names) {
  GeneralNamesPtr general_names(GENERAL_NAMES_new());
  if (!general_names) throw_openssl("allocating subject alternative names");
  for (const std::string& name : names) {
    GeneralNamePtr entry(GENERAL_NAME_new());
    if (!entry) throw_openssl("allocating subject alternative name");
    if (const auto address = ip_address_bytes(name)) {
      Asn1OctetStringPtr octets(ASN1_OCTET_STRING_new());
      if (!octets) throw_openssl("allocating IP address");
      check(ASN1_OCTET_STRING_set(octets.get(),
                                  reinterpret_cast<const unsigned char*>(address->data()),
                                  static_cast<int>(address->size())),
            "setting IP address");
      GENERAL_NAME_set0_value(entry.get(), GEN_IPADD, octets.release());
    } else if (is_dns_name(name)) {
      Ia5StringPtr dns(ASN1_IA5STRING_new());
      if (!dns) throw_openssl("allocating DNS name");
      check(ASN1_STRING_set(dns.get(), name.data(), static_cast<int>(name.size())),
            "setting DNS name");
      GENERAL_NAME_set0_value(entry.get(), GEN_DNS, dns.release());
    } else {
      throw Error("invalid subject alternative name: not a DNS name or IP address");
    }
    if (sk_GENERAL_NAME_push(general_names.get(), entry.get()) <= 0) {
      throw_openssl("adding subject alternative name");
    }
    static_cast<void>(entry.release());  // now owned by general_names
  }
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, general_names.get(), 0,
                          X509V3_ADD_DEFAULT),
        "adding subject alternative names");
}

X509Ptr parse_certificate(std::string_view pem) {
  BioPtr bio = read_bio(pem);
  if (!bio) return nullptr;
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  return cert;
}

EvpPkeyPtr parse_private_key(std::string_view pem) {
  BioPtr bio = read_bio(pem);
  if (!bio) return nullptr;
  return EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char to_lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

KeyAndCertificate generate_ca(std::string_view common_name_text) {
  if (common_name_text.empty() || common_name_text.size() > kMaxCommonName) {
    throw Error("CA common name must be 1 to 64 bytes");
  }
  EvpPkeyPtr key = generate_p256_key();
  X509NamePtr name = common_name(common_name_text);
  X509Ptr cert = new_certificate(name.get(), key.get(), kCaValidityDays);
  check(X509_set_issuer_name(cert.get(), name.get()), "setting issuer");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  // The subject key identifier must exist before the authority key identifier refers to it.
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) throw_openssl("signing CA");
  return {private_key_pem(key.get()), certificate_pem(cert.get())};
}

KeyAndCertificate issue_server_certificate(const KeyAndCertificate& ca,
                                           const std::vector<std::string>& subject_alt_names) {
  // Modern TLS clients match only SANs, so a certificate without any would be unusable.
  if (subject_alt_names.empty()) throw Error("server certificate needs at least one SAN");
  X509Ptr ca_cert = parse_certificate(ca.certificate_pem);
  if (!ca_cert) throw_openssl("parsing CA certificate");
  EvpPkeyPtr ca_key = parse_private_key(ca.key_pem);
  if (!ca_key) throw_openssl("parsing CA private key");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    throw_openssl("CA private key does not match CA certificate");
  }

  EvpPkeyPtr key = generate_p256_key();
  // The CN is informational only; use the first SAN when it fits the 64-byte limit.
  const std::string& first = subject_alt_names.front();
  X509NamePtr name = common_name(
      !first.empty() && first.size() <= kMaxCommonName ? std::string_view(first)
                                                       : kServerFallbackName);
  X509Ptr cert = new_certificate(name.get(), key.get(), kServerValidityDays);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())), "setting issuer");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert.get(), cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  add_subject_alt_names(cert.get(), subject_alt_names);

  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) {
    throw_openssl("signing server certificate");
  }
  return {private_key_pem(key.get()), certificate_pem(cert.get())};
}

std::optional<std::string> certificate_fingerprint(std::string_view certificate_pem) {
  X509Ptr cert = parse_certificate(certificate_pem);
  if (!cert) {
    ERR_clear_error();  // bad input is not an error; keep the queue clean for later callers
    return std::nullopt;
  }
  // DER as re-encoded by OpenSSL is what a TLS peer sends and hence what clients pin.
  unsigned char* raw = nullptr;
  const int length = i2d_X509(cert.get(), &raw);
  const OpensslBytesPtr der(raw);
  if (length <= 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  return der_fingerprint(
      std::string_view(reinterpret_cast<const char*>(der.get()), static_cast<std::size_t>(length)));
}

std::string der_fingerprint(std::string_view certificate_der) {
  return std::string(kFingerprintPrefix) + sha256_hex(certificate_der);
}

std::optional<std::string> normalize_fingerprint(std::string_view text) {
  constexpr std::string_view kLowerPrefix = "sha256:";
  if (text.starts_with(kFingerprintPrefix) || text.starts_with(kLowerPrefix)) {
    text.remove_prefix(kFingerprintPrefix.size());
  }
  // Either 64 bare hex digits, or 32 pairs each separated by exactly one ':'.
  const bool colons = text.find(':') != std::string_view::npos;
  const std::size_t expected = colons ? kFingerprintBytes * 3 - 1 : kFingerprintBytes * 2;
  if (text.size() != expected) return std::nullopt;

  std::string out(kFingerprintPrefix);
  out.reserve(kFingerprintPrefix.size() + kFingerprintBytes * 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (colons && i % 3 == 2) {
      if (c != ':') return std::nullopt;
      continue;
    }
    if (!is_hex_digit(c)) return std::nullopt;
    out.push_back(to_lower_ascii(c));
  }
  return out;
}

}  // namespace sallyport::crypto
