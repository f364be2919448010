// Wildcard matching and policy-variable substitution.
#include <algorithm>

#include "pattern.hpp"
#include "sallyport/policy/policy.hpp"

namespace sallyport::policy::detail {
namespace {

constexpr std::string_view kVariableOpen = "${";

char fold(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U;
}

// Index of the next code point; stray continuation bytes are skipped with the lead byte.
std::size_t next_code_point(std::string_view text, std::size_t at) {
  ++at;
  while (at < text.size() && is_continuation(text[at])) {
    ++at;
  }
  return at;
}

void append_literal(Pattern& out, std::string_view text) {
  for (char c : text) {
    out.push_back({PatternElem::Kind::kByte, c});
  }
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return fold(x) == fold(y); });
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), fold);
  return out;
}

std::optional<Pattern> compile(std::string_view text, bool wildcards,
                               const VariableLookup* lookup) {
  Pattern out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, kVariableOpen.size()) == kVariableOpen) {
      const std::size_t close = text.find('}', i + kVariableOpen.size());
      if (close == std::string_view::npos) {
        return std::nullopt;
      }
      const std::string_view name = text.substr(i + kVariableOpen.size(),
                                                close - i - kVariableOpen.size());
      if (name == "*" || name == "?" || name == "$") {
        out.push_back({PatternElem::Kind::kByte, name[0]});
      } else {
        if (name.empty() || lookup == nullptr) {
          return std::nullopt;
        }
        const std::optional<std::string> value = (*lookup)(name);
        if (!value) {
          return std::nullopt;
        }
        append_literal(out, *value);
      }
      i = close + 1;
      continue;
    }
    const char c = text[i];
    if (wildcards && c == '*') {
      // Consecutive stars are one star; keeps backtracking linear in the common case.
      if (out.empty() || out.back().kind != PatternElem::Kind::kStar) {
        out.push_back({PatternElem::Kind::kStar, 0});
      }
    } else if (wildcards && c == '?') {
      out.push_back({PatternElem::Kind::kAnyOne, 0});
    } else {
      out.push_back({PatternElem::Kind::kByte, c});
    }
    ++i;
  }
  return out;
}

bool match(const Pattern& pattern, std::string_view text, CaseMode mode) {
  const auto same = [mode](char a, char b) {
    return mode == CaseMode::kInsensitive ? fold(a) == fold(b) : a == b;
  };
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star_p = kNone;
  std::size_t star_t = 0;
  // Classic single-backtrack glob matching: O(|pattern| * |text|) worst case, no recursion.
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p].kind == PatternElem::Kind::kByte &&
        same(pattern[p].byte, text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p].kind == PatternElem::Kind::kAnyOne) {
      ++p;
      t = next_code_point(text, t);
    } else if (p < pattern.size() && pattern[p].kind == PatternElem::Kind::kStar) {
      star_p = p++;
      star_t = t;
    } else if (star_p != kNone) {
      p = star_p + 1;
      star_t = next_code_point(text, star_t);
      t = star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p].kind == PatternElem::Kind::kStar) {
    ++p;
  }
  return p == pattern.size();
}

std::optional<std::string> check_variables(std::string_view text) {
  std::size_t i = 0;
  while ((i = text.find(kVariableOpen, i)) != std::string_view::npos) {
    const std::size_t close = text.find('}', i + kVariableOpen.size());
    if (close == std::string_view::npos) {
      return std::string("unterminated policy variable (\"${\" without \"}\")");
    }
    if (close == i + kVariableOpen.size()) {
      return std::string("empty policy variable \"${}\"");
    }
    i = close + 1;
  }
  return std::nullopt;
}

}  // namespace sallyport::policy::detail

namespace sallyport::policy {

bool action_matches(std::string_view pattern, std::string_view action) {
  const auto compiled = detail::compile(pattern, true, nullptr);
  return compiled && detail::match(*compiled, action, detail::CaseMode::kInsensitive);
}

bool resource_matches(std::string_view pattern, std::string_view resource) {
  const auto compiled = detail::compile(pattern, true, nullptr);
  return compiled && detail::match(*compiled, resource, detail::CaseMode::kSensitive);
}

}  // namespace sallyport::policy
