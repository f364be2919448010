#pragma once
// Plain HTTP request/response values handed between the transport and the gateway's API, so
// the API code never sees a Beast type.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sallyport::transport {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, e.g. "/v1/nodes?x=1"
  Headers headers;
  std::string body;
  std::string remote_address;  // peer IP, filled by the server

  // Case-insensitive header lookup; "" when absent.
  std::string header(std::string_view name) const;
  std::string path() const;                          // target without the query
  std::string query_param(std::string_view name) const;  // "" when absent (percent-decoded)
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

}  // namespace sallyport::transport
