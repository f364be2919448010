#pragma once

namespace sallyport {
// One version for the three programs and the protocol's agent_version field.
inline constexpr const char* kVersion = "0.1.0";
}  // namespace sallyport
