// nodes ls|show|tag|deregister.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/util/tags.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace node_commands {
namespace {

// The first address, with a count of the others: machines often have many (bridges, VPNs).
std::string first_ip(const json& node) {
  const auto it = node.find("ip_addresses");
  if (it == node.end() || !it->is_array() || it->empty()) return "";
  std::string text = value_text(it->front());
  if (it->size() > 1) text += " (+" + std::to_string(it->size() - 1) + ")";
  return text;
}

std::string node_target(const std::string& id_or_name) {
  if (id_or_name.empty()) throw usage_error("the node ID or name must not be empty");
  return "/v1/nodes/" + url_encode(id_or_name);
}

void list(Context& context, bool as_json) {
  const json answer = context.api().get("/v1/nodes");
  if (as_json) {
    print_json(context.out(), answer);
    return;
  }
  Table table({"NODE ID", "NAME", "PING STATUS", "PLATFORM", "AGENT", "IP", "TAGS", "LAST PING"});
  for (const auto& node : list_field(answer, "nodes")) {
    table.add_row({field_text(node, "id"), field_text(node, "name"), field_text(node, "ping_status"),
                   field_text(node, "platform"), field_text(node, "agent_version"), first_ip(node),
                   field_text(node, "tags"), field_text(node, "last_ping_at")});
  }
  context.out() << table.render();
}

void show(Context& context, const std::string& id_or_name, bool as_json) {
  const std::string target = node_target(id_or_name);
  const json node = context.api().get(target);
  if (as_json) {
    print_json(context.out(), node);
    return;
  }
  print_fields(context.out(), {{"Node ID", field_text(node, "id")},
                               {"Name", field_text(node, "name")},
                               {"Ping status", field_text(node, "ping_status")},
                               {"Platform", field_text(node, "platform")},
                               {"Kernel", field_text(node, "kernel")},
                               {"Architecture", field_text(node, "architecture")},
                               {"Hostname", field_text(node, "hostname")},
                               {"Agent version", field_text(node, "agent_version")},
                               {"IP addresses", field_text(node, "ip_addresses")},
                               {"Tags", field_text(node, "tags")},
                               {"Registered at", field_text(node, "registered_at")},
                               {"Last ping", field_text(node, "last_ping_at")},
                               {"Activation ID", field_text(node, "activation_id")}});
}

struct TagOptions {
  std::string node;
  std::string tags;
  std::vector<std::string> remove;
};

void tag(Context& context, const TagOptions& options) {
  const std::string target = node_target(options.node) + "/tags";
  const auto tags = util::parse_tags(options.tags);
  if (!tags.error.empty()) throw usage_error("tags: " + tags.error);
  for (const auto& key : options.remove) {
    if (auto problem = util::validate_tag(key, ""); !problem.empty()) throw usage_error("--remove: " + problem);
  }
  if (tags.tags.empty() && options.remove.empty()) throw usage_error("give tags as k=v[,k2=v2] and/or --remove KEY");
  const json node = context.api().put(target, {{"tags", tags.tags}, {"remove", options.remove}});
  const std::string now = field_text(node, "tags");
  context.out() << "Tags of " << field_text(node, "id") << " (" << field_text(node, "name")
                << "): " << (now.empty() ? "(none)" : now) << "\n";
}

void deregister(Context& context, const std::string& id_or_name) {
  const json answer = context.api().del(node_target(id_or_name));
  context.out() << "Deregistered node " << field_text(answer, "id")
                << " (its key is revoked; a new activation is needed to register it again)\n";
}

}  // namespace
}  // namespace node_commands

void add_node_commands(CLI::App& app, Context& context) {
  using namespace node_commands;
  auto* group = app.add_subcommand("nodes", "the machines whose agents registered with the gateway");
  group->require_subcommand(1);

  auto list_json = std::make_shared<bool>(false);
  auto* list_command = group->add_subcommand("ls", "list nodes");
  list_command->add_flag("--json", *list_json, "print the gateway's JSON");
  list_command->callback([&context, list_json] { list(context, *list_json); });

  struct ShowOptions {
    std::string node;
    bool as_json = false;
  };
  auto show_options = std::make_shared<ShowOptions>();
  auto* show_command = group->add_subcommand("show", "show one node");
  show_command->add_option("node", show_options->node, "node ID or name")->required();
  show_command->add_flag("--json", show_options->as_json, "print the gateway's JSON");
  show_command->callback([&context, show_options] { show(context, show_options->node, show_options->as_json); });

  auto tag_options = std::make_shared<TagOptions>();
  auto* tag_command = group->add_subcommand("tag", "add or change a node's tags, or remove some");
  tag_command->add_option("node", tag_options->node, "node ID or name")->required();
  tag_command->add_option("tags", tag_options->tags, "k=v[,k2=v2] to add or change");
  tag_command->add_option("--remove", tag_options->remove, "tag key to remove (repeatable)")
      ->allow_extra_args(false);
  tag_command->callback([&context, tag_options] { tag(context, *tag_options); });

  auto node = std::make_shared<std::string>();
  auto* deregister_command = group->add_subcommand("deregister", "revoke a node's key and remove it from the list");
  deregister_command->add_option("node", *node, "node ID or name")->required();
  deregister_command->callback([&context, node] { deregister(context, *node); });
}

}  // namespace sallyport::cli
