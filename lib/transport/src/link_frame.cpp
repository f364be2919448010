#include "link_frame.hpp"

namespace sallyport::transport::impl {

FrameHeader encode_frame_header(FrameKind kind, std::size_t payload_bytes) {
  return {static_cast<unsigned char>(kind), static_cast<unsigned char>(payload_bytes >> 16),
          static_cast<unsigned char>(payload_bytes >> 8), static_cast<unsigned char>(payload_bytes)};
}

DecodedFrame decode_frame(std::string_view bytes, std::size_t max_message_bytes) {
  DecodedFrame decoded;
  if (bytes.size() < kFrameHeaderBytes) {
    decoded.frame_bytes = kFrameHeaderBytes;
    return decoded;
  }
  const auto byte = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i])); };
  const std::size_t kind = byte(0);
  const std::size_t length = byte(1) << 16 | byte(2) << 8 | byte(3);
  if (kind > static_cast<std::size_t>(FrameKind::close)) {
    decoded.status = DecodedFrame::Status::malformed;
    decoded.error = "unknown frame kind";
    return decoded;
  }
  decoded.kind = static_cast<FrameKind>(kind);
  if (decoded.kind == FrameKind::message ? length > max_message_bytes : length > kMaxControlPayloadBytes) {
    decoded.status = DecodedFrame::Status::malformed;
    decoded.error = decoded.kind == FrameKind::message ? "message too large" : "control frame too large";
    return decoded;
  }
  decoded.frame_bytes = kFrameHeaderBytes + length;
  if (bytes.size() < decoded.frame_bytes) return decoded;
  decoded.status = DecodedFrame::Status::frame;
  decoded.payload = bytes.substr(kFrameHeaderBytes, length);
  return decoded;
}

}  // namespace sallyport::transport::impl
