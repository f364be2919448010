#include "sallyport/cli/exit_codes.hpp"

namespace sallyport::cli {

int exit_code_for_status(unsigned status) {
  if (status >= 200 && status < 300) return kExitOk;
  switch (status) {
    case 400:
      return kExitBadRequest;
    case 401:
      return kExitNotLoggedIn;
    case 403:
      return kExitForbidden;
    case 404:
      return kExitNotFound;
    case 409:
      return kExitConflict;
    case 429:
      return kExitRateLimited;
    default:
      return kExitError;
  }
}

std::string exit_codes_help() {
  return "Exit codes:\n"
         "  " + std::to_string(kExitOk) + "  ok\n"
         "  " + std::to_string(kExitError) + "  other error\n"
         "  " + std::to_string(kExitUsage) + "  usage error (bad flags or arguments)\n"
         "  " + std::to_string(kExitNotLoggedIn) + "  not logged in, or the login expired (HTTP 401)\n"
         "  " + std::to_string(kExitForbidden) + "  forbidden (HTTP 403)\n"
         "  " + std::to_string(kExitNotFound) + "  not found (HTTP 404)\n"
         "  " + std::to_string(kExitUnreachable) + "  cannot reach or trust the gateway\n"
         "  " + std::to_string(kExitConflict) + "  conflict, e.g. already exists (HTTP 409)\n"
         "  " + std::to_string(kExitRateLimited) + "  rate limited (HTTP 429)\n"
         "  " + std::to_string(kExitBadRequest) + "  bad request (HTTP 400)\n";
}

}  // namespace sallyport::cli
