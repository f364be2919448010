#include "sallyport/agent/inventory.hpp"

#include <gtest/gtest.h>

using namespace sallyport::agent;

TEST(Inventory, ParsesOsRelease) {
  std::string name, version;
  parse_os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
                   name, version);
  EXPECT_EQ(name, "Debian GNU/Linux");
  EXPECT_EQ(version, "12");
}

TEST(Inventory, CollectsThisHost) {
  const auto inventory = collect_inventory();
  EXPECT_FALSE(inventory.hostname.empty());
  EXPECT_FALSE(inventory.kernel.empty());
  EXPECT_FALSE(inventory.architecture.empty());
  EXPECT_FALSE(inventory.ip_addresses.empty());
}
