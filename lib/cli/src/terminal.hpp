#pragma once
// Password prompts on the controlling terminal (/dev/tty) with echo off, so a password never
// shows on screen or passes through stdin/stdout.
#include <optional>
#include <string>

namespace sallyport::cli {

// Writes the prompt to /dev/tty and reads one line with echo off. nullopt when there is no
// terminal to ask on. Echo is restored on return and when a signal ends the program.
std::optional<std::string> read_secret_from_tty(const std::string& prompt);

bool stdin_is_terminal();

}  // namespace sallyport::cli
