#include "sallyport/crypto/crypto.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sallyport::crypto {
namespace {

using namespace std::string_literals;

std::string unhex(std::string_view hex) {
  auto bytes = hex_decode(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  return bytes.value_or("");
}

TEST(Initialize, IsIdempotentAndThreadSafe) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([] { initialize(); });
  for (auto& thread : threads) thread.join();
  EXPECT_NO_THROW(initialize());
  EXPECT_NO_THROW(initialize());
}

TEST(RandomBytes, HasRequestedSizeAndDiffers) {
  EXPECT_TRUE(random_bytes(0).empty());
  const std::string a = random_bytes(32);
  const std::string b = random_bytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(b.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(random_bytes(1000).size(), 1000u);
}

TEST(Hex, EncodesLowercase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode("\x00\x01\xab\xff"s), "0001abff");
  EXPECT_EQ(hex_encode("Hi"), "4869");
}

TEST(Hex, DecodesBothCasesAndRoundTrips) {
  EXPECT_EQ(hex_decode(""), ""s);
  EXPECT_EQ(hex_decode("0001abff"), "\x00\x01\xab\xff"s);
  EXPECT_EQ(hex_decode("0001ABFF"), "\x00\x01\xab\xff"s);
  const std::string bytes = random_bytes(64);
  EXPECT_EQ(hex_decode(hex_encode(bytes)), bytes);
}

TEST(Hex, RejectsBadInput) {
  EXPECT_FALSE(hex_decode("0"));           // odd length
  EXPECT_FALSE(hex_decode("abc"));         // odd length
  EXPECT_FALSE(hex_decode("zz"));          // not hex
  EXPECT_FALSE(hex_decode("0g"));          // not hex in second digit
  EXPECT_FALSE(hex_decode("00 11"));       // whitespace
  EXPECT_FALSE(hex_decode("0011 "));       // trailing whitespace (even length)
  EXPECT_FALSE(hex_decode("0x00"));        // prefix
  EXPECT_FALSE(hex_decode("00:11"));       // separators
  EXPECT_FALSE(hex_decode("00\0"s + "0"));  // embedded NUL
  EXPECT_FALSE(hex_decode("ab\xc3\xa9"));  // non-ASCII
}

// libsodium 1.0.18 reads input as (signed) char, so some bytes >= 0x80 alias ASCII characters
// in its constant-time comparisons; every such byte must still be rejected (found by fuzzing).
TEST(Hex, RejectsEveryNonHexByte) {
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool hex_digit =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (hex_digit) continue;
    EXPECT_FALSE(hex_decode(std::string("a") + c)) << byte;
    EXPECT_FALSE(hex_decode(std::string(1, c) + "a")) << byte;
    EXPECT_FALSE(hex_decode(std::string("00") + c + "0")) << byte;
  }
}

TEST(Base64Url, EncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"s), "-_-_");  // URL-safe alphabet
}

TEST(Base64Url, DecodesAndRoundTrips) {
  EXPECT_EQ(base64url_decode(""), ""s);
  EXPECT_EQ(base64url_decode("Zg"), "f"s);
  EXPECT_EQ(base64url_decode("Zm9vYmFy"), "foobar"s);
  EXPECT_EQ(base64url_decode("-_-_"), "\xfb\xff\xbf"s);
  for (std::size_t size = 0; size < 40; ++size) {
    const std::string bytes = random_bytes(size);
    EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes) << size;
  }
}

TEST(Base64Url, RejectsBadInput) {
  EXPECT_FALSE(base64url_decode("Z"));          // impossible length
  EXPECT_FALSE(base64url_decode("Zm9vY"));      // impossible length
  EXPECT_FALSE(base64url_decode("Zg=="));       // padding
  EXPECT_FALSE(base64url_decode("Zg="));        // padding
  EXPECT_FALSE(base64url_decode("+/+/"));       // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm9v Yg"));    // whitespace
  EXPECT_FALSE(base64url_decode("Zm9v\n"));     // trailing newline
  EXPECT_FALSE(base64url_decode("Zh"));         // non-canonical trailing bits
  EXPECT_FALSE(base64url_decode("Zm9"));        // non-canonical trailing bits
  EXPECT_FALSE(base64url_decode("Zg\0"s));      // embedded NUL
  EXPECT_FALSE(base64url_decode("\xff\xfe"s));  // binary junk
  EXPECT_FALSE(base64url_decode("0001abffD\324ADbeef"));  // fuzzer regression
}

TEST(Base64Url, RejectsEveryByteOutsideTheAlphabet) {
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool in_alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                             (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (in_alphabet) continue;
    EXPECT_FALSE(base64url_decode(std::string("Zm9v") + c + "mFy")) << byte;
    EXPECT_FALSE(base64url_decode(std::string("Zm9") + c)) << byte;
    EXPECT_FALSE(base64url_decode(std::string(1, c) + "g")) << byte;
    EXPECT_FALSE(base64url_decode(std::string(4, c))) << byte;
  }
}

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256("abc"),
            unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  EXPECT_EQ(sha256("x").size(), 32u);
  EXPECT_EQ(sha256_hex("\0"s), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret "));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_FALSE(constant_time_equal("a\0b"s, "a\0c"s));
  EXPECT_TRUE(constant_time_equal("a\0b"s, "a\0b"s));
}

TEST(Password, HashIsArgon2idWithInteractiveParameters) {
  const std::string hash = hash_password("correct horse");
  EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=65536,t=2,p=1$")) << hash;
  EXPECT_EQ(hash.find("correct horse"), std::string::npos);
  EXPECT_EQ(crypto_pwhash_str_needs_rehash(hash.c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                           crypto_pwhash_MEMLIMIT_INTERACTIVE),
            0);
}

TEST(Password, VerifiesRightAndRejectsWrongPassword) {
  const std::string hash = hash_password("correct horse");
  EXPECT_TRUE(verify_password(hash, "correct horse"));
  EXPECT_FALSE(verify_password(hash, "correct horsE"));
  EXPECT_FALSE(verify_password(hash, "correct horse "));
  EXPECT_FALSE(verify_password(hash, ""));
  EXPECT_FALSE(verify_password(hash, "correct horse\0"s));
}

TEST(Password, SaltMakesHashesDiffer) {
  const std::string a = hash_password("same");
  const std::string b = hash_password("same");
  EXPECT_NE(a, b);
  EXPECT_TRUE(verify_password(a, "same"));
  EXPECT_TRUE(verify_password(b, "same"));
}

TEST(Password, EmptyAndBinaryPasswordsWork) {
  const std::string empty = hash_password("");
  EXPECT_TRUE(verify_password(empty, ""));
  EXPECT_FALSE(verify_password(empty, "x"));
  const std::string binary = "a\0b\xff"s;
  const std::string hash = hash_password(binary);
  EXPECT_TRUE(verify_password(hash, binary));
  EXPECT_FALSE(verify_password(hash, "a"));
}

TEST(Password, RejectsMalformedOrTamperedHashes) {
  const std::string hash = hash_password("pw");
  EXPECT_FALSE(verify_password("", "pw"));
  EXPECT_FALSE(verify_password("not a hash", "pw"));
  EXPECT_FALSE(verify_password("$argon2id$", "pw"));
  EXPECT_FALSE(verify_password(hash.substr(0, hash.size() - 4), "pw"));  // truncated
  EXPECT_FALSE(verify_password(hash + "\0garbage"s, "pw"));               // embedded NUL
  EXPECT_FALSE(verify_password(hash + std::string(200, 'A'), "pw"));     // oversized
  std::string tampered = hash;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_password(tampered, "pw"));
}

TEST(Password, RefusesOtherAlgorithms) {
  char argon2i[crypto_pwhash_STRBYTES] = {};
  ASSERT_EQ(crypto_pwhash_str_alg(argon2i, "pw", 2, crypto_pwhash_argon2i_OPSLIMIT_MIN + 2,
                                  crypto_pwhash_argon2i_MEMLIMIT_MIN * 8,
                                  crypto_pwhash_ALG_ARGON2I13),
            0);
  EXPECT_EQ(crypto_pwhash_str_verify(argon2i, "pw", 2), 0);  // libsodium itself would accept
  EXPECT_FALSE(verify_password(argon2i, "pw"));
}

TEST(NewSecret, HasPrefixAnd32RandomBytes) {
  const std::string secret = new_secret("spt_");
  ASSERT_TRUE(secret.starts_with("spt_"));
  const auto raw = base64url_decode(std::string_view(secret).substr(4));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_EQ(secret.size(), 4u + 43u);
  EXPECT_EQ(new_secret("").size(), 43u);

  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(new_secret("x_"));
  EXPECT_EQ(seen.size(), 100u);
}

TEST(SigningKey, GeneratesKeysOfTheRightSize) {
  const SigningKey key = SigningKey::generate();
  EXPECT_EQ(key.secret_key.size(), 64u);
  EXPECT_EQ(key.public_key.size(), 32u);
  EXPECT_EQ(key.secret_key.substr(32), key.public_key);
  EXPECT_NE(SigningKey::generate().public_key, key.public_key);
}

TEST(SigningKey, SignsAndVerifies) {
  const SigningKey key = SigningKey::generate();
  const std::string message = "session 42 challenge";
  const std::string signature = key.sign(message);
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(verify_signature(key.public_key, message, signature));
  EXPECT_TRUE(verify_signature(key.public_key, "", key.sign("")));
}

TEST(SigningKey, RejectsTamperedMessageWrongSignatureAndWrongKey) {
  const SigningKey key = SigningKey::generate();
  const std::string message = "session 42 challenge";
  const std::string signature = key.sign(message);

  EXPECT_FALSE(verify_signature(key.public_key, "session 43 challenge", signature));
  EXPECT_FALSE(verify_signature(key.public_key, message + " ", signature));

  std::string flipped = signature;
  flipped[10] = static_cast<char>(flipped[10] ^ 0x01);
  EXPECT_FALSE(verify_signature(key.public_key, message, flipped));
  EXPECT_FALSE(verify_signature(key.public_key, message, std::string(64, '\0')));

  EXPECT_FALSE(verify_signature(SigningKey::generate().public_key, message, signature));
}

TEST(SigningKey, RejectsBadSizes) {
  const SigningKey key = SigningKey::generate();
  const std::string signature = key.sign("m");
  EXPECT_FALSE(verify_signature("", "m", signature));
  EXPECT_FALSE(verify_signature(key.public_key.substr(1), "m", signature));
  EXPECT_FALSE(verify_signature(key.public_key + "x", "m", signature));
  EXPECT_FALSE(verify_signature(key.public_key, "m", ""));
  EXPECT_FALSE(verify_signature(key.public_key, "m", signature.substr(1)));
  EXPECT_FALSE(verify_signature(key.public_key, "m", signature + "x"));

  SigningKey broken;
  broken.secret_key = "short";
  EXPECT_THROW(static_cast<void>(broken.sign("m")), Error);
}

TEST(SigningKey, MatchesRfc8032TestVector1) {
  const std::string seed =
      unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const std::string public_key =
      unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const auto key = SigningKey::from_secret(seed + public_key);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->public_key, public_key);
  EXPECT_EQ(hex_encode(key->sign("")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc6"
            "1e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

TEST(SigningKey, FromSecretRoundTrips) {
  const SigningKey key = SigningKey::generate();
  const auto restored = SigningKey::from_secret(key.secret_key);
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->secret_key, key.secret_key);
  EXPECT_EQ(restored->public_key, key.public_key);
  EXPECT_TRUE(verify_signature(key.public_key, "m", restored->sign("m")));
}

TEST(SigningKey, FromSecretRejectsInvalidKeys) {
  const SigningKey key = SigningKey::generate();
  EXPECT_FALSE(SigningKey::from_secret(""));
  EXPECT_FALSE(SigningKey::from_secret(key.secret_key.substr(0, 32)));  // seed alone
  EXPECT_FALSE(SigningKey::from_secret(key.secret_key + "x"));
  EXPECT_FALSE(SigningKey::from_secret(key.public_key + key.public_key));

  // Right size, but the public half does not belong to the seed.
  std::string mismatched = key.secret_key;
  mismatched[40] = static_cast<char>(mismatched[40] ^ 0x01);
  EXPECT_FALSE(SigningKey::from_secret(mismatched));
  const SigningKey other = SigningKey::generate();
  EXPECT_FALSE(SigningKey::from_secret(key.secret_key.substr(0, 32) + other.public_key));
}

}  // namespace
}  // namespace sallyport::crypto
