#pragma once
// The one interface to the gateway's state. Every record a gateway needs lives here (nothing is
// kept only in one gateway process), so several gateways can share a PostgreSQL backend.
// Implementations are thread-safe. Failures of the database itself throw store::Error; expected
// outcomes (missing row, duplicate name, exhausted activation) are return values.
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sallyport/store/types.hpp"

namespace sallyport::store {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ConsumeResult { kConsumed, kNotFound, kExpired, kExhausted };

class Store {
 public:
  virtual ~Store() = default;

  // Users. create_user returns false when the name is taken.
  virtual bool create_user(const User& user) = 0;
  virtual std::optional<User> get_user(const std::string& name) = 0;
  virtual std::vector<User> list_users() = 0;  // ordered by name
  virtual bool delete_user(const std::string& name) = 0;
  virtual bool set_user_password(const std::string& name, const std::string& password_hash) = 0;
  virtual bool set_user_tags(const std::string& name, const Tags& tags) = 0;

  // Activations. consume_activation atomically checks expiry and limit and counts one use.
  virtual bool create_activation(const Activation& activation) = 0;
  virtual std::optional<Activation> get_activation(const std::string& id) = 0;
  virtual std::vector<Activation> list_activations() = 0;  // ordered by created_at
  virtual bool delete_activation(const std::string& id) = 0;
  virtual ConsumeResult consume_activation(const std::string& id, Millis now) = 0;

  // Nodes. create_node returns false when the id is taken.
  virtual bool create_node(const Node& node) = 0;
  virtual std::optional<Node> get_node(const std::string& id) = 0;
  virtual std::vector<Node> find_nodes_by_name(const std::string& name) = 0;
  virtual std::vector<Node> list_nodes() = 0;  // ordered by name, then id
  virtual bool set_node_tags(const std::string& id, const Tags& tags) = 0;
  virtual bool set_node_inventory(const std::string& id, const Inventory& inventory) = 0;
  virtual bool revoke_node(const std::string& id) = 0;
  // Connection state: connected=true with the gateway id and ping time, or false on close.
  virtual bool set_node_connection(const std::string& id, bool connected,
                                   const std::string& gateway_id, Millis last_ping_at) = 0;
  virtual bool touch_node(const std::string& id, Millis last_ping_at) = 0;
  // Marks every node held by gateway_id as disconnected (gateway start-up after a crash).
  virtual void disconnect_gateway_nodes(const std::string& gateway_id) = 0;

  // API tokens (only hashes are stored).
  virtual void create_token(const ApiToken& token) = 0;
  virtual std::optional<ApiToken> get_token(const std::string& token_hash) = 0;
  virtual bool delete_token(const std::string& token_hash) = 0;
  virtual void delete_user_tokens(const std::string& user) = 0;
  virtual void delete_expired_tokens(Millis now) = 0;

  // Failed-login counting for rate limiting; key is e.g. "user:alice" or "addr:127.0.0.1".
  virtual void record_login_failure(const std::string& key, Millis time) = 0;
  virtual int count_login_failures(const std::string& key, Millis since) = 0;
  virtual void clear_login_failures(const std::string& key) = 0;

  // Audit log: append assigns the id and returns it; list returns events with time >= since,
  // oldest first, at most limit.
  virtual std::int64_t append_audit(const AuditEvent& event) = 0;
  virtual std::vector<AuditEvent> list_audit(Millis since, int limit) = 0;

  // Policies (documents are opaque text here; the policy engine validates them).
  virtual bool create_policy(const PolicyRecord& policy) = 0;   // false when the name is taken
  virtual bool update_policy(const std::string& name, const std::string& document, Millis updated_at) = 0;
  virtual std::optional<PolicyRecord> get_policy(const std::string& name) = 0;
  virtual std::vector<PolicyRecord> list_policies() = 0;        // ordered by name
  virtual bool delete_policy(const std::string& name) = 0;      // also detaches it everywhere
  // Attachments to users and groups; attach is idempotent (true when the pair now exists and
  // both sides exist), detach returns false when it was not attached.
  virtual bool attach_policy(PolicyPrincipal kind, const std::string& principal, const std::string& policy) = 0;
  virtual bool detach_policy(PolicyPrincipal kind, const std::string& principal, const std::string& policy) = 0;
  virtual std::vector<std::string> list_attached_policies(PolicyPrincipal kind, const std::string& principal) = 0;

  // Groups and membership (deleting a user or group removes its memberships and attachments).
  virtual bool create_group(const Group& group) = 0;
  virtual bool delete_group(const std::string& name) = 0;
  virtual std::vector<Group> list_groups() = 0;
  virtual bool add_group_member(const std::string& group, const std::string& user) = 0;  // false if either is missing
  virtual bool remove_group_member(const std::string& group, const std::string& user) = 0;
  virtual std::vector<std::string> list_group_members(const std::string& group) = 0;
  virtual std::vector<std::string> list_user_groups(const std::string& user) = 0;

  // Sessions. end_session sets status, reason, ended_at, byte counts and exit status once;
  // later calls for an ended session return false.
  virtual bool create_session(const SessionRecord& session) = 0;
  virtual std::optional<SessionRecord> get_session(const std::string& id) = 0;
  // active: ended_at == 0, newest first; history: ended sessions, newest first.
  virtual std::vector<SessionRecord> list_sessions(bool active, int limit) = 0;
  virtual bool add_session_bytes(const std::string& id, std::int64_t bytes_in, std::int64_t bytes_out) = 0;
  virtual bool end_session(const SessionRecord& ended) = 0;
  // Marks active sessions held by gateway_id as Failed ("gateway restarted"), except `kept`:
  // those a gracefully restarted gateway takes back.
  virtual void fail_gateway_sessions(const std::string& gateway_id, Millis now,
                                     const std::vector<std::string>& kept = {}) = 0;
  // Asks the gateway that holds an active session to end it (a session lives on one gateway;
  // `sessions terminate` may come through another). False when the session is missing or has
  // ended; a later request replaces an earlier one.
  virtual bool request_termination(const TerminationRequest& request) = 0;
  // The requests for active sessions held by gateway_id, oldest session first.
  virtual std::vector<TerminationRequest> list_termination_requests(const std::string& gateway_id) = 0;

  // Gateway-wide preferences as key/value text (the gateway validates values).
  virtual std::optional<std::string> get_preference(const std::string& key) = 0;
  virtual void set_preference(const std::string& key, const std::string& value) = 0;
  virtual std::vector<std::pair<std::string, std::string>> list_preferences() = 0;
};

// Opens (creating if needed) an SQLite database file and migrates its schema. WAL mode.
std::unique_ptr<Store> open_sqlite(const std::string& path);

// Connects to PostgreSQL (a libpq connection string: "host=... dbname=..." or a
// postgresql:// URI; libpq also reads PGPASSWORD, PGPASSFILE and the other PG* variables) and
// migrates the schema, safely when several gateways start at once. A lost connection is
// re-established on the next call. Errors name host, port and database, never the string.
std::unique_ptr<Store> open_postgres(const std::string& conninfo);

}  // namespace sallyport::store
