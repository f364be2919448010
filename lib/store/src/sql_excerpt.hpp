#pragma once
// How every backend names a statement in an error message: its SQL text (which never holds
// values, only placeholders) on one line, shortened.
#include <cstddef>
#include <string>

namespace sallyport::store {

inline std::string describe_sql(const char* sql) {
  constexpr std::size_t kSqlInMessage = 80;
  std::string text(sql);
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  if (text.size() > kSqlInMessage) text = text.substr(0, kSqlInMessage) + "...";
  return text;
}

}  // namespace sallyport::store
