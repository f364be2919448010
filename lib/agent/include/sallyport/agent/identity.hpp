#pragma once
// What `sallyport-agent register` leaves in the state dir, and `run` reads back:
//   agent.json      {"gateway": "https://…", "node_id": "mi-…", "name": "…"}
//   agent.key       the Ed25519 secret key, base64url, mode 0600 (it never leaves the host)
//   gateway-ca.pem  the CA certificate the gateway was verified against at registration
#include <filesystem>
#include <stdexcept>
#include <string>

#include "sallyport/crypto/crypto.hpp"

namespace sallyport::agent {

struct AgentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Identity {
  std::string gateway;  // https URL
  std::string node_id;
  std::string name;
  crypto::SigningKey key;
  std::string ca_pem;
};

bool has_identity(const std::filesystem::path& state_dir);
// Throws AgentError naming the missing or malformed file.
Identity load_identity(const std::filesystem::path& state_dir);
void save_identity(const std::filesystem::path& state_dir, const Identity& identity);

}  // namespace sallyport::agent
