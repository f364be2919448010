#include "cut_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <string>
#include <vector>

#include "harness.hpp"

namespace sallyport::e2e {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

// Closing with a zero linger time sends a reset instead of a FIN.
void reset(int fd) {
  const linger abort_now{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
  ::close(fd);
}

// One direction of a relayed connection: bytes read from `from` not yet written to `to`.
struct Pipe {
  int from = -1, to = -1;
  std::string pending;
  bool ended = false;  // `from` reached its end; `to` was shut down for writing
};

struct Connection {
  Pipe up, down;  // client -> gateway, gateway -> client
};

// Moves what it can without blocking; false when the connection failed.
bool pump(Pipe& pipe) {
  if (!pipe.pending.empty()) {
    const ssize_t n = ::send(pipe.to, pipe.pending.data(), pipe.pending.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    pipe.pending.erase(0, static_cast<std::size_t>(n));
    return true;
  }
  if (pipe.ended) return true;
  char buffer[64 * 1024];
  const ssize_t n = ::recv(pipe.from, buffer, sizeof buffer, 0);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  if (n == 0) {
    pipe.ended = true;
    ::shutdown(pipe.to, SHUT_WR);  // pass an orderly end on as one
    return true;
  }
  pipe.pending.assign(buffer, static_cast<std::size_t>(n));
  return pump(pipe);
}

}  // namespace

CutProxy::CutProxy(std::uint16_t target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int on = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(listener_, generic, sizeof address) != 0 || ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, generic, &length) != 0 || ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw E2eError("the cut proxy cannot listen");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { run(); });
}

CutProxy::~CutProxy() {
  stop_ = true;
  wake();
  thread_.join();
  ::close(listener_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void CutProxy::cut(bool down) {
  down_ = down;
  frozen_ = false;
  ++cut_requests_;
  wake();
}

void CutProxy::up() { down_ = false; }

void CutProxy::freeze() {
  frozen_ = true;
  wake();
}

void CutProxy::wake() {
  const char byte = 1;
  [[maybe_unused]] const auto ignored = ::write(wake_[1], &byte, 1);
}

void CutProxy::run() {
  std::list<Connection> connections;
  int cuts_done = 0;
  auto reset_connection = [&](Connection& connection) {
    reset(connection.up.from);
    reset(connection.up.to);
    ++cuts_;
  };
  while (!stop_) {
    if (cut_requests_ != cuts_done) {
      cuts_done = cut_requests_;
      for (auto& connection : connections) reset_connection(connection);
      connections.clear();
    }
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
    const bool frozen = frozen_;
    for (auto& connection : connections) {
      if (frozen) break;
      for (Pipe* pipe : {&connection.up, &connection.down}) {
        fds.push_back({pipe->from, static_cast<short>(pipe->pending.empty() && !pipe->ended ? POLLIN : 0), 0});
        fds.push_back({pipe->to, static_cast<short>(pipe->pending.empty() ? 0 : POLLOUT), 0});
      }
    }
    if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) {
      char drain[64];
      while (::read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    if (fds[1].revents & POLLIN) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (client >= 0 && down_) {
        reset(client);
        ++cuts_;
      } else if (client >= 0) {
        const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in target = loopback(target_port_);
        if (::connect(server, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
          reset(client);
          ::close(server);
        } else {
          ::fcntl(server, F_SETFL, ::fcntl(server, F_GETFL) | O_NONBLOCK);
          Connection connection;
          connection.up = {client, server, {}, false};
          connection.down = {server, client, {}, false};
          connections.push_back(std::move(connection));
        }
      }
    }
    for (auto it = connections.begin(); it != connections.end() && !frozen;) {
      const bool ok = pump(it->up) && pump(it->down);
      const bool finished = it->up.ended && it->down.ended && it->up.pending.empty() && it->down.pending.empty();
      if (!ok || finished) {
        if (ok) {
          ::close(it->up.from);
          ::close(it->up.to);
        } else {
          reset_connection(*it);
        }
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& connection : connections) reset_connection(connection);
}

}  // namespace sallyport::e2e
