#include "sallyport/recording/storage.hpp"

#include <spdlog/spdlog.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace sallyport::recording {
namespace fs = std::filesystem;
namespace {

constexpr auto kProbeInterval = std::chrono::seconds(10);
constexpr auto kPruneInterval = std::chrono::hours(1);  // local retention is counted in days

// The session ID of a finished recording's file name (ID.cast or ID.cast.zst), else "".
std::string finished_recording_id(const std::string& name) {
  if (name.size() > 9 && name.ends_with(".cast.zst")) return name.substr(0, name.size() - 9);
  if (name.size() > 5 && name.ends_with(".cast")) return name.substr(0, name.size() - 5);
  return "";
}
constexpr const char* kProbeKey = ".sallyport-probe";

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return std::nullopt;
  return text.str();
}

}  // namespace

bool valid_session_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (const char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<std::string> zstd_decompress(const std::string& bytes, std::size_t max_bytes) {
  const auto size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_bytes) return std::nullopt;
  std::string out(static_cast<std::size_t>(size), '\0');
  const std::size_t written = ZSTD_decompress(out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(written) || written != size) return std::nullopt;
  return out;
}

bool zstd_compress_file(const fs::path& from, const fs::path& to) {
  std::FILE* in = std::fopen(from.c_str(), "rb");
  std::FILE* out = in ? std::fopen(to.c_str(), "wb") : nullptr;
  ZSTD_CCtx* context = out ? ZSTD_createCCtx() : nullptr;
  bool ok = context != nullptr && !ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, 3));
  // The frame says its size, so a reader can bound what it decompresses before it starts.
  std::error_code ec;
  const auto size = fs::file_size(from, ec);
  ok = ok && !ec && !ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(context, size));
  std::string input(ZSTD_CStreamInSize(), '\0');
  std::string output(ZSTD_CStreamOutSize(), '\0');
  for (bool last = false; ok && !last;) {
    const std::size_t read = std::fread(input.data(), 1, input.size(), in);
    if (std::ferror(in)) {
      ok = false;
      break;
    }
    last = read < input.size();
    ZSTD_inBuffer pending{input.data(), read, 0};
    for (bool finished = false; ok && !finished;) {
      ZSTD_outBuffer produced{output.data(), output.size(), 0};
      const std::size_t left = ZSTD_compressStream2(context, &produced, &pending, last ? ZSTD_e_end : ZSTD_e_continue);
      ok = !ZSTD_isError(left) && std::fwrite(output.data(), 1, produced.pos, out) == produced.pos;
      finished = last ? left == 0 : pending.pos == pending.size;
    }
  }
  ZSTD_freeCCtx(context);
  if (out != nullptr && std::fclose(out) != 0) ok = false;
  if (in != nullptr) std::fclose(in);
  return ok;
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

fs::path RecordingStorage::live_path(const std::string& session_id) const {
  if (!valid_session_id(session_id)) throw RecordingError("invalid session ID for a recording");
  return options_.dir / "live" / (session_id + ".cast");
}

std::unique_ptr<RecordingFile> RecordingStorage::create(const Header& header) {
  return std::make_unique<RecordingFile>(live_path(header.session_id), header);
}

std::unique_ptr<RecordingFile> RecordingStorage::reopen(const std::string& session_id,
                                                        RecordingFile::Continued continued) {
  return std::make_unique<RecordingFile>(live_path(session_id), continued);
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

std::vector<std::string> RecordingStorage::recover(const std::set<std::string>& kept) {
  std::vector<std::string> recovered;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.dir / "live", ec)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".cast") continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (kept.count(id)) continue;
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
    const std::string name = entry.path().filename().string();
    const std::string id = finished_recording_id(name);
    if (id.empty() || queued.count(id)) continue;
    const bool needs_compress = options_.compress && name.ends_with(".cast");
    const bool needs_upload = s3_ && !fs::exists(uploaded_marker(id));
    if (needs_compress || needs_upload) queue_.push_back(id);
  }
  return recovered;
}

void RecordingStorage::start_worker() {
  worker_ = std::thread([this] { work(); });
}

fs::path RecordingStorage::uploaded_marker(const std::string& id) const { return options_.dir / (id + ".uploaded"); }

fs::path RecordingStorage::upload_progress(const std::string& id) const { return options_.dir / (id + ".upload"); }

fs::path RecordingStorage::finished_path(const std::string& id) const {
  const fs::path plain = options_.dir / (id + ".cast");
  if (fs::exists(plain)) return plain;
  return options_.dir / (id + ".cast.zst");
}

bool RecordingStorage::compress_one(const std::string& id) {
  const fs::path plain = options_.dir / (id + ".cast");
  if (!options_.compress || !fs::exists(plain)) return true;
  const fs::path packed = options_.dir / (id + ".cast.zst");
  const fs::path temporary = packed.string() + ".tmp";
  std::error_code ec;
  if (!zstd_compress_file(plain, temporary)) {
    spdlog::error("recording {}: compression failed; kept uncompressed", id);
    fs::remove(temporary, ec);
    return true;
  }
  fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::rename(temporary, packed, ec);
  if (ec) {
    spdlog::error("recording {}: cannot store it compressed ({}); kept uncompressed", id, ec.message());
    fs::remove(temporary, ec);
    return true;
  }
  fs::remove(plain, ec);
  return true;
}

bool RecordingStorage::upload_one(const std::string& id) {
  if (!s3_ || fs::exists(uploaded_marker(id))) return true;
  const fs::path path = finished_path(id);
  if (!fs::exists(path)) {
    spdlog::error("recording {}: cannot read {} for upload", id, path.string());
    return true;  // nothing to retry
  }
  const bool packed = path.extension() == ".zst";
  const auto result = s3_->put_file(id + (packed ? ".cast.zst" : ".cast"), path,
                                    packed ? "application/zstd" : "application/x-asciicast", upload_progress(id));
  s3_ok_ = result.ok;
  if (!result.ok) {
    spdlog::error("ALERT recording {}: upload to s3 bucket {} failed ({}); kept on local disk, retrying",
                  id, s3_->options().bucket, result.message);
    return false;
  }
  std::ofstream marker(uploaded_marker(id));
  if (result.parts > 0) {
    spdlog::info("recording {} uploaded to s3 bucket {} in {} parts", id, s3_->options().bucket, result.parts);
  } else {
    spdlog::info("recording {} uploaded to s3 bucket {}", id, s3_->options().bucket);
  }
  return true;
}

void RecordingStorage::probe_s3() {
  const auto result = s3_->put(kProbeKey, "ok", "text/plain");
  if (!result.ok && s3_ok_) spdlog::error("ALERT s3 bucket {} cannot be written: {}", s3_->options().bucket, result.message);
  s3_ok_ = result.ok;
}

std::size_t RecordingStorage::prune_local(fs::file_time_type now) {
  if (options_.keep_local.count() <= 0) return 0;
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.dir, ec)) {
    std::error_code entry_ec;
    if (!entry.is_regular_file(entry_ec)) continue;
    const std::string id = finished_recording_id(entry.path().filename().string());
    if (!valid_session_id(id)) continue;
    const auto written = entry.last_write_time(entry_ec);
    if (entry_ec || now - written < options_.keep_local) continue;
    const fs::path uploaded = uploaded_marker(id);
    if (s3_ && !fs::exists(uploaded, entry_ec)) continue;  // the only copy until the bucket has it
    {
      std::lock_guard lock(mutex_);
      if (std::find(queue_.begin(), queue_.end(), id) != queue_.end()) continue;
    }
    if (!fs::remove(entry.path(), entry_ec)) continue;
    fs::remove(uploaded, entry_ec);
    fs::remove(upload_progress(id), entry_ec);  // left by a bucket since unconfigured
    ++removed;
  }
  if (removed > 0) {
    spdlog::info("removed {} local recording(s) older than {} days", removed, options_.keep_local.count() / 24);
  }
  return removed;
}

void RecordingStorage::work() {
  auto last_probe = std::chrono::steady_clock::now() - kProbeInterval;
  auto last_prune = std::chrono::steady_clock::now() - kPruneInterval;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (std::chrono::steady_clock::now() - last_prune >= kPruneInterval) {
      last_prune = std::chrono::steady_clock::now();
      lock.unlock();
      prune_local(fs::file_time_type::clock::now());
      lock.lock();
    }
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

RecordingRead RecordingStorage::read(const std::string& session_id) const {
  using Failure = RecordingRead::Failure;
  if (!valid_session_id(session_id)) return RecordingRead::failed(Failure::kInvalidId, "invalid session ID");
  const std::size_t max = options_.max_read_bytes;
  const auto too_large = [&](std::optional<std::uint64_t> bytes) {
    return RecordingRead::failed(
        Failure::kTooLarge, "the recording is " + (bytes ? std::to_string(*bytes >> 20) + " MiB" : "larger than that") +
                                ", too large to serve (at most " + std::to_string(max >> 20) +
                                " MiB); fetch it from the recording folder or bucket");
  };
  // A decompressed recording that claims more than it may hold is too large; one that does not
  // say is damaged (ours always say).
  const auto unpack = [&](const std::string& packed) {
    const auto claimed = ZSTD_getFrameContentSize(packed.data(), packed.size());
    const bool says = claimed != ZSTD_CONTENTSIZE_ERROR && claimed != ZSTD_CONTENTSIZE_UNKNOWN;
    if (says && claimed > max) return too_large(claimed);
    auto text = zstd_decompress(packed, max);
    if (!text) return RecordingRead::failed(Failure::kDamaged, "the compressed recording is damaged");
    return RecordingRead::found(std::move(*text));
  };
  for (const auto& name : {session_id + ".cast", session_id + ".cast.zst", "live/" + session_id + ".cast"}) {
    const fs::path path = options_.dir / name;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) continue;
    if (size > max) return too_large(size);
    auto bytes = read_file(path);
    if (!bytes) continue;  // moved away while we looked: try the next place
    if (name.ends_with(".zst")) return unpack(*bytes);
    return RecordingRead::found(std::move(*bytes));
  }
  if (s3_) {
    for (const auto& key : {session_id + ".cast.zst", session_id + ".cast"}) {
      auto result = s3_->get(key, max);
      if (result.too_large) return too_large(std::nullopt);
      if (!result.ok) continue;
      if (key.ends_with(".zst")) return unpack(result.body);
      return RecordingRead::found(std::move(result.body));
    }
  }
  return RecordingRead::failed(Failure::kNotFound, "no recording is stored for this session");
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
    if (s3_ && !fs::exists(uploaded_marker(id))) ++count;
  }
  return count;
}

}  // namespace sallyport::recording
