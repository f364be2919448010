#include "sallyport/recording/asciicast.hpp"

#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sallyport::recording {
namespace {

// Length of the valid UTF-8 sequence starting at s[0]: 1-4, 0 when invalid, or -n when the
// n available bytes are a valid but incomplete prefix.
int utf8_sequence(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  int length = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED) high = 0x9F;  // no UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  for (int i = 1; i < length; ++i) {
    if (static_cast<std::size_t>(i) >= s.size()) return -i;
    const auto b = static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
    if (i == 1 ? (b < low || b > high) : (b < 0x80 || b > 0xBF)) return 0;
  }
  return length;
}

// Hot for binary output (every NUL is one): a table, not snprintf, per escaped byte.
void append_escape(std::string& out, unsigned code_unit) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char escape[6] = {'\\', 'u', kHex[(code_unit >> 12) & 0xF], kHex[(code_unit >> 8) & 0xF],
                          kHex[(code_unit >> 4) & 0xF], kHex[code_unit & 0xF]};
  out.append(escape, sizeof escape);
}

}  // namespace

std::string encode_header(const Header& header) {
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [key, value] : header.env) env[key] = value;
  nlohmann::json sallyport = {{"session_id", header.session_id}, {"user", header.user},
                              {"node_id", header.node_id},       {"run_as", header.run_as},
                              {"kind", header.kind},             {"command", header.command}};
  nlohmann::json line = {{"version", 2},   {"width", header.width}, {"height", header.height},
                         {"timestamp", header.timestamp}, {"title", header.title}, {"env", env},
                         {"sallyport", sallyport}};
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

// Index of the first byte at or after i that needs more than a copy: a control character,
// '"', '\\' or a byte of a multi-byte sequence. Terminal output is mostly long runs without
// any, so they are found sixteen bytes at a time.
std::size_t plain_run(std::string_view bytes, std::size_t i) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  while (i + 16 <= bytes.size()) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes.data() + i));
    // Signed compare: bytes >= 0x80 are negative, so "below space" also finds them.
    const __m128i care = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(care));
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    i += 16;
  }
#endif
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    ++i;
  }
  return i;
}

std::optional<std::size_t> append_json_bytes_bounded(std::string& out, std::string_view bytes, bool final_chunk,
                                                     bool compact) {
  const std::size_t start = out.size();
  out.reserve(start + bytes.size() + bytes.size() / 16 + 16);  // text grows little: one allocation
  std::size_t i = 0;
  const auto over = [&] { return compact && out.size() - start > i + i / 3 + 64; };
  while (i < bytes.size()) {
    // Runs of printable ASCII, the bulk of terminal output, are copied whole.
    const std::size_t run = plain_run(bytes, i);
    if (run > i) {
      out.append(bytes.data() + i, run - i);
      i = run;
      if (over()) break;
      continue;
    }
    const auto b = static_cast<unsigned char>(bytes[i]);
    // push_back, not append of a literal: a newline every line of output made the call show.
    if (b == '"' || b == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(b));
      ++i;
    } else if (b < 0x20) {
      const char short_form = b == '\n' ? 'n' : b == '\r' ? 'r' : b == '\t' ? 't' : b == '\b' ? 'b' : b == '\f' ? 'f' : 0;
      if (short_form != 0) {
        out.push_back('\\');
        out.push_back(short_form);
      } else {
        append_escape(out, b);
      }
      ++i;
    } else {
      const int length = utf8_sequence(bytes.substr(i));
      if (length < 0 && !final_chunk) return bytes.size() - i;  // carried to the next chunk
      if (length <= 0) {
        append_escape(out, 0xDC00u + b);
        ++i;
      } else {
        out.append(bytes.substr(i, static_cast<std::size_t>(length)));
        i += static_cast<std::size_t>(length);
      }
    }
    if (over()) break;
  }
  if (over()) {
    out.resize(start);
    return std::nullopt;
  }
  return 0;
}

}  // namespace

std::optional<std::size_t> append_json_bytes_compact(std::string& out, std::string_view bytes, bool final_chunk) {
  return append_json_bytes_bounded(out, bytes, final_chunk, true);
}

std::size_t append_json_bytes(std::string& out, std::string_view bytes, bool final_chunk) {
  return *append_json_bytes_bounded(out, bytes, final_chunk, false);
}

std::string encode_event(double seconds, std::string_view code, std::string_view escaped) {
  char time[32];
  std::snprintf(time, sizeof time, "%.6f", seconds < 0 ? 0.0 : seconds);
  std::string line;
  line.reserve(escaped.size() + 32);
  line += '[';
  line += time;
  line += ", \"";
  line += code;
  line += "\", \"";
  line += escaped;
  line += "\"]\n";
  return line;
}

namespace {

// A small strict reader for the event array; nlohmann::json refuses lone surrogates.
class EventReader {
 public:
  explicit EventReader(std::string_view text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool consume(char c) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }
  std::optional<double> number() {
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
                                   text_[pos_] == 'e' || text_[pos_] == 'E' || text_[pos_] == '-' || text_[pos_] == '+')) {
      ++pos_;
    }
    if (start == pos_) return std::nullopt;
    const std::string digits(text_.substr(start, pos_ - start));
    char* end = nullptr;
    const double value = std::strtod(digits.c_str(), &end);
    if (end != digits.c_str() + digits.size() || !std::isfinite(value) || value < 0) return std::nullopt;
    return value;
  }
  std::optional<unsigned> hex4() {
    if (pos_ + 4 > text_.size()) return std::nullopt;
    unsigned value = 0;
    const auto result = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, value, 16);
    if (result.ec != std::errc() || result.ptr != text_.data() + pos_ + 4) return std::nullopt;
    pos_ += 4;
    return value;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::optional<std::string> string() {
    if (!consume('"')) return std::nullopt;
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) return std::nullopt;
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          auto unit = hex4();
          if (!unit) return std::nullopt;
          if (*unit >= 0xDC80 && *unit <= 0xDCFF) {
            out += static_cast<char>(*unit - 0xDC00);  // an escaped raw byte
          } else if (*unit >= 0xD800 && *unit <= 0xDBFF) {
            if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') return std::nullopt;
            pos_ += 2;
            auto low = hex4();
            if (!low || *low < 0xDC00 || *low > 0xDFFF) return std::nullopt;
            append_utf8(out, 0x10000 + ((*unit - 0xD800) << 10) + (*low - 0xDC00));
          } else if (*unit >= 0xDC00 && *unit <= 0xDFFF) {
            return std::nullopt;
          } else {
            append_utf8(out, *unit);
          }
          break;
        }
        default: return std::nullopt;
      }
    }
    return std::nullopt;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// Strict: a multiple of four characters of the standard alphabet, padding only at the end.
std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    const bool padding = c == '=' && i + 2 >= text.size() && (i + 1 == text.size() || text[i + 1] == '=');
    if (!alphabet && !padding) return std::nullopt;
  }
  std::string bytes(text.size() / 4 * 3 + 1, '\0');
  const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (decoded < 0) return std::nullopt;
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  bytes.resize(static_cast<std::size_t>(decoded) - padding);
  return bytes;
}

}  // namespace

std::optional<Event> parse_event(std::string_view line) {
  if (line.size() > kMaxEventLineBytes) return std::nullopt;
  EventReader reader(line);
  Event event;
  if (!reader.consume('[')) return std::nullopt;
  const auto time = reader.number();
  if (!time || !reader.consume(',')) return std::nullopt;
  auto code = reader.string();
  if (!code || code->empty() || code->size() > 8 || !reader.consume(',')) return std::nullopt;
  auto data = reader.string();
  if (!data || !reader.consume(']') || !reader.at_end()) return std::nullopt;
  event.time = *time;
  if (code->size() > kBase64Suffix.size() && code->ends_with(kBase64Suffix)) {
    auto bytes = decode_base64(*data);
    if (!bytes) return std::nullopt;
    code->resize(code->size() - kBase64Suffix.size());
    data = std::move(bytes);
  }
  event.code = std::move(*code);
  event.data = std::move(*data);
  return event;
}

}  // namespace sallyport::recording
