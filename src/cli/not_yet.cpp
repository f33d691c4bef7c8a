// Commands whose subsystems have not landed yet. Each says so plainly and exits 1, so that
// scripts never mistake them for working.
#include <cstdio>

#include "cli/commands.h"

namespace mini8s::cli {
namespace {

int NotYet(const char* command, const Args& args, const char* issue) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("Usage: mini8s %s [flags]\n\nNot available in this build yet (%s).\n", command,
                  issue);
      return 0;
    }
  }
  std::fprintf(stderr, "mini8s %s: not available in this build yet (%s)\n", command, issue);
  return 1;
}

}  // namespace

int RunKubectl(const Args& args) {
  return NotYet("kubectl", args, "the bundled client is in progress");
}

}  // namespace mini8s::cli
