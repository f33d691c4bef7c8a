#include "mini8s/runtime/cgroup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

#include "runtime/fs_util.h"

namespace mini8s::runtime {
namespace {

// Killing waits for the kernel to tear processes down; a cgroup that will not empty in this time
// is reported rather than waited on forever.
constexpr auto kEmptyTimeout = std::chrono::seconds(10);

std::string Join(const std::string& mount, const std::string& path) {
  if (path.empty() || path == "/") return mount;
  return path[0] == '/' ? mount + path : mount + "/" + path;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
std::optional<uint64_t> KeyedValue(const std::string& text, std::string_view key) {
  std::vector<std::string_view> f = Fields(text);
  for (size_t i = 0; i + 1 < f.size(); i += 2) {
    std::optional<uint64_t> v = ParseU64(f[i + 1]);
    if (!v) return std::nullopt;  // not a "key value" file
    if (f[i] == key) return v;
  }
  return std::nullopt;
}

uint64_t ReadU64Or0(const std::string& path) {
  auto s = ReadFile(path);
  if (!s) return 0;
  return ParseU64(*s).value_or(0);
}

uint64_t KeyedOr0(const std::string& path, std::string_view key) {
  auto s = ReadFile(path);
  if (!s) return 0;
  return KeyedValue(*s, key).value_or(0);
}

Result<std::vector<pid_t>> ReadProcs(const std::string& dir) {
  MINI8S_ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/cgroup.procs"));
  std::vector<pid_t> pids;
  for (std::string_view f : Fields(text)) {
    pid_t p = 0;
    auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), p);
    if (ec != std::errc() || end != f.data() + f.size()) break;
    pids.push_back(p);
  }
  return pids;
}

Status RmdirTolerant(const std::string& dir) {
  // rmdir fails with EBUSY while exiting tasks are still being unlinked from the cgroup.
  auto deadline = std::chrono::steady_clock::now() + kEmptyTimeout;
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status();
    if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
      return Status::FromErrno(errno, "rmdir", dir);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Status WaitEmpty(const std::string& dir) {
  auto deadline = std::chrono::steady_clock::now() + kEmptyTimeout;
  for (;;) {
    auto pids = ReadProcs(dir);
    if (!pids) return pids.error().code() == Code::kNotFound ? Status() : pids.error();
    if (pids->empty()) return Status();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Timeout("cgroup " + dir + " still has " + std::to_string(pids->size()) +
                             " processes after SIGKILL");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

// Writes "1" to cgroup.kill (Linux 5.14+) if the file exists. Returns false if it does not.
Result<bool> TryCgroupKill(const std::string& dir) {
  std::string file = dir + "/cgroup.kill";
  Status s = WriteFile(file, "1");
  if (s.ok()) return true;
  if (s.sys_errno() == ENOENT) {
    if (::access(dir.c_str(), F_OK) != 0) return true;  // the cgroup itself is gone: nothing to kill
    return false;
  }
  return s;
}

// Kills by signalling every listed pid until the list is empty (v1 without cgroup.kill). The
// freezer stops forks racing with the loop when available.
Status KillByList(const std::string& procs_dir, const std::string& freezer_dir) {
  bool frozen = !freezer_dir.empty() && WriteFile(freezer_dir + "/freezer.state", "FROZEN").ok();
  auto deadline = std::chrono::steady_clock::now() + kEmptyTimeout;
  for (;;) {
    auto pids = ReadProcs(procs_dir);
    if (!pids) return pids.error().code() == Code::kNotFound ? Status() : pids.error();
    for (pid_t p : *pids) ::kill(p, SIGKILL);
    if (frozen) {
      (void)WriteFile(freezer_dir + "/freezer.state", "THAWED");
      frozen = false;
    }
    if (pids->empty()) return Status();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Timeout("cgroup " + procs_dir + " did not empty after SIGKILL");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

// ---------------------------------------------------------------------------------------------
// v2

class CgroupV2 final : public Cgroup {
 public:
  CgroupV2(std::string mount, std::string path, std::string key, UniqueFd dirfd)
      : mount_(std::move(mount)), path_(std::move(path)), key_(std::move(key)),
        dir_(Join(mount_, path_)), dirfd_(std::move(dirfd)) {}

  const std::string& path() const override { return path_; }
  int CloneIntoFd() const override { return dirfd_.get(); }

  Status Apply(const Resources& r) override {
    if (r.memory_limit) {
      MINI8S_RETURN_IF_ERROR(Write("memory.max", Limit(*r.memory_limit)));
    }
    if (r.memory_swap) {
      // OCI's swap is memory+swap; v2's memory.swap.max is swap alone.
      std::string v = "max";
      if (*r.memory_swap >= 0) {
        int64_t mem = r.memory_limit.value_or(0);
        if (*r.memory_swap < mem) {
          return Status::Invalid("memory+swap limit is smaller than the memory limit");
        }
        v = std::to_string(*r.memory_swap - mem);
      }
      MINI8S_RETURN_IF_ERROR(Write("memory.swap.max", v));
    }
    if (r.cpu_quota || r.cpu_period) {
      uint64_t period = r.cpu_period.value_or(100000);
      std::string quota = (r.cpu_quota && *r.cpu_quota > 0) ? std::to_string(*r.cpu_quota) : "max";
      MINI8S_RETURN_IF_ERROR(Write("cpu.max", quota + " " + std::to_string(period)));
    }
    if (r.cpu_shares && *r.cpu_shares != 0) {
      MINI8S_RETURN_IF_ERROR(Write("cpu.weight", std::to_string(CpuSharesToWeight(*r.cpu_shares))));
    }
    if (r.pids_limit) {
      MINI8S_RETURN_IF_ERROR(Write("pids.max", Limit(*r.pids_limit)));
    }
    return Status();
  }

  Status AddProcess(pid_t pid) override { return Write("cgroup.procs", std::to_string(pid)); }
  std::vector<std::string> SelfJoinFiles(bool cloned_into) const override {
    if (cloned_into) return {};
    return {dir_ + "/cgroup.procs"};
  }
  Result<std::vector<pid_t>> Pids() const override { return ReadProcs(dir_); }

  Status Kill() override {
    MINI8S_ASSIGN_OR_RETURN(bool killed, TryCgroupKill(dir_));
    if (!killed) MINI8S_RETURN_IF_ERROR(KillByList(dir_, ""));
    return WaitEmpty(dir_);
  }

  Result<CgroupStats> Stats() const override {
    CgroupStats s;
    MINI8S_ASSIGN_OR_RETURN(std::string cpu, ReadFile(dir_ + "/cpu.stat"));
    s.cpu_usage_ns = KeyedValue(cpu, "usage_usec").value_or(0) * 1000;
    s.memory_usage = ReadU64Or0(dir_ + "/memory.current");
    uint64_t inactive = KeyedOr0(dir_ + "/memory.stat", "inactive_file");
    s.memory_working_set = s.memory_usage > inactive ? s.memory_usage - inactive : 0;
    s.oom_kills = KeyedOr0(dir_ + "/memory.events", "oom_kill");
    s.pids_current = ReadU64Or0(dir_ + "/pids.current");
    return s;
  }

  Status Destroy() override {
    dirfd_.Reset();
    return RmdirTolerant(dir_);
  }

  std::map<std::string, std::string> HostDirs() const override { return {{key_, dir_}}; }

 private:
  static std::string Limit(int64_t v) { return v > 0 ? std::to_string(v) : "max"; }
  Status Write(const char* file, const std::string& v) {
    Status s = WriteFile(dir_ + "/" + file, v);
    if (s.sys_errno() == ENOENT) {
      return Status::Unavailable(std::string("cgroup v2 controller for ") + file +
                                 " is not enabled in " + dir_);
    }
    return s;
  }

  std::string mount_, path_, key_, dir_;
  UniqueFd dirfd_;
};

class CgroupV2Manager final : public CgroupManager {
 public:
  CgroupV2Manager(std::string mount, CgroupMode mode, std::string key)
      : mount_(std::move(mount)), mode_(mode), key_(std::move(key)) {}
  CgroupMode mode() const override { return mode_; }

  Result<std::unique_ptr<Cgroup>> Create(const std::string& path) override {
    // Enable the controllers we use in every ancestor's subtree_control, as far as the parent
    // offers them (crun's enable_controllers).
    std::string cur = mount_;
    for (std::string_view part : Fields(path, "/")) {
      EnableControllers(cur);
      cur += "/";
      cur += part;
      if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::FromErrno(errno, "mkdir", cur);
      }
    }
    return Open(path);
  }

  Result<std::unique_ptr<Cgroup>> Open(const std::string& path) override {
    std::string dir = Join(mount_, path);
    UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return Status::FromErrno(errno, "open cgroup", dir);
    return std::unique_ptr<Cgroup>(new CgroupV2(mount_, path, key_, std::move(fd)));
  }

 private:
  static void EnableControllers(const std::string& dir) {
    auto avail = ReadFile(dir + "/cgroup.controllers");
    if (!avail) return;
    std::string want;
    for (std::string_view c : Fields(*avail)) {
      if (c == "cpu" || c == "memory" || c == "pids") {
        want += want.empty() ? "+" : " +";
        want += c;
      }
    }
    if (!want.empty()) (void)WriteFile(dir + "/cgroup.subtree_control", want);
  }

  std::string mount_;
  CgroupMode mode_;
  std::string key_;
};

// ---------------------------------------------------------------------------------------------
// v1 (legacy and hybrid)

// The controllers this backend manages. Others (cpuset, devices, blkio, name=systemd) are left
// alone: joining them costs a write each and buys nothing we use.
constexpr const char* kV1Controllers[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

class CgroupV1 final : public Cgroup {
 public:
  CgroupV1(std::string path, std::map<std::string, std::string> dirs, std::string unified_dir)
      : path_(std::move(path)), dirs_(std::move(dirs)), unified_dir_(std::move(unified_dir)) {
    if (!unified_dir_.empty()) {
      unified_fd_.Reset(::open(unified_dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
  }

  const std::string& path() const override { return path_; }
  int CloneIntoFd() const override { return unified_fd_.get(); }
  std::vector<std::string> SelfJoinFiles(bool cloned_into) const override {
    std::vector<std::string> files;
    std::string last;
    for (const auto& [name, dir] : dirs_) {
      if (dir != last) files.push_back(dir + "/tasks");  // co-mounted controllers share a dir
      last = dir;
    }
    if (!cloned_into && !unified_dir_.empty()) files.push_back(unified_dir_ + "/cgroup.procs");
    return files;
  }

  Status Apply(const Resources& r) override {
    if (r.memory_limit) {
      MINI8S_RETURN_IF_ERROR(Write("memory", "memory.limit_in_bytes", Limit(*r.memory_limit)));
    }
    if (r.memory_swap && Has("memory") &&
        ::access((dirs_["memory"] + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0) {
      MINI8S_RETURN_IF_ERROR(Write("memory", "memory.memsw.limit_in_bytes", Limit(*r.memory_swap)));
    }
    if (r.cpu_period) {
      MINI8S_RETURN_IF_ERROR(Write("cpu", "cpu.cfs_period_us", std::to_string(*r.cpu_period)));
    }
    if (r.cpu_quota) {
      MINI8S_RETURN_IF_ERROR(
          Write("cpu", "cpu.cfs_quota_us", std::to_string(*r.cpu_quota > 0 ? *r.cpu_quota : -1)));
    }
    if (r.cpu_shares && *r.cpu_shares != 0) {
      MINI8S_RETURN_IF_ERROR(Write("cpu", "cpu.shares", std::to_string(*r.cpu_shares)));
    }
    if (r.pids_limit) {
      MINI8S_RETURN_IF_ERROR(
          Write("pids", "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max"));
    }
    return Status();
  }

  Status AddProcess(pid_t pid) override {
    std::string p = std::to_string(pid);
    for (const auto& [name, dir] : dirs_) {
      MINI8S_RETURN_IF_ERROR(WriteFile(dir + "/cgroup.procs", p));
    }
    if (!unified_dir_.empty()) MINI8S_RETURN_IF_ERROR(WriteFile(unified_dir_ + "/cgroup.procs", p));
    return Status();
  }

  Result<std::vector<pid_t>> Pids() const override { return ReadProcs(TrackingDir()); }

  Status Kill() override {
    bool killed = false;
    if (!unified_dir_.empty()) {
      MINI8S_ASSIGN_OR_RETURN(killed, TryCgroupKill(unified_dir_));
    }
    if (!killed) {
      auto f = dirs_.find("freezer");
      MINI8S_RETURN_IF_ERROR(KillByList(TrackingDir(), f == dirs_.end() ? "" : f->second));
    }
    for (const auto& [name, dir] : dirs_) MINI8S_RETURN_IF_ERROR(WaitEmpty(dir));
    if (!unified_dir_.empty()) MINI8S_RETURN_IF_ERROR(WaitEmpty(unified_dir_));
    return Status();
  }

  Result<CgroupStats> Stats() const override {
    CgroupStats s;
    if (Has("cpuacct")) s.cpu_usage_ns = ReadU64Or0(Dir("cpuacct") + "/cpuacct.usage");
    if (Has("memory")) {
      const std::string m = Dir("memory");
      s.memory_usage = ReadU64Or0(m + "/memory.usage_in_bytes");
      uint64_t inactive = KeyedOr0(m + "/memory.stat", "total_inactive_file");
      s.memory_working_set = s.memory_usage > inactive ? s.memory_usage - inactive : 0;
      s.oom_kills = KeyedOr0(m + "/memory.oom_control", "oom_kill");
    }
    if (Has("pids")) s.pids_current = ReadU64Or0(Dir("pids") + "/pids.current");
    return s;
  }

  Status Destroy() override {
    unified_fd_.Reset();
    for (const auto& [name, dir] : dirs_) MINI8S_RETURN_IF_ERROR(RmdirTolerant(dir));
    if (!unified_dir_.empty()) MINI8S_RETURN_IF_ERROR(RmdirTolerant(unified_dir_));
    return Status();
  }

  std::map<std::string, std::string> HostDirs() const override {
    auto out = dirs_;
    if (!unified_dir_.empty()) out["unified"] = unified_dir_;
    return out;
  }

 private:
  bool Has(const std::string& c) const { return dirs_.count(c) != 0; }
  std::string Dir(const std::string& c) const { return dirs_.at(c); }
  // The hierarchy whose cgroup.procs tells which processes belong to the container.
  std::string TrackingDir() const {
    if (!unified_dir_.empty()) return unified_dir_;
    if (Has("freezer")) return Dir("freezer");
    return dirs_.begin()->second;
  }
  static std::string Limit(int64_t v) { return std::to_string(v > 0 ? v : -1); }
  Status Write(const std::string& controller, const char* file, const std::string& v) {
    if (!Has(controller)) {
      return Status::Unavailable("cgroup v1 controller \"" + controller + "\" is not mounted");
    }
    return WriteFile(dirs_[controller] + "/" + file, v);
  }

  std::string path_;
  std::map<std::string, std::string> dirs_;
  std::string unified_dir_;
  UniqueFd unified_fd_;
};

class CgroupV1Manager final : public CgroupManager {
 public:
  CgroupV1Manager(std::map<std::string, std::string> hierarchies, std::string unified,
                  CgroupMode mode)
      : hierarchies_(std::move(hierarchies)), unified_(std::move(unified)), mode_(mode) {}
  CgroupMode mode() const override { return mode_; }

  Result<std::unique_ptr<Cgroup>> Create(const std::string& path) override {
    std::map<std::string, std::string> dirs;
    for (const auto& [name, mount] : hierarchies_) {
      std::string dir = Join(mount, path);
      MINI8S_RETURN_IF_ERROR(MkdirAll(dir));
      dirs[name] = dir;
    }
    std::string unified_dir;
    if (!unified_.empty()) {
      unified_dir = Join(unified_, path);
      MINI8S_RETURN_IF_ERROR(MkdirAll(unified_dir));
    }
    return std::unique_ptr<Cgroup>(new CgroupV1(path, std::move(dirs), std::move(unified_dir)));
  }

  Result<std::unique_ptr<Cgroup>> Open(const std::string& path) override {
    std::map<std::string, std::string> dirs;
    for (const auto& [name, mount] : hierarchies_) {
      std::string dir = Join(mount, path);
      if (::access(dir.c_str(), F_OK) == 0) dirs[name] = dir;
    }
    std::string unified_dir;
    if (!unified_.empty() && ::access(Join(unified_, path).c_str(), F_OK) == 0) {
      unified_dir = Join(unified_, path);
    }
    if (dirs.empty() && unified_dir.empty()) {
      return Status::NotFound("cgroup " + path + " does not exist");
    }
    return std::unique_ptr<Cgroup>(new CgroupV1(path, std::move(dirs), std::move(unified_dir)));
  }

 private:
  // controller name -> mount point of its hierarchy.
  std::map<std::string, std::string> hierarchies_;
  std::string unified_;
  CgroupMode mode_;
};

}  // namespace

std::string_view CgroupModeName(CgroupMode m) {
  switch (m) {
    case CgroupMode::kLegacy: return "legacy";
    case CgroupMode::kHybrid: return "hybrid";
    case CgroupMode::kUnified: return "unified";
  }
  return "unknown";
}

Result<CgroupMode> DetectCgroupMode(const std::string& root) {
  struct statfs st {};
  if (::statfs(root.c_str(), &st) != 0) return Status::FromErrno(errno, "statfs", root);
  if (st.f_type == CGROUP2_SUPER_MAGIC) return CgroupMode::kUnified;
  if (st.f_type != TMPFS_MAGIC) {
    return Status::Invalid(root + " is neither a cgroup2 mount nor a tmpfs of v1 hierarchies");
  }
  std::string unified = root + "/unified";
  if (::statfs(unified.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) {
    return CgroupMode::kHybrid;
  }
  return CgroupMode::kLegacy;
}

Result<CgroupMode> HostCgroupMode() {
  static const Result<CgroupMode> mode = DetectCgroupMode();
  return mode;
}

uint64_t CpuSharesToWeight(uint64_t shares) {
  if (shares == 0) return 100;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

Result<std::unique_ptr<CgroupManager>> CgroupManager::V2(const std::string& mount_point) {
  struct statfs st {};
  if (::statfs(mount_point.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "statfs", mount_point);
  }
  if (st.f_type != CGROUP2_SUPER_MAGIC) {
    return Status::Invalid(mount_point + " is not a cgroup2 mount");
  }
  return std::unique_ptr<CgroupManager>(
      new CgroupV2Manager(mount_point, CgroupMode::kUnified, ""));
}

Result<std::unique_ptr<CgroupManager>> CgroupManager::V1(
    std::map<std::string, std::string> hierarchies, std::string unified_mount) {
  if (hierarchies.empty()) return Status::Invalid("no cgroup v1 hierarchies");
  CgroupMode mode = unified_mount.empty() ? CgroupMode::kLegacy : CgroupMode::kHybrid;
  return std::unique_ptr<CgroupManager>(
      new CgroupV1Manager(std::move(hierarchies), std::move(unified_mount), mode));
}

namespace {

// The v1 hierarchies of the controllers we manage, from our mount table.
Result<std::map<std::string, std::string>> V1HierarchiesFromMountinfo() {
  MINI8S_ASSIGN_OR_RETURN(std::string mi, ReadFile("/proc/self/mountinfo"));
  std::map<std::string, std::string> hierarchies;
  for (std::string_view line : Fields(mi, "\n")) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::vector<std::string_view> head = Fields(line.substr(0, dash));
    std::vector<std::string_view> tail = Fields(line.substr(dash + 3));
    if (head.size() < 5 || tail.size() < 3 || tail[0] != "cgroup") continue;
    for (std::string_view o : Fields(tail[2], ",")) {
      for (const char* c : kV1Controllers) {
        if (o == c && !hierarchies.count(c)) hierarchies[c] = std::string(head[4]);
      }
    }
  }
  return hierarchies;
}

// The cache of V1HierarchiesFromMountinfo(): "mnt:[<mount namespace inode>]" on the first line,
// then "<controller> <device of the mount> <mount point>" lines. A v1 hierarchy's controllers are
// fixed for the life of its superblock (the kernel refuses to rebind a hierarchy that has child
// cgroups, and mounting the same controllers again reuses the superblock), so an entry is still
// right if, in the same mount namespace, its mount point still has the same device. Anything
// else, or a controller missing from the map, means parsing the mount table again.
std::string MountNamespace() {
  char buf[64];
  ssize_t n = ::readlink("/proc/self/ns/mnt", buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::optional<std::map<std::string, std::string>> LoadHierarchyCache(const std::string& file,
                                                                    const std::string& mntns) {
  auto text = ReadFile(file);
  if (!text) return std::nullopt;
  std::vector<std::string_view> lines = Fields(*text, "\n");
  if (lines.empty() || lines[0] != mntns) return std::nullopt;
  std::map<std::string, std::string> out;
  std::map<std::string, dev_t> checked;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string_view> f = Fields(lines[i], " ");
    if (f.size() != 3) return std::nullopt;
    auto dev = ParseU64(f[1]);
    if (!dev) return std::nullopt;
    std::string mount(f[2]);
    auto it = checked.find(mount);
    if (it == checked.end()) {
      struct stat st {};
      if (::stat(mount.c_str(), &st) != 0) return std::nullopt;
      it = checked.emplace(mount, st.st_dev).first;
    }
    if (it->second != static_cast<dev_t>(*dev)) return std::nullopt;
    out[std::string(f[0])] = mount;
  }
  for (const char* c : kV1Controllers) {
    if (!out.count(c)) return std::nullopt;
  }
  return out;
}

void StoreHierarchyCache(const std::string& file, const std::string& mntns,
                         const std::map<std::string, std::string>& hierarchies) {
  std::string text = mntns + "\n";
  for (const auto& [name, mount] : hierarchies) {
    struct stat st {};
    if (::stat(mount.c_str(), &st) != 0) return;
    text += name + " " + std::to_string(st.st_dev) + " " + mount + "\n";
  }
  (void)WriteFileAtomic(file, text);  // a cache: failing to store it costs the next call a parse
}

}  // namespace

Result<std::unique_ptr<CgroupManager>> CgroupManager::ForHost() { return ForHost(""); }

Result<std::unique_ptr<CgroupManager>> CgroupManager::ForHost(const std::string& cache_file) {
  MINI8S_ASSIGN_OR_RETURN(CgroupMode mode, HostCgroupMode());
  if (mode == CgroupMode::kUnified) return V2("/sys/fs/cgroup");
  std::map<std::string, std::string> hierarchies;
  std::string mntns = cache_file.empty() ? "" : MountNamespace();
  if (auto cached = mntns.empty() ? std::nullopt : LoadHierarchyCache(cache_file, mntns)) {
    hierarchies = std::move(*cached);
  } else {
    MINI8S_ASSIGN_OR_RETURN(hierarchies, V1HierarchiesFromMountinfo());
    bool complete = true;
    for (const char* c : kV1Controllers) complete = complete && hierarchies.count(c) != 0;
    if (!mntns.empty() && complete) StoreHierarchyCache(cache_file, mntns, hierarchies);
  }
  // A co-mounted "cpu,cpuacct" hierarchy appears under both names; writing its cgroup.procs
  // twice is harmless and keeps lookups by controller name simple.
  // On hybrid hosts the (controller-less) unified hierarchy is not joined: it would add process
  // tracking and cgroup.kill, which the freezer covers, at the price of a cgroup2 rmdir per
  // container that takes about 3 ms here (v1 rmdirs take 0.1 ms). V1(..., unified) keeps it
  // available.
  if (hierarchies.empty()) return Status::Unavailable("no cgroup v1 hierarchies are mounted");
  return std::unique_ptr<CgroupManager>(new CgroupV1Manager(std::move(hierarchies), "", mode));
}

}  // namespace mini8s::runtime
