// Non-fatal checks: likely typos that parse but can never match anything.
#include <algorithm>

#include "sallyport/policy/policy.hpp"

namespace sallyport::policy {

std::vector<std::string> policy_warnings(const Document& document) {
  std::vector<std::string> out;
  const auto& known = known_actions();
  for (std::size_t i = 0; i < document.statements.size(); ++i) {
    const Statement& s = document.statements[i];
    const auto check = [&](const std::vector<std::string>& patterns, const char* name) {
      for (std::size_t j = 0; j < patterns.size(); ++j) {
        const std::string& pattern = patterns[j];
        const bool matches_any = std::any_of(known.begin(), known.end(), [&](const std::string& a) {
          return action_matches(pattern, a);
        });
        if (!matches_any) {
          out.push_back("Statement[" + std::to_string(i) + "]." + name + "[" + std::to_string(j) +
                        "]: \"" + pattern + "\" matches no known action");
        }
      }
    };
    check(s.actions, "Action");
    check(s.not_actions, "NotAction");
  }
  return out;
}

}  // namespace sallyport::policy
