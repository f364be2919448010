#pragma once
// Logs go to standard error (standard output belongs to the program's answers) or a file.
#include <filesystem>
#include <string>

namespace sallyport::util {

// level: trace, debug, info, warn or error. Throws std::invalid_argument on an unknown level,
// and spdlog::spdlog_ex when the file cannot be opened.
void setup_logging(const std::string& program, const std::string& level, const std::filesystem::path& file = {});

// Closes and opens the log file again at the same path, so that after logrotate has renamed
// it new lines go to a new file. Does nothing when logging to standard error. Returns "" or
// why the file could not be opened (lines then go on to the old file).
std::string reopen_log_file();

}  // namespace sallyport::util
