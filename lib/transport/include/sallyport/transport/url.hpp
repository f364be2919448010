#pragma once
// Gateway addresses as users type them: "https://host[:port][/]". Only https is accepted.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::transport {

struct Url {
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 443;
  std::string to_string() const;  // canonical "https://host:port"
};

struct UrlParseResult {
  std::optional<Url> url;
  std::string error;
};

constexpr std::size_t kMaxUrlBytes = 2048;
UrlParseResult parse_url(std::string_view text);

// "127.0.0.1:8443", "[::1]:8443", "localhost:8443" for --listen.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

bool is_ip_literal(std::string_view host);

}  // namespace sallyport::transport
