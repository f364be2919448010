#include "sallyport/agent/identity.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

using namespace sallyport;
using namespace sallyport::agent;

TEST(Identity, RoundTripsWithPrivateKeyMode0600) {
  const auto dir = std::filesystem::temp_directory_path() / ("sp-identity-" + std::to_string(::getpid()));
  EXPECT_FALSE(has_identity(dir));
  EXPECT_THROW(load_identity(dir), AgentError);
  Identity identity{"https://127.0.0.1:8443", "mi-0123456789abcdef0", "web-1", crypto::SigningKey::generate(), "PEM"};
  save_identity(dir, identity);
  const auto loaded = load_identity(dir);
  EXPECT_EQ(loaded.node_id, identity.node_id);
  EXPECT_EQ(loaded.key.public_key, identity.key.public_key);
  EXPECT_EQ(loaded.ca_pem, "PEM");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "agent.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ofstream(dir / "agent.key") << "garbage";
  EXPECT_THROW(load_identity(dir), AgentError);
  std::filesystem::remove_all(dir);
}
