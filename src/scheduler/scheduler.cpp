#include "mini8s/scheduler/scheduler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "scheduler/framework.h"
#include "scheduler/queue.h"

namespace mini8s::scheduler {

namespace asio = boost::asio;
namespace json = boost::json;
using client::ObjectPtr;

namespace {

client::Resource PodsResource() { return {"", "v1", "pods", "Pod", true}; }
client::Resource PvcResource() {
  return {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true};
}

// What VolumeBinding's PreFilter learns about the pod's claims.
struct VolumeState {
  std::string prefilter;  // a rejection for every node
  bool prefilter_unresolvable = false;
  bool missing_pv = false;
  std::vector<std::vector<NodeSelectorTerm>> pv_affinity;  // bound PVs' node affinity
  std::vector<std::string> delayed_claims;                 // unbound WaitForFirstConsumer claims
};

}  // namespace

struct Scheduler::Impl {
  Impl(client::Client& c, asio::any_io_executor ex, const Clock& clk, SchedulerInformers inf,
       EventSink ev, SchedulerOptions opts)
      : client(c),
        executor(std::move(ex)),
        clock(clk),
        informers(inf),
        events(std::move(ev)),
        options(std::move(opts)),
        queue(clk, options.initial_backoff, options.max_backoff, options.unschedulable_timeout),
        wake(executor),
        rng(options.seed != 0 ? options.seed : std::random_device{}()) {}

  struct NodeEntry {
    NodeInfo info;
    bool exists = false;  // false: pods point at a node the informer does not know (yet)
  };
  struct PlacedPod {
    std::string node;
    PodInfoPtr info;
    bool assumed = false;
  };

  client::Client& client;
  asio::any_io_executor executor;
  const Clock& clock;
  SchedulerInformers informers;
  EventSink events;
  SchedulerOptions options;
  SchedulingQueue queue;
  asio::steady_timer wake;
  std::mt19937_64 rng;

  std::map<std::string, std::unique_ptr<NodeEntry>, std::less<>> nodes;
  std::vector<const NodeInfo*> node_list;  // existing nodes, rebuilt when nodes change
  bool node_list_dirty = true;
  std::unordered_map<std::string, PlacedPod> placed;  // bound and assumed pods by key
  size_t next_start = 0;
  SchedulerStats stats;
  int binds_in_flight = 0;
  int writes_in_flight = 0;  // binds and status patches still running (they use *this)
  bool stopped = false;

  // ---- cache ----

  NodeEntry& Node(const std::string& name) {
    auto it = nodes.find(name);
    if (it == nodes.end()) {
      auto e = std::make_unique<NodeEntry>();
      e->info.name = name;
      it = nodes.emplace(name, std::move(e)).first;
    }
    return *it->second;
  }

  const std::vector<const NodeInfo*>& NodeList() {
    if (node_list_dirty) {
      node_list.clear();
      for (const auto& [name, e] : nodes) {
        if (e->exists) node_list.push_back(&e->info);
      }
      node_list_dirty = false;
    }
    return node_list;
  }

  void Place(const std::string& key, const std::string& node, PodInfoPtr info, bool assumed) {
    Unplace(key);
    Node(node).info.AddPod(info);
    placed[key] = PlacedPod{node, std::move(info), assumed};
  }

  // Returns true if the pod was on a node.
  bool Unplace(const std::string& key) {
    auto it = placed.find(key);
    if (it == placed.end()) return false;
    auto n = nodes.find(it->second.node);
    if (n != nodes.end()) {
      n->second->info.RemovePod(*it->second.info);
      if (!n->second->exists && n->second->info.pods.empty()) {
        nodes.erase(n);
        node_list_dirty = true;
      }
    }
    placed.erase(it);
    return true;
  }

  bool Responsible(const json::object& pod) const {
    std::string_view name = api::GetString(pod, "spec.schedulerName");
    return name.empty() || name == options.scheduler_name;
  }

  static bool SchedulingRelevantChange(const ObjectPtr& old_obj, const ObjectPtr& obj) {
    if (!old_obj) return true;
    auto field = [](const json::object& o, std::string_view k) -> const json::value* {
      return o.if_contains(k);
    };
    const json::value* os = field(*old_obj, "spec");
    const json::value* ns = field(*obj, "spec");
    if ((os == nullptr) != (ns == nullptr) || (os && *os != *ns)) return true;
    const json::object* ol = api::Labels(*old_obj);
    const json::object* nl = api::Labels(*obj);
    if ((ol == nullptr) != (nl == nullptr) || (ol && *ol != *nl)) return true;
    return api::IsBeingDeleted(*old_obj) != api::IsBeingDeleted(*obj);
  }

  // ---- informer handlers ----

  void OnPod(const ObjectPtr& old_obj, const ObjectPtr& obj) {
    const json::object& pod = *obj;
    std::string key = client::ObjectKey(pod);
    std::string node(api::GetString(pod, "spec.nodeName"));
    std::string_view phase = api::GetString(pod, "status.phase");
    bool terminal = phase == "Succeeded" || phase == "Failed";
    if (!node.empty()) {
      queue.Delete(key);
      auto it = placed.find(key);
      if (terminal) {
        // A finished pod frees its resources (upstream drops it from the cache).
        if (Unplace(key)) Moved();
        return;
      }
      if (it != placed.end() && it->second.assumed && it->second.node == node) {
        it->second.assumed = false;  // the informer caught up with our bind
        return;
      }
      if (it != placed.end() && it->second.node == node &&
          !SchedulingRelevantChange(old_obj, obj)) {
        return;
      }
      Place(key, node, ParsePod(pod), false);
      // A pod placed by someone else (or relabelled) may satisfy pending pods' affinity or
      // spread (upstream's AssignedPodAdd/Update events).
      Moved();
      return;
    }
    if (placed.count(key) != 0) return;  // assumed: our bind is in flight
    if (api::IsBeingDeleted(pod) || terminal || !Responsible(pod)) {
      queue.Delete(key);
      return;
    }
    int32_t priority = static_cast<int32_t>(api::GetInt(pod, "spec.priority").value_or(0));
    if (queue.Contains(key)) {
      queue.Add(key, priority);
      if (SchedulingRelevantChange(old_obj, obj)) queue.Updated(key);
    } else {
      queue.Add(key, priority);
    }
    Wake();
  }

  void OnPodDelete(const client::DeletedObject& d) {
    queue.Delete(d.key);
    if (Unplace(d.key)) Moved();
  }

  void OnNode(const ObjectPtr& obj) {
    std::string name(api::Name(*obj));
    NodeEntry& e = Node(name);
    NodeInfo fresh;
    ParseNode(*obj, fresh);
    bool changed = !e.exists || fresh.labels != e.info.labels ||
                   fresh.unschedulable != e.info.unschedulable ||
                   fresh.taints.size() != e.info.taints.size() ||
                   fresh.allocatable.milli_cpu != e.info.allocatable.milli_cpu ||
                   fresh.allocatable.memory != e.info.allocatable.memory ||
                   fresh.allocatable.ephemeral_storage != e.info.allocatable.ephemeral_storage ||
                   fresh.allocatable.pods != e.info.allocatable.pods ||
                   fresh.allocatable.scalar != e.info.allocatable.scalar;
    if (!changed) {
      for (size_t i = 0; i < fresh.taints.size(); ++i) {
        const Taint& a = fresh.taints[i];
        const Taint& b = e.info.taints[i];
        if (a.key != b.key || a.value != b.value || a.effect != b.effect) changed = true;
      }
    }
    if (!changed) return;
    e.info.labels = std::move(fresh.labels);
    e.info.unschedulable = fresh.unschedulable;
    e.info.taints = std::move(fresh.taints);
    e.info.allocatable = std::move(fresh.allocatable);
    if (!e.exists) node_list_dirty = true;
    e.exists = true;
    Moved();
  }

  void OnNodeDelete(const client::DeletedObject& d) {
    auto it = nodes.find(d.key);
    if (it == nodes.end()) return;
    if (it->second->info.pods.empty()) {
      nodes.erase(it);
    } else {
      it->second->exists = false;
    }
    node_list_dirty = true;
  }

  // A cluster event that may make pending pods fit.
  void Moved() {
    queue.MoveAllToActiveOrBackoff();
    Wake();
  }

  void Wake() { wake.cancel(); }

  // ---- one scheduling cycle ----

  VolumeState CheckVolumes(const PodInfo& pod) {
    VolumeState vs;
    for (const std::string& claim : pod.claims) {
      ObjectPtr pvc = informers.pvcs.indexer().Get(pod.ns, claim);
      if (!pvc) {
        vs.prefilter = "persistentvolumeclaim \"" + claim + "\" not found";
        return vs;
      }
      if (api::IsBeingDeleted(*pvc)) {
        vs.prefilter = "persistentvolumeclaim \"" + claim + "\" is being deleted";
        return vs;
      }
      std::string_view volume = api::GetString(*pvc, "spec.volumeName");
      if (!volume.empty()) {
        ObjectPtr pv = informers.pvs.indexer().Get(volume);
        if (!pv) {
          vs.missing_pv = true;
          continue;
        }
        if (const json::array* terms =
                api::GetArray(*pv, "spec.nodeAffinity.required.nodeSelectorTerms")) {
          vs.pv_affinity.push_back(ParseNodeSelectorTerms(terms));
        }
        continue;
      }
      std::string_view class_name = api::GetString(*pvc, "spec.storageClassName");
      if (class_name.empty()) {
        class_name = api::Annotation(*pvc, "volume.beta.kubernetes.io/storage-class").value_or("");
      }
      ObjectPtr sc =
          class_name.empty() ? nullptr : informers.storage_classes.indexer().Get(class_name);
      if (sc && api::GetString(*sc, "volumeBindingMode") == "WaitForFirstConsumer") {
        vs.delayed_claims.push_back(claim);
      } else {
        vs.prefilter = "pod has unbound immediate PersistentVolumeClaims";
        vs.prefilter_unresolvable = true;
        return vs;
      }
    }
    return vs;
  }

  static bool FilterVolumes(const VolumeState& vs, const NodeInfo& node, FilterResult& out) {
    if (vs.missing_pv) {
      out.reasons.emplace_back(
          "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)");
      out.unresolvable = true;
      return false;
    }
    for (const auto& terms : vs.pv_affinity) {
      if (!MatchesNodeSelectorTerms(terms, node)) {
        out.reasons.emplace_back(kReasonVolumeNodeConflict);
        out.unresolvable = true;
        return false;
      }
    }
    return true;
  }

  bool ScheduleOne() {
    std::optional<std::string> key = queue.Pop();
    if (!key) return false;
    ++stats.attempts;
    int64_t cycle = queue.scheduling_cycle();
    ObjectPtr obj = informers.pods.indexer().Get(*key);
    if (!obj || !api::GetString(*obj, "spec.nodeName").empty() || api::IsBeingDeleted(*obj) ||
        !Responsible(*obj)) {
      queue.Delete(*key);
      return true;
    }
    PodInfoPtr pod = ParsePod(*obj);
    const std::vector<const NodeInfo*>& all = NodeList();

    VolumeState vs = CheckVolumes(*pod);
    std::vector<const NodeInfo*> feasible;
    std::vector<FilterResult> rejected;
    if (vs.prefilter.empty() && !all.empty()) {
      bool need_affinity = !pod->required_affinity.empty() || !pod->required_anti_affinity.empty();
      if (!need_affinity) {
        need_affinity = std::any_of(all.begin(), all.end(),
                                    [](const NodeInfo* n) { return n->with_required_anti > 0; });
      }
      std::optional<AffinityState> affinity;
      if (need_affinity) affinity = ComputeAffinityState(*pod, all);
      std::optional<SpreadState> spread;
      if (!pod->spread.empty()) spread = ComputeSpreadState(*pod, all);

      // Cheap filters first; the first failing plugin decides the node's reasons (upstream).
      size_t n = all.size();
      size_t start = next_start % n;
      for (size_t i = 0; i < n; ++i) {
        const NodeInfo& node = *all[(start + i) % n];
        FilterResult r;
        bool ok = FilterUnschedulable(*pod, node, r) && FilterNodeName(*pod, node, r) &&
                  FilterTaints(*pod, node, r) && FilterNodeAffinity(*pod, node, r) &&
                  FilterPorts(*pod, node, r) && FilterResources(*pod, node, r) &&
                  FilterVolumes(vs, node, r) && (!spread || FilterSpread(*pod, *spread, node, r)) &&
                  (!affinity || FilterInterPodAffinity(*pod, *affinity, node, r));
        if (ok) {
          feasible.push_back(&node);
        } else {
          rejected.push_back(std::move(r));
        }
      }
      next_start = start + 1;
    }

    if (feasible.empty()) {
      std::string msg = FitErrorMessage(all.size(), rejected, vs.prefilter,
                                        vs.prefilter_unresolvable, pod->preempt_never);
      Fail(obj, *key, cycle, std::move(msg));
      return true;
    }

    const NodeInfo* chosen = feasible.size() == 1 ? feasible[0] : Pick(*pod, feasible, all);
    std::string node = chosen->name;
    auto assumed = std::make_shared<PodInfo>(*pod);
    assumed->node_name = node;
    Place(*key, node, std::move(assumed), true);
    asio::co_spawn(executor, Bind(obj, *key, node, std::move(vs.delayed_claims)), asio::detached);
    return true;
  }

  const NodeInfo* Pick(const PodInfo& pod, const std::vector<const NodeInfo*>& feasible,
                       const std::vector<const NodeInfo*>& all) {
    size_t n = feasible.size();
    std::vector<int64_t> taints(n), affinity(n);
    for (size_t i = 0; i < n; ++i) {
      taints[i] = ScoreTaints(pod, *feasible[i]);
      affinity[i] = ScoreNodeAffinity(pod, *feasible[i]);
    }
    NormalizeScores(taints, /*reverse=*/true);
    NormalizeScores(affinity, /*reverse=*/false);
    std::vector<int64_t> spread = ScoreSpread(pod, feasible, all);
    std::vector<int64_t> ipa = ScoreInterPodAffinity(pod, feasible, all);

    int64_t best = -1;
    size_t chosen = 0;
    int ties = 0;
    for (size_t i = 0; i < n; ++i) {
      const NodeInfo& node = *feasible[i];
      int64_t total = kWeightTaintToleration * taints[i] + kWeightNodeAffinity * affinity[i] +
                      kWeightResourcesFit * ScoreLeastAllocated(pod, node) +
                      kWeightBalanced * ScoreBalanced(pod, node) +
                      kWeightInterPodAffinity * ipa[i] + kWeightSpread * spread[i];
      if (total > best) {
        best = total;
        chosen = i;
        ties = 1;
      } else if (total == best) {
        // Reservoir sampling: each of the k tied nodes wins with probability 1/k.
        ++ties;
        if (std::uniform_int_distribution<int>(0, ties - 1)(rng) == 0) chosen = i;
      }
    }
    return feasible[chosen];
  }

  void Fail(const ObjectPtr& obj, const std::string& key, int64_t cycle, std::string msg) {
    ++stats.unschedulable;
    queue.AddUnschedulable(key, cycle);
    if (events) events(*obj, "Warning", "FailedScheduling", msg);
    asio::co_spawn(executor, SetUnschedulable(obj, std::move(msg)), asio::detached);
  }

  // PodScheduled=False/Unschedulable with the message (skipped when already so).
  asio::awaitable<void> SetUnschedulable(ObjectPtr obj, std::string msg) {
    ++writes_in_flight;
    struct Done {
      int& n;
      ~Done() { --n; }
    } done{writes_in_flight};
    json::array conditions;
    bool same = false;
    if (const json::array* old = api::GetArray(*obj, "status.conditions")) {
      for (const json::value& c : *old) {
        if (!c.is_object()) continue;
        const json::object& co = c.as_object();
        if (api::GetString(co, "type") == "PodScheduled") {
          same = api::GetString(co, "status") == "False" &&
                 api::GetString(co, "reason") == "Unschedulable" &&
                 api::GetString(co, "message") == msg;
          continue;
        }
        conditions.push_back(c);
      }
    }
    if (same) co_return;
    conditions.push_back(json::object{{"type", "PodScheduled"},
                                      {"status", "False"},
                                      {"lastProbeTime", nullptr},
                                      {"lastTransitionTime", FormatRfc3339(clock.Now())},
                                      {"reason", "Unschedulable"},
                                      {"message", msg}});
    json::object patch{{"status", json::object{{"conditions", std::move(conditions)}}}};
    client::PatchOptions po;
    po.subresource = "status";
    std::string ns(api::Namespace(*obj));
    std::string name(api::Name(*obj));
    auto r = co_await client.Patch(PodsResource(), ns, name, client::PatchType::kMerge,
                                   json::serialize(patch), po);
    if (!r.has_value() && !r.error().Is(Code::kNotFound)) {
      MINI8S_LOG(WARNING) << "scheduler: pod " << ns << "/" << name
                          << ": cannot set PodScheduled: " << r.error().ToString();
    }
  }

  asio::awaitable<void> Bind(ObjectPtr obj, std::string key, std::string node,
                             std::vector<std::string> delayed_claims) {
    ++binds_in_flight;
    ++writes_in_flight;
    struct Done {
      int& n;
      ~Done() { --n; }
    } done{writes_in_flight};
    std::string ns(api::Namespace(*obj));
    std::string name(api::Name(*obj));
    Status failed;
    // PreBind: tell the provisioner where WaitForFirstConsumer claims must be created.
    for (const std::string& claim : delayed_claims) {
      json::object patch{
          {"metadata",
           json::object{{"annotations", json::object{{kSelectedNodeAnnotation, node}}}}}};
      client::PatchOptions po;
      auto r = co_await client.Patch(PvcResource(), ns, claim, client::PatchType::kMerge,
                                     json::serialize(patch), po);
      if (!r.has_value()) {
        failed = r.error();
        break;
      }
    }
    if (failed.ok()) {
      json::object binding{
          {"apiVersion", "v1"},
          {"kind", "Binding"},
          {"metadata", json::object{{"name", name}, {"namespace", ns}, {"uid", api::Uid(*obj)}}},
          {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
      client::WriteOptions wo;
      wo.subresource = "binding";
      auto r = co_await client.Create(PodsResource(), std::move(binding), wo);
      if (!r.has_value()) failed = r.error();
    }
    --binds_in_flight;
    Wake();
    if (stopped && !failed.ok()) co_return;
    if (failed.ok()) {
      ++stats.bound;
      queue.Done(key);
      if (events)
        events(*obj, "Normal", "Scheduled",
               "Successfully assigned " + ns + "/" + name + " to " + node);
      co_return;
    }
    ++stats.bind_errors;
    // Forget the assumption: the resources are free again for every pending pod.
    auto it = placed.find(key);
    if (it != placed.end() && it->second.assumed) Unplace(key);
    if (failed.Is(Code::kNotFound) ||
        (failed.Is(Code::kConflict) &&
         failed.message().find("already assigned") != std::string::npos)) {
      queue.Delete(key);  // gone, or bound by someone else: the informer will tell
    } else {
      if (events)
        events(*obj, "Warning", "FailedScheduling", "Binding rejected: " + failed.message());
      queue.AddBackoff(key);
    }
    Moved();
  }

  // ---- the loop ----

  bool Synced() const {
    return informers.pods.HasSynced() && informers.nodes.HasSynced() &&
           informers.pvcs.HasSynced() && informers.pvs.HasSynced() &&
           informers.storage_classes.HasSynced();
  }

  asio::awaitable<void> Sleep(std::chrono::steady_clock::duration d) {
    wake.expires_after(d);
    auto [ec] = co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }

  asio::awaitable<void> Run() {
    while (!stopped && !Synced()) co_await Sleep(std::chrono::milliseconds(50));
    auto last_flush = clock.Monotonic();
    while (!stopped) {
      auto now = clock.Monotonic();
      if (now - last_flush >= std::chrono::seconds(1)) {
        queue.Flush();
        last_flush = now;
      }
      if (binds_in_flight >= options.max_binds_in_flight) {
        co_await Sleep(std::chrono::seconds(1));  // a finishing bind wakes us
        continue;
      }
      if (ScheduleOne()) continue;
      // Idle: wake on a new pod, a cluster event or a finished bind, or when backoff expires.
      std::chrono::steady_clock::duration wait = std::chrono::seconds(1);
      if (auto next = queue.NextBackoffExpiry()) {
        wait = std::clamp<std::chrono::steady_clock::duration>(
            *next - now, std::chrono::milliseconds(1), std::chrono::seconds(1));
        if (*next <= now) queue.Flush();
      }
      if (queue.active() == 0) co_await Sleep(wait);
    }
  }
};

Scheduler::Scheduler(client::Client& client, asio::any_io_executor executor, const Clock& clock,
                     SchedulerInformers informers, EventSink events, SchedulerOptions options)
    : impl_(std::make_unique<Impl>(client, std::move(executor), clock, informers, std::move(events),
                                   std::move(options))) {
  Impl* d = impl_.get();
  informers.pods.AddEventHandlers({
      [d](const ObjectPtr& obj) { d->OnPod(nullptr, obj); },
      [d](const ObjectPtr& old_obj, const ObjectPtr& obj) { d->OnPod(old_obj, obj); },
      [d](const client::DeletedObject& del) { d->OnPodDelete(del); },
  });
  informers.nodes.AddEventHandlers({
      [d](const ObjectPtr& obj) { d->OnNode(obj); },
      [d](const ObjectPtr&, const ObjectPtr& obj) { d->OnNode(obj); },
      [d](const client::DeletedObject& del) { d->OnNodeDelete(del); },
  });
  // A claim, volume or class that appears or changes may unblock pods waiting on it.
  client::EventHandlers volume_events{
      [d](const ObjectPtr&) { d->Moved(); },
      [d](const ObjectPtr&, const ObjectPtr&) { d->Moved(); },
      [d](const client::DeletedObject&) {},
  };
  informers.pvcs.AddEventHandlers(volume_events);
  informers.pvs.AddEventHandlers(volume_events);
  informers.storage_classes.AddEventHandlers(volume_events);
}

Scheduler::~Scheduler() = default;

asio::awaitable<void> Scheduler::Run() { return impl_->Run(); }

void Scheduler::Stop() {
  impl_->stopped = true;
  impl_->Wake();
}

bool Scheduler::ScheduleOne() { return impl_->ScheduleOne(); }
void Scheduler::FlushQueues() { impl_->queue.Flush(); }
const SchedulerStats& Scheduler::stats() const { return impl_->stats; }
int Scheduler::binds_in_flight() const { return impl_->binds_in_flight; }
int Scheduler::writes_in_flight() const { return impl_->writes_in_flight; }
size_t Scheduler::active_pods() const { return impl_->queue.active(); }
size_t Scheduler::backoff_pods() const { return impl_->queue.backoff(); }
size_t Scheduler::unschedulable_pods() const { return impl_->queue.unschedulable(); }

std::string Scheduler::CachedNodeOf(std::string_view key) const {
  auto it = impl_->placed.find(std::string(key));
  return it == impl_->placed.end() ? std::string() : it->second.node;
}

bool Scheduler::IsAssumed(std::string_view key) const {
  auto it = impl_->placed.find(std::string(key));
  return it != impl_->placed.end() && it->second.assumed;
}

}  // namespace mini8s::scheduler
