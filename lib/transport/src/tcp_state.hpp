#pragma once
// Whether a read that failed means the connection ended (the peer closed it, or we did) or broke
// (what a network blink looks like): MessageSocket::lost() for links and WebSockets alike.
#include <boost/system/error_code.hpp>

namespace sallyport::transport::impl {

// An end of stream (with or without TLS's close_notify) counts as an end only when it is the
// peer's FIN: its process closed the socket or exited. After a reset the socket reads as ended
// too, once a send has taken the error; TCP's state (CLOSE_WAIT only after a FIN) tells them
// apart. Our own close() (operation_aborted) is an end; a reset or anything else is not.
bool read_ended_in_order(const boost::system::error_code& error, int fd);

}  // namespace sallyport::transport::impl
