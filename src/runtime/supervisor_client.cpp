// PodSupervisorClient: the caller's side of the supervisor protocol (supervisor.h).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <boost/json.hpp>

#include "mini8s/runtime/supervisor.h"
#include "runtime/fs_util.h"
#include "runtime/supervisor_proto.h"

namespace mini8s::runtime {
namespace {

namespace json = boost::json;

Status StatusFromReply(const json::object& o) {
  std::string code = o.contains("code") ? std::string(o.at("code").as_string()) : "Internal";
  std::string msg = o.contains("message") ? std::string(o.at("message").as_string()) : "";
  for (int c = 0; c <= static_cast<int>(Code::kInternal); ++c) {
    if (CodeName(static_cast<Code>(c)) == code && c != 0) return Status(static_cast<Code>(c), msg);
  }
  return Status::Internal(msg);
}

// Sends one request and reads its response.
Result<json::object> Call(int sock, std::string& pending, const json::object& req,
                          const std::vector<int>& fds = {}, std::vector<UniqueFd>* got = nullptr) {
  MINI8S_RETURN_IF_ERROR(proto::SendFrame(sock, json::serialize(req), fds));
  MINI8S_ASSIGN_OR_RETURN(std::string body, proto::RecvFrame(sock, pending, got));
  try {
    json::object o = json::parse(body).as_object();
    if (!o.contains("ok") || !o.at("ok").as_bool()) return StatusFromReply(o);
    return o;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("bad supervisor reply: ") + e.what());
  }
}

SupervisedContainer ContainerFromJson(const json::object& o) {
  SupervisedContainer c;
  auto str = [&](const char* k) {
    return o.contains(k) ? std::string(o.at(k).as_string()) : std::string();
  };
  auto num = [&](const char* k) {
    return o.contains(k) ? static_cast<int>(o.at(k).to_number<int64_t>()) : 0;
  };
  c.name = str("name");
  c.attempt = num("attempt");
  c.status = str("status");
  c.pid = num("pid");
  c.exit_code = num("exitCode");
  c.signal = num("signal");
  c.oom_killed = o.contains("oomKilled") && o.at("oomKilled").as_bool();
  c.created_at = str("createdAt");
  c.started_at = str("startedAt");
  c.finished_at = str("finishedAt");
  c.log_path = str("logPath");
  return c;
}

Result<UniqueFd> Dial(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Status::Invalid("socket path too long: " + path);
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status::FromErrno(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      return Status::Unavailable("no supervisor at " + path);
    }
    return Status::FromErrno(errno, "connect", path);
  }
  return fd;
}

bool SameProcess(pid_t pid, const std::string& start_time) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string_view start = ProcStatField(*stat, 22);
  return !start.empty() && start == start_time && ProcStatField(*stat, 3) != "Z";
}

}  // namespace

Result<ExitInfo> ExecSession::Wait() {
  MINI8S_ASSIGN_OR_RETURN(std::string body, proto::RecvFrame(conn_.get(), pending_, nullptr));
  try {
    json::object o = json::parse(body).as_object();
    const json::object& e = o.at("exit").as_object();
    ExitInfo info;
    info.exit_code = static_cast<int>(e.at("exitCode").to_number<int64_t>());
    info.signal = static_cast<int>(e.at("signal").to_number<int64_t>());
    return info;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("bad exec exit message: ") + e.what());
  }
}

Result<pid_t> PodSupervisorClient::Launch(const SupervisorOptions& o) {
  std::vector<std::string> args = {o.binary,        "runtime",  "supervise", "--pod",
                                   o.pod_uid,       "--root",   o.root,      "--cgroup-parent",
                                   o.cgroup_parent, "--binary", o.binary};
  if (!o.hostname.empty()) args.insert(args.end(), {"--hostname", o.hostname});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd rd(out[0]), wr(out[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  pid_t pid = 0;
  char* envp[] = {nullptr};
  int rc = ::posix_spawn(&pid, o.binary.c_str(), &fa, nullptr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Status::FromErrno(rc, "spawn", o.binary);
  wr.Reset();
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = ::read(rd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return Status::Internal("starting the pod supervisor failed: " + text);
  }
  return static_cast<pid_t>(std::atoi(text.c_str()));
}

Result<std::unique_ptr<PodSupervisorClient>> PodSupervisorClient::Connect(
    const std::string& socket_path) {
  MINI8S_ASSIGN_OR_RETURN(UniqueFd fd, Dial(socket_path));
  return std::unique_ptr<PodSupervisorClient>(new PodSupervisorClient(socket_path, std::move(fd)));
}

Status PodSupervisorClient::CreateContainer(const ContainerRequest& req) {
  json::object o{{"op", "create"}, {"name", req.name}, {"attempt", req.attempt}};
  if (!req.spec_json.empty()) o["spec"] = req.spec_json;
  if (!req.bundle.empty()) o["bundle"] = req.bundle;
  return Call(conn_.get(), pending_, o).status();
}

Status PodSupervisorClient::Start(const std::string& name) {
  return Call(conn_.get(), pending_, {{"op", "start"}, {"name", name}}).status();
}

Status PodSupervisorClient::Kill(const std::string& name, int signal) {
  return Call(conn_.get(), pending_, {{"op", "kill"}, {"name", name}, {"signal", signal}}).status();
}

Status PodSupervisorClient::Remove(const std::string& name, bool force) {
  return Call(conn_.get(), pending_, {{"op", "remove"}, {"name", name}, {"force", force}}).status();
}

Result<PodStatus> PodSupervisorClient::GetStatus() {
  MINI8S_ASSIGN_OR_RETURN(json::object o, Call(conn_.get(), pending_, {{"op", "status"}}));
  try {
    PodStatus s;
    s.supervisor_pid = static_cast<pid_t>(o.at("supervisorPid").to_number<int64_t>());
    s.cgroup = o.at("cgroup").as_string();
    s.net_ns = o.at("netns").as_string();
    s.ipc_ns = o.at("ipcns").as_string();
    s.uts_ns = o.at("utsns").as_string();
    for (const json::value& v : o.at("containers").as_array()) {
      s.containers.push_back(ContainerFromJson(v.as_object()));
    }
    return s;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("bad supervisor status: ") + e.what());
  }
}

Result<CgroupStats> PodSupervisorClient::Stats(const std::string& name) {
  MINI8S_ASSIGN_OR_RETURN(json::object o,
                          Call(conn_.get(), pending_, {{"op", "stats"}, {"name", name}}));
  try {
    const json::object& s = o.at("stats").as_object();
    CgroupStats out;
    out.cpu_usage_ns = s.at("cpuUsageNanos").to_number<uint64_t>();
    out.memory_usage = s.at("memoryUsage").to_number<uint64_t>();
    out.memory_working_set = s.at("memoryWorkingSet").to_number<uint64_t>();
    out.oom_kills = s.at("oomKills").to_number<uint64_t>();
    out.pids_current = s.at("pidsCurrent").to_number<uint64_t>();
    return out;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("bad supervisor stats: ") + e.what());
  }
}

Result<std::unique_ptr<ExecSession>> PodSupervisorClient::Exec(const ExecRequest& req) {
  // A connection of its own: the exit message arrives on it whenever the process ends.
  MINI8S_ASSIGN_OR_RETURN(UniqueFd conn, Dial(socket_path_));
  json::array args, env;
  for (const std::string& a : req.args) args.emplace_back(a);
  for (const std::string& e : req.env) env.emplace_back(e);
  json::object o{{"op", "exec"}, {"name", req.container}, {"args", args},
                 {"env", env},   {"cwd", req.cwd},        {"tty", req.tty}};
  std::vector<int> fds;
  UniqueFd devnull;
  if (!req.tty) {
    devnull.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    for (int fd : {req.stdin_fd, req.stdout_fd, req.stderr_fd}) {
      fds.push_back(fd >= 0 ? fd : devnull.get());
    }
  }
  std::string pending;
  std::vector<UniqueFd> got;
  MINI8S_ASSIGN_OR_RETURN(json::object r, Call(conn.get(), pending, o, fds, &got));
  UniqueFd master;
  if (req.tty) {
    if (got.empty()) return Status::Internal("supervisor sent no pty master");
    master = std::move(got[0]);
  }
  pid_t pid = static_cast<pid_t>(r.at("pid").to_number<int64_t>());
  return std::make_unique<ExecSession>(std::move(conn), std::move(pending), std::move(master), pid);
}

Status PodSupervisorClient::StopPod(bool remove_dir) {
  return Call(conn_.get(), pending_, {{"op", "stop-pod"}, {"removeDir", remove_dir}}).status();
}

Status PodSupervisorClient::ForceCleanup(const std::string& root, const std::string& pod_uid,
                                         const std::string& cgroup_parent) {
  std::string dir = PodDir(root, pod_uid);
  if (auto info = ReadFile(dir + "/supervisor.json")) {
    try {
      json::object o = json::parse(*info).as_object();
      pid_t pid = static_cast<pid_t>(o.at("pid").to_number<int64_t>());
      std::string start = std::string(o.at("pidStartTime").as_string());
      if (SameProcess(pid, start)) {
        ::kill(pid, SIGKILL);
        for (int i = 0; i < 5000 && SameProcess(pid, start); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    } catch (const std::exception&) {
      // A torn file: the cgroup sweep below still removes the pod's processes.
    }
  }
  MINI8S_ASSIGN_OR_RETURN(std::unique_ptr<CgroupManager> cgroups, CgroupManager::ForHost());
  std::string pod_path = PodCgroupPath(cgroup_parent, pod_uid);
  auto pod = cgroups->Open(pod_path);
  if (pod) {
    // Container cgroups are the pod cgroup's children in every hierarchy.
    std::vector<std::string> children;
    for (const auto& [key, host_dir] : (*pod)->HostDirs()) {
      DIR* d = ::opendir(host_dir.c_str());
      if (d == nullptr) continue;
      while (dirent* e = ::readdir(d)) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') children.emplace_back(e->d_name);
      }
      ::closedir(d);
    }
    std::sort(children.begin(), children.end());
    children.erase(std::unique(children.begin(), children.end()), children.end());
    for (const std::string& c : children) {
      auto cg = cgroups->Open(pod_path + "/" + c);
      if (!cg) continue;
      MINI8S_RETURN_IF_ERROR((*cg)->Kill());
      MINI8S_RETURN_IF_ERROR((*cg)->Destroy());
    }
    MINI8S_RETURN_IF_ERROR((*pod)->Kill());
    MINI8S_RETURN_IF_ERROR((*pod)->Destroy());
  } else if (pod.error().code() != Code::kNotFound) {
    return pod.error();
  }
  Status rm = RemoveTree(dir);
  return rm.code() == Code::kNotFound ? Status() : rm;
}

}  // namespace mini8s::runtime
