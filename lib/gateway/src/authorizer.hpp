#pragma once
// Decides API and session requests with the IAM-style policy engine: the policies attached to
// the user and to each of the user's groups, read from the store on every decision (so an edit,
// attachment or membership change applies to the next request, on every gateway) and parsed
// once per policy version (name + updated_at + text). Thread-safe.
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sallyport/policy/policy.hpp"
#include "sallyport/store/store.hpp"

namespace sallyport::gateway {

// Extra request context: key -> values (e.g. "node:tag/env" -> {"prod"}).
using RequestContext = std::map<std::string, std::vector<std::string>>;

// Context for a node resource: node:id and node:tag/<key> for each tag.
void add_node_context(RequestContext& context, const store::Node& node);
// Context for a port forward: forward:host and forward:port.
void add_forward_context(RequestContext& context, const std::string& host, int port);
// Context for a session resource: session:owner, session:runAs and node:id.
void add_session_context(RequestContext& context, const store::SessionRecord& session);

class Authorizer {
 public:
  explicit Authorizer(store::Store& store);

  // The user's effective policies, loaded once so several decisions (a filtered list) share
  // them. Unknown users and dangling attachments contribute nothing.
  struct Principal {
    store::User user;
    std::vector<std::string> groups;
    std::vector<policy::NamedPolicy> policies;
  };
  Principal principal(const store::User& user);

  // One decision with freshly loaded policies.
  policy::Decision decide(const store::User& user, const std::string& action, const std::string& resource,
                          const RequestContext& extra = {});
  // A decision for an already loaded principal. Adds user:name and user:tag/<key> to extra
  // (the user's own values win over any the caller passes under those keys).
  static policy::Decision decide(const Principal& principal, const std::string& action,
                                 const std::string& resource, const RequestContext& extra = {});

  static bool allowed(const policy::Decision& decision) {
    return decision.effect == policy::Decision::Effect::kAllow;
  }

 private:
  struct Cached {
    store::Millis updated_at = 0;
    std::string text;
    policy::Document document;
  };
  policy::Document parsed(const store::PolicyRecord& record);

  store::Store& store_;
  std::mutex mutex_;
  std::map<std::string, Cached> cache_;
};

// Seeds (or refreshes) the built-in policies, marked builtin. The first time
// AdministratorAccess appears in a store it is attached to every user flagged is_admin, which
// carries the pre-policy rule "administrators may do everything" over to existing data.
// Returns the names created or refreshed.
std::vector<std::string> seed_builtin_policies(store::Store& store, store::Millis now);

}  // namespace sallyport::gateway
