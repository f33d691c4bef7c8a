// Node health from Leases, the unreachable/not-ready taints, and taint-based eviction.
#include <algorithm>
#include <climits>
#include <optional>
#include <set>
#include <vector>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/node.h"

namespace mini8s::controllers {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;

constexpr std::string_view kUnreachable = "node.kubernetes.io/unreachable";
constexpr std::string_view kNotReady = "node.kubernetes.io/not-ready";
constexpr std::string_view kLeaseNamespace = "kube-node-lease";

const json::object* FindCondition(const json::object& obj, std::string_view type) {
  const json::array* conds = api::GetArray(obj, "status.conditions");
  if (conds == nullptr) return nullptr;
  for (const auto& c : *conds) {
    if (c.is_object() && api::GetString(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

std::string_view ReadyStatus(const json::object& node) {
  const json::object* c = FindCondition(node, "Ready");
  return c ? api::GetString(*c, "status") : std::string_view("Unknown");
}

milliseconds Until(std::chrono::system_clock::time_point t,
                   std::chrono::system_clock::time_point now) {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(t - now));
}

}  // namespace

std::optional<int64_t> TolerationSecondsFor(const json::object& taint,
                                            const json::array* tolerations) {
  if (tolerations == nullptr) return std::nullopt;
  std::string_view key = api::GetString(taint, "key");
  std::string_view value = api::GetString(taint, "value");
  std::string_view effect = api::GetString(taint, "effect");
  for (const auto& t : *tolerations) {
    if (!t.is_object()) continue;
    const json::object& tol = t.as_object();
    std::string_view t_effect = api::GetString(tol, "effect");
    if (!t_effect.empty() && t_effect != effect) continue;
    std::string_view op = api::GetString(tol, "operator");
    std::string_view t_key = api::GetString(tol, "key");
    bool match = false;
    if (op == "Exists") {
      match = t_key.empty() || t_key == key;
    } else if (op.empty() || op == "Equal") {
      match = t_key == key && api::GetString(tol, "value") == value;
    }
    if (!match) continue;
    auto secs = api::GetInt(tol, "tolerationSeconds");
    if (!secs) return INT64_MAX;
    return std::max<int64_t>(0, *secs);
  }
  return std::nullopt;
}

NodeLifecycleController::NodeLifecycleController(client::Client& client,
                                                 const client::Informer& nodes,
                                                 const client::Informer& leases,
                                                 const client::Informer& pods,
                                                 EventRecorder& events, const Clock& clock,
                                                 NodeLifecycleOptions options)
    : client_(client),
      nodes_(nodes),
      leases_(leases),
      pods_(pods),
      events_(events),
      clock_(clock),
      options_(options) {}

asio::awaitable<Result<Requeue>> NodeLifecycleController::Reconcile(std::string key) {
  client::ObjectPtr cached = nodes_.indexer().Get(key);
  if (!cached) {
    health_.erase(key);
    co_return Requeue{};
  }
  if (api::IsBeingDeleted(*cached)) co_return Requeue{};
  json::object node = *cached;
  const auto now = clock_.Now();

  // The health signal: the Lease's renewTime, or failing that the Ready heartbeat. What counts is
  // when we saw it change, on our clock (upstream's probeTimestamp), so skew between the node's
  // clock and ours does not matter.
  std::string signal;
  if (client::ObjectPtr lease = leases_.indexer().Get(kLeaseNamespace, key)) {
    signal = std::string(api::GetString(*lease, "spec.renewTime"));
  }
  if (const json::object* ready = FindCondition(node, "Ready")) {
    // Only the kubelet's own heartbeats count, not the conditions this controller wrote.
    std::string_view reason = api::GetString(*ready, "reason");
    if (reason != "NodeStatusUnknown" && reason != "NodeStatusNeverUpdated") {
      signal += "|" + std::string(api::GetString(*ready, "lastHeartbeatTime"));
    }
  }
  auto it = health_.find(key);
  if (it == health_.end()) {
    events_.Event(node, "Normal", "RegisteredNode",
                  "Node " + key + " event: Registered Node " + key + " in Controller");
  }
  if (it == health_.end() || it->second.renew_time != signal) {
    it = health_.insert_or_assign(key, Health{signal, now}).first;
  }
  const auto deadline = it->second.observed + options_.grace_period;
  milliseconds next{0};
  if (now >= deadline) {
    if (ReadyStatus(node) != "Unknown" || FindCondition(node, "Ready") == nullptr) {
      auto marked = co_await MarkUnknown(node);
      if (!marked.ok()) co_return marked.error();
      node = std::move(*marked);  // the cache has not seen the write yet
    }
  } else {
    next = Until(deadline, now) + milliseconds(1000);
  }

  auto tainted = co_await SyncTaints(node);
  if (!tainted.ok()) co_return tainted.error();
  node = std::move(*tainted);
  auto evict = co_await EvictPods(node);
  if (!evict.ok()) co_return evict.error();
  if (*evict > milliseconds(0) && (next == milliseconds(0) || *evict < next)) next = *evict;
  if (next > milliseconds(0)) co_return Requeue{true, next};
  co_return Requeue{};
}

asio::awaitable<Result<json::object>> NodeLifecycleController::MarkUnknown(json::object node) {
  const std::string now = FormatRfc3339(clock_.Now());
  const std::string name(api::Name(node));
  json::array conditions;
  std::set<std::string, std::less<>> seen;
  if (const json::array* old = api::GetArray(node, "status.conditions")) {
    for (const auto& c : *old) {
      if (!c.is_object()) continue;
      json::object cond = c.as_object();
      std::string type(api::GetString(cond, "type"));
      seen.insert(type);
      if (type == "Ready" || type == "MemoryPressure" || type == "DiskPressure" ||
          type == "PIDPressure") {
        if (api::GetString(cond, "status") != "Unknown") cond["lastTransitionTime"] = now;
        cond["status"] = "Unknown";
        cond["reason"] = "NodeStatusUnknown";
        cond["message"] = "Kubelet stopped posting node status.";
      }
      conditions.push_back(std::move(cond));
    }
  }
  for (const char* type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
    if (seen.count(type)) continue;
    conditions.push_back(json::object{{"type", type},
                                      {"status", "Unknown"},
                                      {"lastHeartbeatTime", api::CreationTimestamp(node)},
                                      {"lastTransitionTime", now},
                                      {"reason", "NodeStatusNeverUpdated"},
                                      {"message", "Kubelet never posted node status."}});
  }
  client::Resource nodes = resources::Nodes();
  client::PatchOptions po;
  po.subresource = "status";
  std::string no_ns;
  std::string patch =
      SerializeJson(json::object{{"status", json::object{{"conditions", std::move(conditions)}}}});
  auto r =
      co_await client_.Patch(nodes, no_ns, name, client::PatchType::kMerge, std::move(patch), po);
  if (!r.ok()) co_return r.error();
  json::object updated = std::move(*r);
  MINI8S_LOG(INFO) << "node " << name << " stopped posting status: marked Unknown";
  events_.Event(node, "Normal", "NodeNotReady", "Node " + name + " status is now: NodeNotReady");

  // Its pods are not ready any more (upstream MarkPodsNotReady), so Services stop routing there.
  client::Resource pods = resources::Pods();
  const std::vector<client::ObjectPtr> on_node = pods_.indexer().ByIndex(client::kNodeIndex, name);
  for (const client::ObjectPtr& pod : on_node) {
    const json::object* ready = FindCondition(*pod, "Ready");
    if (ready == nullptr || api::GetString(*ready, "status") != "True") continue;
    json::array pconds;
    for (const auto& c : *api::GetArray(*pod, "status.conditions")) {
      json::object cond = c.is_object() ? c.as_object() : json::object{};
      if (api::GetString(cond, "type") == "Ready") {
        cond["status"] = "False";
        cond["lastTransitionTime"] = now;
      }
      pconds.push_back(std::move(cond));
    }
    std::string pp =
        SerializeJson(json::object{{"status", json::object{{"conditions", std::move(pconds)}}}});
    std::string ns(api::Namespace(*pod)), pname(api::Name(*pod));
    auto pr = co_await client_.Patch(pods, ns, pname, client::PatchType::kMerge, std::move(pp), po);
    if (!pr.ok() && pr.error().code() != Code::kNotFound) co_return pr.error();
    events_.Event(*pod, "Warning", "NodeNotReady", "Node is not ready");
  }
  co_return updated;
}

asio::awaitable<Result<json::object>> NodeLifecycleController::SyncTaints(json::object node) {
  // A node that never posted a Ready condition is left alone until the grace period marks it.
  if (FindCondition(node, "Ready") == nullptr) co_return node;
  std::string_view ready = ReadyStatus(node);
  std::string_view want_key = ready == "Unknown" ? kUnreachable
                              : ready == "False" ? kNotReady
                                                 : std::string_view();
  const std::string now = FormatRfc3339(clock_.Now());
  json::array taints;
  bool changed = false;
  bool have_exec = false, have_sched = false;
  if (const json::array* old = api::GetArray(node, "spec.taints")) {
    for (const auto& t : *old) {
      if (!t.is_object()) continue;
      std::string_view key = api::GetString(t.as_object(), "key");
      std::string_view effect = api::GetString(t.as_object(), "effect");
      if (key == kUnreachable || key == kNotReady) {
        if (key != want_key) {
          changed = true;
          continue;
        }
        if (effect == "NoExecute") have_exec = true;
        if (effect == "NoSchedule") have_sched = true;
      }
      taints.push_back(t);
    }
  }
  if (!want_key.empty()) {
    if (!have_sched) {
      taints.push_back(json::object{{"key", want_key}, {"effect", "NoSchedule"}});
      changed = true;
    }
    if (!have_exec) {
      taints.push_back(
          json::object{{"key", want_key}, {"effect", "NoExecute"}, {"timeAdded", now}});
      changed = true;
    }
  }
  if (!changed) co_return node;
  client::Resource nodes = resources::Nodes();
  std::string no_ns;
  std::string name(api::Name(node));
  // A JSON merge patch replaces the whole list: exactly the taints computed above.
  json::object spec_patch{{"taints", taints.empty() ? json::value(nullptr) : json::value(taints)}};
  std::string patch = SerializeJson(json::object{{"spec", std::move(spec_patch)}});
  client::PatchOptions po;
  auto r =
      co_await client_.Patch(nodes, no_ns, name, client::PatchType::kMerge, std::move(patch), po);
  if (!r.ok()) co_return r.error();
  MINI8S_LOG(INFO) << "node " << name << ": taints " << SerializeJson(taints);
  co_return std::move(*r);
}

asio::awaitable<Result<milliseconds>> NodeLifecycleController::EvictPods(json::object node) {
  // The NoExecute taints and when each was added.
  std::vector<std::pair<const json::object*, std::chrono::system_clock::time_point>> taints;
  const auto now = clock_.Now();
  if (const json::array* all = api::GetArray(node, "spec.taints")) {
    for (const auto& t : *all) {
      if (!t.is_object() || api::GetString(t.as_object(), "effect") != "NoExecute") continue;
      auto added = ParseRfc3339(api::GetString(t.as_object(), "timeAdded"));
      taints.emplace_back(&t.as_object(), added.ok() ? *added : now);
    }
  }
  if (taints.empty()) co_return milliseconds(0);
  const std::string node_name(api::Name(node));
  client::Resource pods = resources::Pods();
  milliseconds next{0};
  const std::vector<client::ObjectPtr> on_node =
      pods_.indexer().ByIndex(client::kNodeIndex, node_name);
  for (const client::ObjectPtr& pod : on_node) {
    if (api::IsBeingDeleted(*pod)) continue;
    const json::array* tolerations = api::GetArray(*pod, "spec.tolerations");
    // Upstream's taint manager: evict at once if any taint is not tolerated; otherwise after the
    // smallest tolerationSeconds of the tolerations used, counted from when the taint was added.
    bool now_due = false;
    std::optional<std::chrono::system_clock::time_point> due;
    for (const auto& [taint, added] : taints) {
      auto secs = TolerationSecondsFor(*taint, tolerations);
      if (!secs) {
        now_due = true;
        break;
      }
      if (*secs == INT64_MAX) continue;
      auto at = added + std::chrono::seconds(*secs);
      if (!due || at < *due) due = at;
    }
    if (!now_due && (!due || now < *due)) {
      if (due) {
        milliseconds wait = Until(*due, now) + milliseconds(1);
        if (next == milliseconds(0) || wait < next) next = wait;
      }
      continue;
    }
    std::string ns(api::Namespace(*pod)), name(api::Name(*pod));
    events_.Event(*pod, "Normal", "TaintManagerEviction",
                  "Marking for deletion Pod " + ns + "/" + name);
    client::DeleteOptions opts;
    opts.precondition_uid = std::string(api::Uid(*pod));
    auto r = co_await client_.Delete(pods, ns, name, opts);
    if (!r.ok() && r.error().code() != Code::kNotFound && r.error().code() != Code::kConflict) {
      co_return r.error();
    }
    MINI8S_LOG(INFO) << "evicted pod " << ns << "/" << name << " from node " << node_name;
  }
  co_return next;
}

Status StartNodeLifecycleController(ControllerContext& ctx, NodeLifecycleOptions options) {
  client::Informer& nodes = ctx.informers.For(resources::Nodes());
  client::Informer& leases = ctx.informers.For(resources::Leases());
  client::Informer& pods = ctx.informers.For(resources::Pods());
  WorkQueue& queue = ctx.NewQueue();
  nodes.AddEventHandlers(EnqueueHandlers(queue));
  WorkQueue* q = &queue;
  client::EventHandlers lease_handlers;
  auto enqueue_lease = [q](const client::ObjectPtr& obj) {
    if (api::Namespace(*obj) == kLeaseNamespace) q->Add(std::string(api::Name(*obj)));
  };
  lease_handlers.on_add = enqueue_lease;
  lease_handlers.on_update = [enqueue_lease](const client::ObjectPtr&,
                                             const client::ObjectPtr& obj) { enqueue_lease(obj); };
  leases.AddEventHandlers(std::move(lease_handlers));
  client::EventHandlers pod_handlers;
  auto enqueue_pod_node = [q](const client::ObjectPtr& obj) {
    std::string_view n = api::GetString(*obj, "spec.nodeName");
    if (!n.empty()) q->Add(std::string(n));
  };
  pod_handlers.on_add = enqueue_pod_node;
  pod_handlers.on_update = [enqueue_pod_node](const client::ObjectPtr&,
                                              const client::ObjectPtr& obj) {
    enqueue_pod_node(obj);
  };
  pods.AddEventHandlers(std::move(pod_handlers));
  ctx.Run(std::make_unique<NodeLifecycleController>(
              ctx.client, nodes, leases, pods, ctx.events("node-controller"), ctx.clock, options),
          queue, {&nodes, &leases, &pods});
  return Status::OK();
}

}  // namespace mini8s::controllers
