#include "api_client.hpp"

#include "error.hpp"

namespace sallyport::cli {
namespace {

constexpr std::size_t kMaxQuotedBodyBytes = 200;

}  // namespace

ApiClient::ApiClient(Sender send, transport::ClientOptions options, std::string token)
    : send_(std::move(send)), options_(std::move(options)), token_(std::move(token)) {}

std::string error_message(unsigned status, const std::string& body) {
  const json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_object()) {
    const auto error = value.find("error");
    if (error != value.end() && error->is_object()) {
      const auto message = error->find("message");
      if (message != error->end() && message->is_string() && !message->get_ref<const std::string&>().empty()) {
        return message->get<std::string>();
      }
    }
  }
  std::string text = "the gateway answered HTTP " + std::to_string(status);
  if (!body.empty() && !value.is_object()) text += ": " + body.substr(0, kMaxQuotedBodyBytes);
  return text;
}

json ApiClient::call(const std::string& method, const std::string& target, const json* body) {
  transport::HttpRequest request;
  request.method = method;
  request.target = target;
  request.headers.emplace_back("Accept", "application/json");
  if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  if (body != nullptr) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  const auto answer = exchange(request);
  json value = json::parse(answer.response.body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    throw CliError(kExitError, "the gateway's answer to " + method + " " + target + " is not valid JSON");
  }
  return value;
}

std::string ApiClient::get_raw(const std::string& target) {
  transport::HttpRequest request;
  request.method = "GET";
  request.target = target;
  if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  return exchange(request).response.body;
}

transport::ClientResponse ApiClient::exchange(const transport::HttpRequest& request) {
  transport::ClientResponse answer;
  try {
    answer = send_(options_, request);
  } catch (const transport::TransportError& error) {
    throw CliError(kExitUnreachable, error.what());
  }
  trusted_ca_pem_ = answer.trusted_ca_pem;
  const unsigned status = answer.response.status;
  if (status < 200 || status >= 300) {
    throw CliError(exit_code_for_status(status), error_message(status, answer.response.body));
  }
  return answer;
}

}  // namespace sallyport::cli
