#pragma once
// The command groups. Each adds its subcommands to the app; a subcommand's work runs as its
// CLI11 callback after the whole command line parsed, checks its arguments before any network
// call, and reports failures by throwing CliError.
#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace sallyport::cli {

class Context;

void add_auth_commands(CLI::App& app, Context& context);        // login, logout, whoami
void add_activation_commands(CLI::App& app, Context& context);  // activations create|ls|delete
void add_node_commands(CLI::App& app, Context& context);        // nodes ls|show|tag|deregister
void add_user_commands(CLI::App& app, Context& context);        // users create|ls|delete|passwd
void add_audit_commands(CLI::App& app, Context& context);       // audit ls
void add_policy_commands(CLI::App& app, Context& context);      // policies create|update|ls|show|delete|attach|detach|simulate
void add_group_commands(CLI::App& app, Context& context);       // groups create|delete|ls|show|add-user|remove-user
void add_preference_commands(CLI::App& app, Context& context);  // preferences get|set
void add_session_list_commands(CLI::App& app, Context& context);  // sessions ls|show|terminate
void add_session_client_commands(CLI::App& app, Context& context);  // start-session
void add_recording_commands(CLI::App& sessions, Context& context);  // sessions recording|play
void add_watch_command(CLI::App& sessions, Context& context);       // sessions watch
void add_forward_commands(CLI::App& app, Context& context);  // port-forward, proxy, ssh-config

// The whole app, as `sallyport --help` shows it.
void build_app(CLI::App& app, Context& context);

// Parses and runs one command line (without the program name); returns the exit code after
// printing any error as "sallyport: <message>" on the context's error stream.
int run(Context& context, const std::vector<std::string>& args);

}  // namespace sallyport::cli
