// /v1/users, /v1/activations and /v1/audit.
#include <algorithm>

#include "api_internal.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/util/tags.hpp"
#include "sallyport/util/time_format.hpp"

namespace sallyport::gateway::impl {
namespace {

constexpr std::int64_t kMaxActivationSeconds = 30LL * 24 * 3600;
constexpr std::size_t kMinPasswordBytes = 8;
constexpr int kMaxSessionsEndedWithAUser = 100000;  // every live session, in practice
constexpr char kAdministratorPolicy[] = "AdministratorAccess";

std::string password_problem(const std::string& password) {
  if (password.size() < kMinPasswordBytes) return "password must be at least 8 characters";
  return "";
}

}  // namespace

std::optional<HttpResponse> handle_users(Context& context, const HttpRequest& request,
                                         const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() < 2 || path[1] != "users") return std::nullopt;
  const std::string& source = request.remote_address;
  if (path.size() == 2 && request.method == "GET") {
    if (auto refused = context.authorize(caller, request, "user:List", "user/*")) return refused;
    json items = json::array();
    for (const auto& user : context.store.list_users()) items.push_back(user_json(user));
    return json_response(200, {{"users", items}});
  }
  if (path.size() == 2 && request.method == "POST") {
    Body body(request.body);
    const std::string name = body.string("name", true, 64);
    const std::string password = body.string("password", true, 1024);
    const auto tags = body.tags("tags");
    const bool admin = body.boolean("admin", false);
    auto policies = body.strings("policies", 100, 128);
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    const std::string resource = "user/" + name;
    if (auto refused = context.authorize(caller, request, "user:Create", resource)) return refused;
    if (!valid_name(name, 64)) {
      return error_response(400, "bad_request", "user name may hold only letters, digits, '.', '_' and '-'");
    }
    if (auto problem = password_problem(password); !problem.empty()) return error_response(400, "bad_request", problem);
    // An administrator is a user with AdministratorAccess attached; the flag is only a label.
    if (admin) policies.push_back(kAdministratorPolicy);
    std::sort(policies.begin(), policies.end());
    policies.erase(std::unique(policies.begin(), policies.end()), policies.end());
    // Everything is checked before the user exists, so a refusal leaves nothing behind.
    for (const auto& policy_name : policies) {
      if (!context.store.get_policy(policy_name)) {
        return error_response(400, "bad_request", "no policy named " + policy_name + "; see `sallyport policies ls`");
      }
      // Attaching at creation is still attaching: without this, user:Create alone would let a
      // caller mint an account with more rights than their own.
      if (auto refused = context.authorize(caller, request, "policy:Attach", "policy/" + policy_name)) return refused;
    }
    store::User user{name, crypto::hash_password(password), tags, admin, context.clock.now_ms()};
    if (!context.store.create_user(user)) return error_response(409, "conflict", "user " + name + " already exists");
    context.audit.record(caller.user.name, source, "user:Create", resource, "success", admin ? "administrator" : "");
    json attached = json::array();
    for (const auto& policy_name : policies) {
      if (!context.store.attach_policy(store::PolicyPrincipal::kUser, name, policy_name)) {
        // Deleted between the check and now; the user exists, so report what did happen.
        context.audit.record(caller.user.name, source, "policy:Attach", "policy/" + policy_name, "failure",
                             "to user " + name + ": policy no longer exists");
        continue;
      }
      context.audit.record(caller.user.name, source, "policy:Attach", "policy/" + policy_name, "success",
                           "to user " + name);
      attached.push_back(policy_name);
    }
    json result = user_json(user);
    result["policies"] = attached;
    return json_response(201, result);
  }
  if (path.size() < 3) return std::nullopt;
  const std::string& name = path[2];
  const std::string resource = "user/" + name;
  if (path.size() == 3 && request.method == "GET") {
    // Everyone may read their own record.
    if (caller.user.name != name) {
      if (auto refused = context.authorize(caller, request, "user:Read", resource)) return refused;
    }
    const auto user = context.store.get_user(name);
    if (!user) return error_response(404, "not_found", "no user " + name.substr(0, 64));
    json result = user_json(*user);
    result["groups"] = context.store.list_user_groups(name);
    result["policies"] = context.store.list_attached_policies(store::PolicyPrincipal::kUser, name);
    return json_response(200, result);
  }
  if (path.size() == 3 && request.method == "DELETE") {
    if (auto refused = context.authorize(caller, request, "user:Delete", resource)) return refused;
    if (name == caller.user.name) return error_response(400, "bad_request", "you cannot delete yourself");
    if (!context.store.delete_user(name)) return error_response(404, "not_found", "no user " + name.substr(0, 64));
    context.audit.record(caller.user.name, source, "user:Delete", resource, "success");
    // Their logins went with the record; their live sessions end too, or a deleted user would
    // keep a shell open for as long as they liked.
    // (Those another gateway holds, through the store: see terminate_anywhere.)
    const std::string why = "user " + name + " was deleted";
    int ended = 0;
    int ending = 0;
    for (const auto& session : context.store.list_sessions(true, kMaxSessionsEndedWithAUser)) {
      if (session.owner != name) continue;
      const Termination outcome = terminate_anywhere(context, session, caller.user.name, source, why);
      ended += outcome == Termination::kEnded;
      ending += outcome == Termination::kRequested;
    }
    return json_response(200, {{"name", name}, {"status", "deleted"}, {"sessions_ended", ended},
                               {"sessions_ending_elsewhere", ending}});
  }
  if (path.size() == 4 && path[3] == "password" && request.method == "PUT") {
    // Everyone may change their own password; others' need user:UpdatePassword.
    if (name != caller.user.name) {
      if (auto refused = context.authorize(caller, request, "user:UpdatePassword", resource)) return refused;
    }
    Body body(request.body);
    const std::string password = body.string("password", true, 1024);
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    if (auto problem = password_problem(password); !problem.empty()) return error_response(400, "bad_request", problem);
    if (!context.store.set_user_password(name, crypto::hash_password(password))) {
      return error_response(404, "not_found", "no user " + name.substr(0, 64));
    }
    context.store.delete_user_tokens(name);  // a changed password ends every login
    context.audit.record(caller.user.name, source, "user:UpdatePassword", resource, "success");
    return json_response(200, {{"name", name}, {"status", "password changed"}});
  }
  if (path.size() == 4 && path[3] == "tags" && request.method == "PUT") {
    if (auto refused = context.authorize(caller, request, "user:Tag", resource)) return refused;
    Body body(request.body);
    const auto tags = body.tags("tags");
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    if (!context.store.set_user_tags(name, tags)) return error_response(404, "not_found", "no user " + name.substr(0, 64));
    context.audit.record(caller.user.name, source, "user:Tag", resource, "success", util::format_tags(tags));
    return json_response(200, user_json(*context.store.get_user(name)));
  }
  return std::nullopt;
}

std::optional<HttpResponse> handle_activations(Context& context, const HttpRequest& request,
                                               const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() < 2 || path[1] != "activations") return std::nullopt;
  const std::string& source = request.remote_address;
  if (path.size() == 2 && request.method == "GET") {
    if (auto refused = context.authorize(caller, request, "activation:List", "activation/*")) return refused;
    json items = json::array();
    for (const auto& activation : context.store.list_activations()) items.push_back(activation_json(activation));
    return json_response(200, {{"activations", items}});
  }
  if (path.size() == 2 && request.method == "POST") {
    if (auto refused = context.authorize(caller, request, "activation:Create", "activation/*")) return refused;
    Body body(request.body);
    const std::string name = body.string("name", false, 64);
    const auto tags = body.tags("tags");
    const auto limit = body.integer("limit", false, 1, 10'000);
    const auto expires_in = body.integer("expires_in_seconds", false, 60, kMaxActivationSeconds);
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    if (!name.empty() && !valid_name(name, 64)) {
      return error_response(400, "bad_request", "activation name may hold only letters, digits, '.', '_' and '-'");
    }
    const std::string code = crypto::new_secret("");
    store::Activation activation;
    activation.id = crypto::hex_encode(crypto::random_bytes(16));
    activation.name = name;
    activation.code_hash = crypto::sha256_hex(code);
    activation.tags = tags;
    activation.registration_limit = static_cast<int>(limit.value_or(1));
    activation.created_at = context.clock.now_ms();
    activation.expires_at = activation.created_at + expires_in.value_or(24 * 3600) * 1000;
    activation.created_by = caller.user.name;
    context.store.create_activation(activation);
    context.audit.record(caller.user.name, source, "activation:Create", "activation/" + activation.id, "success",
                         "limit " + std::to_string(activation.registration_limit));
    json result = activation_json(activation);
    result["code"] = code;  // shown once; only its hash is kept
    if (!context.ca_fingerprint.empty()) result["gateway_ca_fingerprint"] = context.ca_fingerprint;
    return json_response(201, result);
  }
  if (path.size() == 3 && request.method == "DELETE") {
    const std::string resource = "activation/" + path[2];
    if (auto refused = context.authorize(caller, request, "activation:Delete", resource)) return refused;
    if (!context.store.delete_activation(path[2])) {
      return error_response(404, "not_found", "no activation " + path[2].substr(0, 64));
    }
    context.audit.record(caller.user.name, source, "activation:Delete", resource, "success");
    return json_response(200, {{"id", path[2]}, {"status", "deleted"}});
  }
  return std::nullopt;
}

std::optional<HttpResponse> handle_audit(Context& context, const HttpRequest& request,
                                         const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() != 2 || path[1] != "audit" || request.method != "GET") return std::nullopt;
  if (auto refused = context.authorize(caller, request, "audit:Read", "audit/*")) return refused;
  util::Millis since = 0;
  if (const auto text = request.query_param("since"); !text.empty()) {
    const auto parsed = util::parse_since(text, context.clock.now_ms());
    if (!parsed) return error_response(400, "bad_request", "since must be an RFC 3339 time or a duration like 1h");
    since = *parsed;
  }
  int limit = 1000;
  if (const auto text = request.query_param("limit"); !text.empty()) {
    try {
      limit = std::stoi(text);
    } catch (...) {
      limit = -1;
    }
    if (limit < 1 || limit > 10'000) return error_response(400, "bad_request", "limit must be 1-10000");
  }
  json items = json::array();
  for (const auto& event : context.store.list_audit(since, limit)) items.push_back(audit_json(event));
  return json_response(200, {{"events", items}});
}

}  // namespace sallyport::gateway::impl
