// sallyport-tcp-bench: the TCP ends of bench/port_forward.sh. Plain POSIX sockets, no
// dependencies, so it measures the paths between its ends and nothing of its own.
//   sink PORT              accept connections one at a time; read each to end-of-file, then
//                          answer the byte count (8 bytes) and close
//   echo PORT              accept connections; echo every byte back (a thread each)
//   send PORT MIB          send MIB mebibytes to 127.0.0.1:PORT, half-close, wait for the
//                          sink's count; prints "<bytes> <seconds> <MiB/s>"
//   connect PORT COUNT     COUNT times: connect, send one byte, read it back, close; prints the
//                          mean and median milliseconds
//   pingpong PORT COUNT    on one connection, COUNT times: send one byte, read it back; prints
//                          the median and 99th percentile milliseconds
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kBufferBytes = 1 << 20;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

int listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) die("bind");
  if (::listen(fd, 128) != 0) die("listen");
  return fd;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) die("connect");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

int sink(int port) {
  const int listener = listen_on(port);
  std::vector<char> buffer(kBufferBytes);
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    std::uint64_t total = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n <= 0) break;
      total += static_cast<std::uint64_t>(n);
    }
    write_all(fd, reinterpret_cast<const char*>(&total), sizeof(total));
    ::close(fd);
  }
}

int echo(int port) {
  const int listener = listen_on(port);
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    std::thread([fd] {
      char buffer[65536];
      for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n <= 0 || !write_all(fd, buffer, static_cast<std::size_t>(n))) break;
      }
      ::close(fd);
    }).detach();
  }
}

int send(int port, std::uint64_t mib) {
  std::vector<char> buffer(kBufferBytes, 'x');
  const std::uint64_t bytes = mib << 20;
  const auto began = std::chrono::steady_clock::now();
  const int fd = connect_to(port);
  for (std::uint64_t sent = 0; sent < bytes; sent += buffer.size()) {
    if (!write_all(fd, buffer.data(), buffer.size())) die("write");
  }
  ::shutdown(fd, SHUT_WR);
  std::uint64_t counted = 0;
  std::size_t got = 0;
  while (got < sizeof(counted)) {
    const ssize_t n = ::read(fd, reinterpret_cast<char*>(&counted) + got, sizeof(counted) - got);
    if (n <= 0) die("read count");
    got += static_cast<std::size_t>(n);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  ::close(fd);
  if (counted != bytes) {
    std::fprintf(stderr, "sink counted %llu bytes, sent %llu\n", static_cast<unsigned long long>(counted),
                 static_cast<unsigned long long>(bytes));
    return 1;
  }
  std::printf("%llu %.3f %.1f\n", static_cast<unsigned long long>(bytes), seconds, static_cast<double>(mib) / seconds);
  return 0;
}

int connect_many(int port, int count) {
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const auto began = std::chrono::steady_clock::now();
    const int fd = connect_to(port);
    char byte = 'x';
    if (!write_all(fd, &byte, 1) || ::read(fd, &byte, 1) != 1) die("echo");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count());
    ::close(fd);
  }
  double sum = 0;
  for (double v : ms) sum += v;
  std::sort(ms.begin(), ms.end());
  std::printf("%.3f %.3f\n", sum / static_cast<double>(ms.size()), ms[ms.size() / 2]);
  return 0;
}

int pingpong(int port, int count) {
  const int fd = connect_to(port);
  std::vector<double> ms;
  char byte = 'x';
  for (int i = 0; i < count; ++i) {
    const auto began = std::chrono::steady_clock::now();
    if (!write_all(fd, &byte, 1) || ::read(fd, &byte, 1) != 1) die("echo");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count());
  }
  ::close(fd);
  std::sort(ms.begin(), ms.end());
  std::printf("%.3f %.3f\n", ms[ms.size() / 2], ms[ms.size() * 99 / 100]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sink" && argc == 3) return sink(std::atoi(argv[2]));
  if (mode == "echo" && argc == 3) return echo(std::atoi(argv[2]));
  if (mode == "send" && argc == 4) return send(std::atoi(argv[2]), std::strtoull(argv[3], nullptr, 10));
  if (mode == "connect" && argc == 4) return connect_many(std::atoi(argv[2]), std::atoi(argv[3]));
  if (mode == "pingpong" && argc == 4) return pingpong(std::atoi(argv[2]), std::atoi(argv[3]));
  std::fprintf(stderr,
               "usage: sallyport-tcp-bench sink PORT | echo PORT | send PORT MIB | connect PORT COUNT | "
               "pingpong PORT COUNT\n");
  return 2;
}
