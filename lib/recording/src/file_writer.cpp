#include "sallyport/recording/file_writer.hpp"

#include <unistd.h>

#include <cerrno>

namespace sallyport::recording {
namespace {

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

FileWriter::FileWriter() : thread_([this] { run(); }) {}

FileWriter::~FileWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  thread_.join();
}

void FileWriter::write(const std::shared_ptr<WriteTarget>& target, std::string data) {
  if (data.empty()) return;
  std::unique_lock lock(mutex_);
  written_.wait(lock, [&] { return queued_bytes_ < kMaxQueuedWriteBytes; });
  queued_bytes_ += data.size();
  jobs_.push_back({target, std::move(data)});
  ++submitted_;
  queued_.notify_one();
}

std::string FileWriter::spare_buffer(std::size_t capacity) {
  {
    std::lock_guard lock(mutex_);
    if (!spares_.empty()) {
      std::string spare = std::move(spares_.back());
      spares_.pop_back();
      return spare;
    }
  }
  std::string fresh;
  fresh.reserve(capacity);
  return fresh;
}

bool FileWriter::drain(const std::shared_ptr<WriteTarget>& target) {
  std::unique_lock lock(mutex_);
  const std::uint64_t mine = submitted_;
  written_.wait(lock, [&] { return completed_ >= mine; });
  return !target->failed;
}

void FileWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and everything is written
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    const bool ok = write_all(job.target->fd, job.data);
    lock.lock();
    if (!ok) job.target->failed = true;
    queued_bytes_ -= job.data.size();
    ++completed_;
    if (spares_.size() < kMaxSpareBuffers && job.data.capacity() <= kMaxSpareBytes) {
      job.data.clear();
      spares_.push_back(std::move(job.data));
    }
    written_.notify_all();
  }
}

FileWriter& file_writer() {
  static FileWriter writer;
  return writer;
}

}  // namespace sallyport::recording
