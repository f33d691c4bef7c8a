// PodSecurity (upstream's pod-security-admission): the baseline and restricted Pod Security
// Standards as of Kubernetes 1.32, applied per namespace from its pod-security.kubernetes.io
// labels. Check order and wording follow upstream, whose messages clients and docs quote.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/server/admission_plugins.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;
using Names = std::vector<std::string>;
using SortedSet = std::set<std::string>;

struct Violation {
  std::string reason;
  std::string detail;
};
using CheckFn = std::optional<Violation> (*)(const json::object& meta, const json::object& spec);

std::string JoinQuote(const Names& items) {
  if (items.empty()) return "";
  std::string out = "\"";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "\", \"" : "") + items[i];
  return out + "\"";
}
std::string JoinQuote(const SortedSet& items) {
  return JoinQuote(Names(items.begin(), items.end()));
}
std::string Join(const Names& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? std::string(sep) : "") + items[i];
  return out;
}
std::string Plural(const char* one, const char* many, size_t n) { return n == 1 ? one : many; }
std::string Containers(const Names& names) {
  return Plural("container", "containers", names.size()) + " " + JoinQuote(names);
}

// Init containers, containers, then ephemeral containers (upstream's visitContainers).
template <class F>
void VisitContainers(const json::object& spec, F f) {
  for (const char* field : {"initContainers", "containers", "ephemeralContainers"}) {
    auto it = spec.find(field);
    if (it == spec.end() || !it->value().is_array()) continue;
    for (const auto& c : it->value().as_array()) {
      if (c.is_object()) f(c.as_object());
    }
  }
}

std::string Str(const json::object& o, std::string_view path) {
  return std::string(api::GetString(o, path));
}
bool True(const json::object& o, std::string_view path) {
  return api::GetBool(o, path).value_or(false);
}
bool Has(const json::object& o, std::string_view path) { return api::FindPath(o, path) != nullptr; }
bool IsWindows(const json::object& spec) { return Str(spec, "os.name") == "windows"; }

// --- baseline ---------------------------------------------------------------------------------

std::optional<Violation> AppArmor(const json::object& meta, const json::object& spec) {
  auto allowed_type = [](const std::string& t) {
    return t == "RuntimeDefault" || t == "Localhost";
  };
  Names setters;
  SortedSet bad_values;
  if (Has(spec, "securityContext.appArmorProfile")) {
    std::string t = Str(spec, "securityContext.appArmorProfile.type");
    if (!allowed_type(t)) {
      setters.push_back("pod");
      bad_values.insert(t);
    }
  }
  Names bad_containers;
  VisitContainers(spec, [&](const json::object& c) {
    if (!Has(c, "securityContext.appArmorProfile")) return;
    std::string t = Str(c, "securityContext.appArmorProfile.type");
    if (!allowed_type(t)) {
      bad_containers.push_back(Str(c, "name"));
      bad_values.insert(t);
    }
  });
  if (!bad_containers.empty()) setters.push_back(Containers(bad_containers));
  Names values(bad_values.begin(), bad_values.end());
  Names annotations;
  if (const json::object* anns = api::Annotations(meta)) {
    for (const auto& kv : *anns) {
      std::string_view key = kv.key();
      if (key.rfind("container.apparmor.security.beta.kubernetes.io/", 0) != 0) continue;
      std::string v = kv.value().is_string() ? std::string(kv.value().as_string()) : "";
      if (v.empty() || v == "runtime/default" || v.rfind("localhost/", 0) == 0) continue;
      annotations.push_back(std::string(key) + "=\"" + v + "\"");
    }
  }
  if (!annotations.empty()) {
    std::sort(annotations.begin(), annotations.end());
    values.insert(values.end(), annotations.begin(), annotations.end());
    setters.push_back(Plural("annotation", "annotations", annotations.size()));
  }
  if (setters.empty()) return std::nullopt;
  return Violation{
      Plural("forbidden AppArmor profile", "forbidden AppArmor profiles", values.size()),
      Join(setters, " and ") + " must not set AppArmor profile type to " + JoinQuote(values)};
}

std::optional<Violation> CapabilitiesBaseline(const json::object&, const json::object& spec) {
  static const SortedSet kAllowed = {
      "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
      "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};
  Names bad;
  SortedSet caps;
  VisitContainers(spec, [&](const json::object& c) {
    const json::array* add = api::GetArray(c, "securityContext.capabilities.add");
    if (add == nullptr) return;
    bool valid = true;
    for (const auto& cap : *add) {
      std::string s = cap.is_string() ? std::string(cap.as_string()) : "";
      if (!kAllowed.count(s)) {
        valid = false;
        caps.insert(s);
      }
    }
    if (!valid) bad.push_back(Str(c, "name"));
  });
  if (bad.empty()) return std::nullopt;
  return Violation{"non-default capabilities", Containers(bad) + " must not include " +
                                                   JoinQuote(caps) +
                                                   " in securityContext.capabilities.add"};
}

std::optional<Violation> HostNamespaces(const json::object&, const json::object& spec) {
  Names ns;
  if (True(spec, "hostNetwork")) ns.push_back("hostNetwork=true");
  if (True(spec, "hostPID")) ns.push_back("hostPID=true");
  if (True(spec, "hostIPC")) ns.push_back("hostIPC=true");
  if (ns.empty()) return std::nullopt;
  return Violation{"host namespaces", Join(ns, ", ")};
}

std::optional<Violation> HostPathVolumes(const json::object&, const json::object& spec) {
  Names vols;
  if (const json::array* vs = api::GetArray(spec, "volumes")) {
    for (const auto& v : *vs) {
      if (v.is_object() && Has(v.as_object(), "hostPath"))
        vols.push_back(Str(v.as_object(), "name"));
    }
  }
  if (vols.empty()) return std::nullopt;
  return Violation{"hostPath volumes",
                   Plural("volume", "volumes", vols.size()) + " " + JoinQuote(vols)};
}

std::optional<Violation> HostPorts(const json::object&, const json::object& spec) {
  Names bad;
  SortedSet ports;
  VisitContainers(spec, [&](const json::object& c) {
    const json::array* ps = api::GetArray(c, "ports");
    if (ps == nullptr) return;
    bool valid = true;
    for (const auto& p : *ps) {
      if (!p.is_object()) continue;
      int64_t hp = api::GetInt(p.as_object(), "hostPort").value_or(0);
      if (hp != 0) {
        valid = false;
        ports.insert(std::to_string(hp));
      }
    }
    if (!valid) bad.push_back(Str(c, "name"));
  });
  if (bad.empty()) return std::nullopt;
  return Violation{"hostPort", Containers(bad) + " " + Plural("uses", "use", bad.size()) + " " +
                                   Plural("hostPort", "hostPorts", ports.size()) + " " +
                                   Join(Names(ports.begin(), ports.end()), ", ")};
}

std::optional<Violation> Privileged(const json::object&, const json::object& spec) {
  Names bad;
  VisitContainers(spec, [&](const json::object& c) {
    if (True(c, "securityContext.privileged")) bad.push_back(Str(c, "name"));
  });
  if (bad.empty()) return std::nullopt;
  return Violation{"privileged", Containers(bad) + " must not set securityContext.privileged=true"};
}

std::optional<Violation> ProcMount(const json::object&, const json::object& spec) {
  Names bad;
  SortedSet types;
  VisitContainers(spec, [&](const json::object& c) {
    if (!Has(c, "securityContext.procMount")) return;
    std::string t = Str(c, "securityContext.procMount");
    if (t != "Default") {
      bad.push_back(Str(c, "name"));
      types.insert(t);
    }
  });
  if (bad.empty()) return std::nullopt;
  return Violation{"procMount", Containers(bad) + " must not set securityContext.procMount to " +
                                    JoinQuote(types)};
}

std::optional<Violation> SeLinuxOptions(const json::object&, const json::object& spec) {
  static const SortedSet kTypes = {"", "container_t", "container_init_t", "container_kvm_t",
                                   "container_engine_t"};
  SortedSet bad_types;
  bool set_user = false, set_role = false;
  auto valid = [&](const json::object& opts) {
    bool ok = true;
    std::string t = Str(opts, "type");
    if (!kTypes.count(t)) {
      ok = false;
      bad_types.insert(t);
    }
    if (!Str(opts, "user").empty()) {
      ok = false;
      set_user = true;
    }
    if (!Str(opts, "role").empty()) {
      ok = false;
      set_role = true;
    }
    return ok;
  };
  Names setters;
  if (const json::object* o = api::GetObject(spec, "securityContext.seLinuxOptions")) {
    if (!valid(*o)) setters.push_back("pod");
  }
  Names bad;
  VisitContainers(spec, [&](const json::object& c) {
    if (const json::object* o = api::GetObject(c, "securityContext.seLinuxOptions")) {
      if (!valid(*o)) bad.push_back(Str(c, "name"));
    }
  });
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return std::nullopt;
  Names data;
  if (!bad_types.empty()) {
    data.push_back(Plural("type", "types", bad_types.size()) + " " + JoinQuote(bad_types));
  }
  if (set_user) data.push_back("user may not be set");
  if (set_role) data.push_back("role may not be set");
  return Violation{"seLinuxOptions",
                   Join(setters, " and ") +
                       " set forbidden securityContext.seLinuxOptions: " + Join(data, "; ")};
}

bool ValidSeccomp(const std::string& t) { return t == "RuntimeDefault" || t == "Localhost"; }

std::optional<Violation> SeccompBaseline(const json::object&, const json::object& spec) {
  Names setters;
  SortedSet values;
  if (Has(spec, "securityContext.seccompProfile")) {
    std::string t = Str(spec, "securityContext.seccompProfile.type");
    if (!ValidSeccomp(t)) {
      setters.push_back("pod");
      values.insert(t);
    }
  }
  Names bad;
  VisitContainers(spec, [&](const json::object& c) {
    if (!Has(c, "securityContext.seccompProfile")) return;
    std::string t = Str(c, "securityContext.seccompProfile.type");
    if (!ValidSeccomp(t)) {
      bad.push_back(Str(c, "name"));
      values.insert(t);
    }
  });
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return std::nullopt;
  return Violation{"seccompProfile", Join(setters, " and ") +
                                         " must not set securityContext.seccompProfile.type to " +
                                         JoinQuote(values)};
}

std::optional<Violation> Sysctls(const json::object&, const json::object& spec) {
  static const SortedSet kAllowed = {"kernel.shm_rmid_forced",
                                     "net.ipv4.ip_local_port_range",
                                     "net.ipv4.tcp_syncookies",
                                     "net.ipv4.ping_group_range",
                                     "net.ipv4.ip_unprivileged_port_start",
                                     "net.ipv4.ip_local_reserved_ports",
                                     "net.ipv4.tcp_keepalive_time",
                                     "net.ipv4.tcp_fin_timeout",
                                     "net.ipv4.tcp_keepalive_intvl",
                                     "net.ipv4.tcp_keepalive_probes",
                                     "net.ipv4.tcp_rmem",
                                     "net.ipv4.tcp_wmem"};
  Names bad;
  if (const json::array* ss = api::GetArray(spec, "securityContext.sysctls")) {
    for (const auto& s : *ss) {
      if (!s.is_object()) continue;
      std::string n = Str(s.as_object(), "name");
      if (!kAllowed.count(n)) bad.push_back(n);
    }
  }
  if (bad.empty()) return std::nullopt;
  return Violation{"forbidden sysctls", Join(bad, ", ")};
}

std::optional<Violation> WindowsHostProcess(const json::object&, const json::object& spec) {
  Names bad;
  VisitContainers(spec, [&](const json::object& c) {
    if (True(c, "securityContext.windowsOptions.hostProcess")) bad.push_back(Str(c, "name"));
  });
  Names setters;
  if (True(spec, "securityContext.windowsOptions.hostProcess")) setters.push_back("pod");
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return std::nullopt;
  return Violation{
      "hostProcess",
      Join(setters, " and ") + " must not set securityContext.windowsOptions.hostProcess=true"};
}

// --- restricted -------------------------------------------------------------------------------

std::optional<Violation> AllowPrivilegeEscalation(const json::object&, const json::object& spec) {
  if (IsWindows(spec)) return std::nullopt;
  Names bad;
  VisitContainers(spec, [&](const json::object& c) {
    auto v = api::GetBool(c, "securityContext.allowPrivilegeEscalation");
    if (!v || *v) bad.push_back(Str(c, "name"));
  });
  if (bad.empty()) return std::nullopt;
  return Violation{"allowPrivilegeEscalation != false",
                   Containers(bad) + " must set securityContext.allowPrivilegeEscalation=false"};
}

std::optional<Violation> CapabilitiesRestricted(const json::object&, const json::object& spec) {
  if (IsWindows(spec)) return std::nullopt;
  Names missing_drop, adding;
  SortedSet forbidden;
  VisitContainers(spec, [&](const json::object& c) {
    if (!Has(c, "securityContext.capabilities")) {
      missing_drop.push_back(Str(c, "name"));
      return;
    }
    bool dropped_all = false;
    if (const json::array* drop = api::GetArray(c, "securityContext.capabilities.drop")) {
      for (const auto& d : *drop)
        dropped_all = dropped_all || (d.is_string() && d.as_string() == "ALL");
    }
    if (!dropped_all) missing_drop.push_back(Str(c, "name"));
    bool bad_add = false;
    if (const json::array* add = api::GetArray(c, "securityContext.capabilities.add")) {
      for (const auto& a : *add) {
        std::string s = a.is_string() ? std::string(a.as_string()) : "";
        if (s != "NET_BIND_SERVICE") {
          bad_add = true;
          forbidden.insert(s);
        }
      }
    }
    if (bad_add) adding.push_back(Str(c, "name"));
  });
  Names details;
  if (!missing_drop.empty()) {
    details.push_back(Containers(missing_drop) +
                      " must set securityContext.capabilities.drop=[\"ALL\"]");
  }
  if (!adding.empty()) {
    details.push_back(Containers(adding) + " must not include " + JoinQuote(forbidden) +
                      " in securityContext.capabilities.add");
  }
  if (details.empty()) return std::nullopt;
  return Violation{"unrestricted capabilities", Join(details, "; ")};
}

std::optional<Violation> RestrictedVolumes(const json::object&, const json::object& spec) {
  static const SortedSet kAllowed = {"configMap", "csi",   "downwardAPI",           "emptyDir",
                                     "ephemeral", "image", "persistentVolumeClaim", "projected",
                                     "secret"};
  static const Names kKnown = {"hostPath",
                               "gcePersistentDisk",
                               "awsElasticBlockStore",
                               "gitRepo",
                               "nfs",
                               "iscsi",
                               "glusterfs",
                               "rbd",
                               "flexVolume",
                               "cinder",
                               "cephfs",
                               "flocker",
                               "fc",
                               "azureFile",
                               "vsphereVolume",
                               "quobyte",
                               "azureDisk",
                               "photonPersistentDisk",
                               "portworxVolume",
                               "scaleIO",
                               "storageos"};
  Names bad;
  SortedSet types;
  if (const json::array* vs = api::GetArray(spec, "volumes")) {
    for (const auto& v : *vs) {
      if (!v.is_object()) continue;
      const json::object& vol = v.as_object();
      bool allowed = false, any_source = false;
      for (const auto& kv : vol) {
        if (kv.key() == "name") continue;
        any_source = true;
        allowed = allowed || kAllowed.count(std::string(kv.key())) > 0;
      }
      // A volume naming no source is an emptyDir (API defaulting).
      if (allowed || !any_source) continue;
      bad.push_back(Str(vol, "name"));
      std::string type = "unknown";
      for (const std::string& k : kKnown) {
        if (vol.contains(k)) {
          type = k;
          break;
        }
      }
      types.insert(type);
    }
  }
  if (bad.empty()) return std::nullopt;
  return Violation{"restricted volume types",
                   Plural("volume", "volumes", bad.size()) + " " + JoinQuote(bad) + " " +
                       Plural("uses", "use", bad.size()) + " " +
                       Plural("restricted volume type", "restricted volume types", types.size()) +
                       " " + JoinQuote(types)};
}

std::optional<Violation> RunAsNonRoot(const json::object&, const json::object& spec) {
  Names setters;
  bool pod_non_root = false;
  if (auto v = api::GetBool(spec, "securityContext.runAsNonRoot")) {
    if (!*v) {
      setters.push_back("pod");
    } else {
      pod_non_root = true;
    }
  }
  Names explicit_bad, implicit_bad;
  VisitContainers(spec, [&](const json::object& c) {
    if (auto v = api::GetBool(c, "securityContext.runAsNonRoot")) {
      if (!*v) explicit_bad.push_back(Str(c, "name"));
    } else if (!pod_non_root) {
      implicit_bad.push_back(Str(c, "name"));
    }
  });
  if (!explicit_bad.empty()) setters.push_back(Containers(explicit_bad));
  if (!setters.empty()) {
    return Violation{"runAsNonRoot != true",
                     Join(setters, " and ") + " must not set securityContext.runAsNonRoot=false"};
  }
  if (!implicit_bad.empty()) {
    return Violation{"runAsNonRoot != true", "pod or " + Containers(implicit_bad) +
                                                 " must set securityContext.runAsNonRoot=true"};
  }
  return std::nullopt;
}

std::optional<Violation> RunAsUser(const json::object&, const json::object& spec) {
  Names setters;
  if (api::GetInt(spec, "securityContext.runAsUser") == std::optional<int64_t>(0)) {
    setters.push_back("pod");
  }
  Names bad;
  VisitContainers(spec, [&](const json::object& c) {
    if (api::GetInt(c, "securityContext.runAsUser") == std::optional<int64_t>(0)) {
      bad.push_back(Str(c, "name"));
    }
  });
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return std::nullopt;
  return Violation{"runAsUser=0", Join(setters, " and ") + " must not set runAsUser=0"};
}

std::optional<Violation> SeccompRestricted(const json::object&, const json::object& spec) {
  if (IsWindows(spec)) return std::nullopt;
  Names setters;
  SortedSet values;
  bool pod_set = false;
  if (Has(spec, "securityContext.seccompProfile")) {
    std::string t = Str(spec, "securityContext.seccompProfile.type");
    if (!ValidSeccomp(t)) {
      setters.push_back("pod");
      values.insert(t);
    } else {
      pod_set = true;
    }
  }
  Names explicit_bad, implicit_bad;
  VisitContainers(spec, [&](const json::object& c) {
    if (Has(c, "securityContext.seccompProfile")) {
      std::string t = Str(c, "securityContext.seccompProfile.type");
      if (!ValidSeccomp(t)) {
        explicit_bad.push_back(Str(c, "name"));
        values.insert(t);
      }
    } else if (!pod_set) {
      implicit_bad.push_back(Str(c, "name"));
    }
  });
  if (!explicit_bad.empty()) setters.push_back(Containers(explicit_bad));
  if (!setters.empty()) {
    return Violation{"seccompProfile", Join(setters, " and ") +
                                           " must not set securityContext.seccompProfile.type to " +
                                           JoinQuote(values)};
  }
  if (!implicit_bad.empty()) {
    return Violation{"seccompProfile",
                     "pod or " + Containers(implicit_bad) +
                         " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                         "\"Localhost\""};
  }
  return std::nullopt;
}

// Upstream orders checks by ID, baseline first, then restricted; restricted drops the baseline
// checks it overrides (capabilities, hostPath volumes, seccomp).
const std::vector<CheckFn>& ChecksFor(PodSecurityLevel level) {
  static const std::vector<CheckFn>* baseline =
      new std::vector<CheckFn>{AppArmor,          CapabilitiesBaseline,
                               HostNamespaces,    HostPathVolumes,
                               HostPorts,         Privileged,
                               ProcMount,         SeLinuxOptions,
                               SeccompBaseline,   Sysctls,
                               WindowsHostProcess};
  static const std::vector<CheckFn>* restricted = new std::vector<CheckFn>{AppArmor,
                                                                           HostNamespaces,
                                                                           HostPorts,
                                                                           Privileged,
                                                                           ProcMount,
                                                                           SeLinuxOptions,
                                                                           Sysctls,
                                                                           WindowsHostProcess,
                                                                           AllowPrivilegeEscalation,
                                                                           CapabilitiesRestricted,
                                                                           RestrictedVolumes,
                                                                           RunAsNonRoot,
                                                                           RunAsUser,
                                                                           SeccompRestricted};
  static const std::vector<CheckFn>* none = new std::vector<CheckFn>();
  switch (level) {
    case PodSecurityLevel::kBaseline:
      return *baseline;
    case PodSecurityLevel::kRestricted:
      return *restricted;
    default:
      return *none;
  }
}

std::vector<Violation> Evaluate(PodSecurityLevel level, const json::object& meta,
                                const json::object& spec) {
  std::vector<Violation> out;
  for (CheckFn check : ChecksFor(level)) {
    if (auto v = check(meta, spec)) out.push_back(std::move(*v));
  }
  return out;
}

std::string Detail(const std::vector<Violation>& vs) {
  std::string out;
  for (size_t i = 0; i < vs.size(); ++i) {
    if (i) out += ", ";
    out += vs[i].reason;
    if (!vs[i].detail.empty()) out += " (" + vs[i].detail + ")";
  }
  return out;
}

// A level and the version it was asked at ("latest" unless a version label says otherwise;
// every version is evaluated with the latest checks).
struct LevelVersion {
  PodSecurityLevel level = PodSecurityLevel::kPrivileged;
  std::string version = "latest";
  std::string String() const {
    const char* l = level == PodSecurityLevel::kRestricted ? "restricted"
                    : level == PodSecurityLevel::kBaseline ? "baseline"
                                                           : "privileged";
    return std::string(l) + ":" + version;
  }
};

std::optional<PodSecurityLevel> ParseLevel(std::string_view s) {
  if (s == "privileged") return PodSecurityLevel::kPrivileged;
  if (s == "baseline") return PodSecurityLevel::kBaseline;
  if (s == "restricted") return PodSecurityLevel::kRestricted;
  return std::nullopt;
}

bool ValidVersion(std::string_view v) {
  if (v == "latest") return true;
  if (v.size() < 4 || v[0] != 'v' || v[1] != '1' || v[2] != '.') return false;
  return std::all_of(v.begin() + 3, v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Policy {
  LevelVersion enforce, audit, warn;
};

// Upstream's PolicyToEvaluate: an unparsable enforce level fails closed (restricted), audit and
// warn fail open; warn follows an explicitly stricter enforce level when not set itself.
Policy PolicyOf(const json::object* ns) {
  Policy p;
  if (ns == nullptr) return p;
  auto label = [&](std::string_view key) { return api::Label(*ns, key); };
  auto version = [&](std::string_view key, LevelVersion& lv) {
    if (auto v = label(key); v && ValidVersion(*v)) lv.version = std::string(*v);
  };
  bool has_enforce = false;
  if (auto v = label("pod-security.kubernetes.io/enforce")) {
    auto l = ParseLevel(*v);
    p.enforce.level = l.value_or(PodSecurityLevel::kRestricted);
    has_enforce = l.has_value();
  }
  version("pod-security.kubernetes.io/enforce-version", p.enforce);
  if (auto v = label("pod-security.kubernetes.io/audit")) {
    p.audit.level = ParseLevel(*v).value_or(PodSecurityLevel::kPrivileged);
  }
  version("pod-security.kubernetes.io/audit-version", p.audit);
  bool has_warn = false,
       has_warn_version = label("pod-security.kubernetes.io/warn-version").has_value();
  if (auto v = label("pod-security.kubernetes.io/warn")) {
    has_warn = true;
    p.warn.level = ParseLevel(*v).value_or(PodSecurityLevel::kPrivileged);
  }
  version("pod-security.kubernetes.io/warn-version", p.warn);
  if (!has_warn && has_enforce && p.enforce.level > p.warn.level) {
    p.warn.level = p.enforce.level;
    if (!has_warn_version) p.warn.version = p.enforce.version;
  }
  return p;
}

// The pod template of a workload resource: (metadata, spec) or nullopt.
std::optional<std::pair<json::object, json::object>> TemplateOf(const api::KindInfo& k,
                                                                const json::object& obj) {
  std::string path;
  if (k.group == "apps" && (k.kind == "Deployment" || k.kind == "ReplicaSet" ||
                            k.kind == "StatefulSet" || k.kind == "DaemonSet")) {
    path = "spec.template";
  } else if (k.group == "batch" && k.kind == "Job") {
    path = "spec.template";
  } else if (k.group == "batch" && k.kind == "CronJob") {
    path = "spec.jobTemplate.spec.template";
  } else if (k.group.empty() && k.kind == "ReplicationController") {
    path = "spec.template";
  } else if (k.group.empty() && k.kind == "PodTemplate") {
    path = "template";
  } else {
    return std::nullopt;
  }
  const json::object* tmpl = api::GetObject(obj, path);
  if (tmpl == nullptr) return std::nullopt;
  const json::object* meta = api::GetObject(*tmpl, "metadata");
  const json::object* spec = api::GetObject(*tmpl, "spec");
  return std::make_pair(meta ? *meta : json::object(), spec ? *spec : json::object());
}

class PodSecurity final : public AdmissionPlugin {
 public:
  explicit PodSecurity(std::shared_ptr<AdmissionObjects> objects) : objects_(std::move(objects)) {}
  std::string_view name() const override { return "PodSecurity"; }

  Status Admit(AdmissionAttributes& a) override {
    if (a.object == nullptr || (a.operation != "CREATE" && a.operation != "UPDATE")) {
      return Status::OK();
    }
    if (a.kind.group.empty() && a.kind.kind == "Namespace") return AdmitNamespace(a);
    if (a.ns.empty()) return Status::OK();
    bool pod = a.kind.group.empty() && a.kind.kind == "Pod";
    if (pod) {
      if (!a.subresource.empty() && a.subresource != "ephemeralcontainers") return Status::OK();
    } else if (!a.subresource.empty()) {
      return Status::OK();
    }
    std::optional<std::pair<json::object, json::object>> workload;
    if (!pod) {
      workload = TemplateOf(a.kind, *a.object);
      if (!workload) return Status::OK();
    }
    std::optional<json::object> ns = objects_->Get("", "namespaces", "", a.ns);
    Policy p = PolicyOf(ns ? &*ns : nullptr);
    if (pod) {
      if (p.enforce.level == PodSecurityLevel::kPrivileged &&
          p.warn.level == PodSecurityLevel::kPrivileged &&
          p.audit.level == PodSecurityLevel::kPrivileged) {
        return Status::OK();
      }
      // Only changes that can alter the verdict (images, annotations, containers) are
      // re-evaluated on update; status-like writes pass.
      if (a.operation == "UPDATE" && a.old_object != nullptr &&
          !SignificantUpdate(*a.object, *a.old_object)) {
        return Status::OK();
      }
      const json::object* meta = api::Metadata(*a.object);
      const json::object* spec = api::GetObject(*a.object, "spec");
      json::object empty;
      std::vector<Violation> enforce =
          Evaluate(p.enforce.level, meta ? *meta : empty, spec ? *spec : empty);
      Annotate(a, "pod-security.kubernetes.io/enforce-policy", p.enforce.String());
      Audit(a, p.audit, meta ? *meta : empty, spec ? *spec : empty);
      if (!enforce.empty()) {
        return AdmissionForbidden(
            a, "violates PodSecurity \"" + p.enforce.String() + "\": " + Detail(enforce));
      }
      Warn(a, p.warn, meta ? *meta : empty, spec ? *spec : empty);
      return Status::OK();
    }
    // Workloads are never refused: their pods will be.
    Audit(a, p.audit, workload->first, workload->second);
    Warn(a, p.warn, workload->first, workload->second);
    return Status::OK();
  }

 private:
  static bool SignificantUpdate(const json::object& pod, const json::object& old) {
    auto part = [](const json::object& o, std::string_view path) -> json::value {
      const json::value* v = api::FindPath(o, path);
      return v ? *v : json::value();
    };
    for (const char* path : {"spec", "metadata.annotations"}) {
      if (part(pod, path) != part(old, path)) return true;
    }
    return false;
  }

  static void Annotate(AdmissionAttributes& a, std::string key, std::string value) {
    if (a.audit_annotations != nullptr) {
      a.audit_annotations->emplace_back(std::move(key), std::move(value));
    }
  }

  static void Audit(AdmissionAttributes& a, const LevelVersion& lv, const json::object& meta,
                    const json::object& spec) {
    if (a.audit_annotations == nullptr || lv.level == PodSecurityLevel::kPrivileged) return;
    std::vector<Violation> v = Evaluate(lv.level, meta, spec);
    if (v.empty()) return;
    Annotate(a, "pod-security.kubernetes.io/audit-violations",
             "would violate PodSecurity \"" + lv.String() + "\": " + Detail(v));
  }

  static void Warn(AdmissionAttributes& a, const LevelVersion& lv, const json::object& meta,
                   const json::object& spec) {
    if (a.warnings == nullptr || lv.level == PodSecurityLevel::kPrivileged) return;
    std::vector<Violation> v = Evaluate(lv.level, meta, spec);
    if (v.empty()) return;
    a.warnings->push_back("would violate PodSecurity \"" + lv.String() + "\": " + Detail(v));
  }

  // A namespace whose enforce level becomes stricter: warn about the pods already there that
  // would not be admitted (upstream groups identical verdicts under the first pod's name).
  Status AdmitNamespace(AdmissionAttributes& a) {
    if (a.operation != "UPDATE" || !a.subresource.empty() || a.warnings == nullptr ||
        a.old_object == nullptr) {
      return Status::OK();
    }
    Policy now = PolicyOf(a.object), before = PolicyOf(a.old_object);
    if (now.enforce.level == PodSecurityLevel::kPrivileged ||
        now.enforce.String() == before.enforce.String()) {
      return Status::OK();
    }
    std::map<std::string, std::pair<std::string, int>> by_verdict;  // reasons -> first pod, count
    std::vector<std::string> order;
    std::vector<json::object> pods = objects_->List("", "pods", a.name);
    std::sort(pods.begin(), pods.end(), [](const json::object& x, const json::object& y) {
      return api::Name(x) < api::Name(y);
    });
    for (const json::object& pod : pods) {
      const json::object* meta = api::Metadata(pod);
      const json::object* spec = api::GetObject(pod, "spec");
      json::object empty;
      std::vector<Violation> v =
          Evaluate(now.enforce.level, meta ? *meta : empty, spec ? *spec : empty);
      if (v.empty()) continue;
      std::string reasons;
      for (size_t i = 0; i < v.size(); ++i) reasons += (i ? ", " : "") + v[i].reason;
      auto [it, inserted] = by_verdict.try_emplace(reasons, std::string(api::Name(pod)), 0);
      if (inserted) order.push_back(reasons);
      ++it->second.second;
    }
    if (order.empty()) return Status::OK();
    a.warnings->push_back("existing pods in namespace \"" + std::string(a.name) +
                          "\" violate the new PodSecurity enforce level \"" + now.enforce.String() +
                          "\"");
    for (const std::string& reasons : order) {
      const auto& [first, count] = by_verdict[reasons];
      if (count == 1) {
        a.warnings->push_back(first + ": " + reasons);
      } else {
        a.warnings->push_back(first + " (and " + std::to_string(count - 1) + " other " +
                              (count - 1 == 1 ? "pod" : "pods") + "): " + reasons);
      }
    }
    return Status::OK();
  }

  std::shared_ptr<AdmissionObjects> objects_;
};

}  // namespace

std::string EvaluatePodSecurity(PodSecurityLevel level, const json::object& metadata,
                                const json::object& spec) {
  return Detail(Evaluate(level, metadata, spec));
}

std::shared_ptr<AdmissionPlugin> NewPodSecurity(std::shared_ptr<AdmissionObjects> objects) {
  return std::make_shared<PodSecurity>(std::move(objects));
}

}  // namespace mini8s::server
