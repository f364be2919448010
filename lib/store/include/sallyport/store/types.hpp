#pragma once
// Records kept in the gateway's state. Times are milliseconds since the Unix epoch (UTC).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sallyport::store {

using Millis = std::int64_t;
using Tags = std::map<std::string, std::string>;

struct User {
  std::string name;
  std::string password_hash;  // Argon2id encoded; never logged
  Tags tags;
  bool is_admin = false;
  Millis created_at = 0;
};

struct Activation {
  std::string id;
  std::string name;
  std::string code_hash;       // sha256 hex of the one-time code
  Tags tags;
  int registration_limit = 1;
  int registrations = 0;
  Millis expires_at = 0;
  Millis created_at = 0;
  std::string created_by;
};

struct Inventory {
  std::string hostname;
  std::string platform_name;     // e.g. "Debian GNU/Linux"
  std::string platform_version;  // e.g. "12"
  std::string kernel;
  std::string architecture;
  std::string agent_version;
  std::vector<std::string> ip_addresses;
};

struct Node {
  std::string id;            // "mi-" + 17 lowercase hex digits
  std::string name;
  std::string public_key;    // raw 32-byte Ed25519 key
  std::string activation_id;
  Tags tags;
  Inventory inventory;
  Millis registered_at = 0;
  bool revoked = false;
  // Connection state, written by whichever gateway holds the agent's connection.
  bool connected = false;
  std::string connected_gateway;  // gateway instance id holding the connection
  Millis last_ping_at = 0;
};

struct ApiToken {
  std::string token_hash;  // sha256 hex of the bearer secret
  std::string user;
  Millis created_at = 0;
  Millis expires_at = 0;
};

struct AuditEvent {
  std::int64_t id = 0;  // assigned by the store, increasing
  Millis time = 0;
  std::string actor;    // user name, "node/mi-…", or "anonymous"
  std::string source;   // remote address
  std::string action;   // e.g. "auth:Login", "activation:Create"
  std::string target;   // e.g. "user/alice", "node/mi-…"
  std::string outcome;  // "success" | "failure" | "denied"
  std::string detail;   // free text, never a secret
};

struct PolicyRecord {
  std::string name;
  std::string document;  // the JSON text as submitted (validated by the policy engine)
  bool builtin = false;  // built-in policies cannot be changed or deleted
  Millis created_at = 0;
  Millis updated_at = 0;
};

struct Group {
  std::string name;
  Millis created_at = 0;
};

enum class PolicyPrincipal { kUser, kGroup };

struct SessionRecord {
  std::string id;        // e.g. "alice-0123456789abcdef0"
  std::string owner;     // user name
  std::string node_id;
  std::string run_as;
  std::string kind;      // "shell" | "command" | "port-forward"
  std::string command;   // the command line for kind "command", else ""
  std::string status;    // "Connected" | "Terminated" | "Failed"
  std::string reason;    // who or what ended it ("exited", "terminated by admin", "idle timeout", …)
  std::string gateway_id;
  Millis started_at = 0;
  Millis ended_at = 0;   // 0 while active
  std::int64_t bytes_in = 0;   // client -> node
  std::int64_t bytes_out = 0;  // node -> client
  std::optional<int> exit_code;
  std::optional<int> exit_signal;
};

// A request, made through one gateway, that the gateway holding a live session end it.
struct TerminationRequest {
  std::string session_id;
  std::string requested_by;  // user name
  std::string reason;        // as the user gave it ("" for none)
};

}  // namespace sallyport::store
