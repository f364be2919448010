#pragma once
// Small file helpers. Secrets (keys, tokens, passwords) are written with write_file_atomic and
// mode 0600 so a crash never leaves a half-written or world-readable secret.
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace sallyport::util {

struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads at most max_bytes; throws FileError when missing, unreadable or larger.
std::string read_file(const std::filesystem::path& path, std::size_t max_bytes = 16 << 20);
std::optional<std::string> read_file_if_exists(const std::filesystem::path& path,
                                               std::size_t max_bytes = 16 << 20);
// Writes to a temporary file in the same folder with the given mode, fsyncs, renames.
void write_file_atomic(const std::filesystem::path& path, const std::string& content,
                       unsigned mode = 0600);
// Creates the folder (and parents) with the given mode when missing.
void ensure_directory(const std::filesystem::path& path, unsigned mode = 0700);
// Gives a pipe room for `bytes` (Linux's default is 64 KiB), so a bulk stream moves in larger
// pieces with fewer wake-ups. Best effort: anything but a pipe, or a system whose
// pipe-max-size is lower, is left as it is.
void enlarge_pipe(int fd, std::size_t bytes);

}  // namespace sallyport::util
