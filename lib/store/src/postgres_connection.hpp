#pragma once
// Thin RAII wrappers over libpq: one connection and its results, with every value passed as a
// text-format parameter of PQexecParams. Not thread-safe by themselves; the store serialises
// access with its own mutex. Failures throw store::Error naming the server (host, port,
// database) and the statement, never the connection string (it may hold a password) and never
// a bound value.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

struct pg_conn;
struct pg_result;

namespace sallyport::store::postgres {

// One parameter in text format; nullopt is SQL NULL.
// Named constructors rather than overloads, so a literal or an int never picks the wrong type.
struct Param {
  std::optional<std::string> value;

  static Param text(std::string_view text) { return {std::string(text)}; }
  static Param integer(std::int64_t number) { return {std::to_string(number)}; }
  static Param boolean(bool flag) { return {std::string(flag ? "true" : "false")}; }
  static Param optional_integer(const std::optional<int>& number) {
    return number ? Param{std::to_string(*number)} : Param{};
  }
  static Param bytes(std::string_view bytes);  // BYTEA, in its hex text form
};

class Result {
 public:
  explicit Result(pg_result* result) : result_(result) {}
  ~Result();
  Result(Result&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  int rows() const;
  std::int64_t affected_rows() const;  // of INSERT/UPDATE/DELETE

  // Rows and columns are 0-based.
  std::string text(int row, int column) const;
  std::string bytes(int row, int column) const;  // a BYTEA column, decoded
  std::int64_t int64(int row, int column) const;
  int int32(int row, int column) const;
  bool boolean(int row, int column) const;
  bool is_null(int row, int column) const;

 private:
  friend class Connection;
  pg_result* result_;
};

class Connection {
 public:
  // Connects; throws store::Error when the server cannot be reached or refuses.
  explicit Connection(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with its parameters ($1, $2, ... in order).
  Result exec(const char* sql, std::initializer_list<Param> params = {});
  // Runs a parameterless script of one or more statements (migrations).
  void exec_script(const char* sql);

  // A lost connection is re-established once, here, before the next statement; throws when
  // the server is still unreachable.
  void ensure_connected();

  // "host:port/dbname", for messages.
  std::string describe() const;

 private:
  friend class Transaction;
  // Throws unless result holds a successful command or query.
  void check(const Result& result, const char* sql) const;
  [[noreturn]] void fail_connection(std::string_view what) const;

  pg_conn* conn_ = nullptr;
  std::string password_;  // only to scrub it from libpq's messages
  bool in_transaction_ = false;
};

// BEGIN ... COMMIT; rolls back if commit() was not reached.
class Transaction {
 public:
  explicit Transaction(Connection& connection);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();

 private:
  Connection& connection_;
  bool done_ = false;
};

}  // namespace sallyport::store::postgres
