// Parsing and validation of policy documents, with positions for every error.
#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "json_positions.hpp"
#include "pattern.hpp"
#include "sallyport/policy/policy.hpp"

namespace sallyport::policy {
namespace {

using Json = nlohmann::json;
using detail::kNoNode;

constexpr std::size_t kMaxQuoted = 64;

struct OperatorName {
  std::string_view name;
  ConditionOperator op;
};
constexpr std::array<OperatorName, 8> kOperators{{
    {"StringEquals", ConditionOperator::kStringEquals},
    {"StringNotEquals", ConditionOperator::kStringNotEquals},
    {"StringEqualsIgnoreCase", ConditionOperator::kStringEqualsIgnoreCase},
    {"StringNotEqualsIgnoreCase", ConditionOperator::kStringNotEqualsIgnoreCase},
    {"StringLike", ConditionOperator::kStringLike},
    {"StringNotLike", ConditionOperator::kStringNotLike},
    {"Bool", ConditionOperator::kBool},
    {"Null", ConditionOperator::kNull},
}};
constexpr std::string_view kIfExists = "IfExists";

// Quotes policy text for a message, truncated so one huge value cannot flood a log line.
std::string json_quote(std::string_view text) {
  std::string q = Json(std::string(text.substr(0, kMaxQuoted)))
                      .dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() > kMaxQuoted ? q + "..." : q;
}

// Returns a valid UTF-8 copy (nlohmann's messages may quote raw bytes of the input).
std::string valid_utf8(const std::string& text) {
  return Json::parse(Json(text).dump(-1, ' ', false, Json::error_handler_t::replace))
      .get<std::string>();
}

std::optional<std::pair<ConditionOperator, bool>> parse_operator(std::string_view name) {
  bool if_exists = false;
  if (name.size() > kIfExists.size() && name.ends_with(kIfExists)) {
    name.remove_suffix(kIfExists.size());
    if_exists = true;
  }
  for (const auto& entry : kOperators) {
    if (entry.name == name) {
      // IAM has no NullIfExists: Null already is about existence.
      if (if_exists && entry.op == ConditionOperator::kNull) {
        return std::nullopt;
      }
      return std::make_pair(entry.op, if_exists);
    }
  }
  return std::nullopt;
}

bool is_action_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '*' || c == '?';
}

// "*" or "service:Name", either part possibly with wildcards.
bool valid_action(std::string_view action) {
  if (action == "*") {
    return true;
  }
  const std::size_t colon = action.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == action.size()) {
    return false;
  }
  const std::string_view service = action.substr(0, colon);
  const std::string_view name = action.substr(colon + 1);
  return std::all_of(service.begin(), service.end(), is_action_char) &&
         std::all_of(name.begin(), name.end(), is_action_char);
}

// Finds the first JSON syntax error; nlohmann's DOM parser reports some (number overflow)
// without a byte position, the SAX interface always gives one.
class SyntaxCheck : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool /*val*/) override { return true; }
  bool number_integer(number_integer_t /*val*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*val*/) override { return true; }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return true; }
  bool string(string_t& /*val*/) override { return true; }
  bool binary(binary_t& /*val*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override { return true; }
  bool key(string_t& /*val*/) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t /*elements*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const Json::exception& ex) override {
    position_ = position;
    std::string what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 6: syntax error ..."
    const std::size_t column = what.find("column ");
    const std::size_t colon = what.find(": ", column == std::string::npos ? 0 : column);
    const std::size_t bracket = what.find("] ");
    if (column != std::string::npos && colon != std::string::npos) {
      what = what.substr(colon + 2);
    } else if (bracket != std::string::npos) {
      what = what.substr(bracket + 2);
    }
    message_ = "invalid JSON: " + valid_utf8(what);
    return false;
  }

  std::size_t position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  std::size_t position_ = 0;
  std::string message_;
};

// Thrown inside Parser to unwind to parse_policy with the first error found.
struct Failure {
  ParseError error;
};

// A DOM value, its node in the position index and its path for messages.
struct Where {
  const Json* value = nullptr;
  std::size_t node = kNoNode;
  std::string path;
};

class Parser {
 public:
  Parser(std::string_view text, const detail::PositionIndex& index) : text_(text), index_(index) {}

  Document document(const Json& root) {
    const Where top{&root, detail::PositionIndex::kRoot, ""};
    if (!root.is_object()) {
      fail_value(top, "a policy must be a JSON object");
    }
    Document doc;
    bool have_version = false;
    bool have_statement = false;
    for (const auto& [key, w] : members(top)) {
      if (key == "Version") {
        if (!w.value->is_string()) {
          fail_value(w, "Version must be a string");
        }
        doc.version = w.value->get<std::string>();
        if (doc.version != kVersion2012 && doc.version != kVersion2026) {
          fail_value(w, "Version must be \"2012-10-17\" or \"2026-01-01\"");
        }
        have_version = true;
      } else if (key == "Id") {
        if (!w.value->is_string()) {
          fail_value(w, "Id must be a string");
        }
        doc.id = w.value->get<std::string>();
      } else if (key == "Statement") {
        doc.statements = statements(w);
        have_statement = true;
      } else {
        fail_key(w, "unknown key " + json_quote(key) + " (expected Version, Id or Statement)");
      }
    }
    if (!have_version) {
      fail_missing(top, "Version", "missing \"Version\" (use \"2012-10-17\" or \"2026-01-01\")");
    }
    if (!have_statement) {
      fail_missing(top, "Statement", "missing \"Statement\"");
    }
    return doc;
  }

 private:
  [[noreturn]] void fail_at(std::size_t offset, std::string path, std::string message) const {
    const detail::LineColumn lc = detail::line_column(text_, offset);
    throw Failure{ParseError{std::move(message), std::move(path), lc.line, lc.column}};
  }
  std::size_t value_offset(std::size_t node) const {
    return node == kNoNode ? 0 : index_.at(node).value;
  }
  [[noreturn]] void fail_value(const Where& w, std::string message) const {
    fail_at(value_offset(w.node), w.path, std::move(message));
  }
  [[noreturn]] void fail_key(const Where& w, std::string message) const {
    const std::size_t key = w.node == kNoNode ? kNoNode : index_.at(w.node).key;
    fail_at(key == kNoNode ? value_offset(w.node) : key, w.path, std::move(message));
  }
  // A required member is missing: point at the object that lacks it.
  [[noreturn]] void fail_missing(const Where& object, std::string_view key,
                                 std::string message) const {
    fail_at(value_offset(object.node), detail::join_path(object.path, key), std::move(message));
  }

  // An object's members in the order they appear in the text, so the first error is reported.
  std::vector<std::pair<std::string, Where>> members(const Where& object) const {
    std::vector<std::pair<std::string, Where>> out;
    for (auto it = object.value->begin(); it != object.value->end(); ++it) {
      out.emplace_back(it.key(), Where{&it.value(), index_.member(object.node, it.key()),
                                       detail::join_path(object.path, it.key())});
    }
    std::sort(out.begin(), out.end(), [this](const auto& a, const auto& b) {
      return key_offset(a.second.node) < key_offset(b.second.node);
    });
    return out;
  }
  std::size_t key_offset(std::size_t node) const {
    return node == kNoNode ? kNoNode : index_.at(node).key;
  }
  Where element(const Where& array, std::size_t i) const {
    return Where{&(*array.value)[i], index_.element(array.node, i),
                 array.path + "[" + std::to_string(i) + "]"};
  }

  std::vector<Statement> statements(const Where& w) {
    std::vector<Statement> out;
    if (w.value->is_object()) {
      out.push_back(statement(w, 0));
      return out;
    }
    if (!w.value->is_array()) {
      fail_value(w, "Statement must be an object or a list of objects");
    }
    if (w.value->empty()) {
      fail_value(w, "Statement must not be empty");
    }
    if (w.value->size() > kMaxStatements) {
      fail_value(element(w, kMaxStatements),
                 "too many statements (the limit is " + std::to_string(kMaxStatements) + ")");
    }
    for (std::size_t i = 0; i < w.value->size(); ++i) {
      out.push_back(statement(element(w, i), i));
    }
    return out;
  }

  Statement statement(const Where& w, std::size_t index) {
    if (!w.value->is_object()) {
      fail_value(w, "a statement must be an object");
    }
    Statement s;
    bool have_effect = false;
    std::optional<std::string> action_key;
    std::optional<std::string> resource_key;
    for (const auto& [key, m] : members(w)) {
      if (key == "Sid") {
        if (!m.value->is_string()) {
          fail_value(m, "Sid must be a string");
        }
        s.sid = m.value->get<std::string>();
        if (!s.sid.empty()) {
          const auto [it, inserted] = sids_.emplace(s.sid, index);
          if (!inserted) {
            fail_value(m, "duplicate Sid " + json_quote(s.sid) + " (also statement #" +
                              std::to_string(it->second) + ")");
          }
        }
      } else if (key == "Effect") {
        const bool valid = m.value->is_string() && (m.value->get<std::string>() == "Allow" ||
                                                    m.value->get<std::string>() == "Deny");
        if (!valid) {
          fail_value(m, "Effect must be \"Allow\" or \"Deny\"");
        }
        s.effect = m.value->get<std::string>() == "Allow" ? Effect::kAllow : Effect::kDeny;
        have_effect = true;
      } else if (key == "Action" || key == "NotAction") {
        if (action_key) {
          fail_key(m, "a statement cannot have both Action and NotAction");
        }
        action_key = key;
        (key == "Action" ? s.actions : s.not_actions) = actions(m, key);
      } else if (key == "Resource" || key == "NotResource") {
        if (resource_key) {
          fail_key(m, "a statement cannot have both Resource and NotResource");
        }
        resource_key = key;
        (key == "Resource" ? s.resources : s.not_resources) = resources(m, key);
      } else if (key == "Condition") {
        s.conditions = conditions(m);
      } else if (key == "Principal" || key == "NotPrincipal") {
        fail_key(m, key + " is not supported: attach the policy to users or groups instead");
      } else {
        fail_key(m, "unknown key " + json_quote(key) +
                        " in statement (expected Sid, Effect, Action, NotAction, Resource, "
                        "NotResource or Condition)");
      }
    }
    if (!have_effect) {
      fail_missing(w, "Effect", "missing \"Effect\" (\"Allow\" or \"Deny\")");
    }
    if (!action_key) {
      fail_missing(w, "Action", "missing \"Action\" (or \"NotAction\")");
    }
    if (!resource_key) {
      fail_missing(w, "Resource", "missing \"Resource\" (or \"NotResource\")");
    }
    return s;
  }

  // A string or a non-empty list of strings, each with where it came from.
  std::vector<std::pair<std::string, Where>> string_list(const Where& w,
                                                         const std::string& name) const {
    const std::string shape = name + " must be a string or a list of strings";
    std::vector<std::pair<std::string, Where>> out;
    if (w.value->is_string()) {
      out.emplace_back(w.value->get<std::string>(), w);
      return out;
    }
    if (!w.value->is_array()) {
      fail_value(w, shape);
    }
    if (w.value->empty()) {
      fail_value(w, name + " must not be empty");
    }
    for (std::size_t i = 0; i < w.value->size(); ++i) {
      Where e = element(w, i);
      if (!e.value->is_string()) {
        fail_value(e, shape);
      }
      out.emplace_back(e.value->get<std::string>(), std::move(e));
    }
    return out;
  }

  std::vector<std::string> actions(const Where& w, const std::string& name) const {
    std::vector<std::string> out;
    for (auto& [action, e] : string_list(w, name)) {
      if (!valid_action(action)) {
        fail_value(e, "invalid action " + json_quote(action) + ": expected \"service:Name\" or \"*\"");
      }
      out.push_back(std::move(action));
    }
    return out;
  }

  std::vector<std::string> resources(const Where& w, const std::string& name) const {
    std::vector<std::string> out;
    for (auto& [resource, e] : string_list(w, name)) {
      if (resource.empty()) {
        fail_value(e, name + " must not be an empty string");
      }
      if (const auto problem = detail::check_variables(resource)) {
        fail_value(e, *problem + " in " + json_quote(resource));
      }
      out.push_back(std::move(resource));
    }
    return out;
  }

  std::vector<Condition> conditions(const Where& w) const {
    if (!w.value->is_object()) {
      fail_value(w, "Condition must be an object of operators, e.g. {\"StringEquals\": {...}}");
    }
    std::vector<Condition> out;
    for (const auto& [op_name, ow] : members(w)) {
      const auto op = parse_operator(op_name);
      if (!op) {
        fail_key(ow, "unknown condition operator " + json_quote(op_name) +
                         " (supported: StringEquals, StringNotEquals, StringEqualsIgnoreCase, "
                         "StringNotEqualsIgnoreCase, StringLike, StringNotLike, Bool, Null, and "
                         "...IfExists forms of all but Null)");
      }
      if (!ow.value->is_object()) {
        fail_value(ow, op_name + " must be an object of condition keys to values");
      }
      for (const auto& [key, kw] : members(ow)) {
        if (key.empty()) {
          fail_key(kw, "empty condition key");
        }
        out.push_back(Condition{op->first, op->second, key, condition_values(kw, op->first)});
      }
    }
    return out;
  }

  std::vector<std::string> condition_values(const Where& w, ConditionOperator op) const {
    std::vector<std::string> out;
    const auto scalar = [&](const Where& e) {
      std::string v;
      if (e.value->is_string()) {
        v = e.value->get<std::string>();
      } else if (e.value->is_boolean()) {
        v = e.value->get<bool>() ? "true" : "false";
      } else if (e.value->is_number_integer()) {
        v = e.value->dump();
      } else {
        fail_value(e, "a condition value must be a string, a boolean, an integer or a list of them");
      }
      if (op == ConditionOperator::kBool || op == ConditionOperator::kNull) {
        v = detail::to_lower(v);
        if (v != "true" && v != "false") {
          fail_value(e, operator_name(op, false) + " values must be \"true\" or \"false\"");
        }
      } else if (const auto problem = detail::check_variables(v)) {
        fail_value(e, *problem + " in " + json_quote(v));
      }
      out.push_back(std::move(v));
    };
    if (w.value->is_array()) {
      if (w.value->empty()) {
        fail_value(w, "condition values must not be empty");
      }
      for (std::size_t i = 0; i < w.value->size(); ++i) {
        scalar(element(w, i));
      }
    } else {
      scalar(w);
    }
    return out;
  }

  std::string_view text_;
  const detail::PositionIndex& index_;
  std::map<std::string, std::size_t> sids_;
};

}  // namespace

std::string operator_name(ConditionOperator op, bool if_exists) {
  for (const auto& entry : kOperators) {
    if (entry.op == op) {
      return std::string(entry.name) + (if_exists ? std::string(kIfExists) : std::string());
    }
  }
  return "Unknown";
}

std::variant<Document, ParseError> parse_policy(std::string_view json_text) {
  if (json_text.size() > kMaxPolicyBytes) {
    return ParseError{"policy text is " + std::to_string(json_text.size()) +
                          " bytes; the limit is " + std::to_string(kMaxPolicyBytes),
                      "", 0, 0};
  }
  SyntaxCheck syntax;
  if (!Json::sax_parse(json_text.begin(), json_text.end(), &syntax)) {
    // nlohmann counts bytes read, so the offending byte is one before.
    const std::size_t offset = syntax.position() > 0 ? syntax.position() - 1 : 0;
    const detail::LineColumn lc = detail::line_column(json_text, offset);
    return ParseError{syntax.message(), "", lc.line, lc.column};
  }
  auto index = detail::PositionIndex::build(json_text, kMaxNestingDepth);
  if (auto* error = std::get_if<detail::ScanError>(&index)) {
    const detail::LineColumn lc = detail::line_column(json_text, error->offset);
    return ParseError{error->message, error->path, lc.line, lc.column};
  }
  const Json root = Json::parse(json_text.begin(), json_text.end());
  try {
    return Parser(json_text, std::get<detail::PositionIndex>(index)).document(root);
  } catch (const Failure& failure) {
    return failure.error;
  }
}

std::string format_parse_error(const ParseError& error) {
  std::string out;
  if (error.line > 0) {
    out = "line " + std::to_string(error.line) + ", column " + std::to_string(error.column);
  }
  if (!error.path.empty()) {
    out += (out.empty() ? "(" : " (") + error.path + ")";
  }
  if (!out.empty()) {
    out += ": ";
  }
  return out + error.message;
}

}  // namespace sallyport::policy
