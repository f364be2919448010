// The web console's request parsing: arbitrary Cookie, X-CSRF-Token, Origin/Host headers and
// target through the cookie parser, credential choice, CSRF and origin checks and the static
// file lookup. Input: lines "cookie", "csrf", "origin", "host", "METHOD TARGET" (missing lines
// are empty). Each answer must hold its invariants, not just avoid crashing.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "web_auth.hpp"
#include "web_console.hpp"

using namespace sallyport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream lines(std::string(reinterpret_cast<const char*>(data), size));
  std::string cookie, csrf, origin, host, first;
  std::getline(lines, cookie);
  std::getline(lines, csrf);
  std::getline(lines, origin);
  std::getline(lines, host);
  std::getline(lines, first);
  transport::HttpRequest request;
  const auto space = first.find(' ');
  request.method = first.substr(0, space);
  request.target = space == std::string::npos ? "/" : first.substr(space + 1);
  request.headers = {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", origin}, {"Host", host}};

  const std::string value = gateway::cookie_value(cookie, gateway::kSessionCookie);
  if (value.size() > cookie.size()) std::abort();
  const auto credentials = gateway::request_credentials(request);
  if ((credentials.source == gateway::CredentialSource::kCookie) != !value.empty()) std::abort();
  // The CSRF token is only ever the one derived from the session secret.
  if (gateway::csrf_ok(request, value) && csrf != gateway::csrf_token_for(value)) std::abort();
  if (gateway::same_origin(request) && origin != "https://" + host) std::abort();

  if (const auto response = gateway::serve_console(request)) {
    const std::string path = request.path();
    if (response->status == 200 && (path.find("..") != std::string::npos || path.find('%') != std::string::npos)) {
      std::abort();
    }
  }
  return 0;
}
