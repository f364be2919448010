#pragma once
// Test doubles for the CLI: a temporary config folder, captured streams, a fake environment and
// a fake gateway that records requests, wired into a Context.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "context.hpp"
#include "sallyport/util/time_format.hpp"

namespace sallyport::cli::testing {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("sallyport-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline constexpr util::Millis kNow = 1'800'000'000'000;  // 2027-01-15

struct Harness {
  TempDir temp;
  std::map<std::string, std::string> env;
  std::ostringstream out;
  std::ostringstream err;
  std::istringstream in;
  std::vector<transport::HttpRequest> requests;
  std::vector<transport::ClientOptions> request_options;
  std::function<transport::HttpResponse(const transport::HttpRequest&)> gateway;
  std::vector<std::string> secrets;  // answers to terminal prompts, in order; none: no terminal
  std::vector<std::string> prompts;
  bool stdin_terminal = false;
  std::string trusted_ca_pem = "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n";
  util::Millis now = kNow;

  Harness() { env["SALLYPORT_CONFIG_DIR"] = config_dir().string(); }

  std::filesystem::path config_dir() const { return temp.path() / "config"; }

  Environment environment() {
    Environment environment;
    environment.env = [this](const std::string& name) -> std::optional<std::string> {
      const auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    environment.send = [this](const transport::ClientOptions& options, const transport::HttpRequest& request) {
      requests.push_back(request);
      request_options.push_back(options);
      if (!gateway) throw transport::TransportError("cannot connect to " + options.gateway.to_string() + ": refused");
      transport::ClientResponse response;
      response.response = gateway(request);
      response.trusted_ca_pem = options.trust.ca_pem.empty() ? trusted_ca_pem : options.trust.ca_pem;
      return response;
    };
    environment.read_secret = [this](const std::string& prompt) -> std::optional<std::string> {
      prompts.push_back(prompt);
      if (secrets.empty()) return std::nullopt;
      std::string secret = secrets.front();
      secrets.erase(secrets.begin());
      return secret;
    };
    environment.stdin_is_terminal = [this] { return stdin_terminal; };
    environment.now = [this] { return now; };
    environment.out = &out;
    environment.err = &err;
    environment.in = &in;
    return environment;
  }

  int run(std::vector<std::string> args) {
    Context context(environment());
    return cli::run(context, args);
  }

  // A saved login to https://127.0.0.1:8443 whose token expires `valid_for_ms` from now.
  void log_in(util::Millis valid_for_ms = 3'600'000, const std::string& ca_pem = "") {
    ConfigStore store(config_dir());
    store.save_ca("https://127.0.0.1:8443", ca_pem.empty() ? trusted_ca_pem : ca_pem);
    store.save_credentials({"https://127.0.0.1:8443", "admin", "tok-secret", util::format_rfc3339(now + valid_for_ms)});
  }
};

inline transport::HttpResponse json_answer(unsigned status, const std::string& body) {
  transport::HttpResponse response;
  response.status = status;
  response.body = body;
  return response;
}

}  // namespace sallyport::cli::testing
