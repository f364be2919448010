#include "sallyport/util/logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace sallyport::util {

void setup_logging(const std::string& program, const std::string& level, const std::filesystem::path& file) {
  const auto parsed = spdlog::level::from_str(level);
  if (spdlog::level::to_string_view(parsed) != level && !(level == "warn" && parsed == spdlog::level::warn)) {
    throw std::invalid_argument("log level must be one of trace, debug, info, warn, error");
  }
  auto logger = file.empty() ? spdlog::stderr_logger_mt(program) : spdlog::basic_logger_mt(program, file.string());
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace sallyport::util
