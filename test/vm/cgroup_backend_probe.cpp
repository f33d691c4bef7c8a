// Prints the cgroup backend that mini8s's runtime picks on this host, through the same detection
// the runtime uses (CgroupManager::ForHost), so the vm test's log names the backend that ran.
// With --expect MODE (legacy, hybrid or unified) it exits 1 when the backend is another one.
#include <cstdio>
#include <cstring>
#include <string>

#include "mini8s/runtime/cgroup.h"

int main(int argc, char** argv) {
  std::string expect;
  if (argc == 3 && std::strcmp(argv[1], "--expect") == 0) {
    expect = argv[2];
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: %s [--expect legacy|hybrid|unified]\n", argv[0]);
    return 2;
  }
  auto manager = mini8s::runtime::CgroupManager::ForHost();
  if (!manager.ok()) {
    std::fprintf(stderr, "cgroup-backend-probe: %s\n", manager.error().ToString().c_str());
    return 1;
  }
  std::string mode(mini8s::runtime::CgroupModeName((*manager)->mode()));
  std::printf("mini8s cgroup backend: %s\n", mode.c_str());
  if (!expect.empty() && mode != expect) {
    std::fprintf(stderr, "cgroup-backend-probe: expected the %s backend, got %s\n", expect.c_str(),
                 mode.c_str());
    return 1;
  }
  return 0;
}
