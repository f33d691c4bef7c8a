// Root tests for the native runtime: real namespaces, mounts and cgroups. Each test case runs in
// its own process (catch_discover_tests) and its own private mount namespace (SkipUnlessRoot),
// uses a fresh state root, bundle and cgroup parent, and removes all of them even on failure.
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "mini8s/runtime/cgroup.h"
#include "mini8s/runtime/runtime.h"
#include "mini8s/runtime/spec.h"
#include "root/runtime/root_helpers.h"
#include "testutil/temp_dir.h"

namespace mini8s::runtime {
namespace {

using testing::Bundle;
using testing::CgroupCleanup;
using testing::Mini8sRuntime;
namespace fs = std::filesystem;
namespace json = boost::json;

// The state root, the cgroup parent and a Runtime over them; deletes leftover containers first
// (so their processes die), then the cgroups, then the directory.
class Fixture {
 public:
  Fixture() : cgroups_(testing::TestCgroupParent()) {
    RuntimeOptions o;
    o.state_root = state_.path() + "/state";
    o.init_binary = testing::Mini8sBinary();
    o.cgroup_parent = cgroups_.parent();
    auto r = Runtime::Create(std::move(o));
    REQUIRE(r.ok());
    rt_ = std::move(*r);
  }
  ~Fixture() {
    auto list = rt_->List();
    if (list) {
      for (const ContainerState& c : *list) (void)rt_->Delete(c.id, true);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  Runtime& rt() { return *rt_; }
  const std::string& root() const { return rt_->options().state_root; }
  std::string CgroupPath(const std::string& id) const { return cgroups_.parent() + "/" + id; }
  // Points the bundle's config at this test's cgroup parent (for the command line).
  void UseCgroup(Bundle& b, const std::string& id) {
    b.config()["linux"].as_object()["cgroupsPath"] = CgroupPath(id);
  }

 private:
  testutil::TempDir state_;
  CgroupCleanup cgroups_;
  std::unique_ptr<Runtime> rt_;
};

json::object& ResourcesOf(Bundle& b) {
  json::object& linux_obj = b.config()["linux"].as_object();
  if (!linux_obj.contains("resources")) linux_obj["resources"] = json::object();
  return linux_obj["resources"].as_object();
}

TEST_CASE("Runtime: a container sees its own hostname, PID 1 and the standard mounts",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sh", "-c",
            "hostname; echo pid=$$; cat /proc/self/mountinfo; ls /dev; "
            "echo x > /sys/test 2>/dev/null || echo sys-ro; touch /rootfile || echo root-ro"});
  b.config()["hostname"] = "box-1";
  f.UseCgroup(b, "c1");
  b.Write();
  auto r = Mini8sRuntime(f.root(), {"run", "--bundle", b.dir(), "c1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("box-1\n"));
  CHECK_THAT(r.out, Catch::Contains("pid=1\n"));
  for (const char* m : {" /proc ", " /dev ", " /dev/pts ", " /dev/shm ", " /dev/mqueue ", " /sys ",
                        " /sys/fs/cgroup "}) {
    INFO(m);
    CHECK_THAT(r.out, Catch::Contains(m));
  }
  CHECK_THAT(r.out, Catch::Contains("sys-ro"));
  CHECK_THAT(r.out, Catch::Contains("root-ro"));
  // The host's mounts are not visible.
  CHECK_THAT(r.out, !Catch::Contains(" /work "));
  CHECK(f.rt().List()->empty());
}

TEST_CASE("Runtime: /dev holds only the standard devices, not the host's", "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/ls", "-1", "/dev"});
  f.UseCgroup(b, "c1");
  b.Write();
  auto r = Mini8sRuntime(f.root(), {"run", "--bundle", b.dir(), "c1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out ==
        "core\nfd\nfull\nmqueue\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\n"
        "urandom\nzero\n");
}

TEST_CASE("Runtime: masked paths are empty and read-only paths reject writes",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sh", "-c",
            "echo timer_list=$(cat /proc/timer_list | wc -c); echo keys=$(cat /proc/keys | wc -l); "
            "echo firmware=$(ls /sys/firmware | wc -l); "
            "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo "
            "sys-ro; echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo "
            "sysrq-ro"});
  f.UseCgroup(b, "c1");
  b.Write();
  auto r = Mini8sRuntime(f.root(), {"run", "--bundle", b.dir(), "c1"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // /proc/timer_list is not empty on the host (7 KiB here), masked it reads as /dev/null.
  REQUIRE(testing::ReadFileOrEmpty("/proc/timer_list").size() > 0);
  CHECK_THAT(r.out, Catch::Contains("timer_list=0\n"));
  CHECK_THAT(r.out, Catch::Contains("keys=0\n"));
  CHECK_THAT(r.out, Catch::Contains("firmware=0\n"));
  CHECK_THAT(r.out, Catch::Contains("sys-ro\n"));
  CHECK_THAT(r.out, Catch::Contains("sysrq-ro\n"));
}

TEST_CASE("Runtime: the process gets exactly the configured capabilities, user and groups",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  SECTION("root with containerd's default set") {
    Bundle b({"/bin/sh", "-c", "grep Cap /proc/self/status; id"});
    f.UseCgroup(b, "c1");
    b.Write();
    auto r = Mini8sRuntime(f.root(), {"run", "--bundle", b.dir(), "c1"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("CapBnd:\t00000000a80425fb"));
    CHECK_THAT(r.out, Catch::Contains("CapEff:\t00000000a80425fb"));
    CHECK_THAT(r.out, Catch::Contains("uid=0 gid=0"));
  }
  SECTION("a non-root user with an ambient capability, drop ALL + add NET_BIND_SERVICE") {
    auto caps = ApplyCapabilityChanges(DefaultCapabilities(), {"NET_BIND_SERVICE"}, {"ALL"});
    REQUIRE(caps.ok());
    Bundle b({"/bin/sh", "-c", "grep Cap /proc/self/status; id; echo nnp=$(grep NoNewPrivs "
                               "/proc/self/status | tr -d '\\t ')"});
    json::object& p = b.config()["process"].as_object();
    p["user"] = json::object{{"uid", 1000}, {"gid", 1000}, {"additionalGids", {5, 7}}};
    json::array names = {std::string(CapabilityName(10))};
    p["capabilities"] = json::object{{"bounding", names}, {"effective", names},
                                     {"permitted", names}, {"inheritable", names},
                                     {"ambient", names}};
    f.UseCgroup(b, "c2");
    b.Write();
    auto r = Mini8sRuntime(f.root(), {"run", "--bundle", b.dir(), "c2"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("CapBnd:\t0000000000000400"));
    CHECK_THAT(r.out, Catch::Contains("CapEff:\t0000000000000400"));
    CHECK_THAT(r.out, Catch::Contains("CapAmb:\t0000000000000400"));
    CHECK_THAT(r.out, Catch::Contains("uid=1000 gid=1000 groups=5,7"));
    CHECK_THAT(r.out, Catch::Contains("nnp=NoNewPrivs:1"));
  }
}

TEST_CASE("Runtime: the default seccomp profile blocks mount, keyctl and unshare",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sh", "-c",
            "mount -t tmpfs t /tmp 2>/dev/null && echo mount-ok || echo mount-denied; "
            "grep Seccomp: /proc/self/status | tr -d '\\t '; echo alive"},
           /*seccomp=*/true);
  // Keep CAP_SYS_ADMIN so that only seccomp stands between the process and mount(2).
  auto caps = ApplyCapabilityChanges(DefaultCapabilities(), {"SYS_ADMIN"}, {});
  json::array names;
  for (int c = 0; c <= kLastCap; ++c) {
    if (*caps & (1ull << c)) names.emplace_back(std::string(CapabilityName(c)));
  }
  b.config()["process"].as_object()["capabilities"] =
      json::object{{"bounding", names}, {"effective", names}, {"permitted", names}};
  f.UseCgroup(b, "c1");
  b.Write();
  auto r = Mini8sRuntime(f.root(), {"run", "--bundle", b.dir(), "c1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("mount-denied"));
  CHECK_THAT(r.out, Catch::Contains("Seccomp:2"));
  CHECK_THAT(r.out, Catch::Contains("alive"));
}

TEST_CASE("Runtime: rlimits, environment, working directory and oom_score_adj are applied",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sh", "-c",
            "echo nofile=$(ulimit -n) cwd=$(pwd) foo=$FOO oom=$(cat /proc/self/oom_score_adj)"});
  json::object& p = b.config()["process"].as_object();
  p["rlimits"] = json::array{json::object{{"type", "RLIMIT_NOFILE"}, {"soft", 77}, {"hard", 88}}};
  p["env"].as_array().emplace_back("FOO=bar baz");
  p["cwd"] = "/tmp";
  p["oomScoreAdj"] = 321;
  f.UseCgroup(b, "c1");
  b.Write();
  auto r = Mini8sRuntime(f.root(), {"run", "--bundle", b.dir(), "c1"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "nofile=77 cwd=/tmp foo=bar baz oom=321\n");
}

TEST_CASE("Runtime: create, start, state, kill and delete follow the OCI lifecycle",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sleep", "1000"});
  f.UseCgroup(b, "life");
  b.Write();
  std::string pid_file = b.dir() + "/pid";
  auto c = Mini8sRuntime(f.root(), {"create", "--bundle", b.dir(), "--pid-file", pid_file, "life"});
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  auto st = f.rt().State("life");
  REQUIRE(st.ok());
  CHECK(st->status == ContainerStatus::kCreated);
  CHECK(std::to_string(st->pid) == testing::ReadFileOrEmpty(pid_file));
  auto s = Mini8sRuntime(f.root(), {"state", "life"});
  CHECK_THAT(s.out, Catch::Contains("\"status\":\"created\""));
  REQUIRE(Mini8sRuntime(f.root(), {"start", "life"}).exit_code == 0);
  CHECK(f.rt().State("life")->status == ContainerStatus::kRunning);
  CHECK(Mini8sRuntime(f.root(), {"start", "life"}).exit_code == 1);  // not created any more
  auto del = Mini8sRuntime(f.root(), {"delete", "life"});
  CHECK(del.exit_code == 1);
  CHECK_THAT(del.err, Catch::Contains("running"));
  auto ps = f.rt().Ps("life");
  REQUIRE(ps.ok());
  REQUIRE(ps->size() == 1);
  CHECK((*ps)[0] == st->pid);
  auto ps_cli = Mini8sRuntime(f.root(), {"ps", "--format", "json", "life"});
  CHECK(ps_cli.out == "[" + std::to_string(st->pid) + "]\n");
  auto list = Mini8sRuntime(f.root(), {"list"});
  CHECK_THAT(list.out, Catch::Contains("life"));
  CHECK_THAT(list.out, Catch::Contains("running"));
  CHECK(Mini8sRuntime(f.root(), {"list", "-q"}).out == "life\n");
  REQUIRE(Mini8sRuntime(f.root(), {"kill", "life", "KILL"}).exit_code == 0);
  for (int i = 0; i < 2000 && f.rt().State("life")->status != ContainerStatus::kStopped; ++i) {
    ::waitpid(-1, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(f.rt().State("life")->status == ContainerStatus::kStopped);
  REQUIRE(Mini8sRuntime(f.root(), {"delete", "life"}).exit_code == 0);
  CHECK_FALSE(f.rt().State("life").ok());
}

TEST_CASE("Runtime: exec runs a process in the container's namespaces", "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sleep", "1000"});
  b.config()["hostname"] = "execbox";
  b.AddOutMount();
  f.UseCgroup(b, "ex");
  b.Write();
  REQUIRE(Mini8sRuntime(f.root(), {"run", "--detach", "--bundle", b.dir(), "ex"}).exit_code == 0);
  auto r = Mini8sRuntime(f.root(), {"exec", "--env", "X=1", "ex", "/bin/sh", "-c",
                                    "echo $(hostname) x=$X pid1=$(cat /proc/1/cmdline | tr '\\0' ' ')"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "execbox x=1 pid1=/bin/sleep 1000\n");
  // Through the library (the re-exec'd init path), with an exit code.
  ExecOptions eo;
  eo.args = {"/bin/sh", "-c", "exit 3"};
  auto e = f.rt().Exec("ex", eo);
  REQUIRE(e.ok());
  CHECK(e->exit_code == 3);
  REQUIRE(f.rt().Delete("ex", true).ok());
}

TEST_CASE("Runtime: a container joins another's namespaces by path, as pod members do",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  // The "sandbox": owns the network, IPC and UTS namespaces.
  Bundle sandbox({"/bin/sleep", "1000"});
  sandbox.config()["hostname"] = "pod-a";
  sandbox.Write();
  REQUIRE(f.rt().CreateContainer("sandbox", sandbox.dir()).ok());
  REQUIRE(f.rt().Start("sandbox").ok());
  pid_t spid = f.rt().State("sandbox")->pid;
  std::string ns = "/proc/" + std::to_string(spid) + "/ns/";
  // The member joins them (and the sandbox's pid namespace) and keeps its own mount namespace.
  Bundle member({"/bin/sh", "-c",
                 "hostname > /out/hostname; readlink /proc/self/ns/net > /out/net; "
                 "echo $$ > /out/pid"});
  member.AddOutMount();
  json::array nss = {json::object{{"type", "mount"}},
                     json::object{{"type", "network"}, {"path", ns + "net"}},
                     json::object{{"type", "ipc"}, {"path", ns + "ipc"}},
                     json::object{{"type", "uts"}, {"path", ns + "uts"}},
                     json::object{{"type", "pid"}, {"path", ns + "pid"}}};
  member.config()["linux"].as_object()["namespaces"] = nss;
  member.Write();
  auto e = f.rt().Run("member", member.dir());
  REQUIRE(e.ok());
  CHECK(e->exit_code == 0);
  char link[64] = {};
  REQUIRE(::readlink((ns + "net").c_str(), link, sizeof link - 1) > 0);
  CHECK(member.ReadOut("hostname") == "pod-a\n");
  CHECK(member.ReadOut("net") == std::string(link) + "\n");
  CHECK(member.ReadOut("pid") != "1\n");  // pid 1 is the sandbox's process
  REQUIRE(f.rt().Delete("sandbox", true).ok());
}

TEST_CASE("Runtime: a failure before the init runs is reported with its errno and step",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  testutil::TempDir state;
  CgroupCleanup cgroups(testing::TestCgroupParent());
  RuntimeOptions o;
  o.state_root = state.path();
  o.init_binary = "/nonexistent/mini8s";
  o.cgroup_parent = cgroups.parent();
  auto rt = Runtime::Create(std::move(o));
  REQUIRE(rt.ok());
  Bundle b({"/bin/true"});
  b.Write();
  Status s = (*rt)->CreateContainer("noinit", b.dir());
  REQUIRE_FALSE(s.ok());
  CHECK(s.sys_errno() == ENOENT);
  CHECK_THAT(s.message(),
             Catch::Contains("exec runtime init \"/nonexistent/mini8s\": No such file"));
  CHECK_FALSE(fs::exists(state.path() + "/noinit"));
  for (const std::string& mp : testing::CgroupMounts()) {
    CHECK_FALSE(fs::exists(mp + cgroups.parent() + "/noinit"));
  }
}

TEST_CASE("Runtime: a memory limit kills a memory hog and the exit is reported as OOMKilled",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  // dd with a 256 MiB block size touches a 256 MiB buffer; the limit is 32 MiB.
  Bundle b({"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"});
  ResourcesOf(b)["memory"] = json::object{{"limit", 32 << 20}, {"swap", 32 << 20}};
  b.Write();
  auto e = f.rt().Run("hog", b.dir());
  REQUIRE(e.ok());
  CHECK(e->signal == SIGKILL);
  CHECK(e->exit_code == 137);
  CHECK(e->oom_killed);
  CHECK_FALSE(f.rt().State("hog").ok());  // run deletes
}

TEST_CASE("Runtime: a process that stays under its memory limit is not reported OOMKilled",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=1"});
  ResourcesOf(b)["memory"] = json::object{{"limit", 64 << 20}};
  b.Write();
  auto e = f.rt().Run("fine", b.dir());
  REQUIRE(e.ok());
  CHECK(e->exit_code == 0);
  CHECK_FALSE(e->oom_killed);
}

TEST_CASE("Runtime: a pids limit stops a fork bomb", "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sh", "-c",
            // The container's pids files: v1 layout (a directory per controller) or v2.
            "d=/sys/fs/cgroup/pids; [ -e $d/pids.max ] || d=/sys/fs/cgroup; "
            // ash exits when fork fails, so the bomb runs in a subshell.
            "(for i in $(seq 64); do sleep 100 & done) 2>/out/forks; "
            // Builtins only from here: no fork is left to spend.
            "read c < $d/pids.current; echo $c > /out/current; "
            "read m < $d/pids.max; echo $m > /out/max"});
  b.AddOutMount();
  ResourcesOf(b)["pids"] = json::object{{"limit", 16}};
  b.Write();
  auto e = f.rt().Run("bomb", b.dir());
  REQUIRE(e.ok());
  CHECK(b.ReadOut("max") == "16\n");
  int current = std::atoi(b.ReadOut("current").c_str());
  CHECK(current > 1);
  CHECK(current <= 16);
  CHECK_THAT(b.ReadOut("forks"), Catch::Contains("fork"));
}

TEST_CASE("Runtime: a CPU quota caps a busy loop, measured from cgroup stats",
          "[runtime][root][slow]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/sh", "-c", "while :; do :; done"});
  ResourcesOf(b)["cpu"] = json::object{{"quota", 20000}, {"period", 100000}};
  b.Write();
  REQUIRE(f.rt().CreateContainer("busy", b.dir()).ok());
  REQUIRE(f.rt().Start("busy").ok());
  auto before = f.rt().Stats("busy");
  REQUIRE(before.ok());
  // A real measurement: CPU time consumed over one second of wall time.
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto after = f.rt().Stats("busy");
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(after.ok());
  double used = static_cast<double>(after->cpu_usage_ns - before->cpu_usage_ns) / 1e9;
  INFO("cpu " << used << " s over " << wall << " s");
  CHECK(used > 0.05);           // it ran
  CHECK(used < 0.35 * wall);    // but not more than the 20% quota allows (with slack)
  REQUIRE(f.rt().Delete("busy", true).ok());
}

TEST_CASE("Runtime: delete --force cleans every mount, cgroup and process", "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  testutil::TempDir layers;
  // An overlay rootfs (lower: the bundle's rootfs) plus a bind mount, to have mounts to leak.
  Bundle b({"/bin/sh", "-c", "sleep 1000 & sleep 1000 & echo hi > /written; wait"});
  fs::create_directories(layers.File("upper"));
  fs::create_directories(layers.File("work"));
  fs::create_directories(layers.File("merged"));
  b.config()["root"].as_object()["path"] = layers.File("merged");
  b.config()["root"].as_object()["readonly"] = false;
  b.config()["annotations"] = json::object{
      {"org.mini8s.rootfs.overlay.lower", b.dir() + "/rootfs"},
      {"org.mini8s.rootfs.overlay.upper", layers.File("upper")},
      {"org.mini8s.rootfs.overlay.work", layers.File("work")}};
  b.AddOutMount();
  f.UseCgroup(b, "doomed");
  b.Write();
  auto mounts_before = testing::MountsMentioning(layers.path());
  REQUIRE(Mini8sRuntime(f.root(), {"run", "-d", "--bundle", b.dir(), "doomed"}).exit_code == 0);
  auto cg = (*f.rt().Cgroups())->Open(f.CgroupPath("doomed"));
  REQUIRE(cg.ok());
  auto dirs = (*cg)->HostDirs();
  std::vector<pid_t> pids;
  for (int i = 0; i < 2000 && pids.size() < 3; ++i) {
    pids = *f.rt().Ps("doomed");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(pids.size() == 3);
  for (int i = 0; i < 2000 && !fs::exists(layers.File("upper/written")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(fs::exists(layers.File("upper/written")));       // writes land in the upper layer
  CHECK_FALSE(fs::exists(b.dir() + "/rootfs/written"));  // not in the lower one
  auto d = Mini8sRuntime(f.root(), {"delete", "--force", "doomed"});
  INFO(d.err);
  REQUIRE(d.exit_code == 0);
  ::waitpid(-1, nullptr, WNOHANG);
  for (pid_t p : pids) {
    INFO("pid " << p);
    std::string stat = testing::ReadFileOrEmpty("/proc/" + std::to_string(p) + "/stat");
    CHECK((stat.empty() || stat.find(") Z ") != std::string::npos));
  }
  for (const auto& [name, dir] : dirs) {
    INFO(dir);
    CHECK_FALSE(fs::exists(dir));
  }
  CHECK_FALSE(fs::exists(f.root() + "/doomed"));
  CHECK(testing::MountsMentioning(layers.path()) == mounts_before);
  CHECK(testing::MountsMentioning(b.dir()).empty());
}

TEST_CASE("Runtime: bad bundles fail with clear errors and leave nothing behind",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Fixture f;
  Bundle b({"/bin/true"});
  f.UseCgroup(b, "bad");
  struct Case {
    const char* name;
    std::function<void(Bundle&)> edit;
    const char* expect;
  };
  const Case cases[] = {
      {"missing rootfs",
       [](Bundle& x) { x.config()["root"].as_object()["path"] = "no-such-rootfs"; },
       "rootfs \""},
      {"unknown capability",
       [](Bundle& x) {
         x.config()["process"].as_object()["capabilities"].as_object()["bounding"] =
             json::array{"CAP_WARP_DRIVE"};
       },
       "unknown capability \"CAP_WARP_DRIVE\""},
      {"missing executable",
       [](Bundle& x) { x.config()["process"].as_object()["args"] = json::array{"/bin/nope"}; },
       "find executable \"/bin/nope\": No such file or directory"},
      {"missing cwd",
       [](Bundle& x) { x.config()["process"].as_object()["cwd"] = "/no/such/dir"; },
       "chdir to cwd \"/no/such/dir\": No such file or directory"},
      {"bad mount", [](Bundle& x) {
         x.config()["mounts"].as_array().emplace_back(json::object{
             {"destination", "/mnt"}, {"type", "nosuchfs"}, {"source", "none"}});
       },
       "mount \"/mnt\""},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Bundle x({"/bin/true"});
    f.UseCgroup(x, "bad");
    c.edit(x);
    x.Write();
    auto r = Mini8sRuntime(f.root(), {"create", "--bundle", x.dir(), "bad"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(c.expect));
    CHECK_FALSE(fs::exists(f.root() + "/bad"));
    for (const std::string& mp : testing::CgroupMounts()) {
      INFO(mp);
      CHECK_FALSE(fs::exists(mp + f.CgroupPath("bad")));
    }
  }
  // Not JSON at all.
  std::ofstream(b.dir() + "/config.json") << "{\"ociVersion\": ";
  auto r = Mini8sRuntime(f.root(), {"create", "--bundle", b.dir(), "bad"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("config.json: not valid JSON"));
  CHECK_FALSE(fs::exists(f.root() + "/bad"));
  CHECK(f.rt().List()->empty());
}

// Skips a v2 test (exit 77) after removing its mount point, which _Exit would leave behind.
[[noreturn]] void SkipV2(const testutil::TempDir& mnt, const std::string& why) {
  ::rmdir(mnt.path().c_str());
  std::fprintf(stderr, "skipped: %s\n", why.c_str());
  std::_Exit(77);
}

TEST_CASE("Runtime: the v2 backend creates, fills, kills and removes a cgroup",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  // A cgroup2 mount of our own, private to this test's mount namespace.
  testutil::TempDir mnt;
  if (::mount("cgroup2", mnt.path().c_str(), "cgroup2", 0, nullptr) != 0) {
    SkipV2(mnt, std::string("cannot mount cgroup2 here: ") + std::strerror(errno));
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt.path()};
  auto mgr = CgroupManager::V2(mnt.path());
  REQUIRE(mgr.ok());
  CHECK((*mgr)->mode() == CgroupMode::kUnified);
  std::string parent = testing::TestCgroupParent();
  auto cg = (*mgr)->Create(parent + "/pod/ctr");
  REQUIRE(cg.ok());
  CHECK((*cg)->CloneIntoFd() >= 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  REQUIRE((*cg)->AddProcess(child).ok());
  CHECK(*(*cg)->Pids() == std::vector<pid_t>{child});
  auto pod = (*mgr)->Open(parent + "/pod");
  REQUIRE(pod.ok());
  CHECK((*pod)->Pids()->empty());  // processes live in leaves; the pod is their parent
  auto stats = (*cg)->Stats();
  REQUIRE(stats.ok());
  REQUIRE((*cg)->Kill().ok());
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  REQUIRE((*cg)->Destroy().ok());
  REQUIRE((*pod)->Destroy().ok());
  CHECK(::rmdir((mnt.path() + parent).c_str()) == 0);
}

TEST_CASE("Runtime: containers run on the v2 backend, born in their cgroup", "[runtime][root]") {
  testing::SkipUnlessRoot();
  testutil::TempDir mnt;
  if (::mount("cgroup2", mnt.path().c_str(), "cgroup2", 0, nullptr) != 0) {
    SkipV2(mnt, std::string("cannot mount cgroup2 here: ") + std::strerror(errno));
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt.path()};
  std::string parent = testing::TestCgroupParent();
  struct RemoveParent {
    std::string p;
    ~RemoveParent() { ::rmdir(p.c_str()); }
  } remove_parent{mnt.path() + parent};
  testutil::TempDir state;
  RuntimeOptions o;
  o.state_root = state.path();
  o.init_binary = testing::Mini8sBinary();
  o.cgroup_parent = parent;
  o.cgroups = std::move(*CgroupManager::V2(mnt.path()));
  auto rt = Runtime::Create(std::move(o));
  REQUIRE(rt.ok());
  Bundle b({"/bin/sh", "-c", "cat /proc/self/cgroup > /out/cgroup; ls /sys/fs/cgroup > /out/ls"});
  b.AddOutMount();
  b.Write();
  auto e = (*rt)->Run("v2", b.dir());
  REQUIRE(e.ok());
  CHECK(e->exit_code == 0);
  // With a cgroup namespace, the container sees its own cgroup as the root of the v2 tree.
  CHECK_THAT(b.ReadOut("cgroup"), Catch::Contains("0::/\n"));
  CHECK_THAT(b.ReadOut("ls"), Catch::Contains("cgroup.procs"));
  CHECK_FALSE(fs::exists(mnt.path() + parent + "/v2"));
}

TEST_CASE("Runtime: v2 memory and pids limits are written where the controllers are available",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  testutil::TempDir mnt;
  if (::mount("cgroup2", mnt.path().c_str(), "cgroup2", 0, nullptr) != 0) {
    SkipV2(mnt, std::string("cannot mount cgroup2 here: ") + std::strerror(errno));
  }
  std::string controllers = testing::ReadFileOrEmpty(mnt.path() + "/cgroup.controllers");
  if (controllers.find("memory") == std::string::npos ||
      controllers.find("pids") == std::string::npos) {
    ::umount2(mnt.path().c_str(), MNT_DETACH);
    SkipV2(mnt, "the memory and pids controllers are bound to cgroup v1 on this host (cgroup2 "
                "offers only \"" + controllers.substr(0, controllers.find('\n')) + "\")");
  }
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt.path()};
  auto mgr = CgroupManager::V2(mnt.path());
  REQUIRE(mgr.ok());
  std::string parent = testing::TestCgroupParent();
  auto cg = (*mgr)->Create(parent + "/c");
  REQUIRE(cg.ok());
  Resources r;
  r.memory_limit = 64 << 20;
  r.memory_swap = 64 << 20;
  r.pids_limit = 10;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  Status s = (*cg)->Apply(r);
  CHECK(s.ok());
  std::string dir = mnt.path() + parent + "/c";
  CHECK(testing::ReadFileOrEmpty(dir + "/memory.max") == std::to_string(64 << 20) + "\n");
  CHECK(testing::ReadFileOrEmpty(dir + "/memory.swap.max") == "0\n");
  CHECK(testing::ReadFileOrEmpty(dir + "/pids.max") == "10\n");
  CHECK((*cg)->Destroy().ok());
  ::rmdir((mnt.path() + parent).c_str());
}

}  // namespace
}  // namespace mini8s::runtime

namespace mini8s::runtime {
namespace {

TEST_CASE("Runtime: the v1 backend can also track and kill through a hybrid host's cgroup2",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  std::map<std::string, std::string> hierarchies;
  std::string unified;
  for (const std::string& mp : testing::CgroupMounts()) {
    std::string name = mp.substr(mp.find_last_of('/') + 1);
    if (name == "unified") unified = mp;
    for (const char* c : {"memory", "cpu", "cpuacct", "pids", "freezer"}) {
      if (name == c) hierarchies[c] = mp;
    }
  }
  if (unified.empty() || hierarchies.empty()) {
    std::fprintf(stderr, "skipped: this host is not hybrid (v1 controllers + cgroup2)\n");
    std::_Exit(77);
  }
  CgroupCleanup cleanup(testing::TestCgroupParent());
  auto mgr = CgroupManager::V1(hierarchies, unified);
  REQUIRE(mgr.ok());
  CHECK((*mgr)->mode() == CgroupMode::kHybrid);
  auto cg = (*mgr)->Create(cleanup.parent() + "/h");
  REQUIRE(cg.ok());
  CHECK((*cg)->CloneIntoFd() >= 0);
  auto files = (*cg)->SelfJoinFiles(true);
  CHECK(files.size() == hierarchies.size());
  for (const std::string& f : files) CHECK_THAT(f, Catch::EndsWith("/tasks"));
  CHECK((*cg)->SelfJoinFiles(false).size() == hierarchies.size() + 1);
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  REQUIRE((*cg)->AddProcess(child).ok());
  CHECK(*(*cg)->Pids() == std::vector<pid_t>{child});
  auto dirs = (*cg)->HostDirs();
  CHECK(dirs.count("unified") == 1);
  REQUIRE((*cg)->Kill().ok());  // through unified cgroup.kill
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WTERMSIG(status) == SIGKILL);
  REQUIRE((*cg)->Destroy().ok());
  for (const auto& [name, dir] : dirs) CHECK_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace mini8s::runtime
