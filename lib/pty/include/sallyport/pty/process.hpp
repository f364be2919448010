#pragma once
// A session's process. Interactive sessions get a login shell on a new pseudo-terminal;
// commands get three pipes so stdout and stderr stay apart and stdin can be closed (EOF).
// Either way the child leads its own session, so one kill(-pid) reaches the whole group.
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sallyport::pty {

struct PtyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunAsUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};

enum class CreateUser { kNo, kYes };

// Looks the user up; creates it (no sudo rights, a home directory, /bin/bash) when missing and
// create is kYes. Throws PtyError with a message for the person starting the session.
RunAsUser resolve_run_as_user(const std::string& name, CreateUser create);
bool valid_user_name(const std::string& name);

struct SpawnOptions {
  RunAsUser user;
  std::vector<std::string> command;  // empty: the user's login shell (interactive)
  std::string term = "xterm-256color";
  unsigned short cols = 80;
  unsigned short rows = 24;
  std::vector<std::pair<std::string, std::string>> extra_env;  // e.g. SALLYPORT_SESSION_ID
};

struct Process {
  pid_t pid = -1;
  int pty_master = -1;  // interactive only
  int stdin_fd = -1;    // command only: write end
  int stdout_fd = -1;   // command only: read end
  int stderr_fd = -1;   // command only: read end
};

// The size a command's stdin and stdout pipes are given (where the system allows).
inline constexpr std::size_t kCommandPipeBytes = 256 * 1024;

// Starts the process; switches to the user when running as root. All returned fds are
// non-blocking and close-on-exec. Throws PtyError.
Process spawn_interactive(const SpawnOptions& options);
Process spawn_command(const SpawnOptions& options);

void resize(int pty_master, unsigned short cols, unsigned short rows);

struct ExitStatus {
  std::optional<int> exit_code;
  std::optional<int> signal;
};
// Non-blocking reap of one child; nullopt while it runs.
std::optional<ExitStatus> try_reap(pid_t pid);
// Signals the child's whole process group.
void signal_group(pid_t pid, int signal);

}  // namespace sallyport::pty
