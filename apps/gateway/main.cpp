// sallyport-gateway: serves agents, the CLI and the API on one TLS port.
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

#include "sallyport/gateway/gateway.hpp"
#include "sallyport/util/logging.hpp"
#include "sallyport/util/memory.hpp"

int main(int argc, char** argv) {
  sallyport::util::keep_freed_message_memory();
  using sallyport::gateway::GatewayConfig;
  CLI::App app{"Sallyport gateway: the guarded door to your private machines"};
  app.set_version_flag("--version", "sallyport-gateway 0.1.0");
  std::string config_file, data_dir, store, listen, tls_cert, tls_key, log_level, log_file;
  std::vector<std::string> extra_names;
  int heartbeat = 0, agent_timeout = 0, token_ttl = 0, s3_retry = 0, s3_part = 0;
  std::optional<int> keep_days;  // 0 on the command line overrides a config file's value
  std::string recording_dir, s3_endpoint, s3_bucket, s3_prefix, s3_region, s3_key_file, event_log, syslog;
  bool compress = false, no_recording = false;
  app.add_option("--config", config_file, "TOML configuration file ([gateway] table)")->check(CLI::ExistingFile);
  app.add_option("--data-dir", data_dir, "state, keys, certificates and logs (default ./gw)");
  app.add_option("--store", store,
                 "PostgreSQL connection string (postgresql://USER@HOST/DB or \"host=H dbname=D\") to share state "
                 "between gateways; default SQLite in DATA_DIR. Give the password in PGPASSWORD or ~/.pgpass");
  app.add_option("--listen", listen, "HOST:PORT to serve TLS on (default 127.0.0.1:8443)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain to use instead of the built-in CA");
  app.add_option("--tls-key", tls_key, "PEM private key for --tls-cert");
  app.add_option("--tls-extra-name", extra_names, "extra DNS name or IP for the generated certificate");
  app.add_option("--agent-heartbeat", heartbeat, "seconds between agent heartbeats (default 10)");
  app.add_option("--agent-timeout", agent_timeout, "seconds of silence before a node is ConnectionLost (default 25)");
  app.add_option("--token-ttl", token_ttl, "minutes a login token lives (default 60)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error (default info)");
  app.add_option("--log-file", log_file, "write the log here instead of standard error");
  app.add_option("--recording-dir", recording_dir, "session recordings (default DATA_DIR/recordings)");
  app.add_flag("--no-recording", no_recording, "do not record or stream sessions (benchmarks, troubleshooting)");
  app.add_flag("--recording-compress", compress, "compress finished recordings with zstd");
  app.add_option("--s3-endpoint", s3_endpoint, "S3-compatible store for recordings, e.g. https://s3.eu-west-1.amazonaws.com");
  app.add_option("--s3-bucket", s3_bucket, "bucket for recordings");
  app.add_option("--s3-prefix", s3_prefix, "key prefix, e.g. recordings/");
  app.add_option("--s3-region", s3_region, "region for request signing (default us-east-1)");
  app.add_option("--s3-key-file", s3_key_file, "file with ACCESS_KEY:SECRET_KEY (else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)");
  app.add_option("--s3-retry-seconds", s3_retry, "seconds between upload attempts while the store is down (default 30)");
  app.add_option("--s3-part-mib", s3_part, "upload recordings larger than this in parts of this many MiB (5-5120, default 64)");
  app.add_option("--recording-keep-days", keep_days,
                 "remove local recordings this many days old (once uploaded, with a bucket; default 0: keep)");
  app.add_option("--event-log", event_log, "JSON-lines log of session output and audit events (default DATA_DIR/events.log)");
  app.add_option("--syslog", syslog, "also stream events to syslog: udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH");
  CLI11_PARSE(app, argc, argv);

  try {
    GatewayConfig config;
    if (!config_file.empty()) config = sallyport::gateway::load_config_file(config_file);
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!store.empty()) config.store = store;
    if (!listen.empty()) config.listen = listen;
    if (!tls_cert.empty()) config.tls_cert_file = tls_cert;
    if (!tls_key.empty()) config.tls_key_file = tls_key;
    if (!extra_names.empty()) config.tls_extra_names = extra_names;
    if (heartbeat) config.agent_heartbeat_seconds = heartbeat;
    if (agent_timeout) config.agent_timeout_seconds = agent_timeout;
    if (token_ttl) config.token_ttl_minutes = token_ttl;
    if (!log_level.empty()) config.log_level = log_level;
    if (!log_file.empty()) config.log_file = log_file;
    if (!recording_dir.empty()) config.recording_dir = recording_dir;
    if (compress) config.recording_compress = true;
    if (no_recording) config.recording_enabled = false;
    if (!s3_endpoint.empty()) config.s3_endpoint = s3_endpoint;
    if (!s3_bucket.empty()) config.s3_bucket = s3_bucket;
    if (!s3_prefix.empty()) config.s3_prefix = s3_prefix;
    if (!s3_region.empty()) config.s3_region = s3_region;
    if (!s3_key_file.empty()) config.s3_key_file = s3_key_file;
    if (s3_retry) config.s3_retry_seconds = s3_retry;
    if (s3_part) config.s3_part_mib = s3_part;
    if (keep_days) config.recording_keep_days = *keep_days;
    if (!event_log.empty()) config.event_log_file = event_log;
    if (!syslog.empty()) config.syslog = syslog;
    sallyport::util::setup_logging("gateway", config.log_level, config.log_file);

    sallyport::gateway::Gateway gateway(config);
    std::cout << "Sallyport gateway listening on https://" << config.listen.substr(0, config.listen.rfind(':')) << ":"
              << gateway.port() << "\n"
              << "CA fingerprint: " << gateway.ca_fingerprint() << "\n";
    if (!gateway.startup_notice().empty()) std::cout << gateway.startup_notice() << "\n";
    std::cout << std::flush;
    gateway.run();
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "sallyport-gateway: " << error.what() << "\n";
    return 1;
  }
}
