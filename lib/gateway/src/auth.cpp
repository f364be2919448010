#include "sallyport/gateway/auth.hpp"

#include "sallyport/crypto/crypto.hpp"

namespace sallyport::gateway {
namespace {
// A valid Argon2id hash that matches no password: verifying against it when the user does not
// exist keeps the timing of a wrong user equal to that of a wrong password.
const std::string& dummy_hash() {
  static const std::string hash = crypto::hash_password(crypto::random_bytes(16));
  return hash;
}
}  // namespace

Authenticator::Authenticator(store::Store& store, const util::Clock& clock, util::Millis token_ttl_ms)
    : store_(store), clock_(clock), token_ttl_ms_(token_ttl_ms) {}

LoginResult Authenticator::login(const std::string& user, const std::string& password, const std::string& source) {
  const util::Millis now = clock_.now_ms();
  const std::string user_key = "user:" + user;
  const std::string address_key = "addr:" + source;
  if (store_.count_login_failures(user_key, now - kFailureWindowMs) >= kMaxFailuresPerUser ||
      store_.count_login_failures(address_key, now - kFailureWindowMs) >= kMaxFailuresPerAddress) {
    return {LoginResult::Outcome::kRateLimited, "", 0};
  }
  const auto record = store_.get_user(user);
  const bool ok = crypto::verify_password(record ? record->password_hash : dummy_hash(), password) && record;
  if (!ok) {
    store_.record_login_failure(user_key, now);
    store_.record_login_failure(address_key, now);
    return {LoginResult::Outcome::kBadCredentials, "", 0};
  }
  store_.clear_login_failures(user_key);
  return issue(user);
}

LoginResult Authenticator::issue(const std::string& user) {
  const util::Millis now = clock_.now_ms();
  store_.delete_expired_tokens(now);
  LoginResult result;
  result.outcome = LoginResult::Outcome::kOk;
  result.token = crypto::new_secret("spt_");
  result.expires_at = now + token_ttl_ms_;
  store_.create_token({crypto::sha256_hex(result.token), user, now, result.expires_at});
  return result;
}

std::optional<store::User> Authenticator::authenticate(const std::string& token) {
  if (token.empty() || token.size() > 256) return std::nullopt;
  const auto record = store_.get_token(crypto::sha256_hex(token));
  if (!record || record->expires_at <= clock_.now_ms()) return std::nullopt;
  return store_.get_user(record->user);
}

std::optional<LoginResult> Authenticator::refresh(const std::string& token) {
  const auto user = authenticate(token);
  if (!user) return std::nullopt;
  store_.delete_token(crypto::sha256_hex(token));
  return issue(user->name);
}

void Authenticator::logout(const std::string& token) { store_.delete_token(crypto::sha256_hex(token)); }

bool Authenticator::address_limited(const std::string& scope, const std::string& source) {
  return store_.count_login_failures(scope + ":" + source, clock_.now_ms() - kFailureWindowMs) >=
         kMaxFailuresPerAddress;
}

void Authenticator::record_address_failure(const std::string& scope, const std::string& source) {
  store_.record_login_failure(scope + ":" + source, clock_.now_ms());
}

}  // namespace sallyport::gateway
