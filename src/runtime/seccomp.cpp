#include "mini8s/runtime/seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include <boost/json.hpp>

#include "mini8s/common/unique_fd.h"
#include "runtime/fs_util.h"
#include "runtime/seccomp_profile.h"

namespace mini8s::runtime {
namespace {

namespace json = boost::json;

struct ActionName {
  std::string_view name;
  uint32_t action;  // without the errno/trace data
};
constexpr ActionName kActions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},   {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS}, {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},     {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},        {"SCMP_ACT_LOG", SCMP_ACT_LOG},
};

struct OpName {
  std::string_view name;
  scmp_compare op;
};
constexpr OpName kOps[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

uint32_t ToAction(const std::string& name, std::optional<uint32_t> errno_ret) {
  for (const ActionName& a : kActions) {
    if (a.name != name) continue;
    if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
    if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
    return a.action;
  }
  return SCMP_ACT_KILL_PROCESS;  // unreachable: the parser validated the name
}

scmp_compare ToOp(const std::string& name) {
  for (const OpName& o : kOps) {
    if (o.name == name) return o.op;
  }
  return SCMP_CMP_EQ;
}

using Ctx = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;

// FNV-1a: stable across processes and builds, unlike std::hash.
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

bool IsKnownSeccompAction(std::string_view action) {
  for (const ActionName& a : kActions) {
    if (a.name == action) return true;
  }
  return false;
}

bool IsKnownSeccompOp(std::string_view op) {
  for (const OpName& o : kOps) {
    if (o.name == op) return true;
  }
  return false;
}

Seccomp DefaultSeccompProfile() {
  Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                     "SCMP_ARCH_ARM"};
  SeccompRule deny;
  deny.action = "SCMP_ACT_ERRNO";
  deny.errno_ret = EPERM;
  deny.names = {
      // kernel modules and kexec
      "init_module", "finit_module", "delete_module", "create_module", "query_module",
      "get_kernel_syms", "kexec_load", "kexec_file_load",
      // the machine itself
      "reboot", "swapon", "swapoff", "acct", "settimeofday", "stime", "clock_settime",
      "clock_adjtime", "adjtimex", "ioperm", "iopl", "syslog", "vhangup", "nfsservctl",
      "_sysctl", "sysfs", "ustat", "uselib", "lookup_dcookie", "quotactl", "quotactl_fd",
      // mounts and namespaces: setup is finished before the filter is loaded
      "mount", "umount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount",
      "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "setns", "unshare",
      // keys, bpf, tracing and other processes' memory
      "keyctl", "add_key", "request_key", "bpf", "ptrace", "process_vm_readv",
      "process_vm_writev", "kcmp", "perf_event_open", "fanotify_init",
      // handle-based opens escape bind mounts; userfaultfd is an exploitation primitive
      "open_by_handle_at", "name_to_handle_at", "userfaultfd",
      // old and rarely useful
      "vm86", "vm86old"};
  s.syscalls.push_back(deny);
  // clone3's flags live in memory seccomp cannot read: report it missing so libc uses clone.
  SeccompRule clone3;
  clone3.names = {"clone3"};
  clone3.action = "SCMP_ACT_ERRNO";
  clone3.errno_ret = ENOSYS;
  s.syscalls.push_back(clone3);
  // clone with any namespace flag (x86-64 passes flags in argument 0).
  for (uint64_t flag : {uint64_t{CLONE_NEWNS}, uint64_t{CLONE_NEWUTS}, uint64_t{CLONE_NEWIPC},
                        uint64_t{CLONE_NEWUSER}, uint64_t{CLONE_NEWPID}, uint64_t{CLONE_NEWNET},
                        uint64_t{CLONE_NEWCGROUP}}) {
    SeccompRule r;
    r.names = {"clone"};
    r.action = "SCMP_ACT_ERRNO";
    r.errno_ret = EPERM;
    r.args.push_back({0, flag, flag, "SCMP_CMP_MASKED_EQ"});
    s.syscalls.push_back(r);
  }
  return s;
}

std::string SeccompToJson(const Seccomp& s) {
  json::object o;
  o["defaultAction"] = s.default_action;
  if (s.default_errno_ret) o["defaultErrnoRet"] = *s.default_errno_ret;
  json::array arches;
  for (const std::string& a : s.architectures) arches.emplace_back(a);
  o["architectures"] = arches;
  json::array calls;
  for (const SeccompRule& r : s.syscalls) {
    json::object c;
    json::array names;
    for (const std::string& n : r.names) names.emplace_back(n);
    c["names"] = names;
    c["action"] = r.action;
    if (r.errno_ret) c["errnoRet"] = *r.errno_ret;
    if (!r.args.empty()) {
      json::array args;
      for (const SeccompRule::Arg& a : r.args) {
        args.emplace_back(json::object{
            {"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      }
      c["args"] = args;
    }
    calls.emplace_back(std::move(c));
  }
  o["syscalls"] = calls;
  return json::serialize(o);
}

std::string DefaultSeccompProfileJson() { return SeccompToJson(DefaultSeccompProfile()); }

Result<std::string> CompileSeccomp(const Seccomp& s) {
  Ctx ctx(seccomp_init(ToAction(s.default_action, s.default_errno_ret)), seccomp_release);
  if (!ctx) return Status::Internal("seccomp_init failed");
  // We set no_new_privs ourselves, when the config asks for it.
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (const std::string& a : s.architectures) {
    std::string name = a.starts_with("SCMP_ARCH_") ? a.substr(10) : a;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) return Status::Invalid("seccomp: unknown architecture \"" + a + "\"");
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST) return Status::FromErrno(-rc, "seccomp_arch_add", a);
  }
  for (const SeccompRule& r : s.syscalls) {
    uint32_t action = ToAction(r.action, r.errno_ret);
    std::vector<scmp_arg_cmp> cmps;
    for (const SeccompRule::Arg& a : r.args) {
      cmps.push_back({a.index, ToOp(a.op), a.value, a.value_two});
    }
    for (const std::string& n : r.names) {
      int nr = seccomp_syscall_resolve_name(n.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture: nothing to filter
      int rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(cmps.size()),
                                      cmps.data());
      // EACCES: the rule's action equals the default action, which libseccomp refuses.
      if (rc != 0 && rc != -EACCES) return Status::FromErrno(-rc, "seccomp_rule_add", n);
    }
  }
  UniqueFd mem(static_cast<int>(::syscall(SYS_memfd_create, "mini8s-seccomp", MFD_CLOEXEC)));
  if (!mem) return Status::FromErrno(errno, "memfd_create");
  int rc = seccomp_export_bpf(ctx.get(), mem.get());
  if (rc != 0) return Status::FromErrno(-rc, "seccomp_export_bpf");
  return ReadFile("/proc/self/fd/" + std::to_string(mem.get()));
}

Result<std::string> CachedSeccompBpf(const Seccomp& s, const std::string& cache_dir) {
  const scmp_version* v = seccomp_version();
  std::string key = SeccompToJson(s) + "|libseccomp " + std::to_string(v->major) + "." +
                    std::to_string(v->minor) + "." + std::to_string(v->micro);
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.bpf", static_cast<unsigned long long>(Fnv1a(key)));
  std::string path = cache_dir + "/" + name;
  if (::access(path.c_str(), R_OK) == 0) return path;
  MINI8S_ASSIGN_OR_RETURN(std::string bpf, CompileSeccomp(s));
  MINI8S_RETURN_IF_ERROR(MkdirAll(cache_dir, 0700));
  MINI8S_RETURN_IF_ERROR(WriteFileAtomic(path, bpf));
  return path;
}

Status LoadSeccompBpf(const std::string& bpf) {
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0) {
    return Status::Invalid("seccomp: malformed BPF program");
  }
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()));
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return Status::FromErrno(errno, "seccomp(SET_MODE_FILTER)");
  }
  return Status();
}

}  // namespace mini8s::runtime
