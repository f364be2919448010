// groups create|delete|ls|show|add-user|remove-user.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace group_commands {
namespace {

std::string group_target(const std::string& name) {
  if (name.empty()) throw usage_error("the group name must not be empty");
  return "/v1/groups/" + url_encode(name);
}

std::string none_if_empty(const std::string& text) { return text.empty() ? "(none)" : text; }

void create(Context& context, const std::string& name) {
  group_target(name);  // checks the name
  context.api().post("/v1/groups", {{"name", name}});
  context.out() << "Created group " << name << "\n";
}

void remove(Context& context, const std::string& name) {
  context.api().del(group_target(name));
  context.out() << "Deleted group " << name << " (its members keep their accounts)\n";
}

void list(Context& context, bool as_json) {
  const json answer = context.api().get("/v1/groups");
  if (as_json) {
    print_json(context.out(), answer);
    return;
  }
  Table table({"NAME", "MEMBERS", "POLICIES", "CREATED"});
  for (const auto& group : list_field(answer, "groups")) {
    table.add_row({field_text(group, "name"), field_text(group, "members"), field_text(group, "policies"),
                   field_text(group, "created_at")});
  }
  context.out() << table.render();
}

void show(Context& context, const std::string& name, bool as_json) {
  const json group = context.api().get(group_target(name));
  if (as_json) {
    print_json(context.out(), group);
    return;
  }
  print_fields(context.out(), {{"Name", field_text(group, "name")},
                               {"Members", none_if_empty(field_text(group, "members"))},
                               {"Policies", none_if_empty(field_text(group, "policies"))},
                               {"Created", field_text(group, "created_at")}});
}

struct MemberOptions {
  std::string group;
  std::string user;
};

void add_user(Context& context, const MemberOptions& options) {
  using namespace group_commands;
  const std::string target = group_target(options.group) + "/members";
  if (options.user.empty()) throw usage_error("the user name must not be empty");
  context.api().post(target, {{"user", options.user}});
  context.out() << "Added user " << options.user << " to group " << options.group << "\n";
}

void remove_user(Context& context, const MemberOptions& options) {
  const std::string target = group_target(options.group) + "/members/";
  if (options.user.empty()) throw usage_error("the user name must not be empty");
  context.api().del(target + url_encode(options.user));
  context.out() << "Removed user " << options.user << " from group " << options.group << "\n";
}

}  // namespace
}  // namespace group_commands

void add_group_commands(CLI::App& app, Context& context) {
  using namespace group_commands;
  auto* group = app.add_subcommand("groups", "groups of users; policies attached to a group apply to its members");
  group->require_subcommand(1);

  auto create_name = std::make_shared<std::string>();
  auto* create_command = group->add_subcommand("create", "create a group");
  create_command->add_option("name", *create_name, "group name (letters, digits, '.', '_', '-')")->required();
  create_command->callback([&context, create_name] { create(context, *create_name); });

  auto delete_name = std::make_shared<std::string>();
  auto* delete_command = group->add_subcommand("delete", "delete a group (its memberships and attachments go too)");
  delete_command->add_option("name", *delete_name, "group name")->required();
  delete_command->callback([&context, delete_name] { remove(context, *delete_name); });

  auto list_json = std::make_shared<bool>(false);
  auto* list_command = group->add_subcommand("ls", "list groups with their members and policies");
  list_command->add_flag("--json", *list_json, "print the gateway's JSON");
  list_command->callback([&context, list_json] { list(context, *list_json); });

  struct ShowOptions {
    std::string name;
    bool as_json = false;
  };
  auto show_options = std::make_shared<ShowOptions>();
  auto* show_command = group->add_subcommand("show", "show a group's members and attached policies");
  show_command->add_option("name", show_options->name, "group name")->required();
  show_command->add_flag("--json", show_options->as_json, "print the gateway's JSON");
  show_command->callback([&context, show_options] { show(context, show_options->name, show_options->as_json); });

  auto add_options = std::make_shared<MemberOptions>();
  auto* add_command = group->add_subcommand("add-user", "add a user to a group");
  add_command->add_option("group", add_options->group, "group name")->required();
  add_command->add_option("user", add_options->user, "user name")->required();
  add_command->callback([&context, add_options] { add_user(context, *add_options); });

  auto remove_options = std::make_shared<MemberOptions>();
  auto* remove_command = group->add_subcommand("remove-user", "remove a user from a group");
  remove_command->add_option("group", remove_options->group, "group name")->required();
  remove_command->add_option("user", remove_options->user, "user name")->required();
  remove_command->callback([&context, remove_options] { remove_user(context, *remove_options); });
}

}  // namespace sallyport::cli
