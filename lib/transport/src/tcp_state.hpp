#pragma once
// What TCP knows about a connection that a read just found ended.

namespace sallyport::transport::impl {

// Whether the end of stream just read on `fd` is the peer's FIN: its process closed the socket
// or exited. After a reset the socket reads as ended too, once a send has taken the error;
// TCP's state (CLOSE_WAIT only after a FIN) tells them apart.
bool peer_closed_in_order(int fd);

}  // namespace sallyport::transport::impl
