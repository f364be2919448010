#pragma once
// Wildcard patterns with IAM policy variables, shared by parsing (syntax checks) and evaluation.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::policy::detail {

enum class CaseMode { kSensitive, kInsensitive };

struct PatternElem {
  enum class Kind { kByte, kAnyOne, kStar };
  Kind kind = Kind::kByte;
  char byte = 0;
};
using Pattern = std::vector<PatternElem>;

// Resolves a variable name (the text between "${" and "}") to its value, or nullopt.
using VariableLookup = std::function<std::optional<std::string>(std::string_view)>;

// Expands text into a pattern. With wildcards, * and ? are wildcards; otherwise literal.
// Variables are substituted literally through lookup (nullptr: no variables resolve).
// Returns nullopt if a variable is malformed or cannot be resolved.
std::optional<Pattern> compile(std::string_view text, bool wildcards, const VariableLookup* lookup);

// Whole-text match; ? and * work on UTF-8 code points. Case folding is ASCII-only.
bool match(const Pattern& pattern, std::string_view text, CaseMode mode);

// Parse-time check of ${...} syntax: returns an error message, or nullopt when well formed.
std::optional<std::string> check_variables(std::string_view text);

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view text);

}  // namespace sallyport::policy::detail
