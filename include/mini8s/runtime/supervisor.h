// The pod supervisor (DESIGN §4): one small single-threaded process per pod, the mini8s binary
// re-executed as `mini8s runtime supervise`, that
//   - holds the pod's network, IPC and UTS namespaces (it unshares them itself: the role of the
//     pause container, with no extra process and no namespace bind mounts to clean up);
//   - owns the pod cgroup <cgroup_parent>/pod<uid>, with one child cgroup per container;
//   - creates, starts, signals and removes the pod's containers on request (through Runtime,
//     joining the pod's namespaces by path), owns their stdout/stderr and writes them as CRI log
//     lines to <root>/pods/<uid>/<container>/<attempt>.log;
//   - reaps exits and records pid, status, exit code, signal, OOM kill and timestamps in
//     <root>/pods/<uid>/<container>/state.json (written atomically);
//   - runs exec sessions in a container, with the caller's fds as stdio or a pty whose master it
//     hands back;
//   - outlives whoever launched it (double fork + setsid).
//
// Protocol, over the Unix stream socket <root>/pods/<uid>/supervisor.sock: frames of a 4-byte
// big-endian length and a JSON object; fds travel as SCM_RIGHTS with a frame. Every request
// {"op": ...} gets one response {"ok": true, ...} or {"ok": false, "code": "...", "message": ...};
// an exec request also gets a final {"exit": {...}} frame when its process ends.
//
// PodSupervisorClient is the caller's side (the agent's). It is blocking and thread-compatible:
// one client per thread, or one at a time; an ExecSession holds a connection of its own.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/common/unique_fd.h"
#include "mini8s/runtime/cgroup.h"
#include "mini8s/runtime/runtime.h"

namespace mini8s::runtime {

struct SupervisorOptions {
  std::string pod_uid;
  std::string root = "/run/mini8s";  // the pod lives in <root>/pods/<uid>
  std::string cgroup_parent = "/mini8s";
  std::string hostname;  // the pod's hostname (UTS namespace); empty: the uid
  // The binary that provides `runtime init` and `runtime supervise`.
  std::string binary = "/proc/self/exe";
};

// Directory and socket of a pod.
std::string PodDir(const std::string& root, const std::string& pod_uid);
std::string PodSocketPath(const std::string& root, const std::string& pod_uid);
// The pod cgroup path: <parent>/pod<uid>.
std::string PodCgroupPath(const std::string& cgroup_parent, const std::string& pod_uid);

// `mini8s runtime supervise --pod UID [--root DIR] [--cgroup-parent P] [--hostname H]
// [--foreground] [--force-cleanup]`: starts a supervisor and returns once it serves its socket
// (printing its pid), or with the error that stopped it. With --foreground it runs in this process
// instead; --force-cleanup runs PodSupervisorClient::ForceCleanup. SIGTERM to a supervisor is
// stop-pod without removing the pod directory.
int SuperviseMain(const std::vector<std::string>& args);

// A container as the supervisor records it (state.json).
struct SupervisedContainer {
  std::string name;
  int attempt = 0;
  std::string status;  // created | running | exited
  pid_t pid = 0;
  int exit_code = 0;
  int signal = 0;
  bool oom_killed = false;
  std::string created_at, started_at, finished_at;  // RFC 3339 with nanoseconds
  std::string log_path;
};

struct PodStatus {
  pid_t supervisor_pid = 0;
  std::string cgroup;  // the pod cgroup path
  // The pod's namespaces (/proc/<supervisor>/ns/...), for network setup by the caller.
  std::string net_ns, ipc_ns, uts_ns;
  std::vector<SupervisedContainer> containers;
};

struct ContainerRequest {
  std::string name;  // a DNS label; unique in the pod
  // Either an OCI config.json text (root.path absolute, rootfs prepared by the caller) or a
  // bundle directory. The supervisor rewrites the namespaces (net, ipc, uts joined from the pod;
  // a new mount and, unless given, pid namespace) and the cgroup (<pod cgroup>/<name>).
  std::string spec_json;
  std::string bundle;
  int attempt = 0;  // the restart count; names the log file <attempt>.log
};

struct ExecRequest {
  std::string container;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd;
  bool tty = false;
  // Without a tty: the process's stdin, stdout and stderr (-1: /dev/null). Sent as SCM_RIGHTS;
  // the caller keeps its copies.
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
};

// A running exec. Wait() returns how the process ended (the supervisor reaps it).
class ExecSession {
 public:
  ExecSession(UniqueFd conn, std::string pending, UniqueFd pty_master, pid_t pid)
      : conn_(std::move(conn)),
        pending_(std::move(pending)),
        pty_master_(std::move(pty_master)),
        pid_(pid) {}
  pid_t pid() const { return pid_; }
  // The pty master for a tty session (read the output, write the input); -1 otherwise.
  int pty_master() const { return pty_master_.get(); }
  Result<ExitInfo> Wait();

 private:
  UniqueFd conn_;
  std::string pending_;  // bytes received past the last frame
  UniqueFd pty_master_;
  pid_t pid_;
};

class PodSupervisorClient {
 public:
  // Runs `<binary> runtime supervise ...` and waits until the supervisor serves its socket.
  // Returns the supervisor's pid; it is not a child of the caller.
  static Result<pid_t> Launch(const SupervisorOptions& options);
  // Connects to a running supervisor; kUnavailable if none serves `socket_path`.
  static Result<std::unique_ptr<PodSupervisorClient>> Connect(const std::string& socket_path);
  // After the supervisor is gone or unresponsive: kills it (if its recorded pid is still it), kills
  // and removes the pod cgroup tree and removes the pod directory. Idempotent.
  static Status ForceCleanup(const std::string& root, const std::string& pod_uid,
                             const std::string& cgroup_parent);

  Status CreateContainer(const ContainerRequest& req);
  Status Start(const std::string& name);
  Status Kill(const std::string& name, int signal);
  // Deletes the container (its cgroup, processes and runtime state); its logs stay.
  Status Remove(const std::string& name, bool force);
  Result<PodStatus> GetStatus();
  // The pod's cgroup stats (name empty) or a container's.
  Result<CgroupStats> Stats(const std::string& name = "");
  Result<std::unique_ptr<ExecSession>> Exec(const ExecRequest& req);
  // Kills every container, removes their cgroups and the pod's, and stops the supervisor. With
  // `remove_dir` the pod directory (logs and states) goes too.
  Status StopPod(bool remove_dir);

 private:
  PodSupervisorClient(std::string socket_path, UniqueFd conn)
      : socket_path_(std::move(socket_path)), conn_(std::move(conn)) {}
  std::string socket_path_;
  UniqueFd conn_;
  std::string pending_;
};

}  // namespace mini8s::runtime
