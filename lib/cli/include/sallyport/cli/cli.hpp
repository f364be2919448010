#pragma once
// The `sallyport` command-line client: builds the CLI11 app with every command group and runs
// it against the real terminal, files and network. Returns the process exit code (see
// exit_codes.hpp); errors are printed as one "sallyport: <message>" line on stderr.
namespace sallyport::cli {

int run(int argc, char** argv);

}  // namespace sallyport::cli
