// sallyport: the command-line client of the gateway's API (login, activations, nodes, users,
// audit). Everything lives in the cli library.
#include "sallyport/cli/cli.hpp"

int main(int argc, char** argv) { return sallyport::cli::run(argc, argv); }
