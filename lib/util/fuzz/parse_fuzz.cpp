// Feeds arbitrary bytes to every parser of user-supplied text in util.
#include <cstdint>
#include <string_view>

#include "sallyport/util/duration.hpp"
#include "sallyport/util/tags.hpp"
#include "sallyport/util/time_format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sallyport::util::parse_duration(text);
  (void)sallyport::util::parse_tags(text);
  (void)sallyport::util::parse_since(text, 0);
  return 0;
}
