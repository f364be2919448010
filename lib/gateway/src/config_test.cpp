#include "sallyport/gateway/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

using namespace sallyport::gateway;

namespace {
std::filesystem::path write_config(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("sp-config-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST(Config, ReadsGatewayTable) {
  const auto path = write_config("[gateway]\nlisten = \"127.0.0.1:9443\"\nagent_heartbeat_seconds = 2\nagent_timeout_seconds = 6\ntls_extra_names = [\"gw.internal\"]\n");
  const auto config = load_config_file(path);
  EXPECT_EQ(config.listen, "127.0.0.1:9443");
  EXPECT_EQ(config.agent_heartbeat_seconds, 2);
  EXPECT_EQ(config.tls_extra_names, std::vector<std::string>{"gw.internal"});
  EXPECT_NO_THROW(validate(config));
  std::filesystem::remove(path);
}

TEST(Config, UnknownKeyNamesTheLine) {
  const auto path = write_config("[gateway]\nlisten = \"127.0.0.1:9443\"\nlisten_port = 5\n");
  try {
    load_config_file(path);
    FAIL();
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find(":3: unknown key 'listen_port'"), std::string::npos) << error.what();
  }
  std::filesystem::remove(path);
}

TEST(Config, SyntaxErrorAndWrongType) {
  auto path = write_config("[gateway\n");
  EXPECT_THROW(load_config_file(path), ConfigError);
  path = write_config("[gateway]\nagent_heartbeat_seconds = \"ten\"\n");
  EXPECT_THROW(load_config_file(path), ConfigError);
  std::filesystem::remove(path);
}

TEST(Config, ValidateRefusesBadValues) {
  GatewayConfig config;
  config.listen = "nowhere";
  EXPECT_THROW(validate(config), ConfigError);
  config = {};
  config.agent_heartbeat_seconds = 10;
  config.agent_timeout_seconds = 15;
  EXPECT_THROW(validate(config), ConfigError);
  config = {};
  config.tls_cert_file = "x.pem";
  EXPECT_THROW(validate(config), ConfigError);
}

TEST(Config, RecordingDestinations) {
  const auto path = write_config(
      "[gateway]\nrecording_compress = true\ns3_endpoint = \"http://127.0.0.1:4568\"\ns3_bucket = \"rec\"\n"
      "s3_prefix = \"gw1/\"\ns3_retry_seconds = 5\ns3_part_mib = 16\nsyslog = \"tcp://127.0.0.1:601\"\nrecording = true\n"
      "recording_keep_days = 30\n");
  auto config = load_config_file(path);
  EXPECT_TRUE(config.recording_compress);
  EXPECT_EQ(config.s3_bucket, "rec");
  EXPECT_EQ(config.s3_prefix, "gw1/");
  EXPECT_EQ(config.s3_retry_seconds, 5);
  EXPECT_EQ(config.s3_part_mib, 16);
  EXPECT_EQ(config.recording_keep_days, 30);
  EXPECT_NO_THROW(validate(config));
  config.recording_keep_days = -1;
  EXPECT_THROW(validate(config), ConfigError);
  config.recording_keep_days = 36501;
  EXPECT_THROW(validate(config), ConfigError);
  config.recording_keep_days = 0;  // keep
  EXPECT_NO_THROW(validate(config));
  config.s3_part_mib = 4;  // S3 refuses parts under 5 MiB
  EXPECT_THROW(validate(config), ConfigError);
  config.s3_part_mib = 5121;
  EXPECT_THROW(validate(config), ConfigError);
  config.s3_part_mib = 64;
  config.syslog = "smtp://x:1";
  EXPECT_THROW(validate(config), ConfigError);
  config.syslog = "";
  config.s3_endpoint = "ftp://x";
  EXPECT_THROW(validate(config), ConfigError);
  config.s3_endpoint = "https://s3.example";
  config.s3_bucket = "";
  EXPECT_THROW(validate(config), ConfigError);
  std::filesystem::remove(path);
}

TEST(Config, StoreIsSqliteByDefaultOrAPostgresConnectionString) {
  GatewayConfig config;
  EXPECT_TRUE(config.store.empty());
  const auto path = write_config("[gateway]\nstore = \"postgresql://sallyport@db.internal/sallyport\"\n");
  config = load_config_file(path);
  EXPECT_EQ(config.store, "postgresql://sallyport@db.internal/sallyport");
  EXPECT_NO_THROW(validate(config));
  for (const std::string good : {"postgres://db/sp", "host=db.internal dbname=sp", "dbname=sp",
                                 "user=gw host=/run/postgresql"}) {
    config.store = good;
    EXPECT_NO_THROW(validate(config)) << good;
  }
  for (const std::string bad : {"state.db", "mysql://db/sp", "port=5432 password=hunter2", "myhost=db"}) {
    config.store = bad;
    try {
      validate(config);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ConfigError& error) {
      // The value may hold a password: the message never repeats it.
      EXPECT_EQ(std::string(error.what()).find(bad), std::string::npos) << error.what();
    }
  }
  std::filesystem::remove(path);
}
