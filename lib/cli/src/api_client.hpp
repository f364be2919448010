#pragma once
// JSON over transport::https_request: adds the bearer token, parses answers, and turns
// transport failures and the gateway's {"error":{"code","message"}} answers into CliError
// with the matching exit code.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "sallyport/transport/client.hpp"

namespace sallyport::cli {

using nlohmann::json;

// Sends one request; transport::https_request in production, a fake in tests.
using Sender =
    std::function<transport::ClientResponse(const transport::ClientOptions&, const transport::HttpRequest&)>;

class ApiClient {
 public:
  ApiClient(Sender send, transport::ClientOptions options, std::string token = "");

  json get(const std::string& target) { return call("GET", target, nullptr); }
  json post(const std::string& target, const json& body) { return call("POST", target, &body); }
  json put(const std::string& target, const json& body) { return call("PUT", target, &body); }
  json del(const std::string& target) { return call("DELETE", target, nullptr); }
  // Throws CliError: kExitUnreachable for transport failures, the status's code otherwise.
  json call(const std::string& method, const std::string& target, const json* body);
  // A GET whose answer is not JSON (a recording); same errors as call().
  std::string get_raw(const std::string& target);

  void set_token(std::string token) { token_ = std::move(token); }
  const transport::ClientOptions& options() const { return options_; }
  // The CA certificate that anchored trust on the last successful exchange.
  const std::string& trusted_ca_pem() const { return trusted_ca_pem_; }

 private:
  // Sends; throws CliError for transport failures and non-2xx answers.
  transport::ClientResponse exchange(const transport::HttpRequest& request);
  Sender send_;
  transport::ClientOptions options_;
  std::string token_;
  std::string trusted_ca_pem_;
};

// The message for a non-2xx answer: the gateway's error.message when present.
std::string error_message(unsigned status, const std::string& body);

}  // namespace sallyport::cli
