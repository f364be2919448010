// Feeds arbitrary bytes to every parser in crypto that sees outside input (hex, base64url,
// pinned fingerprints, PEM certificates) and checks their round-trip invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sallyport/crypto/crypto.hpp"
#include "sallyport/crypto/pki.hpp"

namespace {

using namespace sallyport::crypto;

void require(bool condition) {
  if (!condition) std::abort();
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (const auto bytes = hex_decode(input)) {
    require(bytes->size() * 2 == input.size());
    require(hex_encode(*bytes) == lowercase(input));
  }
  if (const auto bytes = base64url_decode(input)) {
    // Decoding is strict (no padding, canonical trailing bits), so encoding restores the input.
    require(base64url_encode(*bytes) == input);
  }
  if (const auto fingerprint = normalize_fingerprint(input)) {
    require(fingerprint->size() == 7 + 64);
    require(normalize_fingerprint(*fingerprint) == fingerprint);
  }
  if (const auto fingerprint = certificate_fingerprint(input)) {
    require(normalize_fingerprint(*fingerprint) == fingerprint);
  }
  return 0;
}
