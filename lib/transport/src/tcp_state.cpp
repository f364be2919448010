#include "tcp_state.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace sallyport::transport::impl {

bool peer_closed_in_order(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return true;
  return info.tcpi_state == TCP_CLOSE_WAIT;
}

}  // namespace sallyport::transport::impl
