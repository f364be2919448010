#include "sallyport/util/logging.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <stdexcept>

namespace sallyport::util {
namespace {

// spdlog's basic_file_sink cannot reopen its file; this one can, under the sink's own lock,
// so a line logged by another thread meanwhile goes wholly to the old file or the new one.
// The new file is opened before the old one is closed: when it cannot be, lines go on to the
// old one and nothing is lost.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(spdlog::filename_t path) : path_(std::move(path)), file_(open(path_)) {}

  std::string reopen() {
    std::lock_guard lock(mutex_);
    try {
      file_ = open(path_);
      return "";
    } catch (const spdlog::spdlog_ex& error) {
      return error.what();
    }
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    file_->write(formatted);
  }
  void flush_() override { file_->flush(); }

 private:
  static std::unique_ptr<spdlog::details::file_helper> open(const spdlog::filename_t& path) {
    auto file = std::make_unique<spdlog::details::file_helper>();
    file->open(path);
    return file;
  }

  spdlog::filename_t path_;
  std::unique_ptr<spdlog::details::file_helper> file_;
};

}  // namespace

void setup_logging(const std::string& program, const std::string& level, const std::filesystem::path& file) {
  const auto parsed = spdlog::level::from_str(level);
  if (spdlog::level::to_string_view(parsed) != level && !(level == "warn" && parsed == spdlog::level::warn)) {
    throw std::invalid_argument("log level must be one of trace, debug, info, warn, error");
  }
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = spdlog::stderr_logger_mt(program);
  } else {
    logger = std::make_shared<spdlog::logger>(program, std::make_shared<ReopenableFileSink>(file.string()));
    spdlog::register_logger(logger);
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  spdlog::flush_on(spdlog::level::info);
}

std::string reopen_log_file() {
  // The default logger's own sink: nothing to reopen when it logs to standard error.
  for (const auto& sink : spdlog::default_logger()->sinks()) {
    if (const auto file = std::dynamic_pointer_cast<ReopenableFileSink>(sink)) return file->reopen();
  }
  return "";
}

}  // namespace sallyport::util
