#pragma once
// Where the CLI keeps its login: a folder (mode 0700) holding credentials.json (gateway, user,
// token, expiry) and gateway-ca.pem (the CA that anchored trust at login, so pinned trust
// persists) plus trust.json naming the gateway that CA belongs to. Files are mode 0600.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace sallyport::cli {

// Reads an environment variable; nullopt when unset. Replaceable in tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup system_env();

// $SALLYPORT_CONFIG_DIR, else $XDG_CONFIG_HOME/sallyport, else $HOME/.config/sallyport.
// Empty values count as unset. Throws CliError when none of them is set.
std::filesystem::path resolve_config_dir(const EnvLookup& env);

struct Credentials {
  std::string gateway;     // canonical "https://host:port"
  std::string user;
  std::string token;       // bearer secret; never printed
  std::string expires_at;  // RFC 3339, as the gateway sent it
};

inline constexpr const char* kCredentialsFile = "credentials.json";
inline constexpr const char* kCaFile = "gateway-ca.pem";
inline constexpr const char* kTrustFile = "trust.json";

class ConfigStore {
 public:
  explicit ConfigStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  // nullopt when there is no saved login; throws CliError (not logged in) when it is damaged.
  std::optional<Credentials> load_credentials() const;
  void save_credentials(const Credentials& credentials) const;
  // True when a file was removed.
  bool remove_credentials() const;

  // The saved CA certificate(s), and the gateway they were saved for.
  std::optional<std::string> load_ca() const;
  std::optional<std::string> load_ca_for(const std::string& gateway) const;
  void save_ca(const std::string& gateway, const std::string& ca_pem) const;

 private:
  void ensure_dir() const;
  std::filesystem::path dir_;
};

}  // namespace sallyport::cli
