#pragma once
// Sessions a gateway keeps across a graceful restart (SIGTERM, an upgrade). On stopping, the
// session hub hands over what the next run needs to take each one back; it goes to a file in the
// data folder (0600), read and removed by the next start. The frames in flight are not in it:
// the agent keeps the output its client has not credited, the client the input the agent has not
// credited, and both send them again. What the file holds lets the next run number on from
// there and record each frame once.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::gateway {

struct KeptSession {
  std::string id;
  std::uint32_t channel = 0;        // on the node's link
  std::string resume_token_sha256;  // hex; the token itself is never written
  int cols = 80, rows = 24;
  std::int64_t bytes_in = 0, bytes_out = 0;
  std::int64_t last_activity = 0;         // ms since the epoch
  std::uint64_t input_frames = 0;         // from the client, all recorded
  std::uint64_t output_frames = 0;        // from the node, all recorded
};

inline constexpr std::size_t kMaxKeptSessionsFileBytes = 16 << 20;

std::string encode_kept_sessions(const std::vector<KeptSession>& sessions);
// nullopt and `error` set when the text is not such a list (or larger than the bound).
std::optional<std::vector<KeptSession>> parse_kept_sessions(std::string_view text, std::string& error);

// Writes the file atomically (0600); false and an error logged when it cannot.
bool save_kept_sessions(const std::filesystem::path& path, const std::vector<KeptSession>& sessions);
// Reads and removes the file: a crash while taking them back must not take them back twice.
// Empty when there is none; logs and returns empty when it is damaged.
std::vector<KeptSession> take_kept_sessions(const std::filesystem::path& path);

}  // namespace sallyport::gateway
