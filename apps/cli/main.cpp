// sallyport: the command-line client of the gateway's API (login, activations, nodes, users,
// audit). Everything lives in the cli library.
#include "sallyport/cli/cli.hpp"
#include "sallyport/util/memory.hpp"

int main(int argc, char** argv) {
  sallyport::util::keep_freed_message_memory();
  return sallyport::cli::run(argc, argv);
}
