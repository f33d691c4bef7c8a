// The parent <-> container-init protocol over a SOCK_SEQPACKET socketpair (crun's sync socket).
// Messages are fixed-size PODs, so the child between clone() and execve() can report a failure
// with one write(2) of a stack object: no allocation, no formatting.
//
//   parent                         init
//   clone3 (CLONE_INTO_CGROUP where there is a cgroup2 hierarchy) -> the child execs init, or
//   runs it in place when the parent is single-threaded
//                                  join the v1 hierarchies itself, oom_score_adj, setns,
//                                  mounts, pivot_root, cgroupns, hostname, rlimits, bounding set
//                      <--kReady-- (or kError: errno, step, detail)
//   run/exec: --kStart-->          user, caps, no_new_privs, seccomp, execve
//   create:   start writes the exec fifo
//   EOF on the socket after kStart means execve succeeded (the socket is close-on-exec).
#pragma once

#include <cstdint>

namespace mini8s::runtime {

enum class SyncType : uint32_t { kReady = 2, kError, kStart };

// Which step failed. Stable numbers: the parent maps them to text.
enum class InitStep : uint32_t {
  kNone = 0,
  kExecInit,        // execve of the init binary (reported by the cloned child)
  kArgs,
  kConfig,
  kReadCgroup,
  kSetns,
  kUnshareCgroup,
  kSysctl,
  kMountPropagation,
  kMountRootfs,
  kMount,
  kMountCgroup,
  kDevices,
  kOpenFifo,
  kReadSeccomp,
  kPivotRoot,
  kMaskPath,
  kReadonlyPath,
  kRootReadonly,
  kHostname,
  kRlimit,
  kChdir,
  kFindExecutable,
  kCapBounding,
  kReady,
  kWaitStart,
  kSetgroups,
  kSetgid,
  kSetuid,
  kCapset,
  kAmbientCaps,
  kNoNewPrivs,
  kSeccomp,
  kExec,
  kUmask,
  kJoinCgroup,
  kOomScoreAdj,
};

const char* InitStepName(InitStep step);

struct SyncMsg {
  uint32_t type;
  int32_t err;  // errno, 0 if none
  uint32_t step;
  char detail[244];  // NUL-terminated path or name the step was working on
};
static_assert(sizeof(SyncMsg) == 256);

}  // namespace mini8s::runtime
