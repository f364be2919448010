// A link's frames come from any peer that completed TLS and the upgrade: decode a byte
// stream frame by frame, as the link socket does, and check what the decoder promises.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "../src/link_frame.hpp"

namespace impl = sallyport::transport::impl;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kMax = 512 * 1024;
  for (;;) {
    const auto decoded = impl::decode_frame(rest, kMax);
    if (decoded.status == impl::DecodedFrame::Status::malformed) break;
    if (decoded.status == impl::DecodedFrame::Status::incomplete) {
      if (decoded.frame_bytes <= rest.size() || decoded.frame_bytes > kMax + impl::kFrameHeaderBytes) std::abort();
      break;
    }
    if (decoded.frame_bytes != impl::kFrameHeaderBytes + decoded.payload.size() || decoded.frame_bytes > rest.size() ||
        decoded.payload.data() != rest.data() + impl::kFrameHeaderBytes) {
      std::abort();
    }
    if (decoded.kind != impl::FrameKind::message && decoded.payload.size() > impl::kMaxControlPayloadBytes) std::abort();
    const auto header = impl::encode_frame_header(decoded.kind, decoded.payload.size());
    if (std::string_view(reinterpret_cast<const char*>(header.data()), header.size()) != rest.substr(0, 4)) std::abort();
    rest.remove_prefix(decoded.frame_bytes);
  }
  return 0;
}
