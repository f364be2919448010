#include "sallyport/util/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

using namespace sallyport::util;

TEST(Files, WritesAtomicallyWithMode) {
  const auto dir = std::filesystem::temp_directory_path() / ("sp-files-" + std::to_string(::getpid()));
  ensure_directory(dir / "sub");
  const auto file = dir / "sub" / "secret";
  write_file_atomic(file, "hello", 0600);
  EXPECT_EQ(read_file(file), "hello");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THROW(read_file(file, 2), FileError);
  EXPECT_FALSE(read_file_if_exists(dir / "missing").has_value());
  std::filesystem::remove_all(dir);
}
