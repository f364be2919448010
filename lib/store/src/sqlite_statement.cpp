#include "sqlite_statement.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "sallyport/store/store.hpp"
#include "sql_excerpt.hpp"
#include "sqlite_schema.hpp"

namespace sallyport::store::sqlite {
namespace {

// SQLITE_TRANSIENT spelled without its C-style cast: SQLite copies the bound value, so the
// caller's buffer (often a temporary) may go away right after binding.
const sqlite3_destructor_type kTransient =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));

}  // namespace

Database::Database(const std::string& path) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    // sqlite3_open_v2 hands back a handle even on failure (only for the message).
    std::string message = "cannot open SQLite database '" + path + "': " +
                          (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    // "unable to open database file" alone does not say why; the usual cause is this one.
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
      message += " (directory '" + parent.string() + "' does not exist)";
    }
    throw Error(message);
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() {
  // Every Statement is finalized before its Database goes away, so this cannot be busy.
  sqlite3_close(db_);
}

void Database::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = "sqlite: " + std::string(error != nullptr ? error : sqlite3_errmsg(db_)) +
                          " (in: " + describe_sql(sql) + ")";
    sqlite3_free(error);
    throw Error(message);
  }
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_); }

void Database::set_busy_timeout(int milliseconds) {
  if (sqlite3_busy_timeout(db_, milliseconds) != SQLITE_OK) fail("cannot set busy timeout");
}

void Database::fail(std::string_view what) const {
  throw Error("sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Statement::Statement(Database& db, const char* sql) : db_(db), sql_(sql) {
  // PERSISTENT: these statements are cached for the life of the connection.
  if (sqlite3_prepare_v3(db_.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
      SQLITE_OK) {
    fail("prepare failed");
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind_text(int index, std::string_view text) {
  if (sqlite3_bind_text64(stmt_, index, text.data(), text.size(), kTransient, SQLITE_UTF8) !=
      SQLITE_OK) {
    fail("bind failed");
  }
}

void Statement::bind_blob(int index, std::string_view bytes) {
  if (sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), kTransient) != SQLITE_OK) {
    fail("bind failed");
  }
}

void Statement::bind_int64(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail("bind failed");
}

void Statement::bind_bool(int index, bool value) { bind_int64(index, value ? 1 : 0); }

void Statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) fail("bind failed");
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail("step failed");
}

void Statement::run() {
  if (step()) throw Error("sqlite: statement unexpectedly returned rows (in: " +
                          describe_sql(sql_) + ")");
}

std::string Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);  // after the text call, per SQLite docs
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::string Statement::column_blob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (blob == nullptr) return {};  // zero-length blobs come back as NULL
  return std::string(static_cast<const char*>(blob), static_cast<std::size_t>(size));
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

int Statement::column_int(int column) const {
  const std::int64_t value = column_int64(column);
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    throw Error("sqlite: integer column out of range (in: " + describe_sql(sql_) + ")");
  }
  return static_cast<int>(value);
}

bool Statement::column_bool(int column) const { return column_int64(column) != 0; }

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::fail(std::string_view what) const {
  throw Error("sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db_.handle()) +
              " (in: " + describe_sql(sql_) + ")");
}

Transaction::Transaction(Database& db) : db_(db) { db_.exec(sql::kBegin); }

Transaction::~Transaction() {
  if (done_) return;
  // Best effort: if the rollback itself fails SQLite has already rolled back (or will on the
  // next statement); a destructor must not throw.
  sqlite3_exec(db_.handle(), sql::kRollback, nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec(sql::kCommit);
  done_ = true;
}

}  // namespace sallyport::store::sqlite
