#include "postgres_server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace sallyport::store::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kStartTimeout = 30s;
constexpr auto kStopGrace = 10s;

// The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin).
fs::path server_bin_dir() {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(entry.path() / "bin" / "postgres") && fs::exists(entry.path() / "bin" / "initdb")) {
      found.push_back(entry.path() / "bin");
    }
  }
  if (found.empty()) {
    throw PostgresServerError(
        "PostgreSQL server not found (no /usr/lib/postgresql/*/bin/postgres): install the Debian "
        "package 'postgresql' (scripts/install-deps.sh test installs it)");
  }
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoi(a.parent_path().filename().string()) < std::stoi(b.parent_path().filename().string());
  });
  return found.back();
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw PostgresServerError("socket: " + std::string(std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(fd, generic, sizeof(address)) != 0 || ::getsockname(fd, generic, &length) != 0) {
    ::close(fd);
    throw PostgresServerError("cannot find a free port: " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// Whom to run as: PostgreSQL refuses to run as root.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

RunAs run_as() {
  if (::geteuid() != 0) return {};
  const passwd* postgres = ::getpwnam("postgres");
  if (postgres == nullptr) {
    throw PostgresServerError("running as root needs the 'postgres' user (Debian package 'postgresql')");
  }
  return {true, postgres->pw_uid, postgres->pw_gid};
}

// Forks and execs argv with output appended to log. Only async-signal-safe calls after fork.
// The child drops to the postgres user itself (rather than through runuser) so signals reach
// the server directly, and dies with the test process should that be killed.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log, const RunAs& as) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string log_path = log.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw PostgresServerError("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) ::_exit(126);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    if (as.switch_user && (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0)) {
      ::_exit(126);
    }
    // After the credential change, which clears it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for pid up to timeout; its exit status, or nullopt while still running.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (done < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

PostgresServer::PostgresServer() {
  const fs::path bin = server_bin_dir();
  const RunAs as = run_as();
  std::string pattern = (fs::temp_directory_path() / "sallyport-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw PostgresServerError("mkdtemp: " + std::string(std::strerror(errno)));
  }
  dir_ = pattern;
  if (as.switch_user && ::chown(dir_.c_str(), as.uid, as.gid) != 0) {
    throw PostgresServerError("cannot hand " + dir_.string() + " to the postgres user");
  }
  const fs::path data = dir_ / "data";
  const fs::path log = dir_ / "server.log";
  const pid_t initdb = spawn({(bin / "initdb").string(), "-D", data.string(), "-A", "trust", "-U", "postgres",
                              "--no-sync", "-E", "UTF8"},
                             log, as);
  const auto initialized = wait_for(initdb, 120s);
  if (initialized != 0) {
    if (!initialized) {
      ::kill(initdb, SIGKILL);
      ::waitpid(initdb, nullptr, 0);
    }
    throw PostgresServerError("initdb failed:\n" + log_tail());
  }
  port_ = free_port();
  pid_ = spawn({(bin / "postgres").string(), "-D", data.string(), "-p", std::to_string(port_), "-k", dir_.string(),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"},
               log, as);
  const std::string ping = conninfo("connect_timeout=2");
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (PQping(ping.c_str()) != PQPING_OK) {
    if (wait_for(pid_, 0ms) || std::chrono::steady_clock::now() >= deadline) {
      throw PostgresServerError("postgres did not start on port " + std::to_string(port_) + ":\n" + log_tail());
    }
    std::this_thread::sleep_for(50ms);
  }
}

PostgresServer::~PostgresServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);  // fast shutdown: disconnect clients, no checkpoint wait
    if (!wait_for(pid_, kStopGrace)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string PostgresServer::conninfo(const std::string& extra) const {
  std::string text = "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres sslmode=disable";
  if (!extra.empty()) text += " " + extra;
  return text;
}

void PostgresServer::execute(const std::string& sql) const {
  PGconn* conn = PQconnectdb(conninfo().c_str());
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "drop cascades to ..."
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK) {
      error = PQresultErrorMessage(result);
    }
    PQclear(result);
  }
  PQfinish(conn);
  if (!error.empty()) throw PostgresServerError("'" + sql + "' failed: " + error);
}

std::string PostgresServer::log_tail() const {
  std::ifstream in(dir_ / "server.log");
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  constexpr std::size_t kTail = 4000;
  return all.size() > kTail ? all.substr(all.size() - kTail) : all;
}

}  // namespace sallyport::store::testing
