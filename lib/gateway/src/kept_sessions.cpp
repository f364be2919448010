#include "sallyport/gateway/kept_sessions.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "sallyport/util/files.hpp"

namespace sallyport::gateway {
namespace {

using nlohmann::json;
constexpr int kFormat = 1;

std::uint64_t unsigned_field(const json& object, const char* name) {
  const auto& value = object.at(name);
  if (!value.is_number_unsigned()) throw std::invalid_argument(std::string(name) + " is not a count");
  return value.get<std::uint64_t>();
}

std::int64_t signed_field(const json& object, const char* name) {
  const auto& value = object.at(name);
  if (!value.is_number_integer()) throw std::invalid_argument(std::string(name) + " is not an integer");
  return value.get<std::int64_t>();
}

std::string string_field(const json& object, const char* name) {
  const auto& value = object.at(name);
  if (!value.is_string()) throw std::invalid_argument(std::string(name) + " is not a string");
  return value.get<std::string>();
}

}  // namespace

std::string encode_kept_sessions(const std::vector<KeptSession>& sessions) {
  json list = json::array();
  for (const auto& s : sessions) {
    list.push_back({{"id", s.id},
                    {"channel", s.channel},
                    {"resume_token_sha256", s.resume_token_sha256},
                    {"cols", s.cols},
                    {"rows", s.rows},
                    {"bytes_in", s.bytes_in},
                    {"bytes_out", s.bytes_out},
                    {"last_activity", s.last_activity},
                    {"input_frames", s.input_frames},
                    {"output_frames", s.output_frames}});
  }
  return json{{"format", kFormat}, {"sessions", std::move(list)}}.dump() + "\n";
}

std::optional<std::vector<KeptSession>> parse_kept_sessions(std::string_view text, std::string& error) {
  if (text.size() > kMaxKeptSessionsFileBytes) {
    error = "larger than " + std::to_string(kMaxKeptSessionsFileBytes) + " bytes";
    return std::nullopt;
  }
  const json document = json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  try {
    if (document.at("format") != kFormat) throw std::invalid_argument("unknown format");
    const auto& list = document.at("sessions");
    if (!list.is_array()) throw std::invalid_argument("sessions is not a list");
    std::vector<KeptSession> sessions;
    for (const auto& item : list) {
      KeptSession s;
      s.id = string_field(item, "id");
      const auto channel = unsigned_field(item, "channel");
      if (channel == 0 || channel > 0x7fffffff) throw std::invalid_argument("channel out of range");
      s.channel = static_cast<std::uint32_t>(channel);
      s.resume_token_sha256 = string_field(item, "resume_token_sha256");
      if (s.id.empty() || s.id.size() > 128 || s.resume_token_sha256.size() != 64) {
        throw std::invalid_argument("id or token hash malformed");
      }
      s.cols = static_cast<int>(std::min<std::uint64_t>(unsigned_field(item, "cols"), 10000));
      s.rows = static_cast<int>(std::min<std::uint64_t>(unsigned_field(item, "rows"), 10000));
      s.bytes_in = signed_field(item, "bytes_in");
      s.bytes_out = signed_field(item, "bytes_out");
      s.last_activity = signed_field(item, "last_activity");
      s.input_frames = unsigned_field(item, "input_frames");
      s.output_frames = unsigned_field(item, "output_frames");
      sessions.push_back(std::move(s));
    }
    return sessions;
  } catch (const std::exception& problem) {  // json's out_of_range for a missing member too
    error = problem.what();
    return std::nullopt;
  }
}

bool save_kept_sessions(const std::filesystem::path& path, const std::vector<KeptSession>& sessions) {
  try {
    util::write_file_atomic(path, encode_kept_sessions(sessions), 0600);
    return true;
  } catch (const util::FileError& error) {
    spdlog::error("cannot keep sessions for the restart: {}", error.what());
    return false;
  }
}

std::vector<KeptSession> take_kept_sessions(const std::filesystem::path& path) {
  std::string error;
  std::optional<std::vector<KeptSession>> sessions;
  try {
    const auto text = util::read_file_if_exists(path, kMaxKeptSessionsFileBytes);
    if (!text) return {};
    sessions = parse_kept_sessions(*text, error);
  } catch (const util::FileError& problem) {
    error = problem.what();
  }
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  if (!sessions) {
    spdlog::error("sessions kept by the previous run cannot be taken back: {} is damaged ({})", path.string(), error);
    return {};
  }
  return std::move(*sessions);
}

}  // namespace sallyport::gateway
