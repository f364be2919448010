#include "sallyport/wire/frame.hpp"

#include <stdexcept>

namespace sallyport::wire {
namespace {
std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
  return (std::uint32_t{static_cast<std::uint8_t>(bytes[at])} << 24) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 1])} << 16) |
         (std::uint32_t{static_cast<std::uint8_t>(bytes[at + 2])} << 8) |
         std::uint32_t{static_cast<std::uint8_t>(bytes[at + 3])};
}

void append_u32(std::string& out, std::uint32_t value) {
  out.push_back(static_cast<char>((value >> 24) & 0xff));
  out.push_back(static_cast<char>((value >> 16) & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

bool known_type(std::uint8_t type) { return type >= 1 && type <= 4; }

// Validates the header at the start of bytes (which holds at least kHeaderBytes).
DecodeError check_header(std::string_view bytes, std::uint32_t& length) {
  if (!known_type(static_cast<std::uint8_t>(bytes[0]))) return DecodeError::kUnknownType;
  length = read_u32(bytes, 5);
  if (length > kMaxPayloadBytes) return DecodeError::kOversized;
  return DecodeError::kNone;
}

Frame make_frame(std::string_view bytes, std::uint32_t length) {
  return Frame{static_cast<FrameType>(bytes[0]), read_u32(bytes, 1),
               std::string(bytes.substr(kHeaderBytes, length))};
}
}  // namespace

const char* to_string(DecodeError error) {
  switch (error) {
    case DecodeError::kNone: return "no error";
    case DecodeError::kUnknownType: return "unknown frame type";
    case DecodeError::kOversized: return "frame larger than the limit";
    case DecodeError::kTruncated: return "truncated frame";
    case DecodeError::kTrailingBytes: return "bytes after the frame";
  }
  return "unknown error";
}

std::string encode(FrameType type, std::uint32_t channel, std::string_view payload) {
  if (payload.size() > kMaxPayloadBytes) throw std::length_error("frame payload too large");
  std::string out;
  out.reserve(kHeaderBytes + payload.size());
  out.push_back(static_cast<char>(type));
  append_u32(out, channel);
  append_u32(out, static_cast<std::uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string encode(const Frame& frame) { return encode(frame.type, frame.channel, frame.payload); }

std::string encode_credit(std::uint32_t channel, std::uint32_t bytes) {
  std::string payload;
  append_u32(payload, bytes);
  return encode(FrameType::kCredit, channel, payload);
}

std::optional<std::uint32_t> decode_credit(std::string_view payload) {
  if (payload.size() != 4) return std::nullopt;
  return read_u32(payload, 0);
}

DecodeResult decode_one(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) return {std::nullopt, DecodeError::kTruncated};
  std::uint32_t length = 0;
  if (auto error = check_header(bytes, length); error != DecodeError::kNone) return {std::nullopt, error};
  if (bytes.size() < kHeaderBytes + length) return {std::nullopt, DecodeError::kTruncated};
  if (bytes.size() > kHeaderBytes + length) return {std::nullopt, DecodeError::kTrailingBytes};
  return {make_frame(bytes, length), DecodeError::kNone};
}

std::optional<Header> peek_header(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes) return std::nullopt;
  std::uint32_t length = 0;
  if (check_header(bytes, length) != DecodeError::kNone || bytes.size() != kHeaderBytes + length) return std::nullopt;
  return Header{static_cast<FrameType>(bytes[0]), read_u32(bytes, 1), length};
}

void set_channel(std::string& frame, std::uint32_t channel) {
  if (frame.size() < kHeaderBytes) throw std::length_error("not a frame");
  frame[1] = static_cast<char>((channel >> 24) & 0xff);
  frame[2] = static_cast<char>((channel >> 16) & 0xff);
  frame[3] = static_cast<char>((channel >> 8) & 0xff);
  frame[4] = static_cast<char>(channel & 0xff);
}

void write_header(char* out, FrameType type, std::uint32_t channel, std::uint32_t length) {
  if (length > kMaxPayloadBytes) throw std::length_error("frame payload too large");
  out[0] = static_cast<char>(type);
  for (int i = 0; i < 4; ++i) {
    out[1 + i] = static_cast<char>((channel >> (24 - 8 * i)) & 0xff);
    out[5 + i] = static_cast<char>((length >> (24 - 8 * i)) & 0xff);
  }
}

void StreamDecoder::feed(std::string_view bytes) {
  if (error_ != DecodeError::kNone) return;
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  if (buffered() + bytes.size() > 2 * kMaxFrameBytes) {  // caller did not drain with next()
    error_ = DecodeError::kOversized;
    buffer_.clear();
    consumed_ = 0;
    return;
  }
  buffer_.append(bytes);
}

std::optional<Frame> StreamDecoder::next() {
  if (error_ != DecodeError::kNone) return std::nullopt;
  const std::string_view pending = std::string_view(buffer_).substr(consumed_);
  if (pending.size() < kHeaderBytes) return std::nullopt;
  std::uint32_t length = 0;
  error_ = check_header(pending, length);
  if (error_ != DecodeError::kNone) {
    buffer_.clear();
    consumed_ = 0;
    return std::nullopt;
  }
  if (pending.size() < kHeaderBytes + length) return std::nullopt;
  Frame frame = make_frame(pending, length);
  consumed_ += kHeaderBytes + length;
  if (consumed_ > kMaxFrameBytes) {  // compact so the buffer never grows past ~2 frames
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return frame;
}

}  // namespace sallyport::wire
