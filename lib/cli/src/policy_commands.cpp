// policies create|update|ls|show|delete|attach|detach|simulate.
#include <CLI/CLI.hpp>
#include <filesystem>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/util/files.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace policy_commands {
namespace {

// The gateway refuses larger policies, and its request limit is the same.
constexpr std::size_t kMaxPolicyFileBytes = 64 * 1024;

std::string policy_target(const std::string& name) {
  if (name.empty()) throw usage_error("the policy name must not be empty");
  return "/v1/policies/" + url_encode(name);
}

// The document exactly as written, so the gateway's line/column point into the user's file.
std::string read_document(const std::string& path) {
  if (path.empty()) throw usage_error("--file: give the policy document's path");
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxPolicyFileBytes) throw usage_error("--file: " + path + " is larger than 64 KiB");
  std::string text;
  try {
    text = util::read_file(path, kMaxPolicyFileBytes);
  } catch (const std::exception& error) {
    throw usage_error("--file: " + std::string(error.what()));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw usage_error("--file: " + path + " is empty");
  return text;
}

void print_warnings(const Context& context, const json& answer) {
  for (const auto& warning : list_field(answer, "warnings")) {
    context.err() << "warning: " << sanitize_for_terminal(value_text(warning)) << "\n";
  }
}

struct DocumentOptions {
  std::string name;
  std::string file;
};

// create (POST) or update (PUT); a refused document is reported against the file's name.
void submit(Context& context, const DocumentOptions& options, bool create) {
  const std::string target = policy_target(options.name);
  const std::string text = read_document(options.file);
  json answer;
  try {
    answer = create ? context.api().post("/v1/policies", {{"name", options.name}, {"document", text}})
                    : context.api().put(target, {{"document", text}});
  } catch (const CliError& error) {
    if (error.exit_code() != kExitBadRequest) throw;
    throw CliError(kExitBadRequest, options.file + ": " + error.what());
  }
  context.out() << (create ? "Created policy " : "Updated policy ") << options.name << "\n";
  print_warnings(context, answer);
}

void list(Context& context, bool as_json) {
  const json answer = context.api().get("/v1/policies");
  if (as_json) {
    print_json(context.out(), answer);
    return;
  }
  Table table({"NAME", "BUILT-IN", "UPDATED"});
  for (const auto& policy : list_field(answer, "policies")) {
    table.add_row({field_text(policy, "name"), field_text(policy, "builtin") == "true" ? "yes" : "no",
                   field_text(policy, "updated_at")});
  }
  context.out() << table.render();
}

void show(Context& context, const std::string& name, bool as_json) {
  const json policy = context.api().get(policy_target(name));
  if (as_json) {
    print_json(context.out(), policy);
    return;
  }
  print_fields(context.out(), {{"Name", field_text(policy, "name")},
                               {"Built-in", field_text(policy, "builtin") == "true" ? "yes" : "no"},
                               {"Created", field_text(policy, "created_at")},
                               {"Updated", field_text(policy, "updated_at")}});
  context.out() << "Document:\n";
  // Line by line: the text is the author's, so each line is cleaned but the layout kept.
  std::string document = field_text(policy, "document");
  std::size_t start = 0;
  while (start < document.size()) {
    auto end = document.find('\n', start);
    if (end == std::string::npos) end = document.size();
    context.out() << sanitize_for_terminal(document.substr(start, end - start)) << "\n";
    start = end + 1;
  }
}

void remove(Context& context, const std::string& name) {
  context.api().del(policy_target(name));
  context.out() << "Deleted policy " << name << " (detached from every user and group)\n";
}

struct AttachOptions {
  std::string name;
  std::string user;
  std::string group;
};

void attach(Context& context, const AttachOptions& options, bool attaching) {
  const std::string target = policy_target(options.name) + (attaching ? "/attach" : "/detach");
  if (options.user.empty() == options.group.empty()) throw usage_error("give exactly one of --user and --group");
  const bool user = !options.user.empty();
  const std::string principal = user ? options.user : options.group;
  context.api().post(target, {{user ? "user" : "group", principal}});
  context.out() << (attaching ? "Attached policy " : "Detached policy ") << options.name
                << (attaching ? " to " : " from ") << (user ? "user " : "group ") << principal << "\n";
}

struct SimulateOptions {
  std::string user;
  std::string action;
  std::string resource;
  std::vector<std::string> context;
  bool as_json = false;
};

// --context k=v, repeatable; a key given twice has several values.
json parse_context(const std::vector<std::string>& items) {
  json context = json::object();
  for (const auto& item : items) {
    const auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw usage_error("--context: '" + item + "' is not of the form key=value");
    }
    auto& values = context[item.substr(0, equals)];
    if (values.is_null()) values = json::array();
    values.push_back(item.substr(equals + 1));
  }
  return context;
}

void simulate(Context& context, const SimulateOptions& options) {
  if (options.user.empty()) throw usage_error("--user must not be empty");
  if (options.action.find(':') == std::string::npos) {
    throw usage_error("--action: '" + options.action + "' is not of the form service:Name (e.g. session:Start)");
  }
  if (options.resource.empty()) throw usage_error("--resource must not be empty");
  const json body = {{"user", options.user},
                     {"action", options.action},
                     {"resource", options.resource},
                     {"context", parse_context(options.context)}};
  const json answer = context.api().post("/v1/policies/simulate", body);
  if (options.as_json) {
    print_json(context.out(), answer);
    return;
  }
  // The decision alone on the first line, for eyes and for `head -1`; exit 0 either way.
  context.out() << sanitize_for_terminal(field_text(answer, "decision")) << "\n"
                << sanitize_for_terminal(field_text(answer, "explanation")) << "\n";
  print_warnings(context, answer);
}

}  // namespace
}  // namespace policy_commands

void add_policy_commands(CLI::App& app, Context& context) {
  using namespace policy_commands;
  auto* group = app.add_subcommand("policies", "IAM-style policies that decide what users may do");
  group->require_subcommand(1);
  group->footer(
      "Built-in policies: AdministratorAccess, SessionUser, ReadOnly (they cannot be changed).\n"
      "A malformed document is refused with its line, column and element.");

  auto create_options = std::make_shared<DocumentOptions>();
  auto* create_command = group->add_subcommand("create", "create a policy from a JSON document");
  create_command->add_option("name", create_options->name, "policy name (letters, digits, '.', '_', '-')")->required();
  create_command->add_option("--file", create_options->file, "the policy document (JSON)")->required();
  create_command->callback([&context, create_options] { submit(context, *create_options, true); });

  auto update_options = std::make_shared<DocumentOptions>();
  auto* update_command = group->add_subcommand("update", "replace a policy's document (applies to the next request)");
  update_command->add_option("name", update_options->name, "policy name")->required();
  update_command->add_option("--file", update_options->file, "the new policy document (JSON)")->required();
  update_command->callback([&context, update_options] { submit(context, *update_options, false); });

  auto list_json = std::make_shared<bool>(false);
  auto* list_command = group->add_subcommand("ls", "list policies");
  list_command->add_flag("--json", *list_json, "print the gateway's JSON");
  list_command->callback([&context, list_json] { list(context, *list_json); });

  struct ShowOptions {
    std::string name;
    bool as_json = false;
  };
  auto show_options = std::make_shared<ShowOptions>();
  auto* show_command = group->add_subcommand("show", "show a policy and its document");
  show_command->add_option("name", show_options->name, "policy name")->required();
  show_command->add_flag("--json", show_options->as_json, "print the gateway's JSON");
  show_command->callback([&context, show_options] { show(context, show_options->name, show_options->as_json); });

  auto delete_name = std::make_shared<std::string>();
  auto* delete_command = group->add_subcommand("delete", "delete a policy (detaching it everywhere)");
  delete_command->add_option("name", *delete_name, "policy name")->required();
  delete_command->callback([&context, delete_name] { remove(context, *delete_name); });

  for (const bool attaching : {true, false}) {
    auto options = std::make_shared<AttachOptions>();
    auto* command = group->add_subcommand(attaching ? "attach" : "detach",
                                          attaching ? "attach a policy to a user or a group"
                                                    : "detach a policy from a user or a group");
    command->add_option("name", options->name, "policy name")->required();
    command->add_option("--user", options->user, "user name");
    command->add_option("--group", options->group, "group name");
    command->callback([&context, options, attaching] { attach(context, *options, attaching); });
  }

  auto simulate_options = std::make_shared<SimulateOptions>();
  auto* simulate_command = group->add_subcommand(
      "simulate", "decide a request for a user without making it: prints allow or deny and why (exit 0 either way)");
  simulate_command->add_option("--user", simulate_options->user, "the user whose policies and groups apply")->required();
  simulate_command->add_option("--action", simulate_options->action, "e.g. session:Start")->required();
  simulate_command->add_option("--resource", simulate_options->resource, "e.g. node/mi-0123456789abcdef0")->required();
  simulate_command->add_option("--context", simulate_options->context,
                               "key=value request context, repeatable (e.g. session:runAs=deploy)")
      ->allow_extra_args(false);
  simulate_command->add_flag("--json", simulate_options->as_json, "print the gateway's JSON (for scripts)");
  simulate_command->callback([&context, simulate_options] { simulate(context, *simulate_options); });
}

}  // namespace sallyport::cli
