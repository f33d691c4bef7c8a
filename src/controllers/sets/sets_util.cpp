#include "controllers/sets/sets_util.h"

#include <algorithm>
#include <charconv>

#include <boost/json.hpp>

#include "mini8s/common/logging.h"

namespace mini8s::controllers::sets {

namespace json = boost::json;
namespace asio = boost::asio;

const client::Resource& PodsResource() {
  static const client::Resource r{"", "v1", "pods", "Pod", true};
  return r;
}
const client::Resource& NodesResource() {
  static const client::Resource r{"", "v1", "nodes", "Node", false};
  return r;
}
const client::Resource& PvcsResource() {
  static const client::Resource r{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
                                  true};
  return r;
}
const client::Resource& DaemonSetsResource() {
  static const client::Resource r{"apps", "v1", "daemonsets", "DaemonSet", true};
  return r;
}
const client::Resource& StatefulSetsResource() {
  static const client::Resource r{"apps", "v1", "statefulsets", "StatefulSet", true};
  return r;
}

std::string_view PodPhase(const json::object& pod) { return api::GetString(pod, "status.phase"); }

namespace {

const json::object* ReadyCondition(const json::object& pod) {
  const json::array* conds = api::GetArray(pod, "status.conditions");
  if (conds == nullptr) return nullptr;
  for (const json::value& c : *conds) {
    if (c.is_object() && api::GetString(c.get_object(), "type") == "Ready") {
      return &c.get_object();
    }
  }
  return nullptr;
}

std::vector<std::string> StringValues(const json::object& req) {
  std::vector<std::string> out;
  if (const json::array* vals = api::GetArray(req, "values")) {
    for (const json::value& v : *vals) {
      if (v.is_string()) out.emplace_back(v.get_string());
    }
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// One NodeSelectorRequirement against a key/value lookup (labels or fields).
bool MatchRequirement(const json::object& req,
                      const std::function<std::optional<std::string_view>(std::string_view)>& get) {
  std::string_view key = api::GetString(req, "key");
  std::string_view op = api::GetString(req, "operator");
  std::vector<std::string> values = StringValues(req);
  std::optional<std::string_view> have = get(key);
  if (op == "In") {
    return have && std::find(values.begin(), values.end(), *have) != values.end();
  }
  if (op == "NotIn") {
    return !have || std::find(values.begin(), values.end(), *have) == values.end();
  }
  if (op == "Exists") return have.has_value();
  if (op == "DoesNotExist") return !have.has_value();
  if (op == "Gt" || op == "Lt") {
    if (!have || values.size() != 1) return false;
    auto lhs = ParseInt(*have);
    auto rhs = ParseInt(values[0]);
    if (!lhs || !rhs) return false;
    return op == "Gt" ? *lhs > *rhs : *lhs < *rhs;
  }
  return false;
}

bool MatchTerm(const json::object& term, const json::object& node) {
  const json::array* exprs = api::GetArray(term, "matchExpressions");
  const json::array* fields = api::GetArray(term, "matchFields");
  // An empty term selects nothing (upstream).
  if ((exprs == nullptr || exprs->empty()) && (fields == nullptr || fields->empty())) return false;
  const json::object* labels = api::Labels(node);
  auto label = [labels](std::string_view k) -> std::optional<std::string_view> {
    if (labels == nullptr) return std::nullopt;
    auto it = labels->find(k);
    if (it == labels->end() || !it->value().is_string()) return std::nullopt;
    return std::string_view(it->value().get_string());
  };
  std::string_view node_name = api::Name(node);
  auto field = [node_name](std::string_view k) -> std::optional<std::string_view> {
    if (k == "metadata.name") return node_name;
    return std::nullopt;
  };
  if (exprs != nullptr) {
    for (const json::value& e : *exprs) {
      if (!e.is_object() || !MatchRequirement(e.get_object(), label)) return false;
    }
  }
  if (fields != nullptr) {
    for (const json::value& f : *fields) {
      // Only metadata.name is a valid field; anything else fails the term.
      if (!f.is_object() || api::GetString(f.get_object(), "key") != "metadata.name") return false;
      if (!MatchRequirement(f.get_object(), field)) return false;
    }
  }
  return true;
}

}  // namespace

bool IsPodReady(const json::object& pod) {
  const json::object* c = ReadyCondition(pod);
  return c != nullptr && api::GetString(*c, "status") == "True";
}

bool IsPodAvailable(const json::object& pod, int64_t min_ready_seconds,
                    std::chrono::system_clock::time_point now) {
  const json::object* c = ReadyCondition(pod);
  if (c == nullptr || api::GetString(*c, "status") != "True") return false;
  if (min_ready_seconds <= 0) return true;
  auto t = ParseRfc3339(api::GetString(*c, "lastTransitionTime"));
  if (!t.has_value()) return false;
  return *t + std::chrono::seconds(min_ready_seconds) < now;
}

bool IsPodTerminal(const json::object& pod) {
  std::string_view phase = PodPhase(pod);
  return phase == "Failed" || phase == "Succeeded";
}

std::chrono::system_clock::time_point CreationTime(const json::object& obj) {
  auto t = ParseRfc3339(api::CreationTimestamp(obj));
  return t.has_value() ? *t : std::chrono::system_clock::time_point{};
}

api::OwnerReference ControllerRef(const json::object& owner, std::string_view kind) {
  api::OwnerReference ref;
  ref.api_version = "apps/v1";
  ref.kind = std::string(kind);
  ref.name = std::string(api::Name(owner));
  ref.uid = std::string(api::Uid(owner));
  ref.controller = true;
  ref.block_owner_deletion = true;
  return ref;
}

bool IsControlledBy(const json::object& obj, std::string_view uid) {
  auto ref = api::ControllerOf(obj);
  return ref && ref->uid == uid;
}

json::object PodFromTemplate(const json::object& tmpl, const json::object& parent,
                             std::string_view kind) {
  json::object pod;
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  json::object& meta = api::MutableMetadata(pod);
  meta["generateName"] = std::string(api::Name(parent)) + "-";
  meta["namespace"] = api::Namespace(parent);
  if (const json::object* tm = api::GetObject(tmpl, "metadata")) {
    for (std::string_view k : {"labels", "annotations", "finalizers"}) {
      auto it = tm->find(k);
      if (it != tm->end()) meta[k] = it->value();
    }
  }
  api::SetOwnerReferences(pod, {ControllerRef(parent, kind)});
  if (const json::object* spec = api::GetObject(tmpl, "spec")) {
    pod["spec"] = *spec;
  } else {
    pod["spec"] = json::object();
  }
  return pod;
}

bool ToleratesTaint(const json::object& toleration, const json::object& taint) {
  std::string_view t_effect = api::GetString(toleration, "effect");
  if (!t_effect.empty() && t_effect != api::GetString(taint, "effect")) return false;
  std::string_view t_key = api::GetString(toleration, "key");
  if (!t_key.empty() && t_key != api::GetString(taint, "key")) return false;
  std::string_view op = api::GetString(toleration, "operator");
  if (op.empty() || op == "Equal") {
    return api::GetString(toleration, "value") == api::GetString(taint, "value");
  }
  return op == "Exists";
}

bool HasUntoleratedTaint(const json::array* taints, const json::array* tolerations,
                         const std::function<bool(const json::object&)>& filter) {
  if (taints == nullptr) return false;
  for (const json::value& tv : *taints) {
    if (!tv.is_object() || !filter(tv.get_object())) continue;
    bool tolerated = false;
    if (tolerations != nullptr) {
      for (const json::value& tol : *tolerations) {
        if (tol.is_object() && ToleratesTaint(tol.get_object(), tv.get_object())) {
          tolerated = true;
          break;
        }
      }
    }
    if (!tolerated) return true;
  }
  return false;
}

bool MatchesRequiredNodeAffinity(const json::object& pod_spec, const json::object& node) {
  if (const json::object* sel = api::GetObject(pod_spec, "nodeSelector")) {
    const json::object* labels = api::Labels(node);
    for (const auto& kv : *sel) {
      if (labels == nullptr) return false;
      auto it = labels->find(kv.key());
      if (it == labels->end() || it->value() != kv.value()) return false;
    }
  }
  const json::object* required = api::GetObject(
      pod_spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  if (required == nullptr) return true;
  const json::array* terms = api::GetArray(*required, "nodeSelectorTerms");
  if (terms == nullptr) return false;
  for (const json::value& t : *terms) {
    if (t.is_object() && MatchTerm(t.get_object(), node)) return true;
  }
  return false;
}

Result<std::string> GetTargetNodeName(const json::object& pod) {
  std::string_view node_name = api::GetString(pod, "spec.nodeName");
  if (!node_name.empty()) return std::string(node_name);
  const json::array* terms =
      api::GetArray(pod,
                    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                    "nodeSelectorTerms");
  if (terms != nullptr) {
    for (const json::value& t : *terms) {
      if (!t.is_object()) continue;
      const json::array* fields = api::GetArray(t.get_object(), "matchFields");
      if (fields == nullptr) continue;
      for (const json::value& f : *fields) {
        if (!f.is_object()) continue;
        const json::object& req = f.get_object();
        if (api::GetString(req, "key") == "metadata.name" &&
            api::GetString(req, "operator") == "In") {
          std::vector<std::string> vals = StringValues(req);
          if (vals.size() != 1) {
            return Status::Invalid(
                "the matchFields value of metadata.name must have exactly one "
                "value");
          }
          return vals[0];
        }
      }
    }
  }
  return Status::NotFound("no node name found for pod " + std::string(api::Namespace(pod)) + "/" +
                          std::string(api::Name(pod)));
}

namespace {

using client::PatchOptions;

// A merge patch that sets the whole ownerReferences list. Adoption and release are idempotent
// this way: a sync that claims the same object twice before its cache catches up writes the same
// list twice instead of failing on a stale resourceVersion.
std::string OwnerRefsPatch(const std::vector<api::OwnerReference>& refs) {
  json::object meta;
  if (refs.empty()) {
    meta["ownerReferences"] = nullptr;
  } else {
    json::array arr;
    for (const api::OwnerReference& r : refs) arr.push_back(r.ToJson());
    meta["ownerReferences"] = std::move(arr);
  }
  return json::serialize(json::object{{"metadata", std::move(meta)}});
}

}  // namespace

asio::awaitable<Result<std::vector<client::ObjectPtr>>> ClaimObjects(
    client::Client& client, client::Resource resource, client::Resource parent_resource,
    json::object parent, std::string parent_kind, api::LabelSelector selector,
    std::function<bool(const json::object&)> extra_match,
    std::vector<client::ObjectPtr> candidates) {
  std::vector<client::ObjectPtr> claimed;
  std::string parent_uid(api::Uid(parent));
  bool parent_deleting = api::IsBeingDeleted(parent);
  std::optional<Status> can_adopt;  // checked lazily, once
  auto matches = [&](const json::object& obj) {
    return selector.Matches(api::Labels(obj)) && (!extra_match || extra_match(obj));
  };
  for (const client::ObjectPtr& obj : candidates) {
    auto ref = api::ControllerOf(*obj);
    if (ref) {
      if (ref->uid != parent_uid) continue;  // someone else's
      if (matches(*obj)) {
        claimed.push_back(obj);
        continue;
      }
      if (parent_deleting) continue;
      // Release: drop our controller reference.
      std::vector<api::OwnerReference> refs = api::OwnerReferences(*obj);
      std::erase_if(refs, [&](const api::OwnerReference& r) { return r.uid == parent_uid; });
      std::string ns(api::Namespace(*obj));
      std::string name(api::Name(*obj));
      std::string patch = OwnerRefsPatch(refs);
      PatchOptions popts;
      auto released =
          co_await client.Patch(resource, ns, name, client::PatchType::kMerge, patch, popts);
      if (!released.has_value() && released.error().code() != Code::kNotFound &&
          released.error().code() != Code::kInvalid) {
        co_return released.error();
      }
      continue;
    }
    // Orphan.
    if (parent_deleting || !matches(*obj) || api::IsBeingDeleted(*obj)) continue;
    if (!can_adopt) {
      std::string ns(api::Namespace(parent));
      std::string name(api::Name(parent));
      auto fresh = co_await client.Get(parent_resource, ns, name);
      if (!fresh.has_value()) {
        can_adopt = fresh.error();
      } else if (api::Uid(*fresh) != parent_uid) {
        can_adopt = Status::Conflict("original " + ns + "/" + name + " is gone: got uid " +
                                     std::string(api::Uid(*fresh)) + ", wanted " + parent_uid);
      } else if (api::IsBeingDeleted(*fresh)) {
        can_adopt = Status::Conflict(ns + "/" + name + " has just been deleted at " +
                                     std::string(api::DeletionTimestamp(*fresh)));
      } else {
        can_adopt = Status::OK();
      }
    }
    if (!can_adopt->ok()) co_return *can_adopt;
    std::vector<api::OwnerReference> refs = api::OwnerReferences(*obj);
    refs.push_back(ControllerRef(parent, parent_kind));
    std::string ns(api::Namespace(*obj));
    std::string name(api::Name(*obj));
    std::string patch = OwnerRefsPatch(refs);
    PatchOptions popts;
    auto adopted =
        co_await client.Patch(resource, ns, name, client::PatchType::kMerge, patch, popts);
    if (!adopted.has_value()) {
      if (adopted.error().code() == Code::kNotFound) continue;
      co_return adopted.error();
    }
    claimed.push_back(std::make_shared<const json::object>(std::move(adopted).value()));
  }
  co_return claimed;
}

void Expectations::Set(const std::string& key, int adds, int dels) {
  records_[key] = Record{adds, dels, clock_.Monotonic()};
}

void Expectations::Lower(const std::string& key, int adds, int dels) {
  auto it = records_.find(key);
  if (it == records_.end()) return;
  it->second.adds -= adds;
  it->second.dels -= dels;
}

bool Expectations::Satisfied(const std::string& key) const {
  auto it = records_.find(key);
  if (it == records_.end()) return true;
  const Record& r = it->second;
  if (r.adds <= 0 && r.dels <= 0) return true;
  return clock_.Monotonic() - r.at > std::chrono::minutes(5);
}

namespace {
constexpr std::chrono::milliseconds kBackoffInitial{1000};
constexpr std::chrono::milliseconds kBackoffMax{15 * 60 * 1000};
}  // namespace

std::chrono::milliseconds Backoff::Get(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? std::chrono::milliseconds(0) : it->second.backoff;
}

void Backoff::Next(const std::string& key) {
  auto now = clock_.Monotonic();
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.last > 2 * kBackoffMax) {
    entries_[key] = Entry{kBackoffInitial, now};
    return;
  }
  it->second.backoff = std::min(it->second.backoff * 2, kBackoffMax);
  it->second.last = now;
}

bool Backoff::InBackoffSinceUpdate(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  return clock_.Monotonic() - it->second.last < it->second.backoff;
}

}  // namespace mini8s::controllers::sets
