#include "sallyport/util/tags.hpp"

namespace sallyport::util {
namespace {
bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '-' || c == '@';
}
bool is_value_char(char c) { return is_key_char(c) || c == ' ' || c == '='; }
}  // namespace

std::string validate_tag(std::string_view key, std::string_view value) {
  if (key.empty()) return "tag key is empty";
  if (key.size() > kMaxTagKeyBytes) return "tag key longer than 128 bytes";
  if (value.size() > kMaxTagValueBytes) return "tag value longer than 256 bytes";
  for (char c : key) {
    if (!is_key_char(c)) return "tag key '" + std::string(key) + "' has a character that is not allowed";
  }
  for (char c : value) {
    if (!is_value_char(c)) return "tag value for '" + std::string(key) + "' has a character that is not allowed";
  }
  return "";
}

TagParseResult parse_tags(std::string_view text) {
  TagParseResult result;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(pos, end - pos);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      result.error = "tag '" + std::string(item) + "' is not of the form key=value";
      return result;
    }
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    if (auto problem = validate_tag(key, value); !problem.empty()) {
      result.error = problem;
      return result;
    }
    result.tags[std::string(key)] = std::string(value);
    if (result.tags.size() > kMaxTags) {
      result.error = "more than 50 tags";
      return result;
    }
    pos = end + 1;
  }
  return result;
}

std::string format_tags(const Tags& tags) {
  std::string out;
  for (const auto& [key, value] : tags) {
    if (!out.empty()) out += ',';
    out += key + '=' + value;
  }
  return out;
}

}  // namespace sallyport::util
