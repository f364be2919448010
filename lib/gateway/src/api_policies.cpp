// /v1/policies: CRUD, attach/detach to users and groups, and the simulator.
#include <algorithm>
#include <cctype>
#include <iterator>
#include <variant>

#include "api_internal.hpp"
#include "sallyport/util/time_format.hpp"

namespace sallyport::gateway::impl {
namespace {

constexpr std::size_t kMaxPolicyNameBytes = 128;
constexpr std::size_t kMaxContextKeys = 64;
constexpr std::size_t kMaxContextValues = 64;
constexpr std::size_t kMaxContextBytes = 1024;

json policy_summary_json(const store::PolicyRecord& policy) {
  return {{"name", policy.name},
          {"builtin", policy.builtin},
          {"created_at", util::format_rfc3339(policy.created_at)},
          {"updated_at", util::format_rfc3339(policy.updated_at)}};
}

json policy_json(const store::PolicyRecord& policy) {
  json result = policy_summary_json(policy);
  result["document"] = policy.document;
  return result;
}

// The policy text from a body's "document": a JSON string is kept exactly as sent (so error
// positions refer to the caller's own file), an object is stored pretty-printed.
std::optional<std::string> document_text(const Body& body, std::string& problem) {
  const json* document = body.member("document");
  if (document == nullptr) {
    problem = "field 'document' is required (the policy JSON, as a string or an object)";
    return std::nullopt;
  }
  if (document->is_string()) return document->get<std::string>();
  if (document->is_object()) return document->dump(2);
  problem = "field 'document' must be the policy JSON, as a string or an object";
  return std::nullopt;
}

// Parses text with the policy engine; on failure, the 400 naming line, column and path.
std::optional<HttpResponse> refuse_malformed(const std::string& text, std::vector<std::string>& warnings) {
  auto parsed = policy::parse_policy(text);
  if (const auto* error = std::get_if<policy::ParseError>(&parsed)) {
    json body = {{"error",
                  {{"code", "invalid_policy"},
                   {"message", policy::format_parse_error(*error)},
                   {"path", error->path},
                   {"line", error->line},
                   {"column", error->column}}}};
    return json_response(400, body);
  }
  warnings = policy::policy_warnings(std::get<policy::Document>(parsed));
  return std::nullopt;
}

// "user" or "group" from an attach/detach body: exactly one of them.
std::optional<HttpResponse> read_principal(Body& body, store::PolicyPrincipal& kind, std::string& name) {
  const std::string user = body.string("user", false, 64);
  const std::string group = body.string("group", false, 64);
  if (!body.ok()) return error_response(400, "bad_request", body.error());
  if (user.empty() == group.empty()) return error_response(400, "bad_request", "give exactly one of 'user' and 'group'");
  kind = user.empty() ? store::PolicyPrincipal::kGroup : store::PolicyPrincipal::kUser;
  name = user.empty() ? group : user;
  return std::nullopt;
}

std::string principal_label(store::PolicyPrincipal kind, const std::string& name) {
  return (kind == store::PolicyPrincipal::kUser ? "user " : "group ") + name;
}

HttpResponse attach_or_detach(Context& context, const HttpRequest& request, const Caller& caller,
                              const std::string& policy_name, bool attach) {
  const char* action = attach ? "policy:Attach" : "policy:Detach";
  const std::string resource = "policy/" + policy_name;
  Body body(request.body);
  store::PolicyPrincipal kind{};
  std::string principal;
  if (auto bad = read_principal(body, kind, principal)) return *bad;
  if (auto refused = context.authorize(caller, request, action, resource)) return *refused;
  if (!context.store.get_policy(policy_name)) return error_response(404, "not_found", "no policy " + policy_name);
  const bool is_user = kind == store::PolicyPrincipal::kUser;
  const bool exists = is_user ? context.store.get_user(principal).has_value() : group_exists(context, principal);
  if (!exists) return error_response(404, "not_found", "no " + principal_label(kind, principal));
  const std::string label = principal_label(kind, principal);
  if (attach) {
    // attach_policy is idempotent; false means a side vanished since the checks above.
    if (!context.store.attach_policy(kind, principal, policy_name)) {
      return error_response(404, "not_found", "policy " + policy_name + " or " + label + " no longer exists");
    }
  } else if (!context.store.detach_policy(kind, principal, policy_name)) {
    return error_response(404, "not_found", "policy " + policy_name + " is not attached to " + label);
  }
  context.audit.record(caller.user.name, request.remote_address, action, resource, "success",
                       (attach ? "to " : "from ") + label);
  json result = {{"policy", policy_name}, {"status", attach ? "attached" : "detached"}};
  result[is_user ? "user" : "group"] = principal;
  return json_response(200, result);
}

// {k: "v"} or {k: ["v", ...]} into request context.
std::optional<RequestContext> read_context(const Body& body, std::string& problem) {
  RequestContext context;
  const json* given = body.member("context");
  if (given == nullptr) return context;
  if (!given->is_object() || given->size() > kMaxContextKeys) {
    problem = "field 'context' must be an object of at most 64 keys, each a string or a list of strings";
    return std::nullopt;
  }
  for (const auto& [key, value] : given->items()) {
    if (key.empty() || key.size() > kMaxContextBytes) {
      problem = "context keys must be 1-1024 bytes";
      return std::nullopt;
    }
    auto& values = context[key];
    const auto add = [&](const json& item) {
      if (!item.is_string() || item.get_ref<const std::string&>().size() > kMaxContextBytes) return false;
      values.push_back(item.get<std::string>());
      return true;
    };
    const bool ok = value.is_array() ? value.size() <= kMaxContextValues && std::all_of(value.begin(), value.end(), add)
                                     : add(value);
    if (!ok) {
      problem = "context key '" + key.substr(0, 64) + "' must have a string or a list of at most 64 strings";
      return std::nullopt;
    }
  }
  return context;
}

// Replaces every context key under prefix (as sent, any case) with what the store says.
void override_prefix(RequestContext& context, const std::string& prefix, const RequestContext& truth) {
  for (auto it = context.begin(); it != context.end();) {
    std::string lowered = it->first;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    it = lowered.rfind(prefix, 0) == 0 ? context.erase(it) : std::next(it);
  }
  for (const auto& [key, values] : truth) context[key] = values;
}

bool known_action(const std::string& action) {
  const auto& known = policy::known_actions();
  return std::any_of(known.begin(), known.end(), [&](const std::string& a) { return policy::action_matches(a, action); });
}

HttpResponse simulate(Context& context, const HttpRequest& request, const Caller& caller) {
  Body body(request.body);
  const std::string user_name = body.string("user", true, 64);
  const std::string action = body.string("action", true, 128);
  const std::string resource = body.string("resource", true, 1024);
  if (!body.ok()) return error_response(400, "bad_request", body.error());
  std::string problem;
  auto extra = read_context(body, problem);
  if (!extra) return error_response(400, "bad_request", problem);
  if (auto refused = context.authorize(caller, request, "policy:Simulate", "user/" + user_name)) return *refused;
  const auto user = context.store.get_user(user_name);
  if (!user) return error_response(404, "not_found", "no user " + user_name.substr(0, 64));

  // What the gateway itself would add for this resource, so the answer matches a real request.
  if (resource.rfind("node/", 0) == 0) {
    if (auto node = context.store.get_node(resource.substr(5))) {
      RequestContext truth;
      add_node_context(truth, *node);
      override_prefix(*extra, "node:", truth);
    }
  } else if (resource.rfind("session/", 0) == 0) {
    if (auto session = context.store.get_session(resource.substr(8))) {
      RequestContext truth;
      add_session_context(truth, *session);
      override_prefix(*extra, "session:", truth);
    }
  }
  const auto principal = context.authorizer.principal(*user);
  const auto decision = Authorizer::decide(principal, action, resource, *extra);
  json policies = json::array();
  for (const auto& named : principal.policies) policies.push_back(named.name);
  json warnings = json::array();
  if (!known_action(action)) warnings.push_back("action " + action + " is not one the gateway checks");
  json result = {{"decision", Authorizer::allowed(decision) ? "allow" : "deny"},
                 {"effect", std::string(policy::to_string(decision.effect))},
                 {"policy", decision.policy_name},
                 {"sid", decision.sid},
                 {"statement_index", decision.statement_index},
                 {"explanation", decision.explanation},
                 {"user", user_name},
                 {"action", action},
                 {"resource", resource},
                 {"groups", principal.groups},
                 {"policies", policies},
                 {"warnings", warnings}};
  context.audit.record(caller.user.name, request.remote_address, "policy:Simulate", "user/" + user_name, "success",
                       action.substr(0, 128) + " on " + resource.substr(0, 200) + ": " +
                           (Authorizer::allowed(decision) ? "allow" : "deny"));
  return json_response(200, result);
}

}  // namespace

std::optional<HttpResponse> handle_policies(Context& context, const HttpRequest& request,
                                            const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() < 2 || path[1] != "policies") return std::nullopt;
  const std::string& source = request.remote_address;
  if (path.size() == 2 && request.method == "GET") {
    if (auto refused = context.authorize(caller, request, "policy:List", "policy/*")) return refused;
    json items = json::array();
    for (const auto& policy : context.store.list_policies()) items.push_back(policy_summary_json(policy));
    return json_response(200, {{"policies", items}});
  }
  if (path.size() == 2 && request.method == "POST") {
    Body body(request.body);
    const std::string name = body.string("name", true, kMaxPolicyNameBytes);
    std::string problem;
    const auto text = body.ok() ? document_text(body, problem) : std::nullopt;
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    if (!text) return error_response(400, "bad_request", problem);
    const std::string resource = "policy/" + name;
    if (auto refused = context.authorize(caller, request, "policy:Create", resource)) return refused;
    if (!valid_name(name, kMaxPolicyNameBytes)) {
      return error_response(400, "bad_request", "policy name may hold only letters, digits, '.', '_' and '-'");
    }
    std::vector<std::string> warnings;
    if (auto malformed = refuse_malformed(*text, warnings)) return malformed;
    const auto now = context.clock.now_ms();
    const store::PolicyRecord record{name, *text, false, now, now};
    if (!context.store.create_policy(record)) return error_response(409, "conflict", "policy " + name + " already exists");
    context.audit.record(caller.user.name, source, "policy:Create", resource, "success");
    json result = policy_json(record);
    result["warnings"] = warnings;
    return json_response(201, result);
  }
  if (path.size() == 3 && path[2] == "simulate" && request.method == "POST") return simulate(context, request, caller);
  if (path.size() < 3) return std::nullopt;
  const std::string& name = path[2];
  const std::string resource = "policy/" + name;
  if (path.size() == 3 && request.method == "GET") {
    if (auto refused = context.authorize(caller, request, "policy:Read", resource)) return refused;
    const auto policy = context.store.get_policy(name);
    if (!policy) return error_response(404, "not_found", "no policy " + name.substr(0, 128));
    return json_response(200, policy_json(*policy));
  }
  if (path.size() == 3 && request.method == "PUT") {
    Body body(request.body);
    std::string problem;
    const auto text = body.ok() ? document_text(body, problem) : std::nullopt;
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    if (!text) return error_response(400, "bad_request", problem);
    if (auto refused = context.authorize(caller, request, "policy:Update", resource)) return refused;
    const auto existing = context.store.get_policy(name);
    if (!existing) return error_response(404, "not_found", "no policy " + name.substr(0, 128));
    if (existing->builtin) return error_response(409, "conflict", "policy " + name + " is built in and cannot be changed");
    std::vector<std::string> warnings;
    if (auto malformed = refuse_malformed(*text, warnings)) return malformed;
    // updated_at never goes backwards, so the authorizer's cache key always moves on.
    const auto now = std::max(context.clock.now_ms(), existing->updated_at + 1);
    if (!context.store.update_policy(name, *text, now)) return error_response(404, "not_found", "no policy " + name);
    context.audit.record(caller.user.name, source, "policy:Update", resource, "success");
    json result = policy_json(*context.store.get_policy(name));
    result["warnings"] = warnings;
    return json_response(200, result);
  }
  if (path.size() == 3 && request.method == "DELETE") {
    if (auto refused = context.authorize(caller, request, "policy:Delete", resource)) return refused;
    const auto existing = context.store.get_policy(name);
    if (!existing) return error_response(404, "not_found", "no policy " + name.substr(0, 128));
    if (existing->builtin) return error_response(409, "conflict", "policy " + name + " is built in and cannot be deleted");
    if (!context.store.delete_policy(name)) return error_response(404, "not_found", "no policy " + name);
    context.audit.record(caller.user.name, source, "policy:Delete", resource, "success", "detached everywhere");
    return json_response(200, {{"name", name}, {"status", "deleted"}});
  }
  if (path.size() == 4 && (path[3] == "attach" || path[3] == "detach") && request.method == "POST") {
    return attach_or_detach(context, request, caller, name, path[3] == "attach");
  }
  return std::nullopt;
}

}  // namespace sallyport::gateway::impl
