#include "web_auth.hpp"

#include "sallyport/crypto/crypto.hpp"

namespace sallyport::gateway {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string cookie_value(std::string_view header, std::string_view name) {
  if (header.size() > kMaxCookieHeaderBytes || name.empty()) return "";
  while (!header.empty()) {
    const auto end = header.find(';');
    const std::string_view pair = trim(header.substr(0, end));
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (trim(pair.substr(0, equals)) != name) continue;
    std::string_view value = trim(pair.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return "";
}

Credentials request_credentials(const transport::HttpRequest& request) {
  const std::string authorization = request.header("authorization");
  if (authorization.rfind("Bearer ", 0) == 0) return {CredentialSource::kBearer, authorization.substr(7)};
  std::string token = cookie_value(request.header("cookie"), kSessionCookie);
  if (!token.empty()) return {CredentialSource::kCookie, std::move(token)};
  return {};
}

std::string csrf_token_for(std::string_view session_token) {
  std::string input = "sallyport-csrf-v1:";
  input.append(session_token);
  return crypto::sha256_hex(input);
}

bool safe_method(std::string_view method) { return method == "GET" || method == "HEAD" || method == "OPTIONS"; }

bool csrf_ok(const transport::HttpRequest& request, std::string_view session_token) {
  const std::string given = request.header(kCsrfHeader);
  if (given.empty() || session_token.empty()) return false;
  return crypto::constant_time_equal(given, csrf_token_for(session_token));
}

std::string websocket_token(const transport::HttpRequest& request) {
  auto credentials = request_credentials(request);
  if (credentials.source == CredentialSource::kBearer) return std::move(credentials.token);
  if (credentials.source == CredentialSource::kCookie && same_origin(request)) return std::move(credentials.token);
  return "";
}

bool same_origin(const transport::HttpRequest& request) {
  const std::string origin = request.header("origin");
  const std::string host = request.header("host");
  return !origin.empty() && !host.empty() && origin == "https://" + host;
}

std::string session_cookie(std::string_view token, std::int64_t max_age_seconds) {
  return std::string(kSessionCookie) + "=" + std::string(token) + "; Path=/; Max-Age=" +
         std::to_string(max_age_seconds) + "; HttpOnly; Secure; SameSite=Strict";
}

std::string cleared_session_cookie() {
  return std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict";
}

}  // namespace sallyport::gateway
