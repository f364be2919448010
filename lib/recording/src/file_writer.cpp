#include "sallyport/recording/file_writer.hpp"

#include <fcntl.h>
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

constexpr std::int64_t kWritebackStepBytes = 1 << 20;
constexpr std::int64_t kPageMask = ~std::int64_t{4095};

// After `written` bytes were appended: starts writeback of what is new, and once the file is
// more than the window ahead of what was dropped, waits for the older half and drops it. Best
// effort: a filesystem without writeback (tmpfs, some FUSE) refuses or ignores the calls.
void write_behind(WriteTarget& target, std::size_t written) {
  const off_t end = ::lseek(target.fd, 0, SEEK_CUR);
  if (end < 0) return;
  if (target.writeback_from < 0) target.writeback_from = target.dropped_below = (end - static_cast<off_t>(written)) & kPageMask;
  if (end - target.writeback_from >= kWritebackStepBytes) {
    ::sync_file_range(target.fd, target.writeback_from, end - target.writeback_from, SYNC_FILE_RANGE_WRITE);
    target.writeback_from = end;
  }
  constexpr auto kWindow = static_cast<std::int64_t>(kWriteBehindWindowBytes);
  if (target.writeback_from - target.dropped_below <= kWindow) return;
  const std::int64_t drop_to = (target.writeback_from - kWindow / 2) & kPageMask;
  const std::int64_t length = drop_to - target.dropped_below;
  ::sync_file_range(target.fd, target.dropped_below, length,
                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  ::posix_fadvise(target.fd, target.dropped_below, length, POSIX_FADV_DONTNEED);
  target.dropped_below = drop_to;
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
    if (ok) write_behind(*job.target, job.data.size());
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
