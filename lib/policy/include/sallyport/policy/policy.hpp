#pragma once
// IAM-style policy engine: parses policy documents and decides whether a request is allowed.
// Pure logic, no I/O, thread-safe (no shared mutable state).
//
// Resources are paths named by the caller (e.g. "node/mi-0123456789abcdef0", "session/<id>").
// Actions are "service:Name" ("session:Start"). Evaluation follows IAM: an explicit Deny in any
// applicable statement wins, otherwise any applicable Allow allows, otherwise the default deny.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sallyport::policy {

inline constexpr std::size_t kMaxPolicyBytes = 64 * 1024;
inline constexpr std::size_t kMaxStatements = 100;
inline constexpr std::size_t kMaxNestingDepth = 32;
inline constexpr std::string_view kVersion2012 = "2012-10-17";
inline constexpr std::string_view kVersion2026 = "2026-01-01";

enum class Effect { kAllow, kDeny };

// String operators compare the request's context values with the policy's values; the Not
// variants are the negation. Bool compares "true"/"false"; Null tests whether a key is absent.
enum class ConditionOperator {
  kStringEquals,
  kStringNotEquals,
  kStringEqualsIgnoreCase,
  kStringNotEqualsIgnoreCase,
  kStringLike,
  kStringNotLike,
  kBool,
  kNull,
};

// One "operator: {key: values}" pair of a Condition block.
//
// Semantics (as in IAM): a statement's conditions all must hold (AND); a condition holds when any
// of its values matches any of the key's context values (OR). When the key is absent from the
// request context: the positive operators and Bool are false; the Not operators (StringNotEquals,
// StringNotEqualsIgnoreCase, StringNotLike) are TRUE, exactly as IAM does, so pair them with
// Null or use them in Deny statements with care; the ...IfExists variants are true. Null with
// "true" holds when the key is absent (a key with an empty value list counts as absent).
// Values may hold policy variables (see evaluate); if one cannot be resolved the condition is
// false, whatever the operator.
struct Condition {
  ConditionOperator op = ConditionOperator::kStringEquals;
  bool if_exists = false;
  std::string key;                  // compared case-insensitively with context keys
  std::vector<std::string> values;  // Bool/Null values are normalised to "true"/"false"
  bool operator==(const Condition&) const = default;
};

struct Statement {
  std::string sid;  // optional; unique within a document when set
  Effect effect = Effect::kDeny;
  // parse_policy fills exactly one of actions/not_actions and one of resources/not_resources.
  std::vector<std::string> actions;
  std::vector<std::string> not_actions;
  std::vector<std::string> resources;
  std::vector<std::string> not_resources;
  std::vector<Condition> conditions;  // all must hold
  bool operator==(const Statement&) const = default;
};

struct Document {
  std::string version;  // "2012-10-17" or "2026-01-01"
  std::string id;       // optional "Id"
  std::vector<Statement> statements;
  bool operator==(const Document&) const = default;
};

// Where and why a policy text was refused. line and column are 1-based (column counts UTF-8
// code points); both are 0 when the error concerns the whole text (e.g. it is too large).
// path names the element, e.g. "Statement[1].Condition.StringEquals"; empty for JSON syntax.
struct ParseError {
  std::string message;
  std::string path;
  int line = 0;
  int column = 0;
  bool operator==(const ParseError&) const = default;
};

// Parses and validates a policy document. Refuses texts over kMaxPolicyBytes, more than
// kMaxStatements statements, duplicate JSON keys, unknown keys and unknown condition operators.
std::variant<Document, ParseError> parse_policy(std::string_view json_text);

// "line 4, column 13 (Statement[0].Effect): Effect must be \"Allow\" or \"Deny\"".
std::string format_parse_error(const ParseError& error);

// The operator's name as written in a policy, e.g. "StringEqualsIfExists".
std::string operator_name(ConditionOperator op, bool if_exists);

// Non-fatal findings, e.g. an Action pattern that matches no known action (likely a typo).
std::vector<std::string> policy_warnings(const Document& document);

// Every action the gateway checks, as "service:Name".
const std::vector<std::string>& known_actions();

// Built-in policies by name (AdministratorAccess, SessionUser, ReadOnly) as JSON texts.
const std::map<std::string, std::string>& builtin_policies();

// The request being authorised. Context keys are matched case-insensitively (use lower-case
// keys to avoid ambiguity); values case-sensitively. Typical keys: user:name, user:tag/<key>,
// node:id, node:tag/<key>, session:owner, session:runAs, forward:host, forward:port.
struct Request {
  std::string action;    // "session:Start"
  std::string resource;  // "node/mi-0123456789abcdef0"
  std::map<std::string, std::vector<std::string>> context;
};

struct NamedPolicy {
  std::string name;
  Document document;
  bool operator==(const NamedPolicy&) const = default;
};

struct Decision {
  enum class Effect { kAllow, kExplicitDeny, kDefaultDeny };
  Effect effect = Effect::kDefaultDeny;
  std::string policy_name;  // the deciding statement's policy; empty for the default deny
  std::string sid;
  int statement_index = -1;
  std::string explanation;  // e.g. allowed by statement "AllowStart" (#0) of policy "SessionUser"
};

// Decides a request against every policy that applies to the principal (the caller passes the
// union of the user's and their groups' policies, see effective_policies).
//
// Actions match case-insensitively with * and ? wildcards. Resources match case-sensitively;
// * matches any run of characters including "/", ? exactly one character. Resource patterns
// and condition values may contain policy variables ${key} naming a context key with exactly
// one value (e.g. ${user:name}, ${user:tag/team}); the value is inserted literally (its * and ?
// are not wildcards). ${*}, ${?} and ${$} stand for a literal *, ? and $. A Resource pattern
// whose variable cannot be resolved matches nothing; a NotResource statement with such a
// pattern does not apply at all.
Decision evaluate(const std::vector<NamedPolicy>& policies, const Request& request);

// The user's policies followed by each group's, dropping exact repeats (same name and document)
// so a policy attached both directly and through a group is listed once.
std::vector<NamedPolicy> effective_policies(
    const std::vector<NamedPolicy>& user_policies,
    const std::vector<std::vector<NamedPolicy>>& group_policies);

// Matching primitives, exposed for simulators and the CLI.
bool action_matches(std::string_view pattern, std::string_view action);
bool resource_matches(std::string_view pattern, std::string_view resource);  // no variables

std::string_view to_string(Decision::Effect effect);

}  // namespace sallyport::policy
