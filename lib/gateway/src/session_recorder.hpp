#pragma once
// The SessionTap that keeps recordings (recording::RecordingStorage) and streams session
// output and events (recording::EventStream), for shell, command and port-forward sessions.
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "sallyport/gateway/session_tap.hpp"
#include "sallyport/recording/event_stream.hpp"
#include "sallyport/recording/storage.hpp"

namespace sallyport::gateway {

class SessionRecorder final : public SessionTap {
 public:
  SessionRecorder(recording::RecordingStorage& storage, recording::EventStream& events)
      : storage_(storage), events_(events) {}

  std::string refusal(const DestinationRequirements& required) override;
  bool started(const store::SessionRecord& session, int cols, int rows, const std::string& term,
               const DestinationRequirements& required) override;
  void data(const std::string& session_id, TapStream stream, std::string_view bytes) override;
  void resized(const std::string& session_id, int cols, int rows) override;
  void connection(const ForwardEvent& event) override;
  void tick(const std::string& session_id) override;
  void ended(const store::SessionRecord& session) override;
  void suspended(const std::string& session_id) override;
  bool resumed(const store::SessionRecord& session, std::int64_t now_ms, const DestinationRequirements& required) override;
  recording::RecordingRead read(const std::string& session_id) override;

 private:
  struct Live {
    std::unique_ptr<recording::RecordingFile> file;  // null when recording failed (optional)
    std::string owner, node_id;
    recording::EventStream::OutputSource source;  // for the event log's output lines
  };
  // The session's entry with the file `open` gives; nullopt when that fails and the recording
  // is required (logged as "session ID <refused>"), else an entry without a file and an alert.
  std::optional<Live> open_live(const store::SessionRecord& session, bool required, const char* refused,
                                const std::function<std::unique_ptr<recording::RecordingFile>()>& open);

  recording::RecordingStorage& storage_;
  recording::EventStream& events_;
  std::map<std::string, Live> live_;
};

}  // namespace sallyport::gateway
