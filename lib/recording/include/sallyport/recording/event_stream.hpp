#pragma once
// The streaming log (the CloudWatch Logs role): session output and audit events as JSON lines,
// one per chunk or event, appended to a local file and, when configured, sent to syslog as
// RFC 5424 messages (UDP datagrams, TCP with octet counting per RFC 6587, or a Unix datagram
// socket) so a SIEM can follow sessions live. Sending runs on its own thread behind a bounded
// queue: a slow or absent syslog server never stalls sessions; what does not fit is dropped
// and counted, and an alert is logged.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "sallyport/recording/file_writer.hpp"

namespace sallyport::recording {

struct SyslogTarget {
  enum class Protocol { kUdp, kTcp, kUnix } protocol = Protocol::kUdp;
  std::string host;
  std::uint16_t port = 514;
  std::string path;  // kUnix
};
// "udp://HOST:PORT", "tcp://HOST:PORT" or "unix:///PATH"; nullopt when malformed.
std::optional<SyslogTarget> parse_syslog_target(const std::string& text);

// One RFC 5424 message (no framing): <PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG
std::string format_rfc5424(int priority, const std::string& timestamp, const std::string& host,
                           const std::string& app, int pid, const std::string& msgid, const std::string& message);

inline constexpr std::size_t kSyslogQueueBytes = 8 << 20;
inline constexpr std::size_t kFileBufferBytes = 256 * 1024;
inline constexpr auto kFileFlushInterval = std::chrono::milliseconds(500);
inline constexpr std::size_t kSyslogDataPieceBytes = 2048;  // output chunks are split to fit a datagram

struct EventStreamOptions {
  std::filesystem::path file;           // empty: no file
  std::optional<SyslogTarget> syslog;
  std::string hostname = "-";
};

class EventStream {
 public:
  explicit EventStream(EventStreamOptions options);  // throws std::runtime_error when the file cannot be opened
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Whose output a line holds: the session's ID, user and node as JSON members, escaped once
  // per session rather than for every chunk.
  struct OutputSource {
    std::string members;  // "session_id":…,"user":…,"node_id":…
  };
  static OutputSource output_source(const std::string& session_id, const std::string& user, const std::string& node_id);

  // `text` is the chunk as JSON string text (recording::append_json_bytes): valid UTF-8 as is,
  // other bytes as \udcXX escapes; or, when `base64`, the bytes in base64 (the line then says
  // "encoding":"base64"). Encoded once, shared with the recording.
  void session_output(const OutputSource& source, std::string_view stream, std::string_view text, bool base64 = false);
  void session_event(const std::string& session_id, const std::string& event, const nlohmann::json& fields);
  void audit(const nlohmann::json& event);

  // Output lines are buffered like recordings (at most kFileBufferBytes, handed to the
  // FileWriter at least every kFileFlushInterval when the owner ticks); session events and
  // audit lines are handed over at once.
  void flush_if_due();

  // Closes the file and opens it again at the same path (after logrotate renamed it). What
  // was written before goes to the old file, what follows to the new one; when the new one
  // cannot be opened, lines go on to the old one. Returns "" or why it could not be opened.
  std::string reopen();

  // Why new sessions must be refused ("" when they may start): a required syslog that is down.
  std::string refusal(bool syslog_required) const;
  bool has_syslog() const { return options_.syslog.has_value(); }
  std::uint64_t dropped() const { return dropped_.load(); }

 private:
  void write_line(const nlohmann::json& line, int severity, const std::string& msgid);
  void flush_file();  // with file_mutex_ held
  void enqueue(std::string message);
  void send_loop();
  bool connect_syslog();
  bool send_one(const std::string& message);

  EventStreamOptions options_;
  std::shared_ptr<WriteTarget> file_;  // null: no file
  bool file_alerted_ = false;
  std::mutex file_mutex_;
  FlushBuffer file_buffer_{kFileBufferBytes + kFileBufferBytes / 4};
  std::chrono::steady_clock::time_point last_file_flush_ = std::chrono::steady_clock::now();
  int socket_fd_ = -1;
  std::atomic<bool> syslog_ok_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool stopping_ = false;
  bool alerted_ = false;
  std::thread sender_;
};

}  // namespace sallyport::recording
