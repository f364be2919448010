// /v1/auth/...: login, refresh, logout, whoami.
#include "api_internal.hpp"
#include "sallyport/util/time_format.hpp"

namespace sallyport::gateway::impl {
namespace {

json token_json(const LoginResult& result, const std::string& user) {
  return {{"token", result.token}, {"expires_at", util::format_rfc3339(result.expires_at)}, {"user", user}};
}

HttpResponse login(Context& context, const HttpRequest& request) {
  Body body(request.body);
  const std::string user = body.string("user", true, 64);
  const std::string password = body.string("password", true, 1024);
  if (!body.ok()) return error_response(400, "bad_request", body.error());
  const auto result = context.auth.login(user, password, request.remote_address);
  switch (result.outcome) {
    case LoginResult::Outcome::kOk:
      context.audit.record(user, request.remote_address, "auth:Login", "user/" + user, "success");
      return json_response(200, token_json(result, user));
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
  if (what == "login" && request.method == "POST") return login(context, request);
  if (!caller) return std::nullopt;  // the router answers 401
  if (what == "refresh" && request.method == "POST") {
    auto result = context.auth.refresh(caller->token);
    if (!result) return error_response(401, "unauthorized", "token is invalid or expired: run `sallyport login`");
    context.audit.record(caller->user.name, request.remote_address, "auth:RefreshToken", "user/" + caller->user.name,
                         "success");
    return json_response(200, token_json(*result, caller->user.name));
  }
  if (what == "logout" && request.method == "POST") {
    context.auth.logout(caller->token);
    context.audit.record(caller->user.name, request.remote_address, "auth:Logout", "user/" + caller->user.name,
                         "success");
    return json_response(200, {{"status", "logged out"}});
  }
  if (what == "whoami" && request.method == "GET") return json_response(200, user_json(caller->user));
  return error_response(404, "not_found", "no such route: " + request.method + " " + request.path());
}

}  // namespace sallyport::gateway::impl
