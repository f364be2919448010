#include "sallyport/agent/inventory.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sstream>

#include "sallyport/util/files.hpp"

namespace sallyport::agent {
namespace {

std::string unquote(std::string value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

std::vector<std::string> interface_addresses() {
  std::vector<std::string> addresses;
  std::vector<std::string> loopback;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return addresses;
  for (ifaddrs* entry = list; entry; entry = entry->ifa_next) {
    if (!entry->ifa_addr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const int family = entry->ifa_addr->sa_family;
    bool is_loopback = false;
    if (family == AF_INET) {
      const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      ::inet_ntop(AF_INET, &address->sin_addr, text, sizeof text);
      is_loopback = (ntohl(address->sin_addr.s_addr) >> 24) == 127;
    } else if (family == AF_INET6) {
      const auto* address = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&address->sin6_addr)) continue;
      ::inet_ntop(AF_INET6, &address->sin6_addr, text, sizeof text);
      is_loopback = IN6_IS_ADDR_LOOPBACK(&address->sin6_addr);
    } else {
      continue;
    }
    (is_loopback ? loopback : addresses).push_back(text);
  }
  ::freeifaddrs(list);
  if (addresses.empty()) addresses = loopback;
  if (addresses.size() > 32) addresses.resize(32);
  return addresses;
}

}  // namespace

void parse_os_release(const std::string& text, std::string& name, std::string& version) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    if (key == "NAME") name = unquote(line.substr(eq + 1));
    if (key == "VERSION_ID") version = unquote(line.substr(eq + 1));
  }
}

HostInventory collect_inventory() {
  HostInventory inventory;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  inventory.hostname = host;
  utsname names{};
  if (::uname(&names) == 0) {
    inventory.kernel = std::string(names.sysname) + " " + names.release;
    inventory.architecture = names.machine;
  }
  try {
    if (auto text = util::read_file_if_exists("/etc/os-release", 64 * 1024)) {
      parse_os_release(*text, inventory.platform_name, inventory.platform_version);
    }
  } catch (const util::FileError&) {
  }
  if (inventory.platform_name.empty()) inventory.platform_name = "Linux";
  inventory.ip_addresses = interface_addresses();
  // Bound each field to what the wire schema accepts.
  inventory.hostname = inventory.hostname.substr(0, 255);
  inventory.platform_name = inventory.platform_name.substr(0, 128);
  inventory.platform_version = inventory.platform_version.substr(0, 128);
  return inventory;
}

}  // namespace sallyport::agent
