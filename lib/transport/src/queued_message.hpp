#pragma once
// A message waiting in a socket's write queue: its own bytes, or bytes a resend queue keeps too
// (MessageSocket::write_shared), which are written from where they are rather than copied.
#include <memory>
#include <string>
#include <string_view>

namespace sallyport::transport::impl {

struct QueuedMessage {
  std::string owned;
  std::shared_ptr<const std::string> kept;

  std::string_view bytes() const { return kept ? std::string_view(*kept) : std::string_view(owned); }
};

}  // namespace sallyport::transport::impl
