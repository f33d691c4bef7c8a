#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "controllers/deployment/apps_util.h"
#include "mini8s/api/object.h"
#include "mini8s/api/selector.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/replicaset.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

// ---- Expectations ----

namespace replicaset {

bool Expectations::Satisfied(const std::string& key) const {
  auto it = records_.find(key);
  if (it == records_.end()) return true;  // a new controller, or one we never acted for
  const Record& r = it->second;
  if (r.adds <= 0 && r.dels <= 0) return true;
  return clock_.Monotonic() - r.timestamp > kTimeout;
}

void Expectations::ExpectCreations(const std::string& key, int64_t adds) {
  Record& r = records_[key];
  r.adds = adds;
  r.dels = 0;
  r.deleted_keys.clear();
  r.timestamp = clock_.Monotonic();
}

void Expectations::ExpectDeletions(const std::string& key, const std::vector<std::string>& pods) {
  Record& r = records_[key];
  r.adds = 0;
  r.dels = static_cast<int64_t>(pods.size());
  r.deleted_keys = std::set<std::string>(pods.begin(), pods.end());
  r.timestamp = clock_.Monotonic();
}

void Expectations::CreationObserved(const std::string& key) {
  auto it = records_.find(key);
  if (it != records_.end()) --it->second.adds;
}

void Expectations::DeletionObserved(const std::string& key, const std::string& pod_key) {
  auto it = records_.find(key);
  if (it == records_.end()) return;
  if (it->second.deleted_keys.erase(pod_key) != 0) --it->second.dels;
}

void Expectations::Delete(const std::string& key) { records_.erase(key); }

std::pair<int64_t, int64_t> Expectations::Pending(const std::string& key) const {
  auto it = records_.find(key);
  if (it == records_.end()) return {0, 0};
  return {it->second.adds, it->second.dels};
}

namespace {

int PhaseOrdinal(std::string_view phase) {
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 0;  // Pending and anything unexpected
}

int64_t DeletionCost(const json::object& pod) {
  std::optional<std::string_view> v =
      api::Annotation(pod, "controller.kubernetes.io/pod-deletion-cost");
  if (!v) return 0;
  try {
    return std::stoll(std::string(*v));
  } catch (const std::exception&) {
    return 0;
  }
}

// afterOrZero: a zero (unknown) time sorts first, otherwise the later time first.
bool AfterOrZero(const std::optional<apps::TimePoint>& a, const std::optional<apps::TimePoint>& b) {
  if (!a || !b) return !a;
  return *a > *b;
}

struct Ranked {
  client::ObjectPtr pod;
  int rank = 0;
};

// ActivePodsWithRanks.Less, without LogarithmicScaleDown's bucketing.
bool DeleteFirst(const Ranked& x, const Ranked& y) {
  const json::object& a = *x.pod;
  const json::object& b = *y.pod;
  bool a_bound = !api::GetString(a, "spec.nodeName").empty();
  bool b_bound = !api::GetString(b, "spec.nodeName").empty();
  if (a_bound != b_bound) return !a_bound;
  int pa = PhaseOrdinal(api::GetString(a, "status.phase"));
  int pb = PhaseOrdinal(api::GetString(b, "status.phase"));
  if (pa != pb) return pa < pb;
  bool ra = apps::IsPodReady(a), rb = apps::IsPodReady(b);
  if (ra != rb) return !ra;
  int64_t ca = DeletionCost(a), cb = DeletionCost(b);
  if (ca != cb) return ca < cb;
  if (x.rank != y.rank) return x.rank > y.rank;
  if (ra && rb) {
    auto ta = apps::PodReadySince(a), tb = apps::PodReadySince(b);
    if (ta != tb) return AfterOrZero(ta, tb);
  }
  int64_t sa = apps::MaxContainerRestarts(a), sb = apps::MaxContainerRestarts(b);
  if (sa != sb) return sa > sb;
  auto ka = apps::GetTime(a, "metadata.creationTimestamp");
  auto kb = apps::GetTime(b, "metadata.creationTimestamp");
  if (ka != kb) return AfterOrZero(ka, kb);
  return false;
}

}  // namespace

std::vector<client::ObjectPtr> PodsToDelete(std::vector<client::ObjectPtr> pods,
                                            const std::vector<client::ObjectPtr>& related,
                                            std::size_t count) {
  if (count >= pods.size()) return pods;
  // Rank: how many related pods share the node (upstream getPodsRankedByRelatedPodsOnSameNode).
  std::map<std::string, int, std::less<>> per_node;
  for (const auto& p : related) {
    std::string_view node = api::GetString(*p, "spec.nodeName");
    if (!node.empty()) ++per_node[std::string(node)];
  }
  std::vector<Ranked> ranked;
  ranked.reserve(pods.size());
  for (auto& p : pods) {
    std::string_view node = api::GetString(*p, "spec.nodeName");
    int rank = 0;
    if (!node.empty()) {
      auto it = per_node.find(node);
      if (it != per_node.end()) rank = it->second;
    }
    ranked.push_back({std::move(p), rank});
  }
  std::stable_sort(ranked.begin(), ranked.end(), DeleteFirst);
  std::vector<client::ObjectPtr> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(std::move(ranked[i].pod));
  return out;
}

}  // namespace replicaset

// ---- the controller ----

namespace {

const char* const kComponent = "replicaset-controller";

std::string PodKey(const json::object& pod) { return client::ObjectKey(pod); }

// The status fields the controller owns, for the no-op check (upstream compares the structs).
struct RsStatus {
  int64_t replicas = 0, fully_labeled = 0, ready = 0, available = 0, observed_generation = 0;
  std::string conditions;  // canonical JSON
  bool operator==(const RsStatus&) const = default;
};

RsStatus ReadStatus(const json::object& status) {
  RsStatus s;
  auto i = [&](const char* f) { return api::GetInt(status, f).value_or(0); };
  s.replicas = i("replicas");
  s.fully_labeled = i("fullyLabeledReplicas");
  s.ready = i("readyReplicas");
  s.available = i("availableReplicas");
  s.observed_generation = i("observedGeneration");
  if (const json::value* c = status.if_contains("conditions"))
    s.conditions = apps::CanonicalJson(*c);
  return s;
}

bool IsNamespaceTerminating(const Status& s) {
  return s.code() == Code::kForbidden &&
         s.message().find("because it is being terminated") != std::string::npos;
}

}  // namespace

ReplicaSetController::ReplicaSetController(ControllerContext& ctx, WorkQueue& queue,
                                           ReplicaSetOptions options)
    : ctx_(ctx),
      queue_(queue),
      options_(options),
      rs_informer_(ctx.informers.For(resources::ReplicaSets())),
      pod_informer_(ctx.informers.For(resources::Pods())),
      events_(ctx.events(kComponent)),
      expectations_(ctx.clock) {
  client::EventHandlers rs;
  rs.on_add = [this](const client::ObjectPtr& obj) { queue_.Add(client::ObjectKey(*obj)); };
  rs.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& obj) {
    queue_.Add(client::ObjectKey(*obj));
  };
  rs.on_delete = [this](const client::DeletedObject& del) {
    expectations_.Delete(del.key);
    queue_.Add(del.key);
  };
  rs_informer_.AddEventHandlers(std::move(rs));

  client::EventHandlers pods;
  pods.on_add = [this](const client::ObjectPtr& obj) { OnPodAdd(obj); };
  pods.on_update = [this](const client::ObjectPtr& o, const client::ObjectPtr& n) {
    OnPodUpdate(o, n);
  };
  pods.on_delete = [this](const client::DeletedObject& del) {
    if (del.object) OnPodDelete(*del.object);
  };
  pod_informer_.AddEventHandlers(std::move(pods));
}

client::ObjectPtr ReplicaSetController::ResolveControllerRef(std::string_view ns,
                                                             const api::OwnerReference& ref) const {
  if (ref.kind != "ReplicaSet") return nullptr;
  client::ObjectPtr rs = rs_informer_.indexer().Get(ns, ref.name);
  if (!rs || api::Uid(*rs) != ref.uid) return nullptr;
  return rs;
}

std::vector<client::ObjectPtr> ReplicaSetController::ReplicaSetsSelecting(
    const json::object& pod) const {
  std::vector<client::ObjectPtr> out;
  std::string ns(api::Namespace(pod));
  for (const auto& rs : rs_informer_.indexer().ByIndex(client::kNamespaceIndex, ns)) {
    Result<api::LabelSelector> sel = apps::SpecSelector(*rs);
    if (!sel.has_value() || sel->Empty() || sel->MatchesNothing()) continue;
    if (sel->Matches(api::Labels(pod))) out.push_back(rs);
  }
  return out;
}

void ReplicaSetController::OnPodAdd(const client::ObjectPtr& pod) {
  if (api::IsBeingDeleted(*pod)) {
    // A restarted controller may see a pod already being deleted as an add.
    OnPodDelete(*pod);
    return;
  }
  if (auto ref = api::ControllerOf(*pod)) {
    client::ObjectPtr rs = ResolveControllerRef(api::Namespace(*pod), *ref);
    if (!rs) return;
    std::string key = client::ObjectKey(*rs);
    expectations_.CreationObserved(key);
    queue_.Add(key);
    return;
  }
  // An orphan: wake every ReplicaSet that might adopt it.
  for (const auto& rs : ReplicaSetsSelecting(*pod)) queue_.Add(client::ObjectKey(*rs));
}

void ReplicaSetController::OnPodUpdate(const client::ObjectPtr& old_pod,
                                       const client::ObjectPtr& pod) {
  if (api::ResourceVersion(*old_pod) == api::ResourceVersion(*pod)) return;  // resync
  const json::object* ol = api::Labels(*old_pod);
  const json::object* nl = api::Labels(*pod);
  bool labels_changed =
      (ol == nullptr ? json::object() : *ol) != (nl == nullptr ? json::object() : *nl);
  if (api::IsBeingDeleted(*pod)) {
    // Graceful deletion: replace the pod now rather than when the kubelet removes it.
    OnPodDelete(*pod);
    if (labels_changed) OnPodDelete(*old_pod);
    return;
  }
  auto cur_ref = api::ControllerOf(*pod);
  auto old_ref = api::ControllerOf(*old_pod);
  bool ref_changed = cur_ref != old_ref;
  std::string_view ns = api::Namespace(*pod);
  if (ref_changed && old_ref) {
    if (auto rs = ResolveControllerRef(ns, *old_ref)) queue_.Add(client::ObjectKey(*rs));
  }
  if (cur_ref) {
    client::ObjectPtr rs = ResolveControllerRef(ns, *cur_ref);
    if (!rs) return;
    std::string key = client::ObjectKey(*rs);
    queue_.Add(key);
    // A pod that just became ready turns available after minReadySeconds: look again then.
    int32_t min_ready = apps::GetInt32(*rs, "spec.minReadySeconds");
    if (min_ready > 0 && !apps::IsPodReady(*old_pod) && apps::IsPodReady(*pod)) {
      queue_.AddAfter(key, std::chrono::seconds(min_ready) + std::chrono::seconds(1));
    }
    return;
  }
  if (labels_changed || ref_changed) {
    for (const auto& rs : ReplicaSetsSelecting(*pod)) queue_.Add(client::ObjectKey(*rs));
  }
}

void ReplicaSetController::OnPodDelete(const json::object& pod) {
  auto ref = api::ControllerOf(pod);
  if (!ref) return;
  client::ObjectPtr rs = ResolveControllerRef(api::Namespace(pod), *ref);
  if (!rs) return;
  std::string key = client::ObjectKey(*rs);
  expectations_.DeletionObserved(key, PodKey(pod));
  queue_.Add(key);
}

asio::awaitable<Status> ReplicaSetController::CreatePod(const json::object& rs) {
  // GetPodFromTemplate: labels, annotations and finalizers from the template, generateName
  // "<rs>-", and the controller reference.
  json::object pod;
  json::object meta;
  if (const json::object* tm = api::GetObject(rs, "spec.template.metadata")) {
    for (const char* f : {"labels", "annotations", "finalizers"}) {
      if (const json::value* v = tm->if_contains(f)) meta[f] = *v;
    }
  }
  if (!meta.contains("labels") || !meta["labels"].is_object() ||
      meta["labels"].as_object().empty()) {
    co_return Status::Invalid("unable to create pods, no labels");
  }
  meta["generateName"] = std::string(api::Name(rs)) + "-";
  meta["namespace"] = std::string(api::Namespace(rs));
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  pod["metadata"] = std::move(meta);
  api::SetOwnerReferences(pod, {apps::ControllerRefTo(rs, "apps/v1", "ReplicaSet")});
  if (const json::value* spec = api::FindPath(rs, "spec.template.spec")) {
    pod["spec"] = *spec;
  } else {
    pod["spec"] = json::object();
  }
  client::Resource res = resources::Pods();
  auto created = co_await ctx_.client.Create(res, std::move(pod));
  if (!created.has_value()) {
    if (!IsNamespaceTerminating(created.error())) {
      events_.Event(rs, "Warning", "FailedCreate", "Error creating: " + created.error().message());
    }
    co_return created.error();
  }
  events_.Event(rs, "Normal", "SuccessfulCreate",
                "Created pod: " + std::string(api::Name(*created)));
  co_return Status();
}

asio::awaitable<Status> ReplicaSetController::DeletePod(const json::object& rs,
                                                        const json::object& pod) {
  client::Resource res = resources::Pods();
  std::string ns(api::Namespace(pod));
  std::string name(api::Name(pod));
  auto r = co_await ctx_.client.Delete(res, ns, name);
  if (!r.has_value()) {
    if (r.error().code() == Code::kNotFound) co_return r.error();
    events_.Event(rs, "Warning", "FailedDelete", "Error deleting: " + r.error().message());
    co_return Status(r.error().code(), "unable to delete pods: " + r.error().message());
  }
  events_.Event(rs, "Normal", "SuccessfulDelete", "Deleted pod: " + name);
  co_return Status();
}

asio::awaitable<Status> ReplicaSetController::ManageReplicas(std::vector<client::ObjectPtr> pods,
                                                             client::ObjectPtr rs,
                                                             std::string key) {
  int64_t diff = static_cast<int64_t>(pods.size()) - apps::SpecReplicas(*rs);
  if (diff < 0) {
    diff = std::min<int64_t>(-diff, options_.burst_replicas);
    // Expect every creation before issuing any: the informer may deliver them before we return.
    expectations_.ExpectCreations(key, diff);
    // Slow start: batches of 1, 2, 4, ... so a doomed create (quota, admission) fails once,
    // not `diff` times.
    int64_t remaining = diff, batch = std::min<int64_t>(diff, 1), successes = 0;
    Status first_error;
    while (batch > 0) {
      int64_t failed = 0;
      for (int64_t i = 0; i < batch; ++i) {
        Status s = co_await CreatePod(*rs);
        if (s.ok()) continue;
        if (IsNamespaceTerminating(s)) continue;  // nothing to report; the namespace goes away
        ++failed;
        if (first_error.ok()) first_error = s;
      }
      successes += batch - failed;
      if (failed > 0) break;
      remaining -= batch;
      batch = std::min(2 * batch, remaining);
    }
    // Creations that were skipped or failed will never be observed.
    for (int64_t i = successes; i < diff; ++i) expectations_.CreationObserved(key);
    co_return first_error;
  }
  if (diff > 0) {
    diff = std::min<int64_t>(diff, options_.burst_replicas);
    // Pods of the same owner's other ReplicaSets steer deletion off crowded nodes.
    std::vector<client::ObjectPtr> related;
    if (auto owner = api::ControllerOf(*rs)) {
      std::string ns(api::Namespace(*rs));
      for (const auto& other : rs_informer_.indexer().ByIndex(client::kOwnerIndex, owner->uid)) {
        for (const auto& p :
             pod_informer_.indexer().ByIndex(client::kOwnerIndex, std::string(api::Uid(*other)))) {
          if (apps::IsPodActive(*p)) related.push_back(p);
        }
      }
    }
    std::vector<client::ObjectPtr> victims =
        replicaset::PodsToDelete(std::move(pods), related, static_cast<std::size_t>(diff));
    std::vector<std::string> victim_keys;
    for (const auto& p : victims) victim_keys.push_back(PodKey(*p));
    expectations_.ExpectDeletions(key, victim_keys);
    Status first_error;
    for (const auto& p : victims) {
      Status s = co_await DeletePod(*rs, *p);
      if (s.ok()) continue;
      // A failed delete will never be observed; NotFound means it is already gone.
      expectations_.DeletionObserved(key, PodKey(*p));
      if (s.code() != Code::kNotFound && first_error.ok()) first_error = s;
    }
    co_return first_error;
  }
  co_return Status();
}

asio::awaitable<Result<Requeue>> ReplicaSetController::Reconcile(std::string key) {
  client::ObjectPtr rs = rs_informer_.indexer().Get(std::string_view(key));
  if (!rs) {
    expectations_.Delete(key);
    co_return Requeue{};
  }
  bool needs_sync = expectations_.Satisfied(key);
  Result<api::LabelSelector> selector = apps::SpecSelector(*rs);
  if (!selector.has_value()) {
    // A bad selector does not fix itself by retrying; a spec update re-queues the key.
    MINI8S_LOG(WARNING) << "replicaset " << key
                        << ": invalid selector: " << selector.error().message();
    co_return Requeue{};
  }
  std::string ns(api::Namespace(*rs));
  // The pods a claim can keep or adopt: those naming this ReplicaSet as an owner plus the
  // namespace's orphans. Pods controlled by anyone else are never claimed, and skipping them
  // keeps a sync from walking every pod in the namespace (3,000 pods x every status update).
  std::vector<client::ObjectPtr> active;
  {
    const client::Indexer& pods = pod_informer_.indexer();
    std::vector<client::ObjectPtr> owned = pods.ByIndex(client::kOwnerIndex, api::Uid(*rs));
    std::vector<client::ObjectPtr> orphans = pods.ByIndex(client::kOrphanIndex, ns);
    // Both lists are in key order; a pod can be in both (a non-controller reference to this
    // ReplicaSet and no controller): merge them once each, keeping the key order.
    std::vector<client::ObjectPtr> merged;
    merged.reserve(owned.size() + orphans.size());
    std::merge(owned.begin(), owned.end(), orphans.begin(), orphans.end(),
               std::back_inserter(merged), [](const client::ObjectPtr& a, const client::ObjectPtr& b) {
                 return std::pair(api::Namespace(*a), api::Name(*a)) <
                        std::pair(api::Namespace(*b), api::Name(*b));
               });
    merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
    for (auto& p : merged) {
      if (api::Namespace(*p) == ns && apps::IsPodActive(*p)) active.push_back(std::move(p));
    }
  }
  apps::ClaimSpec claim;
  claim.resource = resources::Pods();
  claim.owner = rs.get();
  claim.owner_api_version = "apps/v1";
  claim.owner_kind = "ReplicaSet";
  claim.selector = *selector;
  claim.can_adopt =
      apps::RecheckDeletionTimestamp(ctx_.client, resources::ReplicaSets(), ns,
                                     std::string(api::Name(*rs)), std::string(api::Uid(*rs)));
  MINI8S_CO_ASSIGN_OR_RETURN(
      std::vector<client::ObjectPtr> pods,
      co_await apps::ClaimObjects(ctx_.client, std::move(claim), std::move(active)));

  Status manage_err;
  if (needs_sync && !api::IsBeingDeleted(*rs)) {
    manage_err = co_await ManageReplicas(pods, rs, key);
  }

  // calculateStatus, from the pods as they were before this sync's creates and deletes.
  apps::TimePoint now = ctx_.clock.Now();
  int32_t min_ready = apps::GetInt32(*rs, "spec.minReadySeconds");
  Result<api::LabelSelector> template_sel = api::LabelSelector::FromSet([&] {
    api::StringMap m;
    if (const json::object* l = api::GetObject(*rs, "spec.template.metadata.labels")) {
      for (const auto& [k, v] : *l) {
        if (v.is_string()) m.emplace(std::string(k), std::string(v.as_string()));
      }
    }
    return m;
  }());
  int64_t fully = 0, ready = 0, available = 0;
  std::optional<apps::TimePoint> next_available;
  for (const auto& p : pods) {
    if (template_sel.has_value() && template_sel->Matches(api::Labels(*p))) ++fully;
    if (!apps::IsPodReady(*p)) continue;
    ++ready;
    if (apps::IsPodAvailable(*p, min_ready, now)) {
      ++available;
    } else if (auto since = apps::PodReadySince(*p)) {
      apps::TimePoint at = *since + std::chrono::seconds(min_ready) + std::chrono::seconds(1);
      if (!next_available || at < *next_available) next_available = at;
    }
  }
  json::object status;
  status["replicas"] = static_cast<int64_t>(pods.size());
  if (fully > 0) status["fullyLabeledReplicas"] = fully;
  if (ready > 0) status["readyReplicas"] = ready;
  if (available > 0) status["availableReplicas"] = available;
  if (int64_t gen = api::Generation(*rs); gen > 0) status["observedGeneration"] = gen;
  json::array conditions;
  bool has_failure = false;
  if (const json::array* old = api::GetArray(*rs, "status.conditions")) {
    for (const json::value& c : *old) {
      bool failure = c.is_object() && api::GetString(c.as_object(), "type") == "ReplicaFailure";
      if (failure && manage_err.ok()) continue;  // the failure cleared
      has_failure = has_failure || failure;
      conditions.push_back(c);
    }
  }
  if (!manage_err.ok() && !has_failure) {
    int64_t d = static_cast<int64_t>(pods.size()) - apps::SpecReplicas(*rs);
    std::string reason = d < 0 ? "FailedCreate" : d > 0 ? "FailedDelete" : "";
    conditions.push_back(json::object{{"type", "ReplicaFailure"},
                                      {"status", "True"},
                                      {"lastTransitionTime", FormatRfc3339(now)},
                                      {"reason", reason},
                                      {"message", manage_err.message()}});
  }
  if (!conditions.empty()) status["conditions"] = std::move(conditions);

  const json::object* old_status = api::GetObject(*rs, "status");
  if (old_status == nullptr || !(ReadStatus(*old_status) == ReadStatus(status))) {
    json::object updated = *rs;
    updated["status"] = status;
    client::Resource res = resources::ReplicaSets();
    auto r = co_await ctx_.client.UpdateStatus(res, std::move(updated));
    if (!r.has_value() && r.error().code() == Code::kConflict) {
      // One retry on a fresh copy, as upstream's updateReplicaSetStatus.
      std::string name(api::Name(*rs));
      auto fresh = co_await ctx_.client.Get(res, ns, name);
      if (fresh.has_value()) {
        (*fresh)["status"] = status;
        r = co_await ctx_.client.UpdateStatus(res, std::move(*fresh));
      }
    }
    if (!r.has_value()) co_return r.error();
  }
  if (!manage_err.ok()) co_return manage_err;
  // Pods that are ready but not yet available become available on their own time.
  if (min_ready > 0 && next_available) {
    auto after = std::chrono::duration_cast<std::chrono::milliseconds>(*next_available - now);
    queue_.AddAfter(key, std::max(after, std::chrono::milliseconds(1)));
  }
  co_return Requeue{};
}

Status StartReplicaSetController(ControllerContext& ctx) {
  WorkQueue& queue = ctx.NewQueue();
  auto controller = std::make_unique<ReplicaSetController>(ctx, queue);
  std::vector<const client::Informer*> synced{&controller->replicaset_informer(),
                                              &controller->pod_informer()};
  // Upstream's --concurrent-replicaset-syncs default: one slow ReplicaSet does not hold up
  // the others (the queue never hands one key to two workers).
  ctx.Run(std::move(controller), queue, std::move(synced), 5);
  return Status();
}

}  // namespace mini8s::controllers
