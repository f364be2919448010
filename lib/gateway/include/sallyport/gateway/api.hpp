#pragma once
// The REST/JSON API (/v1/...). Plain request in, response out: no I/O types, so it is tested
// directly and fuzzed. Every call is authenticated (except login, health and agent
// registration, which carries its own secret), authorised, validated and audited.
#include <memory>
#include <optional>
#include <string>

#include "sallyport/gateway/audit.hpp"
#include "sallyport/gateway/auth.hpp"
#include "sallyport/recording/recording_read.hpp"
#include "sallyport/store/store.hpp"
#include "sallyport/transport/http_types.hpp"
#include "sallyport/util/clock.hpp"

namespace sallyport::gateway {

constexpr std::size_t kMaxJsonBodyBytes = 64 * 1024;

// What the API may ask of the agent links held by this gateway.
class LinkControl {
 public:
  virtual ~LinkControl() = default;
  virtual void disconnect(const std::string& node_id, const std::string& reason) = 0;
};

// What the API may ask of the sessions brokered by this gateway.
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  // Ends a live session on both sides; false when this gateway does not hold it.
  virtual bool terminate(const std::string& session_id, const std::string& by, const std::string& reason) = 0;
  // A session's recording (asciicast v2 text), or why there is none.
  // Pure: a composite that forgot to pass it on would silently answer "no recording".
  virtual recording::RecordingRead read_recording(const std::string& session_id) = 0;
  // What a live session on this gateway is waiting for after a broken connection: "client",
  // "node", or "" (nothing, or not held here).
  virtual std::string waiting_for(const std::string& session_id) = 0;
};

struct ApiSettings {
  util::Millis agent_timeout_ms = 25'000;  // a node is ConnectionLost after this much silence
  std::string version = "0.1.0";
};

class Api {
 public:
  Api(store::Store& store, Authenticator& auth, Auditor& audit, const util::Clock& clock, LinkControl& links,
      SessionControl& sessions, ApiSettings settings);
  transport::HttpResponse handle(const transport::HttpRequest& request);
  // "SHA256:<hex>" of the gateway's CA, returned with a new activation so the console can show a
  // complete agent command.
  void set_ca_fingerprint(std::string fingerprint);

  // "Online" or "ConnectionLost" as `nodes ls` shows it.
  std::string ping_status(const store::Node& node) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sallyport::gateway
