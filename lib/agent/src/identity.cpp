#include "sallyport/agent/identity.hpp"

#include <nlohmann/json.hpp>

#include "sallyport/util/files.hpp"

namespace sallyport::agent {
namespace {
constexpr std::size_t kMaxStateFileBytes = 64 * 1024;
}

bool has_identity(const std::filesystem::path& state_dir) {
  std::error_code ec;
  return std::filesystem::exists(state_dir / "agent.json", ec);
}

Identity load_identity(const std::filesystem::path& state_dir) {
  if (!has_identity(state_dir)) {
    throw AgentError("no agent identity in " + state_dir.string() + ": run `sallyport-agent register` first");
  }
  Identity identity;
  try {
    const auto state = nlohmann::json::parse(util::read_file(state_dir / "agent.json", kMaxStateFileBytes));
    identity.gateway = state.at("gateway").get<std::string>();
    identity.node_id = state.at("node_id").get<std::string>();
    identity.name = state.value("name", "");
  } catch (const nlohmann::json::exception& error) {
    throw AgentError((state_dir / "agent.json").string() + " is malformed: " + error.what());
  } catch (const util::FileError& error) {
    throw AgentError(error.what());
  }
  try {
    const std::string key_text = util::read_file(state_dir / "agent.key", kMaxStateFileBytes);
    const auto secret = crypto::base64url_decode(key_text.substr(0, key_text.find_first_of("\r\n")));
    const auto key = secret ? crypto::SigningKey::from_secret(*secret) : std::nullopt;
    if (!key) throw AgentError((state_dir / "agent.key").string() + " does not hold a valid Ed25519 key");
    identity.key = *key;
    identity.ca_pem = util::read_file(state_dir / "gateway-ca.pem", kMaxStateFileBytes);
  } catch (const util::FileError& error) {
    throw AgentError(error.what());
  }
  return identity;
}

void save_identity(const std::filesystem::path& state_dir, const Identity& identity) {
  util::ensure_directory(state_dir, 0700);
  util::write_file_atomic(state_dir / "agent.key", crypto::base64url_encode(identity.key.secret_key) + "\n", 0600);
  util::write_file_atomic(state_dir / "gateway-ca.pem", identity.ca_pem, 0644);
  const nlohmann::json state = {{"gateway", identity.gateway}, {"node_id", identity.node_id}, {"name", identity.name}};
  // Written last: its presence means registration completed.
  util::write_file_atomic(state_dir / "agent.json", state.dump(2) + "\n", 0600);
}

}  // namespace sallyport::agent
