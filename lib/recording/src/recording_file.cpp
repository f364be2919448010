#include "sallyport/recording/recording_file.hpp"

#include <charconv>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace sallyport::recording {

const char* stream_code(Stream stream, bool base64) {
  switch (stream) {
    case Stream::kOutput: return base64 ? "o64" : "o";
    case Stream::kInput: return base64 ? "i64" : "i";
    case Stream::kStderr: return base64 ? "e64" : "e";
  }
  return "o";
}

RecordingFile::RecordingFile(std::filesystem::path path, const Header& header) : path_(std::move(path)) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw RecordingError("cannot create recording " + path_.string() + ": " + std::strerror(errno));
  start_ = last_flush_ = std::chrono::steady_clock::now();
  binary_streams_ = header.kind == "command";
  // The header is written here, not queued, so a disk that refuses it refuses the session.
  const std::string first_line = encode_header(header);
  if (::write(fd, first_line.data(), first_line.size()) != static_cast<ssize_t>(first_line.size())) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw RecordingError("cannot write recording " + path_.string() + ": " + why);
  }
  target_ = std::make_shared<WriteTarget>(fd);
  buffer_.hand_over(target_);
}

RecordingFile::RecordingFile(std::filesystem::path path, Continued continued) : path_(std::move(path)) {
  // A stop between two writes can leave a partial line: drop it so every line parses.
  if (!repair_truncated(path_)) throw RecordingError("cannot continue recording " + path_.string() + ": it is damaged");
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw RecordingError("cannot continue recording " + path_.string() + ": " + std::strerror(errno));
  start_ = std::chrono::steady_clock::now() - continued.elapsed;
  last_flush_ = std::chrono::steady_clock::now();
  binary_streams_ = continued.binary_streams;
  target_ = std::make_shared<WriteTarget>(fd);  // appends after the file's end
  buffer_.hand_over(target_);
}

RecordingFile::~RecordingFile() { close(); }

double RecordingFile::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

RecordedChunk RecordingFile::data(Stream stream, std::string_view bytes) {
  if (!target_ || bytes.empty()) return {};
  // Before appending: what is returned points into buffer_.
  if (buffer_.size() >= kFlushBytes) {
    flush();
  } else {
    flush_if_due();
  }
  std::string& carry = carry_[static_cast<int>(stream)];
  std::string joined;
  std::string_view input = bytes;
  if (!carry.empty()) {
    joined.reserve(carry.size() + bytes.size());
    joined.append(carry).append(bytes);
    input = joined;
  }
  std::string& text = buffer_.text();
  const std::size_t line_start = text.size();
  append_prefix(stream, false);
  std::size_t text_start = text.size();
  std::optional<std::size_t> held;
  if (binary_streams_) {
    held = append_json_bytes_compact(text, input, false);
  } else {
    held = append_json_bytes(text, input, false);
  }
  bool base64 = false;
  if (!held) {
    base64 = true;
    text.resize(line_start);
    append_prefix(stream, true);
    text_start = text.size();
    append_base64(text, input);
    held = 0;
  }
  const std::size_t text_end = text.size();
  carry.assign(input.substr(input.size() - *held));  // input is `bytes` or a copy, never carry itself
  if (text_end == text_start) {
    text.resize(line_start);
    return {};
  }
  text += "\"]\n";
  return {stream_code(stream, base64), std::string_view(text).substr(text_start, text_end - text_start), base64};
}

void RecordingFile::append_prefix(Stream stream, bool base64) {
  // to_chars, not snprintf: this runs for every chunk of output, and printf's float
  // formatting showed in the gateway's per-keystroke profile. Same digits as "%.6f".
  char time[32];
  const auto formatted = std::to_chars(time, time + sizeof time, elapsed(), std::chars_format::fixed, 6);
  std::string& text = buffer_.text();
  text += '[';
  text.append(time, formatted.ptr);
  text += ", \"";
  text += stream_code(stream, base64);
  text += "\", \"";
}

void RecordingFile::resize(int cols, int rows) {
  if (!target_) return;
  buffer_.text() += encode_event(elapsed(), "r", std::to_string(cols) + "x" + std::to_string(rows));
  flush();
}

void RecordingFile::connection(std::string_view json_text) {
  if (!target_) return;
  std::string escaped;
  append_json_bytes(escaped, json_text, true);
  buffer_.text() += encode_event(elapsed(), kConnectionCode, escaped);
  flush();
}

void RecordingFile::flush_if_due() {
  if (target_ && !buffer_.empty() && std::chrono::steady_clock::now() - last_flush_ >= kFlushInterval) flush();
}

void RecordingFile::flush() {
  last_flush_ = std::chrono::steady_clock::now();
  if (!buffer_.empty()) buffer_.hand_over(target_);
}

bool RecordingFile::close() {
  if (!target_) return ok_;
  for (int i = 0; i < 3; ++i) {
    if (carry_[i].empty()) continue;
    std::string escaped;
    append_json_bytes(escaped, carry_[i], true);
    buffer_.text() += encode_event(elapsed(), stream_code(static_cast<Stream>(i)), escaped);
    carry_[i].clear();
  }
  flush();
  if (!file_writer().drain(target_)) ok_ = false;
  if (::close(target_->fd) != 0) ok_ = false;
  target_.reset();
  return ok_;
}

bool repair_truncated(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return false;
  std::ifstream in(path, std::ios::binary);
  // Walk back from the end to the last '\n'; everything after it is a partial line.
  std::uintmax_t keep = size;
  const std::uintmax_t kChunk = 64 * 1024;
  std::string chunk;
  while (keep > 0) {
    const std::uintmax_t start = keep > kChunk ? keep - kChunk : 0;
    chunk.resize(static_cast<std::size_t>(keep - start));
    in.seekg(static_cast<std::streamoff>(start));
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (!in) return false;
    const auto newline = chunk.rfind('\n');
    if (newline != std::string::npos) {
      keep = start + newline + 1;
      break;
    }
    keep = start;
  }
  if (keep == size) return true;
  if (keep == 0) return false;  // not even a header line
  return ::truncate(path.c_str(), static_cast<off_t>(keep)) == 0;
}

}  // namespace sallyport::recording
