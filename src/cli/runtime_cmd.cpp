// `mini8s runtime`: an OCI-runtime-style command line (what runc and crun users expect) over the
// runtime library. `mini8s runtime init` is the hidden entry point of a container's init.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json.hpp>

#include "cli/commands.h"
#include "mini8s/runtime/runtime.h"
#include "mini8s/runtime/seccomp.h"
#include "mini8s/runtime/supervisor.h"

namespace mini8s::cli {
namespace {

namespace rt = mini8s::runtime;

constexpr char kUsage[] =
    "Usage: mini8s runtime [--root DIR] <command> [flags] <container-id>\n"
    "\n"
    "An OCI runtime: creates containers from bundles (a directory with config.json and a rootfs).\n"
    "\n"
    "Commands:\n"
    "  create [--bundle DIR] [--pid-file FILE] ID   create a container, stopped before its process\n"
    "  start ID                                     run the process of a created container\n"
    "  state ID                                     print the OCI state JSON\n"
    "  kill [--all] ID [SIGNAL]                     signal the container (default SIGTERM)\n"
    "  delete [--force] ID                          remove a container and all it holds\n"
    "  run [--bundle DIR] [--pid-file FILE] [--detach] ID\n"
    "                                               create, start, wait and delete\n"
    "  exec [--process FILE] [--env K=V] [--cwd DIR] [--detach] [--pid-file FILE] ID CMD...\n"
    "                                               run another process in a running container\n"
    "  list [--format table|json] [--quiet]         list containers\n"
    "  ps [--format table|json] ID                  list the container's host pids\n"
    "  stats ID                                     print cgroup usage as JSON\n"
    "  spec [--bundle DIR] [--seccomp] [CMD...]     write a default config.json\n"
    "\n"
    "Global flags:\n"
    "  --root DIR   state directory (default /run/mini8s/runtime)\n";

int Fail(const std::string& cmd, const Status& s) {
  std::fprintf(stderr, "mini8s runtime %s: %s\n", cmd.c_str(), s.message().c_str());
  return 1;
}

int Usage(const std::string& message) { return UsageError("runtime", message); }

// Flag parsing shared by the subcommands: known value flags, known boolean flags, positionals.
struct Parsed {
  std::map<std::string, std::vector<std::string>> values;
  std::map<std::string, bool> bools;
  std::vector<std::string> positional;
  std::string error;

  std::string Get(const std::string& k) const {
    auto it = values.find(k);
    return it == values.end() || it->second.empty() ? "" : it->second.back();
  }
  bool Has(const std::string& k) const {
    auto it = bools.find(k);
    return it != bools.end() && it->second;
  }
};

struct FlagSpec {
  const char* long_name;
  const char* short_name;
  bool takes_value;
};

// Stops at the first positional once `stop_after` positionals were seen (exec's command).
Parsed ParseFlags(const Args& args, size_t from, std::initializer_list<FlagSpec> flags,
                  size_t stop_after = SIZE_MAX) {
  Parsed p;
  for (size_t i = from; i < args.size(); ++i) {
    std::string a = args[i];
    if (p.positional.size() >= stop_after) {
      p.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      p.positional.insert(p.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string name = a, value;
      bool has_inline = false;
      if (size_t eq = a.find('='); eq != std::string::npos && a.starts_with("--")) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_inline = true;
      }
      const FlagSpec* f = nullptr;
      for (const FlagSpec& s : flags) {
        if (name == s.long_name || (s.short_name && name == s.short_name)) f = &s;
      }
      if (f == nullptr) {
        p.error = "unknown flag " + name;
        return p;
      }
      if (f->takes_value) {
        if (!has_inline) {
          if (i + 1 >= args.size()) {
            p.error = "flag " + name + " needs a value";
            return p;
          }
          value = args[++i];
        }
        p.values[f->long_name].push_back(value);
      } else {
        p.bools[f->long_name] = true;
      }
      continue;
    }
    p.positional.push_back(a);
  }
  return p;
}

Result<int> ParseSignal(std::string s) {
  if (s.empty()) return SIGTERM;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) {
    int n = std::atoi(s.c_str());
    if (n <= 0 || n >= NSIG) return Status::Invalid("invalid signal " + s);
    return n;
  }
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.starts_with("SIG")) s = s.substr(3);
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = sigabbrev_np(n);
    if (abbrev != nullptr && s == abbrev) return n;
  }
  return Status::Invalid("unknown signal " + s);
}

std::string ReadText(const std::string& path, Status& st) {
  std::ifstream in(path);
  if (!in) {
    st = Status::NotFound("cannot read " + path);
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RuntimeSpec(const Args& args, size_t from) {
  Parsed p = ParseFlags(args, from, {{"--bundle", "-b", true}, {"--seccomp", nullptr, false}});
  if (!p.error.empty()) return Usage(p.error);
  std::string bundle = p.Get("--bundle").empty() ? "." : p.Get("--bundle");
  std::vector<std::string> cmd = p.positional.empty() ? std::vector<std::string>{"sh"}
                                                       : p.positional;
  std::string path = bundle + "/config.json";
  std::ofstream out(path, std::ios::trunc);
  out << rt::DefaultSpecJson(cmd, p.Has("--seccomp")) << "\n";
  if (!out) return Fail("spec", Status::Internal("cannot write " + path));
  return 0;
}

}  // namespace

int RunRuntime(const Args& args) {
  rt::RuntimeOptions opts;
  // This command line is single-threaded: the container init can run in the cloned child.
  opts.init_in_process = true;
  size_t i = 0;
  // Global flags (runc's --log, --log-format and --debug are accepted for compatibility).
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--root" && i + 1 < args.size()) {
      opts.state_root = args[++i];
    } else if (a.starts_with("--root=")) {
      opts.state_root = a.substr(7);
    } else if ((a == "--log" || a == "--log-format") && i + 1 < args.size()) {
      ++i;
    } else if (a.starts_with("--log=") || a.starts_with("--log-format=") || a == "--debug" ||
               a == "--systemd-cgroup") {
      continue;
    } else {
      break;
    }
  }
  if (i >= args.size()) return Usage("missing command");
  const std::string cmd = args[i];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  if (cmd == "init") {
    // The container init path: everything after "init" belongs to it.
    return rt::InitMain(Args(args.begin() + static_cast<long>(i) + 1, args.end()));
  }
  if (cmd == "spec") return RuntimeSpec(args, i + 1);
  if (cmd == "supervise") {
    // Hidden: the pod supervisor (started by the agent through PodSupervisorClient::Launch).
    return rt::SuperviseMain(Args(args.begin() + static_cast<long>(i) + 1, args.end()));
  }

  auto make = [&]() -> Result<std::unique_ptr<rt::Runtime>> {
    return rt::Runtime::Create(std::move(opts));
  };
  auto need_id = [&](const Parsed& p, size_t max) -> std::string {
    if (p.positional.empty() || p.positional.size() > max) return "";
    return p.positional[0];
  };

  if (cmd == "create" || cmd == "run") {
    Parsed p = ParseFlags(args, i + 1,
                          {{"--bundle", "-b", true},
                           {"--pid-file", nullptr, true},
                           {"--console-socket", nullptr, true},
                           {"--detach", "-d", false},
                           {"--no-pivot", nullptr, false},
                           {"--no-new-keyring", nullptr, false}});
    if (!p.error.empty()) return Usage(p.error);
    std::string id = need_id(p, 1);
    if (id.empty()) return Usage(cmd + " needs exactly one container id");
    if (!p.Get("--console-socket").empty()) {
      return Fail(cmd, Status::Invalid("terminals (--console-socket) are not supported"));
    }
    auto r = make();
    if (!r) return Fail(cmd, r.error());
    std::string bundle = p.Get("--bundle").empty() ? "." : p.Get("--bundle");
    rt::CreateOptions co{p.Get("--pid-file")};
    if (cmd == "create" || p.Has("--detach")) {
      Status s = (*r)->CreateContainer(id, bundle, co);
      if (s.ok() && cmd == "run") s = (*r)->Start(id);
      return s.ok() ? 0 : Fail(cmd, s);
    }
    auto e = (*r)->Run(id, bundle, co);
    if (!e) return Fail(cmd, e.error());
    if (e->oom_killed) std::fprintf(stderr, "mini8s runtime run: container %s: OOMKilled\n", id.c_str());
    return e->exit_code;
  }
  if (cmd == "start" || cmd == "state" || cmd == "stats") {
    Parsed p = ParseFlags(args, i + 1, {});
    if (!p.error.empty()) return Usage(p.error);
    std::string id = need_id(p, 1);
    if (id.empty()) return Usage(cmd + " needs exactly one container id");
    auto r = make();
    if (!r) return Fail(cmd, r.error());
    if (cmd == "start") {
      Status s = (*r)->Start(id);
      return s.ok() ? 0 : Fail(cmd, s);
    }
    if (cmd == "state") {
      auto st = (*r)->State(id);
      if (!st) return Fail(cmd, st.error());
      std::printf("%s\n", st->ToJson().c_str());
      return 0;
    }
    auto st = (*r)->Stats(id);
    if (!st) return Fail(cmd, st.error());
    std::printf("{\"cpuUsageNanos\":%llu,\"memoryUsageBytes\":%llu,\"memoryWorkingSetBytes\":%llu,"
                "\"oomKills\":%llu,\"pids\":%llu}\n",
                static_cast<unsigned long long>(st->cpu_usage_ns),
                static_cast<unsigned long long>(st->memory_usage),
                static_cast<unsigned long long>(st->memory_working_set),
                static_cast<unsigned long long>(st->oom_kills),
                static_cast<unsigned long long>(st->pids_current));
    return 0;
  }
  if (cmd == "kill") {
    Parsed p = ParseFlags(args, i + 1, {{"--all", "-a", false}});
    if (!p.error.empty()) return Usage(p.error);
    std::string id = need_id(p, 2);
    if (id.empty()) return Usage("kill needs a container id and an optional signal");
    auto sig = ParseSignal(p.positional.size() > 1 ? p.positional[1] : "");
    if (!sig) return Fail(cmd, sig.error());
    auto r = make();
    if (!r) return Fail(cmd, r.error());
    Status s = (*r)->Kill(id, *sig, p.Has("--all"));
    return s.ok() ? 0 : Fail(cmd, s);
  }
  if (cmd == "delete") {
    Parsed p = ParseFlags(args, i + 1, {{"--force", "-f", false}});
    if (!p.error.empty()) return Usage(p.error);
    std::string id = need_id(p, 1);
    if (id.empty()) return Usage("delete needs exactly one container id");
    auto r = make();
    if (!r) return Fail(cmd, r.error());
    Status s = (*r)->Delete(id, p.Has("--force"));
    return s.ok() ? 0 : Fail(cmd, s);
  }
  if (cmd == "exec") {
    Parsed p = ParseFlags(args, i + 1,
                          {{"--process", "-p", true},
                           {"--env", "-e", true},
                           {"--cwd", nullptr, true},
                           {"--detach", "-d", false},
                           {"--pid-file", nullptr, true},
                           {"--tty", "-t", false}},
                          1);
    if (!p.error.empty()) return Usage(p.error);
    if (p.positional.empty()) return Usage("exec needs a container id");
    if (p.Has("--tty")) return Fail(cmd, Status::Invalid("terminals are not supported"));
    rt::ExecOptions eo;
    eo.args.assign(p.positional.begin() + 1, p.positional.end());
    if (auto it = p.values.find("--env"); it != p.values.end()) eo.env = it->second;
    eo.cwd = p.Get("--cwd");
    eo.detach = p.Has("--detach");
    eo.pid_file = p.Get("--pid-file");
    if (!p.Get("--process").empty()) {
      Status st;
      eo.process_json = ReadText(p.Get("--process"), st);
      if (!st.ok()) return Fail(cmd, st);
    }
    auto r = make();
    if (!r) return Fail(cmd, r.error());
    auto e = (*r)->Exec(p.positional[0], eo);
    if (!e) return Fail(cmd, e.error());
    return e->exit_code;
  }
  if (cmd == "list" || cmd == "ps") {
    Parsed p = ParseFlags(args, i + 1, {{"--format", "-f", true}, {"--quiet", "-q", false}});
    if (!p.error.empty()) return Usage(p.error);
    std::string format = p.Get("--format").empty() ? "table" : p.Get("--format");
    if (format != "table" && format != "json") return Usage("--format must be table or json");
    auto r = make();
    if (!r) return Fail(cmd, r.error());
    if (cmd == "ps") {
      std::string id = need_id(p, 1);
      if (id.empty()) return Usage("ps needs exactly one container id");
      auto pids = (*r)->Ps(id);
      if (!pids) return Fail(cmd, pids.error());
      if (format == "json") {
        boost::json::array a;
        for (pid_t pid : *pids) a.emplace_back(pid);
        std::printf("%s\n", boost::json::serialize(a).c_str());
      } else {
        std::printf("PID\n");
        for (pid_t pid : *pids) std::printf("%d\n", pid);
      }
      return 0;
    }
    if (!p.positional.empty()) return Usage("list takes no arguments");
    auto list = (*r)->List();
    if (!list) return Fail(cmd, list.error());
    if (p.Has("--quiet")) {
      for (const auto& c : *list) std::printf("%s\n", c.id.c_str());
    } else if (format == "json") {
      std::string out = "[";
      for (size_t k = 0; k < list->size(); ++k) out += (k ? "," : "") + (*list)[k].ToJson();
      std::printf("%s]\n", out.c_str());
    } else {
      std::printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
      for (const auto& c : *list) {
        std::printf("%-20s %-8d %-10s %-40s %s\n", c.id.c_str(),
                    c.status == rt::ContainerStatus::kStopped ? 0 : c.pid,
                    std::string(rt::ContainerStatusName(c.status)).c_str(), c.bundle.c_str(),
                    c.created.c_str());
      }
    }
    return 0;
  }
  return Usage("unknown command \"" + cmd + "\"");
}

}  // namespace mini8s::cli
