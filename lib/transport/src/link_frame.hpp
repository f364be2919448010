#pragma once
// Framing of a Sallyport link: the binary protocol the agent and the CLI speak after an HTTP
// upgrade to kLinkProtocol (browsers speak WebSocket instead). Each frame is a 4-byte header,
// the kind and a 24-bit big-endian payload length, then the payload. Unlike WebSocket, client
// frames are not masked: masking guards browsers' intermediaries and cost both ends a pass
// over every byte. Pure functions, fuzzed (fuzz/link_frame_fuzz.cpp).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sallyport::transport::impl {

enum class FrameKind : std::uint8_t { message = 0, ping = 1, pong = 2, close = 3 };

constexpr std::size_t kFrameHeaderBytes = 4;
constexpr std::size_t kMaxFramePayloadBytes = (std::size_t{1} << 24) - 1;
constexpr std::size_t kMaxControlPayloadBytes = 125;  // ping, pong, close (a reason)

using FrameHeader = std::array<unsigned char, kFrameHeaderBytes>;
// Callers keep payload_bytes within kMaxFramePayloadBytes (and control payloads within theirs).
FrameHeader encode_frame_header(FrameKind kind, std::size_t payload_bytes);

struct DecodedFrame {
  enum class Status { incomplete, frame, malformed } status = Status::incomplete;
  FrameKind kind = FrameKind::message;
  std::string_view payload;  // into the decoded bytes
  std::size_t frame_bytes = 0;  // frame: bytes to consume; incomplete: bytes the frame needs in all
  const char* error = "";       // malformed: why
};

// Decodes the frame at the start of `bytes`. A message larger than max_message_bytes, a
// control frame over kMaxControlPayloadBytes or an unknown kind is malformed.
DecodedFrame decode_frame(std::string_view bytes, std::size_t max_message_bytes);

}  // namespace sallyport::transport::impl
