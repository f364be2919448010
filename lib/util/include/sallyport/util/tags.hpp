#pragma once
// Tags are key=value labels on nodes and users ("env=dev,team=core").
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::util {

using Tags = std::map<std::string, std::string>;

constexpr std::size_t kMaxTagKeyBytes = 128;
constexpr std::size_t kMaxTagValueBytes = 256;
constexpr std::size_t kMaxTags = 50;

// Keys: letters, digits and _ . : / + - @; values: the same plus space and '='; the error names
// the offending part.
struct TagParseResult {
  Tags tags;
  std::string error;  // empty on success
};
TagParseResult parse_tags(std::string_view text);  // "k=v,k2=v2"; empty text gives no tags
std::string validate_tag(std::string_view key, std::string_view value);  // "" when valid
std::string format_tags(const Tags& tags);  // "k=v,k2=v2"

}  // namespace sallyport::util
