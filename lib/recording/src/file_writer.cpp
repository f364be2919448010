#include "sallyport/recording/file_writer.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <unordered_map>

namespace sallyport::recording {
namespace {

// Direct I/O wants the offset, the length and the memory aligned to the device's logical
// block; 4 KiB is a multiple of every common one.
constexpr std::size_t kBlockBytes = 4096;
constexpr std::size_t kPoolBlocks = 1024;         // blocks for bytes copied: 4 MiB
constexpr std::size_t kMostPerWrite = 8 << 20;     // the largest single direct write
constexpr std::size_t kMaxBlockRuns = 1024;        // IOV_MAX
// A direct write of 1 MiB costs half the CPU per byte of one of 256 KiB (the size of a full
// flush), so while full flushes come (a bulk stream) the writer gathers a while before it
// writes, unless someone waits. Smaller ones (events, typing) are written at once.
constexpr std::size_t kGatherFrom = 256 << 10;
constexpr std::size_t kGatherBytes = 2 << 20;
constexpr auto kGatherTime = std::chrono::milliseconds(20);

bool write_at(int fd, const char* data, std::size_t size, std::int64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

// For what cannot seek (a pipe, a terminal): plain appends.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Writes runs of blocks from `first` on at `offset` through the page cache.
bool write_runs(int fd, const std::vector<iovec>& runs, std::size_t first, std::int64_t offset) {
  for (std::size_t i = first; i < runs.size(); ++i) {
    if (!write_at(fd, static_cast<const char*>(runs[i].iov_base), runs[i].iov_len, offset)) return false;
    offset += static_cast<std::int64_t>(runs[i].iov_len);
  }
  return true;
}

enum class Direct { written, refused, failed };

// Writes the blocks (aligned memory, whole blocks) at the aligned `offset` bypassing the page
// cache; `refused` when the file takes no direct I/O and nothing was written.
Direct write_direct(int fd, std::vector<iovec>& blocks, std::int64_t offset) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) return Direct::refused;
  std::size_t next = 0;
  std::size_t done = 0;
  ssize_t n = 0;
  while (next < blocks.size() && done % kBlockBytes == 0) {  // a short write off the block grid ends it
    n = ::pwritev(fd, blocks.data() + next, static_cast<int>(blocks.size() - next), offset + static_cast<std::int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
    for (auto left = static_cast<std::size_t>(n); left > 0;) {  // step over what was written
      const std::size_t step = std::min(left, blocks[next].iov_len);
      blocks[next].iov_base = static_cast<char*>(blocks[next].iov_base) + step;
      blocks[next].iov_len -= step;
      left -= step;
      if (blocks[next].iov_len == 0) ++next;
    }
  }
  const bool refused = done == 0 && n < 0 && errno == EINVAL;
  ::fcntl(fd, F_SETFL, flags);
  if (refused) return Direct::refused;
  // What is left after a short write goes through the cache.
  return write_runs(fd, blocks, next, offset + static_cast<std::int64_t>(done)) ? Direct::written : Direct::failed;
}

bool block_aligned(const void* data) { return reinterpret_cast<std::uintptr_t>(data) % kBlockBytes == 0; }

struct AlignedBuffer {
  AlignedBuffer() : data(static_cast<char*>(std::aligned_alloc(kBlockBytes, kPoolBlocks * kBlockBytes))) {
    if (data == nullptr) throw std::bad_alloc();
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  char* data;
};

// Appends one target's pieces of a batch, in order, in as few writes as it can. Whole blocks
// go straight to the disk: from the pieces themselves where their bytes sit in memory as they
// will in the file's blocks (hand_over() lines them up), else copied into blocks of `pool`,
// as are the blocks that join two pieces. The bytes before the file's first block boundary
// and after its last one go through the page cache, so that the file always holds everything
// handed over (a killed gateway loses nothing) and a direct write never covers a cached page.
class Appender {
 public:
  Appender(WriteTarget& target, AlignedBuffer& pool, std::int64_t end) : target_(target), pool_(pool), end_(end) {}

  bool add(std::string_view piece) {
    while (!piece.empty()) {
      const std::int64_t at = end_ + static_cast<std::int64_t>(pending_ + fill_);  // where piece[0] goes
      if (!target_.direct) {
        if (!write_blocks_and_partial() || !write_at(target_.fd, piece.data(), piece.size(), end_)) return false;
        end_ += static_cast<std::int64_t>(piece.size());
        return true;
      }
      if (fill_ == 0 && at % kBlockBytes == 0 && block_aligned(piece.data()) && piece.size() >= kBlockBytes) {
        const std::size_t whole = piece.size() / kBlockBytes * kBlockBytes;
        if (!queue(piece.data(), whole)) return false;
        piece.remove_prefix(whole);
        continue;
      }
      if (fill_ == 0 && pending_ == 0 && at % kBlockBytes != 0) {  // the file's last block, begun before
        const std::size_t lead = std::min(piece.size(), kBlockBytes - static_cast<std::size_t>(at % kBlockBytes));
        if (!write_at(target_.fd, piece.data(), lead, at)) return false;
        end_ += static_cast<std::int64_t>(lead);
        piece.remove_prefix(lead);
        continue;
      }
      if (fill_ == 0 && used_ == kPoolBlocks && !write_blocks()) return false;
      char* block = pool_.data + used_ * kBlockBytes;
      const std::size_t take = std::min(piece.size(), kBlockBytes - fill_);
      std::memcpy(block + fill_, piece.data(), take);
      fill_ += take;
      piece.remove_prefix(take);
      if (fill_ == kBlockBytes) {
        ++used_;
        fill_ = 0;
        if (!queue(block, kBlockBytes)) return false;
      }
    }
    return true;
  }

  bool finish() {
    if (!write_blocks_and_partial()) return false;
    // Leave the descriptor's offset at the end, as plain writes would have.
    return ::lseek(target_.fd, end_, SEEK_SET) == end_;
  }

 private:
  bool queue(const char* data, std::size_t size) {
    if (!blocks_.empty() && static_cast<const char*>(blocks_.back().iov_base) + blocks_.back().iov_len == data) {
      blocks_.back().iov_len += size;
    } else {
      blocks_.push_back({const_cast<char*>(data), size});
    }
    pending_ += size;
    return (blocks_.size() < kMaxBlockRuns && pending_ < kMostPerWrite) || write_blocks();
  }

  // Writes the queued whole blocks at end_; a block being filled moves to the pool's front.
  bool write_blocks() {
    if (pending_ == 0) return true;
    Direct result = write_direct(target_.fd, blocks_, end_);
    if (result == Direct::refused) {  // this file takes no direct I/O: the page cache from now on
      target_.direct = false;
      result = write_runs(target_.fd, blocks_, 0, end_) ? Direct::written : Direct::failed;
    }
    if (result == Direct::failed) return false;
    end_ += static_cast<std::int64_t>(pending_);
    pending_ = 0;
    blocks_.clear();
    if (fill_ > 0 && used_ > 0) std::memmove(pool_.data, pool_.data + used_ * kBlockBytes, fill_);
    used_ = 0;
    return true;
  }

  bool write_blocks_and_partial() {
    if (!write_blocks()) return false;
    if (fill_ == 0) return true;
    if (!write_at(target_.fd, pool_.data, fill_, end_)) return false;
    end_ += static_cast<std::int64_t>(fill_);
    fill_ = 0;
    return true;
  }

  WriteTarget& target_;
  AlignedBuffer& pool_;
  std::int64_t end_;                // the file's end: pending_ bytes then fill_ bytes go here
  std::vector<iovec> blocks_;       // runs of whole blocks queued for one direct write
  std::size_t pending_ = 0;         // their bytes
  std::size_t used_ = 0;            // pool blocks queued
  std::size_t fill_ = 0;            // bytes in the pool block after them, not yet whole
};

bool append(WriteTarget& target, const std::vector<std::string_view>& pieces, AlignedBuffer& pool) {
  const off_t end = ::lseek(target.fd, 0, SEEK_END);
  if (end < 0) {
    for (const auto piece : pieces) {
      if (!write_all(target.fd, piece)) return false;
    }
    return true;
  }
  Appender appender(target, pool, end);
  for (const auto piece : pieces) {
    if (!appender.add(piece)) return false;
  }
  return appender.finish();
}

}  // namespace

WriteTarget::WriteTarget(int descriptor) : fd(descriptor), handed_end(std::max<off_t>(::lseek(descriptor, 0, SEEK_END), 0)) {}

FileWriter::FileWriter() : thread_([this] { run(); }) {}

FileWriter::~FileWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  thread_.join();
}

void FileWriter::write(const std::shared_ptr<WriteTarget>& target, std::string data, std::size_t skip) {
  if (data.size() <= skip) return;
  std::unique_lock lock(mutex_);
  written_.wait(lock, [&] { return queued_bytes_ < kMaxQueuedWriteBytes; });
  queued_bytes_ += data.size();
  jobs_.push_back({target, std::move(data), skip});
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

std::size_t FileWriter::hand_over(const std::shared_ptr<WriteTarget>& target, std::string& buffer, std::size_t skip,
                                  std::size_t capacity) {
  if (buffer.size() > skip) {
    target->handed_end += static_cast<std::int64_t>(buffer.size() - skip);
    std::string full = spare_buffer(capacity);
    full.swap(buffer);
    write(target, std::move(full), skip);
  } else if (buffer.capacity() < capacity) {
    buffer = spare_buffer(capacity);
  }
  const auto at = static_cast<std::uintptr_t>(target->handed_end);
  const auto padding = static_cast<std::size_t>((at - reinterpret_cast<std::uintptr_t>(buffer.data())) % kBlockBytes);
  buffer.assign(padding, '\0');
  return padding;
}

bool FileWriter::drain(const std::shared_ptr<WriteTarget>& target) {
  std::unique_lock lock(mutex_);
  const std::uint64_t mine = submitted_;
  ++draining_;
  queued_.notify_one();
  written_.wait(lock, [&] { return completed_ >= mine; });
  --draining_;
  return !target->failed;
}

void FileWriter::run() {
  AlignedBuffer pool;
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and everything is written
    if (queued_bytes_ >= kGatherFrom) {
      queued_.wait_for(lock, kGatherTime, [&] { return stopping_ || draining_ > 0 || queued_bytes_ >= kGatherBytes; });
    }
    // Everything queued at once: each file's pieces join into as few large writes as possible.
    std::deque<Job> batch;
    batch.swap(jobs_);
    lock.unlock();
    std::vector<WriteTarget*> order;
    std::unordered_map<WriteTarget*, std::vector<std::string_view>> pieces;
    for (const auto& job : batch) {
      auto& mine = pieces[job.target.get()];
      if (mine.empty()) order.push_back(job.target.get());
      mine.push_back(std::string_view(job.data).substr(job.skip));
    }
    for (auto* target : order) {
      if (!append(*target, pieces[target], pool)) target->failed = true;
    }
    lock.lock();
    for (auto& job : batch) {
      queued_bytes_ -= job.data.size();
      if (spares_.size() < kMaxSpareBuffers && job.data.capacity() <= kMaxSpareBytes) {
        job.data.clear();
        spares_.push_back(std::move(job.data));
      }
    }
    completed_ += batch.size();
    written_.notify_all();
  }
}

void FlushBuffer::hand_over(const std::shared_ptr<WriteTarget>& target) {
  padding_ = file_writer().hand_over(target, text_, padding_, capacity_);
}

FileWriter& file_writer() {
  static FileWriter writer;
  return writer;
}

}  // namespace sallyport::recording
