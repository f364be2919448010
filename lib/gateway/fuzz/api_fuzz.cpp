// Arbitrary method/target/body through the whole API router against a real SQLite store:
// the first line of the input is "METHOD TARGET", the rest is the body. Every request is
// made with an admin token so the handlers behind authentication are reached too.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "sallyport/crypto/crypto.hpp"
#include "sallyport/gateway/api.hpp"

namespace {
using namespace sallyport;

struct NoLinks : gateway::LinkControl {
  void disconnect(const std::string&, const std::string&) override {}
};

struct NoSessions : gateway::SessionControl {
  bool terminate(const std::string&, const std::string&, const std::string&) override { return false; }
  std::string waiting_for(const std::string&) override { return ""; }
  recording::RecordingRead read_recording(const std::string&) override {
    return recording::RecordingRead::failed(recording::RecordingRead::Failure::kNotFound, "no recordings in this test");
  }
};

struct World {
  World() {
    crypto::initialize();
    dir = std::filesystem::temp_directory_path() / ("sp-api-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    store = store::open_sqlite((dir / "state.db").string());
    store->create_user({"admin", crypto::hash_password("pw-pw-pw-pw"), {}, true, 0});
    auditor = std::make_unique<gateway::Auditor>(*store, clock, dir / "audit.log");
    auth = std::make_unique<gateway::Authenticator>(*store, clock, 3'600'000);
    api = std::make_unique<gateway::Api>(*store, *auth, *auditor, clock, links, sessions, gateway::ApiSettings{});
    token = auth->login("admin", "pw-pw-pw-pw", "fuzz").token;
  }
  ~World() { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  util::ManualClock clock{1'800'000'000'000};
  std::unique_ptr<store::Store> store;
  std::unique_ptr<gateway::Auditor> auditor;
  std::unique_ptr<gateway::Authenticator> auth;
  NoLinks links;
  NoSessions sessions;
  std::unique_ptr<gateway::Api> api;
  std::string token;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string line = input.substr(0, newline);
  const auto space = line.find(' ');
  transport::HttpRequest request;
  request.method = line.substr(0, space);
  request.target = space == std::string::npos ? "/" : line.substr(space + 1);
  request.body = newline == std::string::npos ? "" : input.substr(newline + 1);
  request.remote_address = "fuzz";
  request.headers.emplace_back("Authorization", "Bearer " + world.token);
  (void)world.api->handle(request);
  return 0;
}
