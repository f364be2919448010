#pragma once
// Files for the recording library's tests: a folder removed afterwards, a file's bytes, and
// waiting for the worker threads to make some.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace sallyport::recording::test_files {

struct TempDir {
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("recording-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
  static inline int counter = 0;
};

// Whether `done()` holds within `seconds`, asked every 50 ms.
template <class Predicate>
bool eventually(Predicate done, int seconds = 10) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace sallyport::recording::test_files
