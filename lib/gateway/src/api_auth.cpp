// /v1/auth/...: login, refresh, logout, whoami.
#include <algorithm>
#include <utility>

#include "api_internal.hpp"
#include "web_auth.hpp"
#include "sallyport/util/time_format.hpp"

namespace sallyport::gateway::impl {
namespace {

constexpr std::pair<const char*, const char*> kConsoleActions[] = {
    {"node:List", "node/*"},         {"session:List", "session/*"},   {"user:List", "user/*"},
    {"user:Create", "user/*"},       {"group:List", "group/*"},       {"policy:List", "policy/*"},
    {"policy:Simulate", "user/*"},   {"activation:List", "activation/*"}, {"activation:Create", "activation/*"},
    {"audit:Read", "audit/*"},       {"preferences:Read", "preferences"}, {"preferences:Update", "preferences"}};

json token_json(const LoginResult& result, const std::string& user) {
  return {{"token", result.token}, {"expires_at", util::format_rfc3339(result.expires_at)}, {"user", user}};
}

// The web console's login answer: the token only in an HttpOnly cookie, the CSRF token in the body.
HttpResponse web_session(Context& context, const LoginResult& result, const std::string& user) {
  const auto max_age = std::max<std::int64_t>(0, (result.expires_at - context.clock.now_ms()) / 1000);
  auto response = json_response(200, {{"user", user},
                                      {"csrf_token", csrf_token_for(result.token)},
                                      {"expires_at", util::format_rfc3339(result.expires_at)}});
  response.headers.emplace_back("Set-Cookie", session_cookie(result.token, max_age));
  return response;
}

enum class LoginKind { kToken, kCookie };

HttpResponse login(Context& context, const HttpRequest& request, LoginKind kind) {
  Body body(request.body);
  const std::string user = body.string("user", true, 64);
  const std::string password = body.string("password", true, 1024);
  if (!body.ok()) return error_response(400, "bad_request", body.error());
  const auto result = context.auth.login(user, password, request.remote_address);
  switch (result.outcome) {
    case LoginResult::Outcome::kOk:
      context.audit.record(user, request.remote_address, "auth:Login", "user/" + user, "success");
      return kind == LoginKind::kCookie ? web_session(context, result, user) : json_response(200, token_json(result, user));
    case LoginResult::Outcome::kRateLimited:
      context.audit.record(user, request.remote_address, "auth:Login", "user/" + user, "failure",
                           "rate limited after repeated failures");
      return error_response(429, "rate_limited", "too many failed logins; wait a few minutes and try again");
    case LoginResult::Outcome::kBadCredentials:
      break;
  }
  context.audit.record(user, request.remote_address, "auth:Login", "user/" + user, "failure", "wrong user or password");
  return error_response(401, "bad_credentials", "wrong user name or password");
}

}  // namespace

std::optional<HttpResponse> handle_auth(Context& context, const HttpRequest& request,
                                        const std::vector<std::string>& path, const std::optional<Caller>& caller) {
  if (path.size() != 3 || path[1] != "auth") return std::nullopt;
  const std::string& what = path[2];
  if (what == "login" && request.method == "POST") return login(context, request, LoginKind::kToken);
  if (what == "session" && request.method == "POST") {
    // A browser names the page that sent the login; only this gateway's own page may set its cookie.
    if (!request.header("origin").empty() && !same_origin(request)) {
      return error_response(403, "forbidden", "the console's login is accepted only from its own page");
    }
    return login(context, request, LoginKind::kCookie);
  }
  if (!caller) return std::nullopt;  // the router answers 401
  if (what == "refresh" && request.method == "POST") {
    auto result = context.auth.refresh(caller->token);
    if (!result) return error_response(401, "unauthorized", "token is invalid or expired: run `sallyport login`");
    context.audit.record(caller->user.name, request.remote_address, "auth:RefreshToken", "user/" + caller->user.name,
                         "success");
    return json_response(200, token_json(*result, caller->user.name));
  }
  if ((what == "logout" && request.method == "POST") || (what == "session" && request.method == "DELETE")) {
    context.auth.logout(caller->token);
    context.audit.record(caller->user.name, request.remote_address, "auth:Logout", "user/" + caller->user.name,
                         "success");
    auto response = json_response(200, {{"status", "logged out"}});
    if (caller->via_cookie) response.headers.emplace_back("Set-Cookie", cleared_session_cookie());
    return response;
  }
  if (what == "whoami" && request.method == "GET") {
    json user = user_json(caller->user);
    if (caller->via_cookie) user["csrf_token"] = csrf_token_for(caller->token);
    // Hints for what the console shows; every request is still decided by the policies.
    json can = json::object();
    for (const auto& [action, resource] : kConsoleActions) can[action] = context.allowed(*caller, action, resource);
    user["can"] = can;
    return json_response(200, user);
  }
  return error_response(404, "not_found", "no such route: " + request.method + " " + request.path());
}

}  // namespace sallyport::gateway::impl
