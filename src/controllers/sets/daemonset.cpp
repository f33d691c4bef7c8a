#include "mini8s/controllers/daemonset.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <boost/json.hpp>

#include "controllers/sets/sets_util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"

namespace mini8s::controllers {

namespace json = boost::json;
namespace asio = boost::asio;
using client::ObjectPtr;

namespace {

constexpr std::string_view kKind = "DaemonSet";
constexpr std::string_view kTemplateGenerationAnnotation =
    "deprecated.daemonset.template.generation";
// Upstream's BurstReplicas: at most this many creates or deletes per sync.
constexpr int kBurstReplicas = 250;

bool IsTaintBlocking(const json::object& taint) {
  std::string_view e = api::GetString(taint, "effect");
  return e == "NoSchedule" || e == "NoExecute";
}

bool IsNoExecute(const json::object& taint) {
  return api::GetString(taint, "effect") == "NoExecute";
}

void AddOrUpdateToleration(json::object& spec, json::object toleration) {
  json::array out;
  bool replaced = false;
  if (const json::array* existing = api::GetArray(spec, "tolerations")) {
    for (const json::value& t : *existing) {
      if (t.is_object()) {
        const json::object& o = t.get_object();
        bool same = true;
        for (std::string_view f : {"key", "operator", "value", "effect"}) {
          same = same && api::GetString(o, f) == api::GetString(toleration, f);
        }
        if (same) {
          if (!replaced) out.push_back(toleration);
          replaced = true;
          continue;
        }
      }
      out.push_back(t);
    }
  }
  if (!replaced) out.push_back(std::move(toleration));
  spec["tolerations"] = std::move(out);
}

json::object Toleration(std::string_view key, std::string_view effect) {
  json::object t;
  t["key"] = key;
  t["operator"] = "Exists";
  t["effect"] = effect;
  return t;
}

// A pod for `node` as the controller would create it, for the placement predicates.
json::object NewDaemonPod(const json::object& ds, std::string_view node_name) {
  json::object spec;
  if (const json::object* s = api::GetObject(ds, "spec.template.spec")) spec = *s;
  spec["nodeName"] = node_name;
  AddDaemonPodTolerations(spec);
  return spec;
}

std::optional<int64_t> TemplateGeneration(const json::object& ds) {
  if (auto a = api::Annotation(ds, kTemplateGenerationAnnotation)) {
    int64_t v = 0;
    try {
      v = std::stoll(std::string(*a));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    return v;
  }
  int64_t gen = api::Generation(ds);
  if (gen > 0) return gen;
  return std::nullopt;
}

bool IsPodUpdated(const json::object& pod, std::string_view hash,
                  std::optional<int64_t> generation) {
  bool template_matches = generation && api::Label(pod, kPodTemplateGenerationLabel).value_or("") ==
                                            std::to_string(*generation);
  bool hash_matches =
      !hash.empty() && api::Label(pod, history::kRevisionLabel).value_or("") == hash;
  return hash_matches || template_matches;
}

// podByCreationTimestampAndPhase: scheduled first, then oldest, then by name.
void SortPodsByAge(std::vector<ObjectPtr>& pods) {
  std::stable_sort(pods.begin(), pods.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    bool sa = !api::GetString(*a, "spec.nodeName").empty();
    bool sb = !api::GetString(*b, "spec.nodeName").empty();
    if (sa != sb) return sa;
    auto ta = sets::CreationTime(*a);
    auto tb = sets::CreationTime(*b);
    if (ta == tb) return api::Name(*a) < api::Name(*b);
    return ta < tb;
  });
}

// intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true).
Result<int> ScaledValue(const json::value* v, int total, int fallback) {
  if (v == nullptr || v->is_null()) return fallback;
  if (v->is_int64()) return static_cast<int>(v->get_int64());
  if (v->is_uint64()) return static_cast<int>(v->get_uint64());
  if (v->is_string()) {
    std::string s(v->get_string());
    if (s.empty() || s.back() != '%') {
      return Status::Invalid(
          "invalid value for IntOrString: invalid type: string is not a "
          "percentage");
    }
    int pct = 0;
    try {
      pct = std::stoi(s.substr(0, s.size() - 1));
    } catch (const std::exception&) {
      return Status::Invalid("invalid value \"" + s + "\": not a percentage");
    }
    return static_cast<int>(std::ceil(static_cast<double>(pct) * total / 100.0));
  }
  return Status::Invalid("invalid IntOrString value");
}

std::string_view StrategyType(const json::object& ds) {
  std::string_view t = api::GetString(ds, "spec.updateStrategy.type");
  return t.empty() ? std::string_view("RollingUpdate") : t;
}

// The apps/v1 defaults the API server would apply (maxUnavailable 1, maxSurge 0).
Result<int> UnavailableCount(const json::object& ds, int desired) {
  if (StrategyType(ds) != "RollingUpdate") return 0;
  return ScaledValue(api::FindPath(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable"), desired,
                     1);
}

Result<int> SurgeCount(const json::object& ds, int desired) {
  if (StrategyType(ds) != "RollingUpdate") return 0;
  return ScaledValue(api::FindPath(ds, "spec.updateStrategy.rollingUpdate.maxSurge"), desired, 0);
}

bool AllowsSurge(const json::object& ds) {
  auto s = SurgeCount(ds, 1);
  return s.has_value() && *s != 0;
}

int64_t MinReadySeconds(const json::object& ds) {
  return api::GetInt(ds, "spec.minReadySeconds").value_or(0);
}

// ComputeHash(template, collisionCount): FNV-1a over the template and the count's 8 bytes.
std::string ComputeTemplateHash(const json::object& ds) {
  json::value tmpl = json::object();
  if (const json::object* t = api::GetObject(ds, "spec.template")) tmpl = *t;
  std::string bytes = history::CanonicalJson(tmpl);
  if (auto cc = api::GetInt(ds, "status.collisionCount")) {
    uint32_t c = static_cast<uint32_t>(*cc);
    for (int i = 0; i < 8; ++i)
      bytes.push_back(i < 4 ? static_cast<char>((c >> (8 * i)) & 0xff) : 0);
  }
  uint32_t h = 2166136261u;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 16777619u;
  }
  return history::SafeEncodeString(std::to_string(h));
}

std::string DataString(const json::object& revision) {
  auto it = revision.find("data");
  return it == revision.end() ? std::string() : history::CanonicalJson(it->value());
}

}  // namespace

void AddDaemonPodTolerations(json::object& spec) {
  AddOrUpdateToleration(spec, Toleration("node.kubernetes.io/not-ready", "NoExecute"));
  AddOrUpdateToleration(spec, Toleration("node.kubernetes.io/unreachable", "NoExecute"));
  AddOrUpdateToleration(spec, Toleration("node.kubernetes.io/disk-pressure", "NoSchedule"));
  AddOrUpdateToleration(spec, Toleration("node.kubernetes.io/memory-pressure", "NoSchedule"));
  AddOrUpdateToleration(spec, Toleration("node.kubernetes.io/pid-pressure", "NoSchedule"));
  AddOrUpdateToleration(spec, Toleration("node.kubernetes.io/unschedulable", "NoSchedule"));
  if (api::GetBool(spec, "hostNetwork").value_or(false)) {
    AddOrUpdateToleration(spec, Toleration("node.kubernetes.io/network-unavailable", "NoSchedule"));
  }
}

DaemonSetPlacement NodeShouldRunDaemonPod(const json::object& node, const json::object& ds) {
  std::string_view node_name = api::Name(node);
  std::string_view tmpl_node = api::GetString(ds, "spec.template.spec.nodeName");
  if (!tmpl_node.empty() && tmpl_node != node_name) return {};
  json::object spec = NewDaemonPod(ds, node_name);
  if (!sets::MatchesRequiredNodeAffinity(spec, node)) return {};
  const json::array* taints = api::GetArray(node, "spec.taints");
  const json::array* tolerations = api::GetArray(spec, "tolerations");
  if (sets::HasUntoleratedTaint(taints, tolerations, IsTaintBlocking)) {
    return {false, !sets::HasUntoleratedTaint(taints, tolerations, IsNoExecute)};
  }
  return {true, true};
}

// ---------------------------------------------------------------------------------------------

struct DaemonSetController::Impl {
  Impl(client::Client& c, Informers i, WorkQueue& q, const Clock& clk, SetEventFunc ev)
      : client(c),
        inf(i),
        queue(q),
        clock(clk),
        events(std::move(ev)),
        history(c, i.revisions),
        expectations(clk),
        failed_backoff(clk) {}

  client::Client& client;
  Informers inf;
  WorkQueue& queue;
  const Clock& clock;
  SetEventFunc events;
  history::History history;
  sets::Expectations expectations;
  sets::Backoff failed_backoff;

  // Per-sync state, owned by Reconcile's frame (helpers receive a pointer and are awaited).
  struct Sync {
    std::string key;
    json::object ds;
    api::LabelSelector selector;
    std::vector<ObjectPtr> nodes;  // sorted by name
    std::string hash;
    std::optional<int64_t> generation;
    std::chrono::milliseconds requeue_after{0};
  };
  using NodeToPods = std::map<std::string, std::vector<ObjectPtr>, std::less<>>;

  void Event(const json::object& obj, std::string_view type, std::string_view reason,
             std::string msg) {
    if (events) events(obj, type, reason, std::move(msg));
  }

  void RequeueAfter(Sync* s, std::chrono::milliseconds d) {
    if (s->requeue_after.count() == 0 || d < s->requeue_after) s->requeue_after = d;
  }

  // ---- handlers ----

  ObjectPtr ResolveControllerRef(const json::object& pod) {
    auto ref = api::ControllerOf(pod);
    if (!ref || ref->kind != kKind) return nullptr;
    ObjectPtr ds = inf.daemonsets.indexer().Get(api::Namespace(pod), ref->name);
    if (!ds || api::Uid(*ds) != ref->uid) return nullptr;
    return ds;
  }

  void EnqueueDaemonSetsForOrphan(const json::object& pod) {
    for (const ObjectPtr& ds :
         inf.daemonsets.indexer().ByIndex(client::kNamespaceIndex, api::Namespace(pod))) {
      auto sel = api::LabelSelector::FromLabelSelectorJson(api::FindPath(*ds, "spec.selector"));
      if (!sel.has_value() || sel->Empty()) continue;
      if (sel->Matches(api::Labels(pod))) queue.Add(client::ObjectKey(*ds));
    }
  }

  void OnPodDelete(const json::object& pod) {
    if (ObjectPtr ds = ResolveControllerRef(pod)) {
      std::string key = client::ObjectKey(*ds);
      expectations.DeletionObserved(key);
      queue.Add(key);
    }
  }

  void OnPodAdd(const json::object& pod) {
    if (api::IsBeingDeleted(pod)) {
      OnPodDelete(pod);
      return;
    }
    if (api::ControllerOf(pod)) {
      if (ObjectPtr ds = ResolveControllerRef(pod)) {
        std::string key = client::ObjectKey(*ds);
        expectations.CreationObserved(key);
        queue.Add(key);
      }
      return;
    }
    EnqueueDaemonSetsForOrphan(pod);
  }

  void OnPodUpdate(const json::object& old_pod, const json::object& pod) {
    if (api::ResourceVersion(old_pod) == api::ResourceVersion(pod)) return;
    if (api::IsBeingDeleted(pod) && !api::IsBeingDeleted(old_pod)) {
      OnPodDelete(pod);
      return;
    }
    auto old_ref = api::ControllerOf(old_pod);
    auto cur_ref = api::ControllerOf(pod);
    if (old_ref && (!cur_ref || old_ref->uid != cur_ref->uid)) {
      if (ObjectPtr ds = ResolveControllerRef(old_pod)) queue.Add(client::ObjectKey(*ds));
    }
    if (cur_ref) {
      if (ObjectPtr ds = ResolveControllerRef(pod)) queue.Add(client::ObjectKey(*ds));
      return;
    }
    const json::object* ol = api::Labels(old_pod);
    const json::object* nl = api::Labels(pod);
    bool labels_changed = (ol == nullptr) != (nl == nullptr) || (ol && nl && *ol != *nl);
    if (labels_changed || old_ref) EnqueueDaemonSetsForOrphan(pod);
  }

  void OnNodeAdd(const json::object& node) {
    for (const ObjectPtr& ds : inf.daemonsets.indexer().List()) {
      if (NodeShouldRunDaemonPod(node, *ds).should_run) queue.Add(client::ObjectKey(*ds));
    }
  }

  void OnNodeUpdate(const json::object& old_node, const json::object& node) {
    const json::value* ol = api::FindPath(old_node, "metadata.labels");
    const json::value* nl = api::FindPath(node, "metadata.labels");
    const json::value* ot = api::FindPath(old_node, "spec.taints");
    const json::value* nt = api::FindPath(node, "spec.taints");
    auto same = [](const json::value* a, const json::value* b) {
      if (a == nullptr || b == nullptr) return a == b;
      return *a == *b;
    };
    if (same(ol, nl) && same(ot, nt)) return;
    for (const ObjectPtr& ds : inf.daemonsets.indexer().List()) {
      DaemonSetPlacement o = NodeShouldRunDaemonPod(old_node, *ds);
      DaemonSetPlacement n = NodeShouldRunDaemonPod(node, *ds);
      if (o.should_run != n.should_run || o.should_continue_running != n.should_continue_running) {
        queue.Add(client::ObjectKey(*ds));
      }
    }
  }

  // ---- sync ----

  asio::awaitable<Result<NodeToPods>> NodesToDaemonPods(Sync* s) {
    std::vector<ObjectPtr> candidates =
        inf.pods.indexer().ByIndex(client::kNamespaceIndex, api::Namespace(s->ds));
    const client::Resource& res = sets::PodsResource();
    const client::Resource& parent_res = sets::DaemonSetsResource();
    std::string kind(kKind);
    std::function<bool(const json::object&)> no_extra;
    MINI8S_CO_ASSIGN_OR_RETURN(
        std::vector<ObjectPtr> claimed,
        co_await sets::ClaimObjects(client, res, parent_res, s->ds, kind, s->selector, no_extra,
                                    std::move(candidates)));
    NodeToPods out;
    for (const ObjectPtr& pod : claimed) {
      if (sets::IsPodTerminal(*pod) && api::IsBeingDeleted(*pod)) continue;
      auto node = sets::GetTargetNodeName(*pod);
      if (!node.has_value()) {
        MINI8S_LOG(WARNING) << "daemonset " << s->key << ": pod " << api::Name(*pod) << ": "
                            << node.error().message();
        continue;
      }
      out[*node].push_back(pod);
    }
    co_return out;
  }

  bool MatchHistory(const json::object& ds, const json::object& revision) {
    return history::CanonicalJson(history::TemplatePatch(ds)) == DataString(revision);
  }

  asio::awaitable<Result<json::object>> Snapshot(Sync* s, int64_t revision) {
    std::string hash = ComputeTemplateHash(s->ds);
    json::object cr;
    cr["apiVersion"] = "apps/v1";
    cr["kind"] = "ControllerRevision";
    api::SetName(cr, std::string(api::Name(s->ds)) + "-" + hash);
    api::SetNamespace(cr, api::Namespace(s->ds));
    json::object& meta = api::MutableMetadata(cr);
    if (const json::object* l = api::GetObject(s->ds, "spec.template.metadata.labels")) {
      meta["labels"] = *l;
    }
    api::SetLabel(cr, history::kRevisionLabel, hash);
    if (const json::object* a = api::Annotations(s->ds)) meta["annotations"] = *a;
    api::SetOwnerReferences(cr, {sets::ControllerRef(s->ds, kKind)});
    cr["data"] = history::TemplatePatch(s->ds);
    cr["revision"] = revision;

    const client::Resource& res = history::ControllerRevisionsResource();
    auto created = co_await client.Create(res, cr);
    if (created.has_value()) co_return std::move(created).value();
    if (created.error().code() != Code::kAlreadyExists) co_return created.error();
    std::string ns(api::Namespace(cr));
    std::string name(api::Name(cr));
    MINI8S_CO_ASSIGN_OR_RETURN(json::object existing, co_await client.Get(res, ns, name));
    if (MatchHistory(s->ds, existing)) co_return existing;
    // A hash collision: bump status.collisionCount so the next sync hashes differently.
    const client::Resource& dsres = sets::DaemonSetsResource();
    std::string dsname(api::Name(s->ds));
    MINI8S_CO_ASSIGN_OR_RETURN(json::object cur, co_await client.Get(dsres, ns, dsname));
    int64_t cc = api::GetInt(cur, "status.collisionCount").value_or(0);
    api::MutableObjectAt(cur, "status")["collisionCount"] = cc + 1;
    auto updated = co_await client.UpdateStatus(dsres, std::move(cur));
    if (!updated.has_value()) co_return updated.error();
    co_return Status::AlreadyExists("found a stale or colliding controllerrevision " + name +
                                    " for daemonset " + s->key + "; collisionCount bumped");
  }

  struct HistoryResult {
    json::object cur;
    std::vector<ObjectPtr> old;
  };

  asio::awaitable<Result<HistoryResult>> ConstructHistory(Sync* s) {
    std::vector<ObjectPtr> candidates =
        inf.revisions.indexer().ByIndex(client::kNamespaceIndex, api::Namespace(s->ds));
    const client::Resource& res = history::ControllerRevisionsResource();
    const client::Resource& parent_res = sets::DaemonSetsResource();
    std::string kind(kKind);
    std::function<bool(const json::object&)> no_extra;
    MINI8S_CO_ASSIGN_OR_RETURN(
        std::vector<ObjectPtr> histories,
        co_await sets::ClaimObjects(client, res, parent_res, s->ds, kind, s->selector, no_extra,
                                    std::move(candidates)));
    HistoryResult out;
    std::vector<ObjectPtr> current;
    for (ObjectPtr h : histories) {
      if (!api::Label(*h, history::kRevisionLabel)) {
        // Older revisions without the hash label get their name as the label.
        json::object copy = *h;
        api::SetLabel(copy, history::kRevisionLabel, api::Name(copy));
        MINI8S_CO_ASSIGN_OR_RETURN(json::object updated,
                                        co_await client.Update(res, std::move(copy)));
        h = std::make_shared<const json::object>(std::move(updated));
      }
      if (MatchHistory(s->ds, *h)) {
        current.push_back(h);
      } else {
        out.old.push_back(h);
      }
    }
    int64_t next = 1;
    for (const ObjectPtr& o : out.old) next = std::max(next, history::RevisionNumber(*o) + 1);
    if (current.empty()) {
      MINI8S_CO_ASSIGN_OR_RETURN(out.cur, co_await Snapshot(s, next));
      co_return out;
    }
    MINI8S_CO_ASSIGN_OR_RETURN(out.cur, co_await DedupCurHistories(s, std::move(current)));
    if (history::RevisionNumber(out.cur) < next) {
      json::object copy = out.cur;
      copy["revision"] = next;
      MINI8S_CO_ASSIGN_OR_RETURN(out.cur, co_await client.Update(res, std::move(copy)));
    }
    co_return out;
  }

  // Several revisions match the template: keep the newest, move pods onto its hash, delete the
  // rest.
  asio::awaitable<Result<json::object>> DedupCurHistories(Sync* s, std::vector<ObjectPtr> cur) {
    if (cur.size() == 1) co_return *cur[0];
    ObjectPtr keep = cur[0];
    for (const ObjectPtr& h : cur) {
      if (history::RevisionNumber(*h) > history::RevisionNumber(*keep)) keep = h;
    }
    std::string keep_hash(api::Label(*keep, history::kRevisionLabel).value_or(""));
    std::set<std::string> dup_hashes;
    for (const ObjectPtr& h : cur) {
      if (h != keep)
        dup_hashes.insert(std::string(api::Label(*h, history::kRevisionLabel).value_or("")));
    }
    MINI8S_CO_ASSIGN_OR_RETURN(NodeToPods by_node, co_await NodesToDaemonPods(s));
    const client::Resource& pods_res = sets::PodsResource();
    for (const auto& [node, pods] : by_node) {
      for (const ObjectPtr& pod : pods) {
        std::string h(api::Label(*pod, history::kRevisionLabel).value_or(""));
        if (h == keep_hash || dup_hashes.count(h) == 0) continue;
        json::object copy = *pod;
        api::SetLabel(copy, history::kRevisionLabel, keep_hash);
        auto updated = co_await client.Update(pods_res, std::move(copy));
        if (!updated.has_value() && updated.error().code() != Code::kNotFound) {
          co_return updated.error();
        }
      }
    }
    for (const ObjectPtr& h : cur) {
      if (h == keep) continue;
      json::object copy = *h;
      MINI8S_CO_RETURN_IF_ERROR(co_await history.DeleteControllerRevision(std::move(copy)));
    }
    co_return *keep;
  }

  DaemonSetPlacement Placement(const json::object& node, const Sync* s) {
    return NodeShouldRunDaemonPod(node, s->ds);
  }

  void PodsShouldBeOnNode(Sync* s, const json::object& node, const NodeToPods& by_node,
                          std::vector<std::string>* need, std::vector<std::string>* del) {
    DaemonSetPlacement p = Placement(node, s);
    std::string node_name(api::Name(node));
    auto it = by_node.find(node_name);
    bool exists = it != by_node.end();
    if (p.should_run && !exists) {
      need->push_back(node_name);
      return;
    }
    if (p.should_continue_running) {
      if (!exists) return;
      std::vector<ObjectPtr> running;
      for (const ObjectPtr& pod : it->second) {
        if (api::IsBeingDeleted(*pod)) continue;
        std::string_view phase = sets::PodPhase(*pod);
        if (phase == "Failed") {
          // Kubelets that reject pods make the controller fight them: back off per node.
          std::string bkey = std::string(api::Uid(s->ds)) + "/" + node_name;
          if (failed_backoff.InBackoffSinceUpdate(bkey)) {
            RequeueAfter(s, failed_backoff.Get(bkey));
            continue;
          }
          failed_backoff.Next(bkey);
          std::string msg = "Found failed daemon pod " + std::string(api::Namespace(*pod)) + "/" +
                            std::string(api::Name(*pod)) + " on node " + node_name +
                            ", will try to kill it";
          Event(s->ds, "Warning", "FailedDaemonPod", msg);
          del->push_back(std::string(api::Name(*pod)));
        } else if (phase == "Succeeded") {
          del->push_back(std::string(api::Name(*pod)));
        } else {
          running.push_back(pod);
        }
      }
      if (!AllowsSurge(s->ds)) {
        if (running.size() <= 1) return;
        SortPodsByAge(running);
        for (size_t i = 1; i < running.size(); ++i)
          del->push_back(std::string(api::Name(*running[i])));
        return;
      }
      if (running.size() <= 1) {
        if (running.empty() && p.should_run) need->push_back(node_name);
        return;
      }
      // Surging: keep at most the oldest new pod and the oldest old pod; the old one goes once it
      // is not ready or the new one is available.
      ObjectPtr oldest_new, oldest_old;
      SortPodsByAge(running);
      for (const ObjectPtr& pod : running) {
        bool is_new = api::Label(*pod, history::kRevisionLabel).value_or("") == s->hash;
        if (is_new && !oldest_new) {
          oldest_new = pod;
          continue;
        }
        if (!is_new && !oldest_old) {
          oldest_old = pod;
          continue;
        }
        del->push_back(std::string(api::Name(*pod)));
      }
      if (oldest_new && oldest_old) {
        if (!sets::IsPodReady(*oldest_old) ||
            sets::IsPodAvailable(*oldest_new, MinReadySeconds(s->ds), clock.Now())) {
          del->push_back(std::string(api::Name(*oldest_old)));
        }
      }
      return;
    }
    if (exists) {
      for (const ObjectPtr& pod : it->second) {
        if (!api::IsBeingDeleted(*pod)) del->push_back(std::string(api::Name(*pod)));
      }
    }
  }

  asio::awaitable<Status> Manage(Sync* s) {
    MINI8S_CO_ASSIGN_OR_RETURN(NodeToPods by_node, co_await NodesToDaemonPods(s));
    std::vector<std::string> need, del;
    std::set<std::string, std::less<>> node_names;
    for (const ObjectPtr& node : s->nodes) {
      node_names.insert(std::string(api::Name(*node)));
      PodsShouldBeOnNode(s, *node, by_node, &need, &del);
    }
    // Unscheduled pods aimed at nodes that no longer exist would never be bound or collected.
    for (const auto& [node, pods] : by_node) {
      if (node_names.count(node) != 0) continue;
      for (const ObjectPtr& pod : pods) {
        if (api::GetString(*pod, "spec.nodeName").empty()) {
          del.push_back(std::string(api::Name(*pod)));
        }
      }
    }
    co_return co_await SyncNodes(s, std::move(del), std::move(need));
  }

  json::object CreatePodTemplate(const Sync* s) {
    json::object tmpl;
    if (const json::object* t = api::GetObject(s->ds, "spec.template")) tmpl = *t;
    AddDaemonPodTolerations(api::MutableObjectAt(tmpl, "spec"));
    if (s->generation) {
      api::SetLabel(tmpl, kPodTemplateGenerationLabel, std::to_string(*s->generation));
    }
    if (!s->hash.empty()) api::SetLabel(tmpl, history::kRevisionLabel, s->hash);
    return tmpl;
  }

  asio::awaitable<Status> SyncNodes(Sync* s, std::vector<std::string> to_delete,
                                    std::vector<std::string> to_create) {
    int create_diff = std::min<int>(static_cast<int>(to_create.size()), kBurstReplicas);
    int delete_diff = std::min<int>(static_cast<int>(to_delete.size()), kBurstReplicas);
    expectations.Set(s->key, create_diff, delete_diff);
    Status first_error;
    json::object tmpl = CreatePodTemplate(s);
    const client::Resource& pods_res = sets::PodsResource();
    // Slow start: batches of 1, 2, 4 ...; a failing batch stops the rest (quota storms).
    int batch = std::min(create_diff, 1);
    for (int pos = 0; pos < create_diff;) {
      bool failed = false;
      for (int i = pos; i < pos + batch; ++i) {
        json::object pod_tmpl = tmpl;
        json::object& spec = api::MutableObjectAt(pod_tmpl, "spec");
        json::object& affinity = api::MutableObjectAt(spec, "affinity");
        json::object& node_affinity = api::MutableObjectAt(affinity, "nodeAffinity");
        // Pin the pod to its node through the scheduler (upstream since 1.12): the required
        // affinity becomes a single matchFields term on metadata.name.
        json::object req{{"key", "metadata.name"},
                         {"operator", "In"},
                         {"values", json::array{json::value(to_create[i])}}};
        json::object term{{"matchFields", json::array{json::value(std::move(req))}}};
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] =
            json::object{{"nodeSelectorTerms", json::array{json::value(std::move(term))}}};
        json::object pod = sets::PodFromTemplate(pod_tmpl, s->ds, kKind);
        auto created = co_await client.Create(pods_res, std::move(pod));
        if (created.has_value()) {
          Event(s->ds, "Normal", "SuccessfulCreate",
                "Created pod: " + std::string(api::Name(*created)));
          continue;
        }
        Event(s->ds, "Warning", "FailedCreate", "Error creating: " + created.error().message());
        expectations.CreationObserved(s->key);
        if (first_error.ok()) first_error = created.error();
        failed = true;
      }
      pos += batch;
      int skipped = create_diff - pos;
      if (failed && skipped > 0) {
        expectations.Lower(s->key, skipped, 0);
        break;
      }
      batch = std::min(2 * batch, create_diff - pos);
    }
    for (int i = 0; i < delete_diff; ++i) {
      std::string ns(api::Namespace(s->ds));
      std::string name = to_delete[i];
      auto deleted = co_await client.Delete(pods_res, ns, name);
      if (deleted.has_value()) {
        Event(s->ds, "Normal", "SuccessfulDelete", "Deleted pod: " + name);
        continue;
      }
      expectations.DeletionObserved(s->key);
      if (deleted.error().code() == Code::kNotFound) continue;
      Event(s->ds, "Warning", "FailedDelete", "Error deleting: " + deleted.error().message());
      if (first_error.ok()) first_error = deleted.error();
    }
    co_return first_error;
  }

  struct Counts {
    int max_surge = 0;
    int max_unavailable = 0;
    int desired = 0;
  };

  Result<Counts> UpdatedDesiredNodeCounts(Sync* s, NodeToPods* by_node) {
    Counts c;
    for (const ObjectPtr& node : s->nodes) {
      if (!Placement(*node, s).should_run) continue;
      ++c.desired;
      by_node->try_emplace(std::string(api::Name(*node)));
    }
    MINI8S_ASSIGN_OR_RETURN(c.max_unavailable, UnavailableCount(s->ds, c.desired));
    MINI8S_ASSIGN_OR_RETURN(c.max_surge, SurgeCount(s->ds, c.desired));
    if (c.desired > 0 && c.max_unavailable == 0 && c.max_surge == 0) c.max_unavailable = 1;
    return c;
  }

  // At most one new and one old non-deleted pod on the node; false when there are more.
  bool FindUpdatedPodsOnNode(const Sync* s, const std::vector<ObjectPtr>& pods, ObjectPtr* new_pod,
                             ObjectPtr* old_pod) {
    *new_pod = nullptr;
    *old_pod = nullptr;
    for (const ObjectPtr& pod : pods) {
      if (api::IsBeingDeleted(*pod)) continue;
      if (IsPodUpdated(*pod, s->hash, s->generation)) {
        if (*new_pod) return false;
        *new_pod = pod;
      } else {
        if (*old_pod) return false;
        *old_pod = pod;
      }
    }
    return true;
  }

  ObjectPtr NodeByName(const Sync* s, std::string_view name) {
    for (const ObjectPtr& n : s->nodes) {
      if (api::Name(*n) == name) return n;
    }
    return nullptr;
  }

  asio::awaitable<Status> RollingUpdate(Sync* s) {
    MINI8S_CO_ASSIGN_OR_RETURN(NodeToPods by_node, co_await NodesToDaemonPods(s));
    auto counts = UpdatedDesiredNodeCounts(s, &by_node);
    if (!counts.has_value()) co_return counts.error();
    auto now = clock.Now();
    int64_t min_ready = MinReadySeconds(s->ds);
    if (counts->max_surge == 0) {
      int unavailable = 0;
      std::vector<std::string> allowed, candidates;
      for (const auto& [node, pods] : by_node) {
        ObjectPtr new_pod, old_pod;
        if (!FindUpdatedPodsOnNode(s, pods, &new_pod, &old_pod)) {
          ++unavailable;  // the manage loop prunes the excess first
          continue;
        }
        if ((!old_pod && !new_pod) || (old_pod && new_pod)) {
          ++unavailable;
        } else if (new_pod) {
          if (!sets::IsPodAvailable(*new_pod, min_ready, now)) ++unavailable;
        } else if (!sets::IsPodAvailable(*old_pod, min_ready, now)) {
          allowed.push_back(std::string(api::Name(*old_pod)));
          ++unavailable;
        } else if (unavailable < counts->max_unavailable) {
          candidates.push_back(std::string(api::Name(*old_pod)));
        }
      }
      int remaining = std::max(0, counts->max_unavailable - unavailable);
      remaining = std::min<int>(remaining, static_cast<int>(candidates.size()));
      std::vector<std::string> to_delete = allowed;
      to_delete.insert(to_delete.end(), candidates.begin(), candidates.begin() + remaining);
      std::vector<std::string> none;
      co_return co_await SyncNodes(s, std::move(to_delete), std::move(none));
    }

    std::vector<std::string> old_to_delete, should_not_run_to_delete, candidate_nodes,
        allowed_nodes;
    int surge = 0;
    int available = 0;
    for (const auto& [node, pods] : by_node) {
      ObjectPtr new_pod, old_pod;
      if (!FindUpdatedPodsOnNode(s, pods, &new_pod, &old_pod)) {
        ++surge;
        continue;
      }
      if (old_pod) {
        if (sets::IsPodAvailable(*old_pod, min_ready, now)) ++available;
      } else if (new_pod) {
        if (sets::IsPodAvailable(*new_pod, min_ready, now)) ++available;
      }
      if (!old_pod) continue;
      if (!new_pod) {
        ObjectPtr n = NodeByName(s, node);
        if (!n) co_return Status::NotFound("couldn't get node for nodeName \"" + node + "\"");
        bool should_run = Placement(*n, s).should_run;
        if (!sets::IsPodAvailable(*old_pod, min_ready, now)) {
          if (!should_run) {
            old_to_delete.push_back(std::string(api::Name(*old_pod)));
          } else {
            allowed_nodes.push_back(node);
          }
        } else if (!should_run) {
          should_not_run_to_delete.push_back(std::string(api::Name(*old_pod)));
        } else if (surge < counts->max_surge) {
          candidate_nodes.push_back(node);
        }
        continue;
      }
      if (!sets::IsPodAvailable(*new_pod, min_ready, now)) {
        ++surge;
        continue;
      }
      old_to_delete.push_back(std::string(api::Name(*old_pod)));
    }
    // Pods on nodes the DaemonSet no longer targets go only once enough replacements are up.
    int deletable = available - counts->desired;
    if (deletable > 0) {
      deletable = std::min<int>(deletable, static_cast<int>(should_not_run_to_delete.size()));
      for (int i = 0; i < deletable; ++i) old_to_delete.push_back(should_not_run_to_delete[i]);
    }
    int remaining = std::max(0, counts->max_surge - surge);
    remaining = std::min<int>(remaining, static_cast<int>(candidate_nodes.size()));
    std::vector<std::string> to_create = allowed_nodes;
    to_create.insert(to_create.end(), candidate_nodes.begin(), candidate_nodes.begin() + remaining);
    co_return co_await SyncNodes(s, std::move(old_to_delete), std::move(to_create));
  }

  asio::awaitable<Status> CleanupHistory(Sync* s, std::vector<ObjectPtr> old) {
    int64_t limit = api::GetInt(s->ds, "spec.revisionHistoryLimit")
                        .value_or(sets::kDefaultRevisionHistoryLimit);
    int64_t to_kill = static_cast<int64_t>(old.size()) - limit;
    if (to_kill <= 0) co_return Status::OK();
    MINI8S_CO_ASSIGN_OR_RETURN(NodeToPods by_node, co_await NodesToDaemonPods(s));
    std::set<std::string, std::less<>> live;
    for (const auto& [node, pods] : by_node) {
      for (const ObjectPtr& pod : pods) {
        auto h = api::Label(*pod, history::kRevisionLabel);
        if (h && !h->empty()) live.insert(std::string(*h));
      }
    }
    history::SortControllerRevisions(old);
    for (const ObjectPtr& h : old) {
      if (to_kill <= 0) break;
      if (live.count(api::Label(*h, history::kRevisionLabel).value_or("")) != 0) continue;
      json::object copy = *h;
      MINI8S_CO_RETURN_IF_ERROR(co_await history.DeleteControllerRevision(std::move(copy)));
      --to_kill;
    }
    co_return Status::OK();
  }

  asio::awaitable<Status> UpdateStatus(Sync* s, bool update_observed_generation) {
    MINI8S_CO_ASSIGN_OR_RETURN(NodeToPods by_node, co_await NodesToDaemonPods(s));
    int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, updated = 0, available = 0;
    auto now = clock.Now();
    int64_t min_ready = MinReadySeconds(s->ds);
    for (const ObjectPtr& node : s->nodes) {
      bool should_run = Placement(*node, s).should_run;
      auto it = by_node.find(api::Name(*node));
      bool scheduled = it != by_node.end() && !it->second.empty();
      if (!should_run) {
        if (scheduled) ++misscheduled;
        continue;
      }
      ++desired;
      if (!scheduled) continue;
      ++current;
      std::vector<ObjectPtr> pods = it->second;
      SortPodsByAge(pods);
      const json::object& pod = *pods[0];
      if (sets::IsPodReady(pod)) {
        ++ready;
        if (sets::IsPodAvailable(pod, min_ready, now)) ++available;
      }
      if (IsPodUpdated(pod, s->hash, s->generation)) ++updated;
    }
    int64_t unavailable = desired - available;

    const json::object* st = api::GetObject(s->ds, "status");
    json::object status = st != nullptr ? *st : json::object();
    auto set_or_omit = [&status](std::string_view k, int64_t v, bool always) {
      if (v == 0 && !always) {
        status.erase(k);
      } else {
        status[k] = v;
      }
    };
    set_or_omit("currentNumberScheduled", current, true);
    set_or_omit("numberMisscheduled", misscheduled, true);
    set_or_omit("desiredNumberScheduled", desired, true);
    set_or_omit("numberReady", ready, true);
    set_or_omit("updatedNumberScheduled", updated, false);
    set_or_omit("numberAvailable", available, false);
    set_or_omit("numberUnavailable", unavailable, false);
    if (update_observed_generation) status["observedGeneration"] = api::Generation(s->ds);

    if (st == nullptr || *st != status) {
      const client::Resource& res = sets::DaemonSetsResource();
      json::object to_update = s->ds;
      for (int attempt = 0;; ++attempt) {
        // Keep fields others own (conditions, collisionCount) from the fresh copy.
        json::object merged = status;
        if (const json::object* fresh = api::GetObject(to_update, "status")) {
          for (std::string_view k : {"conditions", "collisionCount"}) {
            auto f = fresh->find(k);
            if (f != fresh->end()) merged[k] = f->value();
          }
        }
        to_update["status"] = std::move(merged);
        auto r = co_await client.UpdateStatus(res, to_update);
        if (r.has_value()) break;
        if (attempt >= 1 || r.error().code() != Code::kConflict) {
          co_return Status(r.error().code(), "error storing status for daemon set " + s->key +
                                                 ": " + r.error().message());
        }
        std::string ns(api::Namespace(s->ds));
        std::string name(api::Name(s->ds));
        MINI8S_CO_ASSIGN_OR_RETURN(to_update, co_await client.Get(res, ns, name));
      }
    }
    if (min_ready > 0 && ready != available) {
      RequeueAfter(s, std::chrono::seconds(min_ready));
    }
    co_return Status::OK();
  }

  asio::awaitable<Result<Requeue>> SyncDaemonSet(std::string key) {
    ObjectPtr cached = inf.daemonsets.indexer().Get(std::string_view(key));
    if (!cached) {
      expectations.Delete(key);
      co_return Requeue{};
    }
    Sync s;
    s.key = key;
    s.ds = *cached;
    const json::value* sel_json = api::FindPath(s.ds, "spec.selector");
    auto sel = api::LabelSelector::FromLabelSelectorJson(sel_json);
    if (!sel.has_value()) {
      MINI8S_LOG(WARNING) << "daemonset " << key << ": invalid selector: " << sel.error().message();
      co_return Requeue{};
    }
    if (sel->Empty()) {
      Event(s.ds, "Warning", "SelectingAll",
            "This daemon set is selecting all pods. A non-empty selector is required.");
      co_return Requeue{};
    }
    s.selector = std::move(*sel);
    // While the set is being deleted its revisions may already be gone: leave it to the GC.
    if (api::IsBeingDeleted(s.ds)) co_return Requeue{};
    s.nodes = inf.nodes.indexer().List();
    s.generation = TemplateGeneration(s.ds);

    MINI8S_CO_ASSIGN_OR_RETURN(HistoryResult hist, co_await ConstructHistory(&s));
    s.hash = std::string(api::Label(hist.cur, history::kRevisionLabel).value_or(""));

    if (!expectations.Satisfied(key)) {
      Status st = co_await UpdateStatus(&s, false);
      if (!st.ok()) co_return st;
      co_return s.requeue_after.count() > 0 ? Requeue{true, s.requeue_after} : Requeue{};
    }

    Status err = co_await Manage(&s);
    if (err.ok() && expectations.Satisfied(key) && StrategyType(s.ds) == "RollingUpdate") {
      err = co_await RollingUpdate(&s);
    }
    if (err.ok()) {
      Status c = co_await CleanupHistory(&s, std::move(hist.old));
      if (!c.ok()) {
        err = Status(c.code(), "failed to clean up revisions of DaemonSet: " + c.message());
      }
    }
    Status status_err = co_await UpdateStatus(&s, true);
    if (!err.ok()) co_return err;
    if (!status_err.ok()) co_return status_err;
    if (s.requeue_after.count() > 0) co_return Requeue{true, s.requeue_after};
    co_return Requeue{};
  }
};

DaemonSetController::DaemonSetController(client::Client& client, Informers informers,
                                         WorkQueue& queue, const Clock& clock, SetEventFunc events)
    : impl_(std::make_unique<Impl>(client, informers, queue, clock, std::move(events))) {}

DaemonSetController::~DaemonSetController() = default;

void DaemonSetController::RegisterHandlers() {
  Impl* impl = impl_.get();
  for (client::Informer* inf : {&impl->inf.daemonsets, &impl->inf.pods, &impl->inf.revisions}) {
    inf->AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  }
  impl->inf.daemonsets.AddEventHandlers(EnqueueHandlers(impl->queue));

  client::EventHandlers pods;
  pods.on_add = [impl](const ObjectPtr& p) { impl->OnPodAdd(*p); };
  pods.on_update = [impl](const ObjectPtr& o, const ObjectPtr& n) { impl->OnPodUpdate(*o, *n); };
  pods.on_delete = [impl](const client::DeletedObject& d) {
    if (d.object) impl->OnPodDelete(*d.object);
  };
  impl->inf.pods.AddEventHandlers(std::move(pods));

  client::EventHandlers nodes;
  nodes.on_add = [impl](const ObjectPtr& n) { impl->OnNodeAdd(*n); };
  nodes.on_update = [impl](const ObjectPtr& o, const ObjectPtr& n) { impl->OnNodeUpdate(*o, *n); };
  nodes.on_delete = [impl](const client::DeletedObject&) {
    // Unscheduled pods aimed at a vanished node are cleaned up by the next sync.
    for (const ObjectPtr& ds : impl->inf.daemonsets.indexer().List()) {
      impl->queue.Add(client::ObjectKey(*ds));
    }
  };
  impl->inf.nodes.AddEventHandlers(std::move(nodes));

  impl->inf.revisions.AddEventHandlers(EnqueueOwnerHandlers(impl->queue, std::string(kKind)));
}

asio::awaitable<Result<Requeue>> DaemonSetController::Reconcile(std::string key) {
  co_return co_await impl_->SyncDaemonSet(std::move(key));
}

}  // namespace mini8s::controllers
