// The subset of the OCI runtime spec (config.json) that mini8s runs, as plain value types, and its
// parser. Parsing validates everything that can be validated without touching the system (unknown
// capabilities, namespaces, rlimits, mount options), so that bad input fails before anything is
// created. Thread-compatible value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s::runtime {

enum class NamespaceType : uint8_t { kMount, kPid, kUts, kIpc, kNetwork, kCgroup, kUser, kTime };

struct Namespace {
  NamespaceType type;
  std::string path;  // empty: create a new one; else join the namespace at this path
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;  // as written in config.json
  // Derived from options by the parser.
  unsigned long flags = 0;           // MS_* for the first mount(2)
  unsigned long propagation = 0;     // MS_PRIVATE/MS_SLAVE/MS_SHARED (+MS_REC), applied after
  bool bind = false;
  bool recursive_bind = false;
  std::string data;                  // filesystem-specific options joined with ','
};

struct Rlimit {
  int resource;  // RLIMIT_*
  uint64_t soft;
  uint64_t hard;
};

// Capability sets as bit masks (bit n = capability n).
struct CapabilitySets {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t inheritable = 0;
  uint64_t permitted = 0;
  uint64_t ambient = 0;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;
};

struct Process {
  bool terminal = false;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<CapabilitySets> capabilities;  // absent: keep the runtime's (full root) set
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_ERRNO, SCMP_ACT_ALLOW, ...
  std::optional<uint32_t> errno_ret;
  struct Arg {
    uint32_t index;
    uint64_t value;
    uint64_t value_two;
    std::string op;  // SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, ...
  };
  std::vector<Arg> args;
};

struct Seccomp {
  std::string default_action = "SCMP_ACT_ALLOW";
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<SeccompRule> syscalls;
};

// Resource limits; unset fields are left alone.
struct Resources {
  std::optional<int64_t> memory_limit;   // bytes
  std::optional<int64_t> memory_swap;    // memory + swap, bytes (OCI semantics); -1 unlimited
  std::optional<int64_t> cpu_quota;      // microseconds per period; -1 unlimited
  std::optional<uint64_t> cpu_period;    // microseconds
  std::optional<uint64_t> cpu_shares;    // v1 shares; converted to cpu.weight on v2
  std::optional<int64_t> pids_limit;     // -1 or 0: unlimited
};

struct Spec {
  std::string oci_version;
  Process process;
  std::string root_path;  // absolute (resolved against the bundle)
  bool root_readonly = false;
  std::string hostname;
  std::vector<Mount> mounts;
  std::vector<Namespace> namespaces;
  std::string cgroups_path;  // relative to each hierarchy's root; empty: the caller picks one
  Resources resources;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;
  std::map<std::string, std::string> sysctl;
  std::map<std::string, std::string> annotations;
  // mini8s extension (annotation "org.mini8s.rootfs.overlay.lower", ':'-separated): when set, the
  // rootfs is an overlayfs of these lower directories, with upper and work directories named by
  // "org.mini8s.rootfs.overlay.upper"/".work", mounted at root_path inside the container's mount
  // namespace (so it disappears with the container).
  std::vector<std::string> overlay_lower;
  std::string overlay_upper;
  std::string overlay_work;

  bool HasNamespace(NamespaceType t) const;
  const Namespace* FindNamespace(NamespaceType t) const;
};

// Parses config.json text. `bundle` resolves a relative root.path. kInvalid with a field path on
// bad input.
Result<Spec> ParseSpec(std::string_view json, const std::string& bundle);
// Reads and parses <bundle>/config.json; kNotFound if absent. Does not check that the rootfs exists.
Result<Spec> LoadSpec(const std::string& bundle);
// Parses one process object (for `exec --process`), same rules as "process" in config.json.
Result<Process> ParseProcess(std::string_view json);

// Mount options understood by mount(2) as flags; the rest becomes `data`. Exposed for tests.
Status ParseMountOptions(Mount& m);

// Capability names (CAP_CHOWN ...) and numbers. kInvalid for an unknown name.
Result<int> CapabilityFromName(std::string_view name);
std::string_view CapabilityName(int cap);
// The last capability number this runtime knows (CAP_CHECKPOINT_RESTORE = 40).
constexpr int kLastCap = 40;
// containerd's default set for unprivileged containers (reference/runtime-and-network.md §2.4).
uint64_t DefaultCapabilities();
// The default set with `add` and `drop` applied (names with or without "CAP_"; "ALL" allowed),
// as kubelet's securityContext.capabilities does. kInvalid for unknown names.
Result<uint64_t> ApplyCapabilityChanges(uint64_t base, const std::vector<std::string>& add,
                                        const std::vector<std::string>& drop);

// containerd's default masked and read-only paths.
const std::vector<std::string>& DefaultMaskedPaths();
const std::vector<std::string>& DefaultReadonlyPaths();

// A complete default config.json for `args` (what `mini8s runtime spec` writes): the standard
// mounts, pid/ipc/uts/mount/network namespaces, containerd's caps and paths, RLIMIT_NOFILE 1024,
// noNewPrivileges and, when `with_seccomp`, the runtime's default seccomp profile.
std::string DefaultSpecJson(const std::vector<std::string>& args, bool with_seccomp);

}  // namespace mini8s::runtime
