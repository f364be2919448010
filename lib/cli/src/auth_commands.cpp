// login, logout, whoami.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/crypto/pki.hpp"
#include "sallyport/transport/url.hpp"
#include "sallyport/util/files.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace auth_commands {
namespace {

constexpr std::size_t kMaxCaFileBytes = 1 << 20;

struct LoginOptions {
  std::string gateway;
  std::string user;
  std::string ca_fingerprint;
  std::string ca_file;
};

// Whom to trust: the pinned fingerprint or CA file given now, else the CA saved at an earlier
// login to the same gateway. There is no trust-on-first-use.
transport::TrustConfig login_trust(const Context& context, const LoginOptions& options, const std::string& gateway) {
  transport::TrustConfig trust;
  if (!options.ca_fingerprint.empty()) {
    const auto canonical = crypto::normalize_fingerprint(options.ca_fingerprint);
    if (!canonical) {
      throw usage_error("--ca-fingerprint: '" + options.ca_fingerprint.substr(0, 100) +
                        "' is not a SHA-256 fingerprint (expected SHA256: and 64 hex digits)");
    }
    trust.fingerprint = *canonical;
    return trust;
  }
  if (!options.ca_file.empty()) {
    try {
      trust.ca_pem = util::read_file(options.ca_file, kMaxCaFileBytes);
    } catch (const util::FileError& error) {
      throw usage_error(std::string("--ca-file: ") + error.what());
    }
    if (!crypto::certificate_fingerprint(trust.ca_pem)) {
      throw usage_error("--ca-file: " + options.ca_file + " holds no PEM certificate");
    }
    return trust;
  }
  if (auto saved = context.store().load_ca_for(gateway)) {
    trust.ca_pem = std::move(*saved);
    return trust;
  }
  throw CliError(kExitUnreachable,
                 "the gateway's CA is not trusted yet: pass --ca-fingerprint SHA256:<hex> (printed by "
                 "sallyport-gateway at start, or `openssl x509 -in DATA_DIR/tls/ca.pem -noout -fingerprint "
                 "-sha256`) or --ca-file DATA_DIR/tls/ca.pem");
}

std::string login_password(const Context& context, const std::string& user, const std::string& gateway) {
  if (auto password = context.env("SALLYPORT_PASSWORD"); password && !password->empty()) return *password;
  auto password = context.environment().read_secret("Password for " + user + " at " + gateway + ": ");
  if (!password) throw usage_error("no password: set SALLYPORT_PASSWORD or run `sallyport login` on a terminal");
  if (password->empty()) throw usage_error("no password given");
  return *password;
}

void login(Context& context, const LoginOptions& options) {
  const auto parsed = transport::parse_url(options.gateway);
  if (!parsed.url) throw usage_error("--gateway: " + parsed.error);
  if (options.user.empty()) throw usage_error("--user must not be empty");
  const std::string gateway = parsed.url->to_string();
  transport::ClientOptions client_options;
  client_options.gateway = *parsed.url;
  client_options.trust = login_trust(context, options, gateway);
  const std::string password = login_password(context, options.user, gateway);

  ApiClient client(context.environment().send, client_options);
  const json answer = client.post("/v1/auth/login", {{"user", options.user}, {"password", password}});
  Credentials credentials;
  credentials.gateway = gateway;
  credentials.user = field_text(answer, "user").empty() ? options.user : field_text(answer, "user");
  credentials.token = field_text(answer, "token");
  credentials.expires_at = field_text(answer, "expires_at");
  if (credentials.token.empty()) throw CliError(kExitError, "the gateway's login answer has no token");
  std::string ca_pem = client.trusted_ca_pem().empty() ? client_options.trust.ca_pem : client.trusted_ca_pem();
  if (ca_pem.empty()) throw CliError(kExitUnreachable, "the transport did not report which CA it trusted");

  const auto store = context.store();
  store.save_ca(gateway, ca_pem);
  store.save_credentials(credentials);
  context.out() << "Logged in to " << gateway << " as " << credentials.user << " (token valid until "
                << credentials.expires_at << ")\n";
}

void logout(Context& context) {
  const auto store = context.store();
  std::optional<Credentials> saved;
  try {
    saved = store.load_credentials();
  } catch (const CliError&) {
    store.remove_credentials();  // a damaged file is no login worth keeping
    context.out() << "Removed the damaged login from " << store.dir().string() << "\n";
    return;
  }
  if (!saved) {
    context.out() << "Not logged in.\n";
    return;
  }
  std::string problem;
  try {
    context.api_as_saved().post("/v1/auth/logout", json::object());
  } catch (const CliError& error) {
    // An expired token needs no logout; anything else is reported, but the local login goes.
    if (error.exit_code() != kExitNotLoggedIn) problem = error.what();
  }
  store.remove_credentials();
  if (problem.empty()) {
    context.out() << "Logged out of " << saved->gateway << "\n";
    return;
  }
  context.out() << "Logged out of " << saved->gateway << " on this machine\n";
  context.err() << "sallyport: warning: could not tell the gateway (" << problem << "); the token stays valid until "
                << saved->expires_at << "\n";
}

void whoami(Context& context, bool as_json) {
  const json user = context.api().get("/v1/auth/whoami");
  if (as_json) {
    print_json(context.out(), user);
    return;
  }
  const auto& credentials = context.credentials();
  print_fields(context.out(), {{"User", field_text(user, "name")},
                               {"Administrator", field_text(user, "admin") == "true" ? "yes" : "no"},
                               {"Tags", field_text(user, "tags")},
                               {"Gateway", credentials.gateway},
                               {"Token valid until", credentials.expires_at}});
}

}  // namespace
}  // namespace auth_commands

void add_auth_commands(CLI::App& app, Context& context) {
  using namespace auth_commands;
  auto options = std::make_shared<LoginOptions>();
  auto* login_command = app.add_subcommand("login", "log in to a gateway and save a short-lived token");
  login_command->add_option("--gateway", options->gateway, "https://HOST:PORT of the gateway")->required();
  login_command->add_option("--user", options->user, "user name")->required();
  auto* fingerprint = login_command->add_option("--ca-fingerprint", options->ca_fingerprint,
                                                "SHA256:<hex> of the gateway's CA (printed by sallyport-gateway)");
  auto* ca_file = login_command->add_option("--ca-file", options->ca_file, "the gateway's CA (DATA_DIR/tls/ca.pem)");
  fingerprint->excludes(ca_file);
  login_command->footer(
      "The password comes from SALLYPORT_PASSWORD or a prompt on the terminal. The CA trusted here is\n"
      "saved and used by later commands, so --ca-fingerprint/--ca-file are needed only the first time.");
  login_command->callback([&context, options] { login(context, *options); });

  app.add_subcommand("logout", "end the saved login (forgotten locally even if the gateway is unreachable)")
      ->callback([&context] { logout(context); });

  auto as_json = std::make_shared<bool>(false);
  auto* whoami_command = app.add_subcommand("whoami", "show the logged-in user");
  whoami_command->add_flag("--json", *as_json, "print the gateway's JSON");
  whoami_command->callback([&context, as_json] { whoami(context, *as_json); });
}

}  // namespace sallyport::cli
