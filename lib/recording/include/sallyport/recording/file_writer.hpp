#pragma once
// Appends to recordings and the event log on one background thread, so a session's thread
// hands a filled buffer over and goes on relaying instead of waiting in write(2). Writes to
// one file keep their order. Bounded: at most kMaxQueuedBytes wait for the disk; past that a
// caller waits too, so a slow disk slows sessions down rather than growing memory.
//
// Whole 4 KiB blocks go to the disk directly (O_DIRECT), bypassing the page cache; only the
// bytes before the first block boundary and after the last one of each write go through it, so
// the file holds everything handed over even if the process is killed. Nobody reads a
// recording soon after writing it, and on a VM each new page of cache costs a fault on the
// host: dd of 2000 MiB took 4.6 s of system time buffered, 0.25 s direct. Direct writes cost
// less per byte the larger they are (256 KiB twice what 1 MiB does), so while full buffers
// come (a bulk stream) the writer gathers up to 2 MiB or 20 ms (less when someone waits in
// drain()) and writes each file's share in one call, from the buffers themselves when
// hand_over() lined them up with the file's blocks; smaller writes go out at once. A file
// that refuses direct I/O (some FUSE and older tmpfs) is written through the page cache.
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
// Written buffers kept for reuse, so a busy session's flushes do not allocate (and fault in)
// fresh memory each time: at most this many, each of at most kMaxSpareBytes of capacity.
inline constexpr std::size_t kMaxSpareBuffers = 8;
inline constexpr std::size_t kMaxSpareBytes = 1 << 20;

// An open file the writer appends to; the owner closes it after drain().
struct WriteTarget {
  explicit WriteTarget(int descriptor);
  int fd;
  std::atomic<bool> failed{false};  // a write failed
  std::int64_t handed_end;          // the owner's: where the next byte handed over goes
  bool direct = true;               // the writer thread's: false once the file refused direct I/O
};

class FileWriter {
 public:
  FileWriter();
  ~FileWriter();  // writes what is queued, then stops
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Appends `data` after its first `skip` bytes.
  void write(const std::shared_ptr<WriteTarget>& target, std::string data, std::size_t skip = 0);
  // Hands what `buffer` holds after its first `skip` bytes over to be appended, puts an empty
  // buffer of at least `capacity` in its place, and returns that buffer's padding: the bytes to
  // keep at its front so that its data sits in memory as it will in the file's 4 KiB blocks,
  // which lets the writer send whole blocks to the disk without copying them.
  std::size_t hand_over(const std::shared_ptr<WriteTarget>& target, std::string& buffer, std::size_t skip,
                        std::size_t capacity);
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
    std::size_t skip;
  };
  void run();

  std::mutex mutex_;
  std::condition_variable queued_, written_;
  std::deque<Job> jobs_;
  std::vector<std::string> spares_;
  std::size_t queued_bytes_ = 0;
  int draining_ = 0;  // callers in drain(): the writer writes at once
  std::uint64_t submitted_ = 0, completed_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// The process's writer, started on first use.
FileWriter& file_writer();

// A file's bytes on their way to the process's writer: appended to text(), handed over by
// hand_over(). Its text starts with padding, not data, that lines the data up with the file's
// 4 KiB blocks (FileWriter::hand_over), so the writer sends whole blocks without copying them.
class FlushBuffer {
 public:
  explicit FlushBuffer(std::size_t capacity) : capacity_(capacity) {}
  std::string& text() { return text_; }  // append here; positions in it hold until hand_over()
  std::size_t size() const { return text_.size() - padding_; }  // data bytes
  bool empty() const { return size() == 0; }
  // Queues the data for `target` and lines the emptied buffer up with where its next byte goes
  // (also with none: a new target's first call).
  void hand_over(const std::shared_ptr<WriteTarget>& target);

 private:
  std::size_t capacity_;
  std::string text_;
  std::size_t padding_ = 0;
};

}  // namespace sallyport::recording
