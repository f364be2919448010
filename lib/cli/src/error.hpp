#pragma once
// The one exception type commands throw: a user-readable message plus the exit code it maps
// to. run() prints it as "sallyport: <message>" and exits with the code.
#include <stdexcept>
#include <string>

#include "sallyport/cli/exit_codes.hpp"

namespace sallyport::cli {

class CliError : public std::runtime_error {
 public:
  CliError(int exit_code, const std::string& message) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// A problem with the command line found before anything was sent.
inline CliError usage_error(const std::string& message) { return CliError(kExitUsage, message); }

}  // namespace sallyport::cli
