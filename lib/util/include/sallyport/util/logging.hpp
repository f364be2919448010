#pragma once
// Logs go to standard error (standard output belongs to the program's answers) or a file.
#include <filesystem>
#include <string>

namespace sallyport::util {

// level: trace, debug, info, warn or error. Throws std::invalid_argument on an unknown level.
void setup_logging(const std::string& program, const std::string& level, const std::filesystem::path& file = {});

}  // namespace sallyport::util
