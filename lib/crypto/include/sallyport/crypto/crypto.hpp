#pragma once
// Identity and crypto primitives: randomness, encodings, hashes, password hashing (Argon2id),
// Ed25519 agent keys and opaque bearer secrets. Everything here is built on libsodium.
// Functions throw crypto::Error only when the library itself fails (fatal); bad input from
// outside is reported as std::nullopt / false.
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sallyport::crypto {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Must be called once before any other function (idempotent, thread-safe).
void initialize();

std::string random_bytes(std::size_t count);

std::string hex_encode(std::string_view bytes);                          // lowercase
std::optional<std::string> hex_decode(std::string_view hex);              // nullopt on bad input
std::string base64url_encode(std::string_view bytes);                    // no padding
std::optional<std::string> base64url_decode(std::string_view text);       // nullopt on bad input

std::string sha256(std::string_view bytes);      // 32 raw bytes
std::string sha256_hex(std::string_view bytes);  // 64 lowercase hex digits

bool constant_time_equal(std::string_view a, std::string_view b);

// Argon2id in libsodium's encoded "$argon2id$..." form (salt and parameters included).
std::string hash_password(std::string_view password);
bool verify_password(std::string_view encoded_hash, std::string_view password);

// A high-entropy bearer secret: prefix followed by base64url of 32 random bytes.
// Only sha256_hex(secret) is ever stored.
std::string new_secret(std::string_view prefix);

// Ed25519 (the agent's identity key).
struct SigningKey {
  std::string secret_key;  // 64 bytes (libsodium's seed+public form); never logged
  std::string public_key;  // 32 bytes

  static SigningKey generate();
  // nullopt when the bytes are not a valid 64-byte secret key.
  static std::optional<SigningKey> from_secret(std::string_view secret_key);
  std::string sign(std::string_view message) const;  // 64-byte detached signature
};
bool verify_signature(std::string_view public_key, std::string_view message,
                      std::string_view signature);

}  // namespace sallyport::crypto
