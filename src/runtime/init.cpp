// The container init: runs in the freshly exec'd `mini8s runtime init` process, inside the new
// namespaces, single-threaded. Everything that can fail is reported to the parent as
// (errno, step, detail) over the sync socket; then the process exits.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mini8s/runtime/runtime.h"
#include "mini8s/runtime/seccomp.h"
#include "mini8s/runtime/spec.h"
#include "runtime/fs_util.h"
#include "runtime/init.h"
#include "runtime/sync.h"

namespace mini8s::runtime {

const char* InitStepName(InitStep step) {
  switch (step) {
    case InitStep::kNone: return "init";
    case InitStep::kExecInit: return "exec runtime init";
    case InitStep::kArgs: return "parse init arguments";
    case InitStep::kConfig: return "load config.json";
    case InitStep::kReadCgroup: return "read own cgroup";
    case InitStep::kSetns: return "join namespace";
    case InitStep::kUnshareCgroup: return "unshare cgroup namespace";
    case InitStep::kSysctl: return "write sysctl";
    case InitStep::kMountPropagation: return "make mounts private";
    case InitStep::kMountRootfs: return "mount rootfs";
    case InitStep::kMount: return "mount";
    case InitStep::kMountCgroup: return "mount cgroup";
    case InitStep::kDevices: return "create device";
    case InitStep::kOpenFifo: return "open exec fifo";
    case InitStep::kReadSeccomp: return "read seccomp program";
    case InitStep::kPivotRoot: return "pivot_root";
    case InitStep::kMaskPath: return "mask path";
    case InitStep::kReadonlyPath: return "make path read-only";
    case InitStep::kRootReadonly: return "make rootfs read-only";
    case InitStep::kHostname: return "sethostname";
    case InitStep::kRlimit: return "setrlimit";
    case InitStep::kChdir: return "chdir to cwd";
    case InitStep::kFindExecutable: return "find executable";
    case InitStep::kCapBounding: return "drop bounding capability";
    case InitStep::kReady: return "report ready";
    case InitStep::kWaitStart: return "wait for start";
    case InitStep::kSetgroups: return "setgroups";
    case InitStep::kSetgid: return "setresgid";
    case InitStep::kSetuid: return "setresuid";
    case InitStep::kCapset: return "capset";
    case InitStep::kAmbientCaps: return "raise ambient capability";
    case InitStep::kNoNewPrivs: return "set no_new_privs";
    case InitStep::kSeccomp: return "load seccomp filter";
    case InitStep::kExec: return "exec";
    case InitStep::kUmask: return "umask";
    case InitStep::kJoinCgroup: return "join cgroup";
    case InitStep::kOomScoreAdj: return "set oom_score_adj";
  }
  return "unknown step";
}

namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

class Init {
 public:
  explicit Init(int sync_fd) : sync_fd_(sync_fd) {}

  // Reports a failure and exits. After "ready" in create mode the parent is gone, so the message
  // also goes to stderr (the container's).
  [[noreturn]] void Die(InitStep step, int err, std::string_view detail) {
    SyncMsg m{};
    m.type = static_cast<uint32_t>(SyncType::kError);
    m.err = err;
    m.step = static_cast<uint32_t>(step);
    size_t n = std::min(detail.size(), sizeof m.detail - 1);
    std::memcpy(m.detail, detail.data(), n);
    bool sent = sync_fd_ >= 0 && ::send(sync_fd_, &m, sizeof m, MSG_NOSIGNAL) == sizeof m;
    if (!sent || detached_) {
      std::fprintf(stderr, "mini8s runtime init: %s \"%s\": %s\n", InitStepName(step), m.detail,
                   err ? std::strerror(err) : "failed");
    }
    ::_exit(err == ENOENT && step == InitStep::kExec ? 127 : 126);
  }
  [[noreturn]] void DieErrno(InitStep step, std::string_view detail) { Die(step, errno, detail); }

  void Send(SyncType t) {
    SyncMsg m{};
    m.type = static_cast<uint32_t>(t);
    if (::send(sync_fd_, &m, sizeof m, MSG_NOSIGNAL) != sizeof m) DieErrno(InitStep::kReady, "");
  }
  void Expect(SyncType t, InitStep step) {
    SyncMsg m{};
    ssize_t n;
    do {
      n = ::recv(sync_fd_, &m, sizeof m, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0) ::_exit(1);  // the parent went away: nobody wants this container any more
    if (n != sizeof m || m.type != static_cast<uint32_t>(t)) Die(step, n < 0 ? errno : EPROTO, "");
  }

  int Run(const InitArgs& a, const Spec* preloaded);

 private:
  void JoinNamespaces(const Spec& spec);
  void JoinContainer(pid_t pid);
  void SetupRootfs(const Spec& spec, const InitArgs& a);
  void DoMount(const Spec& spec, const Mount& m, const std::string& root, const InitArgs& a);
  void MountCgroup(const Mount& m, const std::string& target, const InitArgs& a);
  void CreateDevices(const std::string& dev);
  std::string SafeTarget(const std::string& root, const std::string& dest, bool dir,
                         InitStep step);
  void PivotRoot(const std::string& root);
  void DetachOldRoot();
  void MaskAndReadonly(const Spec& spec);
  std::string FindExecutable(const Process& p);
  void Finalize(const Process& p, const std::string& exe, const std::string& seccomp_bpf);

  int sync_fd_;
  bool detached_ = false;
  int old_root_ = -1;
};

unsigned long PreservedFlags(const char* path) {
  struct statvfs st {};
  if (::statvfs(path, &st) != 0) return 0;
  unsigned long out = 0;
  if (st.f_flag & ST_NOSUID) out |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) out |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) out |= MS_NOEXEC;
  if (st.f_flag & ST_RDONLY) out |= MS_RDONLY;
  if (st.f_flag & ST_NOATIME) out |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

int NsFlag(NamespaceType t) {
  switch (t) {
    case NamespaceType::kMount: return CLONE_NEWNS;
    case NamespaceType::kPid: return CLONE_NEWPID;
    case NamespaceType::kUts: return CLONE_NEWUTS;
    case NamespaceType::kIpc: return CLONE_NEWIPC;
    case NamespaceType::kNetwork: return CLONE_NEWNET;
    case NamespaceType::kCgroup: return CLONE_NEWCGROUP;
    case NamespaceType::kUser: return CLONE_NEWUSER;
    case NamespaceType::kTime: return 0;
  }
  return 0;
}

void Init::JoinNamespaces(const Spec& spec) {
  // The pid namespace is joined by the parent around clone(); the mount namespace last, because
  // the others' paths may live on the host's /proc.
  std::vector<std::pair<int, const Namespace*>> fds;
  for (const Namespace& ns : spec.namespaces) {
    if (ns.path.empty() || ns.type == NamespaceType::kPid) continue;
    int fd = ::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) DieErrno(InitStep::kSetns, ns.path);
    fds.emplace_back(fd, &ns);
  }
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& [fd, ns] : fds) {
      if ((ns->type == NamespaceType::kMount) != (pass == 1)) continue;
      if (::setns(fd, NsFlag(ns->type)) != 0) DieErrno(InitStep::kSetns, ns->path);
      ::close(fd);
    }
  }
}

void Init::JoinContainer(pid_t pid) {
  static constexpr struct {
    const char* name;
    int flag;
  } kNs[] = {{"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
             {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS}};
  int fds[5];
  for (int i = 0; i < 5; ++i) {
    std::string p = "/proc/" + std::to_string(pid) + "/ns/" + kNs[i].name;
    fds[i] = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) DieErrno(InitStep::kSetns, p);
  }
  for (int i = 0; i < 5; ++i) {
    if (::setns(fds[i], kNs[i].flag) != 0) DieErrno(InitStep::kSetns, kNs[i].name);
    ::close(fds[i]);
  }
}

// Creates `dest` under `root` (a directory, or an empty file for file bind mounts) and checks that
// the result, after symlinks, is still inside the rootfs.
std::string Init::SafeTarget(const std::string& root, const std::string& dest, bool dir,
                             InitStep step) {
  std::string target = root + dest;
  if (dir) {
    Status s = MkdirAll(target);
    if (!s.ok()) Die(step, s.sys_errno(), target);
  } else {
    size_t slash = target.find_last_of('/');
    Status s = MkdirAll(target.substr(0, slash));
    if (!s.ok()) Die(step, s.sys_errno(), target);
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EISDIR) DieErrno(step, target);
    if (fd >= 0) ::close(fd);
  }
  char resolved[PATH_MAX];
  if (::realpath(target.c_str(), resolved) == nullptr) DieErrno(step, target);
  std::string r(resolved);
  if (r != root && !(r.starts_with(root) && r[root.size()] == '/')) {
    Die(step, EXDEV, dest + " resolves outside the rootfs");
  }
  return r;
}

void Init::CreateDevices(const std::string& dev) {
  static constexpr struct {
    const char* name;
    unsigned major, minor;
  } kDevs[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
               {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const auto& d : kDevs) {
    std::string p = dev + "/" + d.name;
    if (::mknod(p.c_str(), S_IFCHR | 0666, makedev(d.major, d.minor)) != 0 && errno != EEXIST) {
      DieErrno(InitStep::kDevices, p);
    }
    if (::chmod(p.c_str(), 0666) != 0) DieErrno(InitStep::kDevices, p);
  }
  static constexpr struct {
    const char* name;
    const char* target;
  } kLinks[] = {{"fd", "/proc/self/fd"},     {"stdin", "/proc/self/fd/0"},
                {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
                {"ptmx", "pts/ptmx"},         {"core", "/proc/kcore"}};
  for (const auto& l : kLinks) {
    std::string p = dev + "/" + l.name;
    if (::symlink(l.target, p.c_str()) != 0 && errno != EEXIST) DieErrno(InitStep::kDevices, p);
  }
}

void Init::MountCgroup(const Mount& m, const std::string& target, const InitArgs& a) {
  unsigned long flags = m.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
  bool unified = a.cgroup_dirs.size() == 1 && a.cgroup_dirs[0].first.empty();
  if (!unified) {
    // v1/hybrid: a tmpfs with one directory per hierarchy, each a bind of the container's own
    // cgroup (what runc shows a container).
    if (::mount("tmpfs", target.c_str(), "tmpfs", flags, "mode=755") != 0) {
      DieErrno(InitStep::kMountCgroup, target);
    }
  }
  for (const auto& [name, dir] : a.cgroup_dirs) {
    std::string t = name.empty() ? target : target + "/" + name;
    if (::mkdir(t.c_str(), 0755) != 0 && errno != EEXIST) DieErrno(InitStep::kMountCgroup, t);
    if (::mount(dir.c_str(), t.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      DieErrno(InitStep::kMountCgroup, dir);
    }
    if (::mount(nullptr, t.c_str(), nullptr, MS_BIND | MS_REMOUNT | flags | (m.flags & MS_RDONLY),
                nullptr) != 0) {
      DieErrno(InitStep::kMountCgroup, t);
    }
  }
  if (!unified && (m.flags & MS_RDONLY) &&
      ::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | flags, "mode=755") != 0) {
    DieErrno(InitStep::kMountCgroup, target);
  }
}

void Init::DoMount(const Spec& spec, const Mount& m, const std::string& root, const InitArgs& a) {
  if (m.type == "cgroup" || m.type == "cgroup2") {
    std::string target = SafeTarget(root, m.destination, true, InitStep::kMountCgroup);
    MountCgroup(m, target, a);
    return;
  }
  if (m.bind) {
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) DieErrno(InitStep::kMount, m.source);
    std::string target = SafeTarget(root, m.destination, S_ISDIR(st.st_mode), InitStep::kMount);
    unsigned long rec = m.recursive_bind ? MS_REC : 0;
    if (::mount(m.source.c_str(), target.c_str(), nullptr, MS_BIND | rec, nullptr) != 0) {
      DieErrno(InitStep::kMount, m.destination);
    }
    unsigned long extra = m.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                     MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME);
    if (extra != 0 && ::mount(nullptr, target.c_str(), nullptr,
                              MS_BIND | MS_REMOUNT | extra | PreservedFlags(target.c_str()),
                              nullptr) != 0) {
      DieErrno(InitStep::kMount, m.destination);
    }
    if (m.propagation != 0 &&
        ::mount(nullptr, target.c_str(), nullptr, m.propagation, nullptr) != 0) {
      DieErrno(InitStep::kMount, m.destination);
    }
    return;
  }
  std::string target = SafeTarget(root, m.destination, true, InitStep::kMount);
  const char* data = m.data.empty() ? nullptr : m.data.c_str();
  if (::mount(m.source.c_str(), target.c_str(), m.type.c_str(), m.flags, data) != 0) {
    int err = errno;
    // sysfs cannot be mounted without a network namespace of our own: bind the host's, as runc.
    if (m.type == "sysfs" && (err == EPERM || err == EBUSY) &&
        !spec.HasNamespace(NamespaceType::kNetwork) &&
        ::mount("/sys", target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0 &&
        ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | m.flags, nullptr) == 0) {
      return;
    }
    Die(InitStep::kMount, err, m.destination);
  }
  if (m.propagation != 0 &&
      ::mount(nullptr, target.c_str(), nullptr, m.propagation, nullptr) != 0) {
    DieErrno(InitStep::kMount, m.destination);
  }
  if (m.destination == "/dev" && m.type == "tmpfs") CreateDevices(target);
}

void Init::SetupRootfs(const Spec& spec, const InitArgs& a) {
  unsigned long prop = MS_REC | MS_PRIVATE;
  if (spec.rootfs_propagation == "slave" || spec.rootfs_propagation == "rslave") {
    prop = MS_REC | MS_SLAVE;
  } else if (spec.rootfs_propagation == "shared" || spec.rootfs_propagation == "rshared") {
    prop = MS_REC | MS_SHARED;
  }
  // Our mount events must never reach the host (the namespace starts as a copy of the host's,
  // with its shared peers).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    DieErrno(InitStep::kMountPropagation, "/");
  }
  const std::string& root = spec.root_path;
  if (!spec.overlay_lower.empty()) {
    std::string data = "lowerdir=";
    for (size_t i = 0; i < spec.overlay_lower.size(); ++i) {
      data += (i ? ":" : "") + spec.overlay_lower[i];
    }
    if (!spec.overlay_upper.empty()) {
      data += ",upperdir=" + spec.overlay_upper + ",workdir=" + spec.overlay_work;
    }
    if (::mount("overlay", root.c_str(), "overlay", 0, data.c_str()) != 0) {
      DieErrno(InitStep::kMountRootfs, root);
    }
  } else if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    // pivot_root needs the new root to be a mount point.
    DieErrno(InitStep::kMountRootfs, root);
  }
  char resolved[PATH_MAX];
  if (::realpath(root.c_str(), resolved) == nullptr) DieErrno(InitStep::kMountRootfs, root);
  std::string real_root(resolved);
  for (const Mount& m : spec.mounts) DoMount(spec, m, real_root, a);
  if (prop != (MS_REC | MS_PRIVATE) &&
      ::mount(nullptr, real_root.c_str(), nullptr, prop, nullptr) != 0) {
    DieErrno(InitStep::kMountPropagation, real_root);
  }
}

void Init::PivotRoot(const std::string& root) {
  old_root_ = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (old_root_ < 0) DieErrno(InitStep::kPivotRoot, "/");
  int newroot = ::open(root.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) DieErrno(InitStep::kPivotRoot, root);
  // pivot_root(".", ".") stacks the old root on top of the new one, with no put_old directory
  // needed (runc's and crun's trick). Lookups from "/" already resolve in the new root; the old
  // one is detached by DetachOldRoot() before anything is executed.
  if (::fchdir(newroot) != 0) DieErrno(InitStep::kPivotRoot, root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) DieErrno(InitStep::kPivotRoot, root);
  if (::chdir("/") != 0) DieErrno(InitStep::kPivotRoot, "/");
  ::close(newroot);
}

void Init::DetachOldRoot() {
  if (old_root_ < 0) return;
  if (::fchdir(old_root_) != 0) DieErrno(InitStep::kPivotRoot, "old root");
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
    DieErrno(InitStep::kPivotRoot, "old root");
  }
  if (::umount2(".", MNT_DETACH) != 0) DieErrno(InitStep::kPivotRoot, "old root");
  if (::chdir("/") != 0) DieErrno(InitStep::kPivotRoot, "/");
  ::close(old_root_);
  old_root_ = -1;
}

void Init::MaskAndReadonly(const Spec& spec) {
  for (const std::string& p : spec.masked_paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      DieErrno(InitStep::kMaskPath, p);
    }
    int rc = S_ISDIR(st.st_mode)
                 ? ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           "size=0k,nr_inodes=1")
                 : ::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr);
    if (rc != 0) DieErrno(InitStep::kMaskPath, p);
  }
  for (const std::string& p : spec.readonly_paths) {
    if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      DieErrno(InitStep::kReadonlyPath, p);
    }
    if (::mount(nullptr, p.c_str(), nullptr,
                MS_BIND | MS_REMOUNT | MS_RDONLY | PreservedFlags(p.c_str()), nullptr) != 0) {
      DieErrno(InitStep::kReadonlyPath, p);
    }
  }
}

std::string Init::FindExecutable(const Process& p) {
  const std::string& name = p.args[0];
  auto usable = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    // Not in cwd yet (see Run): resolve a relative path against the process's cwd.
    std::string full = name[0] == '/' ? name : p.cwd + "/" + name;
    if (!usable(full)) Die(InitStep::kFindExecutable, errno ? errno : EACCES, name);
    return name;
  }
  std::string path = kDefaultPath;
  for (const std::string& e : p.env) {
    if (e.starts_with("PATH=")) path = e.substr(5);
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string cand = (dir.empty() ? "." : dir) + "/" + name;
    if (usable(cand)) return cand;
    start = end + 1;
  }
  Die(InitStep::kFindExecutable, ENOENT, name);
}

void Init::Finalize(const Process& p, const std::string& exe, const std::string& seccomp_bpf) {
  if (p.capabilities && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    DieErrno(InitStep::kCapset, "keepcaps");
  }
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which we only have before the
  // user switch; with it, load last so the filter need not allow our own setup calls.
  if (!seccomp_bpf.empty() && !p.no_new_privileges) {
    Status s = LoadSeccompBpf(seccomp_bpf);
    if (!s.ok()) Die(InitStep::kSeccomp, s.sys_errno(), "");
  }
  std::vector<gid_t> groups(p.user.additional_gids.begin(), p.user.additional_gids.end());
  if (::setgroups(groups.size(), groups.data()) != 0) DieErrno(InitStep::kSetgroups, "");
  if (::setresgid(p.user.gid, p.user.gid, p.user.gid) != 0) {
    DieErrno(InitStep::kSetgid, std::to_string(p.user.gid));
  }
  if (::setresuid(p.user.uid, p.user.uid, p.user.uid) != 0) {
    DieErrno(InitStep::kSetuid, std::to_string(p.user.uid));
  }
  if (p.capabilities) {
    const CapabilitySets& c = *p.capabilities;
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    data[0].effective = static_cast<uint32_t>(c.effective);
    data[1].effective = static_cast<uint32_t>(c.effective >> 32);
    data[0].permitted = static_cast<uint32_t>(c.permitted);
    data[1].permitted = static_cast<uint32_t>(c.permitted >> 32);
    data[0].inheritable = static_cast<uint32_t>(c.inheritable);
    data[1].inheritable = static_cast<uint32_t>(c.inheritable >> 32);
    if (::syscall(SYS_capset, &hdr, data) != 0) DieErrno(InitStep::kCapset, "");
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
      DieErrno(InitStep::kAmbientCaps, "clear");
    }
    for (int cap = 0; cap <= kLastCap; ++cap) {
      if (!(c.ambient & (uint64_t{1} << cap))) continue;
      // Ambient needs the cap in permitted and inheritable; skip what the kernel refuses, as runc.
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EPERM &&
          errno != EINVAL) {
        DieErrno(InitStep::kAmbientCaps, CapabilityName(cap));
      }
    }
  }
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    DieErrno(InitStep::kNoNewPrivs, "");
  }
  if (!seccomp_bpf.empty() && p.no_new_privileges) {
    Status s = LoadSeccompBpf(seccomp_bpf);
    if (!s.ok()) Die(InitStep::kSeccomp, s.sys_errno(), "");
  }
  std::vector<char*> argv;
  for (const std::string& s : p.args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& s : p.env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  ::execve(exe.c_str(), argv.data(), envp.data());
  DieErrno(InitStep::kExec, exe);
}

int Init::Run(const InitArgs& a, const Spec* preloaded) {
  // Nothing the caller of create/run had open may leak into the container.
  if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    DieErrno(InitStep::kArgs, "close_range");
  }
  ::umask(0);
  // The parent's blocked signals and ignored dispositions survive execve (a supervisor blocks
  // SIGCHLD for its signalfd): the workload starts from the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
  Spec loaded;
  if (preloaded == nullptr) {
    auto spec_r = LoadSpec(a.bundle);
    if (!spec_r) Die(InitStep::kConfig, spec_r.error().sys_errno(), spec_r.error().message());
    loaded = std::move(*spec_r);
  }
  const Spec& spec = preloaded ? *preloaded : loaded;
  Process process = spec.process;
  if (a.mode == "exec") {
    if (!a.process_json.empty()) {
      auto p = ParseProcess(a.process_json);
      if (!p) Die(InitStep::kConfig, EINVAL, p.error().message());
      process = std::move(*p);
    } else {
      if (!a.args.empty()) process.args = a.args;
      process.env.insert(process.env.end(), a.env.begin(), a.env.end());
      if (!a.cwd.empty()) process.cwd = a.cwd;
    }
  }

  for (const std::string& f : a.join_files) {
    Status s = WriteFile(f, "0");
    if (!s.ok()) Die(InitStep::kJoinCgroup, s.sys_errno(), f);
  }
  if (a.oom_score_adj) {
    Status s = WriteFile("/proc/self/oom_score_adj", std::to_string(*a.oom_score_adj));
    if (!s.ok()) Die(InitStep::kOomScoreAdj, s.sys_errno(), std::to_string(*a.oom_score_adj));
  }

  std::string seccomp_bpf;
  if (!a.seccomp.empty()) {
    auto bpf = ReadFile(a.seccomp);
    if (!bpf) Die(InitStep::kReadSeccomp, bpf.error().sys_errno(), a.seccomp);
    seccomp_bpf = std::move(*bpf);
  }
  auto last_cap_s = ReadFile("/proc/sys/kernel/cap_last_cap");
  int last_cap = last_cap_s ? std::atoi(last_cap_s->c_str()) : kLastCap;

  int fifo = -1;
  if (a.mode == "exec") {
    JoinContainer(a.exec_pid);
    if (::chdir("/") != 0) DieErrno(InitStep::kChdir, "/");
  } else {
    JoinNamespaces(spec);
    for (const auto& [key, value] : spec.sysctl) {
      std::string path = "/proc/sys/" + key;
      for (size_t i = 10; i < path.size(); ++i) {
        if (path[i] == '.') path[i] = '/';
      }
      Status s = WriteFile(path, value);
      if (!s.ok()) Die(InitStep::kSysctl, s.sys_errno(), key);
    }
    if (spec.HasNamespace(NamespaceType::kMount)) {
      SetupRootfs(spec, a);
      if (!a.fifo.empty()) {
        fifo = ::open(a.fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo < 0) DieErrno(InitStep::kOpenFifo, a.fifo);
      }
      PivotRoot(spec.root_path);
      MaskAndReadonly(spec);
      if (spec.root_readonly &&
          ::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | PreservedFlags("/"),
                  nullptr) != 0) {
        DieErrno(InitStep::kRootReadonly, "/");
      }
    } else {
      Die(InitStep::kMount, EINVAL, "a mount namespace is required");
    }
    const Namespace* cg = spec.FindNamespace(NamespaceType::kCgroup);
    // Unshared once we are in our cgroup, so that its root is ours.
    if (cg != nullptr && cg->path.empty() && ::unshare(CLONE_NEWCGROUP) != 0) {
      DieErrno(InitStep::kUnshareCgroup, "");
    }
    const Namespace* uts = spec.FindNamespace(NamespaceType::kUts);
    if (!spec.hostname.empty() && uts != nullptr && uts->path.empty() &&
        ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
      DieErrno(InitStep::kHostname, spec.hostname);
    }
  }
  for (const Rlimit& r : process.rlimits) {
    rlimit l{r.soft, r.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &l) != 0) {
      DieErrno(InitStep::kRlimit, std::to_string(r.resource));
    }
  }
  // cwd is entered after DetachOldRoot(); checked here so that a bad one fails create.
  struct stat cwd_st {};
  if (::stat(process.cwd.c_str(), &cwd_st) != 0) DieErrno(InitStep::kChdir, process.cwd);
  if (!S_ISDIR(cwd_st.st_mode)) Die(InitStep::kChdir, ENOTDIR, process.cwd);
  std::string exe = FindExecutable(process);
  if (process.user.umask) {
    ::umask(*process.user.umask);
  } else {
    ::umask(022);
  }
  if (process.capabilities) {
    for (int cap = 0; cap <= last_cap; ++cap) {
      if (process.capabilities->bounding & (uint64_t{1} << cap)) continue;
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
        DieErrno(InitStep::kCapBounding, CapabilityName(cap));
      }
    }
  }
  if (a.mode != "exec") {
    ::setsid();
  } else if (a.tty) {
    // A new session whose controlling terminal is the pty slave on stdin (what runc does with
    // its console socket), so that job control and ^C reach the exec'd shell.
    ::setsid();
    if (::ioctl(0, TIOCSCTTY, 0) != 0) DieErrno(InitStep::kExec, "TIOCSCTTY");
  }

  Send(SyncType::kReady);
  // In create mode the parent stops listening after "ready": later failures go to stderr too.
  if (a.mode == "create") detached_ = true;
  // Unmounting the old root waits for an RCU grace period (about 5 ms on a busy machine): done
  // after "ready", it overlaps with the caller's exit and `start`.
  DetachOldRoot();
  if (::chdir(process.cwd.c_str()) != 0) DieErrno(InitStep::kChdir, process.cwd);
  if (a.mode == "create") {
    // The parent exits after "ready"; `start` opens the fifo for writing and writes one byte.
    pollfd p{fifo, POLLIN, 0};
    for (;;) {
      int rc = ::poll(&p, 1, -1);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) DieErrno(InitStep::kWaitStart, a.fifo);
      break;
    }
    char c;
    if (::read(fifo, &c, 1) != 1) Die(InitStep::kWaitStart, EPIPE, "exec fifo closed without start");
    ::close(fifo);
  } else {
    Expect(SyncType::kStart, InitStep::kWaitStart);
  }
  Finalize(process, exe, seccomp_bpf);
  return 126;
}

}  // namespace

InitArgs ParseInitArgs(const std::vector<std::string>& args) {
  InitArgs a;
  bool in_args = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (in_args) {
      a.args.push_back(s);
      continue;
    }
    auto next = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : std::string(); };
    if (i == 0) {
      a.mode = s;
    } else if (s == "--sync-fd") {
      a.sync_fd = std::atoi(next().c_str());
    } else if (s == "--bundle") {
      a.bundle = next();
    } else if (s == "--fifo") {
      a.fifo = next();
    } else if (s == "--seccomp") {
      a.seccomp = next();
    } else if (s == "--exec-pid") {
      a.exec_pid = std::atoi(next().c_str());
    } else if (s == "--cgroup-dir") {
      std::string kv = next();
      size_t eq = kv.find('=');
      a.cgroup_dirs.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
    } else if (s == "--join") {
      a.join_files.push_back(next());
    } else if (s == "--tty") {
      a.tty = true;
    } else if (s == "--oom-score-adj") {
      a.oom_score_adj = std::atoi(next().c_str());
    } else if (s == "--env") {
      a.env.push_back(next());
    } else if (s == "--cwd") {
      a.cwd = next();
    } else if (s == "--process") {
      a.process_json = next();
    } else if (s == "--") {
      in_args = true;
    }
  }
  return a;
}

int RunInit(const InitArgs& a, const Spec* spec) {
  Init init(a.sync_fd);
  if (a.sync_fd < 0 || a.bundle.empty() ||
      (a.mode != "create" && a.mode != "run" && a.mode != "exec")) {
    std::fprintf(stderr, "mini8s runtime init: internal command, started by the runtime only\n");
    init.Die(InitStep::kArgs, EINVAL, "bad arguments");
  }
  return init.Run(a, spec);
}

int InitMain(const std::vector<std::string>& args) { return RunInit(ParseInitArgs(args), nullptr); }

}  // namespace mini8s::runtime
