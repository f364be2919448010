#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "sallyport/pty/process.hpp"

namespace sallyport::pty {
namespace {

std::optional<RunAsUser> lookup(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* result = nullptr;
  if (::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result) != 0 || !result) return std::nullopt;
  RunAsUser user;
  user.name = name;
  user.uid = entry.pw_uid;
  user.gid = entry.pw_gid;
  user.home = entry.pw_dir ? entry.pw_dir : "/";
  user.shell = entry.pw_shell && *entry.pw_shell ? entry.pw_shell : "/bin/sh";
  return user;
}

// useradd with a home directory and bash; no extra groups, so no sudo rights.
void create_user(const std::string& name) {
  const pid_t pid = ::fork();
  if (pid < 0) throw PtyError(std::string("cannot create user ") + name + ": " + std::strerror(errno));
  if (pid == 0) {
    const char* argv[] = {"useradd", "--create-home", "--shell", "/bin/bash", "--user-group", name.c_str(), nullptr};
    ::execvp("useradd", const_cast<char* const*>(argv));
    ::execv("/usr/sbin/useradd", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // Exit 9 means another session created it at the same time: fine.
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 9)) {
    throw PtyError("cannot create run-as user " + name + " (useradd failed)");
  }
}

}  // namespace

bool valid_user_name(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

RunAsUser resolve_run_as_user(const std::string& name, CreateUser create) {
  if (!valid_user_name(name)) throw PtyError("'" + name.substr(0, 40) + "' is not a valid run-as user name");
  static std::mutex creating;
  std::lock_guard lock(creating);
  if (auto user = lookup(name)) return *user;
  if (create == CreateUser::kNo) {
    throw PtyError("run-as user " + name + " does not exist on this node (start the agent with --create-run-as-user to create it)");
  }
  if (::geteuid() != 0) throw PtyError("run-as user " + name + " does not exist and the agent is not root, so it cannot create it");
  create_user(name);
  if (auto user = lookup(name)) return *user;
  throw PtyError("run-as user " + name + " was created but cannot be found");
}

}  // namespace sallyport::pty
