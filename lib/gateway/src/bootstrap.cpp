#include "sallyport/gateway/bootstrap.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "authorizer.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/crypto/pki.hpp"
#include "sallyport/transport/url.hpp"
#include "sallyport/util/files.hpp"

namespace sallyport::gateway {
namespace {

std::string local_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

std::vector<std::string> server_names(const GatewayConfig& config) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  const auto listen = transport::parse_host_port(config.listen);
  if (listen && listen->host != "0.0.0.0" && listen->host != "::") names.push_back(listen->host);
  if (auto host = local_hostname(); !host.empty()) names.push_back(host);
  for (const auto& name : config.tls_extra_names) names.push_back(name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace

TlsFiles prepare_tls(const GatewayConfig& config) {
  TlsFiles files;
  if (!config.tls_cert_file.empty()) {
    files.chain_pem = util::read_file(config.tls_cert_file, 1 << 20);
    files.key_pem = util::read_file(config.tls_key_file, 1 << 20);
    // The fingerprint clients pin: the last certificate in the chain (the issuing CA when the
    // chain includes it, the server certificate itself otherwise).
    const auto last = files.chain_pem.rfind("-----BEGIN CERTIFICATE-----");
    const auto fingerprint = last == std::string::npos ? std::nullopt
                                                       : crypto::certificate_fingerprint(files.chain_pem.substr(last));
    if (!fingerprint) throw ConfigError(config.tls_cert_file.string() + " holds no PEM certificate");
    files.ca_fingerprint = *fingerprint;
    return files;
  }
  const auto dir = config.data_dir / "tls";
  util::ensure_directory(dir, 0700);
  crypto::KeyAndCertificate ca;
  if (auto existing = util::read_file_if_exists(dir / "ca.pem")) {
    ca.certificate_pem = *existing;
    ca.key_pem = util::read_file(dir / "ca.key");
  } else {
    ca = crypto::generate_ca("Sallyport gateway CA");
    util::write_file_atomic(dir / "ca.key", ca.key_pem, 0600);
    util::write_file_atomic(dir / "ca.pem", ca.certificate_pem, 0644);
  }
  // The server certificate is reissued on every start so new names (--tls-extra-name, a
  // changed hostname) take effect; clients pin the CA, which stays.
  const auto server = crypto::issue_server_certificate(ca, server_names(config));
  util::write_file_atomic(dir / "server.key", server.key_pem, 0600);
  util::write_file_atomic(dir / "server.pem", server.certificate_pem + ca.certificate_pem, 0644);
  files.chain_pem = server.certificate_pem + ca.certificate_pem;
  files.key_pem = server.key_pem;
  const auto fingerprint = crypto::certificate_fingerprint(ca.certificate_pem);
  if (!fingerprint) throw ConfigError((dir / "ca.pem").string() + " holds no PEM certificate");
  files.ca_fingerprint = *fingerprint;
  return files;
}

std::string load_gateway_id(const GatewayConfig& config) {
  const auto path = config.data_dir / "gateway-id";
  if (auto existing = util::read_file_if_exists(path, 256)) {
    if (!existing->empty()) return *existing;
  }
  const std::string id = "gw-" + crypto::hex_encode(crypto::random_bytes(8));
  util::write_file_atomic(path, id, 0644);
  return id;
}

std::string ensure_admin(store::Store& store, const GatewayConfig& config, const util::Clock& clock) {
  // Runs on every start: built-ins must exist (and match this release) before any request.
  seed_builtin_policies(store, clock.now_ms());
  if (!store.list_users().empty()) return "";
  std::string password;
  std::string where;
  const auto password_file = config.data_dir / "initial-admin-password";
  const char* from_env = std::getenv("SALLYPORT_ADMIN_PASSWORD");
  const bool random = !from_env || !*from_env;
  if (!random) {
    password = from_env;
    where = "from SALLYPORT_ADMIN_PASSWORD";
  } else {
    password = crypto::base64url_encode(crypto::random_bytes(18));
    util::write_file_atomic(password_file, password + "\n", 0600);
    where = "in " + password_file.string();
  }
  if (!store.create_user({"admin", crypto::hash_password(password), {}, true, clock.now_ms()})) {
    // Another gateway sharing the store created it a moment ago; its password is the one.
    std::error_code ignored;
    if (random) std::filesystem::remove(password_file, ignored);
    return "";
  }
  // Policies decide everything; the is_admin flag alone grants nothing.
  store.attach_policy(store::PolicyPrincipal::kUser, "admin", "AdministratorAccess");
  return "Created user admin; its password is " + where;
}

}  // namespace sallyport::gateway
