#include "mini8s/runtime/spec.h"

#include <sys/mount.h>
#include <sys/resource.h>

#include <array>
#include <cerrno>

#include <boost/json.hpp>

#include "runtime/fs_util.h"
#include "runtime/seccomp_profile.h"

namespace mini8s::runtime {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, kLastCap + 1> kCapNames = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",    "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",            "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",         "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",       "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",        "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",     "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",       "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",      "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};

struct RlimitName {
  std::string_view name;
  int resource;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

// Small typed accessors that turn a shape mismatch into a field-path error.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}
  Status Fail(const std::string& field, const std::string& why) const {
    return Status::Invalid("config.json: " + path_ + field + ": " + why);
  }
  std::string Path(const std::string& field) const { return path_ + field; }

  Result<const json::object*> Object(const json::object& o, const char* key, bool required) const {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) {
      if (required) return Fail(key, "is required");
      return static_cast<const json::object*>(nullptr);
    }
    if (!it->value().is_object()) return Fail(key, "must be an object");
    return &it->value().get_object();
  }
  Result<const json::array*> Array(const json::object& o, const char* key) const {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return static_cast<const json::array*>(nullptr);
    if (!it->value().is_array()) return Fail(key, "must be an array");
    return &it->value().get_array();
  }
  Status String(const json::object& o, const char* key, std::string& out) const {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return Status();
    if (!it->value().is_string()) return Fail(key, "must be a string");
    out = std::string(it->value().get_string());
    return Status();
  }
  Status Bool(const json::object& o, const char* key, bool& out) const {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return Status();
    if (!it->value().is_bool()) return Fail(key, "must be a boolean");
    out = it->value().get_bool();
    return Status();
  }
  template <class T>
  Status Int(const json::object& o, const char* key, std::optional<T>& out) const {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return Status();
    const json::value& v = it->value();
    if (v.is_int64()) {
      int64_t x = v.get_int64();
      if constexpr (std::is_unsigned_v<T>) {
        if (x < 0) return Fail(key, "must not be negative");
      }
      out = static_cast<T>(x);
    } else if (v.is_uint64()) {
      out = static_cast<T>(v.get_uint64());
    } else {
      return Fail(key, "must be an integer");
    }
    return Status();
  }
  Status StringList(const json::object& o, const char* key, std::vector<std::string>& out) const {
    MINI8S_ASSIGN_OR_RETURN(const json::array* a, Array(o, key));
    if (a == nullptr) return Status();
    out.clear();
    for (const json::value& v : *a) {
      if (!v.is_string()) return Fail(key, "must be an array of strings");
      out.emplace_back(v.get_string());
    }
    return Status();
  }

 private:
  std::string path_;
};

Result<uint64_t> CapList(const Reader& r, const json::object& o, const char* key) {
  std::vector<std::string> names;
  MINI8S_RETURN_IF_ERROR(r.StringList(o, key, names));
  uint64_t mask = 0;
  for (const std::string& n : names) {
    auto cap = CapabilityFromName(n);
    if (!cap) return r.Fail(key, cap.error().message());
    mask |= uint64_t{1} << *cap;
  }
  return mask;
}

Result<Process> ParseProcessObject(const json::object& o, const std::string& prefix) {
  Reader r(prefix);
  Process p;
  MINI8S_RETURN_IF_ERROR(r.Bool(o, "terminal", p.terminal));
  if (p.terminal) return r.Fail("terminal", "terminals are not supported by mini8s runtime");
  MINI8S_ASSIGN_OR_RETURN(const json::object* user, r.Object(o, "user", false));
  if (user != nullptr) {
    Reader ur(prefix + "user.");
    std::optional<uint32_t> uid, gid, umask;
    MINI8S_RETURN_IF_ERROR(ur.Int(*user, "uid", uid));
    MINI8S_RETURN_IF_ERROR(ur.Int(*user, "gid", gid));
    MINI8S_RETURN_IF_ERROR(ur.Int(*user, "umask", umask));
    p.user.uid = uid.value_or(0);
    p.user.gid = gid.value_or(0);
    p.user.umask = umask;
    MINI8S_ASSIGN_OR_RETURN(const json::array* gids, ur.Array(*user, "additionalGids"));
    if (gids != nullptr) {
      for (const json::value& v : *gids) {
        if (!v.is_int64() || v.get_int64() < 0) {
          return ur.Fail("additionalGids", "must be non-negative integers");
        }
        p.user.additional_gids.push_back(static_cast<uint32_t>(v.get_int64()));
      }
    }
  }
  MINI8S_RETURN_IF_ERROR(r.StringList(o, "args", p.args));
  if (p.args.empty()) return r.Fail("args", "must name a program to run");
  MINI8S_RETURN_IF_ERROR(r.StringList(o, "env", p.env));
  MINI8S_RETURN_IF_ERROR(r.String(o, "cwd", p.cwd));
  if (p.cwd.empty() || p.cwd[0] != '/') return r.Fail("cwd", "must be an absolute path");
  MINI8S_ASSIGN_OR_RETURN(const json::object* caps, r.Object(o, "capabilities", false));
  if (caps != nullptr) {
    Reader cr(prefix + "capabilities.");
    CapabilitySets s;
    MINI8S_ASSIGN_OR_RETURN(s.bounding, CapList(cr, *caps, "bounding"));
    MINI8S_ASSIGN_OR_RETURN(s.effective, CapList(cr, *caps, "effective"));
    MINI8S_ASSIGN_OR_RETURN(s.inheritable, CapList(cr, *caps, "inheritable"));
    MINI8S_ASSIGN_OR_RETURN(s.permitted, CapList(cr, *caps, "permitted"));
    MINI8S_ASSIGN_OR_RETURN(s.ambient, CapList(cr, *caps, "ambient"));
    p.capabilities = s;
  }
  MINI8S_ASSIGN_OR_RETURN(const json::array* rl, r.Array(o, "rlimits"));
  if (rl != nullptr) {
    for (const json::value& v : *rl) {
      Reader lr(prefix + "rlimits[].");
      if (!v.is_object()) return r.Fail("rlimits", "entries must be objects");
      std::string type;
      std::optional<uint64_t> soft, hard;
      MINI8S_RETURN_IF_ERROR(lr.String(v.get_object(), "type", type));
      MINI8S_RETURN_IF_ERROR(lr.Int(v.get_object(), "soft", soft));
      MINI8S_RETURN_IF_ERROR(lr.Int(v.get_object(), "hard", hard));
      int resource = -1;
      for (const RlimitName& n : kRlimits) {
        if (n.name == type) resource = n.resource;
      }
      if (resource < 0) return lr.Fail("type", "unknown rlimit \"" + type + "\"");
      if (!soft || !hard) return lr.Fail("soft", "soft and hard are required");
      if (*soft > *hard) return lr.Fail("soft", "must not exceed hard for " + type);
      p.rlimits.push_back({resource, *soft, *hard});
    }
  }
  MINI8S_RETURN_IF_ERROR(r.Bool(o, "noNewPrivileges", p.no_new_privileges));
  std::optional<int> oom;
  MINI8S_RETURN_IF_ERROR(r.Int(o, "oomScoreAdj", oom));
  if (oom && (*oom < -1000 || *oom > 1000)) return r.Fail("oomScoreAdj", "must be in [-1000, 1000]");
  p.oom_score_adj = oom;
  return p;
}

Result<NamespaceType> NamespaceFromName(std::string_view n) {
  if (n == "mount") return NamespaceType::kMount;
  if (n == "pid") return NamespaceType::kPid;
  if (n == "uts") return NamespaceType::kUts;
  if (n == "ipc") return NamespaceType::kIpc;
  if (n == "network") return NamespaceType::kNetwork;
  if (n == "cgroup") return NamespaceType::kCgroup;
  if (n == "user") return NamespaceType::kUser;
  if (n == "time") return NamespaceType::kTime;
  return Status::Invalid("unknown namespace type \"" + std::string(n) + "\"");
}

Status ParseSeccomp(const Reader& r, const json::object& o, Seccomp& s) {
  MINI8S_RETURN_IF_ERROR(r.String(o, "defaultAction", s.default_action));
  MINI8S_RETURN_IF_ERROR(r.Int(o, "defaultErrnoRet", s.default_errno_ret));
  MINI8S_RETURN_IF_ERROR(r.StringList(o, "architectures", s.architectures));
  if (!IsKnownSeccompAction(s.default_action)) {
    return r.Fail("defaultAction", "unknown action \"" + s.default_action + "\"");
  }
  MINI8S_ASSIGN_OR_RETURN(const json::array* calls, r.Array(o, "syscalls"));
  if (calls == nullptr) return Status();
  for (const json::value& v : *calls) {
    if (!v.is_object()) return r.Fail("syscalls", "entries must be objects");
    const json::object& c = v.get_object();
    Reader cr(r.Path("syscalls[]."));
    SeccompRule rule;
    MINI8S_RETURN_IF_ERROR(cr.StringList(c, "names", rule.names));
    MINI8S_RETURN_IF_ERROR(cr.String(c, "action", rule.action));
    MINI8S_RETURN_IF_ERROR(cr.Int(c, "errnoRet", rule.errno_ret));
    if (!IsKnownSeccompAction(rule.action)) {
      return cr.Fail("action", "unknown action \"" + rule.action + "\"");
    }
    MINI8S_ASSIGN_OR_RETURN(const json::array* args, cr.Array(c, "args"));
    if (args != nullptr) {
      for (const json::value& a : *args) {
        if (!a.is_object()) return cr.Fail("args", "entries must be objects");
        Reader ar(cr.Path("args[]."));
        std::optional<uint32_t> index;
        std::optional<uint64_t> value, value_two;
        SeccompRule::Arg arg{};
        MINI8S_RETURN_IF_ERROR(ar.Int(a.get_object(), "index", index));
        MINI8S_RETURN_IF_ERROR(ar.Int(a.get_object(), "value", value));
        MINI8S_RETURN_IF_ERROR(ar.Int(a.get_object(), "valueTwo", value_two));
        MINI8S_RETURN_IF_ERROR(ar.String(a.get_object(), "op", arg.op));
        if (!index || *index > 5) return ar.Fail("index", "must be 0..5");
        arg.index = *index;
        arg.value = value.value_or(0);
        arg.value_two = value_two.value_or(0);
        if (!IsKnownSeccompOp(arg.op)) return ar.Fail("op", "unknown operator \"" + arg.op + "\"");
        rule.args.push_back(arg);
      }
    }
    s.syscalls.push_back(std::move(rule));
  }
  return Status();
}

Result<Spec> ParseSpecObject(const json::object& o, const std::string& bundle) {
  Reader r("");
  Spec s;
  MINI8S_RETURN_IF_ERROR(r.String(o, "ociVersion", s.oci_version));
  MINI8S_ASSIGN_OR_RETURN(const json::object* proc, r.Object(o, "process", true));
  MINI8S_ASSIGN_OR_RETURN(s.process, ParseProcessObject(*proc, "process."));
  MINI8S_ASSIGN_OR_RETURN(const json::object* root, r.Object(o, "root", true));
  Reader rr("root.");
  MINI8S_RETURN_IF_ERROR(rr.String(*root, "path", s.root_path));
  MINI8S_RETURN_IF_ERROR(rr.Bool(*root, "readonly", s.root_readonly));
  if (s.root_path.empty()) return rr.Fail("path", "is required");
  if (s.root_path[0] != '/') s.root_path = bundle + "/" + s.root_path;
  MINI8S_RETURN_IF_ERROR(r.String(o, "hostname", s.hostname));

  MINI8S_ASSIGN_OR_RETURN(const json::array* mounts, r.Array(o, "mounts"));
  if (mounts != nullptr) {
    for (const json::value& v : *mounts) {
      if (!v.is_object()) return r.Fail("mounts", "entries must be objects");
      Reader mr("mounts[].");
      Mount m;
      MINI8S_RETURN_IF_ERROR(mr.String(v.get_object(), "destination", m.destination));
      MINI8S_RETURN_IF_ERROR(mr.String(v.get_object(), "type", m.type));
      MINI8S_RETURN_IF_ERROR(mr.String(v.get_object(), "source", m.source));
      MINI8S_RETURN_IF_ERROR(mr.StringList(v.get_object(), "options", m.options));
      if (m.destination.empty() || m.destination[0] != '/') {
        return mr.Fail("destination", "must be an absolute path, got \"" + m.destination + "\"");
      }
      if (m.destination.find("/../") != std::string::npos ||
          m.destination.ends_with("/..")) {
        return mr.Fail("destination", "must not contain \"..\"");
      }
      MINI8S_RETURN_IF_ERROR(ParseMountOptions(m));
      if (m.bind && !m.source.empty() && m.source[0] != '/') m.source = bundle + "/" + m.source;
      s.mounts.push_back(std::move(m));
    }
  }

  MINI8S_ASSIGN_OR_RETURN(const json::object* linux_obj, r.Object(o, "linux", false));
  if (linux_obj != nullptr) {
    Reader lr("linux.");
    MINI8S_ASSIGN_OR_RETURN(const json::array* nss, lr.Array(*linux_obj, "namespaces"));
    if (nss != nullptr) {
      for (const json::value& v : *nss) {
        if (!v.is_object()) return lr.Fail("namespaces", "entries must be objects");
        Reader nr("linux.namespaces[].");
        std::string type, path;
        MINI8S_RETURN_IF_ERROR(nr.String(v.get_object(), "type", type));
        MINI8S_RETURN_IF_ERROR(nr.String(v.get_object(), "path", path));
        auto t = NamespaceFromName(type);
        if (!t) return nr.Fail("type", t.error().message());
        if (*t == NamespaceType::kUser || *t == NamespaceType::kTime) {
          return nr.Fail("type", "namespace \"" + type + "\" is not supported by mini8s runtime");
        }
        if (s.HasNamespace(*t)) return nr.Fail("type", "duplicate namespace \"" + type + "\"");
        s.namespaces.push_back({*t, path});
      }
    }
    MINI8S_RETURN_IF_ERROR(lr.String(*linux_obj, "cgroupsPath", s.cgroups_path));
    MINI8S_RETURN_IF_ERROR(lr.String(*linux_obj, "rootfsPropagation", s.rootfs_propagation));
    MINI8S_RETURN_IF_ERROR(lr.StringList(*linux_obj, "maskedPaths", s.masked_paths));
    MINI8S_RETURN_IF_ERROR(lr.StringList(*linux_obj, "readonlyPaths", s.readonly_paths));
    MINI8S_ASSIGN_OR_RETURN(const json::object* sysctl, lr.Object(*linux_obj, "sysctl", false));
    if (sysctl != nullptr) {
      for (const auto& kv : *sysctl) {
        if (!kv.value().is_string()) return lr.Fail("sysctl", "values must be strings");
        s.sysctl[std::string(kv.key())] = std::string(kv.value().get_string());
      }
    }
    MINI8S_ASSIGN_OR_RETURN(const json::object* res, lr.Object(*linux_obj, "resources", false));
    if (res != nullptr) {
      Reader rr2("linux.resources.");
      MINI8S_ASSIGN_OR_RETURN(const json::object* mem, rr2.Object(*res, "memory", false));
      if (mem != nullptr) {
        Reader m("linux.resources.memory.");
        MINI8S_RETURN_IF_ERROR(m.Int(*mem, "limit", s.resources.memory_limit));
        MINI8S_RETURN_IF_ERROR(m.Int(*mem, "swap", s.resources.memory_swap));
      }
      MINI8S_ASSIGN_OR_RETURN(const json::object* cpu, rr2.Object(*res, "cpu", false));
      if (cpu != nullptr) {
        Reader c("linux.resources.cpu.");
        MINI8S_RETURN_IF_ERROR(c.Int(*cpu, "quota", s.resources.cpu_quota));
        MINI8S_RETURN_IF_ERROR(c.Int(*cpu, "period", s.resources.cpu_period));
        MINI8S_RETURN_IF_ERROR(c.Int(*cpu, "shares", s.resources.cpu_shares));
      }
      MINI8S_ASSIGN_OR_RETURN(const json::object* pids, rr2.Object(*res, "pids", false));
      if (pids != nullptr) {
        Reader p("linux.resources.pids.");
        MINI8S_RETURN_IF_ERROR(p.Int(*pids, "limit", s.resources.pids_limit));
      }
    }
    MINI8S_ASSIGN_OR_RETURN(const json::object* sc, lr.Object(*linux_obj, "seccomp", false));
    if (sc != nullptr) {
      Seccomp seccomp;
      MINI8S_RETURN_IF_ERROR(ParseSeccomp(Reader("linux.seccomp."), *sc, seccomp));
      s.seccomp = std::move(seccomp);
    }
  }
  MINI8S_ASSIGN_OR_RETURN(const json::object* ann, r.Object(o, "annotations", false));
  if (ann != nullptr) {
    for (const auto& kv : *ann) {
      if (!kv.value().is_string()) return r.Fail("annotations", "values must be strings");
      s.annotations[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  }
  if (auto it = s.annotations.find("org.mini8s.rootfs.overlay.lower"); it != s.annotations.end()) {
    for (std::string_view part : Fields(it->second, ":")) s.overlay_lower.emplace_back(part);
    s.overlay_upper = s.annotations["org.mini8s.rootfs.overlay.upper"];
    s.overlay_work = s.annotations["org.mini8s.rootfs.overlay.work"];
    if (s.overlay_lower.empty() || (s.overlay_upper.empty() != s.overlay_work.empty())) {
      return r.Fail("annotations", "overlay rootfs needs lower dirs and both upper and work");
    }
  }
  return s;
}

template <class F>
auto WithParsedJson(std::string_view text, F&& f) -> decltype(f(std::declval<json::object&>())) {
  json::value v;
  try {
    v = json::parse(text);
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("config.json: not valid JSON: ") + e.what());
  }
  if (!v.is_object()) return Status::Invalid("config.json: top level must be an object");
  return f(v.get_object());
}

}  // namespace

bool Spec::HasNamespace(NamespaceType t) const { return FindNamespace(t) != nullptr; }

const Namespace* Spec::FindNamespace(NamespaceType t) const {
  for (const Namespace& n : namespaces) {
    if (n.type == t) return &n;
  }
  return nullptr;
}

Status ParseMountOptions(Mount& m) {
  struct Opt {
    std::string_view name;
    bool clear;
    unsigned long flag;
  };
  static constexpr Opt kFlags[] = {
      {"ro", false, MS_RDONLY},        {"rw", true, MS_RDONLY},
      {"nosuid", false, MS_NOSUID},    {"suid", true, MS_NOSUID},
      {"nodev", false, MS_NODEV},      {"dev", true, MS_NODEV},
      {"noexec", false, MS_NOEXEC},    {"exec", true, MS_NOEXEC},
      {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS},
      {"dirsync", false, MS_DIRSYNC},  {"remount", false, MS_REMOUNT},
      {"mand", false, MS_MANDLOCK},    {"nomand", true, MS_MANDLOCK},
      {"atime", true, MS_NOATIME},     {"noatime", false, MS_NOATIME},
      {"diratime", true, MS_NODIRATIME}, {"nodiratime", false, MS_NODIRATIME},
      {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
      {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
  };
  static constexpr Opt kPropagation[] = {
      {"private", false, MS_PRIVATE},           {"rprivate", false, MS_PRIVATE | MS_REC},
      {"shared", false, MS_SHARED},             {"rshared", false, MS_SHARED | MS_REC},
      {"slave", false, MS_SLAVE},               {"rslave", false, MS_SLAVE | MS_REC},
      {"unbindable", false, MS_UNBINDABLE},     {"runbindable", false, MS_UNBINDABLE | MS_REC},
  };
  m.flags = 0;
  m.propagation = 0;
  m.data.clear();
  for (const std::string& o : m.options) {
    bool matched = false;
    for (const Opt& f : kFlags) {
      if (o == f.name) {
        m.flags = f.clear ? (m.flags & ~f.flag) : (m.flags | f.flag);
        matched = true;
      }
    }
    for (const Opt& f : kPropagation) {
      if (o == f.name) {
        m.propagation = f.flag;
        matched = true;
      }
    }
    if (o == "bind") {
      m.bind = true;
      matched = true;
    } else if (o == "rbind") {
      m.bind = m.recursive_bind = true;
      matched = true;
    }
    if (matched) continue;
    if (o.empty()) return Status::Invalid("config.json: mounts[" + m.destination + "]: empty option");
    if (!m.data.empty()) m.data += ',';
    m.data += o;
  }
  if (m.type == "bind") m.bind = true;
  return Status();
}

Result<Spec> ParseSpec(std::string_view text, const std::string& bundle) {
  return WithParsedJson(text, [&](json::object& o) { return ParseSpecObject(o, bundle); });
}

Result<Process> ParseProcess(std::string_view text) {
  return WithParsedJson(text, [&](json::object& o) { return ParseProcessObject(o, "process."); });
}

Result<Spec> LoadSpec(const std::string& bundle) {
  MINI8S_ASSIGN_OR_RETURN(std::string text, ReadFile(bundle + "/config.json"));
  return ParseSpec(text, bundle);
}

Result<int> CapabilityFromName(std::string_view name) {
  std::string full(name);
  for (char& c : full) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!full.starts_with("CAP_")) full = "CAP_" + full;
  for (int i = 0; i <= kLastCap; ++i) {
    if (kCapNames[i] == full) return i;
  }
  return Status::Invalid("unknown capability \"" + std::string(name) + "\"");
}

std::string_view CapabilityName(int cap) {
  if (cap < 0 || cap > kLastCap) return "CAP_UNKNOWN";
  return kCapNames[cap];
}

uint64_t DefaultCapabilities() {
  static constexpr std::string_view kDefault[] = {
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",           "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",     "CAP_SETFCAP",          "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
  uint64_t mask = 0;
  for (std::string_view n : kDefault) mask |= uint64_t{1} << *CapabilityFromName(n);
  return mask;
}

Result<uint64_t> ApplyCapabilityChanges(uint64_t base, const std::vector<std::string>& add,
                                        const std::vector<std::string>& drop) {
  constexpr uint64_t kAll = (uint64_t{1} << (kLastCap + 1)) - 1;
  for (const std::string& n : drop) {
    if (n == "ALL" || n == "all") {
      base = 0;
      continue;
    }
    MINI8S_ASSIGN_OR_RETURN(int cap, CapabilityFromName(n));
    base &= ~(uint64_t{1} << cap);
  }
  for (const std::string& n : add) {
    if (n == "ALL" || n == "all") {
      base = kAll;
      continue;
    }
    MINI8S_ASSIGN_OR_RETURN(int cap, CapabilityFromName(n));
    base |= uint64_t{1} << cap;
  }
  return base;
}

const std::vector<std::string>& DefaultMaskedPaths() {
  static const std::vector<std::string> kPaths = {
      "/proc/acpi",        "/proc/asound",      "/proc/kcore",        "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/sys/firmware",     "/sys/devices/virtual/powercap", "/proc/scsi"};
  return kPaths;
}

const std::vector<std::string>& DefaultReadonlyPaths() {
  static const std::vector<std::string> kPaths = {"/proc/bus", "/proc/fs", "/proc/irq",
                                                  "/proc/sys", "/proc/sysrq-trigger"};
  return kPaths;
}

std::string DefaultSpecJson(const std::vector<std::string>& args, bool with_seccomp) {
  json::object caps_obj;
  json::array caps;
  uint64_t def = DefaultCapabilities();
  for (int i = 0; i <= kLastCap; ++i) {
    if (def & (uint64_t{1} << i)) caps.emplace_back(std::string(CapabilityName(i)));
  }
  for (const char* k : {"bounding", "effective", "permitted"}) caps_obj[k] = caps;
  json::array jargs;
  for (const std::string& a : args) jargs.emplace_back(a);
  auto mount = [](const char* dst, const char* type, const char* src,
                  std::initializer_list<const char*> opts) {
    json::array o;
    for (const char* x : opts) o.emplace_back(x);
    return json::object{{"destination", dst}, {"type", type}, {"source", src}, {"options", o}};
  };
  json::array mounts = {
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  };
  json::array masked, ro;
  for (const std::string& p : DefaultMaskedPaths()) masked.emplace_back(p);
  for (const std::string& p : DefaultReadonlyPaths()) ro.emplace_back(p);
  json::object linux_obj{
      {"namespaces",
       json::array{json::object{{"type", "pid"}}, json::object{{"type", "network"}},
                   json::object{{"type", "ipc"}}, json::object{{"type", "uts"}},
                   json::object{{"type", "mount"}}, json::object{{"type", "cgroup"}}}},
      {"maskedPaths", masked},
      {"readonlyPaths", ro},
  };
  if (with_seccomp) linux_obj["seccomp"] = json::parse(DefaultSeccompProfileJson());
  json::object spec{
      {"ociVersion", "1.0.2"},
      {"process",
       json::object{
           {"terminal", false},
           {"user", json::object{{"uid", 0}, {"gid", 0}}},
           {"args", jargs},
           {"env", json::array{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
           {"cwd", "/"},
           {"capabilities", caps_obj},
           {"rlimits", json::array{json::object{
                           {"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
           {"noNewPrivileges", true},
       }},
      {"root", json::object{{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "mini8s"},
      {"mounts", mounts},
      {"linux", linux_obj},
  };
  return json::serialize(spec);
}

}  // namespace mini8s::runtime
