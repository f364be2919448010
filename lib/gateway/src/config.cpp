#include "sallyport/gateway/config.hpp"

#include <set>
#include <string_view>
#include <toml++/toml.h>

#include "sallyport/recording/event_stream.hpp"
#include "sallyport/transport/url.hpp"

namespace sallyport::gateway {
namespace {

template <typename T>
T required_value(const toml::node& node, const std::string& key, const std::filesystem::path& path) {
  if (auto value = node.value<T>()) return *value;
  throw ConfigError(path.string() + ":" + std::to_string(node.source().begin.line) + ": '" + key +
                    "' has the wrong type");
}

}  // namespace

GatewayConfig load_config_file(const std::filesystem::path& path, GatewayConfig config) {
  toml::table table;
  try {
    table = toml::parse_file(path.string());
  } catch (const toml::parse_error& error) {
    throw ConfigError(path.string() + ":" + std::to_string(error.source().begin.line) + ": " +
                      std::string(error.description()));
  }
  static const std::set<std::string> kKnown = {"data_dir", "listen", "tls_cert", "tls_key", "tls_extra_names",
                                               "agent_heartbeat_seconds", "agent_timeout_seconds",
                                               "token_ttl_minutes", "log_level", "log_file", "recording_dir",
                                               "recording_compress", "s3_endpoint", "s3_bucket", "s3_prefix",
                                               "s3_region", "s3_key_file", "s3_retry_seconds", "s3_part_mib", "recording_keep_days", "event_log_file",
                                               "syslog", "recording", "store"};
  const toml::table* gateway = table["gateway"].as_table();
  if (!gateway) {
    if (table.empty()) return config;
    throw ConfigError(path.string() + ": expected a [gateway] table");
  }
  for (const auto& [key, node] : *gateway) {
    const std::string name(key.str());
    if (!kKnown.count(name)) {
      throw ConfigError(path.string() + ":" + std::to_string(node.source().begin.line) + ": unknown key '" + name + "'");
    }
    if (name == "data_dir") config.data_dir = required_value<std::string>(node, name, path);
    if (name == "listen") config.listen = required_value<std::string>(node, name, path);
    if (name == "tls_cert") config.tls_cert_file = required_value<std::string>(node, name, path);
    if (name == "tls_key") config.tls_key_file = required_value<std::string>(node, name, path);
    if (name == "agent_heartbeat_seconds") config.agent_heartbeat_seconds = static_cast<int>(required_value<std::int64_t>(node, name, path));
    if (name == "agent_timeout_seconds") config.agent_timeout_seconds = static_cast<int>(required_value<std::int64_t>(node, name, path));
    if (name == "token_ttl_minutes") config.token_ttl_minutes = static_cast<int>(required_value<std::int64_t>(node, name, path));
    if (name == "log_level") config.log_level = required_value<std::string>(node, name, path);
    if (name == "log_file") config.log_file = required_value<std::string>(node, name, path);
    if (name == "recording") config.recording_enabled = required_value<bool>(node, name, path);
    if (name == "recording_dir") config.recording_dir = required_value<std::string>(node, name, path);
    if (name == "recording_compress") config.recording_compress = required_value<bool>(node, name, path);
    if (name == "s3_endpoint") config.s3_endpoint = required_value<std::string>(node, name, path);
    if (name == "s3_bucket") config.s3_bucket = required_value<std::string>(node, name, path);
    if (name == "s3_prefix") config.s3_prefix = required_value<std::string>(node, name, path);
    if (name == "s3_region") config.s3_region = required_value<std::string>(node, name, path);
    if (name == "s3_key_file") config.s3_key_file = required_value<std::string>(node, name, path);
    if (name == "s3_retry_seconds") config.s3_retry_seconds = static_cast<int>(required_value<std::int64_t>(node, name, path));
    if (name == "s3_part_mib") config.s3_part_mib = static_cast<int>(required_value<std::int64_t>(node, name, path));
    if (name == "recording_keep_days") {
      config.recording_keep_days = static_cast<int>(required_value<std::int64_t>(node, name, path));
    }
    if (name == "event_log_file") config.event_log_file = required_value<std::string>(node, name, path);
    if (name == "syslog") config.syslog = required_value<std::string>(node, name, path);
    if (name == "store") config.store = required_value<std::string>(node, name, path);
    if (name == "tls_extra_names") {
      const toml::array* names = node.as_array();
      if (!names) throw ConfigError(path.string() + ": 'tls_extra_names' must be a list of strings");
      config.tls_extra_names.clear();
      for (const auto& item : *names) config.tls_extra_names.push_back(required_value<std::string>(item, name, path));
    }
  }
  return config;
}

void validate(const GatewayConfig& config) {
  if (!transport::parse_host_port(config.listen)) {
    throw ConfigError("listen address '" + config.listen + "' is not HOST:PORT with an IP address or name");
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    throw ConfigError("--tls-cert and --tls-key go together");
  }
  if (config.agent_heartbeat_seconds < 1 || config.agent_heartbeat_seconds > 300) {
    throw ConfigError("agent heartbeat must be 1-300 seconds");
  }
  if (config.agent_timeout_seconds < 2 * config.agent_heartbeat_seconds || config.agent_timeout_seconds > 600) {
    throw ConfigError("agent timeout must be at least twice the heartbeat and at most 600 seconds");
  }
  if (config.token_ttl_minutes < 1 || config.token_ttl_minutes > 24 * 60) {
    throw ConfigError("token lifetime must be 1-1440 minutes");
  }
  if (!config.s3_endpoint.empty()) {
    if (config.s3_endpoint.rfind("http://", 0) != 0 && config.s3_endpoint.rfind("https://", 0) != 0) {
      throw ConfigError("s3 endpoint must start with http:// or https://");
    }
    if (config.s3_bucket.empty()) throw ConfigError("--s3-bucket is needed with --s3-endpoint");
  }
  if (config.s3_retry_seconds < 1 || config.s3_retry_seconds > 3600) throw ConfigError("s3 retry must be 1-3600 seconds");
  // S3's bounds: parts of at least 5 MiB, and at most 5 GiB in one request.
  if (config.s3_part_mib < 5 || config.s3_part_mib > 5120) throw ConfigError("s3 part size must be 5-5120 MiB");
  if (config.recording_keep_days < 0 || config.recording_keep_days > 36500) {
    throw ConfigError("recording keep days must be 0 (keep) to 36500");
  }
  if (!config.syslog.empty() && !recording::parse_syslog_target(config.syslog)) {
    throw ConfigError("syslog must be udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH");
  }
  // The value itself stays out of the message: it may hold a password.
  if (!config.store.empty() && !is_postgres_store(config.store)) {
    throw ConfigError("store must be empty (SQLite in the data dir) or a PostgreSQL connection string "
                      "(postgresql://HOST/DB or \"host=HOST dbname=DB\")");
  }
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.count(config.log_level)) throw ConfigError("log level must be one of trace, debug, info, warn, error");
}

bool is_postgres_store(const std::string& store) {
  const auto starts_with = [&](std::string_view prefix) { return store.rfind(prefix, 0) == 0; };
  if (starts_with("postgresql://") || starts_with("postgres://")) return true;
  // key=value pairs: a key at the start or after a space.
  const auto has_key = [&](std::string_view key) {
    for (auto at = store.find(key); at != std::string::npos; at = store.find(key, at + 1)) {
      if (at == 0 || store[at - 1] == ' ') return true;
    }
    return false;
  };
  return has_key("host=") || has_key("dbname=");
}

}  // namespace sallyport::gateway
