#include "web_console.hpp"

namespace sallyport::gateway {

const char* const kConsoleCsp =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

namespace {

constexpr std::size_t kMaxAssetPathBytes = 256;

// The console routes inside the page (#/nodes, #/sessions, ...), so "/" is its only page.
bool page_path(std::string_view path) { return path == "/"; }

bool clean_path(std::string_view path) {
  if (path.empty() || path.size() > kMaxAssetPathBytes || path.front() != '/') return false;
  for (char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;  // '%', '\\', NUL and the rest: not a name we embed
  }
  return path.find("..") == std::string_view::npos && path.find("//") == std::string_view::npos;
}

transport::HttpResponse asset_response(const WebAsset& asset, bool head) {
  transport::HttpResponse response;
  response.status = 200;
  response.content_type = std::string(asset.content_type);
  if (!head) response.body = std::string(asset.body);
  response.headers = {{"Content-Security-Policy", kConsoleCsp},
                      {"X-Frame-Options", "DENY"},
                      {"Referrer-Policy", "no-referrer"},
                      {"Cross-Origin-Opener-Policy", "same-origin"}};
  return response;
}

}  // namespace

std::optional<transport::HttpResponse> serve_console(const transport::HttpRequest& request,
                                                     std::span<const WebAsset> assets) {
  const std::string path = request.path();
  if (path == "/v1" || path.rfind("/v1/", 0) == 0) return std::nullopt;
  const bool head = request.method == "HEAD";
  transport::HttpResponse refused;
  refused.content_type = "text/plain; charset=utf-8";
  if (request.method != "GET" && !head) {
    refused.status = 405;
    refused.body = "method not allowed\n";
    return refused;
  }
  refused.status = 404;
  refused.body = "not found\n";
  if (!clean_path(path)) return refused;
  const std::string_view wanted = page_path(path) ? std::string_view("/index.html") : std::string_view(path);
  for (const auto& asset : assets) {
    if (asset.path == wanted) return asset_response(asset, head);
  }
  if (wanted == "/index.html") refused.body = "the web console was not built into this gateway\n";
  return refused;
}

}  // namespace sallyport::gateway
