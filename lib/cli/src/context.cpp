#include "context.hpp"

#include <iostream>

#include "error.hpp"
#include "output.hpp"
#include "sallyport/transport/url.hpp"
#include "sallyport/util/time_format.hpp"
#include "terminal.hpp"

namespace sallyport::cli {

Environment Environment::system() {
  Environment environment;
  environment.env = system_env();
  environment.send = transport::https_request;
  environment.read_secret = cli::read_secret_from_tty;
  environment.stdin_is_terminal = cli::stdin_is_terminal;
  environment.now = [] { return util::SystemClock::instance().now_ms(); };
  environment.out = &std::cout;
  environment.err = &std::cerr;
  environment.in = &std::cin;
  return environment;
}

std::string login_hint(const std::string& gateway, const std::string& user) {
  return "run `sallyport login --gateway " + (gateway.empty() ? std::string("https://HOST:PORT") : gateway) +
         " --user " + (user.empty() ? std::string("NAME") : user) + "`";
}

ConfigStore Context::store() const { return ConfigStore(resolve_config_dir(environment_.env)); }

const Credentials& Context::credentials() {
  load_session();
  return *credentials_;
}

void Context::load_session() {
  if (api_) return;
  const auto config = store();
  auto saved = config.load_credentials();
  if (!saved) throw CliError(kExitNotLoggedIn, "not logged in: " + login_hint());
  const auto url = transport::parse_url(saved->gateway);
  if (!url.url) {
    throw CliError(kExitNotLoggedIn, "the saved gateway address is unusable (" + url.error + "): " + login_hint());
  }
  auto ca = config.load_ca();
  if (!ca) {
    throw CliError(kExitNotLoggedIn, "the gateway's CA is missing from " + config.dir().string() + ": " +
                                         login_hint(saved->gateway, saved->user));
  }
  transport::ClientOptions options;
  options.gateway = *url.url;
  options.trust.ca_pem = std::move(*ca);
  api_ = std::make_unique<ApiClient>(environment_.send, std::move(options), saved->token);
  credentials_ = std::move(saved);
}

ApiClient& Context::api_as_saved() {
  load_session();
  return *api_;
}

ApiClient& Context::api() {
  load_session();
  if (!fresh_) refresh_if_needed();
  return *api_;
}

void Context::refresh_if_needed() {
  const auto expires = util::parse_rfc3339(credentials_->expires_at);
  // An unreadable expiry is treated as due, so the gateway decides.
  if (expires && *expires - now() > kRefreshMarginMs) {
    fresh_ = true;
    return;
  }
  json answer;
  try {
    answer = api_->post("/v1/auth/refresh", json::object());
  } catch (const CliError& error) {
    if (error.exit_code() != kExitNotLoggedIn) throw;
    throw CliError(kExitNotLoggedIn, "your login to " + credentials_->gateway + " has expired: " +
                                         login_hint(credentials_->gateway, credentials_->user));
  }
  const std::string token = field_text(answer, "token");
  if (token.empty()) throw CliError(kExitError, "the gateway's answer to a token refresh has no token");
  credentials_->token = token;
  credentials_->expires_at = field_text(answer, "expires_at");
  store().save_credentials(*credentials_);
  api_->set_token(token);
  fresh_ = true;
}

}  // namespace sallyport::cli
