#include "sallyport/gateway/audit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "sallyport/util/time_format.hpp"

namespace sallyport::gateway {

Auditor::Auditor(store::Store& store, const util::Clock& clock, std::filesystem::path log_file)
    : store_(store), clock_(clock), log_file_(std::move(log_file)) {}

void Auditor::record(const std::string& actor, const std::string& source, const std::string& action,
                     const std::string& target, const std::string& outcome, const std::string& detail) {
  store::AuditEvent event;
  event.time = clock_.now_ms();
  event.actor = actor;
  event.source = source;
  event.action = action;
  event.target = target;
  event.outcome = outcome;
  event.detail = detail;
  event.id = store_.append_audit(event);
  const nlohmann::json line = {{"id", event.id},         {"time", util::format_rfc3339(event.time)},
                               {"actor", actor},         {"source", source},
                               {"action", action},       {"target", target},
                               {"outcome", outcome},     {"detail", detail}};
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mutex_);
  // O_APPEND per line: a crash never leaves a partial line in the middle of the file.
  const int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    spdlog::error("cannot append to audit log {}", log_file_.string());
  }
  if (fd >= 0) ::close(fd);
  if (listener_) listener_(line);
  spdlog::info("audit: {} {} {} {} {}", actor, action, target, outcome, detail);
}

}  // namespace sallyport::gateway
