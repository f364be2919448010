// sessions recording ID [-o FILE] | sessions play ID [--speed N] [--max-idle S]: a session's
// recording (asciicast v2) fetched from the gateway, saved or replayed in the terminal (a
// port-forward's connection events as one line each).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "context.hpp"
#include "error.hpp"
#include "output.hpp"
#include "sallyport/recording/asciicast.hpp"

namespace sallyport::cli {
// Named, so that the command files can share one unity translation unit.
namespace recording_commands {
namespace {

std::string fetch(Context& context, const std::string& id) {
  if (id.empty()) throw usage_error("the session ID must not be empty");
  return context.api().get_raw("/v1/sessions/" + url_encode(id) + "/recording");
}

// A port-forward's connection event as one line: a forward's recording holds no terminal
// output, so these lines are what its replay shows.
std::string describe_connection(const std::string& json_text) {
  const auto event = nlohmann::json::parse(json_text, nullptr, false);
  if (!event.is_object()) return "[sallyport] connection event (unreadable)\r\n";
  const auto text = [&](const char* key) {
    return event.contains(key) && event[key].is_string() ? event[key].get<std::string>() : std::string("?");
  };
  const auto number = [&](const char* key) {
    return event.contains(key) && event[key].is_number() ? std::to_string(event[key].get<std::int64_t>()) : "?";
  };
  std::string line = "[sallyport] connection " + number("connection") + " " + text("event");
  const std::string kind = text("event");
  if (kind == "open") line += ": " + text("client") + " -> " + text("remote");
  if (kind == "close") line += ": " + number("bytes_in") + " bytes in, " + number("bytes_out") + " bytes out";
  if (event.contains("reason")) line += " (" + text("reason") + ")";
  return line + "\r\n";
}

struct SaveOptions {
  std::string id;
  std::string output;
};

void save(Context& context, const SaveOptions& options) {
  const std::string text = fetch(context, options.id);
  if (options.output.empty() || options.output == "-") {
    context.out() << text << std::flush;
    return;
  }
  // Recordings hold whatever was typed and shown: private to the user by default.
  const int fd = ::open(options.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw CliError(kExitError, "cannot write " + options.output + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw CliError(kExitError, "cannot write " + options.output + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  context.err() << "Saved the recording of " << options.id << " to " << options.output << " (" << text.size()
                << " bytes)\n";
}

struct PlayOptions {
  std::string id;
  double speed = 1.0;
  double max_idle = 0;  // seconds; 0: keep the recorded pauses
};

void play(Context& context, const PlayOptions& options) {
  if (!(options.speed > 0 && options.speed <= 1000)) throw usage_error("--speed must be more than 0 and at most 1000");
  if (!(options.max_idle >= 0 && options.max_idle <= 86400)) throw usage_error("--max-idle must be 0-86400 seconds");
  const std::string text = fetch(context, options.id);
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  const auto header = nlohmann::json::parse(line, nullptr, false);
  if (!header.is_object() || header.value("version", 0) != 2) {
    throw CliError(kExitError, "the recording of " + options.id + " is not asciicast v2");
  }
  double previous = 0;
  int number = 1;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) continue;
    const auto event = recording::parse_event(line);
    if (!event) throw CliError(kExitError, "the recording is damaged at line " + std::to_string(number));
    double pause = std::max(0.0, event->time - previous);
    previous = event->time;
    if (options.max_idle > 0) pause = std::min(pause, options.max_idle);
    std::this_thread::sleep_for(std::chrono::duration<double>(pause / options.speed));
    if (event->code == "o") context.out() << event->data << std::flush;
    if (event->code == "e") context.err() << event->data << std::flush;
    if (event->code == recording::kConnectionCode) context.out() << describe_connection(event->data) << std::flush;
  }
}

}  // namespace
}  // namespace recording_commands

void add_recording_commands(CLI::App& sessions, Context& context) {
  using namespace recording_commands;
  auto save_options = std::make_shared<SaveOptions>();
  auto* save_command = sessions.add_subcommand("recording", "download a session's recording (asciicast v2)");
  save_command->add_option("id", save_options->id, "session ID")->required();
  save_command->add_option("-o,--output", save_options->output, "write it to this file (mode 0600) instead of stdout");
  save_command->callback([&context, save_options] { save(context, *save_options); });

  auto play_options = std::make_shared<PlayOptions>();
  auto* play_command = sessions.add_subcommand("play", "replay a session's recording in this terminal");
  play_command->add_option("id", play_options->id, "session ID")->required();
  play_command->add_option("--speed", play_options->speed, "playback speed factor (default 1)");
  play_command->add_option("--max-idle", play_options->max_idle, "cap pauses at this many seconds (default: as recorded)");
  play_command->callback([&context, play_options] { play(context, *play_options); });
}

}  // namespace sallyport::cli
