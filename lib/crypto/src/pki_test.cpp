#include "sallyport/crypto/pki.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "openssl_ptr.hpp"

namespace sallyport::crypto {
namespace {

using namespace detail;
using namespace std::string_literals;

X509Ptr parse_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

EvpPkeyPtr parse_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string der_of(X509* cert) {
  unsigned char* raw = nullptr;
  const int length = i2d_X509(cert, &raw);
  const OpensslBytesPtr der(raw);
  if (length <= 0) return {};
  return std::string(reinterpret_cast<const char*>(der.get()), static_cast<std::size_t>(length));
}

std::string common_name_of(const X509_NAME* name) {
  std::array<char, 256> buffer{};
  X509_NAME_get_text_by_NID(name, NID_commonName, buffer.data(), static_cast<int>(buffer.size()));
  return buffer.data();
}

bool extension_is_critical(X509* cert, int nid) {
  const int index = X509_get_ext_by_NID(cert, nid, -1);
  if (index < 0) return false;
  return X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

std::string octets(const ASN1_OCTET_STRING* value) {
  if (value == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

// "DNS:name" / "IP:address" for every SAN entry.
std::set<std::string> subject_alt_names_of(X509* cert) {
  std::set<std::string> out;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      out.insert("DNS:" + octets(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      const std::string bytes = octets(name->d.iPAddress);
      std::array<char, 64> text{};
      const int family = bytes.size() == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, bytes.data(), text.data(), static_cast<socklen_t>(text.size()))) {
        out.insert("IP:"s + text.data());
      } else {
        out.insert("IP:?");
      }
    } else {
      out.insert("other");
    }
  }
  return out;
}

// X509_verify_cert with only the CA trusted; by default also checks the leaf for TLS server use.
int verify_chain(X509* leaf, X509* ca, std::string* error = nullptr, bool server = true) {
  X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca);
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  if (server) X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  const int result = X509_verify_cert(ctx.get());
  if (error != nullptr) {
    *error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  return result;
}

long seconds_from_now(const ASN1_TIME* time) {
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, time), 1);
  return static_cast<long>(days) * 86400 + seconds;
}

std::string serial_hex(X509* cert) {
  BignumPtr number(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  OpensslBytesPtr text(reinterpret_cast<unsigned char*>(BN_bn2hex(number.get())));
  return reinterpret_cast<const char*>(text.get());
}

class Pki : public ::testing::Test {
 protected:
  // Key generation is cheap, but share one CA and server cert across tests for speed.
  static void SetUpTestSuite() {
    ca_ = new KeyAndCertificate(generate_ca("Sallyport Test CA"));
    server_ = new KeyAndCertificate(issue_server_certificate(
        *ca_, {"gateway.example.com", "localhost", "10.0.0.5", "::1", "*.wild.example.com"}));
  }
  static void TearDownTestSuite() {
    delete ca_;
    delete server_;
    ca_ = nullptr;
    server_ = nullptr;
  }
  void TearDown() override { EXPECT_EQ(ERR_peek_error(), 0ul) << "OpenSSL error queue left dirty"; }

  static KeyAndCertificate* ca_;
  static KeyAndCertificate* server_;
};
KeyAndCertificate* Pki::ca_ = nullptr;
KeyAndCertificate* Pki::server_ = nullptr;

TEST_F(Pki, CaKeyIsPkcs8P256MatchingTheCertificate) {
  EXPECT_TRUE(ca_->key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_TRUE(ca_->certificate_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  const X509Ptr cert = parse_cert(ca_->certificate_pem);
  const EvpPkeyPtr key = parse_key(ca_->key_pem);
  ASSERT_TRUE(cert);
  ASSERT_TRUE(key);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  std::array<char, 64> group{};
  std::size_t group_length = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group.data(), group.size(), &group_length), 1);
  EXPECT_STREQ(group.data(), "prime256v1");
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
}

TEST_F(Pki, CaIsSelfSignedAndVerifiesWithItsOwnKey) {
  const X509Ptr cert = parse_cert(ca_->certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(common_name_of(X509_get_subject_name(cert.get())), "Sallyport Test CA");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  // A CA trusted only by itself forms a valid chain.
  EXPECT_EQ(verify_chain(cert.get(), cert.get(), nullptr, /*server=*/false), 1);
}

TEST_F(Pki, CaHasCaExtensions) {
  const X509Ptr cert = parse_cert(ca_->certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_NE(X509_get_extension_flags(cert.get()) & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_TRUE(extension_is_critical(cert.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert.get());
  ASSERT_NE(ski, nullptr);
  EXPECT_EQ(octets(ski).size(), 20u);
  EXPECT_EQ(octets(X509_get0_authority_key_id(cert.get())), octets(ski));
}

TEST_F(Pki, CaValidityIsBackdatedAndTenYears) {
  const X509Ptr cert = parse_cert(ca_->certificate_pem);
  ASSERT_TRUE(cert);
  const long not_before = seconds_from_now(X509_get0_notBefore(cert.get()));
  const long not_after = seconds_from_now(X509_get0_notAfter(cert.get()));
  EXPECT_NEAR(static_cast<double>(not_before), -3600.0, 120.0);
  EXPECT_NEAR(static_cast<double>(not_after), 3652.0 * 86400.0, 120.0);
}

TEST_F(Pki, SerialsAreRandom128Bit) {
  const X509Ptr a = parse_cert(ca_->certificate_pem);
  const X509Ptr b = parse_cert(generate_ca("Another CA").certificate_pem);
  const X509Ptr s = parse_cert(server_->certificate_pem);
  ASSERT_TRUE(a && b && s);
  for (X509* cert : {a.get(), b.get(), s.get()}) {
    BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    EXPECT_FALSE(BN_is_zero(serial.get()));
    EXPECT_FALSE(BN_is_negative(serial.get()));
    EXPECT_LE(BN_num_bits(serial.get()), 128);
    EXPECT_GT(BN_num_bits(serial.get()), 64);  // fails with probability 2^-64
  }
  EXPECT_NE(serial_hex(a.get()), serial_hex(b.get()));
  EXPECT_NE(serial_hex(a.get()), serial_hex(s.get()));
}

TEST_F(Pki, DistinctCasHaveDistinctKeys) {
  const KeyAndCertificate other = generate_ca("Sallyport Test CA");
  EXPECT_NE(other.key_pem, ca_->key_pem);
  EXPECT_NE(other.certificate_pem, ca_->certificate_pem);
}

TEST_F(Pki, CaRejectsBadCommonNames) {
  EXPECT_THROW(generate_ca(""), Error);
  EXPECT_THROW(generate_ca(std::string(65, 'c')), Error);
  EXPECT_NO_THROW(generate_ca(std::string(64, 'c')));
  EXPECT_THROW(generate_ca("bad utf8 \xff"), Error);
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

TEST_F(Pki, ServerCertificateHasRequestedSans) {
  const X509Ptr cert = parse_cert(server_->certificate_pem);
  ASSERT_TRUE(cert);
  const std::set<std::string> expected{"DNS:gateway.example.com", "DNS:localhost", "IP:10.0.0.5",
                                       "IP:::1", "DNS:*.wild.example.com"};
  EXPECT_EQ(subject_alt_names_of(cert.get()), expected);
  EXPECT_EQ(common_name_of(X509_get_subject_name(cert.get())), "gateway.example.com");
}

TEST_F(Pki, ServerCertificateVerifiesAgainstTheCa) {
  const X509Ptr ca = parse_cert(ca_->certificate_pem);
  const X509Ptr cert = parse_cert(server_->certificate_pem);
  ASSERT_TRUE(ca && cert);
  std::string error;
  EXPECT_EQ(verify_chain(cert.get(), ca.get(), &error), 1) << error;
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca.get())), 0);
  EXPECT_EQ(X509_check_issued(ca.get(), cert.get()), X509_V_OK);
  EXPECT_EQ(octets(X509_get0_authority_key_id(cert.get())),
            octets(X509_get0_subject_key_id(ca.get())));
  ASSERT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
}

TEST_F(Pki, ServerCertificateDoesNotVerifyAgainstAnotherCa) {
  const X509Ptr other = parse_cert(generate_ca("Sallyport Test CA").certificate_pem);
  const X509Ptr cert = parse_cert(server_->certificate_pem);
  ASSERT_TRUE(other && cert);
  EXPECT_NE(verify_chain(cert.get(), other.get()), 1);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(other.get())), 0);
  ERR_clear_error();  // X509_verify queues the signature failure
}

TEST_F(Pki, ServerCertificateHasServerExtensions) {
  const X509Ptr cert = parse_cert(server_->certificate_pem);
  const EvpPkeyPtr key = parse_key(server_->key_pem);
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_extension_flags(cert.get()) & EXFLAG_CA, 0u);
  EXPECT_NE(X509_get_extension_flags(cert.get()) & EXFLAG_BCONS, 0u);  // CA:FALSE is explicit
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<std::uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_NE(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  const long not_before = seconds_from_now(X509_get0_notBefore(cert.get()));
  const long not_after = seconds_from_now(X509_get0_notAfter(cert.get()));
  EXPECT_NEAR(static_cast<double>(not_before), -3600.0, 120.0);
  EXPECT_NEAR(static_cast<double>(not_after), 730.0 * 86400.0, 120.0);
}

TEST_F(Pki, HostnameChecksPassForSansOnly) {
  const X509Ptr cert = parse_cert(server_->certificate_pem);
  ASSERT_TRUE(cert);
  auto host = [&](const std::string& name) {
    return X509_check_host(cert.get(), name.data(), name.size(), 0, nullptr);
  };
  auto ip = [&](const char* address) { return X509_check_ip_asc(cert.get(), address, 0); };
  EXPECT_EQ(host("gateway.example.com"), 1);
  EXPECT_EQ(host("GATEWAY.example.com"), 1);
  EXPECT_EQ(host("localhost"), 1);
  EXPECT_EQ(host("node1.wild.example.com"), 1);
  EXPECT_EQ(host("other.example.com"), 0);
  EXPECT_EQ(host("example.com"), 0);
  EXPECT_EQ(host("a.b.wild.example.com"), 0);
  EXPECT_EQ(host("10.0.0.5"), 0);  // IP SANs are not DNS names
  EXPECT_EQ(ip("10.0.0.5"), 1);
  EXPECT_EQ(ip("::1"), 1);
  EXPECT_EQ(ip("0:0:0:0:0:0:0:1"), 1);
  EXPECT_EQ(ip("10.0.0.6"), 0);
  EXPECT_EQ(ip("127.0.0.1"), 0);
  EXPECT_EQ(ip("::2"), 0);
}

TEST_F(Pki, IpLiteralsBecomeIpSansAndBracketsAreAccepted) {
  const KeyAndCertificate server =
      issue_server_certificate(*ca_, {"192.168.1.1", "[fe80::1]", "2001:db8::7", "host-1.lan"});
  const X509Ptr cert = parse_cert(server.certificate_pem);
  ASSERT_TRUE(cert);
  const std::set<std::string> expected{"IP:192.168.1.1", "IP:fe80::1", "IP:2001:db8::7",
                                       "DNS:host-1.lan"};
  EXPECT_EQ(subject_alt_names_of(cert.get()), expected);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "192.168.1.1", 0), 1);
  // Not a dotted quad: treated as a DNS name rather than misread as an address.
  const X509Ptr odd = parse_cert(issue_server_certificate(*ca_, {"1.2.3"}).certificate_pem);
  ASSERT_TRUE(odd);
  EXPECT_EQ(subject_alt_names_of(odd.get()), std::set<std::string>{"DNS:1.2.3"});
}

TEST_F(Pki, LongFirstSanFallsBackToFixedCommonName) {
  const std::string long_name = std::string(60, 'a') + ".example.com";
  const X509Ptr cert =
      parse_cert(issue_server_certificate(*ca_, {long_name}).certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(common_name_of(X509_get_subject_name(cert.get())), "sallyport gateway");
  EXPECT_EQ(X509_check_host(cert.get(), long_name.data(), long_name.size(), 0, nullptr), 1);
}

TEST_F(Pki, IssuingRejectsBadInput) {
  EXPECT_THROW(issue_server_certificate(*ca_, {}), Error);
  EXPECT_THROW(issue_server_certificate(*ca_, {""}), Error);
  EXPECT_THROW(issue_server_certificate(*ca_, {"bad name"}), Error);
  EXPECT_THROW(issue_server_certificate(*ca_, {"a,DNS:evil.com"}), Error);
  EXPECT_THROW(issue_server_certificate(*ca_, {"ok.example.com", "fe80::1%eth0"}), Error);
  EXPECT_THROW(issue_server_certificate(*ca_, {std::string(254, 'a')}), Error);
  EXPECT_THROW(issue_server_certificate(*ca_, {"nul\0host"s}), Error);

  const KeyAndCertificate other = generate_ca("Other CA");
  EXPECT_THROW(issue_server_certificate({other.key_pem, ca_->certificate_pem}, {"x"}), Error);
  EXPECT_THROW(issue_server_certificate({ca_->key_pem, "garbage"}, {"x"}), Error);
  EXPECT_THROW(issue_server_certificate({"garbage", ca_->certificate_pem}, {"x"}), Error);
  EXPECT_THROW(issue_server_certificate({"", ""}, {"x"}), Error);
}

TEST_F(Pki, CertificateFingerprintIsSha256OfDer) {
  const X509Ptr cert = parse_cert(server_->certificate_pem);
  ASSERT_TRUE(cert);
  const std::string der = der_of(cert.get());
  ASSERT_FALSE(der.empty());
  const auto fingerprint = certificate_fingerprint(server_->certificate_pem);
  ASSERT_TRUE(fingerprint.has_value());
  EXPECT_EQ(*fingerprint, "SHA256:" + sha256_hex(der));
  EXPECT_EQ(*fingerprint, der_fingerprint(der));
  EXPECT_EQ(fingerprint->size(), 7u + 64u);
  EXPECT_EQ(normalize_fingerprint(*fingerprint), fingerprint);
  EXPECT_NE(certificate_fingerprint(ca_->certificate_pem), fingerprint);
  // Surrounding text (as in a bundle or a commented file) does not change the result.
  EXPECT_EQ(certificate_fingerprint("# gateway\n" + server_->certificate_pem + "\n"), fingerprint);
}

TEST_F(Pki, CertificateFingerprintRejectsNonCertificates) {
  EXPECT_FALSE(certificate_fingerprint(""));
  EXPECT_FALSE(certificate_fingerprint("garbage"));
  EXPECT_FALSE(certificate_fingerprint(server_->key_pem));
  EXPECT_FALSE(certificate_fingerprint("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"));
  EXPECT_FALSE(certificate_fingerprint(
      "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"));
  const std::string& pem = server_->certificate_pem;
  EXPECT_FALSE(certificate_fingerprint(pem.substr(0, pem.size() / 2)));  // truncated
  std::string corrupted = pem;
  corrupted[100] = '!';
  EXPECT_FALSE(certificate_fingerprint(corrupted));
  // Bytes where the DER should be, without PEM armour, are not accepted either.
  const X509Ptr cert = parse_cert(pem);
  ASSERT_TRUE(cert);
  EXPECT_FALSE(certificate_fingerprint(der_of(cert.get())));
}

TEST(DerFingerprint, HashesArbitraryBytes) {
  EXPECT_EQ(der_fingerprint(""),
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(der_fingerprint("abc"),
            "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

constexpr const char* kCanonical =
    "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::string with_colons(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i != 0) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 32) : c; });
  return text;
}

TEST(NormalizeFingerprint, AcceptsAllDocumentedForms) {
  const std::string hex = std::string(kCanonical).substr(7);
  const std::vector<std::string> forms{
      kCanonical,
      "sha256:" + hex,
      hex,
      upper(hex),
      "SHA256:" + upper(hex),
      with_colons(hex),
      with_colons(upper(hex)),
      "SHA256:" + with_colons(hex),
      "sha256:" + with_colons(upper(hex)),
  };
  for (const std::string& form : forms) {
    EXPECT_EQ(normalize_fingerprint(form), std::optional<std::string>(kCanonical)) << form;
  }
}

TEST(NormalizeFingerprint, RejectsMalformed) {
  const std::string hex = std::string(kCanonical).substr(7);
  const std::string colons = with_colons(hex);
  const std::vector<std::string> bad{
      "",
      "SHA256:",
      "sha256",
      hex.substr(2),                  // too short
      hex + "00",                     // too long
      hex.substr(1),                  // odd length
      "g" + hex.substr(1),            // not hex
      "SHA1:" + hex,                  // other algorithm
      "Sha256:" + hex,                // unknown prefix spelling
      "SHA256: " + hex,               // whitespace
      " " + hex,
      hex + "\n",
      ":" + colons.substr(1),         // misplaced separator
      colons + ":",                   // trailing separator
      colons.substr(0, 3) + hex.substr(2, 62),  // mixed separators
      "a:bc" + colons.substr(4),      // separator inside a pair
      colons.substr(0, 2) + "::" + colons.substr(3),
      std::string(hex).replace(10, 1, "\0"s),
      "SHA256:SHA256:" + hex,
  };
  for (const std::string& text : bad) {
    EXPECT_FALSE(normalize_fingerprint(text)) << text;
  }
}

}  // namespace
}  // namespace sallyport::crypto
