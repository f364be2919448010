#include "postgres_connection.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "postgres_schema.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/store/store.hpp"
#include "sql_excerpt.hpp"

namespace sallyport::store::postgres {
namespace {

// Long enough for a busy server, short enough that an unreachable one fails start-up (or a
// request) with an error rather than hanging. A connection string may set its own.
constexpr char kConnectTimeoutSeconds[] = "10";

// libpq's messages end in a newline and may span lines; the store's errors are one line. The
// password is scrubbed in case a message ever echoes part of the connection string.
std::string one_line(std::string message, const std::string& password) {
  if (!password.empty()) {
    for (auto at = message.find(password); at != std::string::npos; at = message.find(password, at)) {
      message.replace(at, password.size(), "***");
    }
  }
  std::string line;
  for (const char c : message) {
    const bool space = c == '\n' || c == '\t' || c == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

// The password in a connection string, "" when it has none; nullopt when the string does not
// parse. Reading it is the only way to keep it out of every message.
std::optional<std::string> password_in(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    // The parser's message quotes the offending part of the string, which may be a password.
    PQfreemem(error);
    return std::nullopt;
  }
  std::string password;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "password" && option->val != nullptr) password = option->val;
  }
  PQconninfoFree(options);
  return password;
}

}  // namespace

Param Param::bytes(std::string_view bytes) { return {"\\x" + crypto::hex_encode(bytes)}; }  // BYTEA's hex form

Result::~Result() { PQclear(result_); }

int Result::rows() const { return PQntuples(result_); }

std::int64_t Result::affected_rows() const {
  const char* count = PQcmdTuples(result_);
  std::int64_t value = 0;
  const std::string_view text(count);
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string Result::text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column),
                     static_cast<std::size_t>(PQgetlength(result_, row, column)));
}

std::string Result::bytes(int row, int column) const {
  std::size_t length = 0;
  const auto* escaped = reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column));
  std::unique_ptr<unsigned char, decltype(&PQfreemem)> raw(PQunescapeBytea(escaped, &length), &PQfreemem);
  if (!raw) throw Error("postgres: cannot decode a BYTEA column");
  return std::string(reinterpret_cast<const char*>(raw.get()), length);
}

std::int64_t Result::int64(int row, int column) const {
  const std::string_view text(PQgetvalue(result_, row, column),
                              static_cast<std::size_t>(PQgetlength(result_, row, column)));
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw Error("postgres: column " + std::to_string(column) + " is not an integer");
  }
  return value;
}

int Result::int32(int row, int column) const {
  const std::int64_t value = int64(row, column);
  if (value < INT32_MIN || value > INT32_MAX) {
    throw Error("postgres: column " + std::to_string(column) + " is out of range for int");
  }
  return static_cast<int>(value);
}

bool Result::boolean(int row, int column) const { return PQgetvalue(result_, row, column)[0] == 't'; }

bool Result::is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

Connection::Connection(const std::string& conninfo) {
  auto password = password_in(conninfo);
  if (!password) {
    throw Error("postgres: the connection string does not parse (expected key=value pairs or a "
                "postgresql:// URI)");
  }
  password_ = std::move(*password);
  // Keywords before "dbname" are defaults the string may override; those after it are forced:
  // the store reads and writes UTF-8 whatever the server's or the environment's default.
  const char* const keywords[] = {"connect_timeout", "fallback_application_name", "dbname",
                                  "client_encoding", nullptr};
  const char* const values[] = {kConnectTimeoutSeconds, "sallyport", conninfo.c_str(), "UTF8",
                                nullptr};
  conn_ = PQconnectdbParams(keywords, values, 1);
  if (conn_ == nullptr) throw Error("postgres: out of memory while connecting");
  // libpq prints server notices ("relation already exists, skipping") to standard error by
  // default; the store reports through return values and exceptions only.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = "postgres: cannot connect to " + describe() + ": " +
                                one_line(PQerrorMessage(conn_), password_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error(message);
  }
}

Connection::~Connection() { PQfinish(conn_); }

std::string Connection::describe() const {
  const char* host = PQhost(conn_);
  const char* port = PQport(conn_);
  const char* db = PQdb(conn_);
  return std::string(host != nullptr ? host : "?") + ":" + (port != nullptr ? port : "?") + "/" +
         (db != nullptr ? db : "?");
}

void Connection::fail_connection(std::string_view what) const {
  throw Error("postgres: " + std::string(what) + " " + describe() + ": " +
              one_line(PQerrorMessage(conn_), password_));
}

void Connection::ensure_connected() {
  if (PQstatus(conn_) == CONNECTION_OK) return;
  // Inside a transaction a fresh session would silently run the rest outside it.
  if (in_transaction_) fail_connection("lost the connection inside a transaction to");
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) fail_connection("lost the connection and cannot reconnect to");
}

Result Connection::exec(const char* sql, std::initializer_list<Param> params) {
  ensure_connected();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& param : params) {
    // Text parameters travel as C strings, and PostgreSQL text cannot hold NUL at all: refuse
    // rather than store a silently shortened value.
    if (param.value && param.value->find('\0') != std::string::npos) {
      throw Error("postgres: a text value holds a NUL byte, which PostgreSQL cannot store (in: " +
                  describe_sql(sql) + ")");
    }
    values.push_back(param.value ? param.value->c_str() : nullptr);
  }
  Result result(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                             nullptr, nullptr, 0));
  check(result, sql);
  return result;
}

void Connection::exec_script(const char* sql) {
  ensure_connected();
  Result result(PQexec(conn_, sql));
  check(result, sql);
}

void Connection::check(const Result& result, const char* sql) const {
  const ExecStatusType status = PQresultStatus(result.result_);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
  if (result.result_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    fail_connection("lost the connection (in: " + describe_sql(sql) + ") to");
  }
  // The primary message only: DETAIL would quote the offending values (e.g. a duplicate key).
  const char* primary = PQresultErrorField(result.result_, PG_DIAG_MESSAGE_PRIMARY);
  const char* state = PQresultErrorField(result.result_, PG_DIAG_SQLSTATE);
  throw Error("postgres: " + one_line(primary != nullptr ? primary : PQresStatus(status), password_) +
              " [SQLSTATE " + (state != nullptr ? state : "?") + "] (in: " + describe_sql(sql) + ")");
}

Transaction::Transaction(Connection& connection) : connection_(connection) {
  connection_.exec(pg_sql::kBegin);
  connection_.in_transaction_ = true;
}

Transaction::~Transaction() {
  connection_.in_transaction_ = false;
  if (done_) return;
  try {
    connection_.exec(pg_sql::kRollback);
  } catch (const Error&) {
    // The connection is gone or broken; the server rolls back on its own.
  }
}

void Transaction::commit() {
  connection_.exec(pg_sql::kCommit);
  done_ = true;
  connection_.in_transaction_ = false;
}

}  // namespace sallyport::store::postgres
