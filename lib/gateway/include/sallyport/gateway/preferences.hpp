#pragma once
// Gateway-wide session preferences, kept in the store as key/value text so every gateway sharing
// the store applies the same values. The API validates each value before it is stored; loading
// falls back to the default for a missing (or, defensively, unreadable) value.
#include <string>
#include <vector>

#include "sallyport/store/store.hpp"

namespace sallyport::gateway {

struct Preferences {
  int idle_timeout_minutes = 20;          // 1-60
  // Test/ops knob: when non-zero (5-3600) it replaces idle_timeout_minutes, so tests and demos
  // can watch an idle timeout fire in seconds. 0 means "not set".
  int idle_timeout_seconds = 0;
  int max_session_duration_minutes = 0;   // 0 = no limit, else 1-1440
  std::string default_run_as = "sallyport-user";  // POSIX user name [a-z_][a-z0-9_-]{0,31}
  std::string shell_profile;              // run at the start of each shell session, <= 4096 bytes
  // How long a CLI session waits for its client to reconnect after the connection broke (a
  // reset or a silent network); 0 ends it at once. 0-3600.
  int reconnect_grace_seconds = 60;
  // Storage preferences: a required destination that cannot be written refuses new sessions
  // (fail closed); an optional one only raises an alert in the log.
  bool recording_local_required = true;
  bool recording_s3_required = false;
  bool syslog_required = false;

  // The idle timeout actually in force, in seconds.
  int idle_timeout_in_seconds() const {
    return idle_timeout_seconds > 0 ? idle_timeout_seconds : idle_timeout_minutes * 60;
  }
};

// Every preference key, in display order.
const std::vector<std::string>& preference_keys();
// Whether the key holds an integer (shown and accepted as a JSON number).
bool preference_is_integer(const std::string& key);

Preferences load_preferences(store::Store& store);

// "" when value is acceptable for key; otherwise a message naming the key and what it allows.
std::string validate_preference(const std::string& key, const std::string& value);

// A POSIX-portable user name as run-as accounts must be: [a-z_][a-z0-9_-]{0,31}.
bool valid_posix_user_name(const std::string& name);

}  // namespace sallyport::gateway
