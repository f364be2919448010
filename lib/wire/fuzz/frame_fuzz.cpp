// Arbitrary bytes through both frame decoders and the control-message parser, as the gateway
// and agent would see them from the network.
#include <cstdint>
#include <string_view>

#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::wire;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto one = decode_one(bytes);
  const auto header = peek_header(bytes);
  if (header.has_value() != one.frame.has_value()) __builtin_trap();  // the relays' fast path agrees
  if (one.frame && one.frame->type == FrameType::kControl) (void)parse_control(one.frame->payload);
  StreamDecoder decoder;
  for (std::size_t i = 0; i < bytes.size(); i += 7) {
    decoder.feed(bytes.substr(i, 7));
    while (auto frame = decoder.next()) {
      if (frame->type == FrameType::kControl) (void)parse_control(frame->payload);
    }
  }
  return 0;
}
