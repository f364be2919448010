// The web console's cookie and CSRF helpers (the API's answers to cookie requests are in
// api_test.cpp).
#include "web_auth.hpp"

#include <gtest/gtest.h>

using namespace sallyport;
using namespace sallyport::gateway;

namespace {

transport::HttpRequest request_with(std::initializer_list<std::pair<std::string, std::string>> headers,
                                    std::string method = "GET") {
  transport::HttpRequest request;
  request.method = std::move(method);
  request.target = "/v1/nodes";
  for (const auto& header : headers) request.headers.push_back(header);
  return request;
}

}  // namespace

TEST(WebAuth, CookieValueFindsTheNamedCookieOnly) {
  EXPECT_EQ(cookie_value("sp_session=abc", "sp_session"), "abc");
  EXPECT_EQ(cookie_value("a=1; sp_session=abc; b=2", "sp_session"), "abc");
  EXPECT_EQ(cookie_value("  sp_session = \"q\" ", "sp_session"), "q");
  EXPECT_EQ(cookie_value("xsp_session=abc; sp_sessionx=d", "sp_session"), "");
  EXPECT_EQ(cookie_value("sp_session", "sp_session"), "");
  EXPECT_EQ(cookie_value(";;=;", "sp_session"), "");
  EXPECT_EQ(cookie_value("", "sp_session"), "");
  EXPECT_EQ(cookie_value("sp_session=abc", ""), "");
  // Beyond the bound the header is ignored as a whole.
  EXPECT_EQ(cookie_value("sp_session=abc; pad=" + std::string(kMaxCookieHeaderBytes, 'x'), "sp_session"), "");
}

TEST(WebAuth, BearerHeaderWinsOverCookie) {
  auto both = request_with({{"Authorization", "Bearer tok-b"}, {"Cookie", "sp_session=tok-c"}});
  EXPECT_EQ(request_credentials(both).source, CredentialSource::kBearer);
  EXPECT_EQ(request_credentials(both).token, "tok-b");
  auto cookie = request_with({{"Cookie", "sp_session=tok-c"}});
  EXPECT_EQ(request_credentials(cookie).source, CredentialSource::kCookie);
  EXPECT_EQ(request_credentials(cookie).token, "tok-c");
  EXPECT_EQ(request_credentials(request_with({{"Authorization", "Basic x"}})).source, CredentialSource::kNone);
}

TEST(WebAuth, WebSocketsTakeTheBearerTokenOrASameOriginCookie) {
  EXPECT_EQ(websocket_token(request_with({{"Authorization", "Bearer tok-b"}})), "tok-b");
  EXPECT_EQ(websocket_token(request_with({{"Cookie", "sp_session=tok-c"}, {"Origin", "https://gw:8443"},
                                          {"Host", "gw:8443"}})),
            "tok-c");
  EXPECT_EQ(websocket_token(request_with({{"Cookie", "sp_session=tok-c"}, {"Origin", "https://evil.example"},
                                          {"Host", "gw:8443"}})),
            "");
  EXPECT_EQ(websocket_token(request_with({{"Cookie", "sp_session=tok-c"}})), "");
  EXPECT_EQ(websocket_token(request_with({})), "");
}

TEST(WebAuth, CsrfTokenIsBoundToTheSession) {
  const std::string token = "spt_secret";
  EXPECT_EQ(csrf_token_for(token).size(), 64u);
  EXPECT_NE(csrf_token_for(token), csrf_token_for("spt_other"));
  EXPECT_TRUE(csrf_ok(request_with({{"X-CSRF-Token", csrf_token_for(token)}}, "POST"), token));
  EXPECT_FALSE(csrf_ok(request_with({{"X-CSRF-Token", csrf_token_for("spt_other")}}, "POST"), token));
  EXPECT_FALSE(csrf_ok(request_with({}, "POST"), token));
  EXPECT_FALSE(csrf_ok(request_with({{"X-CSRF-Token", ""}}, "POST"), ""));
  EXPECT_TRUE(safe_method("GET"));
  EXPECT_FALSE(safe_method("POST"));
  EXPECT_FALSE(safe_method("get"));
}

TEST(WebAuth, SameOriginNeedsOriginToMatchHost) {
  EXPECT_TRUE(same_origin(request_with({{"Origin", "https://gw:8443"}, {"Host", "gw:8443"}})));
  EXPECT_FALSE(same_origin(request_with({{"Origin", "https://evil.example"}, {"Host", "gw:8443"}})));
  EXPECT_FALSE(same_origin(request_with({{"Origin", "http://gw:8443"}, {"Host", "gw:8443"}})));
  EXPECT_FALSE(same_origin(request_with({{"Host", "gw:8443"}})));
  EXPECT_FALSE(same_origin(request_with({{"Origin", "https://"}, {"Host", ""}})));
}

TEST(WebAuth, CookieAttributesAreStrict) {
  const std::string cookie = session_cookie("spt_x", 3600);
  EXPECT_EQ(cookie.rfind("sp_session=spt_x;", 0), 0u);
  for (const char* attribute : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=3600"}) {
    EXPECT_NE(cookie.find(attribute), std::string::npos) << attribute;
  }
  EXPECT_NE(cleared_session_cookie().find("Max-Age=0"), std::string::npos);
}
