#pragma once
// `sallyport-agent run`: keep one outbound link to the gateway, prove the identity on every
// connect, report inventory, send heartbeats, and reconnect after any failure with back-off.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "sallyport/agent/identity.hpp"

namespace sallyport::agent {

struct RunnerOptions {
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::seconds link_idle_timeout{30};  // no traffic (pings included) for this long: reconnect
  bool create_run_as_user = false;             // create a missing run-as user (no sudo rights)
};

enum class LinkState { kConnecting, kOnline, kStopped };

class Runner {
 public:
  Runner(boost::asio::any_io_executor executor, Identity identity, RunnerOptions options);
  ~Runner();

  // Runs until stop(); never throws for network failures (it retries).
  boost::asio::awaitable<void> run();
  // Closes the link cleanly and ends run(). Safe to call from the runner's executor only.
  void stop();
  LinkState state() const;
  const Identity& identity() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The whole program for one identity: loads it from state_dir, runs until SIGINT/SIGTERM.
// Returns the process exit status.
int run_agent(const std::filesystem::path& state_dir, RunnerOptions options);

}  // namespace sallyport::agent
