#include "config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "error.hpp"
#include "sallyport/util/files.hpp"
#include "test_support.hpp"

namespace sallyport::cli {
namespace {

using testing::TempDir;

EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

unsigned mode_of(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return static_cast<unsigned>(info.st_mode) & 0777u;
}

TEST(ConfigDir, SallyportConfigDirWins) {
  EXPECT_EQ(resolve_config_dir(env_of({{"SALLYPORT_CONFIG_DIR", "/tmp/cfg"},
                                       {"XDG_CONFIG_HOME", "/home/a/.xdg"},
                                       {"HOME", "/home/a"}})),
            std::filesystem::path("/tmp/cfg"));
}

TEST(ConfigDir, XdgConfigHomeNext) {
  EXPECT_EQ(resolve_config_dir(env_of({{"XDG_CONFIG_HOME", "/home/a/.xdg"}, {"HOME", "/home/a"}})),
            std::filesystem::path("/home/a/.xdg/sallyport"));
}

TEST(ConfigDir, HomeLast) {
  EXPECT_EQ(resolve_config_dir(env_of({{"HOME", "/home/a"}})), std::filesystem::path("/home/a/.config/sallyport"));
}

TEST(ConfigDir, EmptyValuesCountAsUnset) {
  EXPECT_EQ(resolve_config_dir(env_of({{"SALLYPORT_CONFIG_DIR", ""}, {"XDG_CONFIG_HOME", ""}, {"HOME", "/h"}})),
            std::filesystem::path("/h/.config/sallyport"));
}

TEST(ConfigDir, NothingSetIsAClearError) {
  try {
    resolve_config_dir(env_of({}));
    FAIL() << "expected an error";
  } catch (const CliError& error) {
    EXPECT_EQ(error.exit_code(), kExitError);
    EXPECT_NE(std::string(error.what()).find("SALLYPORT_CONFIG_DIR"), std::string::npos);
  }
}

TEST(ConfigStore, CredentialsRoundTripWithPrivateModes) {
  TempDir temp;
  const ConfigStore store(temp.path() / "new" / "sallyport");
  EXPECT_FALSE(store.load_credentials());
  const Credentials saved{"https://127.0.0.1:8443", "admin", "secret-token", "2027-01-01T00:00:00.000Z"};
  store.save_credentials(saved);
  const auto loaded = store.load_credentials();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->gateway, saved.gateway);
  EXPECT_EQ(loaded->user, saved.user);
  EXPECT_EQ(loaded->token, saved.token);
  EXPECT_EQ(loaded->expires_at, saved.expires_at);
  EXPECT_EQ(mode_of(store.dir() / kCredentialsFile), 0600u);
  EXPECT_EQ(mode_of(store.dir()), 0700u);

  EXPECT_TRUE(store.remove_credentials());
  EXPECT_FALSE(store.load_credentials());
  EXPECT_FALSE(store.remove_credentials());
}

TEST(ConfigStore, SavedCaBelongsToOneGateway) {
  TempDir temp;
  const ConfigStore store(temp.path());
  EXPECT_FALSE(store.load_ca());
  EXPECT_FALSE(store.load_ca_for("https://127.0.0.1:8443"));
  store.save_ca("https://127.0.0.1:8443", "PEM");
  EXPECT_EQ(store.load_ca().value_or(""), "PEM");
  EXPECT_EQ(store.load_ca_for("https://127.0.0.1:8443").value_or(""), "PEM");
  EXPECT_FALSE(store.load_ca_for("https://other.example:8443"));
  EXPECT_EQ(mode_of(temp.path() / kCaFile), 0600u);
  EXPECT_EQ(mode_of(temp.path() / kTrustFile), 0600u);
}

TEST(ConfigStore, DamagedCredentialsMeanNotLoggedIn) {
  TempDir temp;
  const ConfigStore store(temp.path());
  for (const std::string text : {"not json", "[]", R"({"gateway":"https://h:1","user":"a","token":5})"}) {
    util::write_file_atomic(temp.path() / kCredentialsFile, text);
    try {
      store.load_credentials();
      FAIL() << "expected an error for " << text;
    } catch (const CliError& error) {
      EXPECT_EQ(error.exit_code(), kExitNotLoggedIn);
      EXPECT_NE(std::string(error.what()).find("sallyport login"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace sallyport::cli
