#pragma once
// Human durations such as "90s", "15m", "24h", "7d", or "1h30m". Used for flags and config.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::util {

constexpr std::size_t kMaxDurationTextBytes = 64;

// nullopt when malformed, empty, negative, or larger than 100 years.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
std::string format_duration(std::chrono::milliseconds duration);  // e.g. "1h30m", "45s", "250ms"

}  // namespace sallyport::util
