#pragma once
// Framing of the agent link. Pure: bytes in, frames out; no I/O and no Asio types, so the whole
// decoder is fuzzed. Every WebSocket message between gateway and agent carries one frame; the
// length field also lets frames be streamed back to back over a plain byte stream.
//
//   0       1       2       3       4       5       6       7       8       9
//   +-------+-------+-------+-------+-------+-------+-------+-------+-------+---------....
//   | type  |       channel (u32, big endian)       |  payload length (u32, big endian) | payload
//   +-------+-------+-------+-------+-------+-------+-------+-------+-------+---------....
//
// type:    1 control (payload is one JSON object, see control.hpp)
//          2 data    (payload is raw bytes of the channel's stream: stdin, or stdout/PTY output)
//          3 credit  (payload is a u32 big-endian byte count the receiver may send more of)
//          4 stderr  (payload is raw bytes of a non-PTY command's standard error)
// channel: 0 is the link itself; sessions and streams use the ids the gateway assigns. On the
//          agent link, channels with kStreamChannelFlag set carry port-forwarding streams
//          (forward.hpp), the others shell and command sessions.
// Flow control: each side may have at most kInitialWindowBytes of data (types 2 and 4) in
// flight per channel; the receiver returns credit frames as it consumes the data.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::wire {

enum class FrameType : std::uint8_t { kControl = 1, kData = 2, kCredit = 3, kStderr = 4 };

constexpr std::size_t kHeaderBytes = 9;
constexpr std::size_t kMaxPayloadBytes = 256 * 1024;  // bounds memory per frame
constexpr std::size_t kMaxFrameBytes = kHeaderBytes + kMaxPayloadBytes;
constexpr std::size_t kInitialWindowBytes = 1024 * 1024;  // per channel and direction
constexpr std::size_t kDataChunkBytes = 256 * 1024;  // producers read at most this at once (a command's pipe)
static_assert(kDataChunkBytes <= kMaxPayloadBytes && kDataChunkBytes <= kInitialWindowBytes);
static_assert(kHeaderBytes == sizeof(std::uint8_t) + 2 * sizeof(std::uint32_t));
static_assert(kMaxPayloadBytes < (std::size_t{1} << 31));

constexpr std::uint32_t kStreamChannelFlag = 0x8000'0000;
constexpr bool is_stream_channel(std::uint32_t channel) { return (channel & kStreamChannelFlag) != 0; }

struct Frame {
  FrameType type = FrameType::kControl;
  std::uint32_t channel = 0;
  std::string payload;
};

enum class DecodeError { kNone, kUnknownType, kOversized, kTruncated, kTrailingBytes };
const char* to_string(DecodeError error);

// Encodes one frame. The payload must not exceed kMaxPayloadBytes (checked; throws
// std::length_error because that is a programming error on our side).
std::string encode(FrameType type, std::uint32_t channel, std::string_view payload);
std::string encode(const Frame& frame);
std::string encode_credit(std::uint32_t channel, std::uint32_t bytes);
// The byte count of a credit frame's payload; nullopt when it is not 4 bytes.
std::optional<std::uint32_t> decode_credit(std::string_view payload);

// Decodes a buffer holding exactly one frame (one WebSocket message).
struct DecodeResult {
  std::optional<Frame> frame;
  DecodeError error = DecodeError::kNone;
};
DecodeResult decode_one(std::string_view bytes);

// The header of a buffer holding exactly one frame, read without copying the payload (relays
// forward the buffer as it is); nullopt where decode_one would fail.
struct Header {
  FrameType type = FrameType::kControl;
  std::uint32_t channel = 0;
  std::uint32_t length = 0;
};
std::optional<Header> peek_header(std::string_view bytes);
// Rewrites the channel of an encoded frame in place (frame.size() >= kHeaderBytes).
void set_channel(std::string& frame, std::uint32_t channel);
// Writes a header into the first kHeaderBytes of out, so a payload read straight into
// out + kHeaderBytes becomes a frame without a copy.
void write_header(char* out, FrameType type, std::uint32_t channel, std::uint32_t length);

// Incremental decoder for a byte stream: feed() any chunk, then next() until it yields nothing.
// It holds at most one incomplete frame, so its memory is bounded by kMaxFrameBytes.
class StreamDecoder {
 public:
  void feed(std::string_view bytes);
  // A frame, nullopt when more bytes are needed; after an error, error() is set for good.
  std::optional<Frame> next();
  DecodeError error() const { return error_; }
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::string buffer_;
  std::size_t consumed_ = 0;
  DecodeError error_ = DecodeError::kNone;
};

}  // namespace sallyport::wire
