#pragma once
// JSON text for the record fields kept as one column (tags, inventory). Shared by every backend
// so a database written by one reads the same in another.
#include <string>
#include <string_view>
#include <vector>

#include "sallyport/store/types.hpp"

namespace sallyport::store {

// Throws store::Error when a value is not valid UTF-8 (JSON text cannot carry it).
std::string tags_to_json(const Tags& tags);
// Throws store::Error when the column does not hold a JSON object of strings.
Tags tags_from_json(std::string_view text);

// A JSON array of strings (a query's list parameter); throws store::Error like tags_to_json.
std::string strings_to_json(const std::vector<std::string>& values);

std::string inventory_to_json(const Inventory& inventory);
// Missing members read as empty, so older rows stay readable when fields are added.
Inventory inventory_from_json(std::string_view text);

}  // namespace sallyport::store
