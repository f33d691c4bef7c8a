#include "mini8s/cli/main.h"

int main(int argc, char** argv) { return mini8s::cli::Main(argc, argv); }
