// Cell printers for core/v1 kinds, following upstream's v1.32 printers
// (pkg/printers/internalversion): pods, services, nodes, namespaces, events, secrets,
// config maps, service accounts, endpoints, persistent volumes and claims, resource quotas.
#include <algorithm>
#include <map>
#include <set>

#include "api/table/printers.h"

namespace mini8s::api::table {
namespace {

namespace json = boost::json;
using json::value;

// --- pods --------------------------------------------------------------------------------------

bool IsRestartableInit(const json::object* init_container) {
  return init_container != nullptr && Str(*init_container, "restartPolicy") == "Always";
}

// The later of `best` and the container's lastState.terminated.finishedAt.
void NoteLastTermination(const json::object& status,
                         std::optional<std::chrono::system_clock::time_point>& best) {
  if (!Has(status, "lastState.terminated")) return;
  std::optional<std::chrono::system_clock::time_point> t =
      ParseTime(Str(status, "lastState.terminated.finishedAt"));
  if (t && (!best || *best < *t)) best = t;
}

PodSummary ComputePod(const json::object& pod, std::chrono::system_clock::time_point now) {
  PodSummary s;
  const json::array& containers = Arr(pod, "spec.containers");
  const json::array& init_specs = Arr(pod, "spec.initContainers");
  const json::array& conditions = Arr(pod, "status.conditions");
  s.total = static_cast<int>(containers.size());
  int restarts = 0, restartable_init_restarts = 0;
  std::optional<std::chrono::system_clock::time_point> last_restart, last_restartable_restart;

  const std::string phase = Str(pod, "status.phase");
  s.reason = phase;
  if (!Str(pod, "status.reason").empty()) s.reason = Str(pod, "status.reason");
  for (const value& c : conditions) {
    const json::object& cond = AsObj(c);
    if (Str(cond, "type") == "PodScheduled" && Str(cond, "reason") == "SchedulingGated") {
      s.reason = "SchedulingGated";
    }
  }

  std::map<std::string, const json::object*, std::less<>> init_by_name;
  for (const value& c : init_specs) {
    const json::object& spec = AsObj(c);
    init_by_name[Str(spec, "name")] = &spec;
    if (IsRestartableInit(&spec)) ++s.total;  // sidecars count as containers
  }

  bool initializing = false;
  const json::array& init_statuses = Arr(pod, "status.initContainerStatuses");
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json::object& st = AsObj(init_statuses[i]);
    auto it = init_by_name.find(Str(st, "name"));
    const json::object* spec = it == init_by_name.end() ? nullptr : it->second;
    restarts += static_cast<int>(Int(st, "restartCount"));
    NoteLastTermination(st, last_restart);
    if (IsRestartableInit(spec)) {
      restartable_init_restarts += static_cast<int>(Int(st, "restartCount"));
      NoteLastTermination(st, last_restartable_restart);
    }
    const bool terminated = Has(st, "state.terminated");
    if (terminated && Int(st, "state.terminated.exitCode") == 0) continue;
    if (IsRestartableInit(spec) && Bool(st, "started")) {
      if (Bool(st, "ready")) ++s.ready;
      continue;
    }
    if (terminated) {
      const std::string reason = Str(st, "state.terminated.reason");
      if (!reason.empty()) {
        s.reason = "Init:" + reason;
      } else if (int64_t sig = Int(st, "state.terminated.signal"); sig != 0) {
        s.reason = "Init:Signal:" + std::to_string(sig);
      } else {
        s.reason = "Init:ExitCode:" + std::to_string(Int(st, "state.terminated.exitCode"));
      }
    } else if (const std::string waiting = Str(st, "state.waiting.reason");
               Has(st, "state.waiting") && !waiting.empty() && waiting != "PodInitializing") {
      s.reason = "Init:" + waiting;
    } else {
      s.reason = "Init:" + std::to_string(i) + "/" + std::to_string(init_specs.size());
    }
    initializing = true;
    break;
  }

  if (!initializing || ConditionTrue(conditions, "Initialized")) {
    restarts = restartable_init_restarts;
    last_restart = last_restartable_restart;
    bool has_running = false;
    const json::array& statuses = Arr(pod, "status.containerStatuses");
    // Upstream walks the statuses backwards, so the first container's state wins.
    for (size_t i = statuses.size(); i-- > 0;) {
      const json::object& st = AsObj(statuses[i]);
      restarts += static_cast<int>(Int(st, "restartCount"));
      NoteLastTermination(st, last_restart);
      const std::string waiting = Str(st, "state.waiting.reason");
      const bool terminated = Has(st, "state.terminated");
      const std::string term_reason = Str(st, "state.terminated.reason");
      if (Has(st, "state.waiting") && !waiting.empty()) {
        s.reason = waiting;
      } else if (terminated && !term_reason.empty()) {
        s.reason = term_reason;
      } else if (terminated) {
        if (int64_t sig = Int(st, "state.terminated.signal"); sig != 0) {
          s.reason = "Signal:" + std::to_string(sig);
        } else {
          s.reason = "ExitCode:" + std::to_string(Int(st, "state.terminated.exitCode"));
        }
      } else if (Bool(st, "ready") && Has(st, "state.running")) {
        has_running = true;
        ++s.ready;
      }
    }
    // A pod whose last container exited "Completed" while another still runs is not done.
    if (s.reason == "Completed" && has_running) {
      s.reason = ConditionTrue(conditions, "Ready") ? "Running" : "NotReady";
    }
  }

  if (Has(pod, "metadata.deletionTimestamp")) {
    if (Str(pod, "status.reason") == "NodeLost") {
      s.reason = "Unknown";
    } else if (phase != "Succeeded" && phase != "Failed") {
      s.reason = "Terminating";
    }
  }

  s.restarts = std::to_string(restarts);
  if (restarts != 0 && last_restart) {
    s.restarts += " (" + SinceTime(*last_restart, now) + " ago)";
  }
  return s;
}

const PodSummary& Pod(const RowContext& r) {
  if (!r.pod) r.pod = ComputePod(r.obj, r.now);
  return *r.pod;
}

value PodReady(const RowContext& r) {
  const PodSummary& s = Pod(r);
  return value(std::to_string(s.ready) + "/" + std::to_string(s.total));
}
value PodStatus(const RowContext& r) { return value(Pod(r).reason); }
value PodRestarts(const RowContext& r) { return value(Pod(r).restarts); }

value PodIp(const RowContext& r) {
  std::string ip;
  const json::array& ips = Arr(r.obj, "status.podIPs");
  if (!ips.empty()) ip = Str(AsObj(ips[0]), "ip");
  if (ip.empty()) ip = Str(r.obj, "status.podIP");  // before podIPs is filled in
  return value(ip.empty() ? "<none>" : ip);
}

value NoneIfEmpty(const RowContext& r, std::string_view path) {
  std::string s = Str(r.obj, path);
  return value(s.empty() ? "<none>" : s);
}

value PodNode(const RowContext& r) { return NoneIfEmpty(r, "spec.nodeName"); }
value PodNominatedNode(const RowContext& r) { return NoneIfEmpty(r, "status.nominatedNodeName"); }

value PodReadinessGates(const RowContext& r) {
  const json::array& gates = Arr(r.obj, "spec.readinessGates");
  if (gates.empty()) return value("<none>");
  const json::array& conditions = Arr(r.obj, "status.conditions");
  int true_count = 0;
  for (const value& g : gates) {
    if (ConditionTrue(conditions, Str(AsObj(g), "conditionType"))) ++true_count;
  }
  return value(std::to_string(true_count) + "/" + std::to_string(gates.size()));
}

// --- services ----------------------------------------------------------------------------------

// loadBalancerStatusStringer with wide output (the server always renders wide): the sorted,
// de-duplicated IPs or hostnames of status.loadBalancer.ingress.
std::string LoadBalancerIngress(const json::object& obj) {
  std::set<std::string> result;
  for (const value& v : Arr(obj, "status.loadBalancer.ingress")) {
    const json::object& ing = AsObj(v);
    if (std::string ip = Str(ing, "ip"); !ip.empty()) {
      result.insert(ip);
    } else if (std::string host = Str(ing, "hostname"); !host.empty()) {
      result.insert(host);
    }
  }
  return Join(std::vector<std::string>(result.begin(), result.end()), ",");
}

std::vector<std::string> Strings(const json::array& a) {
  std::vector<std::string> out;
  for (const value& v : a) {
    if (v.is_string()) out.emplace_back(v.get_string());
  }
  return out;
}

value ServiceType(const RowContext& r) { return value(Str(r.obj, "spec.type")); }

value ServiceClusterIp(const RowContext& r) {
  const json::array& ips = Arr(r.obj, "spec.clusterIPs");
  if (!ips.empty() && ips[0].is_string()) return value(ips[0].get_string());
  std::string ip = Str(r.obj, "spec.clusterIP");  // clusterIPs not yet defaulted
  return value(ip.empty() ? "<none>" : ip);
}

value ServiceExternalIp(const RowContext& r) {
  const std::string type = Str(r.obj, "spec.type");
  std::vector<std::string> external = Strings(Arr(r.obj, "spec.externalIPs"));
  if (type == "ClusterIP" || type == "NodePort") {
    return value(external.empty() ? "<none>" : Join(external, ","));
  }
  if (type == "LoadBalancer") {
    std::string lb = LoadBalancerIngress(r.obj);
    if (!external.empty())
      return value(lb.empty() ? Join(external, ",") : lb + "," + Join(external, ","));
    return value(lb.empty() ? "<pending>" : lb);
  }
  if (type == "ExternalName") return value(Str(r.obj, "spec.externalName"));
  return value("<unknown>");
}

value ServicePorts(const RowContext& r) {
  std::vector<std::string> pieces;
  for (const value& v : Arr(r.obj, "spec.ports")) {
    const json::object& p = AsObj(v);
    std::string proto = Str(p, "protocol");
    int64_t node_port = Int(p, "nodePort");
    std::string piece = std::to_string(Int(p, "port"));
    if (node_port > 0) piece += ":" + std::to_string(node_port);
    pieces.push_back(piece + "/" + proto);
  }
  return value(pieces.empty() ? "<none>" : Join(pieces, ","));
}

value ServiceSelector(const RowContext& r) {
  return value(FormatLabels(Obj(r.obj, "spec.selector")));
}

// --- small core kinds --------------------------------------------------------------------------

value EndpointsEndpoints(const RowContext& r) {
  const json::array& subsets = Arr(r.obj, "subsets");
  if (subsets.empty()) return value("<none>");
  std::vector<std::string> list;
  constexpr size_t kMax = 3;
  bool more = false;
  size_t count = 0;
  for (const value& sv : subsets) {
    const json::object& ss = AsObj(sv);
    for (const value& pv : Arr(ss, "ports")) {
      const std::string port = std::to_string(Int(AsObj(pv), "port"));
      for (const value& av : Arr(ss, "addresses")) {
        if (list.size() == kMax) more = true;
        if (!more) {
          std::string ip = Str(AsObj(av), "ip");
          // net.JoinHostPort brackets IPv6 addresses.
          list.push_back(ip.find(':') != std::string::npos ? "[" + ip + "]:" + port
                                                           : ip + ":" + port);
        }
        ++count;
      }
    }
  }
  std::string ret = Join(list, ",");
  if (more) ret += " + " + std::to_string(count - kMax) + " more...";
  return value(ret);
}

value ConfigMapData(const RowContext& r) {
  return value(static_cast<int64_t>(Count(r.obj, "data") + Count(r.obj, "binaryData")));
}
value SecretType(const RowContext& r) { return value(Str(r.obj, "type")); }
value SecretData(const RowContext& r) { return value(static_cast<int64_t>(Count(r.obj, "data"))); }
value ServiceAccountSecrets(const RowContext& r) {
  return value(static_cast<int64_t>(Count(r.obj, "secrets")));
}
value NamespaceStatus(const RowContext& r) { return value(Str(r.obj, "status.phase")); }

// --- nodes -------------------------------------------------------------------------------------

value NodeStatus(const RowContext& r) {
  std::vector<std::string> status;
  if (const json::object* ready = FindCondition(Arr(r.obj, "status.conditions"), "Ready")) {
    status.push_back(Str(*ready, "status") == "True" ? "Ready" : "NotReady");
  }
  if (status.empty()) status.push_back("Unknown");
  if (Bool(r.obj, "spec.unschedulable")) status.push_back("SchedulingDisabled");
  return value(Join(status, ","));
}

value NodeRoles(const RowContext& r) {
  constexpr std::string_view kPrefix = "node-role.kubernetes.io/";
  std::set<std::string> roles;
  for (const auto& [k, v] : Obj(r.obj, "metadata.labels")) {
    std::string_view key = k;
    if (key.starts_with(kPrefix)) {
      if (key.size() > kPrefix.size()) roles.emplace(key.substr(kPrefix.size()));
    } else if (key == "kubernetes.io/role" && v.is_string() && !v.get_string().empty()) {
      roles.emplace(v.get_string());
    }
  }
  std::string out = Join(std::vector<std::string>(roles.begin(), roles.end()), ",");
  return value(out.empty() ? "<none>" : out);
}

value NodeVersion(const RowContext& r) {
  return value(Str(r.obj, "status.nodeInfo.kubeletVersion"));
}

value NodeAddress(const RowContext& r, std::string_view type) {
  for (const value& v : Arr(r.obj, "status.addresses")) {
    const json::object& a = AsObj(v);
    if (Str(a, "type") == type) return value(Str(a, "address"));
  }
  return value("<none>");
}
value NodeInternalIp(const RowContext& r) { return NodeAddress(r, "InternalIP"); }
value NodeExternalIp(const RowContext& r) { return NodeAddress(r, "ExternalIP"); }

value UnknownIfEmpty(const RowContext& r, std::string_view path) {
  std::string s = Str(r.obj, path);
  return value(s.empty() ? "<unknown>" : s);
}
value NodeOsImage(const RowContext& r) { return UnknownIfEmpty(r, "status.nodeInfo.osImage"); }
value NodeKernel(const RowContext& r) { return UnknownIfEmpty(r, "status.nodeInfo.kernelVersion"); }
value NodeRuntime(const RowContext& r) {
  return UnknownIfEmpty(r, "status.nodeInfo.containerRuntimeVersion");
}

// --- events (core/v1 and events.k8s.io/v1 share upstream's printer via the internal type) ------

// Upstream converts an events.k8s.io/v1 Event to the internal type first: regarding is
// involvedObject, note is message, deprecated* are source/firstTimestamp/lastTimestamp/count.
bool IsEventsV1(const json::object& o) {
  return Str(o, "apiVersion") == "events.k8s.io/v1" || Has(o, "regarding") || Has(o, "note") ||
         Has(o, "deprecatedSource");
}

std::string FieldOf(const json::object& o, std::string_view core, std::string_view v1) {
  std::string s = Str(o, core);
  return s.empty() ? Str(o, v1) : s;
}

std::string EventFirstSeen(const RowContext& r) {
  std::string first = FieldOf(r.obj, "firstTimestamp", "deprecatedFirstTimestamp");
  if (ParseTime(first)) return Since(first, r.now);
  return Since(Str(r.obj, "eventTime"), r.now);
}

value EventLastSeen(const RowContext& r) {
  if (Has(r.obj, "series")) return value(Since(Str(r.obj, "series.lastObservedTime"), r.now));
  std::string last = FieldOf(r.obj, "lastTimestamp", "deprecatedLastTimestamp");
  if (ParseTime(last)) return value(Since(last, r.now));
  return value(EventFirstSeen(r));
}
value EventFirstSeenCell(const RowContext& r) { return value(EventFirstSeen(r)); }

const json::object& Involved(const json::object& o) {
  return IsEventsV1(o) ? Obj(o, "regarding") : Obj(o, "involvedObject");
}

value EventObject(const RowContext& r) {
  const json::object& io = Involved(r.obj);
  std::string kind = Str(io, "kind");
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string name = Str(io, "name");
  return value(name.empty() ? kind : kind + "/" + name);
}
value EventSubobject(const RowContext& r) { return value(Str(Involved(r.obj), "fieldPath")); }

value EventSource(const RowContext& r) {
  const json::object& src =
      IsEventsV1(r.obj) ? Obj(r.obj, "deprecatedSource") : Obj(r.obj, "source");
  std::string component = Str(src, "component");
  if (component.empty()) component = Str(r.obj, "reportingController");
  std::string instance = Str(src, "host");
  if (instance.empty()) instance = Str(r.obj, "reportingInstance");
  return value(instance.empty() ? component : component + ", " + instance);
}

value EventMessage(const RowContext& r) {
  std::string msg = FieldOf(r.obj, "message", "note");
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  msg.erase(msg.begin(), std::find_if(msg.begin(), msg.end(), not_space));
  msg.erase(std::find_if(msg.rbegin(), msg.rend(), not_space).base(), msg.end());
  return value(msg);
}

value EventCount(const RowContext& r) {
  if (Has(r.obj, "series")) return value(Int(r.obj, "series.count"));
  int64_t count = IsEventsV1(r.obj) ? Int(r.obj, "deprecatedCount") : Int(r.obj, "count");
  return value(count == 0 ? int64_t{1} : count);  // singleton events carry no count
}
value EventType(const RowContext& r) { return value(Str(r.obj, "type")); }
value EventReason(const RowContext& r) { return value(Str(r.obj, "reason")); }

// --- persistent volumes ------------------------------------------------------------------------

std::string AccessModes(const json::array& modes) {
  std::set<std::string> have;
  for (const value& m : modes) {
    if (m.is_string()) have.emplace(m.get_string());
  }
  std::vector<std::string> out;
  if (have.contains("ReadWriteOnce")) out.push_back("RWO");
  if (have.contains("ReadOnlyMany")) out.push_back("ROX");
  if (have.contains("ReadWriteMany")) out.push_back("RWX");
  if (have.contains("ReadWriteOncePod")) out.push_back("RWOP");
  return Join(out, ",");
}

std::string StorageClassOf(const json::object& o) {
  const json::object& ann = Obj(o, "metadata.annotations");
  if (const value* v = ann.if_contains("volume.beta.kubernetes.io/storage-class")) {
    if (v->is_string()) return std::string(v->get_string());
  }
  return Str(o, "spec.storageClassName");
}

value PhaseOrTerminating(const RowContext& r) {
  if (Has(r.obj, "metadata.deletionTimestamp")) return value("Terminating");
  return value(Str(r.obj, "status.phase"));
}
value UnsetIfAbsent(const RowContext& r, std::string_view path) {
  if (!Has(r.obj, path)) return value("<unset>");
  return value(Str(r.obj, path));
}

value PvCapacity(const RowContext& r) {
  return value(QuantityString(At(r.obj, "spec.capacity.storage")));
}
value PvAccessModes(const RowContext& r) {
  return value(AccessModes(Arr(r.obj, "spec.accessModes")));
}
value PvReclaimPolicy(const RowContext& r) {
  return value(Str(r.obj, "spec.persistentVolumeReclaimPolicy"));
}
value PvClaim(const RowContext& r) {
  if (!Has(r.obj, "spec.claimRef")) return value("");
  return value(Str(r.obj, "spec.claimRef.namespace") + "/" + Str(r.obj, "spec.claimRef.name"));
}
value PvStorageClass(const RowContext& r) { return value(StorageClassOf(r.obj)); }
value PvVolumeAttributesClass(const RowContext& r) {
  return UnsetIfAbsent(r, "spec.volumeAttributesClassName");
}
value PvReason(const RowContext& r) { return value(Str(r.obj, "status.reason")); }
value VolumeMode(const RowContext& r) { return UnsetIfAbsent(r, "spec.volumeMode"); }

value PvcVolume(const RowContext& r) { return value(Str(r.obj, "spec.volumeName")); }
// Capacity and access modes are shown only once the claim is bound to a volume.
value PvcCapacity(const RowContext& r) {
  if (Str(r.obj, "spec.volumeName").empty()) return value("");
  return value(QuantityString(At(r.obj, "status.capacity.storage")));
}
value PvcAccessModes(const RowContext& r) {
  if (Str(r.obj, "spec.volumeName").empty()) return value("");
  return value(AccessModes(Arr(r.obj, "status.accessModes")));
}

// --- resource quotas ---------------------------------------------------------------------------

// "resource: used/hard, ..." over status.hard sorted by name; "limits.*" go to the Limit column.
std::string QuotaColumn(const json::object& obj, bool limits) {
  const json::object& hard = Obj(obj, "status.hard");
  const json::object& used = Obj(obj, "status.used");
  std::vector<std::string> names;
  for (const auto& kv : hard) names.emplace_back(kv.key());
  std::sort(names.begin(), names.end());
  std::vector<std::string> parts;
  for (const std::string& n : names) {
    const bool is_limit = n.starts_with("limits.");
    if (is_limit != limits) continue;
    parts.push_back(n + ": " + QuantityString(used.if_contains(n)) + "/" +
                    QuantityString(hard.if_contains(n)));
  }
  return Join(parts, ", ");
}
value QuotaRequest(const RowContext& r) { return value(QuotaColumn(r.obj, false)); }
value QuotaLimit(const RowContext& r) { return value(QuotaColumn(r.obj, true)); }

}  // namespace

std::vector<PrinterEntry> CorePrinters() {
  return {
      {"pod.ready", PodReady},
      {"pod.status", PodStatus},
      {"pod.restarts", PodRestarts},
      {"pod.ip", PodIp},
      {"pod.node", PodNode},
      {"pod.nominated_node", PodNominatedNode},
      {"pod.readiness_gates", PodReadinessGates},
      {"service.type", ServiceType},
      {"service.cluster_ip", ServiceClusterIp},
      {"service.external_ip", ServiceExternalIp},
      {"service.ports", ServicePorts},
      {"service.selector", ServiceSelector},
      {"endpoints.endpoints", EndpointsEndpoints},
      {"configmap.data", ConfigMapData},
      {"secret.type", SecretType},
      {"secret.data", SecretData},
      {"serviceaccount.secrets", ServiceAccountSecrets},
      {"namespace.status", NamespaceStatus},
      {"node.status", NodeStatus},
      {"node.roles", NodeRoles},
      {"node.version", NodeVersion},
      {"node.internal_ip", NodeInternalIp},
      {"node.external_ip", NodeExternalIp},
      {"node.os_image", NodeOsImage},
      {"node.kernel_version", NodeKernel},
      {"node.container_runtime", NodeRuntime},
      {"event.last_seen", EventLastSeen},
      {"event.type", EventType},
      {"event.reason", EventReason},
      {"event.object", EventObject},
      {"event.subobject", EventSubobject},
      {"event.source", EventSource},
      {"event.message", EventMessage},
      {"event.first_seen", EventFirstSeenCell},
      {"event.count", EventCount},
      {"pv.capacity", PvCapacity},
      {"pv.access_modes", PvAccessModes},
      {"pv.reclaim_policy", PvReclaimPolicy},
      {"pv.status", PhaseOrTerminating},
      {"pv.claim", PvClaim},
      {"pv.storage_class", PvStorageClass},
      {"pv.volume_attributes_class", PvVolumeAttributesClass},
      {"pv.reason", PvReason},
      {"pv.volume_mode", VolumeMode},
      {"pvc.status", PhaseOrTerminating},
      {"pvc.volume", PvcVolume},
      {"pvc.capacity", PvcCapacity},
      {"pvc.access_modes", PvcAccessModes},
      {"pvc.storage_class", PvStorageClass},
      {"pvc.volume_attributes_class", PvVolumeAttributesClass},
      {"pvc.volume_mode", VolumeMode},
      {"quota.request", QuotaRequest},
      {"quota.limit", QuotaLimit},
  };
}

}  // namespace mini8s::api::table
