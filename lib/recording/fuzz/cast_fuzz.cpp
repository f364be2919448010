// Recording lines as read back by the API and the CLI player, and the byte escaper.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sallyport/recording/asciicast.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::recording;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)parse_event(input);
  // Any bytes, escaped and parsed back, are the same bytes.
  std::string escaped;
  append_json_bytes(escaped, input, true);
  const auto event = parse_event(encode_event(1.0, "o", escaped));
  if (!event || event->data != input) std::abort();
  return 0;
}
