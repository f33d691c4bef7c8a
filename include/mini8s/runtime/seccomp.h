// Seccomp: the runtime's default profile and BPF compilation with a cache, so a container start
// never pays for libseccomp's compiler once a profile has been seen (crun 1.7's idea).
// Thread-compatible.
#pragma once

#include <string>

#include "mini8s/common/result.h"
#include "mini8s/runtime/spec.h"

namespace mini8s::runtime {

// The default profile for unprivileged containers: everything is allowed except what no ordinary
// workload needs and what lets a process reach the host kernel's global state: kernel modules,
// kexec, reboot, mount and friends (setup is done before the filter loads), keyctl, bpf, ptrace,
// perf, namespace creation, clock setting, swap, quotas, handle-based opens, userfaultfd.
// Denied calls fail with EPERM; clone3 fails with ENOSYS so libc falls back to clone, whose
// namespace flags are filtered.
Seccomp DefaultSeccompProfile();
std::string SeccompToJson(const Seccomp& s);

// Compiles `s` to a BPF program (struct sock_filter array, native byte order).
Result<std::string> CompileSeccomp(const Seccomp& s);
// Returns the path of the compiled program in `cache_dir` (created if needed), compiling and
// storing it on a miss. The key covers the profile and the libseccomp version.
Result<std::string> CachedSeccompBpf(const Seccomp& s, const std::string& cache_dir);
// Installs a compiled program on the calling thread (seccomp(2) with TSYNC off). The caller must
// have no_new_privs set or CAP_SYS_ADMIN.
Status LoadSeccompBpf(const std::string& bpf);

}  // namespace mini8s::runtime
