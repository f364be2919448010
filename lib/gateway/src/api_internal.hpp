#pragma once
// Shared pieces of the API's handlers: the context, body validation and responses.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "authorizer.hpp"
#include "sallyport/gateway/api.hpp"

namespace sallyport::gateway::impl {

using nlohmann::json;
using transport::HttpRequest;
using transport::HttpResponse;

HttpResponse json_response(unsigned status, const json& body);
HttpResponse error_response(unsigned status, const std::string& code, const std::string& message);

// Reads a JSON object body field by field; remembers the first problem for a 400 answer.
class Body {
 public:
  explicit Body(const std::string& text);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  std::string string(const char* name, bool required, std::size_t max_bytes);
  std::optional<std::int64_t> integer(const char* name, bool required, std::int64_t min, std::int64_t max);
  store::Tags tags(const char* name);
  std::vector<std::string> strings(const char* name, std::size_t max_items, std::size_t max_bytes);
  bool boolean(const char* name, bool fallback);
  // The raw member (nullptr when absent or null), for fields with several accepted shapes.
  const json* member(const char* name) const;
  const json& value() const { return value_; }

 private:
  void fail(std::string message);
  json value_;
  std::string error_;
};

// Splits "/v1/nodes/mi-x/tags" into {"v1","nodes","mi-x","tags"}; empty segments are dropped.
std::vector<std::string> split_path(const std::string& path);
bool valid_name(const std::string& name, std::size_t max_bytes);  // [A-Za-z0-9._-]+

struct Caller {
  store::User user;
  std::string token;
  bool via_cookie = false;  // the web console's session cookie (CSRF checked) rather than a bearer header
};

struct Context {
  store::Store& store;
  Authenticator& auth;
  Auditor& audit;
  const util::Clock& clock;
  LinkControl& links;
  SessionControl& sessions;
  ApiSettings settings;
  Authorizer& authorizer;
  std::string ca_fingerprint;

  // The policy engine's decision for the caller (see authorizer.hpp); extra adds request
  // context such as node:tag/<key> or session:owner.
  policy::Decision decide(const Caller& caller, const std::string& action, const std::string& resource,
                          const RequestContext& extra = {}) const;
  bool allowed(const Caller& caller, const std::string& action, const std::string& resource,
               const RequestContext& extra = {}) const;
  // nullopt when allowed, else the 403 (audited) to return.
  std::optional<HttpResponse> authorize(const Caller& caller, const HttpRequest& request, const std::string& action,
                                        const std::string& resource, const RequestContext& extra = {});
  // 403 plus an audit record of the denial, with the deciding policy when there is one.
  HttpResponse deny(const Caller& caller, const HttpRequest& request, const std::string& action,
                    const std::string& resource, const policy::Decision* decision = nullptr);
  std::string ping_status(const store::Node& node) const;
};

// The store has no single-group read; groups are few, so this scans the list.
bool group_exists(Context& context, const std::string& name);

json node_json(const Context& context, const store::Node& node);
json user_json(const store::User& user);
json activation_json(const store::Activation& activation);
json audit_json(const store::AuditEvent& event);
json session_json(const store::SessionRecord& session);

// Ends a live session where it lives: at once when this gateway holds it, else by a request
// the holding gateway acts on within a second or so (they share the store). Audited either
// way as session:Terminate by `by` from `source`.
enum class Termination { kEnded, kRequested, kAlreadyEnded };
Termination terminate_anywhere(Context& context, const store::SessionRecord& session, const std::string& by,
                               const std::string& source, const std::string& reason);

// Handlers, grouped by resource; each returns nullopt when the route is not theirs.
std::optional<HttpResponse> handle_auth(Context& context, const HttpRequest& request,
                                        const std::vector<std::string>& path, const std::optional<Caller>& caller);
std::optional<HttpResponse> handle_nodes(Context& context, const HttpRequest& request,
                                         const std::vector<std::string>& path, const Caller& caller);
std::optional<HttpResponse> handle_register(Context& context, const HttpRequest& request,
                                            const std::vector<std::string>& path);
std::optional<HttpResponse> handle_users(Context& context, const HttpRequest& request,
                                         const std::vector<std::string>& path, const Caller& caller);
std::optional<HttpResponse> handle_activations(Context& context, const HttpRequest& request,
                                               const std::vector<std::string>& path, const Caller& caller);
std::optional<HttpResponse> handle_audit(Context& context, const HttpRequest& request,
                                         const std::vector<std::string>& path, const Caller& caller);
std::optional<HttpResponse> handle_policies(Context& context, const HttpRequest& request,
                                            const std::vector<std::string>& path, const Caller& caller);
std::optional<HttpResponse> handle_groups(Context& context, const HttpRequest& request,
                                          const std::vector<std::string>& path, const Caller& caller);
std::optional<HttpResponse> handle_preferences(Context& context, const HttpRequest& request,
                                               const std::vector<std::string>& path, const Caller& caller);
std::optional<HttpResponse> handle_sessions(Context& context, const HttpRequest& request,
                                            const std::vector<std::string>& path, const Caller& caller);

}  // namespace sallyport::gateway::impl
