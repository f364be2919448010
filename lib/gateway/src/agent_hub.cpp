#include "sallyport/gateway/agent_hub.hpp"

#include <spdlog/spdlog.h>

#include "sallyport/crypto/crypto.hpp"
#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::gateway {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// One decoded, validated control message on channel 0, or the reason it is a protocol error.
struct Incoming {
  json message;
  std::string error;
};

Incoming decode(const std::string& bytes) {
  auto decoded = wire::decode_one(bytes);
  if (!decoded.frame) return {{}, std::string("malformed frame: ") + wire::to_string(decoded.error)};
  if (decoded.frame->channel != 0) return {{}, "a channel frame before the link is up"};
  if (decoded.frame->type != wire::FrameType::kControl) return {{}, "unexpected frame type"};
  auto parsed = wire::parse_control(decoded.frame->payload);
  if (!parsed.error.empty()) return {{}, parsed.error};
  return {std::move(parsed.message), ""};
}

store::Inventory to_inventory(const json& message) {
  store::Inventory inventory;
  inventory.hostname = message["hostname"].get<std::string>();
  inventory.platform_name = message["platform_name"].get<std::string>();
  inventory.platform_version = message["platform_version"].get<std::string>();
  inventory.kernel = message["kernel"].get<std::string>();
  inventory.architecture = message["architecture"].get<std::string>();
  inventory.agent_version = message["agent_version"].get<std::string>();
  inventory.ip_addresses = message["ip_addresses"].get<std::vector<std::string>>();
  return inventory;
}

std::string error_frame(const std::string& code, const std::string& message) {
  return wire::encode_control({{"type", wire::msg::kError}, {"code", code}, {"message", message}});
}

std::string challenge_frame(const std::string& nonce) {
  return wire::encode_control({{"type", wire::msg::kChallenge}, {"protocol", wire::kProtocolVersion}, {"nonce", nonce}});
}

std::string welcome_frame(int heartbeat_seconds, const std::string& gateway_id) {
  return wire::encode_control(
      {{"type", wire::msg::kWelcome}, {"heartbeat_seconds", heartbeat_seconds}, {"gateway_id", gateway_id}});
}

}  // namespace

AgentHub::AgentHub(store::Store& store, Auditor& audit, const util::Clock& clock, HubSettings settings)
    : store_(store), audit_(audit), clock_(clock), settings_(std::move(settings)) {}

asio::awaitable<void> AgentHub::refuse(transport::MessageSocket& socket, const std::string& code,
                                       const std::string& message) {
  // Messages are built before co_await: GCC 12 miscompiles braced json initialisers inside it.
  std::string frame = error_frame(code, message);
  co_await socket.write(std::move(frame));
  co_await socket.close_gracefully(code);
}

asio::awaitable<void> AgentHub::serve(transport::HttpRequest request, std::shared_ptr<transport::MessageSocket> socket) {
  const std::string source = request.remote_address;
  const std::string nonce = crypto::base64url_encode(crypto::random_bytes(32));
  std::string challenge = challenge_frame(nonce);
  co_await socket->write(std::move(challenge));

  const auto first = co_await socket->read();
  if (!first) co_return;
  const auto hello = decode(*first);
  if (!hello.error.empty() || hello.message["type"] != wire::msg::kHello) {
    const std::string reason = hello.error.empty() ? "expected hello" : hello.error;
    spdlog::warn("agent link from {} closed: protocol error: {}", source, reason);
    audit_.record("anonymous", source, "agent:Connect", "", "failure", "protocol error: " + reason);
    co_await refuse(*socket, "protocol_error", reason);
    co_return;
  }
  if (hello.message["protocol"] != wire::kProtocolVersion) {
    const std::string reason = "unsupported protocol version " + hello.message["protocol"].dump() +
                               "; this gateway speaks " + std::to_string(wire::kProtocolVersion);
    spdlog::warn("agent link from {} closed: {}", source, reason);
    audit_.record("anonymous", source, "agent:Connect", "", "failure", reason);
    co_await refuse(*socket, "unsupported_protocol", reason);
    co_return;
  }
  const std::string node_id = hello.message["node_id"].get<std::string>();
  const std::string target = "node/" + node_id;
  const auto node = store_.get_node(node_id);
  const auto signature = crypto::base64url_decode(hello.message["signature"].get<std::string>());
  const bool signed_ok = node && signature &&
                         crypto::verify_signature(node->public_key, wire::hello_signing_input(nonce, node_id), *signature);
  if (!node || !signed_ok) {
    spdlog::warn("refused agent connection from {} for {}: unknown node or bad signature", source, target);
    audit_.record(target, source, "agent:Connect", target, "denied", "refused: unknown node or bad signature");
    co_await refuse(*socket, "unauthorized", "unknown node or bad signature: register the agent again");
    co_return;
  }
  if (node->revoked) {
    spdlog::warn("refused agent connection from {} for deregistered {}", source, target);
    audit_.record(target, source, "agent:Connect", target, "denied", "refused: node is deregistered");
    co_await refuse(*socket, "deregistered", "this node was deregistered: register it again with a new activation");
    co_return;
  }

  if (auto existing = links_.find(node_id); existing != links_.end()) existing->second->close();
  links_[node_id] = socket;
  store_.set_node_connection(node_id, true, settings_.gateway_id, clock_.now_ms());
  if (on_link_opened) on_link_opened(node_id, hello.message.value("kept_sessions", std::vector<std::string>{}));
  spdlog::info("agent {} ({}) connected from {}", node_id, node->name, source);
  std::string welcome = welcome_frame(settings_.heartbeat_seconds, settings_.gateway_id);
  co_await socket->write(std::move(welcome));

  std::string ended = "link closed";
  while (auto bytes = co_await socket->read()) {
    // Session and stream frames are handed on as received; only the link's own are decoded.
    if (const auto header = wire::peek_header(*bytes); header && header->channel != 0) {
      if (on_channel_frame) co_await on_channel_frame(node_id, socket, std::move(*bytes), *header);
      continue;
    }
    const auto incoming = decode(*bytes);
    if (!incoming.error.empty()) {
      ended = "protocol error: " + incoming.error;
      co_await refuse(*socket, "protocol_error", incoming.error);
      break;
    }
    const std::string type = incoming.message["type"].get<std::string>();
    if (type == wire::msg::kHeartbeat) {
      const auto current = store_.get_node(node_id);
      if (!current || current->revoked) {
        ended = "node deregistered";
        co_await refuse(*socket, "deregistered", "this node was deregistered");
        break;
      }
      store_.touch_node(node_id, clock_.now_ms());
    } else if (type == wire::msg::kInventory) {
      store_.set_node_inventory(node_id, to_inventory(incoming.message));
      store_.touch_node(node_id, clock_.now_ms());
    } else if (type == wire::msg::kError) {
      ended = "agent reported: " + incoming.message["message"].get<std::string>();
      break;
    } else {
      ended = "protocol error: unexpected " + type;
      co_await refuse(*socket, "protocol_error", "unexpected message " + type);
      break;
    }
  }
  socket->close();
  const auto it = links_.find(node_id);
  const bool current = it != links_.end() && it->second == socket;
  if (current) {
    links_.erase(it);
    const auto stored = store_.get_node(node_id);
    store_.set_node_connection(node_id, false, settings_.gateway_id, stored ? stored->last_ping_at : 0);
  }
  if (on_link_closed) on_link_closed(node_id, socket, current);
  spdlog::info("agent {} disconnected: {}", node_id, ended);
}

asio::awaitable<bool> AgentHub::send(const std::string& node_id, std::string frame) {
  const auto it = links_.find(node_id);
  if (it == links_.end()) co_return false;
  auto socket = it->second;
  co_return co_await socket->write(std::move(frame));
}

std::shared_ptr<transport::MessageSocket> AgentHub::link(const std::string& node_id) const {
  const auto it = links_.find(node_id);
  return it == links_.end() ? nullptr : it->second;
}

void AgentHub::disconnect(const std::string& node_id, const std::string& reason) {
  if (auto it = links_.find(node_id); it != links_.end()) {
    spdlog::info("closing link of {}: {}", node_id, reason);
    it->second->close();
  }
}

void AgentHub::close_all() {
  for (auto& [id, socket] : links_) socket->close();
}

}  // namespace sallyport::gateway
