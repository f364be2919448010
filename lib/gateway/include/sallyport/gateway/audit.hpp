#pragma once
// Every API action and security event goes to the store (for `audit ls`) and, as one JSON line,
// to DATA_DIR/audit.log. Callers never pass secrets; details are short human text.
#include <filesystem>
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

 private:
  store::Store& store_;
  const util::Clock& clock_;
  std::filesystem::path log_file_;
  std::mutex mutex_;
};

}  // namespace sallyport::gateway
