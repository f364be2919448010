// Decides a request against a set of policies: explicit Deny > Allow > default deny.
#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "pattern.hpp"
#include "sallyport/policy/policy.hpp"

namespace sallyport::policy {
namespace {

using detail::CaseMode;

// Context values for a key, matched case-insensitively; nullptr when absent or empty.
const std::vector<std::string>* find_context(const Request& request, std::string_view key) {
  const auto exact = request.context.find(std::string(key));
  if (exact != request.context.end()) {
    return exact->second.empty() ? nullptr : &exact->second;
  }
  for (const auto& [name, values] : request.context) {
    if (detail::iequals(name, key)) {
      return values.empty() ? nullptr : &values;
    }
  }
  return nullptr;
}

class Evaluator {
 public:
  explicit Evaluator(const Request& request)
      : request_(request), lookup_([this](std::string_view name) { return variable(name); }) {}

  bool applies(const Statement& s) const {
    return action_applies(s) && resource_applies(s) &&
           std::all_of(s.conditions.begin(), s.conditions.end(),
                       [this](const Condition& c) { return holds(c); });
  }

 private:
  // A variable resolves only to a single value; several values would make the pattern ambiguous.
  std::optional<std::string> variable(std::string_view name) const {
    const auto* values = find_context(request_, name);
    if (values == nullptr || values->size() != 1) {
      return std::nullopt;
    }
    return values->front();
  }

  bool action_applies(const Statement& s) const {
    const auto matches = [this](const std::string& p) { return action_matches(p, request_.action); };
    if (s.actions.empty() && s.not_actions.empty()) {
      return false;
    }
    return (s.actions.empty() || std::any_of(s.actions.begin(), s.actions.end(), matches)) &&
           std::none_of(s.not_actions.begin(), s.not_actions.end(), matches);
  }

  bool resource_applies(const Statement& s) const {
    if (s.resources.empty() && s.not_resources.empty()) {
      return false;
    }
    const bool included =
        s.resources.empty() ||
        std::any_of(s.resources.begin(), s.resources.end(), [this](const std::string& p) {
          const auto pattern = detail::compile(p, true, &lookup_);
          return pattern && detail::match(*pattern, request_.resource, CaseMode::kSensitive);
        });
    if (!included) {
      return false;
    }
    // An unresolvable NotResource pattern leaves the exclusion unknown: the statement stays out.
    return std::none_of(s.not_resources.begin(), s.not_resources.end(), [this](const std::string& p) {
      const auto pattern = detail::compile(p, true, &lookup_);
      return !pattern || detail::match(*pattern, request_.resource, CaseMode::kSensitive);
    });
  }

  bool holds(const Condition& c) const {
    const std::vector<std::string>* actual = find_context(request_, c.key);
    if (c.op == ConditionOperator::kNull) {
      const bool want_absent = std::find(c.values.begin(), c.values.end(), "true") != c.values.end();
      const bool want_present = std::find(c.values.begin(), c.values.end(), "false") != c.values.end();
      return actual == nullptr ? want_absent : want_present;
    }
    const bool negated = c.op == ConditionOperator::kStringNotEquals ||
                         c.op == ConditionOperator::kStringNotEqualsIgnoreCase ||
                         c.op == ConditionOperator::kStringNotLike;
    if (actual == nullptr) {
      // IAM: a missing key satisfies IfExists and every negated operator.
      return c.if_exists || negated;
    }
    if (c.op == ConditionOperator::kBool) {
      return std::any_of(actual->begin(), actual->end(), [&c](const std::string& a) {
        return std::any_of(c.values.begin(), c.values.end(),
                           [&a](const std::string& v) { return detail::iequals(a, v); });
      });
    }
    const bool wildcards =
        c.op == ConditionOperator::kStringLike || c.op == ConditionOperator::kStringNotLike;
    const CaseMode mode = c.op == ConditionOperator::kStringEqualsIgnoreCase ||
                                  c.op == ConditionOperator::kStringNotEqualsIgnoreCase
                              ? CaseMode::kInsensitive
                              : CaseMode::kSensitive;
    std::vector<detail::Pattern> patterns;
    patterns.reserve(c.values.size());
    for (const std::string& value : c.values) {
      auto pattern = detail::compile(value, wildcards, &lookup_);
      if (!pattern) {
        return false;  // an unresolvable variable fails the condition, negated or not
      }
      patterns.push_back(std::move(*pattern));
    }
    const bool any = std::any_of(actual->begin(), actual->end(), [&](const std::string& a) {
      return std::any_of(patterns.begin(), patterns.end(),
                         [&](const detail::Pattern& p) { return detail::match(p, a, mode); });
    });
    return negated ? !any : any;
  }

  const Request& request_;
  detail::VariableLookup lookup_;
};

// JSON-style quoting keeps control characters in names out of log lines.
std::string json_quote(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string describe(const std::string& policy, const Statement& s, int index) {
  std::string statement = s.sid.empty()
                              ? "statement #" + std::to_string(index)
                              : "statement " + json_quote(s.sid) + " (#" + std::to_string(index) + ")";
  return statement + " of policy " + json_quote(policy);
}

}  // namespace

Decision evaluate(const std::vector<NamedPolicy>& policies, const Request& request) {
  const Evaluator evaluator(request);
  std::optional<Decision> allow;
  for (const NamedPolicy& policy : policies) {
    const auto& statements = policy.document.statements;
    for (std::size_t i = 0; i < statements.size(); ++i) {
      const Statement& s = statements[i];
      // After an Allow only a Deny can change the outcome, so skip Allow statements.
      if ((allow && s.effect == Effect::kAllow) || !evaluator.applies(s)) {
        continue;
      }
      const int index = static_cast<int>(i);
      if (s.effect == Effect::kDeny) {
        return Decision{Decision::Effect::kExplicitDeny, policy.name, s.sid, index,
                        "explicitly denied by " + describe(policy.name, s, index)};
      }
      allow = Decision{Decision::Effect::kAllow, policy.name, s.sid, index,
                       "allowed by " + describe(policy.name, s, index)};
    }
  }
  if (allow) {
    return *allow;
  }
  return Decision{Decision::Effect::kDefaultDeny, "", "", -1, "no statement matched: default deny"};
}

std::vector<NamedPolicy> effective_policies(
    const std::vector<NamedPolicy>& user_policies,
    const std::vector<std::vector<NamedPolicy>>& group_policies) {
  std::vector<NamedPolicy> out;
  const auto add = [&out](const NamedPolicy& p) {
    if (std::find(out.begin(), out.end(), p) == out.end()) {
      out.push_back(p);
    }
  };
  std::for_each(user_policies.begin(), user_policies.end(), add);
  for (const auto& group : group_policies) {
    std::for_each(group.begin(), group.end(), add);
  }
  return out;
}

std::string_view to_string(Decision::Effect effect) {
  switch (effect) {
    case Decision::Effect::kAllow:
      return "Allow";
    case Decision::Effect::kExplicitDeny:
      return "ExplicitDeny";
    case Decision::Effect::kDefaultDeny:
      return "DefaultDeny";
  }
  return "DefaultDeny";
}

}  // namespace sallyport::policy
