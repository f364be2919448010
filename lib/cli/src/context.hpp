#pragma once
// What every command works with: the outside world (environment, terminal, streams, clock,
// network), bundled so tests can replace it, and the saved login with a fresh token.
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "api_client.hpp"
#include "config.hpp"
#include "sallyport/util/clock.hpp"

namespace sallyport::cli {

struct Environment {
  EnvLookup env;
  Sender send;
  // A line read with echo off from the terminal; nullopt when there is none.
  std::function<std::optional<std::string>(const std::string& prompt)> read_secret;
  std::function<bool()> stdin_is_terminal;
  std::function<util::Millis()> now;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::istream* in = nullptr;

  static Environment system();
};

// A token is refreshed before use when it expires within this margin.
inline constexpr util::Millis kRefreshMarginMs = 10 * 60 * 1000;

class Context {
 public:
  explicit Context(Environment environment) : environment_(std::move(environment)) {}

  const Environment& environment() const { return environment_; }
  std::ostream& out() const { return *environment_.out; }
  std::ostream& err() const { return *environment_.err; }
  std::istream& in() const { return *environment_.in; }
  std::optional<std::string> env(const std::string& name) const { return environment_.env(name); }
  util::Millis now() const { return environment_.now(); }

  ConfigStore store() const;

  // The saved login; throws CliError(kExitNotLoggedIn) when there is none.
  const Credentials& credentials();
  // A client for the saved login whose token is valid for at least kRefreshMarginMs (it is
  // refreshed and saved first when needed).
  ApiClient& api();
  // The same client without the refresh (for logout).
  ApiClient& api_as_saved();

 private:
  void load_session();
  void refresh_if_needed();

  Environment environment_;
  std::optional<Credentials> credentials_;
  std::unique_ptr<ApiClient> api_;
  bool fresh_ = false;
};

// The hint in "not logged in" errors.
std::string login_hint(const std::string& gateway = "", const std::string& user = "");

}  // namespace sallyport::cli
