// Base64 for binary session output, which recordings and the event log both carry: at
// hundreds of MiB/s through a session it was the gateway's largest cost of recording.
// OpenSSL's EVP_EncodeBlock and Beast's encoder go a byte at a time, and Debian 12 packages no
// vectorised encoder among our dependencies, so the encoders are here.
#include <cstring>

#include "sallyport/recording/asciicast.hpp"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sallyport::recording {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Two characters for every 12-bit value: one lookup per 12 bits instead of per 6.
struct Pairs {
  char pair[4096][2];
  constexpr Pairs() : pair() {
    for (int v = 0; v < 4096; ++v) {
      pair[v][0] = kAlphabet[v >> 6];
      pair[v][1] = kAlphabet[v & 63];
    }
  }
};
constexpr Pairs kPairs;

// Encodes whole groups of three and the padded tail.
void encode_scalar(const unsigned char* in, std::size_t n, char* o) {
  for (; n >= 3; n -= 3, in += 3, o += 4) {
    const unsigned v = (unsigned{in[0]} << 16) | (unsigned{in[1]} << 8) | in[2];
    std::memcpy(o, kPairs.pair[v >> 12], 2);
    std::memcpy(o + 2, kPairs.pair[v & 0xFFF], 2);
  }
  if (n > 0) {
    const unsigned v = (unsigned{in[0]} << 16) | (n == 2 ? unsigned{in[1]} << 8 : 0u);
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = n == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    o[3] = '=';
  }
}

#if defined(__x86_64__)
// The vector encoder follows Wojciech Muła's method: a shuffle puts each group of three bytes
// b0 b1 b2 into a 32-bit lane as b1 b0 b2 b1, two 16-bit multiplies move the four 6-bit values
// into the lane's four bytes, and a 16-entry table of offsets (chosen by which of the
// alphabet's five ranges a value falls in) turns values into characters. Two 12-byte groups
// per step, one in each 128-bit half (the shuffles work within halves). It returns how many
// input bytes it encoded, a multiple of 3, and stops while 4 spare bytes remain readable (a
// 16-byte load encodes 12); the scalar encoder does the rest.
__attribute__((target("avx2"))) std::size_t encode_avx2(const unsigned char* in, std::size_t n, char* out) {
  const __m256i spread = _mm256_broadcastsi128_si256(_mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10));
  // 0-25 -> 13 ('A'), 26-51 -> 0 ('a'), 52-61 -> 1-10 ('0'), 62 -> 11 ('+'), 63 -> 12 ('/').
  const __m256i offsets = _mm256_broadcastsi128_si256(_mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                                                    '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                                                    '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0));
  std::size_t done = 0;
  for (; n - done >= 28; done += 24, out += 32) {
    const __m128i low = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + done));
    const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + done + 12));
    const __m256i v = _mm256_shuffle_epi8(_mm256_set_m128i(high, low), spread);
    const __m256i first_third = _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00)), _mm256_set1_epi32(0x04000040));
    const __m256i second_fourth = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0)), _mm256_set1_epi32(0x01000010));
    const __m256i sextets = _mm256_or_si256(first_third, second_fourth);
    __m256i range = _mm256_subs_epu8(sextets, _mm256_set1_epi8(51));
    const __m256i capital = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), sextets);
    range = _mm256_or_si256(range, _mm256_and_si256(capital, _mm256_set1_epi8(13)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_add_epi8(sextets, _mm256_shuffle_epi8(offsets, range)));
  }
  return done;
}
#endif

bool supported(Base64Kernel kernel) {
#if defined(__x86_64__)
  if (kernel == Base64Kernel::kAvx2) return __builtin_cpu_supports("avx2");
#endif
  return kernel == Base64Kernel::kScalar;
}

void encode(Base64Kernel kernel, std::string& out, std::string_view bytes) {
  const std::size_t start = out.size();
  out.resize(start + base64_size(bytes.size()));
  char* o = out.data() + start;
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t done = 0;
#if defined(__x86_64__)
  if (kernel == Base64Kernel::kAvx2) done = encode_avx2(in, bytes.size(), o);
#endif
  encode_scalar(in + done, bytes.size() - done, o + done / 3 * 4);
}

}  // namespace

std::size_t base64_size(std::size_t bytes) { return (bytes + 2) / 3 * 4; }

void append_base64(std::string& out, std::string_view bytes) {
  static const Base64Kernel kernel = supported(Base64Kernel::kAvx2) ? Base64Kernel::kAvx2 : Base64Kernel::kScalar;
  encode(kernel, out, bytes);
}

bool append_base64_with(Base64Kernel kernel, std::string& out, std::string_view bytes) {
  if (!supported(kernel)) return false;
  encode(kernel, out, bytes);
  return true;
}

}  // namespace sallyport::recording
