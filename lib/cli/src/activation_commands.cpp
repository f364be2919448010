// activations create|ls|delete.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/crypto/pki.hpp"
#include "sallyport/util/duration.hpp"
#include "sallyport/util/tags.hpp"
#include "sallyport/util/time_format.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace activation_commands {
namespace {

// The gateway's limits, checked here too so mistakes fail before anything is sent.
constexpr std::int64_t kMinExpiresSeconds = 60;
constexpr std::int64_t kMaxExpiresSeconds = 30LL * 24 * 3600;
constexpr int kMaxRegistrationLimit = 10'000;
constexpr const char* kAgentStateDir = "/var/lib/sallyport-agent";

struct CreateOptions {
  std::string name;
  std::string tags;
  int limit = 0;
  std::string expires;
  CLI::Option* limit_option = nullptr;
};

json create_body(const CreateOptions& options) {
  json body = json::object();
  const auto tags = util::parse_tags(options.tags);
  if (!tags.error.empty()) throw usage_error("--tags: " + tags.error);
  body["tags"] = tags.tags;
  if (!options.name.empty()) body["name"] = options.name;
  if (options.limit_option != nullptr && options.limit_option->count() > 0) body["limit"] = options.limit;
  if (!options.expires.empty()) {
    const auto duration = util::parse_duration(options.expires);
    if (!duration) {
      throw usage_error("--expires: '" + options.expires.substr(0, 64) + "' is not a duration such as 90m, 24h or 7d");
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*duration).count();
    if (seconds < kMinExpiresSeconds || seconds > kMaxExpiresSeconds) {
      throw usage_error("--expires must be between 1m and 30d");
    }
    body["expires_in_seconds"] = seconds;
  }
  return body;
}

void create(Context& context, const CreateOptions& options) {
  const json body = create_body(options);
  auto& api = context.api();
  const json answer = api.post("/v1/activations", body);
  const auto fingerprint = crypto::certificate_fingerprint(api.options().trust.ca_pem);
  const std::string id = field_text(answer, "id");
  const std::string code = field_text(answer, "code");
  auto& out = context.out();
  out << "Activation ID: " << id << "\n"
      << "Activation code: " << code << " (shown once; the gateway keeps only a hash)\n"
      << "Registrations allowed: " << field_text(answer, "registration_limit") << ", until "
      << field_text(answer, "expires_at") << "\n";
  if (!field_text(answer, "tags").empty()) out << "Tags: " << field_text(answer, "tags") << "\n";
  out << "\nOn the machine, register its agent with:\n"
      << "  sallyport-agent register --gateway " << context.credentials().gateway << " --ca-fingerprint "
      << fingerprint.value_or("SHA256:<hex>") << " --activation-id " << id << " --activation-code " << code
      << " --state-dir " << kAgentStateDir << "\n";
}

void list(Context& context, bool as_json) {
  const json answer = context.api().get("/v1/activations");
  if (as_json) {
    print_json(context.out(), answer);
    return;
  }
  Table table({"ID", "NAME", "TAGS", "USED", "EXPIRES", "CREATED BY"});
  for (const auto& activation : list_field(answer, "activations")) {
    std::string expires = field_text(activation, "expires_at");
    const auto expiry = util::parse_rfc3339(expires);
    if (expiry && *expiry <= context.now()) expires += " (expired)";
    table.add_row({field_text(activation, "id"), field_text(activation, "name"), field_text(activation, "tags"),
                   field_text(activation, "registrations") + "/" + field_text(activation, "registration_limit"),
                   expires, field_text(activation, "created_by")});
  }
  context.out() << table.render();
}

void remove(Context& context, const std::string& id) {
  if (id.empty()) throw usage_error("the activation ID must not be empty");
  context.api().del("/v1/activations/" + url_encode(id));
  context.out() << "Deleted activation " << id << "\n";
}

}  // namespace
}  // namespace activation_commands

void add_activation_commands(CLI::App& app, Context& context) {
  using namespace activation_commands;
  auto* group = app.add_subcommand("activations", "one-time codes that let new machines register");
  group->require_subcommand(1);

  auto options = std::make_shared<CreateOptions>();
  auto* create_command = group->add_subcommand("create", "create an activation (its code is shown once)");
  create_command->add_option("--name", options->name, "name given to the nodes that register with it");
  create_command->add_option("--tags", options->tags, "k=v,k2=v2 tags given to those nodes");
  options->limit_option =
      create_command->add_option("--limit", options->limit, "how many machines may register (default 1)")
          ->check(CLI::Range(1, kMaxRegistrationLimit));
  create_command->add_option("--expires", options->expires, "how long it stays usable, e.g. 1h or 7d (default 24h)");
  create_command->callback([&context, options] { create(context, *options); });

  auto as_json = std::make_shared<bool>(false);
  auto* list_command = group->add_subcommand("ls", "list activations");
  list_command->add_flag("--json", *as_json, "print the gateway's JSON");
  list_command->callback([&context, as_json] { list(context, *as_json); });

  auto id = std::make_shared<std::string>();
  auto* delete_command = group->add_subcommand("delete", "delete an activation");
  delete_command->add_option("id", *id, "activation ID")->required();
  delete_command->callback([&context, id] { remove(context, *id); });
}

}  // namespace sallyport::cli
