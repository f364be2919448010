#pragma once
// Thin RAII wrappers over the SQLite C API: one connection, prepared statements with bound
// parameters, and a transaction guard. Not thread-safe by themselves; the store serialises
// access with its own mutex. Every failure throws store::Error carrying sqlite3_errmsg and the
// (value-free) SQL text, never a bound value.
#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace sallyport::store::sqlite {

class Database {
 public:
  // Opens (creating if needed) the file at path. Throws store::Error on failure.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }

  // Runs one or more statements that take no parameters (schema scripts, pragmas, BEGIN).
  void exec(const char* sql);
  std::int64_t changes() const;
  void set_busy_timeout(int milliseconds);

  // Throws store::Error("<what>: <sqlite3_errmsg>").
  [[noreturn]] void fail(std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Database& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in the SQL text (?1, ?2, ...). Values are copied by SQLite.
  void bind_text(int index, std::string_view text);
  void bind_blob(int index, std::string_view bytes);
  void bind_int64(int index, std::int64_t value);
  void bind_bool(int index, bool value);
  void bind_null(int index);

  // true when a row is available, false when the statement has finished.
  bool step();
  // Steps a statement that must not return rows (INSERT/UPDATE/DELETE).
  void run();

  // Columns are 0-based.
  std::string column_text(int column) const;
  std::string column_blob(int column) const;
  std::int64_t column_int64(int column) const;
  int column_int(int column) const;
  bool column_bool(int column) const;
  bool column_is_null(int column) const;

  // Back to the start with no bindings, so the statement can be reused and a finished read
  // does not keep its snapshot open.
  void reset() noexcept;

 private:
  [[noreturn]] void fail(std::string_view what) const;

  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
  const char* sql_;
};

// Borrows a (cached) statement for one use and resets it on every exit path.
class StatementUse {
 public:
  explicit StatementUse(Statement& statement) : statement_(statement) {}
  ~StatementUse() { statement_.reset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  Statement* operator->() const { return &statement_; }
  Statement& operator*() const { return statement_; }

 private:
  Statement& statement_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back if commit() was not reached.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace sallyport::store::sqlite
