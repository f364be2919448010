// The S3 store's answers the uploader reads (the upload ID, error codes and ETag headers, bounded)
// and the upload progress file it reads back from disk.
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
  if (const auto progress = parse_upload_progress(input)) {
    std::size_t held = progress->upload_id.size();
    for (const auto& etag : progress->etags) {
      if (etag.empty() || etag.find('\n') != std::string::npos) std::abort();
      held += etag.size();
    }
    if (held > size) std::abort();
  }
  return 0;
}
