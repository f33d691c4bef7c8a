// The multi-call entry point: `mini8s <command> [flags]`, or argv[0] named after a command
// (a `kubectl` symlink to mini8s runs `mini8s kubectl`), as k3s and crun do.
#pragma once

namespace mini8s::cli {

// Returns the process exit code: 0 success, 1 failure, 2 usage error.
int Main(int argc, char** argv);

}  // namespace mini8s::cli
