#pragma once
// Gateway configuration: built-in defaults, then a TOML file (--config), then flags.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace sallyport::gateway {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct GatewayConfig {
  std::filesystem::path data_dir = "./gw";
  std::string listen = "127.0.0.1:8443";
  std::filesystem::path tls_cert_file;     // optional: use this chain instead of the built-in CA
  std::filesystem::path tls_key_file;
  std::vector<std::string> tls_extra_names;  // extra SANs for the generated server certificate
  int agent_heartbeat_seconds = 10;          // told to agents in the welcome message
  int agent_timeout_seconds = 25;            // silence after which a link is dropped (ConnectionLost)
  int token_ttl_minutes = 60;
  std::string log_level = "info";
  std::filesystem::path log_file;            // empty: standard error
  // Recordings and the streaming log (see recording/).
  bool recording_enabled = true;             // off only for benchmarks and troubleshooting
  std::filesystem::path recording_dir;       // empty: DATA_DIR/recordings
  bool recording_compress = false;           // zstd
  std::string s3_endpoint;                   // empty: no object store
  std::string s3_bucket;
  std::string s3_prefix;
  std::string s3_region = "us-east-1";
  std::filesystem::path s3_key_file;         // ACCESS_KEY:SECRET_KEY; else AWS_* environment
  int s3_retry_seconds = 30;                 // between upload attempts while the store is down
  int s3_part_mib = 64;                      // larger recordings go up in parts of this size
  int recording_keep_days = 0;               // 0: keep local copies; else remove them this much older
  std::filesystem::path event_log_file;      // empty: DATA_DIR/events.log
  std::string syslog;                        // "udp://HOST:PORT", "tcp://HOST:PORT", "unix:///PATH" or ""
  // Where the state lives: empty for SQLite in DATA_DIR/state.db, else a PostgreSQL connection
  // string (postgresql://... or "host=... dbname=..."). May hold a password: never logged.
  std::string store;
};

// Reads the [gateway] table of a TOML file over the given defaults. Unknown keys are errors
// (a typo must not silently fall back to a default). Throws ConfigError naming file and line.
GatewayConfig load_config_file(const std::filesystem::path& path, GatewayConfig defaults = {});
// Checks ranges and combinations; throws ConfigError.
void validate(const GatewayConfig& config);

// Whether a store setting names a PostgreSQL database (a postgresql:// or postgres:// URI, or
// libpq key=value pairs with host= or dbname=).
bool is_postgres_store(const std::string& store);

}  // namespace sallyport::gateway
