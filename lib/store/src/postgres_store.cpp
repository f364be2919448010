// The PostgreSQL backend: one connection, guarded by a mutex, every value bound as a text
// parameter. SQL texts live in postgres_schema.hpp; behaviour mirrors sqlite_store.cpp, and
// whatever must hold across gateways (limits, first ending wins) is one statement.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "postgres_connection.hpp"
#include "postgres_schema.hpp"
#include "record_json.hpp"
#include "sallyport/store/store.hpp"

namespace sallyport::store {
namespace {

using postgres::Connection;
using postgres::Param;
using postgres::Result;
using postgres::Transaction;

User read_user(const Result& r, int row) {
  User user;
  user.name = r.text(row, 0);
  user.password_hash = r.text(row, 1);
  user.tags = tags_from_json(r.text(row, 2));
  user.is_admin = r.boolean(row, 3);
  user.created_at = r.int64(row, 4);
  return user;
}

Activation read_activation(const Result& r, int row) {
  Activation activation;
  activation.id = r.text(row, 0);
  activation.name = r.text(row, 1);
  activation.code_hash = r.text(row, 2);
  activation.tags = tags_from_json(r.text(row, 3));
  activation.registration_limit = r.int32(row, 4);
  activation.registrations = r.int32(row, 5);
  activation.expires_at = r.int64(row, 6);
  activation.created_at = r.int64(row, 7);
  activation.created_by = r.text(row, 8);
  return activation;
}

Node read_node(const Result& r, int row) {
  Node node;
  node.id = r.text(row, 0);
  node.name = r.text(row, 1);
  node.public_key = r.bytes(row, 2);
  node.activation_id = r.text(row, 3);
  node.tags = tags_from_json(r.text(row, 4));
  node.inventory = inventory_from_json(r.text(row, 5));
  node.registered_at = r.int64(row, 6);
  node.revoked = r.boolean(row, 7);
  node.connected = r.boolean(row, 8);
  node.connected_gateway = r.text(row, 9);
  node.last_ping_at = r.int64(row, 10);
  return node;
}

ApiToken read_token(const Result& r, int row) {
  ApiToken token;
  token.token_hash = r.text(row, 0);
  token.user = r.text(row, 1);
  token.created_at = r.int64(row, 2);
  token.expires_at = r.int64(row, 3);
  return token;
}

AuditEvent read_audit_event(const Result& r, int row) {
  AuditEvent event;
  event.id = r.int64(row, 0);
  event.time = r.int64(row, 1);
  event.actor = r.text(row, 2);
  event.source = r.text(row, 3);
  event.action = r.text(row, 4);
  event.target = r.text(row, 5);
  event.outcome = r.text(row, 6);
  event.detail = r.text(row, 7);
  return event;
}

PolicyRecord read_policy(const Result& r, int row) {
  PolicyRecord policy;
  policy.name = r.text(row, 0);
  policy.document = r.text(row, 1);
  policy.builtin = r.boolean(row, 2);
  policy.created_at = r.int64(row, 3);
  policy.updated_at = r.int64(row, 4);
  return policy;
}

SessionRecord read_session(const Result& r, int row) {
  SessionRecord session;
  session.id = r.text(row, 0);
  session.owner = r.text(row, 1);
  session.node_id = r.text(row, 2);
  session.run_as = r.text(row, 3);
  session.kind = r.text(row, 4);
  session.command = r.text(row, 5);
  session.status = r.text(row, 6);
  session.reason = r.text(row, 7);
  session.gateway_id = r.text(row, 8);
  session.started_at = r.int64(row, 9);
  session.ended_at = r.int64(row, 10);
  session.bytes_in = r.int64(row, 11);
  session.bytes_out = r.int64(row, 12);
  if (!r.is_null(row, 13)) session.exit_code = r.int32(row, 13);
  if (!r.is_null(row, 14)) session.exit_signal = r.int32(row, 14);
  return session;
}

std::string read_name(const Result& r, int row) { return r.text(row, 0); }

template <typename Reader>
auto read_all(const Result& r, Reader read) {
  std::vector<decltype(read(r, 0))> items;
  items.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) items.push_back(read(r, row));
  return items;
}

template <typename Reader>
auto read_first(const Result& r, Reader read) -> std::optional<decltype(read(r, 0))> {
  if (r.rows() == 0) return std::nullopt;
  return read(r, 0);
}

Param text(std::string_view value) { return Param::text(value); }
Param integer(std::int64_t value) { return Param::integer(value); }

const char* principal_kind(PolicyPrincipal kind) {
  return kind == PolicyPrincipal::kUser ? "user" : "group";
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const std::string& conninfo) : db_(conninfo) { migrate(); }

  bool create_user(const User& user) override {
    return changed(pg_sql::kInsertUser,
                   {text(user.name), text(user.password_hash), text(tags_to_json(user.tags)),
                    Param::boolean(user.is_admin), integer(user.created_at)});
  }

  std::optional<User> get_user(const std::string& name) override {
    return read_first(query(pg_sql::kSelectUser, {text(name)}), read_user);
  }

  std::vector<User> list_users() override { return read_all(query(pg_sql::kSelectUsers), read_user); }

  bool delete_user(const std::string& name) override {
    // Tokens, memberships and attachments go with it through ON DELETE CASCADE.
    return changed(pg_sql::kDeleteUser, {text(name)});
  }

  bool set_user_password(const std::string& name, const std::string& password_hash) override {
    return changed(pg_sql::kUpdateUserPassword, {text(name), text(password_hash)});
  }

  bool set_user_tags(const std::string& name, const Tags& tags) override {
    return changed(pg_sql::kUpdateUserTags, {text(name), text(tags_to_json(tags))});
  }

  bool create_activation(const Activation& activation) override {
    return changed(pg_sql::kInsertActivation,
                   {text(activation.id), text(activation.name), text(activation.code_hash),
                    text(tags_to_json(activation.tags)), integer(activation.registration_limit),
                    integer(activation.registrations), integer(activation.expires_at),
                    integer(activation.created_at), text(activation.created_by)});
  }

  std::optional<Activation> get_activation(const std::string& id) override {
    return read_first(query(pg_sql::kSelectActivation, {text(id)}), read_activation);
  }

  std::vector<Activation> list_activations() override {
    return read_all(query(pg_sql::kSelectActivations), read_activation);
  }

  bool delete_activation(const std::string& id) override {
    return changed(pg_sql::kDeleteActivation, {text(id)});
  }

  ConsumeResult consume_activation(const std::string& id, Millis now) override {
    std::lock_guard lock(mutex_);
    if (db_.exec(pg_sql::kConsumeActivation, {text(id), integer(now)}).affected_rows() > 0) {
      return ConsumeResult::kConsumed;
    }
    // Not counted: only the reason is left to find out. The answer can only move from
    // "usable" to "expired"/"exhausted", never back, so a separate read is fine.
    const Result state = db_.exec(pg_sql::kSelectActivationState, {text(id)});
    if (state.rows() == 0) return ConsumeResult::kNotFound;
    if (state.int64(0, 2) <= now) return ConsumeResult::kExpired;
    // Exhausted, or raced with a writer that changed the row in between (e.g. a limit raised
    // by hand): not usable either way.
    return ConsumeResult::kExhausted;
  }

  bool create_node(const Node& node) override {
    return changed(pg_sql::kInsertNode,
                   {text(node.id), text(node.name), Param::bytes(node.public_key),
                    text(node.activation_id), text(tags_to_json(node.tags)),
                    text(inventory_to_json(node.inventory)), integer(node.registered_at),
                    Param::boolean(node.revoked), Param::boolean(node.connected),
                    text(node.connected_gateway), integer(node.last_ping_at)});
  }

  std::optional<Node> get_node(const std::string& id) override {
    return read_first(query(pg_sql::kSelectNode, {text(id)}), read_node);
  }

  std::vector<Node> find_nodes_by_name(const std::string& name) override {
    return read_all(query(pg_sql::kSelectNodesByName, {text(name)}), read_node);
  }

  std::vector<Node> list_nodes() override { return read_all(query(pg_sql::kSelectNodes), read_node); }

  bool set_node_tags(const std::string& id, const Tags& tags) override {
    return changed(pg_sql::kUpdateNodeTags, {text(id), text(tags_to_json(tags))});
  }

  bool set_node_inventory(const std::string& id, const Inventory& inventory) override {
    return changed(pg_sql::kUpdateNodeInventory, {text(id), text(inventory_to_json(inventory))});
  }

  bool revoke_node(const std::string& id) override { return changed(pg_sql::kRevokeNode, {text(id)}); }

  bool set_node_connection(const std::string& id, bool connected, const std::string& gateway_id,
                           Millis last_ping_at) override {
    // A closed connection is held by no gateway.
    return changed(pg_sql::kUpdateNodeConnection,
                   {text(id), Param::boolean(connected), text(connected ? gateway_id : std::string()),
                    integer(last_ping_at)});
  }

  bool touch_node(const std::string& id, Millis last_ping_at) override {
    return changed(pg_sql::kTouchNode, {text(id), integer(last_ping_at)});
  }

  void disconnect_gateway_nodes(const std::string& gateway_id) override {
    changed(pg_sql::kDisconnectGatewayNodes, {text(gateway_id)});
  }

  void create_token(const ApiToken& token) override {
    changed(pg_sql::kInsertToken, {text(token.token_hash), text(token.user),
                                   integer(token.created_at), integer(token.expires_at)});
  }

  std::optional<ApiToken> get_token(const std::string& token_hash) override {
    return read_first(query(pg_sql::kSelectToken, {text(token_hash)}), read_token);
  }

  bool delete_token(const std::string& token_hash) override {
    return changed(pg_sql::kDeleteToken, {text(token_hash)});
  }

  void delete_user_tokens(const std::string& user) override {
    changed(pg_sql::kDeleteUserTokens, {text(user)});
  }

  void delete_expired_tokens(Millis now) override {
    changed(pg_sql::kDeleteExpiredTokens, {integer(now)});
  }

  void record_login_failure(const std::string& key, Millis time) override {
    changed(pg_sql::kInsertLoginFailure, {text(key), integer(time)});
  }

  int count_login_failures(const std::string& key, Millis since) override {
    const Result count = query(pg_sql::kCountLoginFailures, {text(key), integer(since)});
    if (count.rows() != 1) throw Error("postgres: COUNT returned no row");
    return count.int32(0, 0);
  }

  void clear_login_failures(const std::string& key) override {
    changed(pg_sql::kDeleteLoginFailures, {text(key)});
  }

  std::int64_t append_audit(const AuditEvent& event) override {
    const Result id = query(pg_sql::kInsertAuditEvent,
                            {integer(event.time), text(event.actor), text(event.source),
                             text(event.action), text(event.target), text(event.outcome),
                             text(event.detail)});
    if (id.rows() != 1) throw Error("postgres: audit insert returned no id");
    return id.int64(0, 0);
  }

  std::vector<AuditEvent> list_audit(Millis since, int limit) override {
    if (limit <= 0) return {};  // as on SQLite (PostgreSQL refuses a negative LIMIT)
    return read_all(query(pg_sql::kSelectAuditEvents, {integer(since), integer(limit)}),
                    read_audit_event);
  }

  bool create_policy(const PolicyRecord& policy) override {
    return changed(pg_sql::kInsertPolicy,
                   {text(policy.name), text(policy.document), Param::boolean(policy.builtin),
                    integer(policy.created_at), integer(policy.updated_at)});
  }

  bool update_policy(const std::string& name, const std::string& document,
                     Millis updated_at) override {
    return changed(pg_sql::kUpdatePolicy, {text(name), text(document), integer(updated_at)});
  }

  std::optional<PolicyRecord> get_policy(const std::string& name) override {
    return read_first(query(pg_sql::kSelectPolicy, {text(name)}), read_policy);
  }

  std::vector<PolicyRecord> list_policies() override {
    return read_all(query(pg_sql::kSelectPolicies), read_policy);
  }

  bool delete_policy(const std::string& name) override {
    // Attachments go with it through ON DELETE CASCADE.
    return changed(pg_sql::kDeletePolicy, {text(name)});
  }

  bool attach_policy(PolicyPrincipal kind, const std::string& principal,
                     const std::string& policy) override {
    std::lock_guard lock(mutex_);
    const char* sql =
        kind == PolicyPrincipal::kUser ? pg_sql::kAttachUserPolicy : pg_sql::kAttachGroupPolicy;
    if (db_.exec(sql, {text(principal), text(policy)}).affected_rows() > 0) return true;
    // Nothing inserted: either it was attached already (fine) or a side is missing.
    return db_.exec(pg_sql::kSelectAttachment,
                    {text(principal_kind(kind)), text(principal), text(policy)})
               .rows() > 0;
  }

  bool detach_policy(PolicyPrincipal kind, const std::string& principal,
                     const std::string& policy) override {
    return changed(pg_sql::kDeleteAttachment,
                   {text(principal_kind(kind)), text(principal), text(policy)});
  }

  std::vector<std::string> list_attached_policies(PolicyPrincipal kind,
                                                  const std::string& principal) override {
    return read_all(
        query(pg_sql::kSelectAttachedPolicies, {text(principal_kind(kind)), text(principal)}),
        read_name);
  }

  bool create_group(const Group& group) override {
    return changed(pg_sql::kInsertGroup, {text(group.name), integer(group.created_at)});
  }

  bool delete_group(const std::string& name) override {
    // Memberships and attachments go with it through ON DELETE CASCADE.
    return changed(pg_sql::kDeleteGroup, {text(name)});
  }

  std::vector<Group> list_groups() override {
    return read_all(query(pg_sql::kSelectGroups),
                    [](const Result& r, int row) { return Group{r.text(row, 0), r.int64(row, 1)}; });
  }

  bool add_group_member(const std::string& group, const std::string& user) override {
    std::lock_guard lock(mutex_);
    if (db_.exec(pg_sql::kInsertGroupMember, {text(group), text(user)}).affected_rows() > 0) {
      return true;
    }
    return db_.exec(pg_sql::kSelectGroupMember, {text(group), text(user)}).rows() > 0;
  }

  bool remove_group_member(const std::string& group, const std::string& user) override {
    return changed(pg_sql::kDeleteGroupMember, {text(group), text(user)});
  }

  std::vector<std::string> list_group_members(const std::string& group) override {
    return read_all(query(pg_sql::kSelectGroupMembers, {text(group)}), read_name);
  }

  std::vector<std::string> list_user_groups(const std::string& user) override {
    return read_all(query(pg_sql::kSelectUserGroups, {text(user)}), read_name);
  }

  bool create_session(const SessionRecord& session) override {
    return changed(pg_sql::kInsertSession,
                   {text(session.id), text(session.owner), text(session.node_id),
                    text(session.run_as), text(session.kind), text(session.command),
                    text(session.status), text(session.reason), text(session.gateway_id),
                    integer(session.started_at), integer(session.ended_at),
                    integer(session.bytes_in), integer(session.bytes_out),
                    Param::optional_integer(session.exit_code),
                    Param::optional_integer(session.exit_signal)});
  }

  std::optional<SessionRecord> get_session(const std::string& id) override {
    return read_first(query(pg_sql::kSelectSession, {text(id)}), read_session);
  }

  std::vector<SessionRecord> list_sessions(bool active, int limit) override {
    if (limit <= 0) return {};  // as on SQLite (PostgreSQL refuses a negative LIMIT)
    return read_all(query(active ? pg_sql::kSelectActiveSessions : pg_sql::kSelectEndedSessions,
                          {integer(limit)}),
                    read_session);
  }

  bool add_session_bytes(const std::string& id, std::int64_t bytes_in,
                         std::int64_t bytes_out) override {
    return changed(pg_sql::kAddSessionBytes, {text(id), integer(bytes_in), integer(bytes_out)});
  }

  bool end_session(const SessionRecord& ended) override {
    // ended_at == 0 means "active"; an ending must never leave the session looking live.
    return changed(pg_sql::kEndSession,
                   {text(ended.id), text(ended.status), text(ended.reason),
                    integer(ended.ended_at > 0 ? ended.ended_at : 1), integer(ended.bytes_in),
                    integer(ended.bytes_out), Param::optional_integer(ended.exit_code),
                    Param::optional_integer(ended.exit_signal)});
  }

  void fail_gateway_sessions(const std::string& gateway_id, Millis now, const std::vector<std::string>& kept) override {
    changed(pg_sql::kFailGatewaySessions, {text(gateway_id), integer(now > 0 ? now : 1), text(strings_to_json(kept))});
  }

  bool request_termination(const TerminationRequest& request) override {
    return changed(pg_sql::kRequestTermination,
                   {text(request.session_id), text(request.requested_by), text(request.reason)});
  }

  std::vector<TerminationRequest> list_termination_requests(const std::string& gateway_id) override {
    return read_all(query(pg_sql::kSelectTerminationRequests, {text(gateway_id)}), [](const Result& r, int row) {
      return TerminationRequest{r.text(row, 0), r.text(row, 1), r.text(row, 2)};
    });
  }

  std::optional<std::string> get_preference(const std::string& key) override {
    return read_first(query(pg_sql::kSelectPreference, {text(key)}), read_name);
  }

  void set_preference(const std::string& key, const std::string& value) override {
    changed(pg_sql::kUpsertPreference, {text(key), text(value)});
  }

  std::vector<std::pair<std::string, std::string>> list_preferences() override {
    return read_all(query(pg_sql::kSelectPreferences), [](const Result& r, int row) {
      return std::pair{r.text(row, 0), r.text(row, 1)};
    });
  }

 private:
  // One statement under the lock; its rows.
  Result query(const char* sql, std::initializer_list<Param> params = {}) {
    std::lock_guard lock(mutex_);
    return db_.exec(sql, params);
  }

  // One statement under the lock; whether it touched any row.
  bool changed(const char* sql, std::initializer_list<Param> params) {
    return query(sql, params).affected_rows() > 0;
  }

  void migrate() {
    std::lock_guard lock(mutex_);
    Transaction transaction(db_);
    db_.exec(pg_sql::kLockMigration);
    db_.exec(pg_sql::kCreateSchemaVersion);
    int version = db_.exec(pg_sql::kSelectSchemaVersion).int32(0, 0);
    if (version > pg_sql::kSchemaVersion) {
      throw Error("postgres: database schema version " + std::to_string(version) +
                  " is newer than this build supports (" +
                  std::to_string(pg_sql::kSchemaVersion) + ")");
    }
    for (; version < pg_sql::kSchemaVersion; ++version) {
      db_.exec_script(pg_sql::kMigrations.at(static_cast<std::size_t>(version)));
      db_.exec(pg_sql::kInsertSchemaVersion, {integer(version + 1)});
    }
    transaction.commit();
  }

  std::mutex mutex_;
  Connection db_;
};

}  // namespace

std::unique_ptr<Store> open_postgres(const std::string& conninfo) {
  return std::make_unique<PostgresStore>(conninfo);
}

}  // namespace sallyport::store
