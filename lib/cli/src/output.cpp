#include "output.hpp"

#include <algorithm>

#include "table.hpp"

namespace sallyport::cli {

std::string value_text(const json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_array()) {
    std::string out;
    for (const auto& item : value) {
      if (!out.empty()) out += ",";
      out += value_text(item);
    }
    return out;
  }
  if (value.is_object()) {
    std::string out;
    for (const auto& [key, item] : value.items()) {
      if (!out.empty()) out += ",";
      out += key + "=" + value_text(item);
    }
    return out;
  }
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string field_text(const json& object, const std::string& key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it == object.end() ? "" : value_text(*it);
}

const json& list_field(const json& answer, const std::string& key) {
  static const json kEmpty = json::array();
  if (!answer.is_object()) return kEmpty;
  const auto it = answer.find(key);
  return it != answer.end() && it->is_array() ? *it : kEmpty;
}

void print_json(std::ostream& out, const json& value) {
  out << value.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [key, value] : fields) width = std::max(width, display_width(key) + 1);
  for (const auto& [key, value] : fields) {
    const std::string label = key + ":";
    out << label << std::string(width - display_width(label) + 1, ' ') << sanitize_for_terminal(value) << "\n";
  }
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

}  // namespace sallyport::cli
