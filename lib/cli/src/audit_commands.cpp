// audit ls.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/util/time_format.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace audit_commands {
namespace {

constexpr int kMaxAuditLimit = 10'000;

struct ListOptions {
  std::string since;
  int limit = 0;
  bool as_json = false;
  CLI::Option* limit_option = nullptr;
};

void list(Context& context, const ListOptions& options) {
  std::string query;
  if (!options.since.empty()) {
    // Checked here for a clear message; the gateway resolves durations against its own clock.
    if (!util::parse_since(options.since, context.now())) {
      throw usage_error("--since: '" + options.since.substr(0, 64) +
                        "' is not an RFC 3339 time or a duration such as 1h");
    }
    query += "since=" + url_encode(options.since);
  }
  if (options.limit_option != nullptr && options.limit_option->count() > 0) {
    query += (query.empty() ? "" : "&") + std::string("limit=") + std::to_string(options.limit);
  }
  const json answer = context.api().get("/v1/audit" + (query.empty() ? "" : "?" + query));
  if (options.as_json) {
    print_json(context.out(), answer);
    return;
  }
  Table table({"TIME", "ACTOR", "SOURCE", "ACTION", "TARGET", "OUTCOME", "DETAIL"});
  for (const auto& event : list_field(answer, "events")) {
    table.add_row({field_text(event, "time"), field_text(event, "actor"), field_text(event, "source"),
                   field_text(event, "action"), field_text(event, "target"), field_text(event, "outcome"),
                   field_text(event, "detail")});
  }
  context.out() << table.render();
}

}  // namespace
}  // namespace audit_commands

void add_audit_commands(CLI::App& app, Context& context) {
  using namespace audit_commands;
  auto* group = app.add_subcommand("audit", "the gateway's record of every action and security event");
  group->require_subcommand(1);
  auto options = std::make_shared<ListOptions>();
  auto* list_command = group->add_subcommand("ls", "list audit events");
  list_command->add_option("--since", options->since, "only events after this: RFC 3339 time or a duration like 1h");
  options->limit_option = list_command->add_option("--limit", options->limit, "at most this many events (1-10000)")
                              ->check(CLI::Range(1, kMaxAuditLimit));
  list_command->add_flag("--json", options->as_json, "print the gateway's JSON");
  list_command->callback([&context, options] { list(context, *options); });
}

}  // namespace sallyport::cli
