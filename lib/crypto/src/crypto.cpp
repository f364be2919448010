#include "sallyport/crypto/crypto.hpp"

#include <sodium.h>

#include <string>

namespace sallyport::crypto {
namespace {

constexpr std::size_t kSecretBytes = 32;
constexpr std::string_view kArgon2idPrefix = "$argon2id$";

// libsodium takes unsigned char buffers; std::string holds char. Same size and alignment.
unsigned char* bytes_of(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Wipes a buffer that held secret material before its memory is released.
struct Wiper {
  std::string& buffer;
  ~Wiper() { sodium_memzero(buffer.data(), buffer.size()); }
};

}  // namespace

void initialize() {
  // A function-local static runs sodium_init exactly once, even with concurrent callers.
  static const bool initialized = sodium_init() >= 0;
  if (!initialized) throw Error("libsodium initialization failed");
}

std::string random_bytes(std::size_t count) {
  initialize();
  std::string out(count, '\0');
  randombytes_buf(out.data(), out.size());
  return out;
}

std::string hex_encode(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');  // sodium_bin2hex writes a trailing NUL
  sodium_bin2hex(out.data(), out.size(), bytes_of(bytes), bytes.size());
  out.pop_back();
  return out;
}

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  std::size_t written = 0;
  const char* end = nullptr;
  // With hex_end set, libsodium stops at the first non-hex character instead of failing, so
  // require that it consumed the whole input.
  if (sodium_hex2bin(bytes_of(out), out.size(), hex.data(), hex.size(), nullptr, &written, &end) !=
          0 ||
      end != hex.data() + hex.size() || written != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes_of(bytes), bytes.size(), kVariant);
  out.resize(out.size() - 1);  // drop the trailing NUL
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  // libsodium 1.0.18 reads the input as (signed) char, and its constant-time range checks then
  // map some bytes >= 0x80 onto '-' or '_'; so check the alphabet ourselves (found by fuzzing).
  for (const char c : text) {
    if (!is_base64url_char(c)) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t written = 0;
  const char* end = nullptr;
  // libsodium rejects non-canonical trailing bits; we additionally reject any unconsumed input
  // (padding, whitespace, characters from the standard alphabet).
  if (sodium_base642bin(bytes_of(out), out.size(), text.data(), text.size(), nullptr, &written,
                        &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(written);
  return out;
}

std::string sha256(std::string_view bytes) {
  initialize();
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(bytes_of(out), bytes_of(bytes), bytes.size());
  return out;
}

std::string sha256_hex(std::string_view bytes) { return hex_encode(sha256(bytes)); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Lengths are not secret (tokens and digests have fixed sizes); contents are.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hash_password(std::string_view password) {
  initialize();
  char encoded[crypto_pwhash_STRBYTES] = {};
  if (crypto_pwhash_str_alg(encoded, password.data(), password.size(),
                            crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw Error("password hashing failed (out of memory?)");
  }
  return std::string(encoded);
}

bool verify_password(std::string_view encoded_hash, std::string_view password) {
  initialize();
  // libsodium needs a NUL-terminated string: an embedded NUL would silently truncate the hash,
  // so reject it. We only ever store Argon2id, so refuse other (weaker) algorithms too.
  if (encoded_hash.size() >= crypto_pwhash_STRBYTES ||
      encoded_hash.find('\0') != std::string_view::npos ||
      !encoded_hash.starts_with(kArgon2idPrefix)) {
    return false;
  }
  const std::string terminated(encoded_hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

std::string new_secret(std::string_view prefix) {
  std::string raw = random_bytes(kSecretBytes);
  const Wiper wipe{raw};
  std::string secret(prefix);
  secret += base64url_encode(raw);
  return secret;
}

SigningKey SigningKey::generate() {
  initialize();
  SigningKey key;
  key.secret_key.assign(crypto_sign_SECRETKEYBYTES, '\0');
  key.public_key.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  if (crypto_sign_keypair(bytes_of(key.public_key), bytes_of(key.secret_key)) != 0) {
    throw Error("Ed25519 key generation failed");
  }
  return key;
}

std::optional<SigningKey> SigningKey::from_secret(std::string_view secret_key) {
  initialize();
  if (secret_key.size() != crypto_sign_SECRETKEYBYTES) return std::nullopt;
  // The 64 bytes are seed || public key; re-derive from the seed so a corrupted or mismatched
  // public half is caught here rather than producing signatures nobody can verify.
  SigningKey key;
  key.secret_key.assign(crypto_sign_SECRETKEYBYTES, '\0');
  key.public_key.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  if (crypto_sign_seed_keypair(bytes_of(key.public_key), bytes_of(key.secret_key),
                               bytes_of(secret_key)) != 0) {
    throw Error("Ed25519 key derivation failed");
  }
  if (!constant_time_equal(key.secret_key, secret_key)) {
    sodium_memzero(key.secret_key.data(), key.secret_key.size());
    return std::nullopt;
  }
  return key;
}

std::string SigningKey::sign(std::string_view message) const {
  initialize();
  if (secret_key.size() != crypto_sign_SECRETKEYBYTES) {
    throw Error("Ed25519 secret key has the wrong size");
  }
  std::string signature(crypto_sign_BYTES, '\0');
  if (crypto_sign_detached(bytes_of(signature), nullptr, bytes_of(message), message.size(),
                           bytes_of(secret_key)) != 0) {
    throw Error("Ed25519 signing failed");
  }
  return signature;
}

bool verify_signature(std::string_view public_key, std::string_view message,
                      std::string_view signature) {
  initialize();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(bytes_of(signature), bytes_of(message), message.size(),
                                     bytes_of(public_key)) == 0;
}

}  // namespace sallyport::crypto
