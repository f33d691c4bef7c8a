// Node controllers of the control plane (kube-controller-manager's nodeipam and nodelifecycle):
//
// NodeIpamController (range allocator): gives every Node without spec.podCIDR the next free /24
// (by default) of the cluster CIDR, written to spec.podCIDR and spec.podCIDRs.
//
// NodeLifecycleController: watches Nodes and their Leases in kube-node-lease. A node whose Lease
// (or Ready heartbeat) has not been renewed for the grace period (40 s) gets its Ready,
// MemoryPressure, DiskPressure and PIDPressure conditions set to Unknown (reason
// NodeStatusUnknown, "Kubelet stopped posting node status."), its pods marked not Ready, and the
// taints node.kubernetes.io/unreachable:NoExecute and :NoSchedule (not-ready for a node that
// reports Ready=False). A Ready node loses those taints. The taint-eviction part deletes pods on a
// node with NoExecute taints: at once when a taint is not tolerated, after the smallest
// tolerationSeconds of the matching tolerations otherwise, never when they tolerate it forever
// (event TaintManagerEviction "Marking for deletion Pod ns/name").
//
// Concurrency: everything on ctx.executor. Reconcile keys are node names.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

class NodeIpamController final : public Controller {
 public:
  // kInvalid when `cluster_cidr` is not an IPv4 CIDR or `node_mask_size` does not fit in it.
  static Result<std::unique_ptr<NodeIpamController>> Create(client::Client& client,
                                                            const client::Informer& nodes,
                                                            EventRecorder& events,
                                                            std::string cluster_cidr,
                                                            int node_mask_size = 24);
  std::string_view name() const override { return "node-ipam-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

 private:
  NodeIpamController(client::Client& client, const client::Informer& nodes, EventRecorder& events)
      : client_(client), nodes_(nodes), events_(events) {}

  client::Client& client_;
  const client::Informer& nodes_;
  EventRecorder& events_;
  uint32_t base_ = 0;  // network address of the cluster CIDR (host order)
  int cluster_bits_ = 16;
  int node_bits_ = 24;
  // Allocations written but perhaps not yet seen by the informer (node -> CIDR).
  std::map<std::string, std::string> pending_;
};

Status StartNodeIpamController(ControllerContext& ctx);

struct NodeLifecycleOptions {
  // How long a node may go without renewing its Lease before it is marked Unknown
  // (--node-monitor-grace-period).
  std::chrono::seconds grace_period{40};
};

class NodeLifecycleController final : public Controller {
 public:
  // Every reference must outlive the controller.
  NodeLifecycleController(client::Client& client, const client::Informer& nodes,
                          const client::Informer& leases, const client::Informer& pods,
                          EventRecorder& events, const Clock& clock,
                          NodeLifecycleOptions options = {});
  std::string_view name() const override { return "node-lifecycle-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

 private:
  struct Health {
    std::string renew_time;  // the last Lease renewTime / Ready heartbeat observed
    std::chrono::system_clock::time_point observed;  // when we saw it change (our clock)
  };
  // Each returns the node as written (or unchanged).
  boost::asio::awaitable<Result<boost::json::object>> MarkUnknown(boost::json::object node);
  boost::asio::awaitable<Result<boost::json::object>> SyncTaints(boost::json::object node);
  // Deletes the node's pods whose time is up; returns how long until the next one is due
  // (zero when none is pending).
  boost::asio::awaitable<Result<std::chrono::milliseconds>> EvictPods(boost::json::object node);

  client::Client& client_;
  const client::Informer& nodes_;
  const client::Informer& leases_;
  const client::Informer& pods_;
  EventRecorder& events_;
  const Clock& clock_;
  NodeLifecycleOptions options_;
  std::map<std::string, Health> health_;
};

// Uses ctx.clock.
Status StartNodeLifecycleController(ControllerContext& ctx, NodeLifecycleOptions options = {});

// Whether `tolerations` (a pod's spec.tolerations) tolerate `taint`, and for how long:
// nullopt = not tolerated; a value = tolerated for that many seconds (INT64_MAX: forever).
std::optional<int64_t> TolerationSecondsFor(const boost::json::object& taint,
                                            const boost::json::array* tolerations);

}  // namespace mini8s::controllers
