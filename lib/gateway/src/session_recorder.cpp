#include "session_recorder.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

namespace sallyport::gateway {
namespace {

recording::Stream to_stream(TapStream stream) {
  switch (stream) {
    case TapStream::kOutput: return recording::Stream::kOutput;
    case TapStream::kInput: return recording::Stream::kInput;
    case TapStream::kStderr: return recording::Stream::kStderr;
  }
  return recording::Stream::kOutput;
}

const char* event_name(ForwardEvent::Kind kind) {
  switch (kind) {
    case ForwardEvent::Kind::kOpened: return "open";
    case ForwardEvent::Kind::kFailed: return "failed";
    case ForwardEvent::Kind::kClosed: return "close";
  }
  return "close";
}

}  // namespace

std::optional<SessionRecorder::Live> SessionRecorder::open_live(
    const store::SessionRecord& session, bool required, const char* refused,
    const std::function<std::unique_ptr<recording::RecordingFile>()>& open) {
  Live live{nullptr, session.owner, session.node_id,
            recording::EventStream::output_source(session.id, session.owner, session.node_id)};
  try {
    live.file = open();
  } catch (const recording::RecordingError& error) {
    if (required) {
      spdlog::error("session {} {}: {}", session.id, refused, error.what());
      return std::nullopt;
    }
    spdlog::error("ALERT session {} goes on without a recording: {}", session.id, error.what());
  }
  return live;
}

std::string SessionRecorder::refusal(const DestinationRequirements& required) {
  std::string why = storage_.refusal(required.local, required.s3);
  if (why.empty()) why = events_.refusal(required.syslog);
  if (!why.empty()) return why;
  // Optional destinations that are down do not stop sessions, but operators hear of it.
  if (!required.s3 && storage_.options().s3 && !storage_.s3_healthy()) {
    spdlog::warn("ALERT recording bucket cannot be written now; sessions go on, recordings wait on local disk");
  }
  if (!required.syslog && events_.has_syslog() && !events_.refusal(true).empty()) {
    spdlog::warn("ALERT syslog destination is down; sessions go on, events are kept in the local event log");
  }
  return "";
}

bool SessionRecorder::started(const store::SessionRecord& session, int cols, int rows, const std::string& term,
                              const DestinationRequirements& required) {
  recording::Header header;
  header.width = cols;
  header.height = rows;
  header.timestamp = session.started_at / 1000;
  header.title = session.owner + "@" + session.node_id + (session.command.empty() ? "" : ": " + session.command);
  header.env = {{"TERM", term}, {"SHELL", session.kind == "shell" ? "login shell" : ""}};
  header.session_id = session.id;
  header.user = session.owner;
  header.node_id = session.node_id;
  header.run_as = session.run_as;
  header.kind = session.kind;
  header.command = session.command;
  auto live = open_live(session, required.local, "refused", [&] { return storage_.create(header); });
  if (!live) return false;
  events_.session_event(session.id, "start", {{"user", session.owner}, {"node_id", session.node_id},
                                              {"run_as", session.run_as}, {"kind", session.kind},
                                              {"command", session.command}});
  live_.emplace(session.id, std::move(*live));
  return true;
}

void SessionRecorder::data(const std::string& session_id, TapStream stream, std::string_view bytes) {
  const auto it = live_.find(session_id);
  if (it == live_.end()) return;
  const char* code = recording::stream_code(to_stream(stream));
  if (it->second.file) {
    const auto chunk = it->second.file->data(to_stream(stream), bytes);
    events_.session_output(it->second.source, code, chunk.text, chunk.base64);
  } else {
    std::string escaped;
    recording::append_json_bytes(escaped, bytes, true);
    events_.session_output(it->second.source, code, escaped);
  }
}

void SessionRecorder::resized(const std::string& session_id, int cols, int rows) {
  const auto it = live_.find(session_id);
  if (it != live_.end() && it->second.file) it->second.file->resize(cols, rows);
}

void SessionRecorder::connection(const ForwardEvent& event) {
  const auto it = live_.find(event.session_id);
  if (it == live_.end()) return;
  nlohmann::json fields = {{"event", event_name(event.kind)}, {"connection", event.stream},
                           {"remote", event.remote_address}, {"client", event.client_address}};
  if (event.kind == ForwardEvent::Kind::kClosed) {
    fields["bytes_in"] = event.bytes_in;
    fields["bytes_out"] = event.bytes_out;
  }
  if (!event.reason.empty()) fields["reason"] = event.reason;
  if (it->second.file) it->second.file->connection(fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  fields["user"] = it->second.owner;
  fields["node_id"] = it->second.node_id;
  events_.session_event(event.session_id, "connection", fields);
}

void SessionRecorder::tick(const std::string& session_id) {
  events_.flush_if_due();
  const auto it = live_.find(session_id);
  if (it != live_.end() && it->second.file) it->second.file->flush_if_due();
}

void SessionRecorder::ended(const store::SessionRecord& session) {
  const auto it = live_.find(session.id);
  if (it == live_.end()) return;
  if (it->second.file) {
    if (!it->second.file->close()) spdlog::error("ALERT recording of session {} is incomplete: a write failed", session.id);
    it->second.file.reset();
    storage_.finish(session.id);
  }
  live_.erase(it);
  nlohmann::json fields = {{"user", session.owner}, {"status", session.status}, {"reason", session.reason},
                           {"bytes_in", session.bytes_in}, {"bytes_out", session.bytes_out}};
  if (session.exit_code) fields["exit_code"] = *session.exit_code;
  events_.session_event(session.id, "end", fields);
}

void SessionRecorder::suspended(const std::string& session_id) {
  const auto it = live_.find(session_id);
  if (it == live_.end()) return;
  if (it->second.file && !it->second.file->close()) {
    spdlog::error("ALERT recording of session {} is incomplete: a write failed", session_id);
  }
  live_.erase(it);
  events_.session_event(session_id, "suspend", {{"reason", "gateway stopping; the session is kept for its restart"}});
}

bool SessionRecorder::resumed(const store::SessionRecord& session, std::int64_t now_ms,
                              const DestinationRequirements& required) {
  const recording::RecordingFile::Continued continued{
      std::chrono::milliseconds(std::max<std::int64_t>(0, now_ms - session.started_at)), session.kind == "command"};
  auto live = open_live(session, required.local, "cannot be taken back",
                        [&] { return storage_.reopen(session.id, continued); });
  if (!live) return false;
  events_.session_event(session.id, "resume", {{"user", session.owner}, {"node_id", session.node_id},
                                               {"reason", "taken back after a gateway restart"}});
  live_.insert_or_assign(session.id, std::move(*live));
  return true;
}

recording::RecordingRead SessionRecorder::read(const std::string& session_id) {
  return storage_.read(session_id);
}

}  // namespace sallyport::gateway
