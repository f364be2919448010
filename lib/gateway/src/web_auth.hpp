#pragma once
// The web console's credentials: an HttpOnly session cookie carrying the same bearer token the
// CLI uses, and a CSRF token derived from it that every state-changing request must echo in
// the X-CSRF-Token header. Pure functions over header text, bounded, so they are fuzzed with
// the API.
#include <cstdint>
#include <string>
#include <string_view>

#include "sallyport/transport/http_types.hpp"

namespace sallyport::gateway {

inline constexpr const char* kSessionCookie = "sp_session";
inline constexpr const char* kCsrfHeader = "x-csrf-token";
constexpr std::size_t kMaxCookieHeaderBytes = 8 * 1024;  // longer Cookie headers are ignored

// The value of cookie `name` in a Cookie header ("a=1; b=2"); "" when absent, malformed or the
// header is longer than kMaxCookieHeaderBytes.
std::string cookie_value(std::string_view header, std::string_view name);

enum class CredentialSource { kNone, kBearer, kCookie };
struct Credentials {
  CredentialSource source = CredentialSource::kNone;
  std::string token;
};
// A bearer Authorization header wins over the cookie (the CLI never sends cookies).
Credentials request_credentials(const transport::HttpRequest& request);

// The CSRF token bound to a session token: knowing it requires the cookie's secret.
std::string csrf_token_for(std::string_view session_token);
// True for methods that change nothing (GET, HEAD, OPTIONS).
bool safe_method(std::string_view method);
// The request carries the CSRF token that belongs to session_token (compared in constant time).
bool csrf_ok(const transport::HttpRequest& request, std::string_view session_token);
// The Origin header names this very gateway (https://<Host>); used for cookie WebSockets.
bool same_origin(const transport::HttpRequest& request);
// The token a client WebSocket (sessions, forwards) may use: the CLI's bearer token, or the
// console's cookie only when the page came from this gateway; "" otherwise.
std::string websocket_token(const transport::HttpRequest& request);

// Set-Cookie values: the session (HttpOnly, Secure, SameSite=Strict, Path=/) and its removal.
std::string session_cookie(std::string_view token, std::int64_t max_age_seconds);
std::string cleared_session_cookie();

}  // namespace sallyport::gateway
