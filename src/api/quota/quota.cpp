#include "mini8s/api/quota.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include <boost/json.hpp>

#include "mini8s/api/object.h"

namespace mini8s::api::quota {
namespace {

namespace json = boost::json;

constexpr std::string_view kStorageClassSuffix = ".storageclass.storage.k8s.io/";

const std::set<std::string, std::less<>>& PodResourceNames() {
  static const auto* names = new std::set<std::string, std::less<>>{"pods",
                                                                    "count/pods",
                                                                    "cpu",
                                                                    "memory",
                                                                    "ephemeral-storage",
                                                                    "requests.cpu",
                                                                    "requests.memory",
                                                                    "requests.ephemeral-storage",
                                                                    "limits.cpu",
                                                                    "limits.memory",
                                                                    "limits.ephemeral-storage"};
  return *names;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// RFC 3339 UTC ("2024-01-02T03:04:05Z") to seconds since the epoch; nullopt otherwise.
std::optional<int64_t> ParseTime(std::string_view s) {
  struct tm tm {};
  std::string str(s);
  if (std::sscanf(str.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

void AddTo(ResourceList& list, const std::string& name, const Quantity& q) {
  auto it = list.find(name);
  if (it == list.end()) {
    list.emplace(name, q);
  } else {
    (void)it->second.Add(q);
  }
}

void MaxInto(ResourceList& list, const ResourceList& other) {
  for (const auto& [name, q] : other) {
    auto it = list.find(name);
    if (it == list.end() || q.Cmp(it->second) > 0) list[name] = q;
  }
}

std::vector<const json::object*> Containers(const json::object& pod, std::string_view field) {
  std::vector<const json::object*> out;
  if (const json::array* cs = GetArray(pod, std::string("spec.") + std::string(field))) {
    for (const auto& c : *cs) {
      if (c.is_object()) out.push_back(&c.as_object());
    }
  }
  return out;
}

// Requests or limits of the whole pod (`which` is "requests" or "limits").
ResourceList PodResources(const json::object& pod, const std::string& which) {
  ResourceList total;
  for (const json::object* c : Containers(pod, "containers")) {
    for (const auto& [n, q] : ParseResourceList(GetObject(*c, "resources." + which))) {
      AddTo(total, n, q);
    }
  }
  ResourceList restartable, init_max;
  for (const json::object* c : Containers(pod, "initContainers")) {
    ResourceList own = ParseResourceList(GetObject(*c, "resources." + which));
    if (GetString(*c, "restartPolicy") == "Always") {
      // Sidecars run beside the app containers: they add up.
      for (const auto& [n, q] : own) {
        AddTo(total, n, q);
        AddTo(restartable, n, q);
      }
      MaxInto(init_max, restartable);
    } else {
      MaxInto(init_max, Add(own, restartable));
    }
  }
  MaxInto(total, init_max);
  return total;
}

int64_t CountPorts(const json::object& svc, bool only_with_node_port) {
  int64_t n = 0;
  if (const json::array* ports = GetArray(svc, "spec.ports")) {
    for (const auto& p : *ports) {
      if (!p.is_object()) continue;
      if (only_with_node_port && GetInt(p.as_object(), "nodePort").value_or(0) == 0) continue;
      ++n;
    }
  }
  return n;
}

}  // namespace

ResourceList ParseResourceList(const json::object* list) {
  ResourceList out;
  if (list == nullptr) return out;
  for (const auto& kv : *list) {
    Result<Quantity> q = Status::Invalid("not a quantity");
    if (kv.value().is_string()) {
      q = Quantity::Parse(kv.value().as_string());
    } else if (kv.value().is_int64()) {
      q = Quantity::FromInt(kv.value().as_int64());
    } else if (kv.value().is_uint64()) {
      q = Quantity::FromInt(static_cast<int64_t>(kv.value().as_uint64()));
    }
    if (q.ok()) out.emplace(std::string(kv.key()), *q);
  }
  return out;
}

json::object ToJson(const ResourceList& list) {
  json::object o;
  for (const auto& [n, q] : list) o[n] = q.String();
  return o;
}

std::string PrettyPrint(const ResourceList& list) {
  std::string out;
  for (const auto& [n, q] : list) {
    if (!out.empty()) out += ",";
    out += n + "=" + q.String();
  }
  return out;
}

ResourceList Add(const ResourceList& a, const ResourceList& b) {
  ResourceList out = a;
  for (const auto& [n, q] : b) AddTo(out, n, q);
  return out;
}

ResourceList Subtract(const ResourceList& a, const ResourceList& b) {
  ResourceList out = a;
  for (const auto& [n, q] : b) {
    auto it = out.find(n);
    if (it == out.end()) {
      Quantity neg = q;
      neg.Neg();
      out.emplace(n, neg);
    } else {
      (void)it->second.Sub(q);
    }
  }
  return out;
}

ResourceList Mask(const ResourceList& list, const std::set<std::string, std::less<>>& names) {
  ResourceList out;
  for (const auto& [n, q] : list) {
    if (names.count(n)) out.emplace(n, q);
  }
  return out;
}

std::set<std::string, std::less<>> Names(const ResourceList& list) {
  std::set<std::string, std::less<>> out;
  for (const auto& kv : list) out.insert(kv.first);
  return out;
}

ResourceList RemoveZeros(const ResourceList& list) {
  ResourceList out;
  for (const auto& [n, q] : list) {
    if (!q.IsZero()) out.emplace(n, q);
  }
  return out;
}

std::set<std::string, std::less<>> Exceeded(const ResourceList& a, const ResourceList& b) {
  std::set<std::string, std::less<>> out;
  for (const auto& [n, q] : a) {
    auto it = b.find(n);
    if (it != b.end() && q.Cmp(it->second) > 0) out.insert(n);
  }
  return out;
}

std::string CountName(const GroupResource& gr) {
  return "count/" + gr.resource + (gr.group.empty() ? "" : "." + gr.group);
}

std::optional<GroupResource> SourceOf(std::string_view name) {
  if (PodResourceNames().count(name)) return GroupResource{"", "pods"};
  if (name == "services" || name == "services.nodeports" || name == "services.loadbalancers") {
    return GroupResource{"", "services"};
  }
  if (name == "persistentvolumeclaims" || name == "requests.storage" ||
      name.find(kStorageClassSuffix) != std::string_view::npos) {
    return GroupResource{"", "persistentvolumeclaims"};
  }
  if (name == "configmaps" || name == "secrets" || name == "replicationcontrollers" ||
      name == "resourcequotas") {
    return GroupResource{"", std::string(name)};
  }
  if (StartsWith(name, "count/") && name.size() > 6) {
    std::string_view rest = name.substr(6);
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return GroupResource{"", std::string(rest)};
    return GroupResource{std::string(rest.substr(dot + 1)), std::string(rest.substr(0, dot))};
  }
  return std::nullopt;
}

bool Tracks(const GroupResource& gr, std::string_view name) {
  auto src = SourceOf(name);
  return src && *src == gr;
}

ResourceList ComputeUsage(
    const std::set<std::string, std::less<>>& names,
    const std::function<std::vector<json::object>(const GroupResource&)>& list, int64_t now_unix,
    const json::object* scoped_by) {
  std::vector<GroupResource> sources;
  ResourceList total;
  for (const std::string& n : names) {
    auto src = SourceOf(n);
    if (!src) continue;
    // Every tracked name starts at zero: "used: pods=0" rather than no entry.
    total.emplace(n, Quantity());
    if (std::find(sources.begin(), sources.end(), *src) == sources.end()) sources.push_back(*src);
  }
  for (const GroupResource& gr : sources) {
    for (const json::object& obj : list(gr)) {
      if (scoped_by != nullptr && !InScope(*scoped_by, gr, obj)) continue;
      total = Add(total, Mask(Usage(gr, obj, now_unix), names));
    }
  }
  return total;
}

namespace {

struct ScopeRequirement {
  std::string scope, op;
  std::vector<std::string> values;
};

std::vector<ScopeRequirement> ScopesOf(const json::object& quota) {
  std::vector<ScopeRequirement> out;
  if (const json::array* scopes = GetArray(quota, "spec.scopes")) {
    for (const auto& s : *scopes) {
      if (s.is_string()) out.push_back({std::string(s.as_string()), "Exists", {}});
    }
  }
  if (const json::array* exprs = GetArray(quota, "spec.scopeSelector.matchExpressions")) {
    for (const auto& e : *exprs) {
      if (!e.is_object()) continue;
      ScopeRequirement r{std::string(GetString(e.as_object(), "scopeName")),
                         std::string(GetString(e.as_object(), "operator")),
                         {}};
      if (const json::array* vs = GetArray(e.as_object(), "values")) {
        for (const auto& v : *vs) {
          if (v.is_string()) r.values.emplace_back(v.as_string());
        }
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

bool BestEffort(const json::object& pod) {
  for (const char* field : {"containers", "initContainers"}) {
    for (const json::object* c : Containers(pod, field)) {
      for (const char* which : {"resources.requests", "resources.limits"}) {
        ResourceList l = ParseResourceList(GetObject(*c, which));
        if (l.count("cpu") || l.count("memory")) return false;
      }
    }
  }
  return true;
}

bool ScopeMatches(const ScopeRequirement& r, const json::object& pod) {
  if (r.scope == "Terminating") return GetInt(pod, "spec.activeDeadlineSeconds").has_value();
  if (r.scope == "NotTerminating") return !GetInt(pod, "spec.activeDeadlineSeconds").has_value();
  if (r.scope == "BestEffort") return BestEffort(pod);
  if (r.scope == "NotBestEffort") return !BestEffort(pod);
  if (r.scope == "PriorityClass") {
    std::string_view pc = GetString(pod, "spec.priorityClassName");
    bool listed = std::find(r.values.begin(), r.values.end(), pc) != r.values.end();
    if (r.op == "In") return listed;
    if (r.op == "NotIn") return !listed;
    if (r.op == "Exists") return !pc.empty();
    if (r.op == "DoesNotExist") return pc.empty();
    return false;
  }
  return false;  // CrossNamespacePodAffinity and unknown scopes select nothing here
}

}  // namespace

bool InScope(const json::object& quota, const GroupResource& gr, const json::object& obj) {
  std::vector<ScopeRequirement> scopes = ScopesOf(quota);
  if (scopes.empty()) return true;
  if (!(gr.group.empty() && gr.resource == "pods")) return false;
  for (const ScopeRequirement& r : scopes) {
    if (!ScopeMatches(r, obj)) return false;
  }
  return true;
}

ResourceList PodRequests(const json::object& pod) { return PodResources(pod, "requests"); }
ResourceList PodLimits(const json::object& pod) { return PodResources(pod, "limits"); }

ResourceList Usage(const GroupResource& gr, const json::object& obj, int64_t now_unix) {
  ResourceList out;
  const Quantity one = Quantity::FromInt(1);
  if (gr.group.empty() && gr.resource == "pods") {
    std::string_view phase = GetString(obj, "status.phase");
    if (phase == "Succeeded" || phase == "Failed") return out;
    // A pod past its deletion deadline is on its way out (upstream's QuotaV1Pod).
    if (auto ts = ParseTime(DeletionTimestamp(obj))) {
      if (now_unix >= *ts + DeletionGracePeriodSeconds(obj).value_or(0)) return out;
    }
    out.emplace("pods", one);
    out.emplace("count/pods", one);
    ResourceList req = PodRequests(obj), lim = PodLimits(obj);
    for (const char* r : {"cpu", "memory", "ephemeral-storage"}) {
      if (auto it = req.find(r); it != req.end()) {
        out[r] = it->second;
        out[std::string("requests.") + r] = it->second;
      }
      if (auto it = lim.find(r); it != lim.end()) out[std::string("limits.") + r] = it->second;
    }
    return out;
  }
  out.emplace(CountName(gr), one);
  if (!gr.group.empty()) return out;
  if (gr.resource == "services") {
    out.emplace("services", one);
    std::string_view type = GetString(obj, "spec.type");
    if (type == "NodePort") {
      out.emplace("services.nodeports", Quantity::FromInt(CountPorts(obj, false)));
    } else if (type == "LoadBalancer") {
      bool allocate = GetBool(obj, "spec.allocateLoadBalancerNodePorts").value_or(true);
      out.emplace("services.nodeports", Quantity::FromInt(CountPorts(obj, !allocate)));
      out.emplace("services.loadbalancers", one);
    }
  } else if (gr.resource == "persistentvolumeclaims") {
    out.emplace("persistentvolumeclaims", one);
    std::string sc(GetString(obj, "spec.storageClassName"));
    if (!sc.empty())
      out.emplace(sc + std::string(kStorageClassSuffix) + "persistentvolumeclaims", one);
    ResourceList req = ParseResourceList(GetObject(obj, "spec.resources.requests"));
    if (auto it = req.find("storage"); it != req.end()) {
      out.emplace("requests.storage", it->second);
      if (!sc.empty()) {
        out.emplace(sc + std::string(kStorageClassSuffix) + "requests.storage", it->second);
      }
    }
  } else if (gr.resource == "configmaps" || gr.resource == "secrets" ||
             gr.resource == "replicationcontrollers" || gr.resource == "resourcequotas") {
    out.emplace(gr.resource, one);
  }
  return out;
}

std::string PodConstraints(const json::object& pod,
                           const std::set<std::string, std::less<>>& required) {
  // Only compute resources must be stated per container (upstream's backward-compatible rule).
  static const std::set<std::string, std::less<>> kValidated = {
      "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"};
  std::set<std::string, std::less<>> need;
  for (const std::string& r : required) {
    if (kValidated.count(r)) need.insert(r);
  }
  if (need.empty()) return "";
  std::map<std::string, std::set<std::string>> missing;
  auto visit = [&](const json::object& c) {
    ResourceList req = ParseResourceList(GetObject(c, "resources.requests"));
    ResourceList lim = ParseResourceList(GetObject(c, "resources.limits"));
    std::set<std::string, std::less<>> has;
    for (const char* r : {"cpu", "memory"}) {
      if (req.count(r)) {
        has.insert(r);
        has.insert(std::string("requests.") + r);
      }
      if (lim.count(r)) has.insert(std::string("limits.") + r);
    }
    for (const std::string& r : need) {
      if (!has.count(r)) missing[r].insert(std::string(GetString(c, "name")));
    }
  };
  for (const json::object* c : Containers(pod, "containers")) visit(*c);
  for (const json::object* c : Containers(pod, "initContainers")) visit(*c);
  if (missing.empty()) return "";
  std::string out = "must specify ";
  bool first = true;
  for (const auto& [r, names] : missing) {
    if (!first) out += "; ";
    first = false;
    out += r + " for: ";
    bool first_name = true;
    for (const std::string& n : names) {
      if (!first_name) out += ",";
      first_name = false;
      out += n;
    }
  }
  return out;
}

}  // namespace mini8s::api::quota
