// Sessions end to end: the real gateway, an agent that creates its run-as user, and the CLI's
// start-session, as a user would run it (pipes, and a real PTY for the interactive shell).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "cut_proxy.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "harness.hpp"
#include "sallyport/wire/frame.hpp"

using namespace sallyport::e2e;

namespace {

bool process_running(const std::string& pattern) {
  // "[s]leep 611" matches the process but not this shell, whose command line holds the brackets.
  const std::string command = "pgrep -f '[" + pattern.substr(0, 1) + "]" + pattern.substr(1) + "' >/dev/null";
  return std::system(command.c_str()) == 0;
}

class Sessions : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Binaries::have_cli()) GTEST_SKIP() << "CLI not built";
    gateway_ = std::make_unique<TestGateway>(sandbox_);
    gateway_->start();
    state_dir_ = sandbox_.root() / "agent-web";
    const auto registered = register_agent(*gateway_, gateway_->create_activation(), state_dir_, "web", "role=web");
    ASSERT_EQ(registered.exit_code, 0) << registered.describe();
    start();
  }

  void start() {
    agent_ = &sandbox_.spawn("agent", {Binaries::agent(), "run", "--state-dir", state_dir_.string(), "--max-backoff",
                                        "2s", "--create-run-as-user"});
    ASSERT_TRUE(wait_until([&] {
      const auto node = gateway_->api_node("web");
      return node && (*node)["ping_status"] == "Online";
    }, 20s)) << sandbox_.tails();
  }

  // Generous timeout: 50 MiB under ASan on a loaded 2-core machine takes a while.
  // A CLI login (config dir cli-roaming) whose gateway address is the proxy's.
  void login_through(const CutProxy& proxy) {
    const std::string url = "https://127.0.0.1:" + std::to_string(proxy.port());
    const auto login = gateway_->cli({"login", "--gateway", url, "--user", "admin", "--ca-fingerprint",
                                      gateway_->fingerprint()},
                                     "roaming", {{"SALLYPORT_PASSWORD", gateway_->admin_password()}});
    ASSERT_EQ(login.exit_code, 0) << login.describe();
  }

  std::function<void()> on_cut_;
  std::string target_ = "web";  // of interactive()

  // Two sessions through copies that keep a window in use, so that a silence before a break
  // swallows credit: one whose reader on the client's side is slow (output credit trickles back
  // to the node), one whose reader on the node is slow (input credit trickles back to the CLI).
  struct SlowReaders {
    std::string input;  // 12 MiB of random bytes, through both
    fs::path output_file;
    Process* here = nullptr;
    Process* there = nullptr;
  };
  SlowReaders start_slow_readers(const std::string& target, const std::string& cli_user, std::uint64_t seed) {
    // At most 64 KiB per 30 ms: the 12 MB take 6 s or more, so the readers are still slow
    // while the other sessions start and the connection breaks (chunks of 256 KiB and pipes
    // of that size move the rest of the way fast, even under the sanitizers).
    static const std::string slow_copy =
        "import sys, time\n"
        "while chunk := sys.stdin.buffer.read1(65536):\n"
        "    sys.stdout.buffer.write(chunk)\n"
        "    time.sleep(0.03)\n";
    SlowReaders readers;
    readers.input.resize(12 << 20);
    std::mt19937_64 random(seed);
    for (auto& byte : readers.input) byte = static_cast<char>(random());
    const auto input_file = sandbox_.root() / ("slow-input-" + target + ".bin");
    std::ofstream(input_file, std::ios::binary) << readers.input;
    readers.output_file = sandbox_.root() / ("slow-output-" + target + ".bin");
    const EnvOverrides environment = {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir(cli_user).string()},
                                      {"SLOW_COPY", slow_copy}};
    readers.here = &sandbox_.spawn(
        "slow-here",
        {"/bin/bash", "-c",
         "set -o pipefail; \"$0\" start-session --target \"$3\" -- cat < \"$1\" | python3 -c \"$SLOW_COPY\" > \"$2\"",
         Binaries::cli(), input_file.string(), readers.output_file.string(), target},
        environment);
    readers.there = &sandbox_.spawn(
        "slow-there",
        {"/bin/sh", "-c", "\"$0\" start-session --target \"$3\" -- \"$2\" < \"$1\"", Binaries::cli(),
         input_file.string(), "python3 -c '" + slow_copy + "' | sha256sum", target},
        environment);
    return readers;
  }

  // Paced traffic, so that something is always in flight: a feeder script writing `chunks`
  // chunks of `lines` numbered lines each, `pause` apart, with what it writes and its SHA-256;
  // and a remote command printing `chunks` runs of 10000 numbers, `pause` apart, with what it prints.
  struct Paced {
    std::string script, text, sum;
  };
  static Paced paced_feeder(int chunks, int lines, const std::string& pause) {
    Paced paced;
    paced.script = "import sys, time\nfor i in range(" + std::to_string(chunks) +
                   "):\n    sys.stdout.write(''.join('in-%d-%d\\n' % (i, j) for j in range(" + std::to_string(lines) +
                   ")))\n    sys.stdout.flush()\n    time.sleep(" + pause + ")\n";
    for (int i = 0; i < chunks; ++i) {
      for (int j = 0; j < lines; ++j) paced.text += "in-" + std::to_string(i) + "-" + std::to_string(j) + "\n";
    }
    paced.sum = sallyport::crypto::sha256_hex(paced.text);
    return paced;
  }
  static Paced paced_numbers(int chunks, const std::string& pause) {
    Paced paced;
    paced.script = "for i in $(seq 1 " + std::to_string(chunks) + "); do seq $((i*10000)) $((i*10000+9999)); sleep " +
                   pause + "; done";
    for (int i = 1; i <= chunks; ++i) {
      for (int k = i * 10000; k <= i * 10000 + 9999; ++k) paced.text += std::to_string(k) + "\n";
    }
    return paced;
  }

  // Both ended well with every byte: echoed in order, and summed on the node.
  void expect_every_byte(const SlowReaders& readers) {
    for (auto* client : {readers.here, readers.there}) {
      const auto status = client->wait_for(60s);
      ASSERT_TRUE(status.has_value()) << client->label() << " stalled: " << sandbox_.tails();
      EXPECT_EQ(*status, 0) << client->label() << ": " << client->stderr_text();
    }
    std::ifstream echoed(readers.output_file, std::ios::binary);
    const std::string output((std::istreambuf_iterator<char>(echoed)), std::istreambuf_iterator<char>());
    // The CLI's own status is hidden by the pipeline: what it said, should it have given up.
    EXPECT_EQ(output.size(), readers.input.size())
        << readers.here->label() << ": " << readers.here->stderr_text() << sandbox_.tails();
    EXPECT_TRUE(output == readers.input) << "output lost, repeated or reordered";
    const std::string sum = sallyport::crypto::sha256_hex(readers.input);
    EXPECT_EQ(readers.there->stdout_text(), sum + "  -\n") << "input lost, repeated or reordered";
  }

  // `sallyport start-session --target TARGET -- exec sleep 6NN` with USER's login, returned once
  // `sleep 6NN` runs on the node. Spelled $((600 + NN)) so that the CLI's own command line
  // does not match: a test that kills or cuts must do it once the session runs.
  Process& start_sleeper(const std::string& label, const std::string& target, int nn, const std::string& user = "admin") {
    const std::string sleep = "sleep " + std::to_string(600 + nn);
    auto& client = sandbox_.spawn(label, {Binaries::cli(), "start-session", "--target", target, "--",
                                          "exec sleep $((600 + " + std::to_string(nn) + "))"},
                                  {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir(user).string()}});
    if (!wait_until([&] { return process_running(sleep); }, 10s)) throw E2eError(sleep + " never ran: " + sandbox_.tails());
    return client;
  }

  // A second node, "roamer", whose agent reaches the gateway through the proxy.
  void add_roaming_node(const CutProxy& proxy) {
    const auto activation = gateway_->create_activation();
    const auto state_dir = sandbox_.root() / "agent-roamer";
    const auto registered = sandbox_.run(
        "agent-register-roamer",
        {Binaries::agent(), "register", "--gateway", "https://127.0.0.1:" + std::to_string(proxy.port()),
         "--ca-fingerprint", gateway_->fingerprint(), "--activation-id", activation.id, "--activation-code",
         activation.code, "--state-dir", state_dir.string(), "--name", "roamer"});
    ASSERT_EQ(registered.exit_code, 0) << registered.describe();
    roamer_ = &sandbox_.spawn("agent-roamer", {Binaries::agent(), "run", "--state-dir", state_dir.string(),
                                               "--max-backoff", "1s", "--create-run-as-user"});
    ASSERT_TRUE(wait_until([&] {
      const auto node = gateway_->api_node("roamer");
      return node && (*node)["ping_status"] == "Online";
    }, 20s)) << sandbox_.tails();
  }

  // `sessions ls --state STATE --json` as admin: the list of sessions.
  json listed_sessions(const std::string& state) {
    const auto listed = gateway_->cli({"sessions", "ls", "--state", state, "--json"});
    if (listed.exit_code != 0) throw E2eError("sessions ls failed: " + listed.describe());
    return json::parse(listed.out)["sessions"];
  }

  RunResult session(const std::vector<std::string>& args, const std::string& user = "admin",
                    const std::string& input = "") {
    std::vector<std::string> full = {"start-session", "--target", "web"};
    full.insert(full.end(), args.begin(), args.end());
    return gateway_->cli(full, user, {}, input, 300s);
  }

  // Runs start-session on a real PTY; feeds input after the prompt appears.
  struct PtyResult {
    std::string output;
    int exit_code = -1;
  };
  static constexpr const char* kResize = "<resize 42x120>";
  static constexpr const char* kCut = "<cut the connection>";  // runs on_cut_
  PtyResult interactive(const std::vector<std::pair<std::string, int>>& inputs, std::chrono::seconds limit,
                        const std::string& cli_user = "admin") {
    const std::string config = gateway_->cli_config_dir(cli_user).string();
    winsize size{};
    size.ws_row = 31;
    size.ws_col = 97;
    int master = -1;
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
    if (pid == 0) {
      ::setenv("SALLYPORT_CONFIG_DIR", config.c_str(), 1);
      ::setenv("TERM", "xterm", 1);
      const std::string cli = Binaries::cli();
      // Through a shell, as a user runs it, which then reports whether the CLI left the
      // terminal as it found it: the same mode, and blocking (the CLI reads it non-blocking).
      const char* script =
          "before=$(stty -g); \"$0\" start-session --target \"$1\"; status=$?; "
          "[ \"$(stty -g)\" = \"$before\" ] && echo terminal-mode-restored; "
          "python3 -c 'import fcntl, os; print(\"blocking\" if not fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK else \"non-blocking\")'; "
          "exit $status";
      ::execl("/bin/sh", "sh", "-c", script, cli.c_str(), target_.c_str(), nullptr);
      ::_exit(127);
    }
    PtyResult result;
    auto read_for = [&](std::chrono::milliseconds duration) {
      const auto end = std::chrono::steady_clock::now() + duration;
      while (std::chrono::steady_clock::now() < end) {
        pollfd p{master, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        char buffer[4096];
        const ssize_t n = ::read(master, buffer, sizeof buffer);
        if (n <= 0) return false;
        result.output.append(buffer, static_cast<std::size_t>(n));
      }
      return true;
    };
    read_for(1500ms);
    for (const auto& [text, wait_ms] : inputs) {
      if (text == kResize) {
        winsize resized{};
        resized.ws_row = 42;
        resized.ws_col = 120;
        ::ioctl(master, TIOCSWINSZ, &resized);  // the kernel sends SIGWINCH to the CLI
      } else if (text == kCut) {
        on_cut_();
      } else if (!text.empty()) {
        EXPECT_EQ(::write(master, text.data(), text.size()), static_cast<ssize_t>(text.size()));
      }
      read_for(std::chrono::milliseconds(wait_ms));
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      read_for(100ms);
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
    }
    if (result.exit_code < 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    ::close(master);
    return result;
  }

  Sandbox sandbox_;
  std::unique_ptr<TestGateway> gateway_;
  fs::path state_dir_;
  Process* agent_ = nullptr;
  Process* roamer_ = nullptr;  // the roaming node's agent, once added
};

}  // namespace

TEST_F(Sessions, CommandPipesBytesExactlyAndReturnsTheExitStatus) {
  std::mt19937 random(42);
  std::string input(50 << 20, '\0');
  for (auto& c : input) c = static_cast<char>(random());
  const auto cat = session({"--", "cat"}, "admin", input);
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.out.size(), input.size());
  EXPECT_TRUE(cat.out == input) << "50 MiB came back altered";

  const auto split = session({"--", "echo out; echo err >&2; whoami >&2; exit 3"});
  EXPECT_EQ(split.exit_code, 3) << split.describe();
  EXPECT_EQ(split.out, "out\n");
  EXPECT_NE(split.err.find("err\nsallyport-user\n"), std::string::npos) << split.err;
  EXPECT_NE(split.err.find("Starting session with SessionId: admin-"), std::string::npos);
  EXPECT_EQ(session({"--", "false"}).exit_code, 1);
  EXPECT_EQ(session({"--", "kill -TERM $$"}).exit_code, 128 + SIGTERM);

  const auto history = gateway_->cli({"sessions", "ls", "--state", "history", "--json"});
  ASSERT_EQ(history.exit_code, 0) << history.describe();
  const auto sessions = json::parse(history.out)["sessions"];
  ASSERT_GE(sessions.size(), 4u);
  bool found = false;
  for (const auto& item : sessions) {
    if (item["exit_code"] == 3) {
      found = true;
      EXPECT_EQ(item["status"], "Terminated");
      EXPECT_EQ(item["run_as"], "sallyport-user");
      EXPECT_EQ(item["kind"], "command");
    }
  }
  EXPECT_TRUE(found) << history.out;
}

// As a user pipes: stdin and stdout are pipes (the CLI reads and writes them on its loop, and
// hands large chunks to its writer thread), with small lines among the bulk.
TEST_F(Sessions, ShellPipelinesThroughACommandSessionKeepEveryByte) {
  const fs::path dir = sandbox_.dir("pipeline");
  std::mt19937 random(7);
  std::string input(8 << 20, '\0');
  for (auto& c : input) c = static_cast<char>(random());
  std::ofstream(dir / "in.bin", std::ios::binary) << input;
  const std::string script =
      "cat \"$1/in.bin\" | \"$0\" start-session --target web -- "
      "'cat; for i in $(seq 1 500); do echo line $i; done; echo to-stderr >&2' 2>\"$1/err.txt\" | cat > \"$1/out.bin\"";
  const auto run = sandbox_.run("pipeline", {"/bin/sh", "-c", script, Binaries::cli(), dir.string()},
                                {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir().string()}}, "", 300s);
  ASSERT_EQ(run.exit_code, 0) << run.describe() << read_text(dir / "err.txt");
  std::string expected = input;
  for (int i = 1; i <= 500; ++i) expected += "line " + std::to_string(i) + "\n";
  const std::string out = read_text(dir / "out.bin");
  EXPECT_EQ(out.size(), expected.size());
  EXPECT_TRUE(out == expected) << "the pipeline's output differs";
  EXPECT_NE(read_text(dir / "err.txt").find("to-stderr\n"), std::string::npos) << read_text(dir / "err.txt");

  // The issue's example: a tar stream in, unpacked on the node.
  fs::create_directories(dir / "tree" / "sub");
  std::ofstream(dir / "tree" / "sub" / "file.txt") << "unpacked on the node\n";
  const std::string tar_script =
      "tar c -C \"$1/tree\" . | \"$0\" start-session --target web -- "
      "'rm -rf /tmp/e2e-tar && mkdir /tmp/e2e-tar && tar x -C /tmp/e2e-tar && cat /tmp/e2e-tar/sub/file.txt'";
  const auto tar = sandbox_.run("tar", {"/bin/sh", "-c", tar_script, Binaries::cli(), dir.string()},
                                {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir().string()}}, "", 120s);
  EXPECT_EQ(tar.exit_code, 0) << tar.describe();
  EXPECT_EQ(tar.out, "unpacked on the node\n");
}

TEST_F(Sessions, RefusalsHaveDistinctExitStatuses) {
  const auto unknown = gateway_->cli({"start-session", "--target", "nowhere", "--", "true"});
  EXPECT_EQ(unknown.exit_code, 5) << unknown.describe();

  ASSERT_EQ(gateway_->cli({"users", "create", "bob"}, "admin", {{"SALLYPORT_NEW_PASSWORD", "bob-Pa55word"}}).exit_code, 0);
  ASSERT_EQ(gateway_->cli_login("bob", "bob-Pa55word").exit_code, 0);
  const auto denied = session({"--", "true"}, "bob");
  EXPECT_EQ(denied.exit_code, 4) << denied.describe();
  EXPECT_NE(denied.err.find("not allowed"), std::string::npos) << denied.err;
  bool audited = false;
  for (const auto& event : gateway_->audit_log()) {
    audited = audited || (event["action"] == "session:Start" && event["outcome"] == "denied" && event["actor"] == "bob");
  }
  EXPECT_TRUE(audited);
  ASSERT_EQ(gateway_->cli({"policies", "attach", "SessionUser", "--user", "bob"}).exit_code, 0);
  const auto allowed = session({"--", "true"}, "bob");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.describe();

  ASSERT_EQ(gateway_->cli({"users", "create", "carol", "--tags", "runAs=BadName", "--policy", "SessionUser"}, "admin",
                          {{"SALLYPORT_NEW_PASSWORD", "carol-Pa55word"}}).exit_code, 0);
  ASSERT_EQ(gateway_->cli_login("carol", "carol-Pa55word").exit_code, 0);
  const auto bad_user = session({"--", "true"}, "carol");
  EXPECT_EQ(bad_user.exit_code, 12) << bad_user.describe();

  agent_->signal(SIGTERM);
  ASSERT_TRUE(agent_->wait_for(10s).has_value());
  ASSERT_TRUE(wait_until([&] { return (*gateway_->api_node("web"))["ping_status"] == "ConnectionLost"; }, 10s));
  const auto offline = session({"--", "true"});
  EXPECT_EQ(offline.exit_code, 11) << offline.describe();
}

TEST_F(Sessions, TerminationAndVanishedClientsLeaveNoProcesses) {
  const EnvOverrides env = {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir().string()}};
  auto& first = sandbox_.spawn("long-1", {Binaries::cli(), "start-session", "--target", "web", "--", "sleep 611"}, env);
  std::string id;
  ASSERT_TRUE(wait_until([&] {
    const auto items = listed_sessions("active");
    if (items.empty()) return false;
    id = items[0]["id"];
    return true;
  }, 10s));
  const auto terminated = gateway_->cli({"sessions", "terminate", id, "--reason", "maintenance"});
  EXPECT_EQ(terminated.exit_code, 0) << terminated.describe();
  EXPECT_EQ(first.wait_for(10s), 13);
  EXPECT_NE(first.stderr_text().find("maintenance"), std::string::npos) << first.stderr_text();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 611"); }, 10s));

  // The kill comes once the session runs (a CLI killed while output is still unread in its
  // socket is reset by its kernel, which the gateway takes for a broken network and gives the grace).
  auto& second = start_sleeper("long-2", "web", 12);
  std::this_thread::sleep_for(300ms);
  second.kill_group();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 612"); }, 10s)) << "orphaned remote process";
}

TEST_F(Sessions, InteractiveShellOnARealPty) {
  // `sleep 30` outlives the 15 s limit, so `exit 7` only runs if Ctrl-C reached the shell.
  const auto result = interactive({{"stty size; echo marker-$((6*7))\r", 1500}, {kResize, 500}, {"stty size\r", 1000},
                                   {"sleep 30\r", 500}, {"\x03", 500}, {"exit 7\r", 500}},
                                  15s);
  EXPECT_EQ(result.exit_code, 7) << result.output;
  EXPECT_NE(result.output.find("31 97"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("42 120"), std::string::npos) << "stty size did not follow the resize: " << result.output;
  EXPECT_NE(result.output.find("marker-42"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Starting session with SessionId: admin-"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("terminal-mode-restored"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("\nblocking"), std::string::npos) << result.output;
}

TEST_F(Sessions, IdleSessionsEndWithAWarning) {
  ASSERT_EQ(gateway_->cli({"preferences", "set", "idle_timeout_seconds", "5"}).exit_code, 0);
  const auto result = interactive({}, 20s);
  EXPECT_EQ(result.exit_code, 13) << result.output;
  EXPECT_NE(result.output.find("will end"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("idle"), std::string::npos) << result.output;
}

// A deleted user keeps nothing: their live sessions end with them (the admin's own do not).
TEST_F(Sessions, DeletingAUserEndsTheirLiveSessions) {
  ASSERT_EQ(gateway_->cli({"users", "create", "dave", "--policy", "SessionUser"}, "admin",
                          {{"SALLYPORT_NEW_PASSWORD", "dave-Pa55word"}}).exit_code, 0);
  ASSERT_EQ(gateway_->cli_login("dave", "dave-Pa55word").exit_code, 0);
  auto& daves = start_sleeper("dave-long", "web", 22, "dave");
  auto& admins = start_sleeper("admin-long", "web", 23);

  const auto deleted = gateway_->cli({"users", "delete", "dave"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.describe();
  EXPECT_NE(deleted.out.find("ended their 1 live session"), std::string::npos) << deleted.out;
  EXPECT_EQ(daves.wait_for(10s), 13) << daves.stderr_text();
  EXPECT_NE(daves.stderr_text().find("user dave was deleted"), std::string::npos) << daves.stderr_text();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 622"); }, 10s));
  EXPECT_TRUE(admins.running()) << admins.stderr_text();
  EXPECT_TRUE(process_running("sleep 623"));
  const auto audit = gateway_->cli({"audit", "ls", "--limit", "50"});
  EXPECT_NE(audit.out.find("user dave was deleted"), std::string::npos) << audit.describe();
  admins.kill_group();
}

// Session sharing, read-only: a user granted session:Watch follows a live session's output as
// it comes, in order, and hears how it ended; the owner is told who watches. A user without the
// grant is refused (exit 4), as is a session that does not exist (exit 5).
TEST_F(Sessions, AGrantedUserWatchesALiveSessionReadOnly) {
  const fs::path policy = sandbox_.root() / "watch-admins.json";
  std::ofstream(policy) << R"({"Version": "2012-10-17", "Statement": [{"Sid": "WatchAdmins", "Effect": "Allow",
    "Action": "session:Watch", "Resource": "session/*", "Condition": {"StringEquals": {"session:owner": "admin"}}}]})";
  ASSERT_EQ(gateway_->cli({"policies", "create", "WatchAdmins", "--file", policy.string()}).exit_code, 0);
  for (const std::string user : {"bob", "carol"}) {
    ASSERT_EQ(gateway_->cli({"users", "create", user, "--policy", "SessionUser"}, "admin",
                            {{"SALLYPORT_NEW_PASSWORD", user + "-Pa55word"}}).exit_code, 0);
    ASSERT_EQ(gateway_->cli_login(user, user + "-Pa55word").exit_code, 0);
  }
  ASSERT_EQ(gateway_->cli({"policies", "attach", "WatchAdmins", "--user", "carol"}).exit_code, 0);
  auto& owner = sandbox_.spawn(
      "owner", {Binaries::cli(), "start-session", "--target", "web", "--",
                "for i in $(seq 1 30); do echo tick-$i; sleep 0.2; done; echo done >&2"},
      {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir().string()}});
  std::string id;
  ASSERT_TRUE(wait_until([&] {
    const auto active = listed_sessions("active");
    if (!active.empty()) id = active[0]["id"].get<std::string>();
    return !id.empty();
  }, 10s)) << sandbox_.tails();
  auto& watcher = sandbox_.spawn("carol-watch", {Binaries::cli(), "sessions", "watch", id},
                                 {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir("carol").string()}});
  EXPECT_TRUE(wait_until([&] { return watcher.stdout_text().find("tick-") != std::string::npos; }, 10s))
      << watcher.stderr_text();
  const auto refused = gateway_->cli({"sessions", "watch", id}, "bob");
  EXPECT_EQ(refused.exit_code, 4) << refused.describe();
  EXPECT_NE(refused.err.find("user bob is not allowed to watch session " + id), std::string::npos) << refused.err;
  const auto unknown = gateway_->cli({"sessions", "watch", "admin-nosuchsession"});
  EXPECT_EQ(unknown.exit_code, 5) << unknown.describe();

  const auto owner_status = owner.wait_for(30s);
  ASSERT_TRUE(owner_status.has_value()) << sandbox_.tails();
  EXPECT_EQ(*owner_status, 0) << owner.stderr_text();
  EXPECT_NE(owner.stderr_text().find("[sallyport] carol is watching this session (read-only)"), std::string::npos)
      << owner.stderr_text();
  const auto watcher_status = watcher.wait_for(15s);
  ASSERT_TRUE(watcher_status.has_value()) << watcher.stderr_text();
  EXPECT_EQ(*watcher_status, 0) << watcher.stderr_text();
  const std::string seen = watcher.stdout_text();
  const std::string all = owner.stdout_text();
  // From the moment it joined, everything, in order: a suffix of the owner's output.
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(all.size() >= seen.size() && all.compare(all.size() - seen.size(), seen.size(), seen) == 0)
      << "watched:\n" << seen << "\nowner:\n" << all;
  EXPECT_NE(seen.find("tick-30\n"), std::string::npos) << seen;
  EXPECT_NE(watcher.stderr_text().find("Watching session " + id + " of admin"), std::string::npos) << watcher.stderr_text();
  EXPECT_NE(watcher.stderr_text().find("done\n"), std::string::npos) << "the owner's stderr is shown too";
  EXPECT_NE(watcher.stderr_text().find("the session ended: exited with status 0"), std::string::npos)
      << watcher.stderr_text();
  std::map<std::string, std::string> outcomes;
  for (const auto& line : gateway_->audit_log()) {
    if (line.value("action", "") == "session:Watch") outcomes[line.value("actor", "")] += line.value("outcome", "") + " ";
  }
  EXPECT_EQ(outcomes["carol"], "success ");
  EXPECT_EQ(outcomes["bob"], "denied ");
  EXPECT_EQ(outcomes["admin"], "failure ");
}

TEST_F(Sessions, OwnersTerminateTheirOwnSessionsOnly) {
  for (const std::string user : {"bob", "carol"}) {
    ASSERT_EQ(gateway_->cli({"users", "create", user, "--policy", "SessionUser"}, "admin",
                            {{"SALLYPORT_NEW_PASSWORD", user + "-Pa55word"}}).exit_code, 0);
    ASSERT_EQ(gateway_->cli_login(user, user + "-Pa55word").exit_code, 0);
  }
  auto& client = start_sleeper("bob-long", "web", 13, "bob");
  std::string id;
  ASSERT_TRUE(wait_until([&] {
    const auto items = listed_sessions("active");
    if (items.empty()) return false;
    id = items[0]["id"];
    return true;
  }, 10s));
  const auto other = gateway_->cli({"sessions", "terminate", id}, "carol");
  EXPECT_EQ(other.exit_code, 4) << other.describe();
  const auto own = gateway_->cli({"sessions", "terminate", id, "--reason", "done-for-today"}, "bob");
  EXPECT_EQ(own.exit_code, 0) << own.describe();
  EXPECT_EQ(client.wait_for(10s), 13);
  EXPECT_NE(client.stderr_text().find("done-for-today"), std::string::npos) << client.stderr_text();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 613"); }, 10s));
}

TEST_F(Sessions, TwentyConcurrentSessionsOnOneNodeAreIndependent) {
  const EnvOverrides env = {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir().string()}};
  std::vector<Process*> clients;
  for (int i = 0; i < 20; ++i) {
    const std::string command = "sleep 1; seq 1 " + std::to_string(20000 + i) + "; exit " + std::to_string(i % 7);
    clients.push_back(&sandbox_.spawn("many", {Binaries::cli(), "start-session", "--target", "web", "--", command}, env));
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(clients[static_cast<std::size_t>(i)]->wait_for(60s), i % 7) << sandbox_.tails();
    std::string expected;
    for (int n = 1; n <= 20000 + i; ++n) expected += std::to_string(n) + "\n";
    EXPECT_TRUE(clients[static_cast<std::size_t>(i)]->stdout_text() == expected) << "session " << i << " output differs";
  }
}

// start-session with its stdout on a pipe that the test reads only when it wants to.
class PipedClient {
 public:
  PipedClient(const fs::path& config_dir, const std::string& command) {
    int out[2];
    if (::pipe(out) != 0) throw E2eError("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setenv("SALLYPORT_CONFIG_DIR", config_dir.string().c_str(), 1);
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      const std::string cli = Binaries::cli();
      ::execl(cli.c_str(), cli.c_str(), "start-session", "--target", "web", "--", command.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
  }
  ~PipedClient() {
    if (fd_ >= 0) ::close(fd_);
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::size_t pipe_capacity() const { return static_cast<std::size_t>(::fcntl(fd_, F_GETPIPE_SZ)); }
  void read_up_to(std::size_t limit) {
    char buffer[65536];
    while (received.size() < limit) {
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n <= 0) return;
      received.append(buffer, static_cast<std::size_t>(n));
    }
  }
  int finish() {  // reads to the end, then the exit status
    read_up_to(std::string::npos);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }
  std::string received;

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  int status_ = -1;
};

// A reader that stops for 10 s must pause the source, not grow buffers; nothing is lost.
TEST_F(Sessions, AStoppedReaderPausesOutputWithBoundedMemory) {
  PipedClient client(gateway_->cli_config_dir(), "seq 1 4000000");
  client.read_up_to(1 << 20);
  // The first samples come once the stopped reader has let every window and queue fill, so
  // what follows measures growth while paused, not the in-flight bytes the bounds allow.
  std::this_thread::sleep_for(2s);
  const long gateway_before = rss_kib(gateway_->process().pid());
  const long agent_before = rss_kib(agent_->pid());
  std::this_thread::sleep_for(10s);  // the reader is stopped; seq has ~28 MB left to write
  const long gateway_after = rss_kib(gateway_->process().pid());
  const long agent_after = rss_kib(agent_->pid());
  // One window per direction plus allocator slack; an unbounded buffer would grow by tens of
  // MB here.
  EXPECT_LT(gateway_after - gateway_before, 8 * 1024) << gateway_before << " -> " << gateway_after;
  EXPECT_LT(agent_after - agent_before, 8 * 1024) << agent_before << " -> " << agent_after;
  EXPECT_EQ(client.finish(), 0);
  std::size_t position = 0;
  for (long n = 1; n <= 4000000; ++n) {
    const std::string line = std::to_string(n) + "\n";
    if (client.received.compare(position, line.size(), line) != 0) {
      ADD_FAILURE() << "output diverges at line " << n << " (byte " << position << ")";
      break;
    }
    position += line.size();
  }
  EXPECT_EQ(position, client.received.size());
}

// The command exits while its last output still waits in its pipe for the slow reader's
// credit: that output must still arrive, however long the reader takes.
TEST_F(Sessions, OutputOfAnExitedCommandWaitsForASlowReader) {
  const std::string probe_config = gateway_->cli_config_dir().string();
  std::size_t size = 0;
  {
    PipedClient probe(probe_config, "true");
    probe.finish();  // by then the CLI has made this test's pipe a chunk large
    // Fills the window in flight, this test's pipe, and half of the agent's pipe (as large):
    // the rest waits there when the command exits.
    size = sallyport::wire::kInitialWindowBytes + probe.pipe_capacity() + sallyport::wire::kDataChunkBytes / 2;
  }
  PipedClient client(probe_config, "head -c " + std::to_string(size) + " /dev/zero | tr '\\0' a; echo; exit 4");
  std::this_thread::sleep_for(3s);  // the command is done; the agent waits for credit
  EXPECT_EQ(client.finish(), 4);
  EXPECT_EQ(client.received.size(), size + 1);
  EXPECT_EQ(client.received.find_first_not_of('a'), size);
}

// A network failure between the CLI and the gateway (every connection reset, twice) in the
// middle of a command that streams both ways: the CLI reconnects to the same session, and not
// a byte is lost, repeated or reordered in either direction.
TEST_F(Sessions, ACommandSessionSurvivesBrokenConnectionsWithEveryByte) {
  CutProxy proxy(gateway_->port());
  login_through(proxy);
  // Input written over about three seconds, 1.2 MB in all; output the same way, then the
  // input's checksum, so both directions are in flight when the connection breaks.
  const auto feeder = paced_feeder(30, 4000, "0.1");
  const auto numbers = paced_numbers(30, "0.1");
  const std::string& expected = numbers.text;
  const std::string& expected_sum = feeder.sum;
  const std::string script = "python3 -c \"$FEEDER\" | \"$0\" start-session --target web -- \"$1\"";
  auto& client = sandbox_.spawn("roaming", {"/bin/sh", "-c", script, Binaries::cli(), numbers.script + "; sha256sum"},
                                {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir("roaming").string()},
                                 {"FEEDER", feeder.script}});
  std::this_thread::sleep_for(1200ms);
  proxy.cut();
  std::this_thread::sleep_for(1000ms);
  proxy.cut(true);  // and this time the network stays down for a moment
  std::this_thread::sleep_for(700ms);
  proxy.up();
  const auto status = client.wait_for(120s);
  ASSERT_TRUE(status.has_value()) << sandbox_.tails();
  EXPECT_EQ(*status, 0) << client.stderr_text();
  EXPECT_GE(proxy.cuts(), 2);
  const std::string out = client.stdout_text();
  ASSERT_EQ(out.size(), expected.size() + 64 + 4) << client.stderr_text();
  EXPECT_TRUE(out.compare(0, expected.size(), expected) == 0) << "output lost, repeated or reordered";
  EXPECT_EQ(out.substr(expected.size(), 64), expected_sum) << "input lost, repeated or reordered";
  const std::string err = client.stderr_text();
  EXPECT_NE(err.find("reconnecting"), std::string::npos) << err;
  EXPECT_NE(err.find("reconnected"), std::string::npos) << err;
  EXPECT_EQ(err.find('\r'), std::string::npos) << "a file gets plain lines, not a raw terminal's: " << err;
  // One session, which ended with the command, and an audit trail of the returns.
  const auto history = listed_sessions("history");
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_EQ(history[0]["status"], "Terminated");
  EXPECT_EQ(history[0]["reason"], "exited with status 0");
  int resumes = 0;
  for (const auto& line : gateway_->audit_log()) {
    if (line.value("action", "") == "session:Resume" && line.value("outcome", "") == "success") ++resumes;
  }
  EXPECT_GE(resumes, 2);
}

// A network that goes silent before it breaks loses what was in flight, credit included: each
// side must learn on resuming how much credit the other granted, or the windows shrink with
// every break until a transfer stops. A reader slower than the link keeps a window in use, so
// every silence swallows credit: here one session reads slowly on the client's side (output
// credit) and one on the node's (input credit), each through `cat`.
TEST_F(Sessions, CreditInFlightWhenTheConnectionBreaksIsNotLost) {
  CutProxy proxy(gateway_->port());
  login_through(proxy);
  const auto readers = start_slow_readers("web", "roaming", 7);
  // A break before a session has started is not resumed: both first.
  ASSERT_TRUE(wait_until([&] { return listed_sessions("active").size() == 2; }, 30s)) << sandbox_.tails();
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(500ms);
    proxy.freeze();
    std::this_thread::sleep_for(300ms);
    proxy.cut();
  }
  expect_every_byte(readers);
  EXPECT_GE(proxy.cuts(), 6);
}

// The same for an interactive shell on a real PTY: the shell and its state outlive the break.
TEST_F(Sessions, AnInteractiveShellSurvivesABrokenConnection) {
  CutProxy proxy(gateway_->port());
  login_through(proxy);
  on_cut_ = [&] { proxy.cut(); };
  const auto result = interactive({{"export MARK=kept-$((6*7))\r", 1000}, {kCut, 2500}, {"echo mark=$MARK\r", 1500},
                                   {"exit 5\r", 1000}},
                                  30s, "roaming");
  EXPECT_EQ(result.exit_code, 5) << result.output;
  EXPECT_NE(result.output.find("reconnected"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("mark=kept-42"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("terminal-mode-restored"), std::string::npos) << result.output;
}

// The node's side of the same: the agent's link goes silent and then is reset, three times,
// while four sessions stream; the agent keeps them, comes back, and nothing is lost, repeated
// or reordered. Each break swallows something else: output the node sent (a paced generator),
// input the gateway sent (a paced feeder), output credit (a reader slow on the client's side)
// and input credit (a reader slow on the node's side).
TEST_F(Sessions, SessionsSurviveABrokenNodeConnectionWithEveryByte) {
  CutProxy proxy(gateway_->port());
  add_roaming_node(proxy);
  const auto readers = start_slow_readers("roamer", "admin", 11);
  const auto fed = paced_feeder(48, 10000, "0.05");  // 4.8 MB over about 2.4 s
  const auto generated = paced_numbers(40, "0.05");
  const EnvOverrides environment = {{"SALLYPORT_CONFIG_DIR", gateway_->cli_config_dir().string()},
                                    {"PACED_FEEDER", fed.script}};
  auto& generator = sandbox_.spawn(
      "generator",
      {Binaries::cli(), "start-session", "--target", "roamer", "--", generated.script},
      environment);
  auto& feeder = sandbox_.spawn(
      "feeder",
      {"/bin/sh", "-c", "python3 -c \"$PACED_FEEDER\" | \"$0\" start-session --target roamer -- sha256sum", Binaries::cli()},
      environment);
  // Breaks while a session is still starting fail it ("the node disconnected while the session
  // was starting"): all four first.
  ASSERT_TRUE(wait_until([&] { return listed_sessions("active").size() == 4; }, 30s)) << sandbox_.tails();
  // Each break once the agent has its sessions back from the one before.
  const auto returns = [&] {
    const std::string log = read_text(sandbox_.root() / "logs" / "agent-roamer.stderr");
    int count = 0;
    for (auto at = log.find("is back on the gateway"); at != std::string::npos; at = log.find("is back", at + 1)) ++count;
    return count;
  };
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(400ms);
    const int before = returns();
    proxy.freeze();
    std::this_thread::sleep_for(300ms);
    proxy.cut();
    if (!wait_until([&] { return returns() > before; }, 10s)) break;  // nothing left running to take back
  }
  expect_every_byte(readers);
  for (auto* client : {&generator, &feeder}) {
    const auto status = client->wait_for(60s);
    ASSERT_TRUE(status.has_value()) << client->label() << " stalled: " << sandbox_.tails();
    EXPECT_EQ(*status, 0) << client->label() << ": " << client->stderr_text();
  }
  EXPECT_GE(proxy.cuts(), 3);
  EXPECT_EQ(generator.stdout_text().size(), generated.text.size());
  EXPECT_TRUE(generator.stdout_text() == generated.text) << "the node's output lost, repeated or reordered";
  EXPECT_EQ(feeder.stdout_text(), fed.sum + "  -\n") << "the gateway's input lost, repeated or reordered";
  const std::string err = generator.stderr_text();
  EXPECT_NE(err.find("the connection to the node broke"), std::string::npos) << err;
  EXPECT_NE(err.find("the node is back"), std::string::npos) << err;
  const auto history = listed_sessions("history");
  ASSERT_EQ(history.size(), 4u) << history.dump();
  for (const auto& session : history) EXPECT_EQ(session["reason"], "exited with status 0") << history.dump();
}

// A shell on a real PTY keeps its state across a break of the node's link.
TEST_F(Sessions, AnInteractiveShellSurvivesABrokenNodeConnection) {
  CutProxy proxy(gateway_->port());
  add_roaming_node(proxy);
  target_ = "roamer";
  on_cut_ = [&] { proxy.cut(); };
  const auto result = interactive({{"export MARK=kept-$((6*7))\r", 1000}, {kCut, 3000}, {"echo mark=$MARK\r", 1500},
                                   {"exit 6\r", 1000}},
                                  30s);
  EXPECT_EQ(result.exit_code, 6) << result.output;
  EXPECT_NE(result.output.find("the node is back"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("mark=kept-42"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("terminal-mode-restored"), std::string::npos) << result.output;
}

// A graceful restart of the gateway keeps an interactive shell: the CLI and the agent reconnect
// to the new gateway, and the shell goes on with its state.
TEST_F(Sessions, AnInteractiveShellSurvivesAGracefulGatewayRestart) {
  on_cut_ = [&] { gateway_->restart(); };
  const auto result = interactive({{"export MARK=kept-$((6*7))\r", 1000}, {kCut, 4000}, {"echo mark=$MARK\r", 1500},
                                   {"exit 7\r", 1000}},
                                  30s);
  EXPECT_EQ(result.exit_code, 7) << result.output << sandbox_.tails();
  EXPECT_NE(result.output.find("reconnected"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("mark=kept-42"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("terminal-mode-restored"), std::string::npos) << result.output;
  const auto history = listed_sessions("history");
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_EQ(history[0]["reason"], "exited with status 7");
}

// A session kept across a restart whose client does not come back: the new gateway waits for the
// grace, then ends it and the agent hangs up its processes. One whose node does not come back
// ends the same way, and its client, waiting for the node, is told why.
TEST_F(Sessions, AKeptSessionWhoseClientOrNodeDoesNotComeBackEndsAfterTheGrace) {
  ASSERT_EQ(gateway_->cli({"preferences", "set", "reconnect_grace_seconds", "5"}).exit_code, 0);
  ASSERT_FALSE(process_running("sleep 614")) << "left over from an earlier run";
  auto& client = start_sleeper("gone", "web", 14);
  gateway_->stop(SIGTERM);
  client.kill_group();  // the client does not come back
  EXPECT_TRUE(process_running("sleep 614")) << "the agent did not keep the session while the gateway was down";
  gateway_->start();
  json active;
  EXPECT_TRUE(wait_until([&] {
    active = listed_sessions("active");
    return active.size() == 1 && active[0].value("waiting_for", "") == "client";
  }, 2500ms)) << active.dump();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 614"); }, 15s)) << "the session outlived its grace";
  auto history = listed_sessions("history");
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_EQ(history[0]["status"], "Failed");
  EXPECT_EQ(history[0]["reason"], "the gateway restarted and its client did not come back within 5 s") << history.dump();

  // Now the node stays away: its client waits for it, and hears why the session ended.
  auto& waiting = start_sleeper("waiting", "web", 15);
  gateway_->stop(SIGTERM);
  agent_->kill_group();
  gateway_->start();
  const auto status = waiting.wait_for(20s);
  ASSERT_TRUE(status.has_value()) << waiting.stderr_text();
  EXPECT_EQ(*status, 13) << waiting.stderr_text();
  EXPECT_NE(waiting.stderr_text().find("the gateway restarted and its node did not come back within 5 s"),
            std::string::npos)
      << waiting.stderr_text();
  history = listed_sessions("history");
  ASSERT_EQ(history.size(), 2u) << history.dump();
  ::system("pkill -f '[s]leep 615'");
}

// A node that does not come back within the grace: the gateway ends the session and the agent,
// back later, has hung up its processes; so has an agent that restarts (it keeps nothing).
TEST_F(Sessions, ANodeThatDoesNotComeBackEndsItsSessionsAfterTheGrace) {
  ASSERT_EQ(gateway_->cli({"preferences", "set", "reconnect_grace_seconds", "2"}).exit_code, 0);
  CutProxy proxy(gateway_->port());
  add_roaming_node(proxy);
  ASSERT_FALSE(process_running("sleep 615")) << "left over from an earlier run";
  auto& client = start_sleeper("client", "roamer", 15);
  proxy.cut(true);
  RunResult listed;  // the grace is short: looked at as soon as the gateway knows
  EXPECT_TRUE(wait_until([&] {
    listed = gateway_->cli({"sessions", "ls"});
    return listed.out.find("Connected (waiting for node)") != std::string::npos;
  }, 1500ms)) << listed.describe();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(process_running("sleep 615")) << "the agent hung up before its grace";
  EXPECT_TRUE(client.running()) << "the session ended before its grace: " << client.stderr_text();
  const auto status = client.wait_for(15s);
  ASSERT_TRUE(status.has_value()) << "the session outlived its grace: " << sandbox_.tails();
  EXPECT_EQ(*status, 13) << client.stderr_text();
  EXPECT_NE(client.stderr_text().find("connection to the node was lost"), std::string::npos) << client.stderr_text();
  const auto history = listed_sessions("history");
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_NE(history[0]["reason"].get<std::string>().find("did not come back within 2 s"), std::string::npos)
      << history.dump();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 615"); }, 15s)) << "the agent kept the session past its grace";
  proxy.up();
}

// An agent that restarts keeps nothing: the session the gateway was keeping for it ends as soon
// as it is back, not after the grace.
TEST_F(Sessions, ASessionEndsAtOnceWhenItsNodeComesBackWithoutIt) {
  CutProxy proxy(gateway_->port());
  add_roaming_node(proxy);
  auto& client = start_sleeper("client", "roamer", 16);
  proxy.cut(true);
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(client.running()) << "the session ended with the node's link: " << client.stderr_text();
  sandbox_.run("kill-agent", {"/usr/bin/pkill", "-KILL", "-f", "sallyport-agent run --state-dir .*agent-roamer"});
  sandbox_.run("kill-session", {"/usr/bin/pkill", "-KILL", "-f", "[s]leep 616"});
  const auto state_dir = sandbox_.root() / "agent-roamer";
  sandbox_.spawn("agent-roamer-again", {Binaries::agent(), "run", "--state-dir", state_dir.string(), "--max-backoff", "1s"});
  proxy.up();
  const auto status = client.wait_for(15s);  // the grace is 60 s
  ASSERT_TRUE(status.has_value()) << "the session waited for a node that had lost it: " << sandbox_.tails();
  EXPECT_EQ(*status, 13) << client.stderr_text();
  const auto history = listed_sessions("history");
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_NE(history[0]["reason"].get<std::string>().find("no longer has the session"), std::string::npos) << history.dump();
}

// An agent that dies is not a network blink: its kernel closes the link, and its sessions end
// at once instead of waiting for the grace. (Killed with bytes still unread, it would be reset
// instead, which looks like a broken network: the session then waits for the agent to come back
// without it, or for the grace. So the agent first reads what the session's start sent it.)
TEST_F(Sessions, SessionsEndAtOnceWhenTheirAgentDies) {
  auto& client = start_sleeper("client", "web", 17);
  std::this_thread::sleep_for(1s);
  agent_->signal(SIGKILL);
  const auto status = client.wait_for(10s);  // the grace is 60 s
  sandbox_.run("kill-session", {"/usr/bin/pkill", "-KILL", "-f", "[s]leep 617"});
  ASSERT_TRUE(status.has_value()) << "the session waited for an agent that had died: " << sandbox_.tails();
  EXPECT_EQ(*status, 13) << client.stderr_text();
  EXPECT_NE(client.stderr_text().find("connection to the node was lost"), std::string::npos) << client.stderr_text();
  EXPECT_EQ(client.stderr_text().find("waiting up to"), std::string::npos) << client.stderr_text();
}

// An agent told to stop hangs up its sessions and exits; it does not wait for a grace.
TEST_F(Sessions, AnAgentThatStopsEndsItsSessionsAndExits) {
  auto& client = start_sleeper("client", "web", 18);
  const auto began = std::chrono::steady_clock::now();
  agent_->signal(SIGTERM);
  EXPECT_TRUE(agent_->wait_for(10s).has_value()) << "the agent did not exit: " << sandbox_.tails();
  // The shell dies of its SIGHUP at once: nothing is left to wait for (a restart of the agent
  // should not stall for the SIGKILL grace).
  EXPECT_LT(std::chrono::steady_clock::now() - began, 3s);
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 618"); }, 10s)) << "the session's process outlived its agent";
  const auto status = client.wait_for(10s);
  ASSERT_TRUE(status.has_value()) << sandbox_.tails();
  EXPECT_EQ(*status, 13) << client.stderr_text();
}

// The same while the link is down and the sessions wait for it: stopping does not wait out
// their grace either.
TEST_F(Sessions, AnAgentThatStopsWhileItsLinkIsDownExitsAtOnce) {
  CutProxy proxy(gateway_->port());
  add_roaming_node(proxy);
  auto& client = start_sleeper("client", "roamer", 19);
  proxy.cut(true);
  ASSERT_TRUE(wait_until([&] { return roamer_->stderr_text().find("reconnecting") != std::string::npos; }, 10s))
      << sandbox_.tails();
  const auto began = std::chrono::steady_clock::now();
  roamer_->signal(SIGTERM);
  EXPECT_TRUE(roamer_->wait_for(15s).has_value()) << "the agent did not exit: " << sandbox_.tails();
  EXPECT_LT(std::chrono::steady_clock::now() - began, 3s);
  EXPECT_FALSE(process_running("sleep 619")) << "the session's process outlived its agent";
  client.kill_group();
}

// A client that does not come back within the grace: the session ends and its processes with
// it; the client, back later, is told how it ended.
TEST_F(Sessions, ASessionWhoseClientDoesNotComeBackEndsAfterTheGrace) {
  ASSERT_EQ(gateway_->cli({"preferences", "set", "reconnect_grace_seconds", "2"}).exit_code, 0);
  CutProxy proxy(gateway_->port());
  login_through(proxy);
  ASSERT_FALSE(process_running("sleep 613")) << "left over from an earlier run";
  auto& client = start_sleeper("roaming", "web", 13, "roaming");
  ASSERT_TRUE(wait_until([&] {
    return !listed_sessions("active").empty() && process_running("sleep 613");
  }, 10s)) << sandbox_.tails();
  proxy.cut(true);
  json waiting;  // the grace is short: looked at as soon as the gateway knows
  EXPECT_TRUE(wait_until([&] {
    waiting = listed_sessions("active");
    return waiting.size() == 1 && waiting[0].value("waiting_for", "") == "client";
  }, 1500ms)) << waiting.dump();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(process_running("sleep 613")) << "the session ended before its grace: " << client.stderr_text();
  EXPECT_TRUE(wait_until([] { return !process_running("sleep 613"); }, 15s)) << "the session outlived its grace";
  const auto history = listed_sessions("history");
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_NE(history[0]["reason"].get<std::string>().find("did not reconnect within 2 s"), std::string::npos)
      << history.dump();
  proxy.up();
  const auto status = client.wait_for(15s);
  ASSERT_TRUE(status.has_value()) << client.stderr_text();
  EXPECT_EQ(*status, 13) << client.stderr_text();
  EXPECT_NE(client.stderr_text().find("ended while this client was away"), std::string::npos) << client.stderr_text();
}
