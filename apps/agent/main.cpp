// sallyport-agent: registers a machine with a gateway and keeps its outbound link.
#include <CLI/CLI.hpp>

#include <iostream>

#include "sallyport/agent/registration.hpp"
#include "sallyport/agent/runner.hpp"
#include "sallyport/util/duration.hpp"
#include "sallyport/util/files.hpp"
#include "sallyport/util/logging.hpp"
#include "sallyport/util/memory.hpp"
#include "sallyport/util/version.hpp"

int main(int argc, char** argv) {
  sallyport::util::keep_freed_message_memory();
  using namespace sallyport;
  CLI::App app{"Sallyport agent: dials out to a gateway so people can reach this machine through it"};
  app.set_version_flag("--version", std::string("sallyport-agent ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may follow the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");

  agent::RegistrationRequest registration;
  std::string tags_text, state_dir;
  auto* reg = app.add_subcommand("register", "register this machine with an activation");
  reg->add_option("--gateway", registration.gateway, "https://HOST:PORT of the gateway")->required();
  reg->add_option("--ca-fingerprint", registration.trust.fingerprint, "SHA256 fingerprint of the gateway's CA");
  std::string ca_file;
  reg->add_option("--ca-file", ca_file, "PEM file of the gateway's CA")->check(CLI::ExistingFile);
  reg->add_option("--activation-id", registration.activation_id, "activation ID")->required();
  reg->add_option("--activation-code", registration.activation_code, "activation code")->required();
  reg->add_option("--state-dir", state_dir, "where the identity is kept")->required();
  reg->add_option("--name", registration.name, "node name (default: the host name)");
  reg->add_option("--tags", tags_text, "k=v,k2=v2 (the activation's tags take precedence)");

  agent::RunnerOptions run_options;
  std::string run_state_dir, max_backoff;
  auto* run = app.add_subcommand("run", "keep the outbound link to the gateway");
  run->add_option("--state-dir", run_state_dir, "where register left the identity")->required();
  run->add_option("--max-backoff", max_backoff, "longest wait between reconnects (default 30s)");
  run->add_flag("--create-run-as-user", run_options.create_run_as_user,
                "create a missing run-as user (home directory, no sudo rights) on first use");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  try {
    util::setup_logging("agent", log_level);
    if (*reg) {
      if (registration.trust.fingerprint.empty() && ca_file.empty()) {
        std::cerr << "sallyport-agent: pass --ca-fingerprint SHA256:<hex> or --ca-file PATH to trust the gateway\n";
        return 2;
      }
      if (!ca_file.empty()) registration.trust.ca_pem = util::read_file(ca_file, 1 << 20);
      const auto tags = util::parse_tags(tags_text);
      if (!tags.error.empty()) {
        std::cerr << "sallyport-agent: --tags: " << tags.error << "\n";
        return 2;
      }
      registration.tags = tags.tags;
      registration.state_dir = state_dir;
      crypto::initialize();
      const auto identity = agent::register_agent(registration);
      std::cout << "Registered as " << identity.node_id << " (" << identity.name << ") with " << identity.gateway << "\n"
                << "Start the agent with: sallyport-agent run --state-dir " << state_dir << "\n";
      return 0;
    }
    if (!max_backoff.empty()) {
      const auto parsed = util::parse_duration(max_backoff);
      if (!parsed || parsed->count() < 1000) {
        std::cerr << "sallyport-agent: --max-backoff must be a duration of at least 1s\n";
        return 2;
      }
      run_options.max_backoff = *parsed;
    }
    return agent::run_agent(run_state_dir, run_options);
  } catch (const std::exception& error) {
    std::cerr << "sallyport-agent: " << error.what() << "\n";
    return 1;
  }
}
