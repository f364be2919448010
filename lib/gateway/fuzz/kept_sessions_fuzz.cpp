// The kept-sessions file a stopping gateway writes and the next start reads: its own file in the
// data folder, fuzzed all the same because a damaged or hand-edited one must be refused, not
// crash the start. Whatever parses must encode and parse back to the same list.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sallyport/gateway/kept_sessions.hpp"

using namespace sallyport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto parsed = gateway::parse_kept_sessions(text, error);
  if (!parsed) {
    if (error.empty()) std::abort();
    return 0;
  }
  const std::string encoded = gateway::encode_kept_sessions(*parsed);
  const auto again = gateway::parse_kept_sessions(encoded, error);
  if (!again || again->size() != parsed->size()) std::abort();
  for (std::size_t i = 0; i < parsed->size(); ++i) {
    const auto& a = (*parsed)[i];
    const auto& b = (*again)[i];
    if (a.id != b.id || a.channel != b.channel || a.resume_token_sha256 != b.resume_token_sha256 || a.cols != b.cols ||
        a.rows != b.rows || a.bytes_in != b.bytes_in || a.bytes_out != b.bytes_out ||
        a.last_activity != b.last_activity || a.input_frames != b.input_frames || a.output_frames != b.output_frames) {
      std::abort();
    }
  }
  return 0;
}
