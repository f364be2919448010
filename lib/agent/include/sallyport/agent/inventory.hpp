#pragma once
// What the agent reports about its host: read from uname, /etc/os-release and the interfaces.
#include <string>
#include <vector>

namespace sallyport::agent {

struct HostInventory {
  std::string hostname;
  std::string platform_name;
  std::string platform_version;
  std::string kernel;
  std::string architecture;
  std::vector<std::string> ip_addresses;  // non-loopback first; loopback only when nothing else
};

HostInventory collect_inventory();
// Parses os-release text (NAME=, VERSION_ID=, quoted or not) into name and version.
void parse_os_release(const std::string& text, std::string& name, std::string& version);

}  // namespace sallyport::agent
