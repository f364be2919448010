#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "sallyport/transport/client.hpp"
#include "sallyport/transport/url.hpp"

extern char** environ;

namespace sallyport::e2e {

// ---------------------------------------------------------------------------------------------
// Binaries

namespace {
// SALLYPORT_E2E_<NAME>_BIN overrides a built-in path, e.g. to test installed binaries.
std::string binary(const char* variable, const char* built) {
  const char* value = std::getenv(variable);
  return value && *value ? value : built;
}
}  // namespace

std::string Binaries::gateway() { return binary("SALLYPORT_E2E_GATEWAY_BIN", SALLYPORT_E2E_GATEWAY); }
std::string Binaries::agent() { return binary("SALLYPORT_E2E_AGENT_BIN", SALLYPORT_E2E_AGENT); }
std::string Binaries::cli() { return binary("SALLYPORT_E2E_CLI_BIN", SALLYPORT_E2E_CLI); }
std::string Binaries::swarm() { return binary("SALLYPORT_E2E_SWARM_BIN", SALLYPORT_E2E_SWARM); }
bool Binaries::have_cli() {
  std::error_code ec;
  return !cli().empty() && fs::exists(cli(), ec);
}

// ---------------------------------------------------------------------------------------------
// Files

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

long rss_kib(pid_t pid) {
  const std::string status = read_text("/proc/" + std::to_string(pid) + "/status");
  const auto at = status.find("VmRSS:");
  return at == std::string::npos ? -1 : std::stol(status.substr(at + 6));
}

unsigned file_mode(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw E2eError("cannot stat " + path.string() + ": " + std::strerror(errno));
  return static_cast<unsigned>(info.st_mode) & 07777U;
}

namespace {

std::string last_lines(const std::string& text, std::size_t lines) {
  std::size_t pos = text.size();
  std::size_t seen = 0;
  while (pos > 0 && seen <= lines) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
    ++seen;
  }
  return seen > lines ? text.substr(pos + 1) : text;
}

int decode_status(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

int open_or_throw(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) throw E2eError("cannot open " + path.string() + ": " + std::strerror(errno));
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Process

Process::Process(std::string label, const std::vector<std::string>& argv, const EnvOverrides& env,
                 const fs::path& log_dir, const std::optional<std::string>& stdin_text)
    : label_(std::move(label)),
      stdout_path_(log_dir / (label_ + ".stdout")),
      stderr_path_(log_dir / (label_ + ".stderr")) {
  if (argv.empty() || argv[0].empty()) throw E2eError(label_ + ": no program to run (not built?)");
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry; ++entry) {
    const std::string item = *entry;
    const std::string name = item.substr(0, item.find('='));
    if (!env.count(name)) env_strings.push_back(item);
  }
  for (const auto& [name, value] : env) {
    if (value) env_strings.push_back(name + "=" + *value);
  }
  std::vector<char*> argv_ptrs;
  for (const auto& arg : argv) argv_ptrs.push_back(const_cast<char*>(arg.c_str()));
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (auto& item : env_strings) env_ptrs.push_back(item.data());
  env_ptrs.push_back(nullptr);

  fs::path stdin_path = "/dev/null";
  if (stdin_text) {
    stdin_path = log_dir / (label_ + ".stdin");
    std::ofstream(stdin_path, std::ios::binary) << *stdin_text;
  }
  const int in_fd = open_or_throw(stdin_path, O_RDONLY);
  const int out_fd = open_or_throw(stdout_path_, O_WRONLY | O_CREAT | O_TRUNC);
  const int err_fd = open_or_throw(stderr_path_, O_WRONLY | O_CREAT | O_TRUNC);
  const pid_t parent = ::getpid();

  pid_ = ::fork();
  if (pid_ == 0) {
    // Own process group, so teardown can kill anything the program itself started; and die
    // with the test binary even when it crashes.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    }
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    const char message[] = "e2e harness: execve failed\n";
    [[maybe_unused]] const auto written = ::write(2, message, sizeof message - 1);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(in_fd);
  ::close(out_fd);
  ::close(err_fd);
  if (pid_ < 0) throw E2eError(label_ + ": fork failed: " + std::strerror(fork_errno));
  ::setpgid(pid_, pid_);  // also from the parent: no window where a kill misses the group
}

Process::~Process() { kill_group(); }

bool Process::running() {
  if (status_) return false;
  int raw = 0;
  const pid_t result = ::waitpid(pid_, &raw, WNOHANG);
  if (result == pid_) {
    status_ = decode_status(raw);
    return false;
  }
  return result == 0;
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return status_;
}

void Process::signal(int signal_number) {
  if (running()) ::kill(pid_, signal_number);
}

void Process::kill_group() {
  // Only while the leader is unreaped: then its pid (= the group id) cannot have been reused.
  if (!running()) return;
  ::kill(-pid_, SIGKILL);
  int raw = 0;
  if (::waitpid(pid_, &raw, 0) == pid_) status_ = decode_status(raw);
}

std::string Process::stdout_text() const { return read_text(stdout_path_); }
std::string Process::stderr_text() const { return read_text(stderr_path_); }

// ---------------------------------------------------------------------------------------------
// Helpers

std::string RunResult::describe() const {
  return "`" + command + "` exited " + std::to_string(exit_code) + "\n--- stdout ---\n" + out + "\n--- stderr ---\n" +
         err;
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw E2eError("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  // sockaddr_in and sockaddr are layout-compatible by the sockets API's design.
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(fd, generic, sizeof address) != 0 || ::getsockname(fd, generic, &length) != 0) {
    ::close(fd);
    throw E2eError("cannot find a free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// ---------------------------------------------------------------------------------------------
// Sandbox

Sandbox::Sandbox() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sallyport-e2e-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw E2eError("mkdtemp failed: " + std::string(std::strerror(errno)));
  root_ = pattern;
  fs::create_directories(root_ / "logs");
  fs::create_directories(root_ / "home");
}

Sandbox::~Sandbox() {
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) (*it)->kill_group();
  processes_.clear();
  if (const char* keep = std::getenv("SALLYPORT_E2E_KEEP"); keep && *keep) return;
  std::error_code ec;
  fs::remove_all(root_, ec);
}

fs::path Sandbox::dir(const std::string& name) {
  const auto path = root_ / name;
  fs::create_directories(path);
  return path;
}

std::string Sandbox::unique_label(const std::string& label) {
  std::string clean;
  for (char c : label) clean.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  const int count = ++label_counts_[clean];
  return count == 1 ? clean : clean + "." + std::to_string(count);
}

Process& Sandbox::spawn(const std::string& label, const std::vector<std::string>& argv, const EnvOverrides& env) {
  EnvOverrides full = {{"HOME", (root_ / "home").string()}};
  for (const auto& [name, value] : env) full[name] = value;
  processes_.push_back(std::make_unique<Process>(unique_label(label), argv, full, root_ / "logs", std::nullopt));
  return *processes_.back();
}

RunResult Sandbox::run(const std::string& label, const std::vector<std::string>& argv, const EnvOverrides& env,
                       const std::string& stdin_text, std::chrono::milliseconds timeout) {
  EnvOverrides full = {{"HOME", (root_ / "home").string()}};
  for (const auto& [name, value] : env) full[name] = value;
  processes_.push_back(std::make_unique<Process>(unique_label(label), argv, full, root_ / "logs", stdin_text));
  auto& process = *processes_.back();
  RunResult result;
  for (const auto& arg : argv) result.command += (result.command.empty() ? "" : " ") + arg;
  const auto status = process.wait_for(timeout);
  if (!status) process.kill_group();
  result.exit_code = status.value_or(-1);
  result.out = process.stdout_text();
  result.err = process.stderr_text();
  if (!status) result.err += "\n[e2e harness: killed after timeout]";
  return result;
}

std::vector<std::pair<std::string, fs::path>> Sandbox::output_files() const {
  std::vector<std::pair<std::string, fs::path>> files;
  for (const auto& process : processes_) {
    files.emplace_back(process->label(), process->stdout_path());
    files.emplace_back(process->label(), process->stderr_path());
  }
  return files;
}

std::string Sandbox::tails(std::size_t lines) const {
  std::string report = "temporary folder: " + root_.string() + "\n";
  for (const auto& process : processes_) {
    const auto status = process->exit_status();
    report += "=== " + process->label() + " (pid " + std::to_string(process->pid()) + ", " +
              (status ? "exited " + std::to_string(*status) : std::string("running")) + ") ===\n";
    const auto err = process->stderr_text();
    if (!err.empty()) report += last_lines(err, lines);
    if (!report.empty() && report.back() != '\n') report += "\n";
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// TestGateway

TestGateway::TestGateway(Sandbox& sandbox, GatewayOptions options)
    : sandbox_(sandbox), options_(std::move(options)), data_dir_(sandbox.root() / "gw") {}

TestGateway::~TestGateway() {
  if (process_ && process_->running()) stop(SIGTERM, 5s);
}

void TestGateway::start() {
  std::vector<std::string> argv = {Binaries::gateway(), "--data-dir", data_dir_.string(), "--listen",
                                   "127.0.0.1:" + std::to_string(port_)};
  if (!options_.defaults) {
    argv.insert(argv.end(), {"--agent-heartbeat", std::to_string(options_.heartbeat_seconds), "--agent-timeout",
                             std::to_string(options_.timeout_seconds)});
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  EnvOverrides env = {{"SALLYPORT_ADMIN_PASSWORD", options_.admin_password}};
  process_ = &sandbox_.spawn("gateway", argv, env);
  ++starts_;

  const std::regex url_line(R"(Sallyport gateway listening on (https://[^\s]+))");
  const std::regex fingerprint_line(R"(CA fingerprint: (SHA256:[0-9a-f]{64}))");
  std::smatch url_match, fingerprint_match;
  std::string out;
  const bool ready = wait_until(
      [&] {
        out = process_->stdout_text();
        return std::regex_search(out, url_match, url_line) && std::regex_search(out, fingerprint_match, fingerprint_line);
      },
      30s, 20ms);
  if (!ready) {
    const bool alive = process_->running();
    throw E2eError(std::string("the gateway did not print its URL and fingerprint") +
                   (alive ? " within 30 s" : " (it exited " + std::to_string(process_->exit_status().value_or(-1)) + ")") +
                   "\n--- stdout ---\n" + process_->stdout_text() + "\n--- stderr ---\n" + process_->stderr_text());
  }
  url_ = url_match[1];
  fingerprint_ = fingerprint_match[1];
  const auto parsed = transport::parse_url(url_);
  if (!parsed.url) throw E2eError("the gateway printed an unusable URL: " + url_);
  port_ = parsed.url->port;

  if (options_.login_cli && starts_ == 1 && Binaries::have_cli()) {
    const auto login = cli_login("admin", admin_password());
    if (login.exit_code != 0) throw E2eError("CLI login as admin failed: " + login.describe());
  }
}

int TestGateway::stop(int signal_number, std::chrono::milliseconds timeout) {
  if (!process_) return -1;
  process_->signal(signal_number);
  const auto status = process_->wait_for(timeout);
  if (!status) {
    process_->kill_group();
    return -1;
  }
  return *status;
}

void TestGateway::restart() {
  const int status = stop();
  if (status != 0) throw E2eError("the gateway exited " + std::to_string(status) + " on SIGTERM");
  start();
}

std::string TestGateway::admin_password() const {
  if (options_.admin_password) return *options_.admin_password;
  auto text = read_text(data_dir_ / "initial-admin-password");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::vector<json> TestGateway::audit_log() const {
  std::vector<json> events;
  std::istringstream lines(read_text(data_dir_ / "audit.log"));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    auto event = json::parse(line, nullptr, false);
    if (event.is_discarded()) throw E2eError("audit.log holds a line that is not JSON: " + line);
    events.push_back(std::move(event));
  }
  return events;
}

transport::HttpResponse TestGateway::api(const std::string& method, const std::string& target, const std::string& body,
                                         const std::string& token) const {
  transport::ClientOptions options;
  options.gateway.host = "127.0.0.1";
  options.gateway.port = port_;
  options.trust.ca_pem = read_text(ca_file());
  options.timeout = 30s;
  transport::HttpRequest request;
  request.method = method;
  request.target = target;
  request.body = body;
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  return transport::https_request(options, request).response;
}

std::string TestGateway::api_login(const std::string& user, const std::string& password) const {
  const auto response = api("POST", "/v1/auth/login", json{{"user", user}, {"password", password}}.dump());
  const auto body = json::parse(response.body, nullptr, false);
  if (response.status != 200 || !body.is_object() || !body.contains("token")) {
    throw E2eError("API login as " + user + " failed: HTTP " + std::to_string(response.status) + " " + response.body);
  }
  return body["token"].get<std::string>();
}

const std::string& TestGateway::admin_token() {
  if (admin_token_.empty()) admin_token_ = api_login("admin", admin_password());
  return admin_token_;
}

json TestGateway::api_json(const std::string& method, const std::string& target, const json& body,
                           unsigned expected_status) {
  const auto response = api(method, target, body.is_null() ? "" : body.dump(), admin_token());
  if (response.status != expected_status) {
    throw E2eError(method + " " + target + ": expected HTTP " + std::to_string(expected_status) + ", got " +
                   std::to_string(response.status) + ": " + response.body);
  }
  return json::parse(response.body);
}

Activation TestGateway::create_activation(const std::string& name, const std::map<std::string, std::string>& tags,
                                          int limit) {
  json body = {{"limit", limit}};
  if (!name.empty()) body["name"] = name;
  if (!tags.empty()) body["tags"] = tags;
  const auto created = api_json("POST", "/v1/activations", body, 201);
  return {created.at("id").get<std::string>(), created.at("code").get<std::string>()};
}

std::vector<json> TestGateway::api_nodes() {
  const auto answer = api_json("GET", "/v1/nodes");
  return answer.at("nodes").get<std::vector<json>>();
}

std::optional<json> TestGateway::api_node(const std::string& id_or_name) {
  const auto response = api("GET", "/v1/nodes/" + id_or_name, "", admin_token());
  if (response.status == 404) return std::nullopt;
  if (response.status != 200) {
    throw E2eError("GET /v1/nodes/" + id_or_name + ": HTTP " + std::to_string(response.status) + " " + response.body);
  }
  return json::parse(response.body);
}

bool TestGateway::healthy() const {
  try {
    return api("GET", "/v1/health").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

fs::path TestGateway::cli_config_dir(const std::string& user) { return sandbox_.dir("cli-" + user); }

RunResult TestGateway::cli(const std::vector<std::string>& args, const std::string& user, const EnvOverrides& extra_env,
                           const std::string& stdin_text, std::chrono::milliseconds timeout) {
  if (!Binaries::have_cli()) throw E2eError("the sallyport CLI is not built");
  std::vector<std::string> argv = {Binaries::cli()};
  argv.insert(argv.end(), args.begin(), args.end());
  // The caller's own secrets never leak into a child by accident.
  EnvOverrides env = {{"SALLYPORT_CONFIG_DIR", cli_config_dir(user).string()},
                      {"SALLYPORT_PASSWORD", std::nullopt},
                      {"SALLYPORT_NEW_PASSWORD", std::nullopt}};
  for (const auto& [name, value] : extra_env) env[name] = value;
  std::string label = "cli-" + user;
  for (std::size_t i = 0; i < args.size() && i < 2; ++i) label += "-" + args[i];
  return sandbox_.run(label, argv, env, stdin_text, timeout);
}

RunResult TestGateway::cli_login(const std::string& user, const std::string& password) {
  return cli({"login", "--gateway", url_, "--user", user, "--ca-fingerprint", fingerprint_}, user,
             {{"SALLYPORT_PASSWORD", password}});
}

std::vector<json> TestGateway::cli_nodes() {
  const auto result = cli({"nodes", "ls", "--json"});
  if (result.exit_code != 0) throw E2eError("nodes ls --json failed: " + result.describe());
  const auto document = json::parse(result.out, nullptr, false);
  if (document.is_discarded()) throw E2eError("nodes ls --json printed no JSON: " + result.describe());
  return node_list(document);
}

// ---------------------------------------------------------------------------------------------
// Agents

RunResult register_agent(TestGateway& gateway, const Activation& activation, const fs::path& state_dir,
                         const std::string& name, const std::string& tags) {
  std::vector<std::string> argv = {Binaries::agent(), "register",         "--gateway",         gateway.url(),
                                   "--ca-fingerprint", gateway.fingerprint(), "--activation-id", activation.id,
                                   "--activation-code", activation.code,   "--state-dir",       state_dir.string()};
  if (!name.empty()) argv.insert(argv.end(), {"--name", name});
  if (!tags.empty()) argv.insert(argv.end(), {"--tags", tags});
  return gateway.sandbox().run("agent-register-" + name, argv);
}

Process& start_agent(TestGateway& gateway, const fs::path& state_dir, const std::string& max_backoff) {
  return gateway.sandbox().spawn("agent-run-" + state_dir.filename().string(),
                                 {Binaries::agent(), "run", "--state-dir", state_dir.string(), "--max-backoff",
                                  max_backoff});
}

TestAgent add_agent(TestGateway& gateway, const std::string& name, const std::string& tags) {
  TestAgent agent;
  agent.name = name;
  agent.state_dir = gateway.sandbox().root() / ("agent-" + name);
  const auto activation = gateway.create_activation();
  const auto registered = register_agent(gateway, activation, agent.state_dir, name, tags);
  if (registered.exit_code != 0) throw E2eError("agent registration failed: " + registered.describe());
  const auto state = json::parse(read_text(agent.state_dir / "agent.json"));
  agent.node_id = state.at("node_id").get<std::string>();
  agent.process = &start_agent(gateway, agent.state_dir);
  return agent;
}

std::string node_status(TestGateway& gateway, const std::string& id_or_name) {
  const auto node = gateway.api_node(id_or_name);
  return node ? node->value("ping_status", "") : "";
}

bool wait_for_status(TestGateway& gateway, const std::string& id_or_name, const std::string& status,
                     std::chrono::milliseconds timeout) {
  return wait_until([&] { return node_status(gateway, id_or_name) == status; }, timeout, 100ms);
}

std::vector<json> node_list(const json& document) {
  if (document.is_array()) return document.get<std::vector<json>>();
  if (document.is_object() && document.contains("nodes") && document["nodes"].is_array()) {
    return document["nodes"].get<std::vector<json>>();
  }
  throw E2eError("not a node list: " + document.dump().substr(0, 500));
}

std::optional<json> find_by(const std::vector<json>& items, const std::string& field, const std::string& value) {
  for (const auto& item : items) {
    if (item.is_object() && item.contains(field) && item[field].is_string() && item[field] == value) return item;
  }
  return std::nullopt;
}

}  // namespace sallyport::e2e
