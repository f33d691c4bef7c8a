// Runtime benchmark: create + start + wait + delete of /bin/true on the same busybox bundle with
// `mini8s runtime` and with runc, interleaved, medians over N runs each, and their ratio.
//
//   mini8s_runtime_bench [--runs N] [--mini8s PATH] [--runc PATH] [--budget-seconds S]
//
// Needs root, runc and /bin/busybox (busybox-static). The bench process is a child subreaper,
// so each container's init is re-parented to it when `create` exits and "wait" is a waitpid().
// Prints figures only; it asserts nothing about them and is not part of ctest.
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int RunCmd(const std::vector<std::string>& args, bool quiet = true) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (quiet) posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One create+start+wait+delete; returns milliseconds, or a negative value on failure.
double OneRun(const std::vector<std::string>& rt, const std::string& root,
              const std::string& bundle, const std::string& id) {
  auto cmd = [&](std::initializer_list<std::string> rest) {
    std::vector<std::string> v = rt;
    v.push_back("--root");
    v.push_back(root);
    v.insert(v.end(), rest);
    return v;
  };
  const char* name = rt[0].c_str();
  std::string pid_file = root + "/" + id + ".pid";
  auto t0 = Clock::now();
  if (RunCmd(cmd({"create", "--bundle", bundle, "--pid-file", pid_file, id})) != 0) {
    std::fprintf(stderr, "%s create failed\n", name);
    return -1;
  }
  pid_t pid = static_cast<pid_t>(std::atoi(Slurp(pid_file).c_str()));
  if (RunCmd(cmd({"start", id})) != 0) {
    std::fprintf(stderr, "%s start failed\n", name);
    return -1;
  }
  int status = 0;
  if (pid <= 0 || waitpid(pid, &status, 0) != pid) {
    std::fprintf(stderr, "%s: cannot wait for the container (pid %d)\n", name, pid);
    return -1;
  }
  if (RunCmd(cmd({"delete", id})) != 0) {
    std::fprintf(stderr, "%s delete failed\n", name);
    return -1;
  }
  auto t1 = Clock::now();
  ::unlink(pid_file.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s: /bin/true did not exit 0\n", name);
    return -1;
  }
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 50;
  std::string mini8s = MINI8S_BINARY;
  std::string runc = "runc";
  int budget = 300;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--runs") {
      runs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--mini8s") {
      mini8s = next();
    } else if (a == "--runc") {
      runc = next();
    } else if (a == "--budget-seconds") {
      budget = std::atoi(next().c_str());
    } else {
      std::fprintf(stderr, "usage: %s [--runs N] [--mini8s PATH] [--runc PATH] "
                           "[--budget-seconds S]\n", argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "runtime bench: needs root\n");
    return 77;
  }
  if (RunCmd({runc, "--version"}) != 0 || access("/bin/busybox", X_OK) != 0) {
    std::fprintf(stderr, "runtime bench: needs runc and /bin/busybox (busybox-static)\n");
    return 77;
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  char tmpl[] = "/tmp/mini8s-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  const std::string bundle = dir + "/bundle";
  fs::create_directories(bundle + "/rootfs/bin");
  for (const char* d : {"proc", "sys", "dev", "tmp", "etc"}) {
    fs::create_directories(bundle + "/rootfs/" + d);
  }
  fs::copy_file("/bin/busybox", bundle + "/rootfs/bin/busybox");
  for (const char* l : {"sh", "true"}) fs::create_symlink("busybox", bundle + "/rootfs/bin/" + l);
  // The config is runc's own default (`runc spec`), made non-interactive and running /bin/true:
  // the anchor's configuration, not ours.
  if (RunCmd({runc, "spec", "--bundle", bundle}) != 0) return 1;
  boost::json::value cfg = boost::json::parse(Slurp(bundle + "/config.json"));
  cfg.at("process").as_object()["terminal"] = false;
  cfg.at("process").as_object()["args"] = boost::json::array{"/bin/true"};
  std::ofstream(bundle + "/config.json") << boost::json::serialize(cfg);

  const std::string runc_root = dir + "/runc-state", mini8s_root = dir + "/mini8s-state";
  fs::create_directories(runc_root);
  fs::create_directories(mini8s_root);
  std::vector<double> t_runc, t_mini8s;
  auto deadline = Clock::now() + std::chrono::seconds(budget);
  bool failed = false;
  const int warmup = 3;
  for (int i = 0; i < runs + warmup && !failed; ++i) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "runtime bench: time budget of %d s reached after %d runs\n", budget, i);
      break;
    }
    std::string id = "bench-" + std::to_string(getpid()) + "-" + std::to_string(i);
    // Interleaved, alternating which goes first, so drift in machine load hits both alike.
    for (int k = 0; k < 2; ++k) {
      bool mini8s_turn = (i + k) % 2 == 0;
      double ms = mini8s_turn ? OneRun({mini8s, "runtime"}, mini8s_root, bundle, id)
                              : OneRun({runc}, runc_root, bundle, id);
      if (ms < 0) {
        failed = true;
        break;
      }
      if (i >= warmup) (mini8s_turn ? t_mini8s : t_runc).push_back(ms);
    }
  }
  fs::remove_all(dir);
  // mini8s's default cgroup parent; rmdir only succeeds if no container uses it.
  std::error_code ec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    ::rmdir((h.path().string() + "/mini8s").c_str());
  }
  ::rmdir("/sys/fs/cgroup/mini8s");
  if (failed || t_runc.empty()) return 1;
  double m_runc = Percentile(t_runc, 0.5), m_mini8s = Percentile(t_mini8s, 0.5);
  std::printf("runtime bench: create+start+wait+delete of /bin/true, busybox bundle, runc's "
              "default config, %zu runs each\n",
              t_runc.size());
  std::printf("  runc   (%s): median %.2f ms  p10 %.2f  p90 %.2f\n", runc.c_str(), m_runc,
              Percentile(t_runc, 0.1), Percentile(t_runc, 0.9));
  std::printf("  mini8s (%s): median %.2f ms  p10 %.2f  p90 %.2f\n", mini8s.c_str(), m_mini8s,
              Percentile(t_mini8s, 0.1), Percentile(t_mini8s, 0.9));
  std::printf("  ratio mini8s/runc: %.3f (goal <= 0.200)\n", m_mini8s / m_runc);
  return 0;
}
