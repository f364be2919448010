#include "sallyport/transport/url.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

#include "sallyport/transport/http_types.hpp"

namespace sallyport::transport {
namespace {
std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  if (text.empty() || text.size() > 5) return std::nullopt;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else if (text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}
}  // namespace

bool is_ip_literal(std::string_view host) {
  const std::string copy(host);
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, copy.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, copy.c_str(), buffer) == 1;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  if (text.empty() || text.size() > 300) return std::nullopt;
  HostPort result;
  std::string_view rest;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    result.host = std::string(text.substr(1, close - 1));
    if (!is_ip_literal(result.host) || result.host.find(':') == std::string::npos) return std::nullopt;
    rest = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    result.host = std::string(text.substr(0, colon));
    for (char c : result.host) {
      if (!valid_host_char(c)) return std::nullopt;
    }
    rest = text.substr(colon + 1);
  }
  if (rest == "0") {
    result.port = 0;  // any free port
    return result;
  }
  const auto port = parse_port(rest);
  if (!port) return std::nullopt;
  result.port = *port;
  return result;
}

std::string Url::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

UrlParseResult parse_url(std::string_view text) {
  UrlParseResult result;
  if (text.size() > kMaxUrlBytes) {
    result.error = "gateway URL is too long";
    return result;
  }
  constexpr std::string_view kScheme = "https://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    result.error = "gateway URL must start with https:// (got '" + std::string(text.substr(0, 64)) + "')";
    return result;
  }
  std::string_view rest = text.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('@') != std::string_view::npos ||
      rest.find('?') != std::string_view::npos) {
    result.error = "gateway URL must be https://host[:port] without a path";
    return result;
  }
  Url url;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      result.error = "gateway URL has an unclosed '['";
      return result;
    }
    url.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (!is_ip_literal(url.host)) {
      result.error = "gateway URL has an invalid IPv6 address";
      return result;
    }
  } else {
    const auto colon = rest.find(':');
    url.host = std::string(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
    for (char c : url.host) {
      if (!valid_host_char(c)) {
        result.error = "gateway URL has an invalid host name";
        return result;
      }
    }
  }
  if (url.host.empty()) {
    result.error = "gateway URL has no host";
    return result;
  }
  if (!rest.empty()) {
    if (rest.front() != ':') {
      result.error = "gateway URL has junk after the host";
      return result;
    }
    const auto port = parse_port(rest.substr(1));
    if (!port) {
      result.error = "gateway URL has an invalid port";
      return result;
    }
    url.port = *port;
  }
  result.url = url;
  return result;
}

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size()) {
      bool same = true;
      for (std::size_t i = 0; i < key.size() && same; ++i) {
        same = std::tolower(static_cast<unsigned char>(key[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      }
      if (same) return value;
    }
  }
  return "";
}

std::string HttpRequest::path() const {
  const auto q = target.find('?');
  return q == std::string::npos ? target : target.substr(0, q);
}

std::string HttpRequest::query_param(std::string_view name) const {
  const auto q = target.find('?');
  if (q == std::string::npos) return "";
  std::string_view query = std::string_view(target).substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return "";
}

}  // namespace sallyport::transport
