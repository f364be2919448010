#include "sallyport/util/duration.hpp"

#include <cstdint>

namespace sallyport::util {
namespace {
constexpr std::int64_t kMaxMillis = 100LL * 365 * 24 * 3600 * 1000;

std::optional<std::int64_t> unit_millis(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return std::nullopt;
}
}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty() || text.size() > kMaxDurationTextBytes) return std::nullopt;
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::int64_t number = 0;
    const std::size_t digits_start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      number = number * 10 + (text[pos] - '0');
      if (number > kMaxMillis) return std::nullopt;
      ++pos;
    }
    if (pos == digits_start) return std::nullopt;
    const std::size_t unit_start = pos;
    while (pos < text.size() && text[pos] >= 'a' && text[pos] <= 'z') ++pos;
    const auto unit = unit_millis(text.substr(unit_start, pos - unit_start));
    if (!unit) return std::nullopt;
    if (number > kMaxMillis / *unit) return std::nullopt;
    total += number * *unit;
    if (total > kMaxMillis) return std::nullopt;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds duration) {
  std::int64_t ms = duration.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  const std::int64_t units[] = {86'400'000, 3'600'000, 60'000, 1000};
  const char* names[] = {"d", "h", "m", "s"};
  for (int i = 0; i < 4; ++i) {
    if (ms >= units[i]) {
      out += std::to_string(ms / units[i]) + names[i];
      ms %= units[i];
    }
  }
  return out;
}

}  // namespace sallyport::util
