#include "sallyport/util/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace sallyport::util {
namespace {

std::string contents(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Logging, ReopenAfterARenameWritesANewFile) {
  const auto folder = std::filesystem::temp_directory_path() / ("log-rotate-" + std::to_string(::getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  const auto file = folder / "gateway.log";
  setup_logging("rotate-test", "info", file);
  spdlog::info("line-before");
  std::filesystem::rename(file, folder / "gateway.log.1");
  spdlog::info("line-still-before");
  EXPECT_EQ(reopen_log_file(), "");
  spdlog::info("line-after");
  spdlog::default_logger()->flush();
  const std::string old_text = contents(folder / "gateway.log.1");
  EXPECT_NE(old_text.find("line-before"), std::string::npos) << old_text;
  EXPECT_NE(old_text.find("line-still-before"), std::string::npos) << old_text;
  EXPECT_EQ(old_text.find("line-after"), std::string::npos) << old_text;
  const std::string new_text = contents(file);
  EXPECT_NE(new_text.find("line-after"), std::string::npos) << new_text;
  EXPECT_EQ(new_text.find("before"), std::string::npos) << new_text;

  // A path that cannot be opened (spdlog would create a missing folder, so a file stands in
  // the folder's place): the old file goes on receiving lines.
  std::filesystem::rename(folder, folder.string() + "-moved");
  std::ofstream(folder) << "not a folder";
  const std::string why = reopen_log_file();
  EXPECT_NE(why.find("gateway.log"), std::string::npos) << why;
  spdlog::info("line-kept");
  spdlog::default_logger()->flush();
  EXPECT_NE(contents(folder.string() + "-moved/gateway.log").find("line-kept"), std::string::npos);
  std::filesystem::remove_all(folder.string() + "-moved");
  std::filesystem::remove(folder);

  // Logging to standard error afterwards: nothing is reopened or created.
  setup_logging("rotate-test-stderr", "info");
  EXPECT_EQ(reopen_log_file(), "");
  EXPECT_FALSE(std::filesystem::exists(folder));
  spdlog::drop("rotate-test");
  spdlog::drop("rotate-test-stderr");
}

}  // namespace
}  // namespace sallyport::util
