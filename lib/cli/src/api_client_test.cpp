#include "api_client.hpp"

#include <gtest/gtest.h>

#include "error.hpp"
#include "test_support.hpp"

namespace sallyport::cli {
namespace {

using testing::json_answer;

struct Recorded {
  std::vector<transport::HttpRequest> requests;
};

ApiClient client_answering(Recorded& recorded, transport::HttpResponse response, std::string token = "tok") {
  Sender send = [&recorded, response](const transport::ClientOptions&, const transport::HttpRequest& request) {
    recorded.requests.push_back(request);
    transport::ClientResponse answer;
    answer.response = response;
    answer.trusted_ca_pem = "CA";
    return answer;
  };
  transport::ClientOptions options;
  options.gateway = *transport::parse_url("https://127.0.0.1:8443").url;
  options.trust.ca_pem = "CA";
  return ApiClient(send, options, std::move(token));
}

int exit_code_of(ApiClient& client, std::string& message) {
  try {
    client.get("/v1/nodes");
  } catch (const CliError& error) {
    message = error.what();
    return error.exit_code();
  }
  return kExitOk;
}

TEST(ApiClient, SendsBearerTokenAndJsonBody) {
  Recorded recorded;
  auto client = client_answering(recorded, json_answer(200, R"({"ok":true})"));
  const json answer = client.post("/v1/users", {{"name", "bob"}});
  EXPECT_EQ(answer["ok"], true);
  EXPECT_EQ(client.trusted_ca_pem(), "CA");
  ASSERT_EQ(recorded.requests.size(), 1u);
  const auto& request = recorded.requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1/users");
  EXPECT_EQ(request.header("authorization"), "Bearer tok");
  EXPECT_EQ(request.header("content-type"), "application/json");
  EXPECT_EQ(json::parse(request.body), (json{{"name", "bob"}}));
}

TEST(ApiClient, NoTokenNoAuthorizationHeader) {
  Recorded recorded;
  auto client = client_answering(recorded, json_answer(200, "{}"), "");
  client.get("/v1/health");
  EXPECT_EQ(recorded.requests[0].header("authorization"), "");
  EXPECT_TRUE(recorded.requests[0].body.empty());
}

TEST(ApiClient, GatewayErrorsBecomeExitCodesWithTheGatewaysMessage) {
  const std::vector<std::pair<unsigned, int>> cases = {{400, kExitBadRequest}, {401, kExitNotLoggedIn},
                                                       {403, kExitForbidden},  {404, kExitNotFound},
                                                       {409, kExitConflict},   {429, kExitRateLimited},
                                                       {503, kExitError}};
  for (const auto& [status, code] : cases) {
    Recorded recorded;
    auto client = client_answering(recorded, json_answer(status, R"({"error":{"code":"x","message":"it went wrong"}})"));
    std::string message;
    EXPECT_EQ(exit_code_of(client, message), code) << status;
    EXPECT_EQ(message, "it went wrong");
  }
}

TEST(ApiClient, ErrorWithoutJsonNamesTheStatus) {
  Recorded recorded;
  auto client = client_answering(recorded, json_answer(502, "Bad Gateway"));
  std::string message;
  EXPECT_EQ(exit_code_of(client, message), kExitError);
  EXPECT_EQ(message, "the gateway answered HTTP 502: Bad Gateway");
  EXPECT_EQ(error_message(500, R"({"error":{}})"), "the gateway answered HTTP 500");
}

TEST(ApiClient, TransportFailureIsUnreachable) {
  Sender send = [](const transport::ClientOptions&, const transport::HttpRequest&) -> transport::ClientResponse {
    throw transport::TransportError("certificate verify failed: pinned fingerprint not presented");
  };
  ApiClient client(send, transport::ClientOptions{}, "tok");
  std::string message;
  EXPECT_EQ(exit_code_of(client, message), kExitUnreachable);
  EXPECT_EQ(message, "certificate verify failed: pinned fingerprint not presented");
}

TEST(ApiClient, InvalidJsonAnswerIsAnError) {
  Recorded recorded;
  auto client = client_answering(recorded, json_answer(200, "<html>"));
  std::string message;
  EXPECT_EQ(exit_code_of(client, message), kExitError);
  EXPECT_NE(message.find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace sallyport::cli
