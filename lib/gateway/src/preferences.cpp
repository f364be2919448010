#include "sallyport/gateway/preferences.hpp"

#include <charconv>
#include <optional>

namespace sallyport::gateway {
namespace {

constexpr std::size_t kMaxShellProfileBytes = 4096;

struct IntRange {
  const char* key;
  int min;
  int max;
  bool zero_allowed;  // 0 is accepted too, meaning "off" / "not set"
};

constexpr IntRange kIntRanges[] = {
    {"idle_timeout_minutes", 1, 60, false},
    {"idle_timeout_seconds", 5, 3600, true},
    {"max_session_duration_minutes", 1, 1440, true},
    {"reconnect_grace_seconds", 1, 3600, true},
};

const IntRange* int_range(const std::string& key) {
  for (const auto& range : kIntRanges) {
    if (key == range.key) return &range;
  }
  return nullptr;
}

// Strict decimal: optional '-', digits only, no spaces, no '+', no trailing text.
std::optional<int> parse_int(const std::string& text) {
  int value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin == end) return std::nullopt;
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

bool is_boolean_key(const std::string& key) {
  return key == "recording_local_required" || key == "recording_s3_required" || key == "syslog_required";
}

}  // namespace

const std::vector<std::string>& preference_keys() {
  static const std::vector<std::string> kKeys = {"idle_timeout_minutes", "idle_timeout_seconds",
                                                 "max_session_duration_minutes", "reconnect_grace_seconds",
                                                 "default_run_as",
                                                 "shell_profile", "recording_local_required",
                                                 "recording_s3_required", "syslog_required"};
  return kKeys;
}

bool preference_is_integer(const std::string& key) { return int_range(key) != nullptr; }

bool valid_posix_user_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  const auto lower_or_underscore = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  if (!lower_or_underscore(name[0])) return false;
  for (char c : name) {
    if (!lower_or_underscore(c) && !(c >= '0' && c <= '9') && c != '-') return false;
  }
  return true;
}

std::string validate_preference(const std::string& key, const std::string& value) {
  if (const auto* range = int_range(key)) {
    const std::string allowed = std::string(range->zero_allowed ? "0 or " : "") + "an integer from " +
                                std::to_string(range->min) + " to " + std::to_string(range->max);
    const auto parsed = parse_int(value);
    if (!parsed || (*parsed == 0 ? !range->zero_allowed : (*parsed < range->min || *parsed > range->max))) {
      return key + " must be " + allowed;
    }
    return "";
  }
  if (key == "default_run_as") {
    if (!valid_posix_user_name(value)) {
      return "default_run_as must be a POSIX user name: a lower-case letter or '_', then up to 31 lower-case "
             "letters, digits, '_' or '-'";
    }
    return "";
  }
  if (is_boolean_key(key)) {
    if (value != "true" && value != "false") return key + " must be true or false";
    return "";
  }
  if (key == "shell_profile") {
    if (value.size() > kMaxShellProfileBytes) return "shell_profile must be at most 4096 bytes";
    if (value.find('\0') != std::string::npos) return "shell_profile must not contain NUL bytes";
    return "";
  }
  std::string known;
  for (const auto& name : preference_keys()) known += (known.empty() ? "" : ", ") + name;
  return "unknown preference '" + key.substr(0, 64) + "' (known: " + known + ")";
}

Preferences load_preferences(store::Store& store) {
  Preferences preferences;
  for (const auto& [key, value] : store.list_preferences()) {
    // A value that would not pass validation now (written by hand, or by an older release with
    // other limits) keeps the default rather than applying something out of range.
    if (!validate_preference(key, value).empty()) continue;
    if (key == "idle_timeout_minutes") preferences.idle_timeout_minutes = *parse_int(value);
    if (key == "idle_timeout_seconds") preferences.idle_timeout_seconds = *parse_int(value);
    if (key == "max_session_duration_minutes") preferences.max_session_duration_minutes = *parse_int(value);
    if (key == "reconnect_grace_seconds") preferences.reconnect_grace_seconds = *parse_int(value);
    if (key == "default_run_as") preferences.default_run_as = value;
    if (key == "shell_profile") preferences.shell_profile = value;
    if (key == "recording_local_required") preferences.recording_local_required = value == "true";
    if (key == "recording_s3_required") preferences.recording_s3_required = value == "true";
    if (key == "syslog_required") preferences.syslog_required = value == "true";
  }
  return preferences;
}

}  // namespace sallyport::gateway
