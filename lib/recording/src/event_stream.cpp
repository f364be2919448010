#include "sallyport/recording/event_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <utility>

namespace sallyport::recording {
namespace {

constexpr int kFacilityLocal0 = 16;
constexpr int kSeverityNotice = 5;
constexpr int kSeverityInfo = 6;
constexpr auto kReconnectDelay = std::chrono::milliseconds(500);

std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  // Formatted once a second: every chunk of session output gets a time, and strftime and
  // snprintf per keystroke showed in the gateway's profile.
  thread_local std::time_t cached_seconds = -1;
  thread_local char cached[40];
  if (seconds != cached_seconds) {
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &utc);
    cached_seconds = seconds;
  }
  std::string text(cached);
  const int millis = static_cast<int>(ms % 1000);
  text += '.';
  text += static_cast<char>('0' + millis / 100);
  text += static_cast<char>('0' + millis / 10 % 10);
  text += static_cast<char>('0' + millis % 10);
  text += 'Z';
  return text;
}

std::string dump(const nlohmann::json& value) { return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace

std::optional<SyslogTarget> parse_syslog_target(const std::string& text) {
  SyslogTarget target;
  std::string rest;
  if (text.rfind("udp://", 0) == 0) {
    target.protocol = SyslogTarget::Protocol::kUdp;
    rest = text.substr(6);
  } else if (text.rfind("tcp://", 0) == 0) {
    target.protocol = SyslogTarget::Protocol::kTcp;
    rest = text.substr(6);
  } else if (text.rfind("unix://", 0) == 0) {
    target.protocol = SyslogTarget::Protocol::kUnix;
    target.path = text.substr(7);
    if (target.path.empty() || target.path[0] != '/' || target.path.size() >= sizeof(sockaddr_un::sun_path)) return std::nullopt;
    return target;
  } else {
    return std::nullopt;
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  target.host = rest.substr(0, colon);
  if (target.host.front() == '[' && target.host.back() == ']') target.host = target.host.substr(1, target.host.size() - 2);
  try {
    const int port = std::stoi(rest.substr(colon + 1));
    if (port < 1 || port > 65535 || std::to_string(port) != rest.substr(colon + 1)) return std::nullopt;
    target.port = static_cast<std::uint16_t>(port);
  } catch (...) {
    return std::nullopt;
  }
  return target;
}

std::string format_rfc5424(int priority, const std::string& timestamp, const std::string& host,
                           const std::string& app, int pid, const std::string& msgid, const std::string& message) {
  return "<" + std::to_string(priority) + ">1 " + timestamp + " " + host + " " + app + " " + std::to_string(pid) +
         " " + msgid + " - " + message;
}

namespace {

// The event log, appended to; nullopt with errno set when it cannot be opened.
std::optional<int> open_event_log(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return std::nullopt;
  return fd;
}

std::string cannot_open(const std::filesystem::path& path) {
  return "cannot open the event log " + path.string() + ": " + std::strerror(errno);
}

}  // namespace

EventStream::EventStream(EventStreamOptions options) : options_(std::move(options)) {
  if (!options_.file.empty()) {
    const auto fd = open_event_log(options_.file);
    if (!fd) throw std::runtime_error(cannot_open(options_.file));
    file_ = std::make_shared<WriteTarget>(*fd);
    file_buffer_.hand_over(file_);
  }
  if (options_.syslog) {
    syslog_ok_ = connect_syslog();
    sender_ = std::thread([this] { send_loop(); });
  }
}

EventStream::~EventStream() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sender_.joinable()) sender_.join();
  if (socket_fd_ >= 0) ::close(socket_fd_);
  if (file_) {
    std::lock_guard lock(file_mutex_);
    flush_file();
    file_writer().drain(file_);
    ::close(file_->fd);
  }
}

EventStream::OutputSource EventStream::output_source(const std::string& session_id, const std::string& user,
                                                     const std::string& node_id) {
  return {"\"session_id\":" + dump(session_id) + ",\"user\":" + dump(user) + ",\"node_id\":" + dump(node_id)};
}

void EventStream::session_output(const OutputSource& source, std::string_view stream, std::string_view escaped,
                                 bool base64) {
  const bool to_syslog = options_.syslog.has_value();
  if ((!file_ && !to_syslog) || escaped.empty()) return;
  // Built by hand: the data is already JSON string text, and this runs for every chunk.
  const std::string time = now_rfc3339();
  const std::string prefix = "{\"time\":\"" + time + "\",\"type\":\"session_output\"," + source.members +
                             ",\"stream\":\"" + std::string(stream) + (base64 ? "\",\"encoding\":\"base64" : "") +
                             "\",\"data\":\"";
  if (file_) {
    std::lock_guard lock(file_mutex_);
    file_buffer_.text() += prefix;
    file_buffer_.text() += escaped;
    file_buffer_.text() += "\"}\n";
    if (file_buffer_.size() >= kFileBufferBytes ||
        std::chrono::steady_clock::now() - last_file_flush_ >= kFileFlushInterval) {
      flush_file();
    }
  }
  if (!to_syslog) return;
  // Datagram-sized pieces for syslog, each a complete JSON object of its own, cut between
  // escapes and UTF-8 sequences.
  std::size_t offset = 0;
  while (offset < escaped.size()) {
    std::size_t end = std::min(escaped.size(), offset + kSyslogDataPieceBytes);
    if (end < escaped.size()) {
      while (end > offset + 1 && (static_cast<unsigned char>(escaped[end]) & 0xC0) == 0x80) --end;  // UTF-8 tail
      const auto backslash = escaped.rfind('\\', end - 1);
      if (backslash != std::string_view::npos && backslash + 6 > end && backslash > offset) {
        // Count the backslashes before it: an odd run means it starts an escape that end would cut.
        std::size_t run = 0;
        while (backslash >= offset + run + 1 && escaped[backslash - run - 1] == '\\') ++run;
        if (run % 2 == 0) end = backslash;
      }
    }
    enqueue(format_rfc5424(kFacilityLocal0 * 8 + kSeverityInfo, time, options_.hostname, "sallyport-gateway",
                           static_cast<int>(::getpid()), "session",
                           prefix + std::string(escaped.substr(offset, end - offset)) + "\"}"));
    offset = end;
  }
}

void EventStream::session_event(const std::string& session_id, const std::string& event, const nlohmann::json& fields) {
  nlohmann::json line = fields;
  line["time"] = now_rfc3339();
  line["type"] = "session_" + event;
  line["session_id"] = session_id;
  write_line(line, kSeverityNotice, "session");
}

void EventStream::audit(const nlohmann::json& event) {
  nlohmann::json line = event;
  line["type"] = "audit";
  if (!line.contains("time")) line["time"] = now_rfc3339();
  write_line(line, kSeverityNotice, "audit");
}

void EventStream::write_line(const nlohmann::json& line, int severity, const std::string& msgid) {
  const std::string text = dump(line);
  if (file_) {
    std::lock_guard lock(file_mutex_);
    file_buffer_.text() += text;
    file_buffer_.text() += '\n';
    flush_file();
  }
  if (options_.syslog) {
    enqueue(format_rfc5424(kFacilityLocal0 * 8 + severity, now_rfc3339(), options_.hostname, "sallyport-gateway",
                           static_cast<int>(::getpid()), msgid, text));
  }
}

std::string EventStream::reopen() {
  if (!file_) return "";
  std::shared_ptr<WriteTarget> old;
  {
    std::lock_guard lock(file_mutex_);
    const auto fd = open_event_log(options_.file);
    if (!fd) return cannot_open(options_.file);
    flush_file();  // what is buffered belongs to the old file
    old = std::exchange(file_, std::make_shared<WriteTarget>(*fd));
    file_buffer_.hand_over(file_);
    file_alerted_ = false;
  }
  // The old file is closed once the writer has appended everything queued for it.
  file_writer().drain(old);
  ::close(old->fd);
  return "";
}

void EventStream::flush_if_due() {
  if (!file_) return;
  std::lock_guard lock(file_mutex_);
  if (!file_buffer_.empty() && std::chrono::steady_clock::now() - last_file_flush_ >= kFileFlushInterval) flush_file();
}

void EventStream::flush_file() {
  last_file_flush_ = std::chrono::steady_clock::now();
  if (file_->failed && !file_alerted_) {
    file_alerted_ = true;
    spdlog::error("ALERT cannot append to the event log {}", options_.file.string());
  }
  file_buffer_.hand_over(file_);
}

void EventStream::enqueue(std::string message) {
  {
    std::lock_guard lock(mutex_);
    if (queued_bytes_ + message.size() > kSyslogQueueBytes) {
      ++dropped_;
      if (!alerted_) {
        alerted_ = true;
        spdlog::error("ALERT syslog queue full: dropping messages until the server catches up");
      }
      return;
    }
    queued_bytes_ += message.size();
    queue_.push_back(std::move(message));
  }
  wake_.notify_one();
}

std::string EventStream::refusal(bool syslog_required) const {
  if (syslog_required && (!options_.syslog || !syslog_ok_)) {
    return "the syslog destination cannot be reached (required destination)";
  }
  return "";
}

bool EventStream::connect_syslog() {
  if (socket_fd_ >= 0) {
    ::close(socket_fd_);
    socket_fd_ = -1;
  }
  const auto& target = *options_.syslog;
  if (target.protocol == SyslogTarget::Protocol::kUnix) {
    socket_fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, target.path.c_str(), sizeof(address.sun_path) - 1);
    if (socket_fd_ >= 0 && ::connect(socket_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return true;
  } else {
    addrinfo hints{};
    hints.ai_socktype = target.protocol == SyslogTarget::Protocol::kTcp ? SOCK_STREAM : SOCK_DGRAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &found) != 0) return false;
    for (addrinfo* item = found; item; item = item->ai_next) {
      socket_fd_ = ::socket(item->ai_family, item->ai_socktype | SOCK_CLOEXEC, item->ai_protocol);
      if (socket_fd_ < 0) continue;
      if (::connect(socket_fd_, item->ai_addr, item->ai_addrlen) == 0) break;
      ::close(socket_fd_);
      socket_fd_ = -1;
    }
    ::freeaddrinfo(found);
    if (socket_fd_ >= 0) return true;
  }
  if (socket_fd_ >= 0) ::close(socket_fd_);
  socket_fd_ = -1;
  return false;
}

bool EventStream::send_one(const std::string& message) {
  if (socket_fd_ < 0) return false;
  std::string framed = options_.syslog->protocol == SyslogTarget::Protocol::kTcp
                           ? std::to_string(message.size()) + " " + message
                           : message;
  std::size_t done = 0;
  while (done < framed.size()) {
    const ssize_t n = ::send(socket_fd_, framed.data() + done, framed.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void EventStream::send_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
    if (stopping_ && (queue_.empty() || !syslog_ok_)) return;
    if (queue_.empty()) {
      // A periodic check keeps refusal() honest for a TCP server that went away.
      if (options_.syslog->protocol == SyslogTarget::Protocol::kTcp && !syslog_ok_) {
        lock.unlock();
        syslog_ok_ = connect_syslog();
        lock.lock();
      }
      continue;
    }
    std::string message = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= message.size();
    lock.unlock();
    bool sent = send_one(message);
    if (!sent) {
      const bool was_ok = syslog_ok_.exchange(false);
      if (was_ok) spdlog::error("ALERT syslog destination lost; reconnecting");
      for (int attempt = 0; attempt < 3 && !sent; ++attempt) {
        if (connect_syslog()) sent = send_one(message);
        if (!sent) std::this_thread::sleep_for(kReconnectDelay);
      }
      syslog_ok_ = sent;
      if (!sent) ++dropped_;
    } else {
      syslog_ok_ = true;
    }
    lock.lock();
    if (stopping_ && queue_.empty()) return;
  }
}

}  // namespace sallyport::recording
