// Root tests for the pod supervisor: a real supervisor process (the mini8s binary re-executed)
// holding a pod's namespaces and cgroup, driven through PodSupervisorClient. Each test case
// launches its own pod under a temporary root and a per-process cgroup parent and removes both,
// even on failure (ForceCleanup, then CgroupCleanup).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "mini8s/runtime/cgroup.h"
#include "mini8s/runtime/supervisor.h"
#include "root/runtime/root_helpers.h"
#include "testutil/temp_dir.h"

namespace mini8s::runtime {
namespace {

using testing::Bundle;
namespace fs = std::filesystem;
namespace json = boost::json;

// Real processes are involved: poll for the condition with a bound instead of sleeping blindly.
bool WaitFor(const std::function<bool()>& cond, int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

bool Alive(pid_t pid) {
  // The test process is a subreaper (SkipUnlessRoot): an exited supervisor may be our zombie.
  ::waitpid(pid, nullptr, WNOHANG);
  std::string stat = testing::ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  return !stat.empty() && stat.find(") Z ") == std::string::npos;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, or EIO once a pty's slave side is closed
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// A launched pod with a connected client; the destructor removes whatever is left.
class Pod {
 public:
  explicit Pod(const std::string& hostname = "pod-a")
      : cgroups_(testing::TestCgroupParent()), uid_("uid-" + std::to_string(::getpid())) {
    opts_.pod_uid = uid_;
    opts_.root = root_.path();
    opts_.cgroup_parent = cgroups_.parent();
    opts_.hostname = hostname;
    opts_.binary = testing::Mini8sBinary();
    auto pid = PodSupervisorClient::Launch(opts_);
    INFO((pid ? "" : pid.error().ToString()));
    REQUIRE(pid.ok());
    pid_ = *pid;
    Reconnect();
  }
  ~Pod() {
    (void)PodSupervisorClient::ForceCleanup(opts_.root, uid_, opts_.cgroup_parent);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  void Reconnect() {
    auto c = PodSupervisorClient::Connect(PodSocketPath(opts_.root, uid_));
    REQUIRE(c.ok());
    client_ = std::move(*c);
  }
  PodSupervisorClient& client() { return *client_; }
  pid_t pid() const { return pid_; }
  const SupervisorOptions& opts() const { return opts_; }
  std::string dir() const { return PodDir(opts_.root, uid_); }
  std::string cgroup() const { return PodCgroupPath(opts_.cgroup_parent, uid_); }

  void Run(const std::string& name, Bundle& b, int attempt = 0) {
    b.Write();
    ContainerRequest req;
    req.name = name;
    req.bundle = b.dir();
    req.attempt = attempt;
    Status s = client_->CreateContainer(req);
    INFO(s.ToString());
    REQUIRE(s.ok());
    REQUIRE(client_->Start(name).ok());
  }
  std::optional<SupervisedContainer> Get(const std::string& name) {
    auto st = client_->GetStatus();
    if (!st) return std::nullopt;
    for (const SupervisedContainer& c : st->containers) {
      if (c.name == name) return c;
    }
    return std::nullopt;
  }
  bool WaitExited(const std::string& name) {
    return WaitFor([&] {
      auto c = Get(name);
      return c && c->status == "exited";
    });
  }
  json::object StateFile(const std::string& name) {
    return json::parse(testing::ReadFileOrEmpty(dir() + "/" + name + "/state.json")).as_object();
  }

 private:
  testutil::TempDir root_;
  testing::CgroupCleanup cgroups_;
  std::string uid_;
  SupervisorOptions opts_;
  pid_t pid_ = 0;
  std::unique_ptr<PodSupervisorClient> client_;
};

struct LogRecord {
  std::string stream;
  char tag;
  std::string text;
};

// Parses a CRI log file, failing the test on any malformed line.
std::vector<LogRecord> ReadCriLog(const std::string& path) {
  static const std::regex kLine(
      R"(^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([PF]) (.*)$)");
  std::vector<LogRecord> out;
  std::istringstream in(testing::ReadFileOrEmpty(path));
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    INFO(line.substr(0, 120));
    REQUIRE(std::regex_match(line, m, kLine));
    out.push_back({m[2], m[3].str()[0], m[4]});
  }
  return out;
}

// Every hierarchy's directory of a cgroup, as the host backend sees it.
std::map<std::string, std::string> HostDirs(const std::string& path) {
  auto mgr = CgroupManager::ForHost();
  REQUIRE(mgr.ok());
  auto cg = (*mgr)->Open(path);
  if (!cg) return {};
  return (*cg)->HostDirs();
}

TEST_CASE("Supervisor: pod containers share the network namespace and log in CRI format",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Pod pod("pod-a");
  // The server keeps serving (a connection can be lost to a race in busybox nc under load) until
  // the test kills it; the client retries until it has the greeting.
  Bundle server({"/bin/sh", "-c",
                 "hostname; readlink /proc/self/ns/net; "
                 "while true; do echo hello-from-server | nc -l -p 8080; done"});
  fs::create_symlink("busybox", server.dir() + "/rootfs/bin/nc");
  fs::create_symlink("busybox", server.dir() + "/rootfs/bin/readlink");
  Bundle client({"/bin/sh", "-c",
                 "for i in $(seq 1 400); do got=$(nc 127.0.0.1 8080 2>/dev/null); "
                 "[ -n \"$got\" ] && break; sleep 0.05; done; echo \"$got\"; hostname; readlink "
                 "/proc/self/ns/net; echo oops >&2; "
                 "head -c 40000 /dev/zero | tr '\\0' x; echo; printf tail; exit 3"});
  fs::create_symlink("busybox", client.dir() + "/rootfs/bin/nc");
  fs::create_symlink("busybox", client.dir() + "/rootfs/bin/readlink");
  fs::create_symlink("busybox", client.dir() + "/rootfs/bin/printf");
  pod.Run("server", server);
  pod.Run("client", client, 2);

  // Both containers' cgroups live under the pod's, in every hierarchy.
  auto pod_dirs = HostDirs(pod.cgroup());
  REQUIRE_FALSE(pod_dirs.empty());
  for (const auto& [key, dir] : pod_dirs) {
    INFO(dir);
    CHECK(fs::is_directory(dir + "/server"));
    CHECK(fs::is_directory(dir + "/client"));
  }
  // The container first: CPU time only grows, so the pod's read later must be at least it.
  auto one = pod.client().Stats("server");
  REQUIRE(one.ok());
  auto stats = pod.client().Stats();
  REQUIRE(stats.ok());
  CHECK(stats->cpu_usage_ns > 0);
  CHECK(one->cpu_usage_ns <= stats->cpu_usage_ns);  // the pod accounts for its containers
  CHECK(pod.client().Stats("nope").error().code() == Code::kNotFound);

  REQUIRE(pod.WaitExited("client"));
  REQUIRE(pod.client().Kill("server", SIGKILL).ok());
  REQUIRE(pod.WaitExited("server"));
  CHECK(pod.Get("server")->signal == SIGKILL);
  auto status = pod.client().GetStatus();
  REQUIRE(status.ok());
  char link[64] = {};
  REQUIRE(::readlink(status->net_ns.c_str(), link, sizeof link - 1) > 0);

  auto c = *pod.Get("client");
  CHECK(c.exit_code == 3);
  CHECK(c.signal == 0);
  CHECK_FALSE(c.oom_killed);
  CHECK(c.attempt == 2);
  CHECK(c.log_path == pod.dir() + "/client/2.log");
  CHECK_FALSE(c.started_at.empty());
  CHECK(c.finished_at >= c.started_at);

  auto srv = ReadCriLog(pod.dir() + "/server/0.log");
  REQUIRE(srv.size() >= 2);
  CHECK(srv[0].text == "pod-a");
  CHECK(srv[1].text == link);

  auto log = ReadCriLog(c.log_path);
  std::vector<std::string> stdout_full;
  std::vector<LogRecord> xs;
  for (const LogRecord& r : log) {
    if (r.stream == "stdout" && !r.text.empty() && r.text[0] == 'x') {
      xs.push_back(r);
    } else if (r.stream == "stdout") {
      CHECK(r.tag == 'F');
      stdout_full.push_back(r.text);
    } else {
      CHECK(r.text == "oops");
      CHECK(r.tag == 'F');
    }
  }
  // The server's greeting came over the pod's loopback; same hostname and netns.
  CHECK(stdout_full == std::vector<std::string>{"hello-from-server", "pod-a", link, "tail"});
  // 40000 bytes without a newline: split at 16 KiB into P, P and a final F.
  REQUIRE(xs.size() == 3);
  CHECK(xs[0].tag == 'P');
  CHECK(xs[0].text.size() == 16384);
  CHECK(xs[1].tag == 'P');
  CHECK(xs[1].text.size() == 16384);
  CHECK(xs[2].tag == 'F');
  CHECK(xs[2].text.size() == 40000 - 2 * 16384);

  auto sf = pod.StateFile("client");
  CHECK(sf.at("exitCode").as_int64() == 3);
  CHECK(sf.at("status").as_string() == "exited");

  // stop-pod: the supervisor exits and takes the cgroups along; logs stay.
  REQUIRE(pod.client().StopPod(false).ok());
  CHECK(WaitFor([&] { return !Alive(pod.pid()); }));
  for (const auto& [key, dir] : pod_dirs) {
    INFO(dir);
    CHECK_FALSE(fs::exists(dir));
  }
  CHECK_FALSE(fs::exists(PodSocketPath(pod.opts().root, pod.opts().pod_uid)));
  CHECK(fs::exists(c.log_path));
}

TEST_CASE("Supervisor: exit code, signal and OOM kill are recorded in the state file",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  Pod pod;
  Bundle sleeper({"/bin/sleep", "1000"});
  Bundle hog({"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"});
  json::object& lin = hog.config()["linux"].as_object();
  lin["resources"] =
      json::object{{"memory", json::object{{"limit", 32 << 20}, {"swap", 32 << 20}}}};
  Bundle ok({"/bin/sh", "-c", "exit 0"});
  pod.Run("sleeper", sleeper);
  pod.Run("hog", hog);
  pod.Run("ok", ok);
  auto running = pod.StateFile("sleeper");
  CHECK(running.at("status").as_string() == "running");
  CHECK(running.at("pid").as_int64() > 0);
  // SIGKILL: as PID 1 of its pid namespace, sleep has no handler and would ignore SIGTERM.
  REQUIRE(pod.client().Kill("sleeper", SIGKILL).ok());
  REQUIRE(pod.WaitExited("sleeper"));
  REQUIRE(pod.WaitExited("hog"));
  REQUIRE(pod.WaitExited("ok"));

  auto s = pod.StateFile("sleeper");
  CHECK(s.at("signal").as_int64() == SIGKILL);
  CHECK(s.at("exitCode").as_int64() == 128 + SIGKILL);
  CHECK_FALSE(s.at("oomKilled").as_bool());
  CHECK_FALSE(s.at("finishedAt").as_string().empty());
  auto h = pod.StateFile("hog");
  CHECK(h.at("signal").as_int64() == SIGKILL);
  CHECK(h.at("oomKilled").as_bool());
  auto o = pod.StateFile("ok");
  CHECK(o.at("exitCode").as_int64() == 0);
  CHECK_FALSE(o.at("oomKilled").as_bool());

  // Remove deletes the container (cgroup and state) but keeps its log; the name is free again.
  auto dirs = HostDirs(pod.cgroup() + "/ok");
  REQUIRE_FALSE(dirs.empty());
  REQUIRE(pod.client().Remove("ok", false).ok());
  for (const auto& [key, dir] : dirs) CHECK_FALSE(fs::exists(dir));
  CHECK_FALSE(fs::exists(pod.dir() + "/ok/state.json"));
  CHECK(fs::exists(pod.dir() + "/ok/0.log"));
  CHECK(pod.client().Remove("ok", false).code() == Code::kNotFound);
  Bundle again({"/bin/sh", "-c", "exit 4"});
  pod.Run("ok", again, 1);
  REQUIRE(pod.WaitExited("ok"));
  CHECK(pod.Get("ok")->exit_code == 4);
  CHECK(pod.client().Start("ok").code() == Code::kConflict);
}

TEST_CASE("Supervisor: exec runs in a container with and without a terminal", "[runtime][root]") {
  testing::SkipUnlessRoot();
  Pod pod("exec-pod");
  Bundle main_ctr({"/bin/sleep", "1000"});
  pod.Run("main", main_ctr);

  SECTION("without a terminal: the caller's pipes, exit code returned") {
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    ExecRequest req;
    req.container = "main";
    req.args = {"/bin/sh", "-c", "echo out-$X; echo err >&2; hostname; exit 7"};
    req.env = {"X=1"};
    req.stdout_fd = out[1];
    req.stderr_fd = err[1];
    auto session = pod.client().Exec(req);
    INFO((session ? "" : session.error().ToString()));
    REQUIRE(session.ok());
    ::close(out[1]);
    ::close(err[1]);
    auto exit = (*session)->Wait();
    REQUIRE(exit.ok());
    CHECK(exit->exit_code == 7);
    CHECK(ReadAll(out[0]) == "out-1\nexec-pod\n");
    CHECK(ReadAll(err[0]) == "err\n");
    ::close(out[0]);
    ::close(err[0]);
  }
  SECTION("with a terminal: the pty master comes back, the process has a controlling tty") {
    ExecRequest req;
    req.container = "main";
    req.tty = true;
    req.args = {"/bin/sh", "-c",
                "test -t 0 && test -t 1 && echo is-a-tty; exec 3</dev/tty && "
                "echo has-ctty; read line; echo got-$line; exit 5"};
    auto session = pod.client().Exec(req);
    INFO((session ? "" : session.error().ToString()));
    REQUIRE(session.ok());
    int master = (*session)->pty_master();
    REQUIRE(master >= 0);
    REQUIRE(::write(master, "abc\n", 4) == 4);
    std::string text = ReadAll(master);
    auto exit = (*session)->Wait();
    REQUIRE(exit.ok());
    CHECK(exit->exit_code == 5);
    CHECK_THAT(text, Catch::Contains("is-a-tty"));
    CHECK_THAT(text, Catch::Contains("has-ctty"));
    CHECK_THAT(text, Catch::Contains("got-abc"));
  }
  SECTION("exec into a missing container fails cleanly") {
    ExecRequest req;
    req.container = "nope";
    req.args = {"/bin/true"};
    CHECK(pod.client().Exec(req).error().code() == Code::kNotFound);
  }
}

TEST_CASE("Supervisor: survives the process that launched it and serves a new client",
          "[runtime][root]") {
  testing::SkipUnlessRoot();
  testutil::TempDir root;
  testing::CgroupCleanup cgroups(testing::TestCgroupParent());
  SupervisorOptions opts;
  opts.pod_uid = "survivor";
  opts.root = root.path();
  opts.cgroup_parent = cgroups.parent();
  opts.binary = testing::Mini8sBinary();
  Bundle b({"/bin/sleep", "1000"});
  b.Write();
  // The "agent": launches the pod, starts a container, then is killed.
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t agent = ::fork();
  REQUIRE(agent >= 0);
  if (agent == 0) {
    ::close(report[0]);
    auto pid = PodSupervisorClient::Launch(opts);
    if (!pid) ::_exit(1);
    auto c = PodSupervisorClient::Connect(PodSocketPath(opts.root, opts.pod_uid));
    ContainerRequest req;
    req.name = "app";
    req.bundle = b.dir();
    if (!c || !(*c)->CreateContainer(req).ok() || !(*c)->Start("app").ok()) ::_exit(2);
    std::string s = std::to_string(*pid) + "\n";
    if (::write(report[1], s.data(), s.size()) < 0) ::_exit(3);
    ::pause();
    ::_exit(0);
  }
  ::close(report[1]);
  std::string got;
  char ch;
  while (::read(report[0], &ch, 1) == 1 && ch != '\n') got += ch;  // the agent stays alive
  ::close(report[0]);
  auto cleanup = [&] {
    (void)PodSupervisorClient::ForceCleanup(opts.root, opts.pod_uid, opts.cgroup_parent);
  };
  REQUIRE_FALSE(got.empty());
  pid_t sup = std::atoi(got.c_str());
  ::kill(agent, SIGKILL);
  int st = 0;
  REQUIRE(::waitpid(agent, &st, 0) == agent);
  CHECK(WIFSIGNALED(st));

  CHECK(Alive(sup));
  auto client = PodSupervisorClient::Connect(PodSocketPath(opts.root, opts.pod_uid));
  if (!client) cleanup();
  REQUIRE(client.ok());
  auto status = (*client)->GetStatus();
  REQUIRE(status.ok());
  CHECK(status->supervisor_pid == sup);
  REQUIRE(status->containers.size() == 1);
  CHECK(status->containers[0].name == "app");
  CHECK(status->containers[0].status == "running");
  pid_t app = status->containers[0].pid;
  CHECK(Alive(app));
  auto stats = (*client)->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->cpu_usage_ns > 0);
  CHECK(stats->memory_working_set > 0);
  CHECK(stats->memory_working_set <= stats->memory_usage);

  // Idle RSS of the supervisor (DESIGN goal: 2 MiB). Once a second passes without an event it
  // drops the clean file pages it mapped while working (docs/design/runtime.md, "Memory"); the
  // bound only covers how late a loaded machine may run that.
  auto vm_rss_kb = [&] {
    std::string text = testing::ReadFileOrEmpty("/proc/" + std::to_string(sup) + "/status");
    auto at = text.find("VmRSS:");
    return at == std::string::npos ? -1L : std::atol(text.c_str() + at + 6);
  };
  long busy_kb = vm_rss_kb();
  bool small = WaitFor([&] { return vm_rss_kb() <= 2048; }, 20000);
  long idle_kb = vm_rss_kb();
  std::printf("supervisor VmRSS: %ld kB after requests, %ld kB idle\n", busy_kb, idle_kb);
  CHECK(small);
  CHECK(idle_kb > 0);
  CHECK(idle_kb <= 2048);

  auto dirs = HostDirs(PodCgroupPath(opts.cgroup_parent, opts.pod_uid));
  auto mounts_before = testing::MountsMentioning(root.path());
  REQUIRE((*client)->StopPod(true).ok());
  CHECK(WaitFor([&] { return !Alive(sup); }));
  CHECK_FALSE(Alive(app));
  for (const auto& [key, dir] : dirs) {
    INFO(dir);
    CHECK_FALSE(fs::exists(dir));
  }
  CHECK_FALSE(fs::exists(PodDir(opts.root, opts.pod_uid)));
  CHECK(testing::MountsMentioning(root.path()) == mounts_before);
  CHECK(testing::MountsMentioning(b.dir()).empty());
  cleanup();
}

TEST_CASE("Supervisor: ForceCleanup removes a pod whose supervisor was killed", "[runtime][root]") {
  testing::SkipUnlessRoot();
  Pod pod;
  Bundle b({"/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"});
  pod.Run("app", b);
  auto dirs = HostDirs(pod.cgroup() + "/app");
  auto pod_dirs = HostDirs(pod.cgroup());
  std::vector<pid_t> pids;
  REQUIRE(WaitFor([&] {
    auto mgr = CgroupManager::ForHost();
    auto cg = (*mgr)->Open(pod.cgroup() + "/app");
    if (!cg) return false;
    pids = *(*cg)->Pids();
    return pids.size() == 3;
  }));
  REQUIRE(::kill(pod.pid(), SIGKILL) == 0);
  REQUIRE(WaitFor([&] { return !Alive(pod.pid()); }));
  // The containers outlive their supervisor; no client can reach it any more.
  for (pid_t p : pids) CHECK(Alive(p));
  CHECK(PodSupervisorClient::Connect(PodSocketPath(pod.opts().root, pod.opts().pod_uid))
            .error()
            .code() == Code::kUnavailable);
  // The command-line form (what an operator runs); the library call below is the same code.
  auto r = testing::Mini8sRuntime(
      pod.opts().root, {"supervise", "--pod", pod.opts().pod_uid, "--root", pod.opts().root,
                        "--cgroup-parent", pod.opts().cgroup_parent, "--force-cleanup"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (pid_t p : pids) {
    INFO("pid " << p);
    CHECK_FALSE(Alive(p));
  }
  for (const auto& [key, dir] : dirs) CHECK_FALSE(fs::exists(dir));
  for (const auto& [key, dir] : pod_dirs) CHECK_FALSE(fs::exists(dir));
  CHECK_FALSE(fs::exists(pod.dir()));
  // Idempotent.
  CHECK(PodSupervisorClient::ForceCleanup(pod.opts().root, pod.opts().pod_uid,
                                          pod.opts().cgroup_parent)
            .ok());
}

TEST_CASE("Supervisor: a second supervisor for the same pod is refused", "[runtime][root]") {
  testing::SkipUnlessRoot();
  Pod pod;
  auto again = PodSupervisorClient::Launch(pod.opts());
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.error().message(), Catch::Contains("already has a supervisor"));
  CHECK(Alive(pod.pid()));
  CHECK(pod.client().GetStatus().ok());
}

}  // namespace
}  // namespace mini8s::runtime
