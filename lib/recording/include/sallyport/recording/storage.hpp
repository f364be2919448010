#pragma once
// Where recordings live. Locally under DIR: live/ID.cast while a session runs, ID.cast (or
// ID.cast.zst when compression is on) once it ended, and ID.uploaded once the object store has
// it. A worker thread compresses and uploads finished recordings, retrying while the store is
// down; recordings left in live/ by a killed gateway are repaired and queued by recover() on
// the next start, so nothing is lost across a crash or restart.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sallyport/recording/recording_file.hpp"
#include "sallyport/recording/recording_read.hpp"
#include "sallyport/recording/s3.hpp"

namespace sallyport::recording {

// What read() returns at most (the API serves a recording in one answer); larger ones are
// refused (kTooLarge) before anything is read.
inline constexpr std::size_t kMaxReadRecordingBytes = 64 << 20;

struct StorageOptions {
  std::filesystem::path dir;
  bool compress = false;  // zstd
  std::optional<S3Options> s3;
  std::chrono::milliseconds retry_interval{5000};
  std::size_t max_read_bytes = kMaxReadRecordingBytes;
  // 0: finished local copies stay; else they are removed once this old (by their last write),
  // and with a bucket only once it has them.
  std::chrono::hours keep_local{0};
};

// Session IDs as the hub makes them: [A-Za-z0-9._-], not starting with '.', at most 128.
bool valid_session_id(const std::string& id);

class RecordingStorage {
 public:
  explicit RecordingStorage(StorageOptions options);  // creates the folders; throws RecordingError
  ~RecordingStorage();                                 // stops the worker
  RecordingStorage(const RecordingStorage&) = delete;
  RecordingStorage& operator=(const RecordingStorage&) = delete;

  const StorageOptions& options() const { return options_; }
  // A new recording in live/; throws RecordingError.
  std::unique_ptr<RecordingFile> create(const Header& header);
  // The recording in live/ of a session a previous run kept for this one; throws RecordingError.
  std::unique_ptr<RecordingFile> reopen(const std::string& session_id, RecordingFile::Continued continued);
  // The session ended and its file is closed: move it out of live/ and queue it.
  void finish(const std::string& session_id);
  // Repairs and queues recordings a previous run left in live/, except those of `kept`
  // sessions (taken back, see reopen()); returns their IDs.
  std::vector<std::string> recover(const std::set<std::string>& kept = {});
  void start_worker();

  // The asciicast text (decompressed), from the local folder or else the object store; a
  // failure when it cannot be had or is larger than max_read_bytes.
  // Compressing and uploading stream the file: memory stays bounded whatever its size.
  RecordingRead read(const std::string& session_id) const;

  // Why new sessions must be refused now ("" when they may start), given which destinations
  // the storage preferences mark as required.
  std::string refusal(bool local_required, bool s3_required) const;
  std::size_t pending_uploads() const;
  // Removes finished local recordings older than keep_local as of `now` (the worker does it
  // on start and hourly); returns how many. Never one in live/, queued, or not yet uploaded
  // when a bucket is configured.
  std::size_t prune_local(std::filesystem::file_time_type now);
  bool s3_healthy() const { return s3_ok_.load(); }

 private:
  void work();
  bool compress_one(const std::string& id);
  bool upload_one(const std::string& id);
  void probe_s3();
  std::filesystem::path live_path(const std::string& id) const;  // for create/reopen; throws for a bad ID
  std::filesystem::path finished_path(const std::string& id) const;  // the .cast or .cast.zst present
  std::filesystem::path uploaded_marker(const std::string& id) const;  // exists once the bucket has it
  std::filesystem::path upload_progress(const std::string& id) const;  // a multipart upload's parts so far

  StorageOptions options_;
  std::unique_ptr<S3Client> s3_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::atomic<bool> s3_ok_{true};
  std::thread worker_;
};

// zstd helpers (bounded: refuse frames that claim more than `max_bytes`).
inline constexpr std::size_t kMaxRecordingBytes = std::size_t{1} << 30;
std::optional<std::string> zstd_decompress(const std::string& bytes, std::size_t max_bytes = kMaxRecordingBytes);
// Compresses a file of any size into another, a block at a time; false on any failure.
bool zstd_compress_file(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace sallyport::recording
