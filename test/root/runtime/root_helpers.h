// Helpers for the runtime's root tests: skipping where root or namespaces are missing, a busybox
// bundle built at test time (never from the network), running the mini8s binary with captured
// output, and cleanup of the cgroups a test creates.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "testutil/temp_dir.h"

namespace mini8s::runtime::testing {

// Exits 77 (ctest: skipped) when not root or when namespaces cannot be created. Otherwise moves
// the test process into a private mount namespace of its own, so mounts it makes stay private.
void SkipUnlessRoot();

// The mini8s binary under test (MINI8S_BINARY).
const char* Mini8sBinary();

// A bundle: <dir>/rootfs with busybox and applet links, <dir>/out (bind-mounted at /out in the
// container by AddOutMount), and config.json from DefaultSpecJson(args), editable before Write().
class Bundle {
 public:
  explicit Bundle(std::vector<std::string> args, bool seccomp = false);
  boost::json::object& config() { return config_; }
  // Bind-mounts <dir>/out at /out, read-write.
  void AddOutMount();
  void Write();
  const std::string& dir() const { return tmp_.path(); }
  std::string out(const std::string& name) const { return tmp_.path() + "/out/" + name; }
  std::string ReadOut(const std::string& name) const;

 private:
  testutil::TempDir tmp_;
  boost::json::object config_;
};

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `mini8s runtime --root <root> <args...>` and captures stdout and stderr.
CmdResult Mini8sRuntime(const std::string& root, const std::vector<std::string>& args);

// Removes a test's cgroup parent in every hierarchy on destruction (children first).
class CgroupCleanup {
 public:
  explicit CgroupCleanup(std::string parent) : parent_(std::move(parent)) {}
  ~CgroupCleanup();
  const std::string& parent() const { return parent_; }

 private:
  std::string parent_;
};

// A unique cgroup parent for this test process: "/mini8s-test-<pid>".
std::string TestCgroupParent();

// Mount points of the host's cgroup hierarchies (v1 per controller, plus the cgroup2 mount).
std::vector<std::string> CgroupMounts();

std::string ReadFileOrEmpty(const std::string& path);
// Lines of /proc/self/mountinfo that mention `needle`.
std::vector<std::string> MountsMentioning(const std::string& needle);

}  // namespace mini8s::runtime::testing
