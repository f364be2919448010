#include "record_json.hpp"

#include <nlohmann/json.hpp>

#include <string>

#include "sallyport/store/store.hpp"

namespace sallyport::store {
namespace {

using nlohmann::json;

std::string dump(const json& value, const char* what) {
  try {
    return value.dump();
  } catch (const json::exception&) {
    // nlohmann's message would quote the offending bytes; keep values out of errors.
    throw Error(std::string(what) + " contain text that is not valid UTF-8");
  }
}

json parse(std::string_view text, const char* what) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) throw Error(std::string("corrupt ") + what + " column (not JSON)");
  return value;
}

std::string member_string(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) throw Error(std::string("corrupt inventory column (") + key + ")");
  return it->get<std::string>();
}

}  // namespace

std::string tags_to_json(const Tags& tags) {
  json object = json::object();
  for (const auto& [key, value] : tags) object[key] = value;
  return dump(object, "tags");
}

std::string strings_to_json(const std::vector<std::string>& values) { return dump(json(values), "list"); }

Tags tags_from_json(std::string_view text) {
  const json object = parse(text, "tags");
  if (!object.is_object()) throw Error("corrupt tags column (not an object)");
  Tags tags;
  for (const auto& [key, value] : object.items()) {
    if (!value.is_string()) throw Error("corrupt tags column (value is not a string)");
    tags.emplace(key, value.get<std::string>());
  }
  return tags;
}

std::string inventory_to_json(const Inventory& inventory) {
  const json object = {
      {"hostname", inventory.hostname},
      {"platform_name", inventory.platform_name},
      {"platform_version", inventory.platform_version},
      {"kernel", inventory.kernel},
      {"architecture", inventory.architecture},
      {"agent_version", inventory.agent_version},
      {"ip_addresses", inventory.ip_addresses},
  };
  return dump(object, "inventory fields");
}

Inventory inventory_from_json(std::string_view text) {
  const json object = parse(text, "inventory");
  if (!object.is_object()) throw Error("corrupt inventory column (not an object)");
  Inventory inventory;
  inventory.hostname = member_string(object, "hostname");
  inventory.platform_name = member_string(object, "platform_name");
  inventory.platform_version = member_string(object, "platform_version");
  inventory.kernel = member_string(object, "kernel");
  inventory.architecture = member_string(object, "architecture");
  inventory.agent_version = member_string(object, "agent_version");
  if (const auto it = object.find("ip_addresses"); it != object.end() && !it->is_null()) {
    if (!it->is_array()) throw Error("corrupt inventory column (ip_addresses)");
    for (const auto& address : *it) {
      if (!address.is_string()) throw Error("corrupt inventory column (ip_addresses)");
      inventory.ip_addresses.push_back(address.get<std::string>());
    }
  }
  return inventory;
}

}  // namespace sallyport::store
