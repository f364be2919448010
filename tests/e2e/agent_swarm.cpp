// sallyport-agent-swarm: many agent identities in one process, to load a gateway with links the
// way a fleet would, without starting hundreds of processes. Test-only.
//   sallyport-agent-swarm --gateway URL --ca-file PEM --activation-id ID --activation-code CODE
//                         --count N --state-dir DIR [--max-backoff 2s] [--log-level warn]
// Registers N identities (state dirs DIR/0 .. DIR/N-1; existing ones are reused), prints
// "registered N", then runs N agent::Runner instances on one io_context until SIGTERM/SIGINT.
#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>
#include <memory>
#include <vector>

#include "sallyport/agent/registration.hpp"
#include "sallyport/agent/runner.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/util/duration.hpp"
#include "sallyport/util/files.hpp"
#include "sallyport/util/logging.hpp"

int main(int argc, char** argv) {
  using namespace sallyport;
  namespace asio = boost::asio;
  CLI::App app{"Runs many Sallyport agents in one process (for tests)"};
  std::string gateway, ca_file, activation_id, activation_code, state_dir, max_backoff = "2s", log_level = "warn";
  int count = 1;
  app.add_option("--gateway", gateway, "https://HOST:PORT")->required();
  app.add_option("--ca-file", ca_file, "PEM of the gateway's CA")->required()->check(CLI::ExistingFile);
  app.add_option("--activation-id", activation_id)->required();
  app.add_option("--activation-code", activation_code)->required();
  app.add_option("--count", count, "number of agents")->check(CLI::Range(1, 100'000));
  app.add_option("--state-dir", state_dir, "DIR/0 .. DIR/N-1 hold the identities")->required();
  app.add_option("--max-backoff", max_backoff, "longest wait between reconnects");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  CLI11_PARSE(app, argc, argv);

  try {
    util::setup_logging("swarm", log_level);
    crypto::initialize();
    agent::RunnerOptions options;
    const auto backoff = util::parse_duration(max_backoff);
    if (!backoff || backoff->count() < 1000) {
      std::cerr << "sallyport-agent-swarm: --max-backoff must be at least 1s\n";
      return 2;
    }
    options.max_backoff = *backoff;

    agent::RegistrationRequest request;
    request.gateway = gateway;
    request.trust.ca_pem = util::read_file(ca_file, 1 << 20);
    request.activation_id = activation_id;
    request.activation_code = activation_code;
    std::vector<agent::Identity> identities;
    for (int i = 0; i < count; ++i) {
      const std::filesystem::path dir = std::filesystem::path(state_dir) / std::to_string(i);
      if (agent::has_identity(dir)) {
        identities.push_back(agent::load_identity(dir));
        continue;
      }
      request.state_dir = dir;
      request.name = "swarm-" + std::to_string(i);
      identities.push_back(agent::register_agent(request));
    }
    std::cout << "registered " << identities.size() << std::endl;

    asio::io_context io;
    std::vector<std::unique_ptr<agent::Runner>> runners;
    for (auto& identity : identities) {
      runners.push_back(std::make_unique<agent::Runner>(io.get_executor(), std::move(identity), options));
    }
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      for (auto& runner : runners) runner->stop();
    });
    std::size_t running = runners.size();
    for (auto& runner : runners) {
      asio::co_spawn(io, runner->run(), [&](std::exception_ptr failure) {
        if (failure) std::cerr << "sallyport-agent-swarm: a runner failed\n";
        if (--running == 0) signals.cancel();
      });
    }
    io.run();
    std::cout << "stopped" << std::endl;
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "sallyport-agent-swarm: " << error.what() << "\n";
    return 1;
  }
}
