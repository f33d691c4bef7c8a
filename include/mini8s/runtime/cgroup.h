// Cgroups behind one interface, with a v2 (unified) backend and a v1 backend for legacy and
// hybrid hosts (the CI machine is hybrid: v1 controllers, an empty cgroup2 at
// /sys/fs/cgroup/unified). The host's mode is detected once, as crun does (statfs of
// /sys/fs/cgroup, then of /sys/fs/cgroup/unified).
//
// Paths are relative to each hierarchy's root ("/mini8s/pod-x/ctr"); parents are created as
// needed, so a pod's cgroup is the parent of its containers' and accounts for all of them.
// Thread-compatible; a Cgroup object is a handle and does not own the kernel object (Destroy()
// removes it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/common/unique_fd.h"
#include "mini8s/runtime/spec.h"

namespace mini8s::runtime {

enum class CgroupMode : uint8_t { kLegacy, kHybrid, kUnified };
std::string_view CgroupModeName(CgroupMode m);

// Detects the mode from the mount at `root` (statfs). kInvalid if `root` is neither cgroup2 nor
// a tmpfs holding v1 hierarchies.
Result<CgroupMode> DetectCgroupMode(const std::string& root = "/sys/fs/cgroup");
// The host's mode, detected on first use and cached for the life of the process.
Result<CgroupMode> HostCgroupMode();

struct CgroupStats {
  uint64_t cpu_usage_ns = 0;        // cumulative CPU time of all tasks
  uint64_t memory_usage = 0;        // bytes, including page cache
  uint64_t memory_working_set = 0;  // usage minus inactive file cache (what kubelet reports)
  uint64_t oom_kills = 0;           // processes killed by the OOM killer in this cgroup
  uint64_t pids_current = 0;
};

class Cgroup {
 public:
  virtual ~Cgroup() = default;
  // The path relative to the hierarchy roots.
  virtual const std::string& path() const = 0;
  // Writes the limits that are set in `r`; others are left as they are.
  virtual Status Apply(const Resources& r) = 0;
  // Moves `pid` into this cgroup in every hierarchy.
  virtual Status AddProcess(pid_t pid) = 0;
  // A cgroup2 directory fd for clone3(CLONE_INTO_CGROUP), or -1. On hybrid hosts it is the
  // cgroup in the unified hierarchy; the v1 hierarchies are joined through SelfJoinFiles().
  virtual int CloneIntoFd() const { return -1; }
  // Files a new, single-threaded process writes "0" into to move itself here, given whether it
  // was cloned into CloneIntoFd(). v1 uses the per-thread "tasks" file: moving oneself that way
  // skips the global threadgroup lock, whose writer side waits for an RCU grace period (about
  // 10 ms on a busy machine); writing another pid to cgroup.procs pays it every time.
  virtual std::vector<std::string> SelfJoinFiles(bool cloned_into) const = 0;
  virtual Result<std::vector<pid_t>> Pids() const = 0;
  // Sends SIGKILL to every process (cgroup.kill where the kernel has it) and waits, bounded,
  // until the cgroup is empty.
  virtual Status Kill() = 0;
  virtual Result<CgroupStats> Stats() const = 0;
  // Removes the cgroup directories (not parents). NotFound is success. Fails with the errno of
  // rmdir if processes remain.
  virtual Status Destroy() = 0;
  // Host paths of this cgroup per hierarchy mount point ("memory" -> /sys/fs/cgroup/memory/x),
  // for bind-mounting into a container. The key of the v2 hierarchy is "" in unified mode and
  // "unified" in hybrid mode.
  virtual std::map<std::string, std::string> HostDirs() const = 0;
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;
  virtual CgroupMode mode() const = 0;
  // Creates `path` (and parents) in every hierarchy this backend manages.
  virtual Result<std::unique_ptr<Cgroup>> Create(const std::string& path) = 0;
  // Opens an existing cgroup; kNotFound if it is missing.
  virtual Result<std::unique_ptr<Cgroup>> Open(const std::string& path) = 0;

  // The backend for this host, built from /proc/self/mountinfo.
  static Result<std::unique_ptr<CgroupManager>> ForHost();
  // The same, with the v1 hierarchy map kept in `cache_file` (each `mini8s runtime` call would
  // otherwise read the mount table): reused while the mount namespace and each hierarchy's
  // mount (its device) are unchanged, rebuilt otherwise. "" means no cache.
  static Result<std::unique_ptr<CgroupManager>> ForHost(const std::string& cache_file);
  // A v2 backend over a cgroup2 mount at `mount_point` (tests mount their own).
  static Result<std::unique_ptr<CgroupManager>> V2(const std::string& mount_point);
  // A v1 backend over `controller -> mount point` ("memory" -> /sys/fs/cgroup/memory), plus the
  // cgroup2 mount of a hybrid host (empty if none), which is joined for process tracking and
  // cgroup.kill only.
  static Result<std::unique_ptr<CgroupManager>> V1(std::map<std::string, std::string> hierarchies,
                                                   std::string unified_mount);
};

// cpu.weight on v2 from v1 cpu.shares (linear map of [2, 262144] onto [1, 10000]).
uint64_t CpuSharesToWeight(uint64_t shares);

}  // namespace mini8s::runtime
