#pragma once
// `sallyport-agent register`: make a key pair, present it with a one-time activation, and keep
// the node id the gateway assigns.
#include <filesystem>
#include <string>

#include "sallyport/agent/identity.hpp"
#include "sallyport/transport/tls.hpp"
#include "sallyport/util/tags.hpp"

namespace sallyport::agent {

struct RegistrationRequest {
  std::string gateway;  // https URL
  transport::TrustConfig trust;
  std::string activation_id;
  std::string activation_code;
  std::filesystem::path state_dir;
  std::string name;  // default: the host name
  util::Tags tags;
};

// Throws AgentError with the gateway's reason (wrong, expired or exhausted activation, …).
Identity register_agent(const RegistrationRequest& request);

}  // namespace sallyport::agent
