#include "root/runtime/root_helpers.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mini8s/runtime/spec.h"

extern char** environ;

namespace mini8s::runtime::testing {

namespace fs = std::filesystem;

void SkipUnlessRoot() {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "skipped: runtime root tests need root\n");
    std::_Exit(77);
  }
  if (::access("/bin/busybox", X_OK) != 0) {
    std::fprintf(stderr, "skipped: /bin/busybox (busybox-static) is not installed\n");
    std::_Exit(77);
  }
  // Probe in a child so the test process keeps its network namespace.
  pid_t p = ::fork();
  if (p == 0) ::_exit(::unshare(CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUTS) == 0 ? 0 : 1);
  int status = 0;
  ::waitpid(p, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "skipped: cannot create namespaces here\n");
    std::_Exit(77);
  }
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
    std::fprintf(stderr, "skipped: cannot make a private mount namespace\n");
    std::_Exit(77);
  }
  // Containers created through the command line outlive it; they are re-parented to us.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
}

const char* Mini8sBinary() { return MINI8S_BINARY; }

Bundle::Bundle(std::vector<std::string> args, bool seccomp) {
  const std::string root = tmp_.path() + "/rootfs";
  fs::create_directories(root + "/bin");
  for (const char* d : {"proc", "sys", "dev", "tmp", "etc", "out"}) {
    fs::create_directories(root + "/" + d);
  }
  fs::create_directories(tmp_.path() + "/out");
  fs::copy_file("/bin/busybox", root + "/bin/busybox");
  for (const char* applet : {"sh", "true", "false", "cat", "ls", "echo", "hostname", "sleep", "dd",
                             "head", "grep", "id", "seq", "kill", "ps", "mount", "wc", "touch",
                             "stat", "test", "tr", "sync"}) {
    fs::create_symlink("busybox", root + "/bin/" + applet);
  }
  config_ = boost::json::parse(DefaultSpecJson(args, seccomp)).as_object();
}

void Bundle::AddOutMount() {
  config_["mounts"].as_array().emplace_back(boost::json::object{
      {"destination", "/out"},
      {"type", "bind"},
      {"source", tmp_.path() + "/out"},
      {"options", boost::json::array{"rbind", "rw"}}});
}

void Bundle::Write() {
  std::ofstream(tmp_.path() + "/config.json") << boost::json::serialize(config_);
}

std::string Bundle::ReadOut(const std::string& name) const { return ReadFileOrEmpty(out(name)); }

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CmdResult Mini8sRuntime(const std::string& root, const std::vector<std::string>& args) {
  std::vector<std::string> full = {Mini8sBinary(), "runtime", "--root", root};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : full) argv.push_back(s.data());
  argv.push_back(nullptr);
  // Files, not pipes: a detached container keeps inherited stdio open after the command exits.
  testutil::TempDir io;
  std::string out_path = io.File("out"), err_path = io.File("err");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  CmdResult r;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) return r;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFileOrEmpty(out_path);
  r.err = ReadFileOrEmpty(err_path);
  return r;
}

std::vector<std::string> CgroupMounts() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, mp, fstype;
    head >> id >> parent >> dev >> root >> mp;
    tail >> fstype;
    if ((fstype == "cgroup" || fstype == "cgroup2") && mp.starts_with("/sys/fs/cgroup")) {
      out.push_back(mp);
    }
  }
  return out;
}

std::string TestCgroupParent() { return "/mini8s-test-" + std::to_string(::getpid()); }

CgroupCleanup::~CgroupCleanup() {
  for (const std::string& mp : CgroupMounts()) {
    std::string dir = mp + parent_;
    std::error_code ec;
    if (!fs::exists(dir, ec)) continue;
    // Children first: cgroup directories are removed with rmdir, never recursively.
    std::vector<std::string> dirs;
    for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::end(it); ++it) {
      if (it->is_directory(ec)) dirs.push_back(it->path());
    }
    std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a > b; });
    for (const std::string& d : dirs) ::rmdir(d.c_str());
    ::rmdir(dir.c_str());
  }
}

std::vector<std::string> MountsMentioning(const std::string& needle) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

}  // namespace mini8s::runtime::testing
