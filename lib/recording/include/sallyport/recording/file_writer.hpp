#pragma once
// Appends to recordings and the event log on one background thread, so a session's thread
// hands a filled buffer over and goes on relaying instead of waiting in write(2). Writes to
// one file keep their order. Bounded: at most kMaxQueuedBytes wait for the disk; past that a
// caller waits too, so a slow disk slows sessions down rather than growing memory.
//
// Writes behind, as PostgreSQL's *_flush_after settings do: writeback of each written MiB
// starts at once (sync_file_range), and pages more than kWriteBehindWindowBytes behind the end
// are dropped from the page cache once on disk. Nobody reads a recording soon after writing
// it; left cached, gigabytes of it would push other files out, and on a VM each new page of
// cache costs a fault on the host (copying into fresh page cache measured 3.5 ms per MiB
// against 0.4 with write-behind).
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sallyport::recording {

inline constexpr std::size_t kMaxQueuedWriteBytes = 8 << 20;
// Written bytes of one file that may stay in the page cache; older ones are dropped once on disk.
inline constexpr std::size_t kWriteBehindWindowBytes = 16 << 20;
// Written buffers kept for reuse, so a busy session's flushes do not allocate (and fault in)
// fresh memory each time: at most this many, each of at most kMaxSpareBytes of capacity.
inline constexpr std::size_t kMaxSpareBuffers = 8;
inline constexpr std::size_t kMaxSpareBytes = 1 << 20;

// An open file the writer appends to; the owner closes it after drain().
struct WriteTarget {
  explicit WriteTarget(int descriptor) : fd(descriptor) {}
  int fd;
  std::atomic<bool> failed{false};  // a write failed
  // The writer thread's own: where writeback was last started, and below which pages were dropped.
  std::int64_t writeback_from = -1;
  std::int64_t dropped_below = -1;
};

class FileWriter {
 public:
  FileWriter();
  ~FileWriter();  // writes what is queued, then stops
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void write(const std::shared_ptr<WriteTarget>& target, std::string data);
  // An empty buffer for the next flush: one already written, when one is kept, with its
  // capacity; else a new one with `capacity` reserved.
  std::string spare_buffer(std::size_t capacity);
  // Returns when everything queued before the call has been written; true when no write to
  // `target` has failed.
  bool drain(const std::shared_ptr<WriteTarget>& target);

 private:
  struct Job {
    std::shared_ptr<WriteTarget> target;
    std::string data;
  };
  void run();

  std::mutex mutex_;
  std::condition_variable queued_, written_;
  std::deque<Job> jobs_;
  std::vector<std::string> spares_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t submitted_ = 0, completed_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// The process's writer, started on first use.
FileWriter& file_writer();

}  // namespace sallyport::recording
