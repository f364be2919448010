#pragma once
// The client side of `sallyport start-session`: an interactive shell (the local terminal in
// raw mode, restored on every exit path, window size followed) or a command with stdin, stdout
// and stderr kept apart. Output is written by its own thread and credit is returned to the
// gateway only once it is written, so a stopped reader stops the remote process.
#include <string>
#include <vector>

#include "sallyport/transport/client.hpp"

namespace sallyport::cli {

// Exit statuses of start-session besides the remote command's own.
inline constexpr int kExitSessionNodeOffline = 11;
inline constexpr int kExitSessionRunAsUser = 12;
inline constexpr int kExitSessionTerminated = 13;
inline constexpr int kExitSessionLost = 14;

struct SessionRequest {
  transport::ClientOptions gateway;
  std::string token;
  std::string target;
  std::vector<std::string> command;  // empty: interactive shell
};

// Runs the session to its end and returns the exit status for the CLI process: the remote
// exit status (128+N for a signal), or one of the codes above / the CLI's error codes.
int run_session(const SessionRequest& request);

// Maps a session_failed code from the gateway to the CLI's exit status.
int exit_status_for_failure(const std::string& code);

}  // namespace sallyport::cli
