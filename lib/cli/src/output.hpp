#pragma once
// Turning the gateway's JSON into text: field values, "Key: value" blocks, --json output, and
// percent-encoding for the parts of a request target that come from the command line.
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sallyport::cli {

using nlohmann::json;

// A field as display text: strings as they are, numbers and booleans formatted, arrays of
// scalars joined with ",", objects as "k=v,k2=v2"; "" when missing or null.
std::string field_text(const json& object, const std::string& key);
std::string value_text(const json& value);

// The list under `key` in an answer such as {"nodes":[...]}; an empty array when absent.
const json& list_field(const json& answer, const std::string& key);

// Pretty-printed JSON (for --json).
void print_json(std::ostream& out, const json& value);

// Aligned "Key:  value" lines, cleaned for the terminal.
void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);

}  // namespace sallyport::cli
