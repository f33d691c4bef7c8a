// The container init, shared by both ways of starting it: re-executed (`mini8s runtime init`,
// required when the caller is multi-threaded, STYLE §3.6) or run directly in the child cloned
// from a single-threaded caller (the `mini8s runtime` command line), which saves an execve.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mini8s/runtime/spec.h"

namespace mini8s::runtime {

struct InitArgs {
  std::string mode;  // create | run | exec
  int sync_fd = -1;
  std::string bundle;
  std::string fifo;
  std::string seccomp;
  pid_t exec_pid = 0;
  std::vector<std::pair<std::string, std::string>> cgroup_dirs;
  std::vector<std::string> join_files;  // write "0" into each to join our cgroup
  std::optional<int> oom_score_adj;
  bool tty = false;  // exec: fd 0 is a terminal to make the controlling one
  // exec overrides
  std::vector<std::string> args, env;
  std::string cwd, process_json;
};

// Parses what follows `runtime init`.
InitArgs ParseInitArgs(const std::vector<std::string>& args);
// Runs the init to the workload's execve. `spec` is the already-parsed config when running
// in-process (nullptr: load it from the bundle). Returns only on failure, with an exit code,
// after reporting the failure over the sync socket.
int RunInit(const InitArgs& args, const Spec* spec);

}  // namespace mini8s::runtime
