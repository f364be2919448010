#include "sallyport/agent/registration.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "sallyport/transport/client.hpp"
#include "sallyport/transport/url.hpp"

namespace sallyport::agent {
namespace {

std::string default_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string name;
  for (char c : std::string(host)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (ok) name.push_back(c);
  }
  return name.substr(0, 64);
}

}  // namespace

Identity register_agent(const RegistrationRequest& request) {
  if (has_identity(request.state_dir)) {
    throw AgentError(request.state_dir.string() + " already holds a registered agent; use another --state-dir or remove it");
  }
  const auto url = transport::parse_url(request.gateway);
  if (!url.url) throw AgentError(url.error);
  Identity identity;
  identity.gateway = url.url->to_string();
  identity.key = crypto::SigningKey::generate();
  identity.name = request.name.empty() ? default_name() : request.name;

  transport::ClientOptions options;
  options.gateway = *url.url;
  options.trust = request.trust;
  transport::HttpRequest http;
  http.method = "POST";
  http.target = "/v1/agents/register";
  http.body = nlohmann::json{{"activation_id", request.activation_id},
                             {"activation_code", request.activation_code},
                             {"public_key", crypto::base64url_encode(identity.key.public_key)},
                             {"name", identity.name},
                             {"tags", request.tags}}
                  .dump();
  transport::ClientResponse response;
  try {
    response = transport::https_request(options, http);
  } catch (const transport::TransportError& error) {
    throw AgentError(error.what());
  }
  const auto body = nlohmann::json::parse(response.response.body, nullptr, false);
  if (response.response.status != 200) {
    std::string message = "HTTP " + std::to_string(response.response.status);
    if (body.is_object() && body.contains("error") && body["error"].is_object() &&
        body["error"].value("message", "").size() > 0) {
      message = body["error"]["message"].get<std::string>();
    }
    throw AgentError("registration refused: " + message);
  }
  if (!body.is_object() || !body.contains("node_id") || !body["node_id"].is_string()) {
    throw AgentError("the gateway's answer to registration is malformed");
  }
  identity.node_id = body["node_id"].get<std::string>();
  if (body.contains("name") && body["name"].is_string()) identity.name = body["name"].get<std::string>();
  identity.ca_pem = response.trusted_ca_pem;
  save_identity(request.state_dir, identity);
  return identity;
}

}  // namespace sallyport::agent
