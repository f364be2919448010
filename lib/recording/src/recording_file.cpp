#include "sallyport/recording/recording_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace sallyport::recording {

const char* stream_code(Stream stream) {
  switch (stream) {
    case Stream::kOutput: return "o";
    case Stream::kInput: return "i";
    case Stream::kStderr: return "e";
  }
  return "o";
}

RecordingFile::RecordingFile(std::filesystem::path path, const Header& header) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) throw RecordingError("cannot create recording " + path_.string() + ": " + std::strerror(errno));
  start_ = last_flush_ = std::chrono::steady_clock::now();
  buffer_ = encode_header(header);
  flush();
  if (!ok_) {
    ::close(fd_);
    fd_ = -1;
    throw RecordingError("cannot write recording " + path_.string() + ": " + std::strerror(errno));
  }
}

RecordingFile::~RecordingFile() { close(); }

double RecordingFile::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

const std::string& RecordingFile::data(Stream stream, std::string_view bytes) {
  escaped_.clear();
  if (fd_ < 0 || bytes.empty()) return escaped_;
  std::string& carry = carry_[static_cast<int>(stream)];
  std::string& escaped = escaped_;
  escaped.reserve(bytes.size() + bytes.size() / 8 + 8);
  std::size_t held = 0;
  if (carry.empty()) {
    held = append_json_bytes(escaped, bytes, false);
    carry.assign(bytes.substr(bytes.size() - held));
  } else {
    std::string joined = carry + std::string(bytes);
    held = append_json_bytes(escaped, joined, false);
    carry = joined.substr(joined.size() - held);
  }
  if (!escaped.empty()) append_event(stream_code(stream), escaped);
  if (buffer_.size() >= kFlushBytes) {
    flush();
  } else {
    flush_if_due();
  }
  return escaped_;
}

void RecordingFile::append_event(const char* code, std::string_view escaped) {
  char time[32];
  std::snprintf(time, sizeof time, "[%.6f, \"", elapsed());
  buffer_ += time;
  buffer_ += code;
  buffer_ += "\", \"";
  buffer_ += escaped;
  buffer_ += "\"]\n";
}

void RecordingFile::resize(int cols, int rows) {
  if (fd_ < 0) return;
  buffer_ += encode_event(elapsed(), "r", std::to_string(cols) + "x" + std::to_string(rows));
  flush();
}

void RecordingFile::connection(std::string_view json_text) {
  if (fd_ < 0) return;
  std::string escaped;
  append_json_bytes(escaped, json_text, true);
  buffer_ += encode_event(elapsed(), kConnectionCode, escaped);
  flush();
}

void RecordingFile::flush_if_due() {
  if (fd_ >= 0 && !buffer_.empty() && std::chrono::steady_clock::now() - last_flush_ >= kFlushInterval) flush();
}

void RecordingFile::flush() {
  last_flush_ = std::chrono::steady_clock::now();
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok_ = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

bool RecordingFile::close() {
  if (fd_ < 0) return ok_;
  for (int i = 0; i < 3; ++i) {
    if (carry_[i].empty()) continue;
    std::string escaped;
    append_json_bytes(escaped, carry_[i], true);
    buffer_ += encode_event(elapsed(), stream_code(static_cast<Stream>(i)), escaped);
    carry_[i].clear();
  }
  flush();
  if (::close(fd_) != 0) ok_ = false;
  fd_ = -1;
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
