// apono: the user's CLI.
#include <iostream>

#include "cli/context.hpp"

int main(int argc, char** argv) {
  return apono::cli::run(argc, argv, {std::cout, std::cerr});
}
