#include "authorizer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <variant>

namespace sallyport::gateway {
namespace {

// Bounds the parse cache against create/delete churn; a miss only costs one parse.
constexpr std::size_t kMaxCachedPolicies = 1024;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool starts_with_user_key(const std::string& lowered_key) { return lowered_key.rfind("user:", 0) == 0; }

// Stands in for a stored policy the engine can no longer read (hand-edited database, or a
// stricter engine after an upgrade): it might have held Deny statements, so skipping it could
// widen access. Failing closed keeps the worst case at "locked out", which an operator can fix.
policy::Document unreadable_policy() {
  policy::Statement deny;
  deny.sid = "StoredPolicyUnreadable";
  deny.effect = policy::Effect::kDeny;
  deny.actions = {"*"};
  deny.resources = {"*"};
  policy::Document document;
  document.version = std::string(policy::kVersion2012);
  document.statements.push_back(std::move(deny));
  return document;
}

}  // namespace

void add_node_context(RequestContext& context, const store::Node& node) {
  context["node:id"] = {node.id};
  for (const auto& [key, value] : node.tags) context["node:tag/" + lower(key)].push_back(value);
}

void add_forward_context(RequestContext& context, const std::string& host, int port) {
  context["forward:host"] = {host};
  context["forward:port"] = {std::to_string(port)};
}

void add_session_context(RequestContext& context, const store::SessionRecord& session) {
  context["session:owner"] = {session.owner};
  context["session:runas"] = {session.run_as};
  context["node:id"] = {session.node_id};
}

Authorizer::Authorizer(store::Store& store) : store_(store) {}

policy::Document Authorizer::parsed(const store::PolicyRecord& record) {
  {
    std::lock_guard lock(mutex_);
    const auto it = cache_.find(record.name);
    // The text is compared too: two edits within one millisecond share an updated_at.
    if (it != cache_.end() && it->second.updated_at == record.updated_at && it->second.text == record.document) {
      return it->second.document;
    }
  }
  // Parsed outside the lock; a concurrent parse of the same version stores the same result.
  auto result = policy::parse_policy(record.document);
  policy::Document document;
  if (auto* error = std::get_if<policy::ParseError>(&result)) {
    spdlog::error("stored policy {} cannot be parsed ({}); treating it as denying everything", record.name,
                  policy::format_parse_error(*error));
    document = unreadable_policy();
  } else {
    document = std::move(std::get<policy::Document>(result));
  }
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kMaxCachedPolicies) cache_.clear();
  cache_[record.name] = Cached{record.updated_at, record.document, document};
  return document;
}

Authorizer::Principal Authorizer::principal(const store::User& user) {
  Principal principal;
  principal.user = user;
  principal.groups = store_.list_user_groups(user.name);
  const auto load = [this](const std::vector<std::string>& names) {
    std::vector<policy::NamedPolicy> policies;
    for (const auto& name : names) {
      // Detached or deleted since the listing: it simply no longer applies.
      if (auto record = store_.get_policy(name)) policies.push_back({record->name, parsed(*record)});
    }
    return policies;
  };
  const auto own = load(store_.list_attached_policies(store::PolicyPrincipal::kUser, user.name));
  std::vector<std::vector<policy::NamedPolicy>> by_group;
  for (const auto& group : principal.groups) {
    by_group.push_back(load(store_.list_attached_policies(store::PolicyPrincipal::kGroup, group)));
  }
  principal.policies = policy::effective_policies(own, by_group);
  return principal;
}

policy::Decision Authorizer::decide(const store::User& user, const std::string& action, const std::string& resource,
                                    const RequestContext& extra) {
  return decide(principal(user), action, resource, extra);
}

policy::Decision Authorizer::decide(const Principal& principal, const std::string& action,
                                    const std::string& resource, const RequestContext& extra) {
  policy::Request request;
  request.action = action;
  request.resource = resource;
  // Keys are lower-cased so a caller-supplied "User:Name" cannot shadow the real user:name in
  // the engine's case-insensitive lookup; the user's own keys are always the store's.
  for (const auto& [key, values] : extra) {
    const std::string lowered = lower(key);
    if (starts_with_user_key(lowered)) continue;
    auto& slot = request.context[lowered];
    slot.insert(slot.end(), values.begin(), values.end());
  }
  request.context["user:name"] = {principal.user.name};
  for (const auto& [key, value] : principal.user.tags) request.context["user:tag/" + lower(key)].push_back(value);
  return policy::evaluate(principal.policies, request);
}

std::vector<std::string> seed_builtin_policies(store::Store& store, store::Millis now) {
  std::vector<std::string> changed;
  for (const auto& [name, text] : policy::builtin_policies()) {
    const auto existing = store.get_policy(name);
    if (!existing) {
      if (!store.create_policy({name, text, true, now, now})) continue;  // another gateway won the race
      changed.push_back(name);
      if (name == "AdministratorAccess") {
        for (const auto& user : store.list_users()) {
          if (user.is_admin) store.attach_policy(store::PolicyPrincipal::kUser, user.name, name);
        }
      }
    } else if (existing->builtin && existing->document != text) {
      // A newer release ships a revised built-in; nobody can have edited it through the API.
      store.update_policy(name, text, now);
      changed.push_back(name);
    }
  }
  return changed;
}

}  // namespace sallyport::gateway
