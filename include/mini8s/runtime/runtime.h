// Runtime: creates and manages containers from OCI bundles without containerd or runc. The same
// object backs `mini8s runtime` (the OCI-runtime-style command line) and, later, the pod
// supervisor.
//
// Process model (STYLE §3.6): a container's init is a fresh `<init_binary> runtime init ...`
// process cloned straight into its new namespaces (and, on cgroup v2, into its cgroup with
// CLONE_INTO_CGROUP). The cloned child only execs; the re-executed, single-threaded init does the
// mounts, pivot_root, hostname, rlimits and capability work, reports each failure as
// (errno, step, detail) over a SOCK_SEQPACKET socketpair, waits for "start" (the socket for
// Run/Exec, the exec fifo for Create/Start), then execs the workload as the container's PID 1.
//
// State lives in <state_root>/<id>/state.json; Create/Start/Delete from different processes
// cooperate through it, as runc's and crun's do. Thread-compatible: one Runtime per thread.
#pragma once

#include <sys/types.h>

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/runtime/cgroup.h"
#include "mini8s/runtime/spec.h"

namespace mini8s::runtime {

struct RuntimeOptions {
  std::string state_root = "/run/mini8s/runtime";
  // The mini8s binary that provides `runtime init`. /proc/self/exe is right inside mini8s; tests
  // and other embedders point it at the built binary.
  std::string init_binary = "/proc/self/exe";
  // Run the init directly in the cloned child instead of re-executing init_binary, which saves
  // an execve and a config parse per container. Honoured only while the calling process is
  // single-threaded (checked at every spawn; otherwise init is re-executed), so a child of a
  // threaded agent never does namespace setup. The `mini8s runtime` command line sets it.
  bool init_in_process = false;
  // The cgroup parent for containers whose config has no cgroupsPath: <parent>/<id>.
  std::string cgroup_parent = "/mini8s";
  // The cgroup backend; null means the host's (detected once).
  std::unique_ptr<CgroupManager> cgroups;
};

enum class ContainerStatus : uint8_t { kCreated, kRunning, kStopped };
std::string_view ContainerStatusName(ContainerStatus s);

struct ContainerState {
  std::string id;
  ContainerStatus status = ContainerStatus::kStopped;
  pid_t pid = 0;
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339
  std::string cgroups_path;
  std::map<std::string, std::string> annotations;

  // The OCI state JSON (plus runc's "rootfs" and "created").
  std::string ToJson() const;
};

struct ExitInfo {
  int exit_code = 0;  // WEXITSTATUS, or 128+signal when killed
  int signal = 0;     // the terminating signal, 0 if it exited
  bool oom_killed = false;
};

// The container's stdin, stdout and stderr: -1 inherits the caller's. The fds must be >= 3 (they
// are dup2'ed onto 0..2 in the child); the caller keeps ownership.
using StdioFds = std::array<int, 3>;

struct CreateOptions {
  std::string pid_file;  // written with the init's pid (host pid namespace) once created
  StdioFds stdio = {-1, -1, -1};
};

struct ExecOptions {
  std::vector<std::string> args;  // overrides the container's process args (required unless
                                  // `process_json` is given)
  std::vector<std::string> env;   // appended to the container's environment
  std::string cwd;                // overrides the container's cwd
  std::string process_json;       // a complete OCI process object (runc exec --process)
  bool detach = false;
  std::string pid_file;
  StdioFds stdio = {-1, -1, -1};
  // stdio is a terminal: the process starts a session and takes fd 0 as its controlling tty.
  bool tty = false;
  pid_t* pid_out = nullptr;  // receives the process's host pid (useful with `detach`)
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> Create(RuntimeOptions options);
  ~Runtime();

  // OCI create: every resource and all of init's setup, stopping before the user process runs.
  // On failure nothing is left behind (state directory, cgroup, processes).
  Status CreateContainer(const std::string& id, const std::string& bundle,
                         const CreateOptions& options = {});
  // OCI start: lets a created container exec its process.
  Status Start(const std::string& id);
  Result<ContainerState> State(const std::string& id);
  // Signals the init process, or with `all` every process in the container's cgroup.
  Status Kill(const std::string& id, int signal, bool all = false);
  // Removes a stopped (or created) container; `force` kills a running one first. Afterwards no
  // process, cgroup or state of the container remains (its mounts live in its own mount
  // namespace and go with its last process).
  Status Delete(const std::string& id, bool force);
  // create + start + wait + delete in this process (runc run). Returns how the process ended.
  Result<ExitInfo> Run(const std::string& id, const std::string& bundle,
                       const CreateOptions& options = {});
  // Runs another process in a running container's namespaces and cgroup. Waits for it unless
  // `detach`, in which case the returned exit_code is 0.
  Result<ExitInfo> Exec(const std::string& id, const ExecOptions& options);
  Result<std::vector<ContainerState>> List();
  // Host pids of every process in the container's cgroup.
  Result<std::vector<pid_t>> Ps(const std::string& id);
  Result<CgroupStats> Stats(const std::string& id);

  // The cgroup backend (the host's is detected on first use).
  Result<CgroupManager*> Cgroups();
  const RuntimeOptions& options() const { return options_; }

 private:
  explicit Runtime(RuntimeOptions options) : options_(std::move(options)) {}
  struct Created;
  Result<Created> DoCreate(const std::string& id, const std::string& bundle, bool run_mode,
                           const CreateOptions& options);
  Result<ExitInfo> WaitExit(pid_t pid, Cgroup* cgroup);

  RuntimeOptions options_;
};

// The entry point of the re-executed container init: `mini8s runtime init <args>`. Returns only
// on failure (after reporting it over the sync socket), with the exit code to use.
int InitMain(const std::vector<std::string>& args);

}  // namespace mini8s::runtime
