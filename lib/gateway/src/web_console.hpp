#pragma once
// Serves the web console's files, embedded in the gateway at build time (see
// cmake/EmbedWebAssets.cmake), on the gateway's one port beside the API. Only the embedded
// names exist: a request path is looked up, never joined onto a directory, and anything with
// dot segments, backslashes or encoded characters is refused outright.
#include <optional>
#include <span>
#include <string_view>

#include "sallyport/transport/http_types.hpp"

namespace sallyport::gateway {

struct WebAsset {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

// The embedded files (generated source); empty when the gateway was built without the console.
std::span<const WebAsset> web_assets();

// The strict policy every console response carries: scripts only from this origin (no inline
// script, no eval; WebAssembly for the replay player), no framing, no plugins.
extern const char* const kConsoleCsp;

// The answer for a GET/HEAD outside /v1/; nullopt when the path is not the console's.
std::optional<transport::HttpResponse> serve_console(const transport::HttpRequest& request,
                                                     std::span<const WebAsset> assets = web_assets());

}  // namespace sallyport::gateway
