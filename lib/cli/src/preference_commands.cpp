// preferences get [KEY] | set KEY VALUE.
#include <CLI/CLI.hpp>
#include <algorithm>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace preference_commands {
namespace {

// The keys the gateway knows, so a typo fails before anything is sent; the gateway checks the
// values (and stays the authority on the keys too).
const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> kKeys = {"idle_timeout_minutes",     "idle_timeout_seconds",
                                                 "max_session_duration_minutes", "reconnect_grace_seconds",
                                                 "default_run_as",           "shell_profile",
                                                 "recording_local_required", "recording_s3_required",
                                                 "syslog_required"};
  return kKeys;
}

void check_key(const std::string& key) {
  const auto& keys = known_keys();
  if (std::find(keys.begin(), keys.end(), key) != keys.end()) return;
  std::string list;
  for (const auto& known : keys) list += (list.empty() ? "" : ", ") + known;
  throw usage_error("unknown preference '" + key + "' (known: " + list + ")");
}

// A value that may span lines (shell_profile): each line cleaned, the layout kept.
void print_multiline(std::ostream& out, const std::string& text) {
  std::size_t start = 0;
  do {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out << sanitize_for_terminal(text.substr(start, end - start)) << "\n";
    start = end + 1;
  } while (start < text.size());
}

struct GetOptions {
  std::string key;
  bool as_json = false;
};

void get(Context& context, const GetOptions& options) {
  if (!options.key.empty()) check_key(options.key);
  const json answer = context.api().get("/v1/preferences");
  const json preferences = answer.is_object() ? answer.value("preferences", json::object()) : json::object();
  if (!options.key.empty()) {
    if (options.as_json) {
      print_json(context.out(), json{{options.key, preferences.value(options.key, json(nullptr))}});
    } else {
      print_multiline(context.out(), field_text(preferences, options.key));
    }
    return;
  }
  if (options.as_json) {
    print_json(context.out(), answer);
    return;
  }
  // The documented order first, then anything a newer gateway adds.
  std::vector<std::string> keys;
  for (const auto& key : known_keys()) {
    if (preferences.contains(key)) keys.push_back(key);
  }
  for (const auto& [key, value] : preferences.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& key : keys) {
    std::string text = value_text(preferences.at(key));
    // A long profile would swamp the listing; `preferences get shell_profile` prints it whole.
    if (key == "shell_profile" && text.find('\n') != std::string::npos) {
      text = "(" + std::to_string(text.size()) + " bytes; see `sallyport preferences get shell_profile`)";
    }
    fields.emplace_back(key, text);
  }
  print_fields(context.out(), fields);
}

struct SetOptions {
  std::string key;
  std::string value;
};

void set(Context& context, const SetOptions& options) {
  check_key(options.key);
  // Sent as text; the gateway reads numbers from it for the numeric keys and checks ranges.
  const json answer = context.api().put("/v1/preferences", {{options.key, options.value}});
  const json preferences = answer.is_object() ? answer.value("preferences", json::object()) : json::object();
  context.out() << "Set " << options.key << " to ";
  if (options.key == "shell_profile") {
    context.out() << "a profile of " << options.value.size() << " bytes\n";
  } else {
    context.out() << sanitize_for_terminal(field_text(preferences, options.key)) << "\n";
  }
}

}  // namespace
}  // namespace preference_commands

void add_preference_commands(CLI::App& app, Context& context) {
  using namespace preference_commands;
  auto* group = app.add_subcommand("preferences", "gateway-wide session settings");
  group->require_subcommand(1);
  group->footer(
      "Keys:\n"
      "  idle_timeout_minutes          1-60 (default 20): a session with no input or output ends\n"
      "  idle_timeout_seconds          0 or 5-3600 (default 0 = unset): overrides the minutes; a\n"
      "                                knob for tests and operations\n"
      "  max_session_duration_minutes  0 (no limit, the default) or 1-1440\n"
      "  reconnect_grace_seconds       0-3600 (default 60): how long a CLI session whose connection\n"
      "                                broke waits for the client to reconnect; 0 ends it at once\n"
      "  default_run_as                POSIX user sessions run as (default sallyport-user)\n"
      "  shell_profile                 commands run at the start of each shell (up to 4096 bytes)\n"
      "  recording_local_required      true (default): refuse sessions when recordings cannot be\n"
      "                                written to local disk; false: go on and log an alert\n"
      "  recording_s3_required         false (default) or true, the same for the bucket\n"
      "  syslog_required               false (default) or true, the same for syslog");

  auto get_options = std::make_shared<GetOptions>();
  auto* get_command = group->add_subcommand("get", "show every preference, or one");
  get_command->add_option("key", get_options->key, "one preference to print");
  get_command->add_flag("--json", get_options->as_json, "print JSON");
  get_command->callback([&context, get_options] { get(context, *get_options); });

  auto set_options = std::make_shared<SetOptions>();
  auto* set_command = group->add_subcommand("set", "change one preference (applies to sessions started afterwards)");
  set_command->add_option("key", set_options->key, "preference name")->required();
  set_command->add_option("value", set_options->value, "new value")->required();
  set_command->callback([&context, set_options] { set(context, *set_options); });
}

}  // namespace sallyport::cli
