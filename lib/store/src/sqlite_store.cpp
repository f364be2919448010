// The SQLite backend: one connection, guarded by a mutex, with every statement prepared once and
// cached. SQL texts live in sqlite_schema.hpp.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "record_json.hpp"
#include "sallyport/store/store.hpp"
#include "sqlite_schema.hpp"
#include "sqlite_statement.hpp"

namespace sallyport::store {
namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::StatementUse;
using sqlite::Transaction;

// Long enough to ride out another process's write transaction, short enough that a stuck
// database surfaces as an error rather than a hung request.
constexpr int kBusyTimeoutMs = 5000;

User read_user(const Statement& row) {
  User user;
  user.name = row.column_text(0);
  user.password_hash = row.column_text(1);
  user.tags = tags_from_json(row.column_text(2));
  user.is_admin = row.column_bool(3);
  user.created_at = row.column_int64(4);
  return user;
}

Activation read_activation(const Statement& row) {
  Activation activation;
  activation.id = row.column_text(0);
  activation.name = row.column_text(1);
  activation.code_hash = row.column_text(2);
  activation.tags = tags_from_json(row.column_text(3));
  activation.registration_limit = row.column_int(4);
  activation.registrations = row.column_int(5);
  activation.expires_at = row.column_int64(6);
  activation.created_at = row.column_int64(7);
  activation.created_by = row.column_text(8);
  return activation;
}

Node read_node(const Statement& row) {
  Node node;
  node.id = row.column_text(0);
  node.name = row.column_text(1);
  node.public_key = row.column_blob(2);
  node.activation_id = row.column_text(3);
  node.tags = tags_from_json(row.column_text(4));
  node.inventory = inventory_from_json(row.column_text(5));
  node.registered_at = row.column_int64(6);
  node.revoked = row.column_bool(7);
  node.connected = row.column_bool(8);
  node.connected_gateway = row.column_text(9);
  node.last_ping_at = row.column_int64(10);
  return node;
}

ApiToken read_token(const Statement& row) {
  ApiToken token;
  token.token_hash = row.column_text(0);
  token.user = row.column_text(1);
  token.created_at = row.column_int64(2);
  token.expires_at = row.column_int64(3);
  return token;
}

AuditEvent read_audit_event(const Statement& row) {
  AuditEvent event;
  event.id = row.column_int64(0);
  event.time = row.column_int64(1);
  event.actor = row.column_text(2);
  event.source = row.column_text(3);
  event.action = row.column_text(4);
  event.target = row.column_text(5);
  event.outcome = row.column_text(6);
  event.detail = row.column_text(7);
  return event;
}

PolicyRecord read_policy(const Statement& row) {
  PolicyRecord policy;
  policy.name = row.column_text(0);
  policy.document = row.column_text(1);
  policy.builtin = row.column_bool(2);
  policy.created_at = row.column_int64(3);
  policy.updated_at = row.column_int64(4);
  return policy;
}

SessionRecord read_session(const Statement& row) {
  SessionRecord session;
  session.id = row.column_text(0);
  session.owner = row.column_text(1);
  session.node_id = row.column_text(2);
  session.run_as = row.column_text(3);
  session.kind = row.column_text(4);
  session.command = row.column_text(5);
  session.status = row.column_text(6);
  session.reason = row.column_text(7);
  session.gateway_id = row.column_text(8);
  session.started_at = row.column_int64(9);
  session.ended_at = row.column_int64(10);
  session.bytes_in = row.column_int64(11);
  session.bytes_out = row.column_int64(12);
  if (!row.column_is_null(13)) session.exit_code = row.column_int(13);
  if (!row.column_is_null(14)) session.exit_signal = row.column_int(14);
  return session;
}

void bind_optional_int(Statement& q, int index, const std::optional<int>& value) {
  if (value) {
    q.bind_int64(index, *value);
  } else {
    q.bind_null(index);
  }
}

const char* principal_kind(PolicyPrincipal kind) {
  return kind == PolicyPrincipal::kUser ? "user" : "group";
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : db_(path) {
    db_.set_busy_timeout(kBusyTimeoutMs);
    configure();
    migrate();
  }

  ~SqliteStore() override {
    // Statements must be finalized before the connection closes.
    statements_.clear();
  }

  bool create_user(const User& user) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertUser));
    q->bind_text(1, user.name);
    q->bind_text(2, user.password_hash);
    q->bind_text(3, tags_to_json(user.tags));
    q->bind_bool(4, user.is_admin);
    q->bind_int64(5, user.created_at);
    q->run();
    return db_.changes() > 0;
  }

  std::optional<User> get_user(const std::string& name) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectUser));
    q->bind_text(1, name);
    if (!q->step()) return std::nullopt;
    return read_user(*q);
  }

  std::vector<User> list_users() override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectUsers));
    std::vector<User> users;
    while (q->step()) users.push_back(read_user(*q));
    return users;
  }

  bool delete_user(const std::string& name) override {
    // The user's tokens go with it through ON DELETE CASCADE (foreign keys are on).
    return update_by_key(sql::kDeleteUser, name);
  }

  bool set_user_password(const std::string& name, const std::string& password_hash) override {
    return update_by_key(sql::kUpdateUserPassword, name, password_hash);
  }

  bool set_user_tags(const std::string& name, const Tags& tags) override {
    return update_by_key(sql::kUpdateUserTags, name, tags_to_json(tags));
  }

  bool create_activation(const Activation& activation) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertActivation));
    q->bind_text(1, activation.id);
    q->bind_text(2, activation.name);
    q->bind_text(3, activation.code_hash);
    q->bind_text(4, tags_to_json(activation.tags));
    q->bind_int64(5, activation.registration_limit);
    q->bind_int64(6, activation.registrations);
    q->bind_int64(7, activation.expires_at);
    q->bind_int64(8, activation.created_at);
    q->bind_text(9, activation.created_by);
    q->run();
    return db_.changes() > 0;
  }

  std::optional<Activation> get_activation(const std::string& id) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectActivation));
    q->bind_text(1, id);
    if (!q->step()) return std::nullopt;
    return read_activation(*q);
  }

  std::vector<Activation> list_activations() override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectActivations));
    std::vector<Activation> activations;
    while (q->step()) activations.push_back(read_activation(*q));
    return activations;
  }

  bool delete_activation(const std::string& id) override {
    return update_by_key(sql::kDeleteActivation, id);
  }

  ConsumeResult consume_activation(const std::string& id, Millis now) override {
    std::lock_guard lock(mutex_);
    {
      StatementUse q(statement(sql::kConsumeActivation));
      q->bind_text(1, id);
      q->bind_int64(2, now);
      q->run();
      if (db_.changes() > 0) return ConsumeResult::kConsumed;
    }
    // Not counted: only the reason is left to find out. This read is not part of the update,
    // but the answer can only move from "usable" to "expired"/"exhausted", never back.
    StatementUse q(statement(sql::kSelectActivationState));
    q->bind_text(1, id);
    if (!q->step()) return ConsumeResult::kNotFound;
    const std::int64_t registrations = q->column_int64(0);
    const std::int64_t limit = q->column_int64(1);
    const Millis expires_at = q->column_int64(2);
    if (expires_at <= now) return ConsumeResult::kExpired;
    if (registrations >= limit) return ConsumeResult::kExhausted;
    // Raced with a concurrent writer that changed the row between the two statements (e.g. a
    // limit raised by hand); treat it as not usable rather than guess.
    return ConsumeResult::kExhausted;
  }

  bool create_node(const Node& node) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertNode));
    q->bind_text(1, node.id);
    q->bind_text(2, node.name);
    q->bind_blob(3, node.public_key);
    q->bind_text(4, node.activation_id);
    q->bind_text(5, tags_to_json(node.tags));
    q->bind_text(6, inventory_to_json(node.inventory));
    q->bind_int64(7, node.registered_at);
    q->bind_bool(8, node.revoked);
    q->bind_bool(9, node.connected);
    q->bind_text(10, node.connected_gateway);
    q->bind_int64(11, node.last_ping_at);
    q->run();
    return db_.changes() > 0;
  }

  std::optional<Node> get_node(const std::string& id) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectNode));
    q->bind_text(1, id);
    if (!q->step()) return std::nullopt;
    return read_node(*q);
  }

  std::vector<Node> find_nodes_by_name(const std::string& name) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectNodesByName));
    q->bind_text(1, name);
    std::vector<Node> nodes;
    while (q->step()) nodes.push_back(read_node(*q));
    return nodes;
  }

  std::vector<Node> list_nodes() override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectNodes));
    std::vector<Node> nodes;
    while (q->step()) nodes.push_back(read_node(*q));
    return nodes;
  }

  bool set_node_tags(const std::string& id, const Tags& tags) override {
    return update_by_key(sql::kUpdateNodeTags, id, tags_to_json(tags));
  }

  bool set_node_inventory(const std::string& id, const Inventory& inventory) override {
    return update_by_key(sql::kUpdateNodeInventory, id, inventory_to_json(inventory));
  }

  bool revoke_node(const std::string& id) override {
    return update_by_key(sql::kRevokeNode, id);
  }

  bool set_node_connection(const std::string& id, bool connected, const std::string& gateway_id,
                           Millis last_ping_at) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kUpdateNodeConnection));
    q->bind_text(1, id);
    q->bind_bool(2, connected);
    // A closed connection is held by no gateway.
    q->bind_text(3, connected ? gateway_id : std::string());
    q->bind_int64(4, last_ping_at);
    q->run();
    return db_.changes() > 0;
  }

  bool touch_node(const std::string& id, Millis last_ping_at) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kTouchNode));
    q->bind_text(1, id);
    q->bind_int64(2, last_ping_at);
    q->run();
    return db_.changes() > 0;
  }

  void disconnect_gateway_nodes(const std::string& gateway_id) override {
    update_by_key(sql::kDisconnectGatewayNodes, gateway_id);
  }

  void create_token(const ApiToken& token) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertToken));
    q->bind_text(1, token.token_hash);
    q->bind_text(2, token.user);
    q->bind_int64(3, token.created_at);
    q->bind_int64(4, token.expires_at);
    q->run();
  }

  std::optional<ApiToken> get_token(const std::string& token_hash) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectToken));
    q->bind_text(1, token_hash);
    if (!q->step()) return std::nullopt;
    return read_token(*q);
  }

  bool delete_token(const std::string& token_hash) override {
    return update_by_key(sql::kDeleteToken, token_hash);
  }

  void delete_user_tokens(const std::string& user) override {
    update_by_key(sql::kDeleteUserTokens, user);
  }

  void delete_expired_tokens(Millis now) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kDeleteExpiredTokens));
    q->bind_int64(1, now);
    q->run();
  }

  void record_login_failure(const std::string& key, Millis time) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertLoginFailure));
    q->bind_text(1, key);
    q->bind_int64(2, time);
    q->run();
  }

  int count_login_failures(const std::string& key, Millis since) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kCountLoginFailures));
    q->bind_text(1, key);
    q->bind_int64(2, since);
    if (!q->step()) throw Error("sqlite: COUNT returned no row");
    return q->column_int(0);
  }

  void clear_login_failures(const std::string& key) override {
    update_by_key(sql::kDeleteLoginFailures, key);
  }

  std::int64_t append_audit(const AuditEvent& event) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertAuditEvent));
    q->bind_int64(1, event.time);
    q->bind_text(2, event.actor);
    q->bind_text(3, event.source);
    q->bind_text(4, event.action);
    q->bind_text(5, event.target);
    q->bind_text(6, event.outcome);
    q->bind_text(7, event.detail);
    if (!q->step()) throw Error("sqlite: audit insert returned no id");
    const std::int64_t id = q->column_int64(0);
    // Step to completion so the insert is final before the statement is reset.
    if (q->step()) throw Error("sqlite: audit insert returned more than one id");
    return id;
  }

  std::vector<AuditEvent> list_audit(Millis since, int limit) override {
    std::vector<AuditEvent> events;
    if (limit <= 0) return events;  // SQLite reads a negative LIMIT as "no limit"
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectAuditEvents));
    q->bind_int64(1, since);
    q->bind_int64(2, limit);
    while (q->step()) events.push_back(read_audit_event(*q));
    return events;
  }

  bool create_policy(const PolicyRecord& policy) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertPolicy));
    q->bind_text(1, policy.name);
    q->bind_text(2, policy.document);
    q->bind_bool(3, policy.builtin);
    q->bind_int64(4, policy.created_at);
    q->bind_int64(5, policy.updated_at);
    q->run();
    return db_.changes() > 0;
  }

  bool update_policy(const std::string& name, const std::string& document,
                     Millis updated_at) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kUpdatePolicy));
    q->bind_text(1, name);
    q->bind_text(2, document);
    q->bind_int64(3, updated_at);
    q->run();
    return db_.changes() > 0;
  }

  std::optional<PolicyRecord> get_policy(const std::string& name) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectPolicy));
    q->bind_text(1, name);
    if (!q->step()) return std::nullopt;
    return read_policy(*q);
  }

  std::vector<PolicyRecord> list_policies() override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectPolicies));
    std::vector<PolicyRecord> policies;
    while (q->step()) policies.push_back(read_policy(*q));
    return policies;
  }

  bool delete_policy(const std::string& name) override {
    // Attachments go with it through ON DELETE CASCADE.
    return update_by_key(sql::kDeletePolicy, name);
  }

  bool attach_policy(PolicyPrincipal kind, const std::string& principal,
                     const std::string& policy) override {
    std::lock_guard lock(mutex_);
    {
      StatementUse q(statement(kind == PolicyPrincipal::kUser ? sql::kAttachUserPolicy
                                                               : sql::kAttachGroupPolicy));
      q->bind_text(1, principal);
      q->bind_text(2, policy);
      q->run();
      if (db_.changes() > 0) return true;
    }
    // Nothing inserted: either it was attached already (fine) or a side is missing.
    return attachment_exists(kind, principal, policy);
  }

  bool detach_policy(PolicyPrincipal kind, const std::string& principal,
                     const std::string& policy) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kDeleteAttachment));
    q->bind_text(1, principal_kind(kind));
    q->bind_text(2, principal);
    q->bind_text(3, policy);
    q->run();
    return db_.changes() > 0;
  }

  std::vector<std::string> list_attached_policies(PolicyPrincipal kind,
                                                  const std::string& principal) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectAttachedPolicies));
    q->bind_text(1, principal_kind(kind));
    q->bind_text(2, principal);
    std::vector<std::string> names;
    while (q->step()) names.push_back(q->column_text(0));
    return names;
  }

  bool create_group(const Group& group) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertGroup));
    q->bind_text(1, group.name);
    q->bind_int64(2, group.created_at);
    q->run();
    return db_.changes() > 0;
  }

  bool delete_group(const std::string& name) override {
    // Memberships and attachments go with it through ON DELETE CASCADE.
    return update_by_key(sql::kDeleteGroup, name);
  }

  std::vector<Group> list_groups() override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectGroups));
    std::vector<Group> groups;
    while (q->step()) groups.push_back(Group{q->column_text(0), q->column_int64(1)});
    return groups;
  }

  bool add_group_member(const std::string& group, const std::string& user) override {
    std::lock_guard lock(mutex_);
    {
      StatementUse q(statement(sql::kInsertGroupMember));
      q->bind_text(1, group);
      q->bind_text(2, user);
      q->run();
      if (db_.changes() > 0) return true;
    }
    StatementUse q(statement(sql::kSelectGroupMember));
    q->bind_text(1, group);
    q->bind_text(2, user);
    return q->step();
  }

  bool remove_group_member(const std::string& group, const std::string& user) override {
    return update_by_key(sql::kDeleteGroupMember, group, user);
  }

  std::vector<std::string> list_group_members(const std::string& group) override {
    return names_by_key(sql::kSelectGroupMembers, group);
  }

  std::vector<std::string> list_user_groups(const std::string& user) override {
    return names_by_key(sql::kSelectUserGroups, user);
  }

  bool create_session(const SessionRecord& session) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kInsertSession));
    q->bind_text(1, session.id);
    q->bind_text(2, session.owner);
    q->bind_text(3, session.node_id);
    q->bind_text(4, session.run_as);
    q->bind_text(5, session.kind);
    q->bind_text(6, session.command);
    q->bind_text(7, session.status);
    q->bind_text(8, session.reason);
    q->bind_text(9, session.gateway_id);
    q->bind_int64(10, session.started_at);
    q->bind_int64(11, session.ended_at);
    q->bind_int64(12, session.bytes_in);
    q->bind_int64(13, session.bytes_out);
    bind_optional_int(*q, 14, session.exit_code);
    bind_optional_int(*q, 15, session.exit_signal);
    q->run();
    return db_.changes() > 0;
  }

  std::optional<SessionRecord> get_session(const std::string& id) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectSession));
    q->bind_text(1, id);
    if (!q->step()) return std::nullopt;
    return read_session(*q);
  }

  std::vector<SessionRecord> list_sessions(bool active, int limit) override {
    std::vector<SessionRecord> sessions;
    if (limit <= 0) return sessions;  // SQLite reads a negative LIMIT as "no limit"
    std::lock_guard lock(mutex_);
    StatementUse q(statement(active ? sql::kSelectActiveSessions : sql::kSelectEndedSessions));
    q->bind_int64(1, limit);
    while (q->step()) sessions.push_back(read_session(*q));
    return sessions;
  }

  bool add_session_bytes(const std::string& id, std::int64_t bytes_in,
                         std::int64_t bytes_out) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kAddSessionBytes));
    q->bind_text(1, id);
    q->bind_int64(2, bytes_in);
    q->bind_int64(3, bytes_out);
    q->run();
    return db_.changes() > 0;
  }

  bool end_session(const SessionRecord& ended) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kEndSession));
    q->bind_text(1, ended.id);
    q->bind_text(2, ended.status);
    q->bind_text(3, ended.reason);
    // ended_at == 0 means "active"; an ending must never leave the session looking live.
    q->bind_int64(4, ended.ended_at > 0 ? ended.ended_at : 1);
    q->bind_int64(5, ended.bytes_in);
    q->bind_int64(6, ended.bytes_out);
    bind_optional_int(*q, 7, ended.exit_code);
    bind_optional_int(*q, 8, ended.exit_signal);
    q->run();
    return db_.changes() > 0;
  }

  void fail_gateway_sessions(const std::string& gateway_id, Millis now, const std::vector<std::string>& kept) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kFailGatewaySessions));
    q->bind_text(1, gateway_id);
    q->bind_int64(2, now > 0 ? now : 1);
    q->bind_text(3, strings_to_json(kept));
    q->run();
  }

  bool request_termination(const TerminationRequest& request) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kRequestTermination));
    q->bind_text(1, request.session_id);
    q->bind_text(2, request.requested_by);
    q->bind_text(3, request.reason);
    q->run();
    return db_.changes() > 0;
  }

  std::vector<TerminationRequest> list_termination_requests(const std::string& gateway_id) override {
    std::vector<TerminationRequest> requests;
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectTerminationRequests));
    q->bind_text(1, gateway_id);
    while (q->step()) requests.push_back({q->column_text(0), q->column_text(1), q->column_text(2)});
    return requests;
  }

  std::optional<std::string> get_preference(const std::string& key) override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectPreference));
    q->bind_text(1, key);
    if (!q->step()) return std::nullopt;
    return q->column_text(0);
  }

  void set_preference(const std::string& key, const std::string& value) override {
    update_by_key(sql::kUpsertPreference, key, value);
  }

  std::vector<std::pair<std::string, std::string>> list_preferences() override {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql::kSelectPreferences));
    std::vector<std::pair<std::string, std::string>> preferences;
    while (q->step()) preferences.emplace_back(q->column_text(0), q->column_text(1));
    return preferences;
  }

 private:
  // Caller holds mutex_.
  bool attachment_exists(PolicyPrincipal kind, const std::string& principal,
                         const std::string& policy) {
    StatementUse q(statement(sql::kSelectAttachment));
    q->bind_text(1, principal_kind(kind));
    q->bind_text(2, principal);
    q->bind_text(3, policy);
    return q->step();
  }

  // Runs a one-key query (?1 = key) whose first column is a name.
  std::vector<std::string> names_by_key(const char* sql, const std::string& key) {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql));
    q->bind_text(1, key);
    std::vector<std::string> names;
    while (q->step()) names.push_back(q->column_text(0));
    return names;
  }

  void configure() {
    {
      Statement q(db_, sql::kPragmaJournalModeWal);
      const std::string mode = q.step() ? q.column_text(0) : std::string();
      // An in-memory database reports "memory" and cannot use WAL; that is fine for it.
      if (mode != "wal" && mode != "memory") {
        throw Error("sqlite: cannot switch to WAL journal mode (got '" + mode + "')");
      }
    }
    db_.exec(sql::kPragmaForeignKeysOn);
    // The pragma is silently ignored inside a transaction or on builds without FK support.
    Statement check(db_, sql::kPragmaForeignKeys);
    if (!check.step() || check.column_int64(0) != 1) {
      throw Error("sqlite: cannot enable foreign keys");
    }
  }

  void migrate() {
    // One IMMEDIATE transaction around read-version-and-apply so two processes opening a new
    // file at once cannot both apply the same migration.
    Transaction transaction(db_);
    db_.exec(sql::kCreateSchemaVersion);
    int version = 0;
    {
      Statement q(db_, sql::kSelectSchemaVersion);
      if (q.step()) version = q.column_int(0);
    }
    if (version > sql::kSchemaVersion) {
      throw Error("sqlite: database schema version " + std::to_string(version) +
                  " is newer than this build supports (" + std::to_string(sql::kSchemaVersion) +
                  ")");
    }
    for (; version < sql::kSchemaVersion; ++version) {
      db_.exec(sql::kMigrations.at(static_cast<std::size_t>(version)));
      Statement q(db_, sql::kInsertSchemaVersion);
      q.bind_int64(1, version + 1);
      q.run();
    }
    transaction.commit();
  }

  // The statement for sql, prepared on first use. Keyed by address: every text is one of the
  // constants in sqlite_schema.hpp.
  Statement& statement(const char* sql) {
    auto& slot = statements_[sql];
    if (!slot) slot = std::make_unique<Statement>(db_, sql);
    return *slot;
  }

  // Runs a one-key statement (?1 = key) and reports whether any row was touched.
  bool update_by_key(const char* sql, const std::string& key) {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql));
    q->bind_text(1, key);
    q->run();
    return db_.changes() > 0;
  }

  // Same with one text value (?2 = value).
  bool update_by_key(const char* sql, const std::string& key, const std::string& value) {
    std::lock_guard lock(mutex_);
    StatementUse q(statement(sql));
    q->bind_text(1, key);
    q->bind_text(2, value);
    q->run();
    return db_.changes() > 0;
  }

  std::mutex mutex_;
  Database db_;
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace sallyport::store
