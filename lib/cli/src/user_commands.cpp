// users create|ls|delete|passwd.
#include <CLI/CLI.hpp>
#include <istream>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/util/tags.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace user_commands {
namespace {

constexpr std::size_t kGeneratedPasswordBytes = 18;  // 24 base64url characters, 144 bits

struct NewPassword {
  std::string value;
  bool generated = false;
};

// In order: $SALLYPORT_NEW_PASSWORD, one line of stdin (--password-stdin), two prompts on a
// terminal (empty means "generate one"), else a random password that is printed once.
NewPassword new_password(const Context& context, const std::string& user, bool from_stdin) {
  if (auto password = context.env("SALLYPORT_NEW_PASSWORD"); password && !password->empty()) return {*password};
  if (from_stdin) {
    std::string line;
    if (!std::getline(context.in(), line)) throw usage_error("--password-stdin: standard input is empty");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw usage_error("--password-stdin: the password line is empty");
    return {line};
  }
  // Prompt only when stdin is a terminal too, so scripts and pipelines never wait on /dev/tty.
  if (context.environment().stdin_is_terminal()) {
    const auto& read_secret = context.environment().read_secret;
    if (auto first = read_secret("New password for " + user + " (empty to generate one): ")) {
      if (!first->empty()) {
        const auto second = read_secret("Repeat the password: ");
        if (!second || *second != *first) throw usage_error("the passwords do not match");
        return {*first};
      }
    }
  }
  return {crypto::base64url_encode(crypto::random_bytes(kGeneratedPasswordBytes)), true};
}

std::string user_target(const std::string& name) {
  if (name.empty()) throw usage_error("the user name must not be empty");
  return "/v1/users/" + url_encode(name);
}

struct CreateOptions {
  std::string name;
  std::string tags;
  bool admin = false;
  bool password_stdin = false;
  std::vector<std::string> policies;
};

void create(Context& context, const CreateOptions& options) {
  if (options.name.empty()) throw usage_error("the user name must not be empty");
  for (const auto& policy : options.policies) {
    if (policy.empty()) throw usage_error("--policy: the policy name must not be empty");
  }
  const auto tags = util::parse_tags(options.tags);
  if (!tags.error.empty()) throw usage_error("--tags: " + tags.error);
  auto& api = context.api();  // before asking for a password, so a missing login fails first
  const auto password = new_password(context, options.name, options.password_stdin);
  json body = {{"name", options.name}, {"password", password.value}, {"tags", tags.tags}, {"admin", options.admin}};
  if (!options.policies.empty()) body["policies"] = options.policies;
  const json user = api.post("/v1/users", body);
  context.out() << "Created user " << field_text(user, "name") << (options.admin ? " (administrator)" : "") << "\n";
  if (const std::string attached = field_text(user, "policies"); !attached.empty()) {
    context.out() << "Attached policies: " << sanitize_for_terminal(attached) << "\n";
  }
  if (password.generated) context.out() << "Password: " << password.value << " (shown once; pass it on safely)\n";
}

void list(Context& context, bool as_json) {
  const json answer = context.api().get("/v1/users");
  if (as_json) {
    print_json(context.out(), answer);
    return;
  }
  Table table({"NAME", "ADMIN", "TAGS", "CREATED"});
  for (const auto& user : list_field(answer, "users")) {
    table.add_row({field_text(user, "name"), field_text(user, "admin") == "true" ? "yes" : "no",
                   field_text(user, "tags"), field_text(user, "created_at")});
  }
  context.out() << table.render();
}

void remove(Context& context, const std::string& name) {
  const auto answer = context.api().del(user_target(name));
  const auto count = [&answer](const char* key) -> std::int64_t {
    const auto field = answer.is_object() ? answer.find(key) : answer.end();
    return field != answer.end() && field->is_number_integer() ? field->get<std::int64_t>() : 0;
  };
  const std::int64_t ended = count("sessions_ended");
  const std::int64_t ending = count("sessions_ending_elsewhere");
  context.out() << "Deleted user " << name;
  if (ended > 0) context.out() << " and ended their " << ended << " live session" << (ended == 1 ? "" : "s");
  if (ending > 0) {
    context.out() << "; the gateway" << (ending == 1 ? "" : "s") << " holding " << ending << (ended > 0 ? " more" : "")
                  << " live session" << (ending == 1 ? " was" : "s were") << " asked to end "
                  << (ending == 1 ? "it" : "them");
  }
  context.out() << "\n";
}

void passwd(Context& context, const std::string& name, bool from_stdin) {
  const std::string target = user_target(name) + "/password";
  auto& api = context.api();
  const auto password = new_password(context, name, from_stdin);
  api.put(target, {{"password", password.value}});
  context.out() << "Changed the password of " << name << "\n";
  if (password.generated) context.out() << "Password: " << password.value << " (shown once; pass it on safely)\n";
  // The gateway ends every login of a user whose password changed, this one included.
  if (name == context.credentials().user) {
    context.store().remove_credentials();
    context.out() << "Your logins have ended: " << login_hint(context.credentials().gateway, name) << "\n";
  }
}

}  // namespace
}  // namespace user_commands

void add_user_commands(CLI::App& app, Context& context) {
  using namespace user_commands;
  auto* group = app.add_subcommand("users", "people who may log in to the gateway");
  group->require_subcommand(1);
  group->footer(
      "New passwords come from SALLYPORT_NEW_PASSWORD, else --password-stdin, else two prompts on a\n"
      "terminal; otherwise a random password is generated and printed once.");

  auto create_options = std::make_shared<CreateOptions>();
  auto* create_command = group->add_subcommand("create", "create a user");
  create_command->add_option("name", create_options->name, "user name (letters, digits, '.', '_', '-')")->required();
  create_command->add_option("--tags", create_options->tags, "k=v,k2=v2 tags for policies");
  create_command->add_flag("--admin", create_options->admin,
                           "make the user an administrator (attaches AdministratorAccess)");
  create_command->add_option("--policy", create_options->policies, "attach this policy (repeatable)")
      ->allow_extra_args(false);
  create_command->add_flag("--password-stdin", create_options->password_stdin, "read the password from stdin");
  create_command->callback([&context, create_options] { create(context, *create_options); });

  auto as_json = std::make_shared<bool>(false);
  auto* list_command = group->add_subcommand("ls", "list users");
  list_command->add_flag("--json", *as_json, "print the gateway's JSON");
  list_command->callback([&context, as_json] { list(context, *as_json); });

  auto delete_name = std::make_shared<std::string>();
  auto* delete_command = group->add_subcommand("delete", "delete a user");
  delete_command->add_option("name", *delete_name, "user name")->required();
  delete_command->callback([&context, delete_name] { remove(context, *delete_name); });

  struct PasswdOptions {
    std::string name;
    bool password_stdin = false;
  };
  auto passwd_options = std::make_shared<PasswdOptions>();
  auto* passwd_command = group->add_subcommand("passwd", "set a user's password (ends their logins)");
  passwd_command->add_option("name", passwd_options->name, "user name")->required();
  passwd_command->add_flag("--password-stdin", passwd_options->password_stdin, "read the password from stdin");
  passwd_command->callback(
      [&context, passwd_options] { passwd(context, passwd_options->name, passwd_options->password_stdin); });
}

}  // namespace sallyport::cli
