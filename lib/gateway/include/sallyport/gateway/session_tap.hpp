#pragma once
// What the session and forward hubs report about every session they broker, for recording and
// log streaming: for shells and commands the bytes each way exactly as relayed and resizes;
// for port forwarding each connection's events, never its payload; start and end for both.
// Called on the hubs' executor only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sallyport/recording/recording_read.hpp"
#include "sallyport/store/types.hpp"

namespace sallyport::gateway {

// Which destinations must be writable for a session to start (storage preferences).
struct DestinationRequirements {
  bool local = true;
  bool s3 = false;
  bool syslog = false;
};

enum class TapStream { kOutput, kInput, kStderr };

// One forwarded connection's event.
struct ForwardEvent {
  enum class Kind { kOpened, kFailed, kClosed };
  Kind kind = Kind::kOpened;
  std::string session_id;
  std::uint32_t stream = 0;      // the connection's number within the session (client channel)
  std::string remote_address;    // kOpened/kClosed: the address the node connected to; kFailed: host:port asked for
  std::string client_address;    // the client's address as the gateway sees it
  std::int64_t bytes_in = 0;     // kClosed: client -> node on this connection
  std::int64_t bytes_out = 0;    // kClosed: node -> client
  std::string reason;            // kFailed: why; kClosed: "" for a clean close, else why
};

class SessionTap {
 public:
  virtual ~SessionTap() = default;
  // A one-line reason to refuse new sessions (a required destination cannot be written), or "".
  virtual std::string refusal(const DestinationRequirements& required) = 0;
  // false when the recording could not be started and it is required (the session is refused).
  virtual bool started(const store::SessionRecord& session, int cols, int rows, const std::string& term,
                       const DestinationRequirements& required) = 0;
  virtual void data(const std::string& session_id, TapStream stream, std::string_view bytes) = 0;
  virtual void resized(const std::string& session_id, int cols, int rows) = 0;
  virtual void connection(const ForwardEvent& event) = 0;
  virtual void tick(const std::string& session_id) = 0;  // periodic: flushes what is due
  virtual void ended(const store::SessionRecord& session) = 0;
  // The gateway stops and keeps the session for its next run: the recording stays unfinished.
  virtual void suspended(const std::string& session_id) = 0;
  // The next run took the session back: its recording goes on where it stopped. false when
  // that cannot be and the recording is required.
  virtual bool resumed(const store::SessionRecord& session, std::int64_t now_ms,
                       const DestinationRequirements& required) = 0;
  // The recording's asciicast text for the API.
  virtual recording::RecordingRead read(const std::string& session_id) = 0;
};

// A session's recording through a hub's tap; null (--no-recording) says so.
inline recording::RecordingRead read_recording_via(SessionTap* tap, const std::string& session_id) {
  if (!tap) {
    return recording::RecordingRead::failed(recording::RecordingRead::Failure::kRecordingOff,
                                            "recording is off on this gateway (--no-recording)");
  }
  return tap->read(session_id);
}

}  // namespace sallyport::gateway
