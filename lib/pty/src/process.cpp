#include "sallyport/pty/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sallyport/util/files.hpp"

namespace sallyport::pty {
namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int value) : fd(value) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    const int value = fd;
    fd = -1;
    return value;
  }
};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void make_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Everything the child needs, prepared before fork so the child only makes system calls.
struct Prepared {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string program;
};

Prepared prepare(const SpawnOptions& options, bool interactive) {
  Prepared prepared;
  const std::string& shell = options.user.shell;
  prepared.program = shell;
  if (interactive) {
    const auto slash = shell.rfind('/');
    prepared.argv_storage = {"-" + shell.substr(slash == std::string::npos ? 0 : slash + 1)};  // a login shell
  } else {
    // Like ssh: the words are joined and given to the user's shell.
    std::string line;
    for (const auto& word : options.command) line += (line.empty() ? "" : " ") + word;
    prepared.argv_storage = {shell, "-c", line};
  }
  prepared.env_storage = {"HOME=" + options.user.home, "USER=" + options.user.name, "LOGNAME=" + options.user.name,
                          "SHELL=" + shell, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "LANG=C.UTF-8"};
  if (interactive) prepared.env_storage.push_back("TERM=" + options.term);
  for (const auto& [key, value] : options.extra_env) prepared.env_storage.push_back(key + "=" + value);
  for (auto& arg : prepared.argv_storage) prepared.argv.push_back(arg.data());
  prepared.argv.push_back(nullptr);
  for (auto& entry : prepared.env_storage) prepared.envp.push_back(entry.data());
  prepared.envp.push_back(nullptr);
  return prepared;
}

// In the child: everything above the three streams closes at exec (the error pipe stays usable
// until then). The agent's link socket, event loop and other sessions' descriptors would
// otherwise reach every session process: Asio opens sockets without close-on-exec, and a live
// copy of the link keeps it open after the agent dies.
void close_inherited_on_exec() {
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  const long limit = std::min(::sysconf(_SC_OPEN_MAX), 65536L);  // kernels before 5.11
  for (int fd = 3; fd < limit; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// In the child: become the user, go home, exec. On failure report errno through the pipe.
[[noreturn]] void become_and_exec(const SpawnOptions& options, Prepared& prepared, int error_pipe) {
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) ::signal(signal_number, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::geteuid() == 0) {
    if (::initgroups(options.user.name.c_str(), options.user.gid) != 0 || ::setgid(options.user.gid) != 0 ||
        ::setuid(options.user.uid) != 0) {
      const int error = errno;
      (void)!::write(error_pipe, &error, sizeof error);
      ::_exit(126);
    }
  }
  if (::chdir(options.user.home.c_str()) != 0) (void)!::chdir("/");
  close_inherited_on_exec();
  ::execve(prepared.program.c_str(), prepared.argv.data(), prepared.envp.data());
  const int error = errno;
  (void)!::write(error_pipe, &error, sizeof error);
  ::_exit(127);
}

void check_run_as(const SpawnOptions& options) {
  if (::geteuid() != 0 && options.user.uid != ::geteuid()) {
    throw PtyError("the agent runs as uid " + std::to_string(::geteuid()) + " and cannot start sessions as " +
                   options.user.name + "; run the agent as root or choose that user as run-as");
  }
}

// Waits for the child's exec: an empty read means exec succeeded (the pipe closed on exec).
void await_exec(pid_t pid, Fd& error_read, const SpawnOptions& options) {
  int error = 0;
  ssize_t n;
  while ((n = ::read(error_read.fd, &error, sizeof error)) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    ::waitpid(pid, nullptr, 0);
    throw PtyError("cannot start " + options.user.shell + " as " + options.user.name + ": " + std::strerror(error));
  }
}

}  // namespace

Process spawn_interactive(const SpawnOptions& options) {
  check_run_as(options);
  Prepared prepared = prepare(options, true);
  Fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master.fd < 0 || ::grantpt(master.fd) != 0 || ::unlockpt(master.fd) != 0) throw PtyError(errno_text("posix_openpt"));
  char slave_name[128];
  if (::ptsname_r(master.fd, slave_name, sizeof slave_name) != 0) throw PtyError(errno_text("ptsname"));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw PtyError(errno_text("pipe"));
  Fd error_read(pipe_fds[0]), error_write(pipe_fds[1]);
  winsize size{};
  size.ws_col = options.cols;
  size.ws_row = options.rows;

  const pid_t pid = ::fork();
  if (pid < 0) throw PtyError(errno_text("fork"));
  if (pid == 0) {
    ::setsid();
    const int slave = ::open(slave_name, O_RDWR);
    if (slave < 0) ::_exit(126);
    ::ioctl(slave, TIOCSCTTY, 0);
    ::ioctl(slave, TIOCSWINSZ, &size);
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    if (slave > 2) ::close(slave);
    become_and_exec(options, prepared, error_write.fd);
  }
  ::close(error_write.release());
  await_exec(pid, error_read, options);
  make_nonblocking(master.fd);
  Process process;
  process.pid = pid;
  process.pty_master = master.release();
  return process;
}

Process spawn_command(const SpawnOptions& options) {
  check_run_as(options);
  Prepared prepared = prepare(options, false);
  int in[2], out[2], err[2], status_pipe[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw PtyError(errno_text("pipe"));
  Fd in_read(in[0]), in_write(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) throw PtyError(errno_text("pipe"));
  Fd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) throw PtyError(errno_text("pipe"));
  Fd err_read(err[0]), err_write(err[1]);
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) throw PtyError(errno_text("pipe"));
  Fd error_read(status_pipe[0]), error_write(status_pipe[1]);
  // A bulk stream (`tar c | …`) moves in kCommandPipeBytes pieces. Not stderr: bulk rarely goes
  // there, and each enlarged pipe counts against the user's pipe-user-pages-soft (64 MiB by
  // default) for an agent not running as root.
  for (const int fd : {in_write.fd, out_read.fd}) util::enlarge_pipe(fd, kCommandPipeBytes);

  const pid_t pid = ::fork();
  if (pid < 0) throw PtyError(errno_text("fork"));
  if (pid == 0) {
    ::setsid();
    ::dup2(in_read.fd, 0);
    ::dup2(out_write.fd, 1);
    ::dup2(err_write.fd, 2);
    become_and_exec(options, prepared, error_write.fd);
  }
  ::close(error_write.release());
  ::close(in_read.release());
  ::close(out_write.release());
  ::close(err_write.release());
  await_exec(pid, error_read, options);
  Process process;
  process.pid = pid;
  process.stdin_fd = in_write.release();
  process.stdout_fd = out_read.release();
  process.stderr_fd = err_read.release();
  make_nonblocking(process.stdin_fd);
  make_nonblocking(process.stdout_fd);
  make_nonblocking(process.stderr_fd);
  return process;
}

void resize(int pty_master, unsigned short cols, unsigned short rows) {
  winsize size{};
  size.ws_col = cols;
  size.ws_row = rows;
  ::ioctl(pty_master, TIOCSWINSZ, &size);
}

std::optional<ExitStatus> try_reap(pid_t pid) {
  int status = 0;
  pid_t result;
  while ((result = ::waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (result <= 0) return std::nullopt;
  ExitStatus exit;
  if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  return exit;
}

void signal_group(pid_t pid, int signal_number) {
  if (pid > 0) ::kill(-pid, signal_number);
}

}  // namespace sallyport::pty
