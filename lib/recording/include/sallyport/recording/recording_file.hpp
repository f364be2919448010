#pragma once
// One session's recording being written: asciicast v2 lines buffered in memory and handed to
// the background FileWriter at least every kFlushInterval, when the buffer passes kFlushBytes,
// and on every session event (start, resize, end), so a SIGKILLed gateway leaves a recording
// complete up to the last flush. Not thread-safe: the session hub's strand owns it.
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sallyport/recording/asciicast.hpp"
#include "sallyport/recording/file_writer.hpp"

namespace sallyport::recording {

struct RecordingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Half a second, so a caller ticking every 500 ms flushes within a second.
inline constexpr auto kFlushInterval = std::chrono::milliseconds(500);
inline constexpr std::size_t kFlushBytes = 256 * 1024;

enum class Stream { kOutput, kInput, kStderr };

struct RecordedChunk {
  std::string_view code;  // "o", "i", "e", or with kBase64Suffix
  std::string_view text;  // JSON string text, or base64 when `base64`
  bool base64 = false;
};

class RecordingFile {
 public:
  // Creates the file (0600, refuses to overwrite) and writes the header; throws RecordingError.
  RecordingFile(std::filesystem::path path, const Header& header);
  // Reopens a recording that a gracefully stopped gateway left for the session it took back:
  // events go on after the last line, timed from the session's start `elapsed` ago. A command's
  // streams may be base64 (`binary_streams`), as when it was created. Throws RecordingError.
  struct Continued {
    std::chrono::milliseconds elapsed{0};
    bool binary_streams = false;
  };
  RecordingFile(std::filesystem::path path, Continued continued);
  ~RecordingFile();  // flushes and closes
  RecordingFile(const RecordingFile&) = delete;
  RecordingFile& operator=(const RecordingFile&) = delete;

  // Records the bytes. Returns the event as written (code and JSON string text, empty when
  // the bytes were all held back), valid until the next call, so the event log can reuse it.
  RecordedChunk data(Stream stream, std::string_view bytes);
  void resize(int cols, int rows);
  // A forwarded connection's event (kConnectionCode; `json_text` is one JSON object).
  void connection(std::string_view json_text);
  void flush_if_due();  // called by a periodic timer
  // Writes what is buffered (incomplete UTF-8 tails as escapes), waits for the writer, and
  // closes. Returns false when a write failed at any point.
  bool close();
  bool ok() const { return ok_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  double elapsed() const;
  void append_prefix(Stream stream, bool base64);  // [seconds, "code", "
  void flush();

  std::filesystem::path path_;
  std::shared_ptr<WriteTarget> target_;  // null once closed
  bool ok_ = true;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_flush_;
  FlushBuffer buffer_{kFlushBytes + kFlushBytes / 4};
  bool binary_streams_ = false;  // a command's streams may be base64; a terminal's never
  std::string carry_[3];  // per stream: bytes held back for an incomplete UTF-8 sequence
};

// "o", "i", "e"; with base64, the same with kBase64Suffix ("o64", …).
const char* stream_code(Stream stream, bool base64 = false);

// Completes a recording whose writer died (a gateway killed mid-session): drops a partial
// last line so every line parses. Returns false when the file cannot be repaired.
bool repair_truncated(const std::filesystem::path& path);

}  // namespace sallyport::recording
