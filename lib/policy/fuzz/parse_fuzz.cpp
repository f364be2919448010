// Feeds arbitrary text to parse_policy; documents that parse are evaluated against fixed
// requests. Aborts if an invariant of the public API is broken.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "sallyport/policy/policy.hpp"

namespace {

using sallyport::policy::Decision;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

const sallyport::policy::Request& fixed_request(int which) {
  static const sallyport::policy::Request kStart{
      "session:Start",
      "node/mi-0123456789abcdef0",
      {{"user:name", {"alice"}},
       {"user:tag/team", {"core"}},
       {"node:tag/env", {"prod"}},
       {"node:id", {"mi-0123456789abcdef0"}},
       {"session:runAs", {"ubuntu"}},
       {"forward:port", {"22"}},
       {"secure", {"true"}}}};
  static const sallyport::policy::Request kTerminate{
      "Session:Terminate", "session/alice-1", {{"session:owner", {"alice"}}, {"user:name", {"alice"}}}};
  return which == 0 ? kStart : kTerminate;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = sallyport::policy::parse_policy(text);
  if (const auto* error = std::get_if<sallyport::policy::ParseError>(&parsed)) {
    check(!error->message.empty());
    check(error->line >= 0 && error->column >= 0);
    check(!sallyport::policy::format_parse_error(*error).empty());
    return 0;
  }
  auto& document = std::get<sallyport::policy::Document>(parsed);
  check(!document.statements.empty());
  check(document.statements.size() <= sallyport::policy::kMaxStatements);
  static_cast<void>(sallyport::policy::policy_warnings(document));
  const std::vector<sallyport::policy::NamedPolicy> policies{{"fuzz", std::move(document)}};
  for (int which = 0; which < 2; ++which) {
    const Decision decision = sallyport::policy::evaluate(policies, fixed_request(which));
    check(!decision.explanation.empty());
    check((decision.effect == Decision::Effect::kDefaultDeny) == (decision.statement_index < 0));
  }
  return 0;
}
