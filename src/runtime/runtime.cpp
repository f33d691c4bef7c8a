#include "mini8s/runtime/runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>

#include <boost/json.hpp>

#include "mini8s/common/clock.h"
#include "mini8s/common/scope_exit.h"
#include "mini8s/common/unique_fd.h"
#include "mini8s/runtime/seccomp.h"
#include "runtime/fs_util.h"
#include "runtime/init.h"
#include "runtime/sync.h"

namespace mini8s::runtime {
namespace {

namespace json = boost::json;

constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;

// The kernel's struct clone_args (v2, with the cgroup field), declared here so that <sched.h>
// and <linux/sched.h> need not meet.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

Status ValidateId(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 1024) {
    return Status::Invalid("invalid container id \"" + id + "\"");
  }
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '+')) {
      return Status::Invalid("invalid container id \"" + id +
                             "\": use letters, digits, '-', '_', '.', '+'");
    }
  }
  return Status();
}

// Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. Together with the pid it
// names a process for good (pids are reused).
Result<uint64_t> ProcessStartTime(pid_t pid, char* state = nullptr) {
  MINI8S_ASSIGN_OR_RETURN(std::string stat, ReadFile("/proc/" + std::to_string(pid) + "/stat"));
  std::string_view field = ProcStatField(stat, 22);
  uint64_t start = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), start);
  if (field.empty() || ec != std::errc() || end != field.data() + field.size()) {
    return Status::Internal("malformed /proc/" + std::to_string(pid) + "/stat");
  }
  if (state) *state = ProcStatField(stat, 3)[0];
  return start;
}

struct StateFile {
  std::string id;
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string bundle, rootfs, created, cgroups_path;
  std::map<std::string, std::string> annotations;
};

std::string EncodeState(const StateFile& s) {
  json::object ann;
  for (const auto& [k, v] : s.annotations) ann[k] = v;
  json::object o{{"id", s.id},           {"pid", s.pid},       {"pidStartTime", s.start_time},
                 {"bundle", s.bundle},   {"rootfs", s.rootfs}, {"created", s.created},
                 {"cgroupsPath", s.cgroups_path}, {"annotations", ann}};
  return json::serialize(o);
}

Result<StateFile> DecodeState(const std::string& text) {
  try {
    json::object o = json::parse(text).as_object();
    StateFile s;
    s.id = o.at("id").as_string();
    s.pid = static_cast<pid_t>(o.at("pid").to_number<int64_t>());
    s.start_time = o.at("pidStartTime").to_number<uint64_t>();
    s.bundle = o.at("bundle").as_string();
    s.rootfs = o.at("rootfs").as_string();
    s.created = o.at("created").as_string();
    s.cgroups_path = o.at("cgroupsPath").as_string();
    for (const auto& kv : o.at("annotations").as_object()) {
      s.annotations[std::string(kv.key())] = std::string(kv.value().as_string());
    }
    return s;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("corrupt container state: ") + e.what());
  }
}

Status ErrorFromInit(const SyncMsg& m) {
  std::string what = std::string("container init: ") + InitStepName(static_cast<InitStep>(m.step));
  std::string detail(m.detail, strnlen(m.detail, sizeof m.detail));
  if (m.err == 0) return Status::Internal(what + (detail.empty() ? "" : ": " + detail));
  return Status::FromErrno(m.err, what, detail);
}

struct Spawned {
  pid_t pid = -1;
  UniqueFd sync;
};

struct SpawnRequest {
  std::vector<std::string> argv;  // without --sync-fd, which Spawn adds
  uint64_t clone_flags = 0;
  int pidns_fd = -1;  // join this pid namespace for the child
  Cgroup* cgroup = nullptr;
  std::optional<int> oom_score_adj;
  // Non-null: run the init in the cloned child with this config (single-threaded callers only).
  const Spec* in_process_spec = nullptr;
  StdioFds stdio = {-1, -1, -1};
};

// In the cloned child: installs the requested stdio (dup2 clears close-on-exec).
void InstallStdio(const StdioFds& stdio) {
  for (int i = 0; i < 3; ++i) {
    if (stdio[i] >= 0) ::dup2(stdio[i], i);
  }
}

bool SingleThreaded() {
  auto stat = ReadFile("/proc/self/stat");
  return stat && ProcStatField(*stat, 20) == "1";  // num_threads
}

void SendMsg(int fd, SyncType t) {
  SyncMsg m{};
  m.type = static_cast<uint32_t>(t);
  (void)::send(fd, &m, sizeof m, MSG_NOSIGNAL);
}

// Waits for the init's next message. EOF means it exited (or exec'd, which the caller decides).
Result<std::optional<SyncMsg>> RecvMsg(int fd) {
  SyncMsg m{};
  ssize_t n;
  do {
    n = ::recv(fd, &m, sizeof m, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::FromErrno(errno, "recv from container init");
  if (n == 0) return std::optional<SyncMsg>();
  if (n != sizeof m) return Status::Internal("short message from container init");
  return std::optional<SyncMsg>(m);
}

std::string DescribeWait(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended";
}

// Clones the init straight into its namespaces (and cgroup, where the backend allows), then the
// child execs the init binary. Between clone and execve the child only calls fcntl, execve,
// send and _exit on data prepared here.
Result<Spawned> Spawn(const std::string& init_binary, const SpawnRequest& req) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::FromErrno(errno, "socketpair");
  }
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  std::vector<std::string> args = {init_binary, "runtime", "init"};
  args.push_back(req.argv.at(0));  // mode
  args.push_back("--sync-fd");
  args.push_back(std::to_string(child_end.get()));
  args.insert(args.end(), req.argv.begin() + 1, req.argv.end());
  if (req.oom_score_adj) {
    args.insert(args.end(), {"--oom-score-adj", std::to_string(*req.oom_score_adj)});
  }
  if (req.cgroup != nullptr) {
    for (const auto& [name, dir] : req.cgroup->HostDirs()) {
      args.insert(args.end(), {"--cgroup-dir", name + "=" + dir});
    }
  }
  // Two argument vectors, because only the clone tells whether the child was born in its cgroup.
  std::vector<std::string> args_into = args, args_plain = args;
  if (req.cgroup != nullptr) {
    for (const std::string& f : req.cgroup->SelfJoinFiles(true)) {
      args_into.insert(args_into.end(), {"--join", f});
    }
    for (const std::string& f : req.cgroup->SelfJoinFiles(false)) {
      args_plain.insert(args_plain.end(), {"--join", f});
    }
  }
  std::vector<char*> argv_into, argv_plain;
  for (std::string& s : args_into) argv_into.push_back(s.data());
  argv_into.push_back(nullptr);
  for (std::string& s : args_plain) argv_plain.push_back(s.data());
  argv_plain.push_back(nullptr);
  char* envp[] = {nullptr};
  const int child_fd = child_end.get();
  const int parent_fd = parent_end.get();
  const char* path = init_binary.c_str();
  const Spec* in_process = req.in_process_spec && SingleThreaded() ? req.in_process_spec : nullptr;

  UniqueFd own_pidns;
  if (req.pidns_fd >= 0) {
    own_pidns.Reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own_pidns) return Status::FromErrno(errno, "open", "/proc/self/ns/pid");
    if (::setns(req.pidns_fd, CLONE_NEWPID) != 0) {
      return Status::FromErrno(errno, "setns", "pid namespace");
    }
  }
  int into_cgroup = req.cgroup ? req.cgroup->CloneIntoFd() : -1;
  CloneArgs ca{};
  ca.flags = req.clone_flags | (into_cgroup >= 0 ? kCloneIntoCgroup : 0);
  ca.exit_signal = SIGCHLD;
  ca.cgroup = into_cgroup >= 0 ? static_cast<uint64_t>(into_cgroup) : 0;
  long pid = ::syscall(SYS_clone3, &ca, sizeof ca);
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL)) {
    into_cgroup = -1;
    pid = ::syscall(SYS_clone, req.clone_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  }
  if (pid == 0 && in_process != nullptr) {
    // Cloned from a single-threaded process: the child is a private copy and may run the init
    // code itself (what crun does), skipping the re-exec.
    ::close(parent_fd);
    InstallStdio(req.stdio);
    const std::vector<std::string>& mine = into_cgroup >= 0 ? args_into : args_plain;
    ::_exit(RunInit(ParseInitArgs(std::vector<std::string>(mine.begin() + 3, mine.end())),
                    in_process));
  }
  if (pid == 0) {
    // Child of a possibly multi-threaded process: no allocation, no locks, no logging.
    ::fcntl(child_fd, F_SETFD, 0);
    InstallStdio(req.stdio);
    ::execve(path, into_cgroup >= 0 ? argv_into.data() : argv_plain.data(), envp);
    SyncMsg m{};
    m.type = static_cast<uint32_t>(SyncType::kError);
    m.err = errno;
    m.step = static_cast<uint32_t>(InitStep::kExecInit);
    for (size_t i = 0; i + 1 < sizeof m.detail && path[i]; ++i) m.detail[i] = path[i];
    ::send(child_fd, &m, sizeof m, MSG_NOSIGNAL);
    ::_exit(127);
  }
  int clone_errno = errno;
  if (own_pidns && ::setns(own_pidns.get(), CLONE_NEWPID) != 0) {
    // The thread would create every later child in the container's pid namespace.
    MINI8S_CHECK(false) << "cannot restore pid namespace: " << std::strerror(errno);
  }
  if (pid < 0) return Status::FromErrno(clone_errno, "clone");
  child_end.Reset();
  return Spawned{static_cast<pid_t>(pid), std::move(parent_end)};
}

// Reads init's verdict: kReady, or the error it reported, or how it died.
Status AwaitReady(const Spawned& s) {
  MINI8S_ASSIGN_OR_RETURN(std::optional<SyncMsg> m, RecvMsg(s.sync.get()));
  if (m && m->type == static_cast<uint32_t>(SyncType::kReady)) return Status();
  Status err = m && m->type == static_cast<uint32_t>(SyncType::kError)
                   ? ErrorFromInit(*m)
                   : Status::Internal("container init: unexpected message");
  int status = 0;
  if (!m) {
    ::waitpid(s.pid, &status, 0);
    return Status::Internal("container init " + DescribeWait(status) + " before it was ready");
  }
  ::kill(s.pid, SIGKILL);
  ::waitpid(s.pid, &status, 0);
  return err;
}

// After kStart: EOF means execve succeeded (the socket is close-on-exec); a message is an error.
Status AwaitExec(const Spawned& s) {
  MINI8S_ASSIGN_OR_RETURN(std::optional<SyncMsg> m, RecvMsg(s.sync.get()));
  if (!m) return Status();
  return m->type == static_cast<uint32_t>(SyncType::kError)
             ? ErrorFromInit(*m)
             : Status::Internal("container init: unexpected message");
}

uint64_t CloneFlagsFor(const Spec& spec) {
  uint64_t flags = 0;
  for (const Namespace& ns : spec.namespaces) {
    if (!ns.path.empty()) continue;
    switch (ns.type) {
      case NamespaceType::kMount: flags |= CLONE_NEWNS; break;
      case NamespaceType::kPid: flags |= CLONE_NEWPID; break;
      case NamespaceType::kUts: flags |= CLONE_NEWUTS; break;
      case NamespaceType::kIpc: flags |= CLONE_NEWIPC; break;
      case NamespaceType::kNetwork: flags |= CLONE_NEWNET; break;
      // The cgroup namespace is unshared by init once it is in its cgroup.
      case NamespaceType::kCgroup: break;
      case NamespaceType::kUser:
      case NamespaceType::kTime: break;
    }
  }
  return flags;
}

bool ProcessAlive(pid_t pid, uint64_t start_time) {
  char state = 0;
  auto st = ProcessStartTime(pid, &state);
  return st && *st == start_time && state != 'Z' && state != 'X';
}

}  // namespace

std::string_view ContainerStatusName(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::kCreated: return "created";
    case ContainerStatus::kRunning: return "running";
    case ContainerStatus::kStopped: return "stopped";
  }
  return "unknown";
}

std::string ContainerState::ToJson() const {
  json::object ann;
  for (const auto& [k, v] : annotations) ann[k] = v;
  json::object o{{"ociVersion", "1.0.2"},
                 {"id", id},
                 {"pid", status == ContainerStatus::kStopped ? 0 : pid},
                 {"status", std::string(ContainerStatusName(status))},
                 {"bundle", bundle},
                 {"rootfs", rootfs},
                 {"created", created},
                 {"annotations", ann}};
  return json::serialize(o);
}

struct Runtime::Created {
  pid_t pid = -1;
  Spawned spawned;
  std::unique_ptr<Cgroup> cgroup;
  std::string state_dir;
};

Runtime::~Runtime() = default;

Result<std::unique_ptr<Runtime>> Runtime::Create(RuntimeOptions options) {
  // The host's cgroup backend is built on first use: start, state and kill never need it.
  MINI8S_RETURN_IF_ERROR(MkdirAll(options.state_root, 0711));
  return std::unique_ptr<Runtime>(new Runtime(std::move(options)));
}

Result<CgroupManager*> Runtime::Cgroups() {
  if (!options_.cgroups) {
    MINI8S_ASSIGN_OR_RETURN(options_.cgroups,
                            CgroupManager::ForHost(options_.state_root + "/.cgroup-v1"));
  }
  return options_.cgroups.get();
}

Result<Runtime::Created> Runtime::DoCreate(const std::string& id, const std::string& bundle_in,
                                           bool run_mode, const CreateOptions& options) {
  MINI8S_RETURN_IF_ERROR(ValidateId(id));
  char resolved[PATH_MAX];
  if (::realpath(bundle_in.c_str(), resolved) == nullptr) {
    return Status::FromErrno(errno, "bundle", bundle_in);
  }
  std::string bundle(resolved);
  // Everything is validated before anything is created.
  MINI8S_ASSIGN_OR_RETURN(Spec spec, LoadSpec(bundle));
  struct stat st {};
  const std::string& check_root = spec.overlay_lower.empty() ? spec.root_path : spec.overlay_lower[0];
  if (::stat(check_root.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "rootfs", check_root);
  }
  if (!S_ISDIR(st.st_mode)) return Status::Invalid("rootfs " + check_root + " is not a directory");
  if (!spec.HasNamespace(NamespaceType::kMount)) {
    return Status::Invalid("config.json: linux.namespaces must include a mount namespace");
  }
  std::string seccomp_path;
  if (spec.seccomp) {
    MINI8S_ASSIGN_OR_RETURN(seccomp_path,
                            CachedSeccompBpf(*spec.seccomp, options_.state_root + "/.seccomp"));
  }
  UniqueFd pidns;
  if (const Namespace* p = spec.FindNamespace(NamespaceType::kPid); p && !p->path.empty()) {
    pidns.Reset(::open(p->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!pidns) return Status::FromErrno(errno, "open pid namespace", p->path);
  }

  Created c;
  c.state_dir = options_.state_root + "/" + id;
  if (::mkdir(c.state_dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Status::AlreadyExists("container \"" + id + "\" already exists");
    return Status::FromErrno(errno, "mkdir", c.state_dir);
  }
  bool ok = false;
  auto cleanup = ScopeExit([&] {
    if (ok) return;
    if (c.pid > 0) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
    }
    if (c.cgroup) {
      (void)c.cgroup->Kill();
      (void)c.cgroup->Destroy();
    }
    (void)RemoveTree(c.state_dir);
  });

  std::string cg_path = spec.cgroups_path.empty() ? options_.cgroup_parent + "/" + id
                                                   : spec.cgroups_path;
  MINI8S_ASSIGN_OR_RETURN(CgroupManager * cgroups, Cgroups());
  MINI8S_ASSIGN_OR_RETURN(c.cgroup, cgroups->Create(cg_path));
  MINI8S_RETURN_IF_ERROR(c.cgroup->Apply(spec.resources));

  SpawnRequest req;
  req.argv = {run_mode ? "run" : "create", "--bundle", bundle};
  if (!run_mode) {
    std::string fifo = c.state_dir + "/exec.fifo";
    if (::mkfifo(fifo.c_str(), 0600) != 0) return Status::FromErrno(errno, "mkfifo", fifo);
    req.argv.insert(req.argv.end(), {"--fifo", fifo});
  }
  if (!seccomp_path.empty()) req.argv.insert(req.argv.end(), {"--seccomp", seccomp_path});
  req.clone_flags = CloneFlagsFor(spec);
  req.pidns_fd = pidns.get();
  req.cgroup = c.cgroup.get();
  req.oom_score_adj = spec.process.oom_score_adj;
  req.stdio = options.stdio;
  if (options_.init_in_process) req.in_process_spec = &spec;
  MINI8S_ASSIGN_OR_RETURN(c.spawned, Spawn(options_.init_binary, req));
  c.pid = c.spawned.pid;

  // The state and pid files need only the pid: written while the init sets up on the other core
  // (runc's "creating" window), removed again if it fails.
  bool wrote_pid_file = false;
  auto remove_pid_file = ScopeExit([&] {
    if (!ok && wrote_pid_file) ::unlink(options.pid_file.c_str());
  });
  StateFile sf;
  sf.id = id;
  sf.pid = c.pid;
  MINI8S_ASSIGN_OR_RETURN(sf.start_time, ProcessStartTime(c.pid));
  sf.bundle = bundle;
  sf.rootfs = spec.root_path;
  sf.created = FormatRfc3339Nano(RealClock::Instance().Now());
  sf.cgroups_path = cg_path;
  sf.annotations = spec.annotations;
  MINI8S_RETURN_IF_ERROR(WriteFileAtomic(c.state_dir + "/state.json", EncodeState(sf)));
  if (!options.pid_file.empty()) {
    MINI8S_RETURN_IF_ERROR(WriteFileAtomic(options.pid_file, std::to_string(c.pid), 0644));
    wrote_pid_file = true;
  }
  Status ready = AwaitReady(c.spawned);
  if (!ready.ok()) {
    c.pid = -1;  // already reaped
    return ready;
  }
  ok = true;
  return c;
}

Status Runtime::CreateContainer(const std::string& id, const std::string& bundle,
                                const CreateOptions& options) {
  MINI8S_ASSIGN_OR_RETURN(Created c, DoCreate(id, bundle, false, options));
  // Closing our end of the sync socket is all the handover needs; init now waits on the fifo.
  return Status();
}

namespace {

Result<StateFile> LoadStateFile(const std::string& root, const std::string& id) {
  MINI8S_RETURN_IF_ERROR(ValidateId(id));
  auto text = ReadFile(root + "/" + id + "/state.json");
  if (!text) {
    if (text.error().code() == Code::kNotFound) {
      return Status::NotFound("container \"" + id + "\" does not exist");
    }
    return text.error();
  }
  return DecodeState(*text);
}

ContainerStatus StatusOf(const std::string& state_dir, const StateFile& s) {
  if (!ProcessAlive(s.pid, s.start_time)) return ContainerStatus::kStopped;
  if (::access((state_dir + "/exec.fifo").c_str(), F_OK) == 0) return ContainerStatus::kCreated;
  return ContainerStatus::kRunning;
}

}  // namespace

Status Runtime::Start(const std::string& id) {
  MINI8S_ASSIGN_OR_RETURN(StateFile s, LoadStateFile(options_.state_root, id));
  std::string dir = options_.state_root + "/" + id;
  ContainerStatus st = StatusOf(dir, s);
  if (st != ContainerStatus::kCreated) {
    return Status::Conflict("container \"" + id + "\" is " +
                            std::string(ContainerStatusName(st)) + ", not created");
  }
  std::string fifo = dir + "/exec.fifo";
  // Non-blocking open fails with ENXIO when no reader is left (init died), instead of hanging.
  UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENXIO) return Status::Conflict("container \"" + id + "\" init is not waiting");
    return Status::FromErrno(errno, "open", fifo);
  }
  if (::write(fd.get(), "0", 1) != 1) return Status::FromErrno(errno, "write", fifo);
  ::unlink(fifo.c_str());
  return Status();
}

Result<ContainerState> Runtime::State(const std::string& id) {
  MINI8S_ASSIGN_OR_RETURN(StateFile s, LoadStateFile(options_.state_root, id));
  ContainerState out;
  out.id = s.id;
  out.pid = s.pid;
  out.status = StatusOf(options_.state_root + "/" + id, s);
  out.bundle = s.bundle;
  out.rootfs = s.rootfs;
  out.created = s.created;
  out.cgroups_path = s.cgroups_path;
  out.annotations = s.annotations;
  return out;
}

Status Runtime::Kill(const std::string& id, int signal, bool all) {
  MINI8S_ASSIGN_OR_RETURN(StateFile s, LoadStateFile(options_.state_root, id));
  if (all) {
    MINI8S_ASSIGN_OR_RETURN(CgroupManager * cgroups, Cgroups());
    auto cg = cgroups->Open(s.cgroups_path);
    if (!cg) return cg.error();
    if (signal == SIGKILL) return (*cg)->Kill();
    MINI8S_ASSIGN_OR_RETURN(std::vector<pid_t> pids, (*cg)->Pids());
    for (pid_t p : pids) ::kill(p, signal);
    return Status();
  }
  if (!ProcessAlive(s.pid, s.start_time)) {
    return Status::Conflict("container \"" + id + "\" is not running");
  }
  // A pidfd pins the process we checked, so a recycled pid cannot be signalled by mistake.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, s.pid, 0)));
  if (!pidfd) return Status::FromErrno(errno, "pidfd_open", std::to_string(s.pid));
  if (!ProcessAlive(s.pid, s.start_time)) {
    return Status::Conflict("container \"" + id + "\" is not running");
  }
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0) != 0) {
    return Status::FromErrno(errno, "kill", id);
  }
  return Status();
}

Status Runtime::Delete(const std::string& id, bool force) {
  MINI8S_ASSIGN_OR_RETURN(StateFile s, LoadStateFile(options_.state_root, id));
  std::string dir = options_.state_root + "/" + id;
  ContainerStatus st = StatusOf(dir, s);
  if (st == ContainerStatus::kRunning && !force) {
    return Status::Conflict("container \"" + id + "\" is running; stop it first or use --force");
  }
  MINI8S_ASSIGN_OR_RETURN(CgroupManager * cgroups, Cgroups());
  auto cg = cgroups->Open(s.cgroups_path);
  if (cg) {
    // A stopped container's cgroup is usually empty already: one read instead of a kill.
    auto pids = (*cg)->Pids();
    if (!pids || !pids->empty()) MINI8S_RETURN_IF_ERROR((*cg)->Kill());
    MINI8S_RETURN_IF_ERROR((*cg)->Destroy());
  } else if (cg.error().code() != Code::kNotFound) {
    return cg.error();
  }
  if (ProcessAlive(s.pid, s.start_time)) ::kill(s.pid, SIGKILL);
  // Reap the init if it is our child (library callers that created it in this process).
  ::waitpid(s.pid, nullptr, WNOHANG);
  return RemoveTree(dir);
}

Result<ExitInfo> Runtime::WaitExit(pid_t pid, Cgroup* cgroup) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waitpid", std::to_string(pid));
  }
  ExitInfo e;
  if (WIFEXITED(status)) {
    e.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
    e.exit_code = 128 + e.signal;
  }
  if (cgroup != nullptr) {
    auto stats = cgroup->Stats();
    // The kernel's OOM killer sends SIGKILL; any kill in the container's cgroup means the
    // container ran out of memory (kubelet reports OOMKilled the same way).
    e.oom_killed = stats && stats->oom_kills > 0 && (e.signal == SIGKILL || e.exit_code == 137);
  }
  return e;
}

Result<ExitInfo> Runtime::Run(const std::string& id, const std::string& bundle,
                              const CreateOptions& options) {
  MINI8S_ASSIGN_OR_RETURN(Created c, DoCreate(id, bundle, true, options));
  auto cleanup = ScopeExit([&] { (void)Delete(id, true); });
  SendMsg(c.spawned.sync.get(), SyncType::kStart);
  Status exec = AwaitExec(c.spawned);
  if (!exec.ok()) {
    ::waitpid(c.pid, nullptr, 0);
    return exec;
  }
  c.spawned.sync.Reset();
  return WaitExit(c.pid, c.cgroup.get());
}

Result<ExitInfo> Runtime::Exec(const std::string& id, const ExecOptions& options) {
  MINI8S_ASSIGN_OR_RETURN(StateFile s, LoadStateFile(options_.state_root, id));
  std::string dir = options_.state_root + "/" + id;
  if (StatusOf(dir, s) != ContainerStatus::kRunning) {
    return Status::Conflict("container \"" + id + "\" is not running");
  }
  if (options.args.empty() && options.process_json.empty()) {
    return Status::Invalid("exec needs a command or --process");
  }
  MINI8S_ASSIGN_OR_RETURN(Spec spec, LoadSpec(s.bundle));
  if (!options.process_json.empty()) {
    MINI8S_ASSIGN_OR_RETURN(Process p, ParseProcess(options.process_json));
    (void)p;  // validated here; init parses it again in the container
  }
  std::string seccomp_path;
  if (spec.seccomp) {
    MINI8S_ASSIGN_OR_RETURN(seccomp_path,
                            CachedSeccompBpf(*spec.seccomp, options_.state_root + "/.seccomp"));
  }
  MINI8S_ASSIGN_OR_RETURN(CgroupManager * cgroups, Cgroups());
  MINI8S_ASSIGN_OR_RETURN(std::unique_ptr<Cgroup> cg, cgroups->Open(s.cgroups_path));
  std::string ns = "/proc/" + std::to_string(s.pid) + "/ns/pid";
  UniqueFd pidns(::open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!pidns) return Status::FromErrno(errno, "open", ns);

  SpawnRequest req;
  req.argv = {"exec", "--bundle", s.bundle, "--exec-pid", std::to_string(s.pid)};
  if (!seccomp_path.empty()) req.argv.insert(req.argv.end(), {"--seccomp", seccomp_path});
  for (const std::string& e : options.env) req.argv.insert(req.argv.end(), {"--env", e});
  if (!options.cwd.empty()) req.argv.insert(req.argv.end(), {"--cwd", options.cwd});
  if (!options.process_json.empty()) {
    req.argv.insert(req.argv.end(), {"--process", options.process_json});
  }
  if (options.tty) req.argv.push_back("--tty");
  req.argv.push_back("--");
  req.argv.insert(req.argv.end(), options.args.begin(), options.args.end());
  req.pidns_fd = pidns.get();
  req.cgroup = cg.get();
  req.stdio = options.stdio;
  if (options_.init_in_process) req.in_process_spec = &spec;
  MINI8S_ASSIGN_OR_RETURN(Spawned sp, Spawn(options_.init_binary, req));
  MINI8S_RETURN_IF_ERROR(AwaitReady(sp));
  SendMsg(sp.sync.get(), SyncType::kStart);
  Status exec = AwaitExec(sp);
  if (!exec.ok()) {
    ::waitpid(sp.pid, nullptr, 0);
    return exec;
  }
  if (!options.pid_file.empty()) {
    MINI8S_RETURN_IF_ERROR(WriteFileAtomic(options.pid_file, std::to_string(sp.pid), 0644));
  }
  if (options.pid_out != nullptr) *options.pid_out = sp.pid;
  if (options.detach) return ExitInfo{};
  return WaitExit(sp.pid, nullptr);
}

Result<std::vector<ContainerState>> Runtime::List() {
  std::vector<ContainerState> out;
  DIR* d = ::opendir(options_.state_root.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "opendir", options_.state_root);
  auto close_dir = ScopeExit([&] { ::closedir(d); });
  std::vector<std::string> ids;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ids.emplace_back(e->d_name);
  }
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    auto st = State(id);
    if (st) out.push_back(std::move(*st));
  }
  return out;
}

Result<std::vector<pid_t>> Runtime::Ps(const std::string& id) {
  MINI8S_ASSIGN_OR_RETURN(StateFile s, LoadStateFile(options_.state_root, id));
  MINI8S_ASSIGN_OR_RETURN(CgroupManager * cgroups, Cgroups());
  MINI8S_ASSIGN_OR_RETURN(std::unique_ptr<Cgroup> cg, cgroups->Open(s.cgroups_path));
  return cg->Pids();
}

Result<CgroupStats> Runtime::Stats(const std::string& id) {
  MINI8S_ASSIGN_OR_RETURN(StateFile s, LoadStateFile(options_.state_root, id));
  MINI8S_ASSIGN_OR_RETURN(CgroupManager * cgroups, Cgroups());
  MINI8S_ASSIGN_OR_RETURN(std::unique_ptr<Cgroup> cg, cgroups->Open(s.cgroups_path));
  return cg->Stats();
}

}  // namespace mini8s::runtime
