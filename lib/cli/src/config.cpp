#include "config.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "sallyport/util/files.hpp"

namespace sallyport::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxConfigFileBytes = 1 << 20;

std::optional<std::string> non_empty(const EnvLookup& env, const std::string& name) {
  auto value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

CliError damaged(const std::filesystem::path& path, const std::string& why) {
  return CliError(kExitNotLoggedIn, path.string() + " is damaged (" + why + "): run `sallyport login` again");
}

}  // namespace

EnvLookup system_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::filesystem::path resolve_config_dir(const EnvLookup& env) {
  if (auto dir = non_empty(env, "SALLYPORT_CONFIG_DIR")) return *dir;
  if (auto xdg = non_empty(env, "XDG_CONFIG_HOME")) return std::filesystem::path(*xdg) / "sallyport";
  if (auto home = non_empty(env, "HOME")) return std::filesystem::path(*home) / ".config" / "sallyport";
  throw CliError(kExitError, "cannot find a folder for the CLI's settings: set SALLYPORT_CONFIG_DIR or HOME");
}

void ConfigStore::ensure_dir() const {
  // ensure_directory gives a folder it creates mode 0700; an existing one is left as it is.
  util::ensure_directory(dir_, 0700);
}

std::optional<Credentials> ConfigStore::load_credentials() const {
  const auto path = dir_ / kCredentialsFile;
  const auto text = util::read_file_if_exists(path, kMaxConfigFileBytes);
  if (!text) return std::nullopt;
  const json value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) throw damaged(path, "not a JSON object");
  Credentials credentials;
  for (auto [name, field] : {std::pair{"gateway", &credentials.gateway}, std::pair{"user", &credentials.user},
                             std::pair{"token", &credentials.token}, std::pair{"expires_at", &credentials.expires_at}}) {
    const auto it = value.find(name);
    if (it == value.end() || !it->is_string()) throw damaged(path, std::string("no '") + name + "'");
    *field = it->get<std::string>();
  }
  return credentials;
}

void ConfigStore::save_credentials(const Credentials& credentials) const {
  ensure_dir();
  const json value = {{"gateway", credentials.gateway},
                      {"user", credentials.user},
                      {"token", credentials.token},
                      {"expires_at", credentials.expires_at}};
  util::write_file_atomic(dir_ / kCredentialsFile, value.dump(2) + "\n", 0600);
}

bool ConfigStore::remove_credentials() const {
  std::error_code ec;
  const bool removed = std::filesystem::remove(dir_ / kCredentialsFile, ec);
  if (ec) throw CliError(kExitError, "cannot remove " + (dir_ / kCredentialsFile).string() + ": " + ec.message());
  return removed;
}

std::optional<std::string> ConfigStore::load_ca() const {
  return util::read_file_if_exists(dir_ / kCaFile, kMaxConfigFileBytes);
}

std::optional<std::string> ConfigStore::load_ca_for(const std::string& gateway) const {
  const auto trust = util::read_file_if_exists(dir_ / kTrustFile, kMaxConfigFileBytes);
  if (!trust) return std::nullopt;
  const json value = json::parse(*trust, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object() || value.value("gateway", json()) != gateway) return std::nullopt;
  return load_ca();
}

void ConfigStore::save_ca(const std::string& gateway, const std::string& ca_pem) const {
  ensure_dir();
  util::write_file_atomic(dir_ / kCaFile, ca_pem, 0600);
  util::write_file_atomic(dir_ / kTrustFile, json{{"gateway", gateway}}.dump(2) + "\n", 0600);
}

}  // namespace sallyport::cli
