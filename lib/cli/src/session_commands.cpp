// start-session: a shell or a command on a node, through the gateway.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "sallyport/cli/session_client.hpp"

namespace sallyport::cli {

void add_session_client_commands(CLI::App& app, Context& context) {
  struct Options {
    std::string target;
    std::vector<std::string> command;
  };
  auto options = std::make_shared<Options>();
  auto* start = app.add_subcommand("start-session",
                                   "open a shell on a node, or run a command after `--` (stdin, stdout and stderr "
                                   "kept apart; exits with the command's status)");
  start->add_option("--target", options->target, "node ID or name")->required();
  start->add_option("command", options->command, "command and arguments (after --)");
  start->callback([&context, options] {
    ApiClient& api = context.api();  // refreshes the token first when needed
    SessionRequest request;
    request.gateway = api.options();
    request.token = context.credentials().token;
    request.target = options->target;
    request.command = options->command;
    const int status = run_session(request);
    // The session printed its own messages; the status passes through unchanged.
    if (status != 0) throw CliError(status, "");
  });
}

}  // namespace sallyport::cli
