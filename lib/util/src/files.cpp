#include "sallyport/util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace sallyport::util {
namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

std::optional<std::string> read_file_if_exists(const std::filesystem::path& path,
                                               std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  return read_file(path, max_bytes);
}

std::string read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot read " + path.string() + ": " + errno_text());
  std::string content;
  char buffer[8192];
  while (in) {
    in.read(buffer, sizeof buffer);
    content.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (content.size() > max_bytes) {
      throw FileError(path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return content;
}

void write_file_atomic(const std::filesystem::path& path, const std::string& content,
                       unsigned mode) {
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        static_cast<mode_t>(mode));
  if (fd < 0) throw FileError("cannot write " + temp.string() + ": " + errno_text());
  ::fchmod(fd, static_cast<mode_t>(mode));
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string error = errno_text();
      ::close(fd);
      throw FileError("cannot write " + temp.string() + ": " + error);
    }
    written += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    throw FileError("cannot rename " + temp.string() + " to " + path.string() + ": " + errno_text());
  }
}

void ensure_directory(const std::filesystem::path& path, unsigned mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return;
  std::filesystem::create_directories(path, ec);
  if (ec) throw FileError("cannot create directory " + path.string() + ": " + ec.message());
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

void enlarge_pipe(int fd, std::size_t bytes) {
#ifdef F_SETPIPE_SZ
  struct stat status {};
  if (::fstat(fd, &status) == 0 && S_ISFIFO(status.st_mode)) ::fcntl(fd, F_SETPIPE_SZ, static_cast<int>(bytes));
#else
  (void)fd;
  (void)bytes;
#endif
}

}  // namespace sallyport::util
