#include "sallyport/recording/file_writer.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_files.hpp"

namespace sallyport::recording {
namespace {
namespace fs = std::filesystem;

using test_files::slurp;
using test_files::TempDir;

bool on_tmpfs(const fs::path& path) {
  struct statfs filesystem {};
  return ::statfs(path.c_str(), &filesystem) == 0 && filesystem.f_type == TMPFS_MAGIC;
}

// Pages of the file that are in the page cache.
std::size_t cached_bytes(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const auto size = static_cast<std::size_t>(fs::file_size(path));
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  const int result = ::mincore(map, size, resident.data());
  ::munmap(map, size);
  if (result != 0) return size;
  return static_cast<std::size_t>(std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; })) * page;
}

std::string piece_of(std::size_t size, int seed) {
  std::string piece(size, '\0');
  for (std::size_t i = 0; i < size; ++i) piece[i] = static_cast<char>((i * 131 + static_cast<std::size_t>(seed) * 7) % 251);
  return piece;
}

TEST(FileWriter, KeepsOrderPastItsBoundAndReportsAFailedWrite) {
  TempDir dir;
  const fs::path path = dir.path / "ordered";
  FileWriter writer;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  auto target = std::make_shared<WriteTarget>(fd);
  std::string expected;
  for (int i = 0; i < 40; ++i) {  // 40 x 1 MiB: five times what may wait, so callers wait too
    std::string piece(1 << 20, static_cast<char>('a' + i % 26));
    expected += piece;
    writer.write(target, std::move(piece));
  }
  EXPECT_TRUE(writer.drain(target));
  ::close(fd);
  EXPECT_TRUE(slurp(path) == expected);

  const int read_only = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  auto refused = std::make_shared<WriteTarget>(read_only);
  writer.write(refused, "x");
  EXPECT_FALSE(writer.drain(refused));
  ::close(read_only);
}

// Pieces of every size around the 4 KiB blocks that go to the disk directly, to a file that
// starts off the block grid, both appended to (the event log) and written at its offset (a
// recording): every byte lands where it belongs, and the offset ends at the end.
TEST(FileWriter, PiecesOfAnySizeLandExactlyAroundTheBlocksWrittenDirectly) {
  TempDir dir;
  FileWriter writer;
  const std::vector<std::size_t> sizes = {1, 4095, 3, 8192, (1 << 20) + 7, 5000, 4096, 4097, (5 << 20) + 123, 2, 12288};
  for (const int extra : {O_APPEND, 0}) {
    const fs::path path = dir.path / (extra == O_APPEND ? "appended" : "written");
    std::string expected = piece_of(1000, 99);
    std::ofstream(path, std::ios::binary) << expected;
    const int fd = ::open(path.c_str(), O_WRONLY | extra | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    if (extra == 0) ::lseek(fd, 0, SEEK_END);
    auto target = std::make_shared<WriteTarget>(fd);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::string piece = piece_of(sizes[i], static_cast<int>(i));
      expected += piece;
      writer.write(target, std::move(piece));
      if (i % 3 == 0) {
        EXPECT_TRUE(writer.drain(target));  // some alone, some batched together
      }
    }
    EXPECT_TRUE(writer.drain(target));
    EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), static_cast<off_t>(expected.size()));
    ::close(fd);
    const std::string written = slurp(path);
    ASSERT_EQ(written.size(), expected.size()) << path;
    EXPECT_TRUE(written == expected) << path;
  }
}

// The way recordings and the event log write: buffers handed over with the padding that lines
// their data up with the file's blocks, filled with pieces of every size.
TEST(FileWriter, HandedOverBuffersLandExactly) {
  TempDir dir;
  FileWriter writer;
  const fs::path path = dir.path / "handed";
  std::string expected = piece_of(777, 5);  // a header, written before the target exists
  std::ofstream(path, std::ios::binary) << expected;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto target = std::make_shared<WriteTarget>(fd);
  std::string buffer;
  std::size_t padding = writer.hand_over(target, buffer, 0, 64 << 10);
  const std::vector<std::size_t> sizes = {10, 70000, 4096, 1, 300000, 8191, 3, 65536, 123457, 4095, 2};
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::string piece = piece_of(sizes[i], round * 100 + static_cast<int>(i));
      buffer += piece;
      expected += piece;
      if (i % 2 == 1) padding = writer.hand_over(target, buffer, padding, 64 << 10);
    }
    padding = writer.hand_over(target, buffer, padding, 64 << 10);
    if (round == 1) {
      EXPECT_TRUE(writer.drain(target));
    }
  }
  EXPECT_EQ(buffer.size(), padding);
  EXPECT_TRUE(writer.drain(target));
  ::close(fd);
  const std::string written = slurp(path);
  ASSERT_EQ(written.size(), expected.size());
  EXPECT_TRUE(written == expected);
}

TEST(FileWriter, LeavesNextToNothingOfALongFileInThePageCache) {
  TempDir dir;
  if (on_tmpfs(dir.path)) GTEST_SKIP() << dir.path << " is on tmpfs, which keeps every file in the page cache";
  const fs::path path = dir.path / "long";
  FileWriter writer;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  auto target = std::make_shared<WriteTarget>(fd);
  constexpr std::size_t kTotal = 64 << 20;
  // Pieces off the block grid, as a recording's flushes are.
  for (std::size_t written = 0; written < kTotal; written += (256 << 10) + 10) writer.write(target, std::string((256 << 10) + 10, 'r'));
  EXPECT_TRUE(writer.drain(target));
  ::close(fd);
  ASSERT_GE(fs::file_size(path), kTotal);
  // A recording nobody reads soon must not push other files' pages out of the cache (and on
  // a fresh VM, fault in new memory for every page): only the blocks at each write's ends were cached.
  EXPECT_LE(cached_bytes(path), std::size_t{1} << 20);
}

TEST(FileWriter, WritesToWhatCannotSeek) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  std::string received;
  std::thread reader([&] {
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0) received.append(buffer, static_cast<std::size_t>(n));
  });
  FileWriter writer;
  auto target = std::make_shared<WriteTarget>(pipe_fds[1]);
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    std::string piece = piece_of(70000 + static_cast<std::size_t>(i), i);
    expected += piece;
    writer.write(target, std::move(piece));
  }
  EXPECT_TRUE(writer.drain(target));
  ::close(pipe_fds[1]);
  reader.join();
  ::close(pipe_fds[0]);
  EXPECT_TRUE(received == expected);
}

}  // namespace
}  // namespace sallyport::recording
