// /v1/nodes/... (inventory) and /v1/agents/register (activation-based registration).
#include <algorithm>

#include "api_internal.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/gateway/preferences.hpp"
#include "sallyport/util/tags.hpp"

namespace sallyport::gateway::impl {
namespace {

constexpr std::size_t kNodeIdHexDigits = 17;

std::string new_node_id() {
  return "mi-" + crypto::hex_encode(crypto::random_bytes(9)).substr(0, kNodeIdHexDigits);
}

// Finds a node by id, or by name when exactly one node has it.
std::optional<store::Node> find_node(Context& context, const std::string& id_or_name, std::string& problem) {
  if (id_or_name.rfind("mi-", 0) == 0) {
    if (auto node = context.store.get_node(id_or_name)) return node;
  }
  const auto matches = context.store.find_nodes_by_name(id_or_name);
  if (matches.size() == 1) return matches.front();
  problem = matches.empty() ? "no node with id or name '" + id_or_name.substr(0, 64) + "'"
                            : "several nodes are named '" + id_or_name + "'; use the node id";
  return std::nullopt;
}

RequestContext node_context(const store::Node& node) {
  RequestContext extra;
  add_node_context(extra, node);
  return extra;
}

// Lists the nodes the caller may see: node:Read or node:List on the node itself, with its tags
// as context. The call as a whole needs node:List on node/* unless some node passes, so
// tag-scoped policies ("node:List where node:tag/env = dev") work without a separate grant.
// With ?forward_port=N[&forward_host=H] each node also says whether a port forward to H:N
// (default localhost, as `sallyport proxy`) would be allowed, so `ssh-config` lists only
// nodes the user can reach.
HttpResponse list_nodes(Context& context, const HttpRequest& request, const Caller& caller) {
  std::optional<int> forward_port;
  if (const std::string text = request.query_param("forward_port"); !text.empty()) {
    const bool digits = text.size() <= 5 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    const int port = digits ? std::stoi(text) : 0;
    if (port < 1 || port > 65535) return error_response(400, "bad_request", "forward_port must be 1-65535");
    forward_port = port;
  }
  std::string forward_host = request.query_param("forward_host");
  if (forward_host.empty()) forward_host = "localhost";
  if (forward_host.size() > 253) return error_response(400, "bad_request", "forward_host is too long");
  json items = json::array();
  // One load of the caller's policies for the whole list.
  const auto principal = context.authorizer.principal(caller.user);
  const auto list_decision = Authorizer::decide(principal, "node:List", "node/*");
  const auto run_as_tag = caller.user.tags.find("runAs");
  const std::string run_as =
      run_as_tag != caller.user.tags.end() ? run_as_tag->second : load_preferences(context.store).default_run_as;
  for (const auto& node : context.store.list_nodes()) {
    if (node.revoked) continue;
    const auto extra = node_context(node);
    const std::string resource = "node/" + node.id;
    if (!Authorizer::allowed(Authorizer::decide(principal, "node:Read", resource, extra)) &&
        !Authorizer::allowed(Authorizer::decide(principal, "node:List", resource, extra))) {
      continue;
    }
    json item = node_json(context, node);
    // Whether a session start would be allowed, decided as the session hub decides it, so the
    // console can say why a node is not startable (the hub still decides the real start).
    auto start_context = extra;
    start_context["session:runAs"] = {run_as};
    const auto start = Authorizer::decide(principal, "session:Start", resource, start_context);
    item["session_start"] = {{"allowed", Authorizer::allowed(start)},
                             {"run_as", run_as},
                             {"reason", Authorizer::allowed(start) ? "" : start.explanation}};
    if (forward_port) {
      auto forward_context = extra;
      add_forward_context(forward_context, forward_host, *forward_port);
      const auto forward = Authorizer::decide(principal, "session:PortForward", resource, forward_context);
      item["port_forward"] = {{"allowed", Authorizer::allowed(forward)},
                              {"host", forward_host},
                              {"port", *forward_port},
                              {"reason", Authorizer::allowed(forward) ? "" : forward.explanation}};
    }
    items.push_back(std::move(item));
  }
  if (items.empty() && !Authorizer::allowed(list_decision)) {
    return context.deny(caller, request, "node:List", "node/*", &list_decision);
  }
  return json_response(200, {{"nodes", items}});
}

}  // namespace

std::optional<HttpResponse> handle_nodes(Context& context, const HttpRequest& request,
                                         const std::vector<std::string>& path, const Caller& caller) {
  if (path.size() < 2 || path[1] != "nodes") return std::nullopt;
  if (path.size() == 2 && request.method == "GET") {
    return list_nodes(context, request, caller);
  }
  if (path.size() < 3) return std::nullopt;
  std::string problem;
  auto node = find_node(context, path[2], problem);
  if (!node || node->revoked) {
    if (node) problem = "node " + node->id + " is deregistered";
    return error_response(404, "not_found", problem);
  }
  const std::string resource = "node/" + node->id;
  const auto extra = node_context(*node);
  if (path.size() == 3 && request.method == "GET") {
    if (auto refused = context.authorize(caller, request, "node:Read", resource, extra)) return refused;
    return json_response(200, node_json(context, *node));
  }
  if (path.size() == 4 && path[3] == "tags" && request.method == "PUT") {
    if (auto refused = context.authorize(caller, request, "node:Tag", resource, extra)) return refused;
    Body body(request.body);
    const auto add = body.tags("tags");
    const auto remove = body.strings("remove", 50, 128);
    if (!body.ok()) return error_response(400, "bad_request", body.error());
    auto tags = node->tags;
    for (const auto& key : remove) tags.erase(key);
    for (const auto& [key, value] : add) tags[key] = value;
    if (tags.size() > util::kMaxTags) return error_response(400, "bad_request", "a node may have at most 50 tags");
    context.store.set_node_tags(node->id, tags);
    context.audit.record(caller.user.name, request.remote_address, "node:Tag", resource, "success",
                         util::format_tags(tags));
    node->tags = tags;
    return json_response(200, node_json(context, *node));
  }
  if (path.size() == 3 && request.method == "DELETE") {
    if (auto refused = context.authorize(caller, request, "node:Deregister", resource, extra)) return refused;
    context.store.revoke_node(node->id);
    context.links.disconnect(node->id, "node deregistered");
    context.audit.record(caller.user.name, request.remote_address, "node:Deregister", resource, "success");
    return json_response(200, {{"id", node->id}, {"status", "deregistered"}});
  }
  return std::nullopt;
}

std::optional<HttpResponse> handle_register(Context& context, const HttpRequest& request,
                                            const std::vector<std::string>& path) {
  if (path.size() != 3 || path[1] != "agents" || path[2] != "register") return std::nullopt;
  if (request.method != "POST") return error_response(405, "method_not_allowed", "use POST");
  const std::string& source = request.remote_address;
  if (context.auth.address_limited("register", source)) {
    context.audit.record("anonymous", source, "agent:Register", "", "failure", "rate limited");
    return error_response(429, "rate_limited", "too many failed registrations from this address; wait a few minutes");
  }
  Body body(request.body);
  const std::string activation_id = body.string("activation_id", true, 64);
  const std::string code = body.string("activation_code", true, 128);
  const std::string public_key_text = body.string("public_key", true, 128);
  std::string name = body.string("name", false, 64);
  const auto agent_tags = body.tags("tags");
  if (!body.ok()) return error_response(400, "bad_request", body.error());
  const auto public_key = crypto::base64url_decode(public_key_text);
  if (!public_key || public_key->size() != 32) {
    return error_response(400, "bad_request", "public_key must be a base64url Ed25519 public key (32 bytes)");
  }
  if (!name.empty() && !valid_name(name, 64)) {
    return error_response(400, "bad_request", "name may hold only letters, digits, '.', '_' and '-'");
  }
  const auto activation = context.store.get_activation(activation_id);
  const std::string target = "activation/" + activation_id.substr(0, 64);
  if (!activation || !crypto::constant_time_equal(crypto::sha256_hex(code), activation->code_hash)) {
    context.auth.record_address_failure("register", source);
    context.audit.record("anonymous", source, "agent:Register", target, "failure", "wrong activation id or code");
    return error_response(403, "bad_activation", "the activation ID or code is wrong");
  }
  switch (context.store.consume_activation(activation_id, context.clock.now_ms())) {
    case store::ConsumeResult::kConsumed:
      break;
    case store::ConsumeResult::kExpired:
      context.audit.record("anonymous", source, "agent:Register", target, "failure", "activation expired");
      return error_response(403, "activation_expired", "the activation has expired; create a new one");
    case store::ConsumeResult::kExhausted:
      context.audit.record("anonymous", source, "agent:Register", target, "failure", "activation limit reached");
      return error_response(403, "activation_exhausted",
                            "the activation has reached its registration limit; create a new one");
    case store::ConsumeResult::kNotFound:
      context.audit.record("anonymous", source, "agent:Register", target, "failure", "activation deleted");
      return error_response(403, "bad_activation", "the activation ID or code is wrong");
  }
  store::Node node;
  node.id = new_node_id();
  node.name = name.empty() ? (activation->name.empty() ? node.id : activation->name) : name;
  node.public_key = *public_key;
  node.activation_id = activation_id;
  // The activation's tags (set by an administrator) win over the agent's own: policies
  // depend on them, so a machine must not be able to re-label itself.
  node.tags = agent_tags;
  for (const auto& [key, value] : activation->tags) node.tags[key] = value;
  node.registered_at = context.clock.now_ms();
  while (!context.store.create_node(node)) node.id = new_node_id();
  context.audit.record("node/" + node.id, source, "agent:Register", "node/" + node.id, "success",
                       "via activation " + activation_id + " as " + node.name);
  return json_response(200, {{"node_id", node.id}, {"name", node.name}, {"tags", node.tags}});
}

}  // namespace sallyport::gateway::impl
