// run(): builds the app, parses, runs the chosen command and maps every failure to one line
// on stderr and an exit code.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "sallyport/cli/cli.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/transport/tls.hpp"
#include "sallyport/util/files.hpp"
#include "sallyport/util/version.hpp"
#include "table.hpp"

namespace sallyport::cli {
namespace {

std::string footer() {
  return "\n" + exit_codes_help() +
         "\nEnvironment:\n"
         "  SALLYPORT_CONFIG_DIR    where the login is kept (default $XDG_CONFIG_HOME/sallyport or\n"
         "                          ~/.config/sallyport)\n"
         "  SALLYPORT_PASSWORD      password for `login` (otherwise asked on the terminal)\n"
         "  SALLYPORT_NEW_PASSWORD  password for `users create` and `users passwd`\n";
}

int fail(Context& context, int code, const std::string& message) {
  // An empty message: the command already said what happened (start-session's exit status).
  if (!message.empty()) context.err() << "sallyport: " << sanitize_for_terminal(message) << "\n";
  return code;
}

// CLI11 checks for a missing subcommand before it complains about words it did not expect,
// so `sallyport frobnicate` would say "A subcommand is required"; name the word instead.
std::string parse_error_message(const CLI::App& app, const CLI::ParseError& error) {
  const auto leftover = app.remaining(/*recurse=*/true);
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr && !leftover.empty()) {
    return "unknown command or argument '" + sanitize_for_terminal(leftover.front()) + "'";
  }
  return error.what();
}

}  // namespace

void build_app(CLI::App& app, Context& context) {
  app.description("Sallyport: reach private machines through a gateway, with every action audited");
  app.set_version_flag("--version", std::string("sallyport ") + kVersion);
  app.require_subcommand(1);
  add_auth_commands(app, context);
  add_activation_commands(app, context);
  add_node_commands(app, context);
  add_user_commands(app, context);
  add_audit_commands(app, context);
  add_policy_commands(app, context);
  add_group_commands(app, context);
  add_preference_commands(app, context);
  add_session_list_commands(app, context);
  app.footer(footer());  // after the subcommands, which would otherwise inherit it
  add_session_client_commands(app, context);
  add_forward_commands(app, context);
}

int run(Context& context, const std::vector<std::string>& args) {
  CLI::App app;
  app.name("sallyport");
  std::vector<const char*> argv{"sallyport"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  try {
    crypto::initialize();
    build_app(app, context);
    app.parse(static_cast<int>(argv.size()), argv.data());
    return kExitOk;
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error, context.out(), context.err());  // --help, --version
    context.err() << "sallyport: " << parse_error_message(app, error) << "\nRun with --help for more information.\n";
    return kExitUsage;
  } catch (const CliError& error) {
    return fail(context, error.exit_code(), error.what());
  } catch (const transport::TransportError& error) {
    return fail(context, kExitUnreachable, error.what());
  } catch (const std::exception& error) {
    return fail(context, kExitError, error.what());
  }
}

int run(int argc, char** argv) {
  Context context(Environment::system());
  return run(context, std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc));
}

}  // namespace sallyport::cli
