// The pod supervisor process (include/mini8s/runtime/supervisor.h). One thread, one poll(2) loop
// over the listening socket, a signalfd for SIGCHLD/SIGTERM, the client connections and the
// containers' stdout/stderr pipes. Every request is handled to completion inside the loop; the
// slow steps (container create, exec spawn) take milliseconds.
#include "mini8s/runtime/supervisor.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include <boost/json.hpp>

#include "mini8s/common/clock.h"
#include "runtime/fs_util.h"
#include "runtime/mem_trim.h"
#include "runtime/supervisor_proto.h"

namespace mini8s::runtime {

std::string PodDir(const std::string& root, const std::string& pod_uid) {
  return root + "/pods/" + pod_uid;
}
std::string PodSocketPath(const std::string& root, const std::string& pod_uid) {
  return PodDir(root, pod_uid) + "/supervisor.sock";
}
std::string PodCgroupPath(const std::string& cgroup_parent, const std::string& pod_uid) {
  return cgroup_parent + "/pod" + pod_uid;
}

namespace {

namespace json = boost::json;

// containerd's MaxContainerLogLineSize: longer lines are split into partial ("P") records.
constexpr size_t kMaxLogLine = 16 * 1024;
// After this long without an event the supervisor counts as idle and trims its resident memory.
// Short enough that an idle pod is small soon after its last request; long enough that a busy
// one (a stream of log lines or requests) does not pay a trim and the refaults after it per event.
constexpr int kIdleTrimMs = 1000;

std::string NowNano() { return FormatRfc3339Nano(RealClock::Instance().Now()); }

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 63 || n.front() == '-' || n.back() == '-') return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Status BringLoopbackUp() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Status::FromErrno(errno, "socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Status::FromErrno(errno, "SIOCGIFFLAGS lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Status::FromErrno(errno, "SIOCSIFFLAGS lo");
  return Status();
}

struct LogStream {
  const char* name;
  UniqueFd pipe;
  std::string partial;
};

struct Container {
  std::string name;
  int attempt = 0;
  std::string status = "created";
  pid_t pid = 0;
  int exit_code = 0, signal = 0;
  bool oom_killed = false;
  std::string created_at, started_at, finished_at, log_path;
  uint64_t oom_base = 0;
  UniqueFd log;
  LogStream streams[2] = {{"stdout", UniqueFd(), {}}, {"stderr", UniqueFd(), {}}};

  json::object ToJson() const {
    return {{"name", name},
            {"attempt", attempt},
            {"status", status},
            {"pid", pid},
            {"exitCode", exit_code},
            {"signal", signal},
            {"oomKilled", oom_killed},
            {"createdAt", created_at},
            {"startedAt", started_at},
            {"finishedAt", finished_at},
            {"logPath", log_path}};
  }
};

struct Conn {
  UniqueFd fd;
  std::string in;
  std::vector<UniqueFd> fds;
};

json::object ErrorReply(const Status& s) {
  return {{"ok", false}, {"code", std::string(CodeName(s.code()))}, {"message", s.message()}};
}

json::object StatsJson(const CgroupStats& s) {
  return {{"cpuUsageNanos", s.cpu_usage_ns},
          {"memoryUsage", s.memory_usage},
          {"memoryWorkingSet", s.memory_working_set},
          {"oomKills", s.oom_kills},
          {"pidsCurrent", s.pids_current}};
}

class Supervisor {
 public:
  static Result<std::unique_ptr<Supervisor>> Create(SupervisorOptions o);
  // Serves until stop-pod or SIGTERM. Returns the process exit code.
  int Run();

 private:
  explicit Supervisor(SupervisorOptions o) : opts_(std::move(o)) {}
  Status Setup();

  void Accept();
  void OnConnReadable(int id);
  void Handle(int id, const std::string& body, std::vector<UniqueFd> fds);
  Result<json::object> Dispatch(int id, const json::object& req, std::vector<UniqueFd>& fds,
                                std::vector<int>* out_fds, UniqueFd* keep_until_sent);
  Result<json::object> DoCreate(const json::object& req);
  Result<json::object> DoStart(const std::string& name);
  Result<json::object> DoRemove(const std::string& name, bool force);
  Result<json::object> DoExec(int id, const json::object& req, std::vector<UniqueFd>& fds,
                              std::vector<int>* out_fds, UniqueFd* master);
  json::object StatusJson() const;

  void OnSignal();
  void Reap(pid_t pid, int status);
  void RecordExit(Container& c, int status);
  void OnLogReadable(Container& c, int stream);
  void DrainLogs(Container& c);
  void EmitLog(Container& c, const char* stream, char tag, std::string_view text);
  void WriteState(const Container& c);
  // Kills every container and exec, records the exits and removes what the pod created.
  void StopAll(bool remove_dir);

  Container* Find(const std::string& name) {
    auto it = containers_.find(name);
    return it == containers_.end() ? nullptr : &it->second;
  }

  SupervisorOptions opts_;
  std::string dir_, sock_path_, pod_cgroup_path_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<Cgroup> pod_cgroup_;
  UniqueFd listen_, sigfd_, devnull_;
  std::map<std::string, Container> containers_;
  std::map<int, Conn> conns_;
  std::map<pid_t, int> execs_;  // exec pid -> connection id waiting for its exit
  int next_conn_ = 0;
  bool stop_ = false;
};

Result<std::unique_ptr<Supervisor>> Supervisor::Create(SupervisorOptions o) {
  std::unique_ptr<Supervisor> s(new Supervisor(std::move(o)));
  Status st = s->Setup();
  if (!st.ok()) {
    // Leave nothing behind: the pod cgroup is empty at this point.
    if (s->pod_cgroup_) (void)s->pod_cgroup_->Destroy();
    return st;
  }
  return s;
}

Status Supervisor::Setup() {
  if (opts_.pod_uid.empty() || opts_.pod_uid.find('/') != std::string::npos ||
      opts_.pod_uid[0] == '.') {
    return Status::Invalid("invalid pod uid \"" + opts_.pod_uid + "\"");
  }
  dir_ = PodDir(opts_.root, opts_.pod_uid);
  sock_path_ = PodSocketPath(opts_.root, opts_.pod_uid);
  pod_cgroup_path_ = PodCgroupPath(opts_.cgroup_parent, opts_.pod_uid);
  MINI8S_RETURN_IF_ERROR(MkdirAll(dir_, 0711));
  if (sock_path_.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::Invalid("socket path too long: " + sock_path_);
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path_.c_str(), sizeof addr.sun_path - 1);
  {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      return Status::AlreadyExists("pod " + opts_.pod_uid + " already has a supervisor");
    }
  }
  ::unlink(sock_path_.c_str());

  // The sandbox: this process is the pod's network, IPC and UTS namespace holder.
  if (::unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
    return Status::FromErrno(errno, "unshare pod namespaces");
  }
  std::string host = opts_.hostname.empty() ? opts_.pod_uid : opts_.hostname;
  if (::sethostname(host.data(), host.size()) != 0) {
    return Status::FromErrno(errno, "sethostname", host);
  }
  MINI8S_RETURN_IF_ERROR(BringLoopbackUp());

  RuntimeOptions ro;
  ro.state_root = dir_ + "/.runtime";
  ro.init_binary = opts_.binary;
  ro.init_in_process = true;  // this process is single-threaded
  ro.cgroup_parent = pod_cgroup_path_;
  MINI8S_ASSIGN_OR_RETURN(runtime_, Runtime::Create(std::move(ro)));
  MINI8S_ASSIGN_OR_RETURN(CgroupManager * cgroups, runtime_->Cgroups());
  MINI8S_ASSIGN_OR_RETURN(pod_cgroup_, cgroups->Create(pod_cgroup_path_));

  devnull_.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull_) return Status::FromErrno(errno, "open", "/dev/null");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return Status::FromErrno(errno, "sigprocmask");
  sigfd_.Reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd_) return Status::FromErrno(errno, "signalfd");
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);

  listen_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_) return Status::FromErrno(errno, "socket");
  if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::FromErrno(errno, "bind", sock_path_);
  }
  ::chmod(sock_path_.c_str(), 0600);
  if (::listen(listen_.get(), 16) != 0) return Status::FromErrno(errno, "listen", sock_path_);

  // Who the supervisor is, for ForceCleanup when it no longer answers.
  std::string stat = ReadFile("/proc/self/stat").value_or("");
  std::string start_time(ProcStatField(stat, 22));
  json::object info{{"pid", ::getpid()},
                    {"pidStartTime", start_time},
                    {"cgroup", pod_cgroup_path_},
                    {"cgroupParent", opts_.cgroup_parent}};
  return WriteFileAtomic(dir_ + "/supervisor.json", json::serialize(info), 0644);
}

json::object Supervisor::StatusJson() const {
  json::array list;
  for (const auto& [name, c] : containers_) list.push_back(c.ToJson());
  std::string ns = "/proc/" + std::to_string(::getpid()) + "/ns/";
  return {{"ok", true},
          {"supervisorPid", ::getpid()},
          {"cgroup", pod_cgroup_path_},
          {"netns", ns + "net"},
          {"ipcns", ns + "ipc"},
          {"utsns", ns + "uts"},
          {"containers", std::move(list)}};
}

int Supervisor::Run() {
  std::vector<pollfd> pfds;
  // What each pollfd is: 0 listen, 1 signal, 2 connection (key = id), 3 log pipe (key = name).
  struct Slot {
    int kind;
    int id;
    std::string name;
    int stream;
  };
  std::vector<Slot> slots;
  while (!stop_) {
    pfds.clear();
    slots.clear();
    pfds.push_back({listen_.get(), POLLIN, 0});
    slots.push_back({0, 0, "", 0});
    pfds.push_back({sigfd_.get(), POLLIN, 0});
    slots.push_back({1, 0, "", 0});
    for (const auto& [id, c] : conns_) {
      pfds.push_back({c.fd.get(), POLLIN, 0});
      slots.push_back({2, id, "", 0});
    }
    for (const auto& [name, c] : containers_) {
      for (int i = 0; i < 2; ++i) {
        if (!c.streams[i].pipe) continue;
        pfds.push_back({c.streams[i].pipe.get(), POLLIN, 0});
        slots.push_back({3, 0, name, i});
      }
    }
    int n = ::poll(pfds.data(), pfds.size(), kIdleTrimMs);
    if (n == 0) {
      // Idle: drop the clean file pages that setup and the last requests mapped (fault-around
      // maps 64-256 KiB per touch), then block with the same poll set, so that nothing but the
      // poll call itself runs between the drop and the next event (docs/design/runtime.md).
      n = TrimThenPoll(pfds.data(), pfds.size());
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "supervisor: poll: %s\n", std::strerror(errno));
      return 1;
    }
    for (size_t i = 0; i < pfds.size() && !stop_; ++i) {
      if (pfds[i].revents == 0) continue;
      const Slot& s = slots[i];
      switch (s.kind) {
        case 0:
          Accept();
          break;
        case 1:
          OnSignal();
          break;
        case 2:
          if (conns_.count(s.id)) OnConnReadable(s.id);
          break;
        case 3:
          if (Container* c = Find(s.name); c && c->streams[s.stream].pipe.get() == pfds[i].fd) {
            OnLogReadable(*c, s.stream);
          }
          break;
      }
    }
  }
  return 0;
}

void Supervisor::Accept() {
  for (;;) {
    int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    conns_[next_conn_++].fd.Reset(fd);
  }
}

void Supervisor::OnConnReadable(int id) {
  Conn& c = conns_[id];
  long n = proto::RecvSome(c.fd.get(), c.in, c.fds);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    conns_.erase(id);
    return;
  }
  std::string body;
  bool too_large = false;
  while (conns_.count(id) && proto::TakeFrame(conns_[id].in, body, &too_large)) {
    Handle(id, body, std::move(conns_[id].fds));
    if (conns_.count(id)) conns_[id].fds.clear();
    if (stop_) return;
  }
  if (too_large) conns_.erase(id);
}

void Supervisor::Handle(int id, const std::string& body, std::vector<UniqueFd> fds) {
  json::object req;
  try {
    json::value v = json::parse(body);
    if (!v.is_object()) throw std::runtime_error("not an object");
    req = std::move(v.as_object());
  } catch (const std::exception& e) {
    (void)proto::SendFrame(conns_[id].fd.get(),
                           json::serialize(ErrorReply(Status::BadRequest(e.what()))));
    return;
  }
  std::vector<int> out_fds;
  UniqueFd keep;
  Result<json::object> r = [&]() -> Result<json::object> {
    try {
      return Dispatch(id, req, fds, &out_fds, &keep);
    } catch (const std::exception& e) {
      return Status::BadRequest(std::string("malformed request: ") + e.what());
    }
  }();
  json::object reply = r ? std::move(*r) : ErrorReply(r.error());
  if (r) reply["ok"] = true;
  if (auto it = conns_.find(id); it != conns_.end()) {
    Status s = proto::SendFrame(it->second.fd.get(), json::serialize(reply), out_fds);
    if (!s.ok()) conns_.erase(it);
  }
}

std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

Result<json::object> Supervisor::Dispatch(int id, const json::object& req,
                                          std::vector<UniqueFd>& fds, std::vector<int>* out_fds,
                                          UniqueFd* keep) {
  std::string op = Str(req, "op");
  std::string name = Str(req, "name");
  if (op == "create") return DoCreate(req);
  if (op == "status" || op == "list") return StatusJson();
  if (op == "stop-pod") {
    bool remove_dir = req.contains("removeDir") && req.at("removeDir").as_bool();
    StopAll(remove_dir);
    stop_ = true;
    return json::object{};
  }
  if (op == "exec") return DoExec(id, req, fds, out_fds, keep);
  if (op == "stats") {
    Result<CgroupStats> st = name.empty() ? pod_cgroup_->Stats() : runtime_->Stats(name);
    if (!st) return st.error();
    return json::object{{"stats", StatsJson(*st)}};
  }
  Container* c = Find(name);
  if (c == nullptr) return Status::NotFound("container \"" + name + "\" not found in pod");
  if (op == "start") return DoStart(name);
  if (op == "kill") {
    int sig =
        req.contains("signal") ? static_cast<int>(req.at("signal").to_number<int64_t>()) : SIGTERM;
    if (c->status == "exited") return Status::Conflict("container \"" + name + "\" has exited");
    MINI8S_RETURN_IF_ERROR(
        runtime_->Kill(name, sig, req.contains("all") && req.at("all").as_bool()));
    return json::object{};
  }
  if (op == "remove") return DoRemove(name, req.contains("force") && req.at("force").as_bool());
  return Status::BadRequest("unknown op \"" + op + "\"");
}

// Rewrites the caller's config so that the container joins the pod: the pod's net/ipc/uts
// namespaces by path, its cgroup under the pod's, no hostname of its own.
Result<std::string> PodSpec(const json::object& req, pid_t holder, const std::string& cgroup) {
  std::string text = Str(req, "spec");
  std::string bundle = Str(req, "bundle");
  if (text.empty() == bundle.empty()) return Status::Invalid("give exactly one of spec, bundle");
  if (text.empty()) {
    MINI8S_ASSIGN_OR_RETURN(text, ReadFile(bundle + "/config.json"));
  }
  json::object spec;
  try {
    spec = json::parse(text).as_object();
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("config.json: ") + e.what());
  }
  if (!spec.contains("root") || !spec["root"].is_object()) {
    return Status::Invalid("config.json: root.path is required");
  }
  std::string root = Str(spec["root"].as_object(), "path");
  if (root.empty()) return Status::Invalid("config.json: root.path is required");
  if (root[0] != '/') {
    if (bundle.empty()) return Status::Invalid("config.json: root.path must be absolute");
    char resolved[PATH_MAX];
    if (::realpath(bundle.c_str(), resolved) == nullptr) {
      return Status::FromErrno(errno, "bundle", bundle);
    }
    spec["root"].as_object()["path"] = std::string(resolved) + "/" + root;
  }
  if (!spec.contains("linux") || !spec["linux"].is_object()) spec["linux"] = json::object();
  json::object& lin = spec["linux"].as_object();
  json::array nss;
  bool has_mount = false, has_pid = false;
  if (auto* old = lin.if_contains("namespaces"); old && old->is_array()) {
    for (const json::value& v : old->as_array()) {
      std::string t = Str(v.as_object(), "type");
      if (t == "network" || t == "ipc" || t == "uts") continue;
      has_mount |= t == "mount";
      has_pid |= t == "pid";
      nss.push_back(v);
    }
  }
  if (!has_mount) nss.push_back(json::object{{"type", "mount"}});
  if (!has_pid) nss.push_back(json::object{{"type", "pid"}});
  std::string ns = "/proc/" + std::to_string(holder) + "/ns/";
  nss.push_back(json::object{{"type", "network"}, {"path", ns + "net"}});
  nss.push_back(json::object{{"type", "ipc"}, {"path", ns + "ipc"}});
  nss.push_back(json::object{{"type", "uts"}, {"path", ns + "uts"}});
  lin["namespaces"] = std::move(nss);
  lin["cgroupsPath"] = cgroup;
  spec.erase("hostname");
  return json::serialize(spec);
}

Result<json::object> Supervisor::DoCreate(const json::object& req) {
  std::string name = Str(req, "name");
  if (!ValidName(name)) return Status::Invalid("invalid container name \"" + name + "\"");
  if (Container* old = Find(name)) {
    return Status::AlreadyExists("container \"" + name + "\" exists (" + old->status +
                                 "); remove it first");
  }
  int attempt =
      req.contains("attempt") ? static_cast<int>(req.at("attempt").to_number<int64_t>()) : 0;
  if (attempt < 0) return Status::Invalid("attempt must be >= 0");
  MINI8S_ASSIGN_OR_RETURN(std::string spec,
                          PodSpec(req, ::getpid(), pod_cgroup_path_ + "/" + name));
  std::string cdir = dir_ + "/" + name;
  MINI8S_RETURN_IF_ERROR(MkdirAll(cdir + "/bundle", 0700));
  MINI8S_RETURN_IF_ERROR(WriteFileAtomic(cdir + "/bundle/config.json", spec));

  Container c;
  c.name = name;
  c.attempt = attempt;
  c.log_path = cdir + "/" + std::to_string(attempt) + ".log";
  c.log.Reset(::open(c.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!c.log) return Status::FromErrno(errno, "open", c.log_path);
  UniqueFd write_ends[2];
  for (int i = 0; i < 2; ++i) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
    c.streams[i].pipe.Reset(p[0]);
    write_ends[i].Reset(p[1]);
    ::fcntl(p[0], F_SETFL, O_NONBLOCK);
  }
  CreateOptions co;
  co.stdio = {devnull_.get(), write_ends[0].get(), write_ends[1].get()};
  MINI8S_RETURN_IF_ERROR(runtime_->CreateContainer(name, cdir + "/bundle", co));
  auto st = runtime_->State(name);
  if (!st) {
    (void)runtime_->Delete(name, true);
    return st.error();
  }
  c.pid = st->pid;
  if (auto stats = runtime_->Stats(name)) c.oom_base = stats->oom_kills;
  c.created_at = NowNano();
  WriteState(c);
  json::object out{{"container", c.ToJson()}};
  containers_.emplace(name, std::move(c));
  return out;
}

Result<json::object> Supervisor::DoStart(const std::string& name) {
  Container& c = *Find(name);
  if (c.status != "created") {
    return Status::Conflict("container \"" + name + "\" is " + c.status + ", not created");
  }
  MINI8S_RETURN_IF_ERROR(runtime_->Start(name));
  c.status = "running";
  c.started_at = NowNano();
  WriteState(c);
  return json::object{{"container", c.ToJson()}};
}

Result<json::object> Supervisor::DoRemove(const std::string& name, bool force) {
  Container& c = *Find(name);
  if (c.status == "running" && !force) {
    return Status::Conflict("container \"" + name + "\" is running; kill it or use force");
  }
  if (c.status != "exited") {
    // Kill and reap here, so the exit is recorded (Delete would reap it silently).
    (void)runtime_->Kill(name, SIGKILL, true);
    int status = 0;
    if (::waitpid(c.pid, &status, 0) == c.pid) RecordExit(c, status);
  }
  MINI8S_RETURN_IF_ERROR(runtime_->Delete(name, true));
  DrainLogs(c);
  ::unlink((dir_ + "/" + name + "/state.json").c_str());
  (void)RemoveTree(dir_ + "/" + name + "/bundle");
  json::object out{{"container", c.ToJson()}};
  containers_.erase(name);
  return out;
}

Result<json::object> Supervisor::DoExec(int id, const json::object& req, std::vector<UniqueFd>& fds,
                                        std::vector<int>* out_fds, UniqueFd* master) {
  std::string name = Str(req, "name");
  Container* c = Find(name);
  if (c == nullptr) return Status::NotFound("container \"" + name + "\" not found in pod");
  if (c->status != "running") return Status::Conflict("container \"" + name + "\" is not running");
  ExecOptions eo;
  for (const json::value& v : req.at("args").as_array()) eo.args.emplace_back(v.as_string());
  if (auto* env = req.if_contains("env")) {
    for (const json::value& v : env->as_array()) eo.env.emplace_back(v.as_string());
  }
  eo.cwd = Str(req, "cwd");
  eo.detach = true;
  pid_t pid = 0;
  eo.pid_out = &pid;
  UniqueFd slave;
  if (req.contains("tty") && req.at("tty").as_bool()) {
    master->Reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!*master) return Status::FromErrno(errno, "posix_openpt");
    if (::grantpt(master->get()) != 0 || ::unlockpt(master->get()) != 0) {
      return Status::FromErrno(errno, "unlockpt");
    }
    char name_buf[64];
    if (::ptsname_r(master->get(), name_buf, sizeof name_buf) != 0) {
      return Status::FromErrno(errno, "ptsname");
    }
    slave.Reset(::open(name_buf, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) return Status::FromErrno(errno, "open", name_buf);
    eo.stdio = {slave.get(), slave.get(), slave.get()};
    eo.tty = true;
  } else {
    for (int i = 0; i < 3; ++i) {
      eo.stdio[i] = i < static_cast<int>(fds.size()) && fds[i] ? fds[i].get() : devnull_.get();
    }
  }
  MINI8S_RETURN_IF_ERROR(runtime_->Exec(name, eo).status());
  execs_[pid] = id;
  if (*master) out_fds->push_back(master->get());
  return json::object{{"pid", pid}};
}

void Supervisor::OnSignal() {
  signalfd_siginfo si;
  bool term = false;
  while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) term = true;
  }
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) Reap(pid, status);
  if (term) {
    StopAll(false);
    stop_ = true;
  }
}

void Supervisor::Reap(pid_t pid, int status) {
  for (auto& [name, c] : containers_) {
    if (c.pid == pid && c.status != "exited") {
      RecordExit(c, status);
      return;
    }
  }
  auto it = execs_.find(pid);
  if (it == execs_.end()) return;
  json::object exit{
      {"exitCode", WIFEXITED(status) ? WEXITSTATUS(status)
                                     : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0)},
      {"signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0}};
  if (auto conn = conns_.find(it->second); conn != conns_.end()) {
    (void)proto::SendFrame(conn->second.fd.get(), json::serialize(json::object{{"exit", exit}}));
  }
  execs_.erase(it);
}

void Supervisor::RecordExit(Container& c, int status) {
  if (WIFEXITED(status)) {
    c.exit_code = WEXITSTATUS(status);
    c.signal = 0;
  } else if (WIFSIGNALED(status)) {
    c.signal = WTERMSIG(status);
    c.exit_code = 128 + c.signal;
  }
  c.finished_at = NowNano();
  // An OOM kill in the container's cgroup since it was created, and the init died of SIGKILL
  // (kubelet's OOMKilled has the same meaning).
  if (auto stats = runtime_->Stats(c.name)) {
    c.oom_killed = stats->oom_kills > c.oom_base && c.signal == SIGKILL;
  }
  c.status = "exited";
  WriteState(c);
}

void Supervisor::OnLogReadable(Container& c, int stream) {
  LogStream& s = c.streams[stream];
  char buf[65536];
  ssize_t n = ::read(s.pipe.get(), buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // EOF: every writer is gone. A last line without a newline is still a full record.
    if (!s.partial.empty()) EmitLog(c, s.name, 'F', s.partial);
    s.partial.clear();
    s.pipe.Reset();
    return;
  }
  std::string_view data(buf, static_cast<size_t>(n));
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    s.partial.append(piece);
    while (s.partial.size() > kMaxLogLine) {
      EmitLog(c, s.name, 'P', std::string_view(s.partial).substr(0, kMaxLogLine));
      s.partial.erase(0, kMaxLogLine);
    }
    if (nl == std::string_view::npos) break;
    EmitLog(c, s.name, 'F', s.partial);
    s.partial.clear();
    data.remove_prefix(nl + 1);
  }
}

void Supervisor::DrainLogs(Container& c) {
  for (int i = 0; i < 2; ++i) {
    // The writers are dead by now; read to EOF (or to "nothing more", if one leaked).
    for (int rounds = 0; c.streams[i].pipe && rounds < 1024; ++rounds) {
      pollfd p{c.streams[i].pipe.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      OnLogReadable(c, i);
    }
    if (!c.streams[i].partial.empty()) EmitLog(c, c.streams[i].name, 'F', c.streams[i].partial);
    c.streams[i].partial.clear();
    c.streams[i].pipe.Reset();
  }
}

void Supervisor::EmitLog(Container& c, const char* stream, char tag, std::string_view text) {
  std::string line = NowNano();
  line += ' ';
  line += stream;
  line += ' ';
  line += tag;
  line += ' ';
  line.append(text);
  line += '\n';
  // One write per record: O_APPEND keeps records whole for concurrent readers.
  if (::write(c.log.get(), line.data(), line.size()) < 0) {
    std::fprintf(stderr, "supervisor: write %s: %s\n", c.log_path.c_str(), std::strerror(errno));
  }
}

void Supervisor::WriteState(const Container& c) {
  Status s =
      WriteFileAtomic(dir_ + "/" + c.name + "/state.json", json::serialize(c.ToJson()), 0644);
  if (!s.ok()) std::fprintf(stderr, "supervisor: %s\n", s.ToString().c_str());
}

void Supervisor::StopAll(bool remove_dir) {
  for (auto& [name, c] : containers_) {
    if (c.status != "exited") (void)runtime_->Kill(name, SIGKILL, true);
  }
  // Reap every child (container inits and execs); they were all in the killed cgroups.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      Reap(pid, status);
      continue;
    }
    if (pid < 0 || std::chrono::steady_clock::now() > deadline) break;  // ECHILD: all reaped
    ::usleep(1000);
  }
  for (auto& [name, c] : containers_) {
    Status s = runtime_->Delete(name, true);
    if (!s.ok())
      std::fprintf(stderr, "supervisor: delete %s: %s\n", name.c_str(), s.ToString().c_str());
    DrainLogs(c);
    (void)RemoveTree(dir_ + "/" + name + "/bundle");
  }
  Status s = pod_cgroup_->Destroy();
  if (!s.ok()) std::fprintf(stderr, "supervisor: %s\n", s.ToString().c_str());
  (void)RemoveTree(dir_ + "/.runtime");
  ::unlink(sock_path_.c_str());
  ::unlink((dir_ + "/supervisor.json").c_str());
  if (remove_dir) (void)RemoveTree(dir_);
}

struct Flags {
  SupervisorOptions opts;
  bool foreground = false;
  bool cleanup = false;
  std::string error;
};

Flags ParseSuperviseFlags(const std::vector<std::string>& args) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        f.error = a + " needs a value";
        return "";
      }
      return args[++i];
    };
    if (a == "--pod") {
      f.opts.pod_uid = value();
    } else if (a == "--root") {
      f.opts.root = value();
    } else if (a == "--cgroup-parent") {
      f.opts.cgroup_parent = value();
    } else if (a == "--hostname") {
      f.opts.hostname = value();
    } else if (a == "--binary") {
      f.opts.binary = value();
    } else if (a == "--foreground") {
      f.foreground = true;
    } else if (a == "--force-cleanup") {
      f.cleanup = true;
    } else {
      f.error = "unknown flag " + a;
    }
  }
  if (f.error.empty() && f.opts.pod_uid.empty()) f.error = "--pod is required";
  return f;
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

}  // namespace

int SuperviseMain(const std::vector<std::string>& args) {
  Flags f = ParseSuperviseFlags(args);
  if (!f.error.empty()) {
    std::fprintf(stderr, "mini8s runtime supervise: %s\n", f.error.c_str());
    return 2;
  }
  if (f.opts.root[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) != nullptr) f.opts.root = std::string(cwd) + "/" + f.opts.root;
  }
  if (f.cleanup) {
    // The pod's `delete --force`: for a supervisor that is gone or does not answer.
    Status s = PodSupervisorClient::ForceCleanup(f.opts.root, f.opts.pod_uid, f.opts.cgroup_parent);
    if (!s.ok()) {
      std::fprintf(stderr, "mini8s runtime supervise: %s\n", s.ToString().c_str());
      return 1;
    }
    return 0;
  }
  if (f.foreground) {
    auto s = Supervisor::Create(f.opts);
    if (!s) {
      std::fprintf(stderr, "mini8s runtime supervise: %s\n", s.error().ToString().c_str());
      return 1;
    }
    std::printf("%d\n", ::getpid());
    std::fflush(stdout);
    return (*s)->Run();
  }
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    std::perror("mini8s runtime supervise: pipe");
    return 1;
  }
  std::fflush(nullptr);
  pid_t child = ::fork();
  if (child < 0) {
    std::perror("mini8s runtime supervise: fork");
    return 1;
  }
  if (child > 0) {
    ::close(ready[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = ::read(ready[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) msg.append(buf, static_cast<size_t>(n));
    }
    ::close(ready[0]);
    ::waitpid(child, nullptr, 0);
    if (msg.starts_with("ok ")) {
      std::printf("%s", msg.substr(3).c_str());
      return 0;
    }
    std::fprintf(stderr, "mini8s runtime supervise: %s\n",
                 msg.empty() ? "the supervisor died while starting" : msg.c_str());
    return 1;
  }
  // A new session, then a second fork: the supervisor is nobody's child but init's (or the
  // nearest subreaper's), so it survives whoever asked for it.
  ::close(ready[0]);
  ::setsid();
  pid_t grandchild = ::fork();
  if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
  int rfd = ready[1];
  // Nothing of the caller's may stay open here (its pipes would never see EOF).
  if (rfd > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(rfd - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(rfd + 1), ~0u, 0u);
  if (::chdir("/") != 0) ::_exit(1);
  ::umask(022);
  int devnull = ::open("/dev/null", O_RDWR);
  ::dup2(devnull, 0);
  ::dup2(devnull, 1);
  Status mk = MkdirAll(PodDir(f.opts.root, f.opts.pod_uid), 0711);
  int log = ::open((PodDir(f.opts.root, f.opts.pod_uid) + "/supervisor.log").c_str(),
                   O_WRONLY | O_CREAT | O_APPEND, 0640);
  ::dup2(log >= 0 ? log : devnull, 2);
  if (log > 2) ::close(log);
  if (devnull > 2) ::close(devnull);
  if (!mk.ok()) {
    WriteAll(rfd, mk.ToString());
    ::_exit(1);
  }
  auto s = Supervisor::Create(f.opts);
  if (!s) {
    WriteAll(rfd, s.error().ToString());
    ::_exit(1);
  }
  WriteAll(rfd, "ok " + std::to_string(::getpid()) + "\n");
  ::close(rfd);
  ::_exit((*s)->Run());
}

}  // namespace mini8s::runtime
