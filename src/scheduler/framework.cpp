#include "scheduler/framework.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/quantity.h"

namespace mini8s::scheduler {

namespace json = boost::json;

namespace {

constexpr int64_t kDefaultMilliCpuRequest = 100;                // upstream non-zero defaults
constexpr int64_t kDefaultMemoryRequest = 200LL * 1024 * 1024;  // 200Mi

std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

api::StringMap ToStringMap(const json::object* o) {
  api::StringMap m;
  if (o == nullptr) return m;
  for (const auto& [k, v] : *o) {
    if (v.is_string()) m.emplace(std::string(k), std::string(v.as_string()));
  }
  return m;
}

void SetResource(Resources& r, std::string_view name, const api::Quantity& q) {
  if (name == "cpu") {
    r.milli_cpu = q.MilliValue();
  } else if (name == "memory") {
    r.memory = q.Value();
  } else if (name == "ephemeral-storage") {
    r.ephemeral_storage = q.Value();
  } else if (name == "pods") {
    r.pods = q.Value();
  } else {
    r.AddScalar(name, q.Value());
  }
}

// A container's requests; a resource with only a limit requests its limit (the API server's
// defaulting, which FakeClient and hand-written objects may lack).
Resources ContainerRequests(const json::object& c, bool& has_cpu, bool& has_mem) {
  Resources r;
  has_cpu = has_mem = false;
  const json::object* res = Obj(c, "resources");
  if (res == nullptr) return r;
  const json::object* req = Obj(*res, "requests");
  const json::object* lim = Obj(*res, "limits");
  std::set<std::string_view> seen;
  for (const json::object* list : {req, lim}) {
    if (list == nullptr) continue;
    for (const auto& [k, v] : *list) {
      if (!seen.insert(k).second) continue;
      std::string text = v.is_string()   ? std::string(v.as_string())
                         : v.is_int64()  ? std::to_string(v.as_int64())
                         : v.is_uint64() ? std::to_string(v.as_uint64())
                         : v.is_double() ? std::to_string(v.as_double())
                                         : std::string();
      auto q = api::Quantity::Parse(text);
      if (!q.has_value()) continue;
      SetResource(r, k, *q);
      if (k == "cpu") has_cpu = true;
      if (k == "memory") has_mem = true;
    }
  }
  return r;
}

Toleration ParseToleration(const json::object& t) {
  Toleration out;
  out.key = std::string(Str(t, "key"));
  out.exists = Str(t, "operator") == "Exists";
  out.value = std::string(Str(t, "value"));
  out.effect = std::string(Str(t, "effect"));
  return out;
}

NodeSelectorRequirement ParseRequirement(const json::object& r) {
  NodeSelectorRequirement out;
  out.key = std::string(Str(r, "key"));
  out.op = std::string(Str(r, "operator"));
  if (const json::array* vals = Arr(r, "values")) {
    for (const json::value& v : *vals) {
      if (v.is_string()) out.values.emplace_back(v.as_string());
    }
  }
  return out;
}

NodeSelectorTerm ParseTerm(const json::object& t) {
  NodeSelectorTerm out;
  if (const json::array* e = Arr(t, "matchExpressions")) {
    for (const json::value& v : *e) {
      if (v.is_object()) out.expressions.push_back(ParseRequirement(v.as_object()));
    }
  }
  if (const json::array* f = Arr(t, "matchFields")) {
    for (const json::value& v : *f) {
      if (v.is_object()) out.fields.push_back(ParseRequirement(v.as_object()));
    }
  }
  return out;
}

bool MatchesRequirement(const NodeSelectorRequirement& r, std::optional<std::string_view> value) {
  auto in = [&] {
    return value && std::find(r.values.begin(), r.values.end(), *value) != r.values.end();
  };
  if (r.op == "In") return in();
  if (r.op == "NotIn") return !in();
  if (r.op == "Exists") return value.has_value();
  if (r.op == "DoesNotExist") return !value.has_value();
  if (r.op == "Gt" || r.op == "Lt") {
    if (!value || r.values.size() != 1) return false;
    auto have = ParseInt(*value);
    auto want = ParseInt(r.values[0]);
    if (!have || !want) return false;
    return r.op == "Gt" ? *have > *want : *have < *want;
  }
  return false;
}

// One pod (anti-)affinity term; `weight` > 0 for a weightedPodAffinityTerm's inner term.
std::optional<PodAffinityTerm> ParseAffinityTerm(const json::object& t, std::string_view pod_ns,
                                                 int32_t weight) {
  PodAffinityTerm out;
  out.weight = weight;
  out.topology_key = std::string(Str(t, "topologyKey"));
  auto sel = api::LabelSelector::FromLabelSelectorJson(t.if_contains("labelSelector"));
  if (!sel.has_value()) return std::nullopt;
  out.selector = std::move(*sel);
  if (const json::array* nss = Arr(t, "namespaces")) {
    for (const json::value& v : *nss) {
      if (v.is_string()) out.namespaces.emplace_back(v.as_string());
    }
  }
  const json::object* ns_sel = Obj(t, "namespaceSelector");
  if (ns_sel != nullptr && ns_sel->empty()) {
    out.all_namespaces = true;
  } else if (ns_sel == nullptr && out.namespaces.empty()) {
    out.namespaces.emplace_back(pod_ns);
  }
  return out;
}

void ParseAffinityTerms(const json::object& parent, std::string_view pod_ns, bool weighted,
                        std::vector<PodAffinityTerm>& out) {
  const json::array* terms =
      Arr(parent, weighted ? "preferredDuringSchedulingIgnoredDuringExecution"
                           : "requiredDuringSchedulingIgnoredDuringExecution");
  if (terms == nullptr) return;
  for (const json::value& v : *terms) {
    if (!v.is_object()) continue;
    const json::object& o = v.as_object();
    std::optional<PodAffinityTerm> term;
    if (weighted) {
      const json::object* inner = Obj(o, "podAffinityTerm");
      const json::value* w = o.if_contains("weight");
      if (inner == nullptr || w == nullptr || !w->is_number()) continue;
      term = ParseAffinityTerm(*inner, pod_ns, static_cast<int32_t>(w->to_number<double>()));
    } else {
      term = ParseAffinityTerm(o, pod_ns, 0);
    }
    if (term) out.push_back(std::move(*term));
  }
}

std::optional<SpreadConstraint> ParseSpread(const json::object& c, const api::StringMap& labels) {
  SpreadConstraint out;
  const json::value* skew = c.if_contains("maxSkew");
  if (skew != nullptr && skew->is_number()) {
    out.max_skew = static_cast<int32_t>(skew->to_number<double>());
  }
  out.topology_key = std::string(Str(c, "topologyKey"));
  out.do_not_schedule = Str(c, "whenUnsatisfiable") != "ScheduleAnyway";
  // matchLabelKeys: the pod's own values for those keys join the selector.
  json::value sel = nullptr;
  if (const json::value* s = c.if_contains("labelSelector")) sel = *s;
  if (const json::array* keys = Arr(c, "matchLabelKeys"); keys && sel.is_object()) {
    json::value& exprs = sel.as_object()["matchExpressions"];
    if (!exprs.is_array()) exprs = json::array();
    for (const json::value& k : *keys) {
      if (!k.is_string()) continue;
      auto it = labels.find(std::string_view(k.as_string()));
      if (it == labels.end()) continue;
      exprs.as_array().push_back(json::object{
          {"key", k}, {"operator", "In"}, {"values", json::array{json::string(it->second)}}});
    }
  }
  auto parsed = api::LabelSelector::FromLabelSelectorJson(&sel);
  if (!parsed.has_value()) return std::nullopt;
  out.selector = std::move(*parsed);
  return out;
}

bool PortsConflict(const HostPort& a, const HostPort& b) {
  return a.port == b.port && a.protocol == b.protocol &&
         (a.ip == "0.0.0.0" || b.ip == "0.0.0.0" || a.ip == b.ip);
}

}  // namespace

// ---- Resources ---------------------------------------------------------------------------

int64_t Resources::Scalar(std::string_view name) const {
  for (const auto& [k, v] : scalar) {
    if (k == name) return v;
  }
  return 0;
}

void Resources::AddScalar(std::string_view name, int64_t v) {
  for (auto& [k, have] : scalar) {
    if (k == name) {
      have += v;
      return;
    }
  }
  scalar.emplace_back(std::string(name), v);
  std::sort(scalar.begin(), scalar.end());
}

void Resources::Add(const Resources& r, int sign) {
  milli_cpu += sign * r.milli_cpu;
  memory += sign * r.memory;
  ephemeral_storage += sign * r.ephemeral_storage;
  pods += sign * r.pods;
  for (const auto& [k, v] : r.scalar) AddScalar(k, sign * v);
}

void Resources::Max(const Resources& r) {
  milli_cpu = std::max(milli_cpu, r.milli_cpu);
  memory = std::max(memory, r.memory);
  ephemeral_storage = std::max(ephemeral_storage, r.ephemeral_storage);
  pods = std::max(pods, r.pods);
  for (const auto& [k, v] : r.scalar) {
    int64_t have = Scalar(k);
    if (v > have) AddScalar(k, v - have);
  }
}

bool Resources::IsZero() const {
  if (milli_cpu != 0 || memory != 0 || ephemeral_storage != 0) return false;
  for (const auto& [k, v] : scalar) {
    if (v != 0) return false;
  }
  return true;
}

Resources ParseResourceList(const json::object* list) {
  Resources r;
  if (list == nullptr) return r;
  for (const auto& [k, v] : *list) {
    if (!v.is_string()) continue;
    auto q = api::Quantity::Parse(v.as_string());
    if (q.has_value()) SetResource(r, k, *q);
  }
  return r;
}

bool Tolerates(const std::vector<Toleration>& tolerations, const Taint& taint) {
  for (const Toleration& t : tolerations) {
    if (!t.effect.empty() && t.effect != taint.effect) continue;
    if (t.exists) {
      if (t.key.empty() || t.key == taint.key) return true;
    } else if (t.key == taint.key && t.value == taint.value) {
      return true;
    }
  }
  return false;
}

bool PodAffinityTerm::Matches(std::string_view ns, const api::StringMap& labels) const {
  if (!all_namespaces && std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) {
    return false;
  }
  return selector.Matches(labels);
}

// ---- pods --------------------------------------------------------------------------------

PodInfoPtr ParsePod(const json::object& pod) {
  auto p = std::make_shared<PodInfo>();
  p->ns = std::string(api::Namespace(pod));
  p->name = std::string(api::Name(pod));
  p->key = p->ns + "/" + p->name;
  p->uid = std::string(api::Uid(pod));
  p->labels = ToStringMap(api::Labels(pod));
  p->being_deleted = api::IsBeingDeleted(pod);
  if (auto owner = api::ControllerOf(pod)) p->controller_uid = owner->uid;
  std::string_view phase = api::GetString(pod, "status.phase");
  p->terminal = phase == "Succeeded" || phase == "Failed";

  const json::object* spec = Obj(pod, "spec");
  static const json::object kEmpty;
  if (spec == nullptr) spec = &kEmpty;
  p->node_name = std::string(Str(*spec, "nodeName"));
  p->scheduler_name = std::string(Str(*spec, "schedulerName"));
  if (const json::value* pr = spec->if_contains("priority"); pr && pr->is_number()) {
    p->priority = static_cast<int32_t>(pr->to_number<double>());
  }
  p->preempt_never = Str(*spec, "preemptionPolicy") == "Never";

  // Requests: containers + sidecars, at least every regular init container (with the sidecars
  // started before it), plus overhead.
  Resources sum;
  Resources sidecars;
  Resources init_max;
  int64_t n0_cpu = 0, n0_mem = 0, side_n0_cpu = 0, side_n0_mem = 0, init_n0_cpu = 0,
          init_n0_mem = 0;
  auto non0 = [](const Resources& r, bool has_cpu, bool has_mem) {
    return std::pair<int64_t, int64_t>{has_cpu ? r.milli_cpu : kDefaultMilliCpuRequest,
                                       has_mem ? r.memory : kDefaultMemoryRequest};
  };
  if (const json::array* cs = Arr(*spec, "containers")) {
    for (const json::value& c : *cs) {
      if (!c.is_object()) continue;
      bool hc = false, hm = false;
      Resources r = ContainerRequests(c.as_object(), hc, hm);
      sum.Add(r);
      auto [nc, nm] = non0(r, hc, hm);
      n0_cpu += nc;
      n0_mem += nm;
      if (const json::array* ports = Arr(c.as_object(), "ports")) {
        for (const json::value& pv : *ports) {
          if (!pv.is_object()) continue;
          const json::value* hp = pv.as_object().if_contains("hostPort");
          if (hp == nullptr || !hp->is_number() || hp->to_number<double>() <= 0) continue;
          HostPort port;
          port.port = static_cast<int32_t>(hp->to_number<double>());
          port.ip = std::string(Str(pv.as_object(), "hostIP"));
          if (port.ip.empty()) port.ip = "0.0.0.0";
          port.protocol = std::string(Str(pv.as_object(), "protocol"));
          if (port.protocol.empty()) port.protocol = "TCP";
          p->host_ports.push_back(std::move(port));
        }
      }
    }
  }
  if (const json::array* ics = Arr(*spec, "initContainers")) {
    for (const json::value& c : *ics) {
      if (!c.is_object()) continue;
      bool hc = false, hm = false;
      Resources r = ContainerRequests(c.as_object(), hc, hm);
      auto [nc, nm] = non0(r, hc, hm);
      if (Str(c.as_object(), "restartPolicy") == "Always") {
        sum.Add(r);
        sidecars.Add(r);
        n0_cpu += nc;
        n0_mem += nm;
        side_n0_cpu += nc;
        side_n0_mem += nm;
      } else {
        Resources with = r;
        with.Add(sidecars);
        init_max.Max(with);
        init_n0_cpu = std::max(init_n0_cpu, nc + side_n0_cpu);
        init_n0_mem = std::max(init_n0_mem, nm + side_n0_mem);
      }
    }
  }
  sum.Max(init_max);
  n0_cpu = std::max(n0_cpu, init_n0_cpu);
  n0_mem = std::max(n0_mem, init_n0_mem);
  Resources overhead = ParseResourceList(Obj(*spec, "overhead"));
  sum.Add(overhead);
  p->requests = std::move(sum);
  p->non0_cpu = n0_cpu + overhead.milli_cpu;
  p->non0_mem = n0_mem + overhead.memory;

  if (const json::object* sel = Obj(*spec, "nodeSelector")) {
    for (const auto& [k, v] : *sel) {
      if (v.is_string()) p->node_selector.emplace_back(std::string(k), std::string(v.as_string()));
    }
  }
  if (const json::array* tols = Arr(*spec, "tolerations")) {
    for (const json::value& t : *tols) {
      if (t.is_object()) p->tolerations.push_back(ParseToleration(t.as_object()));
    }
  }
  if (const json::object* aff = Obj(*spec, "affinity")) {
    if (const json::object* na = Obj(*aff, "nodeAffinity")) {
      if (const json::object* req = Obj(*na, "requiredDuringSchedulingIgnoredDuringExecution")) {
        p->required_node_affinity = ParseNodeSelectorTerms(Arr(*req, "nodeSelectorTerms"));
      }
      if (const json::array* pref = Arr(*na, "preferredDuringSchedulingIgnoredDuringExecution")) {
        for (const json::value& v : *pref) {
          if (!v.is_object()) continue;
          const json::object* pt = Obj(v.as_object(), "preference");
          const json::value* w = v.as_object().if_contains("weight");
          if (pt == nullptr || w == nullptr || !w->is_number()) continue;
          p->preferred_node_affinity.push_back(
              {static_cast<int32_t>(w->to_number<double>()), ParseTerm(*pt)});
        }
      }
    }
    if (const json::object* pa = Obj(*aff, "podAffinity")) {
      ParseAffinityTerms(*pa, p->ns, false, p->required_affinity);
      ParseAffinityTerms(*pa, p->ns, true, p->preferred_affinity);
    }
    if (const json::object* paa = Obj(*aff, "podAntiAffinity")) {
      ParseAffinityTerms(*paa, p->ns, false, p->required_anti_affinity);
      ParseAffinityTerms(*paa, p->ns, true, p->preferred_anti_affinity);
    }
  }
  if (const json::array* tsc = Arr(*spec, "topologySpreadConstraints")) {
    for (const json::value& c : *tsc) {
      if (!c.is_object()) continue;
      if (auto sc = ParseSpread(c.as_object(), p->labels)) p->spread.push_back(std::move(*sc));
    }
  }
  if (const json::array* vols = Arr(*spec, "volumes")) {
    for (const json::value& v : *vols) {
      if (!v.is_object()) continue;
      if (const json::object* pvc = Obj(v.as_object(), "persistentVolumeClaim")) {
        std::string_view claim = Str(*pvc, "claimName");
        if (!claim.empty()) p->claims.emplace_back(claim);
      } else if (Obj(v.as_object(), "ephemeral") != nullptr) {
        // Generic ephemeral volumes are claims named <pod>-<volume>.
        p->claims.push_back(p->name + "-" + std::string(Str(v.as_object(), "name")));
      }
    }
  }
  return p;
}

// ---- nodes -------------------------------------------------------------------------------

std::vector<NodeSelectorTerm> ParseNodeSelectorTerms(const json::array* terms) {
  std::vector<NodeSelectorTerm> out;
  if (terms == nullptr) return out;
  for (const json::value& t : *terms) {
    if (t.is_object()) out.push_back(ParseTerm(t.as_object()));
  }
  return out;
}

void ParseNode(const json::object& node, NodeInfo& out) {
  out.name = std::string(api::Name(node));
  out.labels = ToStringMap(api::Labels(node));
  out.unschedulable = api::GetBool(node, "spec.unschedulable").value_or(false);
  out.taints.clear();
  if (const json::array* taints = api::GetArray(node, "spec.taints")) {
    for (const json::value& t : *taints) {
      if (!t.is_object()) continue;
      out.taints.push_back({std::string(Str(t.as_object(), "key")),
                            std::string(Str(t.as_object(), "value")),
                            std::string(Str(t.as_object(), "effect"))});
    }
  }
  const json::object* alloc = api::GetObject(node, "status.allocatable");
  if (alloc == nullptr) alloc = api::GetObject(node, "status.capacity");
  out.allocatable = ParseResourceList(alloc);

  std::string_view ready;
  if (const json::array* conds = api::GetArray(node, "status.conditions")) {
    for (const json::value& c : *conds) {
      if (c.is_object() && Str(c.as_object(), "type") == "Ready")
        ready = Str(c.as_object(), "status");
    }
  }
  if (ready != "True") {
    std::string key =
        ready == "Unknown" ? "node.kubernetes.io/unreachable" : "node.kubernetes.io/not-ready";
    bool present = std::any_of(out.taints.begin(), out.taints.end(), [&](const Taint& t) {
      return t.key == key && t.effect == "NoSchedule";
    });
    if (!present) out.taints.push_back({key, "", "NoSchedule"});
  }
}

std::string_view NodeInfo::Label(std::string_view key) const {
  auto it = labels.find(key);
  if (it != labels.end()) return it->second;
  // The agent sets kubernetes.io/hostname to the node name; fall back to it for nodes that lack
  // the label so hostname topology still works.
  if (key == kHostnameLabel) return name;
  return {};
}

void NodeInfo::AddPod(const PodInfoPtr& pod) {
  requested.Add(pod->requests);
  non0_cpu += pod->non0_cpu;
  non0_mem += pod->non0_mem;
  for (const HostPort& hp : pod->host_ports) used_ports.push_back(hp);
  if (!pod->controller_uid.empty()) ++by_controller[pod->controller_uid];
  if (pod->HasPodAffinity()) ++with_affinity;
  if (!pod->required_anti_affinity.empty()) ++with_required_anti;
  pods.push_back(pod);
}

void NodeInfo::RemovePod(const PodInfo& pod) {
  auto it = std::find_if(pods.begin(), pods.end(),
                         [&](const PodInfoPtr& p) { return p->key == pod.key; });
  if (it == pods.end()) return;
  PodInfoPtr held = *it;  // the accounting must undo exactly what AddPod did
  *it = pods.back();
  pods.pop_back();
  requested.Add(held->requests, -1);
  non0_cpu -= held->non0_cpu;
  non0_mem -= held->non0_mem;
  for (const HostPort& hp : held->host_ports) {
    auto u = std::find_if(used_ports.begin(), used_ports.end(), [&](const HostPort& x) {
      return x.port == hp.port && x.ip == hp.ip && x.protocol == hp.protocol;
    });
    if (u != used_ports.end()) used_ports.erase(u);
  }
  if (!held->controller_uid.empty()) {
    auto c = by_controller.find(held->controller_uid);
    if (c != by_controller.end() && --c->second <= 0) by_controller.erase(c);
  }
  if (held->HasPodAffinity()) --with_affinity;
  if (!held->required_anti_affinity.empty()) --with_required_anti;
}

bool MatchesNodeSelectorTerm(const NodeSelectorTerm& term, const NodeInfo& node) {
  if (term.expressions.empty() && term.fields.empty()) return false;
  for (const NodeSelectorRequirement& r : term.expressions) {
    auto it = node.labels.find(r.key);
    std::optional<std::string_view> v;
    if (it != node.labels.end()) v = it->second;
    if (!MatchesRequirement(r, v)) return false;
  }
  for (const NodeSelectorRequirement& r : term.fields) {
    if (r.key != "metadata.name") return false;
    if (!MatchesRequirement(r, std::string_view(node.name))) return false;
  }
  return true;
}

bool MatchesNodeSelectorTerms(const std::vector<NodeSelectorTerm>& terms, const NodeInfo& node) {
  for (const NodeSelectorTerm& t : terms) {
    if (MatchesNodeSelectorTerm(t, node)) return true;
  }
  return false;
}

// ---- filters -----------------------------------------------------------------------------

bool FilterNodeName(const PodInfo& pod, const NodeInfo& node, FilterResult& out) {
  if (pod.node_name.empty() || pod.node_name == node.name) return true;
  out.reasons.emplace_back(kReasonNodeName);
  out.unresolvable = true;
  return false;
}

bool FilterUnschedulable(const PodInfo& pod, const NodeInfo& node, FilterResult& out) {
  if (!node.unschedulable) return true;
  if (Tolerates(pod.tolerations, {"node.kubernetes.io/unschedulable", "", "NoSchedule"})) {
    return true;
  }
  out.reasons.emplace_back(kReasonUnschedulable);
  out.unresolvable = true;
  return false;
}

bool FilterNodeAffinity(const PodInfo& pod, const NodeInfo& node, FilterResult& out) {
  bool fits = true;
  for (const auto& [k, v] : pod.node_selector) {
    auto it = node.labels.find(k);
    if (it == node.labels.end() || it->second != v) {
      fits = false;
      break;
    }
  }
  if (fits && pod.required_node_affinity) {
    fits = MatchesNodeSelectorTerms(*pod.required_node_affinity, node);
  }
  if (fits) return true;
  out.reasons.emplace_back(kReasonNodeAffinity);
  out.unresolvable = true;
  return false;
}

bool FilterTaints(const PodInfo& pod, const NodeInfo& node, FilterResult& out) {
  for (const Taint& t : node.taints) {
    if (t.effect != "NoSchedule" && t.effect != "NoExecute") continue;
    if (Tolerates(pod.tolerations, t)) continue;
    out.reasons.push_back("node(s) had untolerated taint {" + t.key + ": " + t.value + "}");
    out.unresolvable = true;
    return false;
  }
  return true;
}

bool FilterPorts(const PodInfo& pod, const NodeInfo& node, FilterResult& out) {
  for (const HostPort& want : pod.host_ports) {
    for (const HostPort& used : node.used_ports) {
      if (PortsConflict(want, used)) {
        out.reasons.emplace_back(kReasonPorts);
        return false;
      }
    }
  }
  return true;
}

bool FilterResources(const PodInfo& pod, const NodeInfo& node, FilterResult& out) {
  size_t before = out.reasons.size();
  if (static_cast<int64_t>(node.pods.size()) + 1 > node.allocatable.pods) {
    out.reasons.emplace_back(kReasonTooManyPods);
  }
  const Resources& req = pod.requests;
  if (!req.IsZero()) {
    const Resources& a = node.allocatable;
    const Resources& used = node.requested;
    if (req.milli_cpu > 0 && req.milli_cpu > a.milli_cpu - used.milli_cpu) {
      out.reasons.emplace_back("Insufficient cpu");
    }
    if (req.memory > 0 && req.memory > a.memory - used.memory) {
      out.reasons.emplace_back("Insufficient memory");
    }
    if (req.ephemeral_storage > 0 &&
        req.ephemeral_storage > a.ephemeral_storage - used.ephemeral_storage) {
      out.reasons.emplace_back("Insufficient ephemeral-storage");
    }
    for (const auto& [name, v] : req.scalar) {
      if (v > 0 && v > a.Scalar(name) - used.Scalar(name)) {
        out.reasons.push_back("Insufficient " + name);
      }
    }
  }
  return out.reasons.size() == before;
}

namespace {
std::string DomainKey(std::string_view key, std::string_view value) {
  std::string k;
  k.reserve(key.size() + value.size() + 1);
  k.append(key).push_back('\x01');
  k.append(value);
  return k;
}
}  // namespace

void TopologyCounts::Add(std::string_view key, std::string_view value) {
  ++counts[DomainKey(key, value)];
}

int64_t TopologyCounts::Get(std::string_view key, std::string_view value) const {
  auto it = counts.find(DomainKey(key, value));
  return it == counts.end() ? 0 : it->second;
}

AffinityState ComputeAffinityState(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes) {
  AffinityState st;
  bool has_terms = !pod.required_affinity.empty() || !pod.required_anti_affinity.empty();
  for (const NodeInfo* n : nodes) {
    if (!has_terms && n->with_required_anti == 0) continue;
    for (const PodInfoPtr& e : n->pods) {
      // Existing pods' anti-affinity against the incoming pod.
      for (const PodAffinityTerm& t : e->required_anti_affinity) {
        if (!t.Matches(pod.ns, pod.labels)) continue;
        std::string_view v = n->Label(t.topology_key);
        if (!v.empty()) st.existing_anti.emplace(t.topology_key, std::string(v));
      }
      if (!has_terms) continue;
      if (!pod.required_affinity.empty()) {
        bool all =
            std::all_of(pod.required_affinity.begin(), pod.required_affinity.end(),
                        [&](const PodAffinityTerm& t) { return t.Matches(e->ns, e->labels); });
        if (all) {
          st.any_affinity_match = true;
          for (const PodAffinityTerm& t : pod.required_affinity) {
            std::string_view v = n->Label(t.topology_key);
            if (!v.empty()) st.affinity.Add(t.topology_key, v);
          }
        }
      }
      for (const PodAffinityTerm& t : pod.required_anti_affinity) {
        if (!t.Matches(e->ns, e->labels)) continue;
        std::string_view v = n->Label(t.topology_key);
        if (!v.empty()) st.anti_affinity.Add(t.topology_key, v);
      }
    }
  }
  st.self_matches_affinity =
      !pod.required_affinity.empty() &&
      std::all_of(pod.required_affinity.begin(), pod.required_affinity.end(),
                  [&](const PodAffinityTerm& t) { return t.Matches(pod.ns, pod.labels); });
  return st;
}

bool FilterInterPodAffinity(const PodInfo& pod, const AffinityState& st, const NodeInfo& node,
                            FilterResult& out) {
  for (const auto& [key, value] : st.existing_anti) {
    if (node.Label(key) == value) {
      out.reasons.emplace_back(kReasonExistingAntiAffinity);
      return false;
    }
  }
  for (const PodAffinityTerm& t : pod.required_anti_affinity) {
    std::string_view v = node.Label(t.topology_key);
    if (!v.empty() && st.anti_affinity.Get(t.topology_key, v) > 0) {
      out.reasons.emplace_back(kReasonAntiAffinityRules);
      return false;
    }
  }
  if (!pod.required_affinity.empty()) {
    bool ok = true;
    for (const PodAffinityTerm& t : pod.required_affinity) {
      std::string_view v = node.Label(t.topology_key);
      if (v.empty() || st.affinity.Get(t.topology_key, v) <= 0) {
        ok = false;
        break;
      }
    }
    // The first pod of a group that selects itself may go anywhere the topology key exists.
    if (!ok && !st.any_affinity_match && st.self_matches_affinity) {
      ok = std::all_of(
          pod.required_affinity.begin(), pod.required_affinity.end(),
          [&](const PodAffinityTerm& t) { return !node.Label(t.topology_key).empty(); });
    }
    if (!ok) {
      out.reasons.emplace_back(kReasonAffinityRules);
      out.unresolvable = true;
      return false;
    }
  }
  return true;
}

namespace {

// Whether `node` counts for the pod's spread (nodeAffinityPolicy Honor, the default).
bool SpreadEligible(const PodInfo& pod, const NodeInfo& node) {
  FilterResult ignored;
  return FilterNodeAffinity(pod, node, ignored);
}

int64_t CountMatching(const NodeInfo& node, const std::string& ns, const api::LabelSelector& sel) {
  int64_t n = 0;
  for (const PodInfoPtr& e : node.pods) {
    if (e->ns == ns && !e->being_deleted && sel.Matches(e->labels)) ++n;
  }
  return n;
}

}  // namespace

SpreadState ComputeSpreadState(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes) {
  SpreadState st;
  for (size_t i = 0; i < pod.spread.size(); ++i) {
    const SpreadConstraint& c = pod.spread[i];
    if (!c.do_not_schedule) continue;
    std::map<std::string, int64_t, std::less<>> counts;
    for (const NodeInfo* n : nodes) {
      if (!n->labels.count(c.topology_key) || !SpreadEligible(pod, *n)) continue;
      counts[std::string(n->Label(c.topology_key))] += CountMatching(*n, pod.ns, c.selector);
    }
    int64_t min = std::numeric_limits<int64_t>::max();
    for (const auto& [v, cnt] : counts) min = std::min(min, cnt);
    if (counts.empty()) min = 0;
    st.counts.push_back(std::move(counts));
    st.min.push_back(min);
    st.constraint_index.push_back(i);
  }
  return st;
}

bool FilterSpread(const PodInfo& pod, const SpreadState& st, const NodeInfo& node,
                  FilterResult& out) {
  for (size_t j = 0; j < st.constraint_index.size(); ++j) {
    const SpreadConstraint& c = pod.spread[st.constraint_index[j]];
    auto lbl = node.labels.find(c.topology_key);
    if (lbl == node.labels.end()) {
      out.reasons.emplace_back(kReasonSpreadMissingLabel);
      out.unresolvable = true;
      return false;
    }
    int64_t self = c.selector.Matches(pod.labels) ? 1 : 0;
    auto it = st.counts[j].find(lbl->second);
    int64_t count = it == st.counts[j].end() ? 0 : it->second;
    if (count + self - st.min[j] > c.max_skew) {
      out.reasons.emplace_back(kReasonSpread);
      return false;
    }
  }
  return true;
}

// ---- scores ------------------------------------------------------------------------------

int64_t ScoreLeastAllocated(const PodInfo& pod, const NodeInfo& node) {
  auto least = [](int64_t requested, int64_t capacity) -> int64_t {
    if (capacity <= 0 || requested > capacity) return 0;
    return (capacity - requested) * kMaxNodeScore / capacity;
  };
  int64_t cpu = least(node.non0_cpu + pod.non0_cpu, node.allocatable.milli_cpu);
  int64_t mem = least(node.non0_mem + pod.non0_mem, node.allocatable.memory);
  return (cpu + mem) / 2;
}

int64_t ScoreBalanced(const PodInfo& pod, const NodeInfo& node) {
  std::vector<double> fractions;
  auto add = [&](int64_t requested, int64_t capacity) {
    if (capacity <= 0) return;
    fractions.push_back(std::min(1.0, static_cast<double>(requested) / capacity));
  };
  add(node.requested.milli_cpu + pod.requests.milli_cpu, node.allocatable.milli_cpu);
  add(node.requested.memory + pod.requests.memory, node.allocatable.memory);
  double std_dev = 0;
  if (fractions.size() == 2) {
    std_dev = std::abs(fractions[0] - fractions[1]) / 2;
  }
  return static_cast<int64_t>((1 - std_dev) * kMaxNodeScore);
}

int64_t ScoreNodeAffinity(const PodInfo& pod, const NodeInfo& node) {
  int64_t sum = 0;
  for (const PreferredTerm& t : pod.preferred_node_affinity) {
    if (MatchesNodeSelectorTerm(t.term, node)) sum += t.weight;
  }
  return sum;
}

int64_t ScoreTaints(const PodInfo& pod, const NodeInfo& node) {
  int64_t n = 0;
  for (const Taint& t : node.taints) {
    if (t.effect != "PreferNoSchedule") continue;
    bool tolerated = false;
    for (const Toleration& tol : pod.tolerations) {
      if (!tol.effect.empty() && tol.effect != "PreferNoSchedule") continue;
      if (Tolerates({tol}, t)) {
        tolerated = true;
        break;
      }
    }
    if (!tolerated) ++n;
  }
  return n;
}

void NormalizeScores(std::vector<int64_t>& scores, bool reverse) {
  int64_t max = 0;
  for (int64_t s : scores) max = std::max(max, s);
  if (max == 0) {
    if (reverse) std::fill(scores.begin(), scores.end(), kMaxNodeScore);
    return;
  }
  for (int64_t& s : scores) {
    s = kMaxNodeScore * s / max;
    if (reverse) s = kMaxNodeScore - s;
  }
}

std::vector<int64_t> ScoreSpread(const PodInfo& pod, const std::vector<const NodeInfo*>& feasible,
                                 const std::vector<const NodeInfo*>& all) {
  struct Soft {
    std::string key;
    int32_t max_skew;
    const api::LabelSelector* selector;  // null: same controller
  };
  std::vector<Soft> soft;
  for (const SpreadConstraint& c : pod.spread) {
    if (!c.do_not_schedule) soft.push_back({c.topology_key, c.max_skew, &c.selector});
  }
  bool system_default = pod.spread.empty() && !pod.controller_uid.empty();
  if (system_default) {
    soft.push_back({std::string(kHostnameLabel), 3, nullptr});
    soft.push_back({std::string(kZoneLabel), 5, nullptr});
  }
  std::vector<int64_t> out(feasible.size(), 0);
  if (soft.empty()) return out;

  auto count_on = [&](const NodeInfo& n, const Soft& s) -> int64_t {
    if (s.selector == nullptr) {
      auto it = n.by_controller.find(pod.controller_uid);
      return it == n.by_controller.end() ? 0 : it->second;
    }
    return CountMatching(n, pod.ns, *s.selector);
  };
  std::vector<double> raw(feasible.size(), 0);
  std::vector<bool> ignored(feasible.size(), false);
  for (const Soft& s : soft) {
    bool hostname = s.key == kHostnameLabel;
    auto has_key = [&](const NodeInfo& n) { return hostname || n.labels.count(s.key) > 0; };
    // Domain counts over every eligible node; the hostname domain is the node itself.
    std::map<std::string, int64_t, std::less<>> domain;
    std::set<std::string, std::less<>> feasible_domains;
    if (!hostname) {
      for (const NodeInfo* n : all) {
        if (!has_key(*n) || !SpreadEligible(pod, *n)) continue;
        domain[std::string(n->Label(s.key))] += count_on(*n, s);
      }
    }
    for (const NodeInfo* n : feasible) {
      if (has_key(*n)) feasible_domains.insert(std::string(n->Label(s.key)));
    }
    double weight = std::log(static_cast<double>(feasible_domains.size()) + 2);
    for (size_t i = 0; i < feasible.size(); ++i) {
      const NodeInfo& n = *feasible[i];
      if (!has_key(n)) {
        // Explicit constraints need every key (upstream ignores such nodes); system defaults
        // just skip the missing topology.
        if (!system_default) ignored[i] = true;
        continue;
      }
      int64_t cnt = 0;
      if (hostname) {
        cnt = count_on(n, s);
      } else {
        auto it = domain.find(n.Label(s.key));
        cnt = it == domain.end() ? 0 : it->second;
      }
      raw[i] += static_cast<double>(cnt) * weight + (s.max_skew - 1);
    }
  }
  int64_t min = std::numeric_limits<int64_t>::max(), max = 0;
  std::vector<int64_t> rounded(feasible.size(), 0);
  for (size_t i = 0; i < feasible.size(); ++i) {
    if (ignored[i]) continue;
    rounded[i] = static_cast<int64_t>(std::llround(raw[i]));
    min = std::min(min, rounded[i]);
    max = std::max(max, rounded[i]);
  }
  for (size_t i = 0; i < feasible.size(); ++i) {
    if (ignored[i]) {
      out[i] = 0;
    } else if (max == 0) {
      out[i] = kMaxNodeScore;
    } else {
      out[i] = kMaxNodeScore * (max + min - rounded[i]) / max;
    }
  }
  return out;
}

std::vector<int64_t> ScoreInterPodAffinity(const PodInfo& pod,
                                           const std::vector<const NodeInfo*>& feasible,
                                           const std::vector<const NodeInfo*>& all) {
  std::vector<int64_t> out(feasible.size(), 0);
  bool own = !pod.preferred_affinity.empty() || !pod.preferred_anti_affinity.empty();
  std::map<std::pair<std::string, std::string>, int64_t, std::less<>> topo;
  auto add = [&](const NodeInfo& n, const std::string& key, int64_t w) {
    std::string_view v = n.Label(key);
    if (!v.empty()) topo[{key, std::string(v)}] += w;
  };
  for (const NodeInfo* n : all) {
    if (!own && n->with_affinity == 0) continue;
    for (const PodInfoPtr& e : n->pods) {
      for (const PodAffinityTerm& t : pod.preferred_affinity) {
        if (t.Matches(e->ns, e->labels)) add(*n, t.topology_key, t.weight);
      }
      for (const PodAffinityTerm& t : pod.preferred_anti_affinity) {
        if (t.Matches(e->ns, e->labels)) add(*n, t.topology_key, -t.weight);
      }
      if (!e->HasPodAffinity()) continue;
      // Existing pods' terms about the incoming pod (hardPodAffinityWeight 1 for required).
      for (const PodAffinityTerm& t : e->required_affinity) {
        if (t.Matches(pod.ns, pod.labels)) add(*n, t.topology_key, 1);
      }
      for (const PodAffinityTerm& t : e->preferred_affinity) {
        if (t.Matches(pod.ns, pod.labels)) add(*n, t.topology_key, t.weight);
      }
      for (const PodAffinityTerm& t : e->preferred_anti_affinity) {
        if (t.Matches(pod.ns, pod.labels)) add(*n, t.topology_key, -t.weight);
      }
    }
  }
  if (topo.empty()) return out;
  int64_t min = std::numeric_limits<int64_t>::max(), max = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < feasible.size(); ++i) {
    int64_t s = 0;
    for (const auto& [kv, w] : topo) {
      if (feasible[i]->Label(kv.first) == kv.second) s += w;
    }
    out[i] = s;
    min = std::min(min, s);
    max = std::max(max, s);
  }
  for (int64_t& s : out) s = max > min ? kMaxNodeScore * (s - min) / (max - min) : 0;
  return out;
}

// ---- the FitError message ----------------------------------------------------------------

namespace {

std::string Histogram(const std::map<std::string, int64_t>& reasons) {
  std::vector<std::string> parts;
  for (const auto& [reason, n] : reasons) parts.push_back(std::to_string(n) + " " + reason);
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

}  // namespace

std::string FitErrorMessage(size_t num_nodes, const std::vector<FilterResult>& statuses,
                            const std::string& prefilter, bool prefilter_unresolvable,
                            bool preempt_never) {
  if (num_nodes == 0) return "no nodes available to schedule pods";
  std::string n = std::to_string(num_nodes);
  std::string msg = "0/" + n + " nodes are available:";
  std::map<std::string, int64_t> preemption;
  if (!prefilter.empty()) {
    msg += " " + prefilter + ".";
    preemption[prefilter_unresolvable ? "Preemption is not helpful for scheduling"
                                      : "No preemption victims found for incoming pod"] +=
        static_cast<int64_t>(num_nodes);
  } else {
    std::map<std::string, int64_t> reasons;
    for (const FilterResult& s : statuses) {
      for (const std::string& r : s.reasons) ++reasons[r];
      // mini8s has no priority classes in use by default, so a node preemption could help
      // has no lower-priority victims: upstream's text for that case.
      ++preemption[s.unresolvable ? "Preemption is not helpful for scheduling"
                                  : "No preemption victims found for incoming pod"];
    }
    std::string hist = Histogram(reasons);
    if (!hist.empty()) msg += " " + hist + ".";
  }
  if (preempt_never) {
    msg += " preemption: not eligible due to preemptionPolicy=Never.";
  } else {
    msg += " preemption: 0/" + n + " nodes are available: " + Histogram(preemption) + ".";
  }
  return msg;
}

}  // namespace mini8s::scheduler
