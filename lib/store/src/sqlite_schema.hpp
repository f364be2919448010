#pragma once
// Every SQL text the SQLite backend runs, in one place. The PostgreSQL backend mirrors this file
// statement for statement (placeholders ?N become $N, INTEGER PRIMARY KEY becomes BIGSERIAL /
// BIGINT GENERATED ... AS IDENTITY, BLOB becomes BYTEA, names compare with COLLATE "C" so the
// ordering matches SQLite's byte order). Values are only ever bound, never spliced in.
#include <array>

namespace sallyport::store::sql {

// Migrations: kMigrations[i] brings the schema from version i to version i + 1. Append only;
// never edit a migration that has shipped.
inline constexpr char kMigrationV1[] = R"sql(
CREATE TABLE users (
  name          TEXT    NOT NULL PRIMARY KEY,
  password_hash TEXT    NOT NULL,
  tags          TEXT    NOT NULL,
  is_admin      INTEGER NOT NULL,
  created_at    INTEGER NOT NULL
);

CREATE TABLE activations (
  id                 TEXT    NOT NULL PRIMARY KEY,
  name               TEXT    NOT NULL,
  code_hash          TEXT    NOT NULL,
  tags               TEXT    NOT NULL,
  registration_limit INTEGER NOT NULL,
  registrations      INTEGER NOT NULL,
  expires_at         INTEGER NOT NULL,
  created_at         INTEGER NOT NULL,
  created_by         TEXT    NOT NULL
);
CREATE INDEX activations_created_at ON activations (created_at, id);

CREATE TABLE nodes (
  id                TEXT    NOT NULL PRIMARY KEY,
  name              TEXT    NOT NULL,
  public_key        BLOB    NOT NULL,
  activation_id     TEXT    NOT NULL,
  tags              TEXT    NOT NULL,
  inventory         TEXT    NOT NULL,
  registered_at     INTEGER NOT NULL,
  revoked           INTEGER NOT NULL,
  connected         INTEGER NOT NULL,
  connected_gateway TEXT    NOT NULL,
  last_ping_at      INTEGER NOT NULL
);
CREATE INDEX nodes_name ON nodes (name, id);
CREATE INDEX nodes_connected_gateway ON nodes (connected_gateway);

-- A token can never outlive its user: a user re-created under the same name must not inherit
-- the old tokens, even if a token was written concurrently with the delete.
CREATE TABLE api_tokens (
  token_hash TEXT    NOT NULL PRIMARY KEY,
  user_name  TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_user_name ON api_tokens (user_name);
CREATE INDEX api_tokens_expires_at ON api_tokens (expires_at);

CREATE TABLE login_failures (
  id          INTEGER NOT NULL PRIMARY KEY,
  failure_key TEXT    NOT NULL,
  failed_at   INTEGER NOT NULL
);
CREATE INDEX login_failures_key_time ON login_failures (failure_key, failed_at);

-- AUTOINCREMENT so an id is never reused, even after the newest rows are deleted.
CREATE TABLE audit_events (
  id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  event_time INTEGER NOT NULL,
  actor      TEXT    NOT NULL,
  source     TEXT    NOT NULL,
  action     TEXT    NOT NULL,
  target     TEXT    NOT NULL,
  outcome    TEXT    NOT NULL,
  detail     TEXT    NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (event_time, id);
)sql";

// Issue 3: policies and their attachments, groups, sessions and preferences.
//
// An attachment names its principal by (kind, principal) and also carries it in the matching
// user_name / group_name column, so deleting a user, group or policy removes its attachments
// through real foreign keys (as api_tokens does): a principal re-created under the same name,
// even concurrently with the delete, never inherits the old permissions.
// Sessions keep no foreign key to users or nodes: history outlives both.
inline constexpr char kMigrationV2[] = R"sql(
CREATE TABLE policies (
  name       TEXT    NOT NULL PRIMARY KEY,
  document   TEXT    NOT NULL,
  builtin    INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE groups (
  name       TEXT    NOT NULL PRIMARY KEY,
  created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
  group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  PRIMARY KEY (group_name, user_name)
);
CREATE INDEX group_members_user_name ON group_members (user_name, group_name);

CREATE TABLE policy_attachments (
  kind       TEXT NOT NULL,
  principal  TEXT NOT NULL,
  policy     TEXT NOT NULL REFERENCES policies (name) ON DELETE CASCADE,
  user_name  TEXT REFERENCES users (name) ON DELETE CASCADE,
  group_name TEXT REFERENCES groups (name) ON DELETE CASCADE,
  PRIMARY KEY (kind, principal, policy),
  -- IS NOT NULL spelled out: a CHECK that evaluates to NULL passes.
  CHECK ((kind = 'user' AND user_name IS NOT NULL AND user_name = principal AND group_name IS NULL) OR
         (kind = 'group' AND group_name IS NOT NULL AND group_name = principal AND user_name IS NULL))
);
CREATE INDEX policy_attachments_policy ON policy_attachments (policy);
CREATE INDEX policy_attachments_user_name ON policy_attachments (user_name);
CREATE INDEX policy_attachments_group_name ON policy_attachments (group_name);

CREATE TABLE sessions (
  id          TEXT    NOT NULL PRIMARY KEY,
  owner       TEXT    NOT NULL,
  node_id     TEXT    NOT NULL,
  run_as      TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  command     TEXT    NOT NULL,
  status      TEXT    NOT NULL,
  reason      TEXT    NOT NULL,
  gateway_id  TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER NOT NULL,
  bytes_in    INTEGER NOT NULL,
  bytes_out   INTEGER NOT NULL,
  exit_code   INTEGER,
  exit_signal INTEGER
);
CREATE INDEX sessions_started_at ON sessions (started_at, id);
CREATE INDEX sessions_gateway_id ON sessions (gateway_id, ended_at);

CREATE TABLE preferences (
  name  TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
);
)sql";

// Scale-out: `sessions terminate` (or `users delete`) through a gateway that does not hold the
// session leaves a request on the session's row; the holding gateway looks for them every second.
inline constexpr char kMigrationV3[] = R"sql(
ALTER TABLE sessions ADD COLUMN terminate_by TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN terminate_reason TEXT NOT NULL DEFAULT '';
)sql";

inline constexpr std::array<const char*, 3> kMigrations = {kMigrationV1, kMigrationV2, kMigrationV3};
inline constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// Schema bookkeeping.
inline constexpr char kCreateSchemaVersion[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";
inline constexpr char kSelectSchemaVersion[] =
    "SELECT COALESCE(MAX(version), 0) FROM schema_version";
inline constexpr char kInsertSchemaVersion[] = "INSERT INTO schema_version (version) VALUES (?1)";

// Connection set-up (SQLite only; journal_mode answers with the mode actually in force).
inline constexpr char kPragmaJournalModeWal[] = "PRAGMA journal_mode = WAL";
inline constexpr char kPragmaForeignKeysOn[] = "PRAGMA foreign_keys = ON";
inline constexpr char kPragmaForeignKeys[] = "PRAGMA foreign_keys";

// Transactions. IMMEDIATE takes the write lock up front so a read-then-write never has to be
// retried halfway through.
inline constexpr char kBegin[] = "BEGIN IMMEDIATE";
inline constexpr char kCommit[] = "COMMIT";
inline constexpr char kRollback[] = "ROLLBACK";

// Users.
inline constexpr char kInsertUser[] =
    "INSERT INTO users (name, password_hash, tags, is_admin, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING";
inline constexpr char kSelectUser[] =
    "SELECT name, password_hash, tags, is_admin, created_at FROM users WHERE name = ?1";
inline constexpr char kSelectUsers[] =
    "SELECT name, password_hash, tags, is_admin, created_at FROM users ORDER BY name";
inline constexpr char kDeleteUser[] = "DELETE FROM users WHERE name = ?1";
inline constexpr char kUpdateUserPassword[] =
    "UPDATE users SET password_hash = ?2 WHERE name = ?1";
inline constexpr char kUpdateUserTags[] = "UPDATE users SET tags = ?2 WHERE name = ?1";

// Activations.
inline constexpr char kInsertActivation[] =
    "INSERT INTO activations (id, name, code_hash, tags, registration_limit, registrations, "
    "expires_at, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
    "ON CONFLICT (id) DO NOTHING";
inline constexpr char kSelectActivation[] =
    "SELECT id, name, code_hash, tags, registration_limit, registrations, expires_at, "
    "created_at, created_by FROM activations WHERE id = ?1";
inline constexpr char kSelectActivations[] =
    "SELECT id, name, code_hash, tags, registration_limit, registrations, expires_at, "
    "created_at, created_by FROM activations ORDER BY created_at, id";
inline constexpr char kDeleteActivation[] = "DELETE FROM activations WHERE id = ?1";
// The whole check-and-count is this one statement, so concurrent consumers (threads, processes
// or other gateways) can never push registrations past the limit.
inline constexpr char kConsumeActivation[] =
    "UPDATE activations SET registrations = registrations + 1 "
    "WHERE id = ?1 AND registrations < registration_limit AND expires_at > ?2";
inline constexpr char kSelectActivationState[] =
    "SELECT registrations, registration_limit, expires_at FROM activations WHERE id = ?1";

// Nodes.
inline constexpr char kInsertNode[] =
    "INSERT INTO nodes (id, name, public_key, activation_id, tags, inventory, registered_at, "
    "revoked, connected, connected_gateway, last_ping_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO NOTHING";
inline constexpr char kSelectNode[] =
    "SELECT id, name, public_key, activation_id, tags, inventory, registered_at, revoked, "
    "connected, connected_gateway, last_ping_at FROM nodes WHERE id = ?1";
inline constexpr char kSelectNodesByName[] =
    "SELECT id, name, public_key, activation_id, tags, inventory, registered_at, revoked, "
    "connected, connected_gateway, last_ping_at FROM nodes WHERE name = ?1 ORDER BY id";
inline constexpr char kSelectNodes[] =
    "SELECT id, name, public_key, activation_id, tags, inventory, registered_at, revoked, "
    "connected, connected_gateway, last_ping_at FROM nodes ORDER BY name, id";
inline constexpr char kUpdateNodeTags[] = "UPDATE nodes SET tags = ?2 WHERE id = ?1";
inline constexpr char kUpdateNodeInventory[] = "UPDATE nodes SET inventory = ?2 WHERE id = ?1";
inline constexpr char kRevokeNode[] = "UPDATE nodes SET revoked = 1 WHERE id = ?1";
inline constexpr char kUpdateNodeConnection[] =
    "UPDATE nodes SET connected = ?2, connected_gateway = ?3, last_ping_at = ?4 WHERE id = ?1";
inline constexpr char kTouchNode[] = "UPDATE nodes SET last_ping_at = ?2 WHERE id = ?1";
inline constexpr char kDisconnectGatewayNodes[] =
    "UPDATE nodes SET connected = 0, connected_gateway = '' WHERE connected_gateway = ?1";

// API tokens.
inline constexpr char kInsertToken[] =
    "INSERT INTO api_tokens (token_hash, user_name, created_at, expires_at) "
    "VALUES (?1, ?2, ?3, ?4)";
inline constexpr char kSelectToken[] =
    "SELECT token_hash, user_name, created_at, expires_at FROM api_tokens WHERE token_hash = ?1";
inline constexpr char kDeleteToken[] = "DELETE FROM api_tokens WHERE token_hash = ?1";
inline constexpr char kDeleteUserTokens[] = "DELETE FROM api_tokens WHERE user_name = ?1";
inline constexpr char kDeleteExpiredTokens[] = "DELETE FROM api_tokens WHERE expires_at <= ?1";

// Login failures.
inline constexpr char kInsertLoginFailure[] =
    "INSERT INTO login_failures (failure_key, failed_at) VALUES (?1, ?2)";
inline constexpr char kCountLoginFailures[] =
    "SELECT COUNT(*) FROM login_failures WHERE failure_key = ?1 AND failed_at >= ?2";
inline constexpr char kDeleteLoginFailures[] = "DELETE FROM login_failures WHERE failure_key = ?1";

// Audit log.
inline constexpr char kInsertAuditEvent[] =
    "INSERT INTO audit_events (event_time, actor, source, action, target, outcome, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id";
inline constexpr char kSelectAuditEvents[] =
    "SELECT id, event_time, actor, source, action, target, outcome, detail FROM audit_events "
    "WHERE event_time >= ?1 ORDER BY event_time, id LIMIT ?2";

// Policies.
inline constexpr char kInsertPolicy[] =
    "INSERT INTO policies (name, document, builtin, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING";
inline constexpr char kUpdatePolicy[] =
    "UPDATE policies SET document = ?2, updated_at = ?3 WHERE name = ?1";
inline constexpr char kSelectPolicy[] =
    "SELECT name, document, builtin, created_at, updated_at FROM policies WHERE name = ?1";
inline constexpr char kSelectPolicies[] =
    "SELECT name, document, builtin, created_at, updated_at FROM policies ORDER BY name";
inline constexpr char kDeletePolicy[] = "DELETE FROM policies WHERE name = ?1";

// Attachments. The insert checks both sides in the same statement (the foreign keys catch a
// concurrent delete); an existing pair is left alone so attaching twice is harmless.
inline constexpr char kAttachUserPolicy[] =
    "INSERT INTO policy_attachments (kind, principal, policy, user_name, group_name) "
    "SELECT 'user', ?1, ?2, ?1, NULL "
    "WHERE EXISTS (SELECT 1 FROM users WHERE name = ?1) "
    "AND EXISTS (SELECT 1 FROM policies WHERE name = ?2) "
    "ON CONFLICT (kind, principal, policy) DO NOTHING";
inline constexpr char kAttachGroupPolicy[] =
    "INSERT INTO policy_attachments (kind, principal, policy, user_name, group_name) "
    "SELECT 'group', ?1, ?2, NULL, ?1 "
    "WHERE EXISTS (SELECT 1 FROM groups WHERE name = ?1) "
    "AND EXISTS (SELECT 1 FROM policies WHERE name = ?2) "
    "ON CONFLICT (kind, principal, policy) DO NOTHING";
inline constexpr char kSelectAttachment[] =
    "SELECT 1 FROM policy_attachments WHERE kind = ?1 AND principal = ?2 AND policy = ?3";
inline constexpr char kDeleteAttachment[] =
    "DELETE FROM policy_attachments WHERE kind = ?1 AND principal = ?2 AND policy = ?3";
inline constexpr char kSelectAttachedPolicies[] =
    "SELECT policy FROM policy_attachments WHERE kind = ?1 AND principal = ?2 ORDER BY policy";

// Groups and membership.
inline constexpr char kInsertGroup[] =
    "INSERT INTO groups (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";
inline constexpr char kDeleteGroup[] = "DELETE FROM groups WHERE name = ?1";
inline constexpr char kSelectGroups[] = "SELECT name, created_at FROM groups ORDER BY name";
inline constexpr char kInsertGroupMember[] =
    "INSERT INTO group_members (group_name, user_name) SELECT ?1, ?2 "
    "WHERE EXISTS (SELECT 1 FROM groups WHERE name = ?1) "
    "AND EXISTS (SELECT 1 FROM users WHERE name = ?2) "
    "ON CONFLICT (group_name, user_name) DO NOTHING";
inline constexpr char kSelectGroupMember[] =
    "SELECT 1 FROM group_members WHERE group_name = ?1 AND user_name = ?2";
inline constexpr char kDeleteGroupMember[] =
    "DELETE FROM group_members WHERE group_name = ?1 AND user_name = ?2";
inline constexpr char kSelectGroupMembers[] =
    "SELECT user_name FROM group_members WHERE group_name = ?1 ORDER BY user_name";
inline constexpr char kSelectUserGroups[] =
    "SELECT group_name FROM group_members WHERE user_name = ?1 ORDER BY group_name";

// Sessions. "Newest first" is by start time, then id, for both lists.
inline constexpr char kInsertSession[] =
    "INSERT INTO sessions (id, owner, node_id, run_as, kind, command, status, reason, gateway_id, "
    "started_at, ended_at, bytes_in, bytes_out, exit_code, exit_signal) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT (id) DO NOTHING";
inline constexpr char kSelectSession[] =
    "SELECT id, owner, node_id, run_as, kind, command, status, reason, gateway_id, started_at, "
    "ended_at, bytes_in, bytes_out, exit_code, exit_signal FROM sessions WHERE id = ?1";
inline constexpr char kSelectActiveSessions[] =
    "SELECT id, owner, node_id, run_as, kind, command, status, reason, gateway_id, started_at, "
    "ended_at, bytes_in, bytes_out, exit_code, exit_signal FROM sessions WHERE ended_at = 0 "
    "ORDER BY started_at DESC, id DESC LIMIT ?1";
inline constexpr char kSelectEndedSessions[] =
    "SELECT id, owner, node_id, run_as, kind, command, status, reason, gateway_id, started_at, "
    "ended_at, bytes_in, bytes_out, exit_code, exit_signal FROM sessions WHERE ended_at <> 0 "
    "ORDER BY started_at DESC, id DESC LIMIT ?1";
inline constexpr char kAddSessionBytes[] =
    "UPDATE sessions SET bytes_in = bytes_in + ?2, bytes_out = bytes_out + ?3 "
    "WHERE id = ?1 AND ended_at = 0";
// Only an active session can end, so the first ending wins and later ones change nothing.
inline constexpr char kEndSession[] =
    "UPDATE sessions SET status = ?2, reason = ?3, ended_at = ?4, bytes_in = ?5, bytes_out = ?6, "
    "exit_code = ?7, exit_signal = ?8 WHERE id = ?1 AND ended_at = 0";
inline constexpr char kFailGatewaySessions[] =
    "UPDATE sessions SET status = 'Failed', reason = 'gateway restarted', ended_at = ?2 "
    "WHERE gateway_id = ?1 AND ended_at = 0 AND id NOT IN (SELECT value FROM json_each(?3))";
inline constexpr char kRequestTermination[] =
    "UPDATE sessions SET terminate_by = ?2, terminate_reason = ?3 WHERE id = ?1 AND ended_at = 0";
inline constexpr char kSelectTerminationRequests[] =
    "SELECT id, terminate_by, terminate_reason FROM sessions "
    "WHERE gateway_id = ?1 AND ended_at = 0 AND terminate_by <> '' ORDER BY started_at, id";

// Preferences.
inline constexpr char kSelectPreference[] = "SELECT value FROM preferences WHERE name = ?1";
inline constexpr char kUpsertPreference[] =
    "INSERT INTO preferences (name, value) VALUES (?1, ?2) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value";
inline constexpr char kSelectPreferences[] = "SELECT name, value FROM preferences ORDER BY name";

}  // namespace sallyport::store::sql
