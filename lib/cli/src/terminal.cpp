#include "terminal.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>

#include "error.hpp"

namespace sallyport::cli {
namespace {

constexpr std::size_t kMaxSecretBytes = 4096;
constexpr std::array kRestoreSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Read by the signal handler: the terminal whose echo is off and its previous settings.
volatile std::sig_atomic_t g_echo_off_fd = -1;
struct termios g_saved_termios;

extern "C" void restore_echo_and_reraise(int signal_number) {
  const int fd = g_echo_off_fd;
  if (fd >= 0) ::tcsetattr(fd, TCSAFLUSH, &g_saved_termios);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  ::sigaction(signal_number, &default_action, nullptr);
  ::raise(signal_number);
}

void write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    written += static_cast<std::size_t>(n);
  }
}

// Echo off for the lifetime of the object, with handlers that put it back on a signal.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &g_saved_termios) != 0) return;
    struct termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    struct sigaction action {};
    action.sa_handler = restore_echo_and_reraise;
    ::sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < kRestoreSignals.size(); ++i) {
      ::sigaction(kRestoreSignals[i], &action, &previous_[i]);
    }
    g_echo_off_fd = fd_;
    active_ = ::tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(fd_, TCSAFLUSH, &g_saved_termios);
    g_echo_off_fd = -1;
    for (std::size_t i = 0; i < kRestoreSignals.size(); ++i) ::sigaction(kRestoreSignals[i], &previous_[i], nullptr);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  bool active_ = false;
  std::array<struct sigaction, kRestoreSignals.size()> previous_{};
};

}  // namespace

std::optional<std::string> read_secret_from_tty(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string secret;
  bool too_long = false;
  {
    EchoOff echo_off(fd);
    if (!echo_off.active()) {
      ::close(fd);
      return std::nullopt;  // not a terminal we can silence: never read a password with echo on
    }
    write_all(fd, prompt);
    char c = 0;
    for (;;) {
      const ssize_t n = ::read(fd, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || c == '\n') break;
      if (secret.size() >= kMaxSecretBytes) {
        too_long = true;
        continue;  // drain the rest of the line
      }
      secret.push_back(c);
    }
  }
  ::close(fd);
  if (too_long) throw usage_error("the password is longer than 4096 bytes");
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  return secret;
}

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }

}  // namespace sallyport::cli
