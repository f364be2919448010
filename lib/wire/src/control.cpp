#include "sallyport/wire/control.hpp"

#include <map>
#include <stdexcept>
#include <vector>

namespace sallyport::wire {
namespace {

enum class Kind { kString, kInteger, kStringList, kBool };

constexpr std::size_t kMaxFrameCount = std::size_t{1} << 53;  // what a JSON number holds exactly

struct Field {
  const char* name;
  Kind kind;
  std::size_t max;  // bytes for strings, items for lists, value for integers
  bool required;
};

// The schema, version kProtocolVersion. Unknown fields are refused too, so a typo or an
// attacker's extra field never reaches a handler.
const std::map<std::string, std::vector<Field>, std::less<>>& schema() {
  static const std::map<std::string, std::vector<Field>, std::less<>> table = {
      {msg::kChallenge, {{"protocol", Kind::kInteger, 1000, true}, {"nonce", Kind::kString, 128, true}}},
      {msg::kHello,
       {{"protocol", Kind::kInteger, 1000, true},
        {"node_id", Kind::kString, 64, true},
        {"signature", Kind::kString, 256, true},
        {"agent_version", Kind::kString, 64, true},
        {"kept_sessions", Kind::kStringList, kMaxKeptSessions, false}}},
      {msg::kWelcome,
       {{"heartbeat_seconds", Kind::kInteger, 3600, true}, {"gateway_id", Kind::kString, 128, true}}},
      {msg::kInventory,
       {{"hostname", Kind::kString, 255, true},
        {"platform_name", Kind::kString, 128, true},
        {"platform_version", Kind::kString, 128, true},
        {"kernel", Kind::kString, 256, true},
        {"architecture", Kind::kString, 64, true},
        {"agent_version", Kind::kString, 64, true},
        {"ip_addresses", Kind::kStringList, 64, true}}},
      {msg::kHeartbeat, {}},
      {msg::kSessionStart,
       {{"protocol", Kind::kInteger, 1000, true},
        {"target", Kind::kString, 128, true},
        {"mode", Kind::kString, 16, true},
        {"command", Kind::kStringList, 256, false},
        {"cols", Kind::kInteger, 10000, false},
        {"rows", Kind::kInteger, 10000, false},
        {"term", Kind::kString, 64, false},
        {"resumable", Kind::kBool, 0, false}}},
      {msg::kSessionStarted,
       {{"session_id", Kind::kString, 128, true},
        {"node_id", Kind::kString, 64, true},
        {"run_as", Kind::kString, 64, true},
        {"resume_token", Kind::kString, 128, false},
        {"resume_grace_seconds", Kind::kInteger, 3600, false}}},
      {msg::kSessionResume,
       {{"protocol", Kind::kInteger, 1000, true},
        {"session_id", Kind::kString, 128, true},
        {"resume_token", Kind::kString, 128, true},
        {"output_frames", Kind::kInteger, kMaxFrameCount, true},
        {"output_bytes", Kind::kInteger, kMaxFrameCount, false},
        {"output_credit", Kind::kInteger, kMaxFrameCount, true}}},
      {msg::kSessionResumed,
       {{"session_id", Kind::kString, 128, true},
        {"input_frames", Kind::kInteger, kMaxFrameCount, true},
        {"input_credit", Kind::kInteger, kMaxFrameCount, true}}},
      {msg::kSessionWatch, {{"protocol", Kind::kInteger, 1000, true}, {"session_id", Kind::kString, 128, true}}},
      {msg::kSessionWatching,
       {{"session_id", Kind::kString, 128, true},
        {"owner", Kind::kString, 64, true},
        {"node_id", Kind::kString, 64, true},
        {"kind", Kind::kString, 16, true},
        {"cols", Kind::kInteger, 10000, true},
        {"rows", Kind::kInteger, 10000, true}}},
      {msg::kSessionOpen,
       {{"session_id", Kind::kString, 128, true},
        {"mode", Kind::kString, 16, true},
        {"command", Kind::kStringList, 256, false},
        {"run_as", Kind::kString, 64, true},
        {"cols", Kind::kInteger, 10000, false},
        {"rows", Kind::kInteger, 10000, false},
        {"term", Kind::kString, 64, false},
        {"shell_profile", Kind::kString, 4096, false},
        {"resume_grace_seconds", Kind::kInteger, 3600, false}}},
      {msg::kSessionReattach,
       {{"session_id", Kind::kString, 128, true},
        {"input_frames", Kind::kInteger, kMaxFrameCount, true},
        {"input_bytes", Kind::kInteger, kMaxFrameCount, false},
        {"input_credit", Kind::kInteger, kMaxFrameCount, true},
        {"output_credit", Kind::kInteger, kMaxFrameCount, true}}},
      {msg::kSessionReattached, {{"output_frames", Kind::kInteger, kMaxFrameCount, true}}},
      {msg::kSessionOpened, {}},
      {msg::kSessionFailed, {{"code", Kind::kString, 64, true}, {"message", Kind::kString, 1024, true}}},
      {msg::kResize, {{"cols", Kind::kInteger, 10000, true}, {"rows", Kind::kInteger, 10000, true}}},
      {msg::kEof, {}},
      {msg::kExit, {{"exit_code", Kind::kInteger, 255, false}, {"signal", Kind::kInteger, 128, false}}},
      {msg::kSessionClose, {{"reason", Kind::kString, 256, true}, {"session_id", Kind::kString, 128, false}}},
      {msg::kSessionEnded, {{"reason", Kind::kString, 256, true}, {"reconnect", Kind::kBool, 0, false}}},
      {msg::kNotice, {{"message", Kind::kString, 1024, true}}},
      {msg::kForwardStart,
       {{"protocol", Kind::kInteger, 1000, true},
        {"target", Kind::kString, 128, true},
        {"remote_host", Kind::kString, 255, true},
        {"remote_port", Kind::kInteger, 65535, true}}},
      {msg::kForwardStarted,
       {{"session_id", Kind::kString, 128, true},
        {"node_id", Kind::kString, 64, true},
        {"remote_host", Kind::kString, 255, true},
        {"remote_port", Kind::kInteger, 65535, true}}},
      {msg::kStreamOpen, {}},
      {msg::kStreamConnect,
       {{"session_id", Kind::kString, 128, true},
        {"host", Kind::kString, 255, true},
        {"port", Kind::kInteger, 65535, true}}},
      {msg::kStreamOpened, {{"remote_address", Kind::kString, 128, false}}},
      {msg::kStreamFailed, {{"code", Kind::kString, 64, true}, {"message", Kind::kString, 1024, true}}},
      {msg::kStreamClose, {{"reason", Kind::kString, 256, true}}},
      {msg::kForwardCredit,
       {{"session_id", Kind::kString, 128, true}, {"bytes", Kind::kInteger, kForwardSessionWindowBytes, true}}},
      {msg::kForwardEnd, {{"session_id", Kind::kString, 128, true}}},
      {msg::kError, {{"code", Kind::kString, 64, true}, {"message", Kind::kString, 1024, true}}},
  };
  return table;
}

std::string check_field(const nlohmann::json& value, const Field& field) {
  const std::string name = field.name;
  switch (field.kind) {
    case Kind::kString:
      if (!value.is_string()) return "field '" + name + "' must be a string";
      if (value.get_ref<const std::string&>().size() > field.max) return "field '" + name + "' is too long";
      return "";
    case Kind::kInteger:
      if (!value.is_number_integer()) return "field '" + name + "' must be an integer";
      if (value.get<std::int64_t>() < 0 || value.get<std::int64_t>() > static_cast<std::int64_t>(field.max)) {
        return "field '" + name + "' is out of range";
      }
      return "";
    case Kind::kBool:
      if (!value.is_boolean()) return "field '" + name + "' must be true or false";
      return "";
    case Kind::kStringList:
      if (!value.is_array()) return "field '" + name + "' must be a list of strings";
      if (value.size() > field.max) return "field '" + name + "' has too many items";
      for (const auto& item : value) {
        if (!item.is_string() || item.get_ref<const std::string&>().size() > 4096) {
          return "field '" + name + "' must hold strings of at most 4096 bytes";
        }
      }
      return "";
  }
  return "unknown field kind";
}

std::string validate(const nlohmann::json& message) {
  if (!message.is_object()) return "control message is not a JSON object";
  const auto type_it = message.find("type");
  if (type_it == message.end() || !type_it->is_string()) return "control message has no type";
  const auto& type = type_it->get_ref<const std::string&>();
  const auto spec = schema().find(type);
  if (spec == schema().end()) return "unknown control message type '" + type.substr(0, 64) + "'";
  for (const auto& field : spec->second) {
    const auto it = message.find(field.name);
    if (it == message.end()) {
      if (field.required) return type + ": missing field '" + field.name + "'";
      continue;
    }
    if (auto problem = check_field(*it, field); !problem.empty()) return type + ": " + problem;
  }
  for (const auto& [key, value] : message.items()) {
    if (key == "type") continue;
    bool known = false;
    for (const auto& field : spec->second) known = known || key == field.name;
    if (!known) return type + ": unknown field '" + key.substr(0, 64) + "'";
  }
  return "";
}

}  // namespace

ParsedControl parse_control(std::string_view payload) {
  ParsedControl result;
  if (payload.size() > kMaxControlBytes) {
    result.error = "control message larger than the limit";
    return result;
  }
  // Depth is bounded by the schema (flat objects), but nlohmann's parser recurses: refuse deep
  // nesting before parsing so hostile input cannot exhaust the stack.
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : payload) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > 4) {
        result.error = "control message nested too deeply";
        return result;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  auto parsed = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    result.error = "control message is not valid JSON";
    return result;
  }
  result.error = validate(parsed);
  if (result.error.empty()) result.message = std::move(parsed);
  return result;
}

std::string encode_control(const nlohmann::json& message, std::uint32_t channel) {
  if (auto problem = validate(message); !problem.empty()) throw std::invalid_argument(problem);
  return encode(FrameType::kControl, channel,
                message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string hello_signing_input(std::string_view nonce, std::string_view node_id) {
  std::string input = "sallyport-agent-hello-v1";
  input.push_back('\0');
  input.append(nonce);
  input.push_back('\0');
  input.append(node_id);
  return input;
}

}  // namespace sallyport::wire
