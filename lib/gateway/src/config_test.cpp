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
