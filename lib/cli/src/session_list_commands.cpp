// sessions ls|show|terminate: the records of live and past sessions (start-session opens one).
#include <CLI/CLI.hpp>

#include <chrono>
#include <thread>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "table.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace session_list_commands {
namespace {

std::string session_target(const std::string& id) {
  if (id.empty()) throw usage_error("the session ID must not be empty");
  return "/v1/sessions/" + url_encode(id);
}

// The exit status as a shell shows it: the code, or the signal that ended the process.
std::string exit_text(const json& session) {
  const std::string code = field_text(session, "exit_code");
  if (!code.empty()) return code;
  const std::string signal = field_text(session, "exit_signal");
  return signal.empty() ? "" : "signal " + signal;
}

// The status, and what a live session waits for after a broken connection.
std::string status_text(const json& session) {
  const std::string waiting = field_text(session, "waiting_for");
  return field_text(session, "status") + (waiting.empty() ? "" : " (waiting for " + waiting + ")");
}

struct ListOptions {
  std::string state = "active";
  int limit = 100;
  bool as_json = false;
};

void list(Context& context, const ListOptions& options) {
  if (options.state != "active" && options.state != "history") {
    throw usage_error("--state must be 'active' or 'history'");
  }
  if (options.limit < 1 || options.limit > 1000) throw usage_error("--limit must be 1-1000");
  const std::string target = "/v1/sessions?state=" + options.state + "&limit=" + std::to_string(options.limit);
  const json answer = context.api().get(target);
  if (options.as_json) {
    print_json(context.out(), answer);
    return;
  }
  Table table({"SESSION ID", "OWNER", "NODE", "RUN AS", "KIND", "STATUS", "STARTED", "ENDED", "EXIT"});
  for (const auto& session : list_field(answer, "sessions")) {
    table.add_row({field_text(session, "id"), field_text(session, "owner"), field_text(session, "node_id"),
                   field_text(session, "run_as"), field_text(session, "kind"), status_text(session),
                   field_text(session, "started_at"), field_text(session, "ended_at"), exit_text(session)});
  }
  context.out() << table.render();
}

void show(Context& context, const std::string& id, bool as_json) {
  const json session = context.api().get(session_target(id));
  if (as_json) {
    print_json(context.out(), session);
    return;
  }
  print_fields(context.out(), {{"Session ID", field_text(session, "id")},
                               {"Owner", field_text(session, "owner")},
                               {"Node", field_text(session, "node_id")},
                               {"Run as", field_text(session, "run_as")},
                               {"Kind", field_text(session, "kind")},
                               {"Command", field_text(session, "command")},
                               {"Status", status_text(session)},
                               {"Reason", field_text(session, "reason")},
                               {"Started", field_text(session, "started_at")},
                               {"Ended", field_text(session, "ended_at")},
                               {"Bytes in", field_text(session, "bytes_in")},
                               {"Bytes out", field_text(session, "bytes_out")},
                               {"Exit", exit_text(session)}});
}

constexpr std::chrono::seconds kRemoteTerminationWait{10};

struct TerminateOptions {
  std::string id;
  std::string reason;
};

void terminate(Context& context, const TerminateOptions& options) {
  const std::string target = session_target(options.id) + "/terminate";
  if (options.reason.size() > 256) throw usage_error("--reason must be at most 256 bytes");
  json body = json::object();
  if (!options.reason.empty()) body["reason"] = options.reason;
  json session = context.api().post(target, body);
  // Held by another gateway: the request stands in the shared store and that gateway ends the
  // session within a second or so; wait until its record says so.
  const std::string holder = field_text(session, "termination_requested_from");
  if (!holder.empty()) {
    const auto deadline = std::chrono::steady_clock::now() + kRemoteTerminationWait;
    while (field_text(session, "ended_at").empty()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw CliError(kExitError, "gateway " + sanitize_for_terminal(holder) + " holds session " + options.id +
                                       " and was asked to end it, but it has not within " +
                                       std::to_string(kRemoteTerminationWait.count()) +
                                       " s (it does once it runs again: a restart ends its sessions)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      session = context.api().get(session_target(options.id));
    }
  }
  context.out() << "Terminated session " << options.id << " (" << sanitize_for_terminal(field_text(session, "status"))
                << ")\n";
}

}  // namespace
}  // namespace session_list_commands

void add_session_list_commands(CLI::App& app, Context& context) {
  using namespace session_list_commands;
  auto* group = app.add_subcommand("sessions", "live and past sessions (open one with start-session)");
  group->require_subcommand(1);

  auto list_options = std::make_shared<ListOptions>();
  auto* list_command = group->add_subcommand("ls", "list active sessions, or ended ones with --state history");
  list_command->add_option("--state", list_options->state, "active (default) or history");
  list_command->add_option("--limit", list_options->limit, "at most this many, newest first (1-1000)");
  list_command->add_flag("--json", list_options->as_json, "print the gateway's JSON");
  list_command->callback([&context, list_options] { list(context, *list_options); });

  struct ShowOptions {
    std::string id;
    bool as_json = false;
  };
  auto show_options = std::make_shared<ShowOptions>();
  auto* show_command = group->add_subcommand("show", "show one session");
  show_command->add_option("id", show_options->id, "session ID")->required();
  show_command->add_flag("--json", show_options->as_json, "print the gateway's JSON");
  show_command->callback([&context, show_options] { show(context, show_options->id, show_options->as_json); });

  auto terminate_options = std::make_shared<TerminateOptions>();
  auto* terminate_command = group->add_subcommand("terminate", "end a live session on both sides");
  terminate_command->add_option("id", terminate_options->id, "session ID")->required();
  terminate_command->add_option("--reason", terminate_options->reason, "recorded in the audit log");
  terminate_command->callback([&context, terminate_options] { terminate(context, *terminate_options); });

  add_recording_commands(*group, context);
  add_watch_command(*group, context);
}

}  // namespace sallyport::cli
