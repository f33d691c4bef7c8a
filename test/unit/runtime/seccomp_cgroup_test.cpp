#include <linux/filter.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "mini8s/runtime/cgroup.h"
#include "mini8s/runtime/seccomp.h"
#include "mini8s/runtime/spec.h"
#include "testutil/temp_dir.h"

namespace mini8s::runtime {
namespace {

TEST_CASE("Seccomp: the default profile compiles to a BPF program", "[runtime][unit]") {
  Seccomp s = DefaultSeccompProfile();
  auto bpf = CompileSeccomp(s);
  REQUIRE(bpf.ok());
  CHECK(bpf->size() % sizeof(sock_filter) == 0);
  CHECK(bpf->size() / sizeof(sock_filter) > 20);
}

TEST_CASE("Seccomp: the default profile denies the calls it promises to", "[runtime][unit]") {
  Seccomp s = DefaultSeccompProfile();
  std::vector<std::string> all;
  for (const SeccompRule& r : s.syscalls) all.insert(all.end(), r.names.begin(), r.names.end());
  for (const char* must : {"init_module", "finit_module", "delete_module", "reboot", "mount",
                           "umount2", "keyctl", "bpf", "ptrace", "kexec_load", "unshare",
                           "setns", "open_by_handle_at", "clone3"}) {
    INFO(must);
    CHECK(std::find(all.begin(), all.end(), must) != all.end());
  }
  CHECK(s.default_action == "SCMP_ACT_ALLOW");
}

TEST_CASE("Seccomp: compiled programs are cached by profile", "[runtime][unit]") {
  testutil::TempDir dir;
  Seccomp a = DefaultSeccompProfile();
  auto p1 = CachedSeccompBpf(a, dir.path() + "/cache");
  REQUIRE(p1.ok());
  struct stat st1 {};
  REQUIRE(::stat(p1->c_str(), &st1) == 0);
  auto p2 = CachedSeccompBpf(a, dir.path() + "/cache");
  REQUIRE(p2.ok());
  CHECK(*p1 == *p2);
  struct stat st2 {};
  REQUIRE(::stat(p2->c_str(), &st2) == 0);
  CHECK(st1.st_ino == st2.st_ino);  // not rewritten
  Seccomp b = a;
  b.syscalls.pop_back();
  auto p3 = CachedSeccompBpf(b, dir.path() + "/cache");
  REQUIRE(p3.ok());
  CHECK(*p3 != *p1);
}

TEST_CASE("Seccomp: a profile survives the JSON round trip", "[runtime][unit]") {
  Seccomp s = DefaultSeccompProfile();
  std::string spec = DefaultSpecJson({"/bin/true"}, true);
  auto parsed = ParseSpec(spec, "/b");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->seccomp.has_value());
  CHECK(SeccompToJson(*parsed->seccomp) == SeccompToJson(s));
}

TEST_CASE("Cgroup: cpu shares map onto cpu.weight's range", "[runtime][unit]") {
  CHECK(CpuSharesToWeight(2) == 1);
  CHECK(CpuSharesToWeight(262144) == 10000);
  CHECK(CpuSharesToWeight(1024) == 39);
  CHECK(CpuSharesToWeight(0) == 100);
}

TEST_CASE("Cgroup: mode detection rejects a directory that is not a cgroup mount",
          "[runtime][unit]") {
  testutil::TempDir dir;
  auto m = DetectCgroupMode(dir.path());
  // /tmp may itself be a tmpfs without hierarchies (legacy-looking) or a disk.
  if (m.ok()) {
    CHECK(*m == CgroupMode::kLegacy);
  } else {
    CHECK(m.error().code() == Code::kInvalid);
  }
  CHECK_FALSE(DetectCgroupMode(dir.path() + "/missing").ok());
  CHECK_FALSE(CgroupManager::V2(dir.path()).ok());
  CHECK_FALSE(CgroupManager::V1({}, "").ok());
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "<controller> <device> <mount point>" line of the hierarchy cache for `controller`.
std::string CacheLine(const std::string& cache, const std::string& controller) {
  size_t at = cache.find("\n" + controller + " ");
  if (at == std::string::npos) return "";
  return cache.substr(at + 1, cache.find('\n', at + 1) - at - 1);
}

TEST_CASE("Cgroup: the host's v1 hierarchy map is cached until the mounts change",
          "[runtime][unit]") {
  auto mode = HostCgroupMode();
  auto plain = CgroupManager::ForHost();
  if (!mode.ok() || *mode == CgroupMode::kUnified || !plain.ok()) {
    WARN("no cgroup v1 hierarchies on this host: nothing to cache");
    return;
  }
  auto dirs = [](CgroupManager& m) {
    auto cg = m.Open("/");
    REQUIRE(cg.ok());
    return (*cg)->HostDirs();
  };
  const std::map<std::string, std::string> want = dirs(**plain);
  testutil::TempDir dir;
  const std::string cache = dir.File("hierarchies");
  auto first = CgroupManager::ForHost(cache);
  REQUIRE(first.ok());
  CHECK(dirs(**first) == want);
  const std::string text = Slurp(cache);
  if (text.empty()) {
    WARN("not all of memory, cpu, cpuacct, pids and freezer are mounted: no cache is kept");
    return;
  }
  std::string memory = CacheLine(text, "memory"), pids = CacheLine(text, "pids");
  REQUIRE_FALSE(memory.empty());
  REQUIRE_FALSE(pids.empty());
  // Writes the stored cache with `from` replaced by `to` (and `from2` by `to2`).
  auto rewrite = [&](const std::string& from, const std::string& to, const std::string& from2 = "",
                     const std::string& to2 = "") {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    if (!from2.empty()) t.replace(t.find(from2), from2.size(), to2);
    std::ofstream(cache) << t;
  };

  // A consistent entry is believed: memory pointed at the pids hierarchy (same device) is used.
  rewrite(memory, "memory" + pids.substr(pids.find(' ')));
  auto cached = CgroupManager::ForHost(cache);
  REQUIRE(cached.ok());
  CHECK(dirs(**cached).at("memory") == want.at("pids"));

  // A mount point whose device is not the recorded one: parsed again and stored again.
  rewrite(memory, "memory" + pids.substr(pids.find(' '), pids.rfind(' ') - pids.find(' ')) + " " +
                      dir.path());
  auto moved = CgroupManager::ForHost(cache);
  REQUIRE(moved.ok());
  CHECK(dirs(**moved) == want);
  CHECK(Slurp(cache) == text);

  // Another mount namespace's map is not ours.
  rewrite(memory, "memory" + pids.substr(pids.find(' ')), text.substr(0, text.find('\n')),
          "mnt:[1]");
  auto other_ns = CgroupManager::ForHost(cache);
  REQUIRE(other_ns.ok());
  CHECK(dirs(**other_ns) == want);
  CHECK(Slurp(cache) == text);
}

}  // namespace
}  // namespace mini8s::runtime
