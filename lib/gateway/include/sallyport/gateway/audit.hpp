#pragma once
// Every API action and security event goes to the store (for `audit ls`) and, as one JSON line,
// to DATA_DIR/audit.log. Callers never pass secrets; details are short human text.
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <mutex>
#include <string>

#include "sallyport/store/store.hpp"
#include "sallyport/util/clock.hpp"

namespace sallyport::gateway {

class Auditor {
 public:
  Auditor(store::Store& store, const util::Clock& clock, std::filesystem::path log_file);

  void record(const std::string& actor, const std::string& source, const std::string& action,
              const std::string& target, const std::string& outcome, const std::string& detail = "");
  // Also hands every event to this listener (the streaming log); set once at start-up.
  void set_listener(std::function<void(const nlohmann::json&)> listener) { listener_ = std::move(listener); }

 private:
  store::Store& store_;
  const util::Clock& clock_;
  std::filesystem::path log_file_;
  std::mutex mutex_;
  std::function<void(const nlohmann::json&)> listener_;
};

}  // namespace sallyport::gateway
