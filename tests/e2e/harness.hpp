#pragma once
// End-to-end harness: starts the real sallyport-gateway, sallyport-agent, sallyport CLI and
// sallyport-agent-swarm binaries on loopback, captures their output in a per-test temporary
// folder and guarantees that no process outlives its test (SIGKILL of the whole process group
// on teardown, and PR_SET_PDEATHSIG in case the test binary itself dies).
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sallyport/transport/http_types.hpp"

namespace sallyport::e2e {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

// Any harness failure (a process that does not start, an unexpected answer). gtest reports the
// message, which always carries the relevant output.
struct E2eError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Paths of the programs under test, from compile definitions (empty when not built).
struct Binaries {
  static std::string gateway();
  static std::string agent();
  static std::string cli();  // "" until apps/cli/main.cpp exists
  static std::string swarm();
  static bool have_cli();
};

// Changes to the inherited environment: a value sets the variable, nullopt removes it.
using EnvOverrides = std::map<std::string, std::optional<std::string>>;

// One child process. Exit status: the exit code, or 128 + signal number when killed.
class Process {
 public:
  Process(std::string label, const std::vector<std::string>& argv, const EnvOverrides& env, const fs::path& log_dir,
          const std::optional<std::string>& stdin_text);
  ~Process();  // SIGKILLs the process group when still running, then reaps
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& label() const { return label_; }
  bool running();                                          // reaps when it has exited
  std::optional<int> wait_for(std::chrono::milliseconds timeout);  // nullopt on timeout
  std::optional<int> exit_status() const { return status_; }
  void signal(int signal_number);  // to the process only (as a user's `kill` would)
  void kill_group();               // SIGKILL to the process group, then reap

  const fs::path& stdout_path() const { return stdout_path_; }
  const fs::path& stderr_path() const { return stderr_path_; }
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  std::string label_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  fs::path stdout_path_;
  fs::path stderr_path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  std::string command;
  // For assertion messages.
  std::string describe() const;
};

// Polls until the predicate holds or the timeout passes; true when it held.
bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = 100ms);

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port();

std::string read_text(const fs::path& path);
unsigned file_mode(const fs::path& path);  // permission bits, e.g. 0600
long rss_kib(pid_t pid);                    // resident memory from /proc, -1 when unknown

// One test's scratch space: a fresh temporary folder (removed at the end unless
// SALLYPORT_E2E_KEEP is set) and every process started for the test.
class Sandbox {
 public:
  Sandbox();
  ~Sandbox();  // kills remaining processes first, then removes the folder
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const fs::path& root() const { return root_; }
  fs::path dir(const std::string& name);  // root/name, created

  // A long-running process; stays owned by the sandbox.
  Process& spawn(const std::string& label, const std::vector<std::string>& argv, const EnvOverrides& env = {});
  // Runs to completion (killed after timeout, reported as exit code -1).
  RunResult run(const std::string& label, const std::vector<std::string>& argv, const EnvOverrides& env = {},
                const std::string& stdin_text = "", std::chrono::milliseconds timeout = 60s);

  // Every output file written so far, with the label of its process.
  std::vector<std::pair<std::string, fs::path>> output_files() const;
  // Last lines of every process's standard error, for failure reports.
  std::string tails(std::size_t lines = 25) const;

 private:
  std::string unique_label(const std::string& label);

  fs::path root_;
  std::vector<std::unique_ptr<Process>> processes_;
  std::map<std::string, int> label_counts_;
};

struct GatewayOptions {
  int heartbeat_seconds = 1;  // short by default: tests wait for state changes
  int timeout_seconds = 3;
  bool defaults = false;  // pass no --agent-heartbeat/--agent-timeout at all
  // SALLYPORT_ADMIN_PASSWORD; nullopt starts without it (random password in the data dir).
  std::optional<std::string> admin_password = std::string("e2e-admin-Pa55word");
  bool login_cli = true;  // log the CLI in as admin after start (when the CLI is built)
  std::vector<std::string> extra_args;
};

struct Activation {
  std::string id;
  std::string code;
};

// A gateway with a fresh data dir in the sandbox, plus clients for it: the REST API over real
// HTTPS (transport::https_request pinned to its CA) and the CLI, each user with its own
// SALLYPORT_CONFIG_DIR.
class TestGateway {
 public:
  TestGateway(Sandbox& sandbox, GatewayOptions options = {});
  ~TestGateway();

  void start();       // waits for the fingerprint line; throws E2eError with stderr on failure
  int stop(int signal_number = SIGTERM, std::chrono::milliseconds timeout = 15s);  // exit status
  void restart();     // stop, then start on the same port and data dir

  const std::string& url() const { return url_; }
  const std::string& fingerprint() const { return fingerprint_; }
  std::uint16_t port() const { return port_; }
  const fs::path& data_dir() const { return data_dir_; }
  fs::path ca_file() const { return data_dir_ / "tls" / "ca.pem"; }
  std::string admin_password() const;  // from the env option or DATA_DIR/initial-admin-password
  Process& process() { return *process_; }
  Sandbox& sandbox() { return sandbox_; }
  std::vector<json> audit_log() const;  // DATA_DIR/audit.log, one object per line

  // REST API.
  transport::HttpResponse api(const std::string& method, const std::string& target, const std::string& body = "",
                              const std::string& token = "") const;
  std::string api_login(const std::string& user, const std::string& password) const;  // token; throws
  const std::string& admin_token();  // logs in through the API once
  json api_json(const std::string& method, const std::string& target, const json& body = nullptr,
                unsigned expected_status = 200);  // as admin; throws on another status
  Activation create_activation(const std::string& name = "", const std::map<std::string, std::string>& tags = {},
                               int limit = 1);  // through the API
  std::vector<json> api_nodes();  // GET /v1/nodes as admin
  std::optional<json> api_node(const std::string& id_or_name);
  bool healthy() const;  // GET /v1/health answers 200

  // CLI. Each user has its own config dir root/cli-USER.
  fs::path cli_config_dir(const std::string& user = "admin");
  RunResult cli(const std::vector<std::string>& args, const std::string& user = "admin",
                const EnvOverrides& extra_env = {}, const std::string& stdin_text = "",
                std::chrono::milliseconds timeout = 60s);
  RunResult cli_login(const std::string& user, const std::string& password);  // --ca-fingerprint
  std::vector<json> cli_nodes();  // `nodes ls --json` as admin; throws on failure

 private:
  Sandbox& sandbox_;
  GatewayOptions options_;
  fs::path data_dir_;
  Process* process_ = nullptr;
  std::uint16_t port_ = 0;
  std::string url_;
  std::string fingerprint_;
  std::string admin_token_;
  int starts_ = 0;
};

// Agent helpers (the real sallyport-agent binary).
RunResult register_agent(TestGateway& gateway, const Activation& activation, const fs::path& state_dir,
                         const std::string& name, const std::string& tags = "");
Process& start_agent(TestGateway& gateway, const fs::path& state_dir, const std::string& max_backoff = "2s");

struct TestAgent {
  std::string name;
  std::string node_id;
  fs::path state_dir;
  Process* process = nullptr;
};
// Creates an activation, registers under state dir root/agent-NAME and starts `run`.
TestAgent add_agent(TestGateway& gateway, const std::string& name, const std::string& tags = "");

// The node's ping_status from the API ("" when not listed).
std::string node_status(TestGateway& gateway, const std::string& id_or_name);
bool wait_for_status(TestGateway& gateway, const std::string& id_or_name, const std::string& status,
                     std::chrono::milliseconds timeout);

// Nodes from `nodes ls --json`, whatever its top level ({"nodes": [...]} or [...]).
std::vector<json> node_list(const json& document);
std::optional<json> find_by(const std::vector<json>& items, const std::string& field, const std::string& value);

}  // namespace sallyport::e2e
