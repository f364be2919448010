#include "sallyport/recording/storage.hpp"

#include <spdlog/spdlog.h>
#include <zstd.h>

#include <fstream>
#include <sstream>


namespace sallyport::recording {
namespace fs = std::filesystem;
namespace {

constexpr auto kProbeInterval = std::chrono::seconds(10);
constexpr const char* kProbeKey = ".sallyport-probe";

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return std::nullopt;
  return text.str();
}

bool write_file_atomically(const fs::path& path, const std::string& bytes) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return false;
  }
  fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write);
  std::error_code ec;
  fs::rename(temporary, path, ec);
  return !ec;
}

}  // namespace

bool valid_session_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (const char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<std::string> zstd_compress(const std::string& bytes) {
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const std::size_t size = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), 3);
  if (ZSTD_isError(size)) return std::nullopt;
  out.resize(size);
  return out;
}

std::optional<std::string> zstd_decompress(const std::string& bytes) {
  const auto size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxRecordingBytes) return std::nullopt;
  std::string out(static_cast<std::size_t>(size), '\0');
  const std::size_t written = ZSTD_decompress(out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(written) || written != size) return std::nullopt;
  return out;
}

RecordingStorage::RecordingStorage(StorageOptions options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.dir / "live", ec);
  if (ec) throw RecordingError("cannot create the recordings folder " + options_.dir.string() + ": " + ec.message());
  fs::permissions(options_.dir, fs::perms::owner_all, ec);
  if (options_.s3) {
    s3_ = std::make_unique<S3Client>(*options_.s3);
    s3_ok_ = false;  // unknown until the first probe
  }
}

RecordingStorage::~RecordingStorage() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::unique_ptr<RecordingFile> RecordingStorage::create(const Header& header) {
  if (!valid_session_id(header.session_id)) throw RecordingError("invalid session ID for a recording");
  return std::make_unique<RecordingFile>(options_.dir / "live" / (header.session_id + ".cast"), header);
}

void RecordingStorage::finish(const std::string& session_id) {
  std::error_code ec;
  fs::rename(options_.dir / "live" / (session_id + ".cast"), options_.dir / (session_id + ".cast"), ec);
  if (ec) {
    spdlog::error("recording {}: cannot move it out of live/: {}", session_id, ec.message());
    return;
  }
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(session_id);
  }
  wake_.notify_all();
}

std::vector<std::string> RecordingStorage::recover() {
  std::vector<std::string> recovered;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.dir / "live", ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".cast") continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (!repair_truncated(entry.path())) {
      spdlog::error("recording {} left by a previous run cannot be repaired; kept in live/", id);
      continue;
    }
    finish(id);
    recovered.push_back(id);
    spdlog::warn("recording {} was interrupted (gateway stopped mid-session); recovered up to its last flush", id);
  }
  // Finished recordings that never reached the object store, or were not yet compressed.
  std::lock_guard lock(mutex_);
  const std::set<std::string> queued(queue_.begin(), queue_.end());
  for (const auto& entry : fs::directory_iterator(options_.dir, ec)) {
    std::string name = entry.path().filename().string();
    std::string id;
    if (name.size() > 5 && name.ends_with(".cast")) id = name.substr(0, name.size() - 5);
    if (name.size() > 9 && name.ends_with(".cast.zst")) id = name.substr(0, name.size() - 9);
    if (id.empty() || queued.count(id)) continue;
    const bool needs_compress = options_.compress && name.ends_with(".cast");
    const bool needs_upload = s3_ && !fs::exists(options_.dir / (id + ".uploaded"));
    if (needs_compress || needs_upload) queue_.push_back(id);
  }
  return recovered;
}

void RecordingStorage::start_worker() {
  worker_ = std::thread([this] { work(); });
}

fs::path RecordingStorage::finished_path(const std::string& id) const {
  const fs::path plain = options_.dir / (id + ".cast");
  if (fs::exists(plain)) return plain;
  return options_.dir / (id + ".cast.zst");
}

bool RecordingStorage::compress_one(const std::string& id) {
  const fs::path plain = options_.dir / (id + ".cast");
  if (!options_.compress || !fs::exists(plain)) return true;
  const auto bytes = read_file(plain);
  const auto packed = bytes ? zstd_compress(*bytes) : std::nullopt;
  if (!packed || !write_file_atomically(options_.dir / (id + ".cast.zst"), *packed)) {
    spdlog::error("recording {}: compression failed; kept uncompressed", id);
    return true;
  }
  std::error_code ec;
  fs::remove(plain, ec);
  return true;
}

bool RecordingStorage::upload_one(const std::string& id) {
  if (!s3_ || fs::exists(options_.dir / (id + ".uploaded"))) return true;
  const fs::path path = finished_path(id);
  const auto bytes = read_file(path);
  if (!bytes) {
    spdlog::error("recording {}: cannot read {} for upload", id, path.string());
    return true;  // nothing to retry
  }
  const bool packed = path.extension() == ".zst";
  const auto result = s3_->put(id + (packed ? ".cast.zst" : ".cast"), *bytes,
                               packed ? "application/zstd" : "application/x-asciicast");
  s3_ok_ = result.ok;
  if (!result.ok) {
    spdlog::error("ALERT recording {}: upload to s3 bucket {} failed ({}); kept on local disk, retrying",
                  id, s3_->options().bucket, result.message);
    return false;
  }
  std::ofstream marker(options_.dir / (id + ".uploaded"));
  spdlog::info("recording {} uploaded to s3 bucket {}", id, s3_->options().bucket);
  return true;
}

void RecordingStorage::probe_s3() {
  const auto result = s3_->put(kProbeKey, "ok", "text/plain");
  if (!result.ok && s3_ok_) spdlog::error("ALERT s3 bucket {} cannot be written: {}", s3_->options().bucket, result.message);
  s3_ok_ = result.ok;
}

void RecordingStorage::work() {
  auto last_probe = std::chrono::steady_clock::now() - kProbeInterval;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::deque<std::string> batch;
    batch.swap(queue_);
    lock.unlock();
    std::deque<std::string> retry;
    for (const auto& id : batch) {
      compress_one(id);
      if (!upload_one(id)) retry.push_back(id);
    }
    if (s3_ && batch.empty() &&
        std::chrono::steady_clock::now() - last_probe >= (s3_ok_ ? std::chrono::milliseconds(kProbeInterval) : options_.retry_interval)) {
      last_probe = std::chrono::steady_clock::now();
      probe_s3();
    }
    lock.lock();
    for (auto& id : retry) queue_.push_front(std::move(id));
    const bool backing_off = !retry.empty();
    if (backing_off || queue_.empty()) {
      wake_.wait_for(lock, backing_off ? options_.retry_interval : std::chrono::milliseconds(1000),
                     [&] { return stopping_ || (!backing_off && !queue_.empty()); });
    }
  }
}

std::optional<std::string> RecordingStorage::read(const std::string& session_id, std::string* error) const {
  if (!valid_session_id(session_id)) {
    *error = "invalid session ID";
    return std::nullopt;
  }
  for (const auto& name : {session_id + ".cast", session_id + ".cast.zst", "live/" + session_id + ".cast"}) {
    const fs::path path = options_.dir / name;
    if (!fs::exists(path)) continue;
    auto bytes = read_file(path);
    if (!bytes) continue;  // moved away while we looked: try the next place
    if (name.ends_with(".zst")) {
      bytes = zstd_decompress(*bytes);
      if (!bytes) {
        *error = "the compressed recording is damaged";
        return std::nullopt;
      }
    }
    return bytes;
  }
  if (s3_) {
    for (const auto& key : {session_id + ".cast.zst", session_id + ".cast"}) {
      auto result = s3_->get(key);
      if (!result.ok) continue;
      if (key.ends_with(".zst")) return zstd_decompress(result.body);
      return std::move(result.body);
    }
  }
  *error = "no recording is stored for this session";
  return std::nullopt;
}

std::string RecordingStorage::refusal(bool local_required, bool s3_required) const {
  if (local_required) {
    const fs::path probe = options_.dir / "live" / ".write-probe";
    std::ofstream out(probe, std::ios::trunc);
    out << "ok";
    out.flush();
    const bool writable = static_cast<bool>(out);
    out.close();
    std::error_code ec;
    fs::remove(probe, ec);
    if (!writable) return "the recording folder " + options_.dir.string() + " cannot be written (required destination)";
  }
  if (s3_required && (!s3_ || !s3_ok_)) {
    return s3_ ? "the recording bucket " + s3_->options().bucket + " cannot be written (required destination)"
               : "recordings must go to S3 (required destination) but no bucket is configured";
  }
  return "";
}

std::size_t RecordingStorage::pending_uploads() const {
  std::lock_guard lock(mutex_);
  std::size_t count = 0;
  for (const auto& id : queue_) {
    if (s3_ && !fs::exists(options_.dir / (id + ".uploaded"))) ++count;
  }
  return count;
}

}  // namespace sallyport::recording
