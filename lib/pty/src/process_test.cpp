#include "sallyport/pty/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace sallyport::pty;

namespace {

RunAsUser me() {
  const passwd* entry = ::getpwuid(::geteuid());
  return resolve_run_as_user(entry->pw_name, CreateUser::kNo);
}

// Reads until EOF/EIO or the deadline.
std::string drain(int fd, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

ExitStatus wait_exit(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (auto status = try_reap(pid)) return *status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "child did not exit";
  return {};
}

}  // namespace

TEST(Process, CommandKeepsStreamsApartAndReportsExit) {
  SpawnOptions options;
  options.user = me();
  options.command = {"read line; echo out:$line; echo err >&2; exit 3"};
  const auto process = spawn_command(options);
  ASSERT_EQ(::write(process.stdin_fd, "hello\n", 6), 6);
  ::close(process.stdin_fd);
  EXPECT_EQ(drain(process.stdout_fd), "out:hello\n");
  EXPECT_EQ(drain(process.stderr_fd), "err\n");
  const auto status = wait_exit(process.pid);
  EXPECT_EQ(status.exit_code, 3);
  ::close(process.stdout_fd);
  ::close(process.stderr_fd);
}

// A bulk stream moves in large pieces: a command's stdin and stdout hold kCommandPipeBytes, not
// Linux's default 64 KiB (an unprivileged user may go up to pipe-max-size, 1 MiB by default);
// stderr keeps the default.
TEST(Process, CommandPipesHoldALargeChunk) {
  SpawnOptions options;
  options.user = me();
  options.command = {"exit 0"};
  const auto process = spawn_command(options);
  EXPECT_EQ(::fcntl(process.stdin_fd, F_GETPIPE_SZ), static_cast<int>(kCommandPipeBytes));
  EXPECT_EQ(::fcntl(process.stdout_fd, F_GETPIPE_SZ), static_cast<int>(kCommandPipeBytes));
  EXPECT_LT(::fcntl(process.stderr_fd, F_GETPIPE_SZ), static_cast<int>(kCommandPipeBytes));
  wait_exit(process.pid);
  for (const int fd : {process.stdin_fd, process.stdout_fd, process.stderr_fd}) ::close(fd);
}

TEST(Process, InteractiveShellOnPtyWithSize) {
  SpawnOptions options;
  options.user = me();
  options.cols = 123;
  options.rows = 45;
  const auto process = spawn_interactive(options);
  const std::string input = "stty size; exit 7\n";
  ASSERT_EQ(::write(process.pty_master, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  const std::string output = drain(process.pty_master);
  EXPECT_NE(output.find("45 123"), std::string::npos) << output;
  EXPECT_EQ(wait_exit(process.pid).exit_code, 7);
  ::close(process.pty_master);
}

TEST(Process, SignalReachesTheGroup) {
  SpawnOptions options;
  options.user = me();
  options.command = {"sleep 30 & sleep 30"};
  const auto process = spawn_command(options);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  signal_group(process.pid, SIGHUP);
  EXPECT_EQ(wait_exit(process.pid).signal, SIGHUP);
  ::close(process.stdin_fd);
  ::close(process.stdout_fd);
  ::close(process.stderr_fd);
}

TEST(RunAsUser, ValidatesNamesAndReportsMissingUsers) {
  EXPECT_TRUE(valid_user_name("sallyport-user"));
  EXPECT_FALSE(valid_user_name("Root"));
  EXPECT_FALSE(valid_user_name("a;rm"));
  EXPECT_FALSE(valid_user_name(""));
  try {
    resolve_run_as_user("no-such-user-xyz", CreateUser::kNo);
    FAIL();
  } catch (const PtyError& error) {
    EXPECT_NE(std::string(error.what()).find("does not exist"), std::string::npos);
  }
}

// A session's processes get their three streams and nothing else of the agent's: not its link
// to the gateway, not its event loop. A descriptor opened without close-on-exec (as Asio opens
// sockets) must not reach them either.
TEST(Process, SessionProcessesInheritOnlyTheirStreams) {
  int leaky[2];
  ASSERT_EQ(::pipe(leaky), 0);  // no O_CLOEXEC
  struct stat pipe_stat {};
  ASSERT_EQ(::fstat(leaky[0], &pipe_stat), 0);
  const std::string leaked = "pipe:[" + std::to_string(pipe_stat.st_ino) + "]";
  const std::string list = "ls -l /proc/$$/fd/";

  SpawnOptions options;
  options.user = me();
  options.command = {list};
  const auto command = spawn_command(options);
  ::close(command.stdin_fd);
  const std::string listed = drain(command.stdout_fd);
  EXPECT_NE(listed.find(" 0 -> "), std::string::npos) << listed;
  EXPECT_EQ(listed.find(leaked), std::string::npos) << listed;
  EXPECT_EQ(wait_exit(command.pid).exit_code, 0);
  ::close(command.stdout_fd);
  ::close(command.stderr_fd);

  SpawnOptions shell_options;
  shell_options.user = me();
  const auto shell = spawn_interactive(shell_options);
  const std::string input = list + "; exit\n";
  ASSERT_EQ(::write(shell.pty_master, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  const std::string output = drain(shell.pty_master);
  EXPECT_NE(output.find(" 0 -> "), std::string::npos) << output;
  EXPECT_EQ(output.find(leaked), std::string::npos) << output;
  wait_exit(shell.pid);
  ::close(shell.pty_master);
  ::close(leaky[0]);
  ::close(leaky[1]);
}
