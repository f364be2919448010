// The S3 store's answers the uploader reads: the upload ID, error codes and ETag headers, bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sallyport/recording/s3.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sallyport::recording;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const std::string_view element : {"UploadId", "Code", "ETag"}) {
    const auto text = xml_element_text(input, element);
    if (text && (text->size() > 1024 || text->find('<') != std::string::npos)) std::abort();
  }
  if (const auto etag = etag_of_header_line(input); etag && etag->size() > 512) std::abort();
  return 0;
}
