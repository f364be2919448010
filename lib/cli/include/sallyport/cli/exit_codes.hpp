#pragma once
// The CLI's exit codes: one place so scripts, docs and `sallyport --help` agree.
#include <string>

namespace sallyport::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;         // anything not listed below
inline constexpr int kExitUsage = 2;         // bad flags or arguments (nothing was sent)
inline constexpr int kExitNotLoggedIn = 3;   // no saved login, or HTTP 401
inline constexpr int kExitForbidden = 4;     // HTTP 403
inline constexpr int kExitNotFound = 5;      // HTTP 404
inline constexpr int kExitUnreachable = 6;   // cannot reach or trust the gateway
inline constexpr int kExitConflict = 7;      // HTTP 409
inline constexpr int kExitRateLimited = 8;   // HTTP 429
inline constexpr int kExitBadRequest = 9;    // HTTP 400

// Maps an HTTP status from the gateway to an exit code (2xx gives kExitOk).
int exit_code_for_status(unsigned status);

// The "Exit codes:" block of the --help footer.
std::string exit_codes_help();

}  // namespace sallyport::cli
