#pragma once
// Users' authentication: password login with rate limiting, bearer tokens (only their hashes
// are stored), and the authorisation check every API call goes through.
#include <optional>
#include <string>

#include "sallyport/store/store.hpp"
#include "sallyport/util/clock.hpp"

namespace sallyport::gateway {

constexpr int kMaxFailuresPerUser = 5;          // within kFailureWindowMs
constexpr int kMaxFailuresPerAddress = 20;
constexpr util::Millis kFailureWindowMs = 5 * 60 * 1000;

struct LoginResult {
  enum class Outcome { kOk, kBadCredentials, kRateLimited } outcome = Outcome::kBadCredentials;
  std::string token;  // the bearer secret, returned once
  util::Millis expires_at = 0;
};

class Authenticator {
 public:
  Authenticator(store::Store& store, const util::Clock& clock, util::Millis token_ttl_ms);

  LoginResult login(const std::string& user, const std::string& password, const std::string& source);
  // The user behind a bearer token, if it is known and unexpired.
  std::optional<store::User> authenticate(const std::string& token);
  // Issues a fresh token for the same user and revokes the old one.
  std::optional<LoginResult> refresh(const std::string& token);
  void logout(const std::string& token);
  // Records a failed attempt for an address-level limit on anything guessable (activation codes).
  bool address_limited(const std::string& scope, const std::string& source);
  void record_address_failure(const std::string& scope, const std::string& source);

 private:
  LoginResult issue(const std::string& user);

  store::Store& store_;
  const util::Clock& clock_;
  util::Millis token_ttl_ms_;
};

}  // namespace sallyport::gateway
