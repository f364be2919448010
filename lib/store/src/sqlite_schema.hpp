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

inline constexpr std::array<const char*, 1> kMigrations = {kMigrationV1};
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

}  // namespace sallyport::store::sql
