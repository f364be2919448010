#pragma once
// RFC 3339 timestamps in UTC with millisecond precision ("2026-11-28T10:00:00.000Z").
#include <optional>
#include <string>
#include <string_view>

#include "sallyport/util/clock.hpp"

namespace sallyport::util {

std::string format_rfc3339(Millis time);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)"; nullopt when malformed.
std::optional<Millis> parse_rfc3339(std::string_view text);
// A --since argument: an RFC 3339 time or a duration back from now ("1h").
std::optional<Millis> parse_since(std::string_view text, Millis now);

}  // namespace sallyport::util
