// Gateway URLs and listen addresses come from users and config files.
#include <cstdint>
#include <string_view>

#include "sallyport/transport/http_types.hpp"
#include "sallyport/transport/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sallyport::transport::parse_url(text);
  (void)sallyport::transport::parse_host_port(text);
  sallyport::transport::HttpRequest request;
  request.target = std::string(text);
  (void)request.query_param("since");
  return 0;
}
