#include "sallyport/recording/recording_file.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sallyport/recording/storage.hpp"

#include "test_files.hpp"

namespace sallyport::recording {
namespace {
namespace fs = std::filesystem;

using test_files::eventually;
using test_files::slurp;
using test_files::TempDir;

// Concatenates the data of every event with the code, as a player would see it.
std::string stream_of(const std::string& cast, const std::string& code) {
  std::istringstream lines(cast);
  std::string line, out;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    const auto event = parse_event(line);
    EXPECT_TRUE(event) << line;
    if (event && event->code == code) out += event->data;
  }
  return out;
}

Header header_for(const std::string& id) {
  Header header;
  header.session_id = id;
  return header;
}

TEST(RecordingFile, StreamsAreByteExactAcrossSplitSequences) {
  TempDir dir;
  const fs::path path = dir.path / "s.cast";
  const std::string output = "caf\xc3\xa9 \xe2\x9c\x93 \xff\xfe raw \x1b[0m";
  {
    RecordingFile file(path, header_for("s"));
    for (char c : output) file.data(Stream::kOutput, std::string(1, c));  // every sequence split
    file.data(Stream::kInput, "ls\r");
    file.data(Stream::kStderr, "oops\n");
    file.resize(100, 30);
    EXPECT_TRUE(file.close());
  }
  const auto cast = slurp(path);
  EXPECT_EQ(stream_of(cast, "o"), output);
  EXPECT_EQ(stream_of(cast, "i"), "ls\r");
  EXPECT_EQ(stream_of(cast, "e"), "oops\n");
  EXPECT_EQ(stream_of(cast, "r"), "100x30");
  EXPECT_EQ(nlohmann::json::parse(cast.substr(0, cast.find('\n')))["version"], 2);
}

// Counts the event lines with exactly this code (as written, before parse_event's decoding).
int lines_with_code(const std::string& cast, const std::string& code) {
  int count = 0;
  for (std::size_t at = cast.find(", \"" + code + "\", "); at != std::string::npos;
       at = cast.find(", \"" + code + "\", ", at + 1)) {
    ++count;
  }
  return count;
}

TEST(RecordingFile, ACommandsBinaryStreamsAreBase64AndTheRecordingStaysSmall) {
  TempDir dir;
  const fs::path path = dir.path / "c.cast";
  Header header = header_for("c");
  header.kind = "command";
  std::string binary;
  for (int i = 0; i < 64 * 1024; ++i) binary += static_cast<char>((i * 7919) % 256);
  const std::string zeros(64 * 1024, '\0');
  const std::string text = "caf\xc3\xa9 \xe2\x9c";  // ends mid-sequence: carried into the next chunk
  {
    RecordingFile file(path, header);
    const auto first = file.data(Stream::kOutput, text);
    EXPECT_FALSE(first.base64);
    EXPECT_EQ(first.code, "o");
    const auto second = file.data(Stream::kOutput, binary);
    EXPECT_TRUE(second.base64);
    EXPECT_EQ(second.code, "o64");
    EXPECT_EQ(second.text.size(), base64_size(binary.size() + 2));  // with the carried two bytes
    file.data(Stream::kStderr, zeros);
    file.data(Stream::kInput, "typed\n");
    EXPECT_TRUE(file.close());
  }
  const auto cast = slurp(path);
  EXPECT_EQ(stream_of(cast, "o"), text + binary);
  EXPECT_EQ(stream_of(cast, "e"), zeros);
  EXPECT_EQ(stream_of(cast, "i"), "typed\n");
  EXPECT_EQ(lines_with_code(cast, "o64"), 1);
  EXPECT_EQ(lines_with_code(cast, "e64"), 1);
  EXPECT_EQ(lines_with_code(cast, "i"), 1);
  EXPECT_LT(fs::file_size(path), (binary.size() + zeros.size()) * 14 / 10);
}

TEST(RecordingFile, ATerminalsOutputIsAlwaysPlainForPlayers) {
  TempDir dir;
  const fs::path path = dir.path / "t.cast";
  Header header = header_for("t");
  header.kind = "shell";
  const std::string zeros(1024, '\0');
  {
    RecordingFile file(path, header);
    EXPECT_FALSE(file.data(Stream::kOutput, zeros).base64);
    EXPECT_TRUE(file.close());
  }
  const auto cast = slurp(path);
  EXPECT_EQ(lines_with_code(cast, "o64"), 0);
  EXPECT_EQ(stream_of(cast, "o"), zeros);
}

TEST(RecordingFile, ConnectionEventsCarryTheirJsonTextAndReachTheFileAtOnce) {
  TempDir dir;
  const fs::path path = dir.path / "c.cast";
  RecordingFile file(path, header_for("c"));
  const std::string event = R"({"event":"close","connection":3,"remote":"127.0.0.1:5432","bytes_in":5})";
  file.connection(event);
  // Not buffered: an event is rare and must survive a crash, so it is handed to the writer at
  // once and on disk within moments.
  std::string cast;
  for (int i = 0; i < 100 && stream_of(cast = slurp(path), kConnectionCode).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(stream_of(cast, kConnectionCode), event);
  EXPECT_EQ(stream_of(cast, "o"), "");
  EXPECT_TRUE(file.close());
}

TEST(RecordingFile, EventTimesAreSecondsWithSixDecimals) {
  TempDir dir;
  const fs::path path = dir.path / "t.cast";
  {
    RecordingFile file(path, header_for("t"));
    file.data(Stream::kOutput, "a");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    file.data(Stream::kOutput, "b");
    file.close();
  }
  std::istringstream lines(slurp(path));
  std::string line;
  std::getline(lines, line);  // header
  std::vector<double> times;
  while (std::getline(lines, line)) {
    const auto comma = line.find(',');
    ASSERT_NE(comma, std::string::npos) << line;
    const std::string time = line.substr(1, comma - 1);
    EXPECT_EQ(time.size() - time.find('.'), 7u) << line;  // six digits after the point
    EXPECT_EQ(line.substr(comma), std::string(", \"o\", \"") + (times.empty() ? "a" : "b") + "\"]") << line;
    times.push_back(std::stod(time));
  }
  ASSERT_EQ(times.size(), 2u);
  EXPECT_LT(times[0], 0.015);
  EXPECT_GE(times[1] - times[0], 0.019);
  EXPECT_LT(times[1], 5.0);
}

TEST(RecordingFile, RefusesToOverwrite) {
  TempDir dir;
  { RecordingFile file(dir.path / "a.cast", header_for("a")); }
  EXPECT_THROW(RecordingFile(dir.path / "a.cast", header_for("a")), RecordingError);
}

TEST(RecordingFile, DataReachesTheFileWithinAFlushInterval) {
  TempDir dir;
  RecordingFile file(dir.path / "f.cast", header_for("f"));
  const auto header_size = fs::file_size(dir.path / "f.cast");
  file.data(Stream::kOutput, "x");
  EXPECT_EQ(fs::file_size(dir.path / "f.cast"), header_size);  // buffered
  std::this_thread::sleep_for(kFlushInterval + std::chrono::milliseconds(50));
  file.flush_if_due();
  // Handed to the background writer: on disk within moments, not at the next flush.
  for (int i = 0; i < 100 && fs::file_size(dir.path / "f.cast") == header_size; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(fs::file_size(dir.path / "f.cast"), header_size);
}

TEST(RecordingFile, RepairDropsAPartialLastLine) {
  TempDir dir;
  const fs::path path = dir.path / "p.cast";
  std::ofstream(path) << "{\"version\": 2}\n[0.1, \"o\", \"ok\"]\n[0.2, \"o\", \"trunc";
  EXPECT_TRUE(repair_truncated(path));
  EXPECT_EQ(slurp(path), "{\"version\": 2}\n[0.1, \"o\", \"ok\"]\n");
  EXPECT_TRUE(repair_truncated(path));  // already whole
  std::ofstream(dir.path / "empty.cast") << "no newline";
  EXPECT_FALSE(repair_truncated(dir.path / "empty.cast"));
}

// A gateway that stops gracefully keeps the session's recording in live/; the next run goes on
// in the same file, after its last whole line, with times that go on from the session's start.
TEST(RecordingStorage, AKeptRecordingIsSkippedByRecoverAndContinuedInTheSameFile) {
  TempDir dir;
  StorageOptions options;
  options.dir = dir.path;
  {
    RecordingStorage storage(options);
    Header header = header_for("kept-1");
    header.kind = "command";
    auto file = storage.create(header);
    file->data(Stream::kOutput, "before \xe2\x9c");  // an incomplete sequence: escaped at close
    file->data(Stream::kInput, "typed");
    EXPECT_TRUE(file->close());
    std::ofstream(dir.path / "live" / "kept-1.cast", std::ios::app) << "[1.0, \"o\", \"cut";
    auto other = storage.create(header_for("other-2"));
    other->close();
  }
  RecordingStorage storage(options);
  EXPECT_EQ(storage.recover({"kept-1"}), std::vector<std::string>{"other-2"});
  EXPECT_TRUE(fs::exists(dir.path / "live" / "kept-1.cast"));
  {
    auto file = storage.reopen("kept-1", {std::chrono::milliseconds(90'000), true});
    file->data(Stream::kOutput, "after");
    file->data(Stream::kStderr, std::string("\x00\x01\xff", 3));
    EXPECT_TRUE(file->close());
  }
  const auto cast = slurp(dir.path / "live" / "kept-1.cast");
  EXPECT_EQ(std::count(cast.begin(), cast.end(), '\n'), 6) << cast;  // header, 3 before (the held-back tail), 2 after
  EXPECT_EQ(stream_of(cast, "o"), "before \xe2\x9c" "after");
  EXPECT_EQ(stream_of(cast, "i"), "typed");
  EXPECT_EQ(cast.find("cut"), std::string::npos);
  double last = 0;
  std::istringstream lines(cast.substr(cast.find('\n') + 1));
  for (std::string line; std::getline(lines, line);) last = parse_event(line)->time;
  EXPECT_GE(last, 90.0);
  EXPECT_LT(last, 120.0);
  EXPECT_THROW(storage.reopen("nobody-3", {}), RecordingError);
  EXPECT_THROW(storage.reopen("../etc/passwd", {}), RecordingError);
}

TEST(RecordingStorage, FinishRecoverCompressAndRead) {
  TempDir dir;
  StorageOptions options;
  options.dir = dir.path;
  options.compress = true;
  {
    RecordingStorage storage(options);
    auto file = storage.create(header_for("alice-1"));
    file->data(Stream::kOutput, "hello");
    file->close();
    storage.finish("alice-1");
    // A session the "previous run" never finished, cut mid-line.
    auto left = storage.create(header_for("bob-2"));
    left->data(Stream::kOutput, "partial");
    left->close();
    std::ofstream(dir.path / "live" / "bob-2.cast", std::ios::app) << "[9.0, \"o\", \"cut";
  }
  RecordingStorage storage(options);
  EXPECT_EQ(storage.recover(), std::vector<std::string>{"bob-2"});
  storage.start_worker();
  ASSERT_TRUE(eventually([&] {
    return fs::exists(dir.path / "alice-1.cast.zst") && fs::exists(dir.path / "bob-2.cast.zst");
  }));
  const auto alice = storage.read("alice-1");
  ASSERT_TRUE(alice.text) << alice.error;
  EXPECT_EQ(stream_of(*alice.text, "o"), "hello");
  const auto bob = storage.read("bob-2");
  ASSERT_TRUE(bob.text) << bob.error;
  EXPECT_EQ(stream_of(*bob.text, "o"), "partial");
  EXPECT_EQ(storage.read("../etc/passwd").failure, RecordingRead::Failure::kInvalidId);
  const auto nobody = storage.read("nobody-3");
  EXPECT_FALSE(nobody.text);
  EXPECT_EQ(nobody.failure, RecordingRead::Failure::kNotFound);
  EXPECT_EQ(nobody.error, "no recording is stored for this session");
  std::ofstream(dir.path / "broken-4.cast.zst", std::ios::binary) << "not a zstd frame";
  const auto broken = storage.read("broken-4");
  EXPECT_FALSE(broken.text);
  EXPECT_EQ(broken.failure, RecordingRead::Failure::kDamaged);
  EXPECT_EQ(broken.error, "the compressed recording is damaged");
  EXPECT_EQ(storage.refusal(true, false), "");
  EXPECT_NE(storage.refusal(true, true), "");  // no bucket configured
}

// A recording larger than read() may return is refused before it is read, plain or
// compressed; one within the bound comes back whole, through the streaming compressor.
// Local retention: finished recordings older than keep_local go, by their last write; a live
// one, a queued one, other files and, with a bucket, one it does not have yet stay.
TEST(RecordingStorage, PrunesFinishedLocalCopiesOlderThanTheRetention) {
  TempDir dir;
  const auto now = fs::file_time_type::clock::now();
  const auto write = [&](const std::string& name, std::chrono::hours age) {
    std::ofstream(dir.path / name) << "{\"version\": 2}\n";
    fs::last_write_time(dir.path / name, now - age);
  };
  StorageOptions options;
  options.dir = dir.path;
  {
    RecordingStorage storage(options);  // creates live/
    write("old-1.cast", std::chrono::hours(72));
    write("old-2.cast.zst", std::chrono::hours(50));
    write("young-3.cast", std::chrono::hours(47));
    write("live/old-4.cast", std::chrono::hours(100));
    write("notes.txt", std::chrono::hours(100));
    EXPECT_EQ(storage.prune_local(now), 0u) << "no retention set: everything stays";
  }
  options.keep_local = std::chrono::hours(48);
  {
    RecordingStorage storage(options);
    auto queued = storage.create(header_for("old-5"));
    queued->close();
    storage.finish("old-5");  // queued for the worker (not started): it stays however old
    fs::last_write_time(dir.path / "old-5.cast", now - std::chrono::hours(90));
    EXPECT_EQ(storage.prune_local(now), 2u);
    EXPECT_FALSE(fs::exists(dir.path / "old-1.cast"));
    EXPECT_FALSE(fs::exists(dir.path / "old-2.cast.zst"));
    for (const char* kept : {"young-3.cast", "live/old-4.cast", "notes.txt", "old-5.cast"}) {
      EXPECT_TRUE(fs::exists(dir.path / kept)) << kept;
    }
  }
  // With a bucket, only what it has: the .uploaded marker goes with the copy.
  options.s3 = S3Options{"http://127.0.0.1:9", "bucket", "", "us-east-1", "key", "secret"};
  RecordingStorage storage(options);
  write("sent-6.cast", std::chrono::hours(60));
  write("sent-6.uploaded", std::chrono::hours(60));
  write("unsent-7.cast", std::chrono::hours(60));
  EXPECT_EQ(storage.prune_local(now), 1u);
  EXPECT_FALSE(fs::exists(dir.path / "sent-6.cast"));
  EXPECT_FALSE(fs::exists(dir.path / "sent-6.uploaded"));
  EXPECT_TRUE(fs::exists(dir.path / "unsent-7.cast"));
  EXPECT_TRUE(fs::exists(dir.path / "old-5.cast")) << "not uploaded either";
}

TEST(RecordingStorage, ReadRefusesWhatIsLargerThanItsBoundAndCompressionStreams) {
  TempDir dir;
  StorageOptions options;
  options.dir = dir.path;
  options.max_read_bytes = 4 << 20;
  const auto record = [&](RecordingStorage& storage, const std::string& id, std::size_t bytes) {
    auto file = storage.create(header_for(id));
    std::string text;
    for (std::size_t i = 0; text.size() < bytes; ++i) text += "line " + std::to_string(i * 7919 % 100003) + "\r\n";
    file->data(Stream::kOutput, text);
    file->close();
    storage.finish(id);
    return text;
  };
  {
    RecordingStorage storage(options);
    record(storage, "big-1", 5 << 20);
    const std::string small = record(storage, "small-2", 3 << 20);
    const auto big = storage.read("big-1");
    EXPECT_FALSE(big.text);
    EXPECT_EQ(big.failure, RecordingRead::Failure::kTooLarge);
    EXPECT_NE(big.error.find("the recording is 5 MiB, too large to serve (at most 4 MiB)"), std::string::npos) << big.error;
    const auto back = storage.read("small-2");
    ASSERT_TRUE(back.text) << back.error;
    EXPECT_TRUE(stream_of(*back.text, "o") == small);
  }
  options.compress = true;
  RecordingStorage storage(options);
  const std::string packed = record(storage, "packed-3", 3 << 20);
  record(storage, "packed-big-4", 6 << 20);  // compresses far below the bound, but says its size
  storage.start_worker();
  ASSERT_TRUE(eventually([&] {
    return fs::exists(dir.path / "packed-3.cast.zst") && fs::exists(dir.path / "packed-big-4.cast.zst");
  }));
  EXPECT_LT(fs::file_size(dir.path / "packed-big-4.cast.zst"), std::uintmax_t{1} << 20);
  const auto back = storage.read("packed-3");
  ASSERT_TRUE(back.text) << back.error;
  EXPECT_TRUE(stream_of(*back.text, "o") == packed);
  const auto packed_big = storage.read("packed-big-4");
  EXPECT_FALSE(packed_big.text);
  EXPECT_EQ(packed_big.failure, RecordingRead::Failure::kTooLarge) << packed_big.error;
  EXPECT_FALSE(zstd_compress_file(dir.path / "missing.cast", dir.path / "missing.cast.zst"));
}

TEST(RecordingStorage, SessionIdsThatCouldEscapeTheFolderAreInvalid) {
  EXPECT_TRUE(valid_session_id("alice-0123456789abcdef0"));
  EXPECT_FALSE(valid_session_id(""));
  EXPECT_FALSE(valid_session_id(".."));
  EXPECT_FALSE(valid_session_id("../x"));
  EXPECT_FALSE(valid_session_id("a/b"));
  EXPECT_FALSE(valid_session_id(".hidden"));
  EXPECT_FALSE(valid_session_id(std::string(129, 'a')));
}

TEST(Zstd, RoundTripAndRefusesGarbage) {
  TempDir dir;
  const std::string text(100000, 'z');
  std::ofstream(dir.path / "plain", std::ios::binary) << text;
  ASSERT_TRUE(zstd_compress_file(dir.path / "plain", dir.path / "packed"));
  const std::string packed = slurp(dir.path / "packed");
  EXPECT_LT(packed.size(), text.size() / 10);
  EXPECT_EQ(zstd_decompress(packed), text);
  EXPECT_FALSE(zstd_decompress("not zstd"));
}

}  // namespace
}  // namespace sallyport::recording
