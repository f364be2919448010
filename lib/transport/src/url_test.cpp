#include "sallyport/transport/url.hpp"

#include <gtest/gtest.h>

#include "sallyport/transport/http_types.hpp"

using namespace sallyport::transport;

TEST(Url, ParsesHostAndPort) {
  const auto result = parse_url("https://127.0.0.1:8443/");
  ASSERT_TRUE(result.url) << result.error;
  EXPECT_EQ(result.url->host, "127.0.0.1");
  EXPECT_EQ(result.url->port, 8443);
  EXPECT_EQ(result.url->to_string(), "https://127.0.0.1:8443");
  EXPECT_EQ(parse_url("https://gw.example").url->port, 443);
  EXPECT_EQ(parse_url("https://[::1]:9").url->host, "::1");
}

TEST(Url, RefusesOthers) {
  for (const char* bad : {"http://x", "x:1", "https://", "https://a:0", "https://a:70000", "https://a/b",
                          "https://u@a", "https://a b", "https://[zz]:1", "https://a:1x"}) {
    EXPECT_FALSE(parse_url(bad).url.has_value()) << bad;
    EXPECT_FALSE(parse_url(bad).error.empty()) << bad;
  }
}

TEST(HostPort, Parses) {
  EXPECT_EQ(parse_host_port("127.0.0.1:8443")->port, 8443);
  EXPECT_EQ(parse_host_port("[::1]:0")->host, "::1");
  EXPECT_FALSE(parse_host_port("8443").has_value());
  EXPECT_FALSE(parse_host_port("a:b").has_value());
}

TEST(HttpRequest, QueryAndHeaders) {
  HttpRequest request;
  request.target = "/v1/audit?since=1h&x=a%20b&y=c+d";
  request.headers = {{"Authorization", "Bearer t"}};
  EXPECT_EQ(request.path(), "/v1/audit");
  EXPECT_EQ(request.query_param("since"), "1h");
  EXPECT_EQ(request.query_param("x"), "a b");
  EXPECT_EQ(request.query_param("y"), "c d");
  EXPECT_EQ(request.query_param("z"), "");
  EXPECT_EQ(request.header("authorization"), "Bearer t");
}
