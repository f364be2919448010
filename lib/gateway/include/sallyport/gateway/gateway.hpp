#pragma once
// The gateway process: one io_context, one TLS port (API, agent links), one store.
#include <cstdint>
#include <memory>
#include <string>

#include "sallyport/gateway/config.hpp"

namespace sallyport::gateway {

class Gateway {
 public:
  // Prepares the data dir, TLS and store and binds the port; throws on any start-up problem.
  explicit Gateway(GatewayConfig config);
  ~Gateway();

  // Serves until SIGINT or SIGTERM.
  void run();
  std::uint16_t port() const;
  const std::string& ca_fingerprint() const;
  const std::string& startup_notice() const;  // e.g. where the admin password was written

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sallyport::gateway
