#include "sallyport/gateway/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api_internal.hpp"
#include "web_auth.hpp"
#include "sallyport/util/tags.hpp"
#include "sallyport/util/time_format.hpp"

namespace sallyport::gateway {
namespace impl {

HttpResponse json_response(unsigned status, const json& body) {
  HttpResponse response;
  response.status = status;
  // Replace, not throw: messages may echo a request path that is not UTF-8.
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

HttpResponse error_response(unsigned status, const std::string& code, const std::string& message) {
  return json_response(status, {{"error", {{"code", code}, {"message", message}}}});
}

Body::Body(const std::string& text) {
  if (text.size() > kMaxJsonBodyBytes) {
    fail("request body is larger than 64 KiB");
    return;
  }
  value_ = json::parse(text.empty() ? std::string("{}") : text, nullptr, /*allow_exceptions=*/false);
  if (value_.is_discarded()) {
    fail("request body is not valid JSON");
  } else if (!value_.is_object()) {
    fail("request body must be a JSON object");
  }
}

void Body::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

std::string Body::string(const char* name, bool required, std::size_t max_bytes) {
  if (!ok()) return "";
  const auto it = value_.find(name);
  if (it == value_.end() || it->is_null()) {
    if (required) fail(std::string("field '") + name + "' is required");
    return "";
  }
  if (!it->is_string()) {
    fail(std::string("field '") + name + "' must be a string");
    return "";
  }
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() > max_bytes) {
    fail(std::string("field '") + name + "' is longer than " + std::to_string(max_bytes) + " bytes");
    return "";
  }
  return text;
}

std::optional<std::int64_t> Body::integer(const char* name, bool required, std::int64_t min, std::int64_t max) {
  if (!ok()) return std::nullopt;
  const auto it = value_.find(name);
  if (it == value_.end() || it->is_null()) {
    if (required) fail(std::string("field '") + name + "' is required");
    return std::nullopt;
  }
  if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max) {
    fail(std::string("field '") + name + "' must be an integer from " + std::to_string(min) + " to " +
         std::to_string(max));
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

store::Tags Body::tags(const char* name) {
  store::Tags tags;
  if (!ok()) return tags;
  const auto it = value_.find(name);
  if (it == value_.end() || it->is_null()) return tags;
  if (!it->is_object()) {
    fail(std::string("field '") + name + "' must be an object of strings");
    return tags;
  }
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string()) {
      fail("tag '" + key.substr(0, 64) + "' must have a string value");
      return tags;
    }
    if (auto problem = util::validate_tag(key, value.get_ref<const std::string&>()); !problem.empty()) {
      fail(problem);
      return tags;
    }
    tags[key] = value.get<std::string>();
  }
  if (tags.size() > util::kMaxTags) fail("more than 50 tags");
  return tags;
}

std::vector<std::string> Body::strings(const char* name, std::size_t max_items, std::size_t max_bytes) {
  std::vector<std::string> items;
  if (!ok()) return items;
  const auto it = value_.find(name);
  if (it == value_.end() || it->is_null()) return items;
  if (!it->is_array() || it->size() > max_items) {
    fail(std::string("field '") + name + "' must be a list of at most " + std::to_string(max_items) + " strings");
    return items;
  }
  for (const auto& item : *it) {
    if (!item.is_string() || item.get_ref<const std::string&>().size() > max_bytes) {
      fail(std::string("field '") + name + "' must hold strings of at most " + std::to_string(max_bytes) + " bytes");
      return {};
    }
    items.push_back(item.get<std::string>());
  }
  return items;
}

const json* Body::member(const char* name) const {
  if (!ok()) return nullptr;
  const auto it = value_.find(name);
  if (it == value_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Body::boolean(const char* name, bool fallback) {
  if (!ok()) return fallback;
  const auto it = value_.find(name);
  if (it == value_.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    fail(std::string("field '") + name + "' must be true or false");
    return fallback;
  }
  return it->get<bool>();
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    if (end > pos) parts.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return parts;
}

bool valid_name(const std::string& name, std::size_t max_bytes) {
  if (name.empty() || name.size() > max_bytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

policy::Decision Context::decide(const Caller& caller, const std::string& action, const std::string& resource,
                                 const RequestContext& extra) const {
  return authorizer.decide(caller.user, action, resource, extra);
}

bool Context::allowed(const Caller& caller, const std::string& action, const std::string& resource,
                      const RequestContext& extra) const {
  return Authorizer::allowed(decide(caller, action, resource, extra));
}

std::optional<HttpResponse> Context::authorize(const Caller& caller, const HttpRequest& request,
                                               const std::string& action, const std::string& resource,
                                               const RequestContext& extra) {
  const auto decision = decide(caller, action, resource, extra);
  if (Authorizer::allowed(decision)) return std::nullopt;
  return deny(caller, request, action, resource, &decision);
}

HttpResponse Context::deny(const Caller& caller, const HttpRequest& request, const std::string& action,
                           const std::string& resource, const policy::Decision* decision) {
  std::string why = "no policy allows it";
  if (decision != nullptr && decision->effect == policy::Decision::Effect::kExplicitDeny) {
    why = "explicitly denied by policy " + decision->policy_name;
  }
  audit.record(caller.user.name, request.remote_address, action, resource, "denied",
               decision != nullptr ? decision->explanation : "not allowed");
  return error_response(403, "forbidden",
                        "user " + caller.user.name + " is not allowed to " + action + " on " + resource + " (" + why + ")");
}

std::string Context::ping_status(const store::Node& node) const {
  const bool fresh = clock.now_ms() - node.last_ping_at <= settings.agent_timeout_ms;
  return node.connected && fresh ? "Online" : "ConnectionLost";
}

bool group_exists(Context& context, const std::string& name) {
  const auto groups = context.store.list_groups();
  return std::any_of(groups.begin(), groups.end(), [&](const store::Group& group) { return group.name == name; });
}

json node_json(const Context& context, const store::Node& node) {
  const auto& inv = node.inventory;
  return {{"id", node.id},
          {"name", node.name},
          {"ping_status", context.ping_status(node)},
          {"platform", inv.platform_name + (inv.platform_version.empty() ? "" : " " + inv.platform_version)},
          {"platform_name", inv.platform_name},
          {"platform_version", inv.platform_version},
          {"kernel", inv.kernel},
          {"architecture", inv.architecture},
          {"hostname", inv.hostname},
          {"agent_version", inv.agent_version},
          {"ip_addresses", inv.ip_addresses},
          {"tags", node.tags},
          {"registered_at", util::format_rfc3339(node.registered_at)},
          {"last_ping_at", node.last_ping_at ? util::format_rfc3339(node.last_ping_at) : ""},
          {"activation_id", node.activation_id}};
}

json user_json(const store::User& user) {
  return {{"name", user.name}, {"tags", user.tags}, {"admin", user.is_admin},
          {"created_at", util::format_rfc3339(user.created_at)}};
}

json activation_json(const store::Activation& activation) {
  return {{"id", activation.id},
          {"name", activation.name},
          {"tags", activation.tags},
          {"registration_limit", activation.registration_limit},
          {"registrations", activation.registrations},
          {"expires_at", util::format_rfc3339(activation.expires_at)},
          {"created_at", util::format_rfc3339(activation.created_at)},
          {"created_by", activation.created_by}};
}

json audit_json(const store::AuditEvent& event) {
  return {{"id", event.id},         {"time", util::format_rfc3339(event.time)},
          {"actor", event.actor},   {"source", event.source},
          {"action", event.action}, {"target", event.target},
          {"outcome", event.outcome}, {"detail", event.detail}};
}

json session_json(const store::SessionRecord& session) {
  const auto optional_int = [](const std::optional<int>& value) { return value ? json(*value) : json(nullptr); };
  return {{"id", session.id},
          {"owner", session.owner},
          {"node_id", session.node_id},
          {"run_as", session.run_as},
          {"kind", session.kind},
          {"command", session.command},
          {"status", session.status},
          {"reason", session.reason},
          {"started_at", util::format_rfc3339(session.started_at)},
          {"ended_at", session.ended_at ? util::format_rfc3339(session.ended_at) : ""},
          {"bytes_in", session.bytes_in},
          {"bytes_out", session.bytes_out},
          {"exit_code", optional_int(session.exit_code)},
          {"exit_signal", optional_int(session.exit_signal)}};
}

Termination terminate_anywhere(Context& context, const store::SessionRecord& session, const std::string& by,
                               const std::string& source, const std::string& reason) {
  const std::string why = reason.empty() ? "" : "reason: " + reason;
  std::string detail = why;
  Termination outcome = Termination::kEnded;
  if (!context.sessions.terminate(session.id, by, reason)) {
    if (!context.store.request_termination({session.id, by, reason})) return Termination::kAlreadyEnded;
    detail = "requested from gateway " + session.gateway_id + (why.empty() ? "" : "; " + why);
    outcome = Termination::kRequested;
  }
  context.audit.record(by, source, "session:Terminate", "session/" + session.id, "success", detail);
  return outcome;
}

}  // namespace impl

struct Api::Impl {
  Impl(store::Store& store, Authenticator& auth, Auditor& audit, const util::Clock& clock, LinkControl& links,
       SessionControl& sessions, ApiSettings settings)
      : authorizer(store), context{store, auth, audit, clock, links, sessions, std::move(settings), authorizer, {}} {}
  Authorizer authorizer;
  impl::Context context;
};

Api::Api(store::Store& store, Authenticator& auth, Auditor& audit, const util::Clock& clock, LinkControl& links,
         SessionControl& sessions, ApiSettings settings)
    : impl_(std::make_shared<Impl>(store, auth, audit, clock, links, sessions, std::move(settings))) {
  // Every request is decided by policies, so the built-ins must exist before the first one.
  seed_builtin_policies(store, clock.now_ms());
}

void Api::set_ca_fingerprint(std::string fingerprint) { impl_->context.ca_fingerprint = std::move(fingerprint); }

std::string Api::ping_status(const store::Node& node) const { return impl_->context.ping_status(node); }

transport::HttpResponse Api::handle(const transport::HttpRequest& request) {
  using namespace impl;
  auto& context = impl_->context;
  const auto path = split_path(request.path());
  try {
    if (path.empty() || path[0] != "v1") return error_response(404, "not_found", "no such route: " + request.path().substr(0, 200));
    if (path.size() == 2 && path[1] == "health" && request.method == "GET") {
      return json_response(200, {{"status", "ok"}, {"version", context.settings.version}});
    }
    if (auto response = handle_register(context, request, path)) return *response;

    std::optional<Caller> caller;
    const auto credentials = request_credentials(request);
    if (credentials.source != CredentialSource::kNone) {
      if (auto user = context.auth.authenticate(credentials.token)) {
        caller = Caller{*user, credentials.token, credentials.source == CredentialSource::kCookie};
      }
    }
    // A browser sends the cookie by itself, so a cookie alone never changes anything.
    if (caller && caller->via_cookie && !safe_method(request.method) && !csrf_ok(request, caller->token)) {
      context.audit.record(caller->user.name, request.remote_address, "auth:Csrf", request.path().substr(0, 200),
                           "denied", "missing or wrong CSRF token");
      return error_response(403, "csrf", "missing or wrong CSRF token: reload the console");
    }
    if (auto response = handle_auth(context, request, path, caller)) return *response;
    if (!caller) {
      return error_response(401, "unauthorized",
                            credentials.source == CredentialSource::kNone
                                ? "missing bearer token: run `sallyport login`"
                                : "token is invalid or expired: run `sallyport login`");
    }
    for (auto* handler : {&handle_nodes, &handle_users, &handle_activations, &handle_audit, &handle_policies,
                          &handle_groups, &handle_preferences, &handle_sessions}) {
      if (auto response = handler(context, request, path, *caller)) return *response;
    }
    return error_response(404, "not_found", "no such route: " + request.method + " " + request.path().substr(0, 200));
  } catch (const store::Error& error) {
    spdlog::error("store failure on {} {}: {}", request.method, request.path().substr(0, 200), error.what());
    return error_response(503, "store_unavailable", "the gateway's state store failed; try again");
  }
}

}  // namespace sallyport::gateway
