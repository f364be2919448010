#pragma once
// What the session hub reports about every session it brokers, for recording and log
// streaming: the bytes each way exactly as relayed, resizes, start and end. Called on the
// hub's executor only.
#include <optional>
#include <string>
#include <string_view>

#include "sallyport/store/types.hpp"

namespace sallyport::gateway {

// Which destinations must be writable for a session to start (storage preferences).
struct DestinationRequirements {
  bool local = true;
  bool s3 = false;
  bool syslog = false;
};

enum class TapStream { kOutput, kInput, kStderr };

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
  virtual void tick(const std::string& session_id) = 0;  // periodic: flushes what is due
  virtual void ended(const store::SessionRecord& session) = 0;
  // The recording's asciicast text for the API.
  virtual std::optional<std::string> read(const std::string& session_id, std::string* error) = 0;
};

}  // namespace sallyport::gateway
