// Static serving of the embedded web console: known names only, strict headers, and no way to
// reach anything else (dot segments, encodings, other methods).
#include "web_console.hpp"

#include <gtest/gtest.h>

#include <array>

using namespace sallyport;
using namespace sallyport::gateway;

namespace {

constexpr std::array<WebAsset, 3> kTestAssets = {{{"/index.html", "text/html; charset=utf-8", "<!doctype html>page"},
                                                  {"/app.js", "text/javascript; charset=utf-8", "console.log(1)"},
                                                  {"/app.css", "text/css; charset=utf-8", "body{}"}}};

std::optional<transport::HttpResponse> get(const std::string& target, const std::string& method = "GET") {
  transport::HttpRequest request;
  request.method = method;
  request.target = target;
  return serve_console(request, kTestAssets);
}

std::string header(const transport::HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace

TEST(WebConsole, ServesTheEmbeddedFilesWithStrictHeaders) {
  const auto page = get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200u);
  EXPECT_EQ(page->body, "<!doctype html>page");
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  const std::string csp = header(*page, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self' 'wasm-unsafe-eval';"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval'"), csp.find("wasm-unsafe-eval'") + 5);  // no plain unsafe-eval
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(header(*page, "X-Frame-Options"), "DENY");
  const auto script = get("/app.js?v=1");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200u);
  EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
  const auto head = get("/app.css", "HEAD");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  EXPECT_TRUE(head->body.empty());
}

TEST(WebConsole, LeavesTheApiAlone) {
  EXPECT_FALSE(get("/v1/health"));
  EXPECT_FALSE(get("/v1"));
  EXPECT_FALSE(get("/v1/sessions/x/recording"));
}

TEST(WebConsole, RefusesTraversalAndUnknownNames) {
  for (const char* target : {"/../state.db", "/..", "/app.js/..", "/%2e%2e/state.db", "/..%2fstate.db",
                             "/.%2e/x", "//etc/passwd", "/\\..\\x", "/index.html%00", "/nope.js", "/etc/passwd",
                             "/app.js/", "/APP.JS"}) {
    const auto response = get(target);
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->status, 404u) << target;
    EXPECT_EQ(response->body.find("console.log"), std::string::npos) << target;
  }
  EXPECT_EQ(get("/" + std::string(300, 'a'))->status, 404u);
}

TEST(WebConsole, OnlyReads) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    const auto response = get("/", method);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 405u) << method;
  }
}

TEST(WebConsole, AGatewayWithoutTheConsoleSaysSo) {
  transport::HttpRequest request;
  request.method = "GET";
  request.target = "/";
  const auto response = serve_console(request, {});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404u);
  EXPECT_NE(response->body.find("not built"), std::string::npos);
}

TEST(WebConsole, TheEmbeddedPageLoadsOnlyItsOwnScript) {
  const auto assets = web_assets();
  if (assets.empty()) GTEST_SKIP() << "built with -DSALLYPORT_WEB=OFF";
  transport::HttpRequest request;
  request.method = "GET";
  request.target = "/";
  const auto page = serve_console(request);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200u);
  EXPECT_NE(page->body.find("<script type=\"module\" src=\"/app.js\"></script>"), std::string::npos);
  // Exactly one <script>, and it has a src: no inline script for the CSP to allow.
  EXPECT_EQ(page->body.find("<script"), page->body.rfind("<script"));
  request.target = "/app.js";
  const auto script = serve_console(request);
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200u);
  EXPECT_GT(script->body.size(), 10'000u);
}
