// /v1/preferences: gateway-wide session settings (idle timeout, run-as default, ...).
#include <algorithm>

#include "api_internal.hpp"
#include "sallyport/gateway/preferences.hpp"

namespace sallyport::gateway::impl {
namespace {

json preferences_json(const Preferences& preferences) {
  return {{"idle_timeout_minutes", preferences.idle_timeout_minutes},
          {"idle_timeout_seconds", preferences.idle_timeout_seconds},
          {"max_session_duration_minutes", preferences.max_session_duration_minutes},
          {"reconnect_grace_seconds", preferences.reconnect_grace_seconds},
          {"default_run_as", preferences.default_run_as},
          {"shell_profile", preferences.shell_profile},
          {"recording_local_required", preferences.recording_local_required},
          {"recording_s3_required", preferences.recording_s3_required},
          {"syslog_required", preferences.syslog_required}};
}

// The stored text for one value: integers as JSON numbers or decimal strings (what a CLI
// argument gives), text as strings, null for "back to the default".
std::optional<std::string> value_text(const std::string& key, const json& value, std::string& problem) {
  if (value.is_null()) {
    const json defaults = preferences_json(Preferences{});
    const json& fallback = defaults.at(key);
    return fallback.is_string() ? fallback.get<std::string>() : fallback.dump();
  }
  if (preference_is_integer(key)) {
    if (value.is_number_integer()) return value.dump();
    if (value.is_string()) return value.get<std::string>();
    problem = validate_preference(key, "not a number");
    return std::nullopt;
  }
  if (value.is_string() || value.is_boolean()) return value.is_string() ? value.get<std::string>() : value.dump();
  problem = key + " must be a string";
  return std::nullopt;
}

}  // namespace

std::optional<HttpResponse> handle_preferences(Context& context, const HttpRequest& request,
                                               const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() != 2 || path[1] != "preferences") return std::nullopt;
  const std::string resource = "preferences";
  if (request.method == "GET") {
    if (auto refused = context.authorize(caller, request, "preferences:Read", resource)) return refused;
    return json_response(200, {{"preferences", preferences_json(load_preferences(context.store))}});
  }
  if (request.method != "PUT") return std::nullopt;
  Body body(request.body);
  if (!body.ok()) return error_response(400, "bad_request", body.error());
  if (auto refused = context.authorize(caller, request, "preferences:Update", resource)) return refused;
  if (body.value().empty()) {
    return error_response(400, "bad_request", "give at least one preference, e.g. {\"idle_timeout_minutes\": 20}");
  }
  // Every value is checked before any is stored: a request is applied whole or not at all.
  std::vector<std::pair<std::string, std::string>> updates;
  for (const auto& [key, value] : body.value().items()) {
    const auto& keys = preference_keys();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return error_response(400, "bad_request", validate_preference(key, ""));  // names the known keys
    }
    std::string problem;
    const auto text = value_text(key, value, problem);
    if (!text) return error_response(400, "bad_request", problem);
    if (auto invalid = validate_preference(key, *text); !invalid.empty()) return error_response(400, "bad_request", invalid);
    updates.emplace_back(key, *text);
  }
  std::string detail;
  for (const auto& [key, text] : updates) {
    context.store.set_preference(key, text);
    // The profile can be long; its size is enough for the audit trail.
    detail += (detail.empty() ? "" : ", ") + key + "=" +
              (key == "shell_profile" ? "(" + std::to_string(text.size()) + " bytes)" : text);
  }
  context.audit.record(caller.user.name, request.remote_address, "preferences:Update", resource, "success", detail);
  return json_response(200, {{"preferences", preferences_json(load_preferences(context.store))}});
}

}  // namespace sallyport::gateway::impl
