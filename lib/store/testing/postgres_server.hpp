#pragma once
// A throwaway PostgreSQL server for tests: initdb into a fresh temporary folder, then
// `postgres` on a free 127.0.0.1 port (trust authentication, fsync off), stopped and removed
// again by the destructor. As root the server runs as the `postgres` user, which PostgreSQL
// insists on. Nothing is skipped: a missing installation is an error naming the package.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace sallyport::store::testing {

struct PostgresServerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PostgresServer {
 public:
  // Starts the server and waits until it accepts connections; throws PostgresServerError
  // with the server's log when it does not.
  PostgresServer();
  ~PostgresServer();  // fast shutdown (SIGINT), SIGKILL after a grace period, folder removed
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  std::uint16_t port() const { return port_; }
  // A libpq connection string for the superuser on database "postgres", plus extra
  // "key=value" pairs (e.g. "options=-csearch_path=t1").
  std::string conninfo(const std::string& extra = "") const;
  // Runs administrative SQL (CREATE SCHEMA, DROP SCHEMA ...) as the superuser.
  void execute(const std::string& sql) const;

 private:
  std::string log_tail() const;

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sallyport::store::testing
