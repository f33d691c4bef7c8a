#include "mini8s/runtime/spec.h"

#include <sys/mount.h>
#include <sys/resource.h>

#include <string>

#include <catch2/catch.hpp>

namespace mini8s::runtime {
namespace {

std::string Minimal(const std::string& process_extra = "", const std::string& top_extra = "") {
  return R"({"ociVersion":"1.0.2","process":{"args":["/bin/true"],"cwd":"/")" + process_extra +
         R"(},"root":{"path":"rootfs"})" + top_extra + "}";
}

TEST_CASE("Spec: a minimal config parses and resolves the rootfs against the bundle",
          "[runtime][unit]") {
  auto s = ParseSpec(Minimal(), "/b");
  REQUIRE(s.ok());
  CHECK(s->root_path == "/b/rootfs");
  CHECK(s->process.args == std::vector<std::string>{"/bin/true"});
  CHECK_FALSE(s->process.capabilities.has_value());
  CHECK(s->namespaces.empty());
}

TEST_CASE("Spec: the default spec round-trips through the parser", "[runtime][unit]") {
  auto s = ParseSpec(DefaultSpecJson({"/bin/sh", "-c", "true"}, true), "/bundle");
  REQUIRE(s.ok());
  CHECK(s->process.args.size() == 3);
  CHECK(s->process.no_new_privileges);
  REQUIRE(s->process.capabilities.has_value());
  CHECK(s->process.capabilities->bounding == DefaultCapabilities());
  CHECK(s->HasNamespace(NamespaceType::kPid));
  CHECK(s->HasNamespace(NamespaceType::kNetwork));
  CHECK(s->HasNamespace(NamespaceType::kCgroup));
  CHECK(s->masked_paths == DefaultMaskedPaths());
  CHECK(s->readonly_paths == DefaultReadonlyPaths());
  REQUIRE(s->seccomp.has_value());
  CHECK_FALSE(s->seccomp->syscalls.empty());
  REQUIRE(s->process.rlimits.size() == 1);
  CHECK(s->process.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(s->mounts.size() == 7);
}

TEST_CASE("Spec: bad input gives clear errors", "[runtime][unit]") {
  struct Case {
    std::string json;
    std::string expect;
  };
  const Case cases[] = {
      {"{not json", "not valid JSON"},
      {"[]", "top level must be an object"},
      {R"({"root":{"path":"r"}})", "process: is required"},
      {R"({"process":{"args":["/x"],"cwd":"/"}})", "root: is required"},
      {Minimal(R"(,"capabilities":{"bounding":["CAP_NOPE"]})"), "unknown capability \"CAP_NOPE\""},
      {R"({"process":{"args":[],"cwd":"/"},"root":{"path":"r"}})", "must name a program"},
      {R"({"process":{"args":["/x"],"cwd":"rel"},"root":{"path":"r"}})", "cwd: must be an absolute"},
      {Minimal(R"(,"rlimits":[{"type":"RLIMIT_BOGUS","soft":1,"hard":1}])"), "unknown rlimit"},
      {Minimal(R"(,"rlimits":[{"type":"RLIMIT_NOFILE","soft":2,"hard":1}])"), "must not exceed"},
      {Minimal("", R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]})"), "duplicate"},
      {Minimal("", R"(,"linux":{"namespaces":[{"type":"bogus"}]})"), "unknown namespace"},
      {Minimal("", R"(,"mounts":[{"destination":"relative","type":"tmpfs"}])"), "absolute path"},
      {Minimal("", R"(,"mounts":[{"destination":"/a/../b","type":"tmpfs"}])"), "\"..\""},
      {Minimal("", R"(,"linux":{"seccomp":{"defaultAction":"SCMP_ACT_NOPE"}})"), "unknown action"},
      {Minimal(R"(,"user":{"uid":-1})"), "must not be negative"},
      {Minimal(R"(,"terminal":true)"), "terminals are not supported"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    auto s = ParseSpec(c.json, "/b");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == Code::kInvalid);
    CHECK_THAT(s.error().message(), Catch::Contains(c.expect));
  }
}

TEST_CASE("Spec: mount options split into flags, propagation and data", "[runtime][unit]") {
  Mount m;
  m.destination = "/x";
  m.options = {"nosuid", "noexec", "ro", "rw", "mode=755", "size=64k", "rslave", "rbind"};
  REQUIRE(ParseMountOptions(m).ok());
  CHECK(m.flags == (MS_NOSUID | MS_NOEXEC));
  CHECK(m.propagation == (MS_SLAVE | MS_REC));
  CHECK(m.bind);
  CHECK(m.recursive_bind);
  CHECK(m.data == "mode=755,size=64k");
}

TEST_CASE("Spec: capability names map to numbers and back", "[runtime][unit]") {
  CHECK(*CapabilityFromName("CAP_CHOWN") == 0);
  CHECK(*CapabilityFromName("net_admin") == 12);
  CHECK(*CapabilityFromName("CAP_CHECKPOINT_RESTORE") == 40);
  CHECK(CapabilityName(21) == "CAP_SYS_ADMIN");
  CHECK_FALSE(CapabilityFromName("CAP_FLY").ok());
}

TEST_CASE("Spec: the default capability set is containerd's and add/drop apply to it",
          "[runtime][unit]") {
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
  // SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
  CHECK(DefaultCapabilities() == 0xa80425fbull);
  auto r = ApplyCapabilityChanges(DefaultCapabilities(), {"NET_ADMIN"}, {"CAP_KILL", "MKNOD"});
  REQUIRE(r.ok());
  CHECK((*r & (1ull << 12)) != 0);
  CHECK((*r & (1ull << 5)) == 0);
  CHECK((*r & (1ull << 27)) == 0);
  auto only = ApplyCapabilityChanges(DefaultCapabilities(), {"CAP_KILL"}, {"ALL"});
  REQUIRE(only.ok());
  CHECK(*only == (1ull << 5));
  CHECK_FALSE(ApplyCapabilityChanges(0, {"CAP_BOGUS"}, {}).ok());
}

TEST_CASE("Spec: resources, sysctls and the overlay rootfs annotation parse", "[runtime][unit]") {
  auto s = ParseSpec(
      Minimal("", R"(,"linux":{"cgroupsPath":"/pod/c","sysctl":{"net.ipv4.ip_forward":"1"},
        "resources":{"memory":{"limit":1048576,"swap":2097152},"cpu":{"quota":20000,
        "period":100000,"shares":512},"pids":{"limit":16}}},
        "annotations":{"org.mini8s.rootfs.overlay.lower":"/l1:/l2",
                       "org.mini8s.rootfs.overlay.upper":"/u",
                       "org.mini8s.rootfs.overlay.work":"/w"})"),
      "/b");
  REQUIRE(s.ok());
  CHECK(s->cgroups_path == "/pod/c");
  CHECK(s->sysctl.at("net.ipv4.ip_forward") == "1");
  CHECK(*s->resources.memory_limit == 1048576);
  CHECK(*s->resources.memory_swap == 2097152);
  CHECK(*s->resources.cpu_quota == 20000);
  CHECK(*s->resources.cpu_period == 100000);
  CHECK(*s->resources.cpu_shares == 512);
  CHECK(*s->resources.pids_limit == 16);
  CHECK(s->overlay_lower == std::vector<std::string>{"/l1", "/l2"});
  CHECK(s->overlay_upper == "/u");
  CHECK(s->overlay_work == "/w");
}

}  // namespace
}  // namespace mini8s::runtime
