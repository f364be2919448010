// port-forward, proxy (OpenSSH ProxyCommand) and ssh-config.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <climits>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/cli/forward_client.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace forward_commands {
namespace {

ForwardRequest forward_request(Context& context, const std::string& target, const std::string& host, int port) {
  if (target.empty()) throw usage_error("--target must name a node ID or name");
  if (host.empty()) throw usage_error("--remote-host must not be empty");
  if (port < 1 || port > 65535) throw usage_error("the remote port must be 1-65535");
  ApiClient& api = context.api();  // refreshes the token first when needed
  ForwardRequest request;
  request.gateway = api.options();
  request.token = context.credentials().token;
  request.target = target;
  request.remote_host = host;
  request.remote_port = static_cast<std::uint16_t>(port);
  return request;
}

std::string self_path() {
  char buffer[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "sallyport";
}

// Single quotes for the shell that runs ProxyCommand.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace
}  // namespace forward_commands

void add_forward_commands(CLI::App& app, Context& context) {
  using namespace forward_commands;
  struct Options {
    std::string target;
    std::string remote_host = "localhost";
    int remote_port = 0;
    int local_port = 0;
    std::string bind = "127.0.0.1";
  };
  auto options = std::make_shared<Options>();

  auto* forward = app.add_subcommand(
      "port-forward", "forward a local port to a port on a node (or on a host the node reaches); prints the port");
  forward->add_option("--target", options->target, "node ID or name")->required();
  forward->add_option("--remote-port", options->remote_port, "port to reach from the node")->required();
  forward->add_option("--remote-host", options->remote_host, "host to reach from the node (default localhost)");
  forward->add_option("--local-port", options->local_port, "local port to listen on (default: a free one)");
  forward->add_option("--bind", options->bind, "local address to listen on (default 127.0.0.1)");
  forward->callback([&context, options] {
    if (options->local_port < 0 || options->local_port > 65535) throw usage_error("--local-port must be 0-65535");
    const auto request = forward_request(context, options->target, options->remote_host, options->remote_port);
    const int status = run_port_forward(request, options->bind, static_cast<std::uint16_t>(options->local_port),
                                        context.out(), context.err());
    if (status != 0) throw CliError(status, "");  // already reported
  });

  auto proxy_options = std::make_shared<Options>();
  proxy_options->remote_port = 22;
  auto* proxy = app.add_subcommand(
      "proxy", "connect stdin/stdout to a port on a node, for ssh -o ProxyCommand='sallyport proxy --target %h'");
  proxy->add_option("--target", proxy_options->target, "node ID or name (%h)")->required();
  proxy->add_option("--port", proxy_options->remote_port, "port on the node (default 22)");
  proxy->add_option("--remote-host", proxy_options->remote_host, "host to reach from the node (default localhost)");
  proxy->callback([&context, proxy_options] {
    const auto request =
        forward_request(context, proxy_options->target, proxy_options->remote_host, proxy_options->remote_port);
    const int status = run_proxy(request, context.err());
    if (status != 0) throw CliError(status, "");
  });

  auto* ssh_config = app.add_subcommand(
      "ssh-config", "print an OpenSSH Host block so `ssh NODE` (name or ID) goes through the gateway");
  ssh_config->callback([&context] {
    // The gateway decides, per node, whether this user may forward to its port 22.
    const json answer = context.api().get("/v1/nodes?forward_port=22");
    std::vector<std::string> names;
    for (const auto& node : list_field(answer, "nodes")) {
      const auto verdict = node.find("port_forward");  // absent (an older gateway): not listed
      const bool reachable = verdict != node.end() && verdict->is_object() && verdict->contains("allowed") &&
                             verdict->at("allowed") == true;
      if (!reachable) continue;
      for (const auto* key : {"name", "id"}) {
        const std::string value = field_text(node, key);
        const bool usable = !value.empty() && value.find_first_of(" \t\"'*?!,") == std::string::npos;
        if (usable && std::find(names.begin(), names.end(), value) == names.end()) names.push_back(value);
      }
    }
    auto& out = context.out();
    out << "# Sallyport nodes: `ssh NODE`, scp, sftp, rsync -e ssh and Ansible reach them through the gateway.\n"
        << "# Generated by `sallyport ssh-config`; add it to ~/.ssh/config (or Include it).\n";
    if (names.empty()) {
      out << "# (no node's port 22 is reachable for this user)\n";
      return;
    }
    out << "Host";
    for (const auto& name : names) out << " " << name;
    out << "\n";
    std::string command = quoted(self_path()) + " proxy --target %h --port %p";
    if (const auto dir = context.env("SALLYPORT_CONFIG_DIR")) command = "env SALLYPORT_CONFIG_DIR=" + quoted(*dir) + " " + command;
    out << "    ProxyCommand " << command << "\n";
  });
}

}  // namespace sallyport::cli
