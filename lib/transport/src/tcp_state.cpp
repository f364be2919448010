#include "tcp_state.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace sallyport::transport::impl {

bool read_ended_in_order(const boost::system::error_code& error, int fd) {
  namespace asio = boost::asio;
  if (error == asio::error::operation_aborted) return true;
  if (error != asio::error::eof && error != asio::ssl::error::stream_truncated) return false;
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return true;
  return info.tcpi_state == TCP_CLOSE_WAIT;
}

}  // namespace sallyport::transport::impl
