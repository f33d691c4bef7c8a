// The DaemonSet controller (kube-controller-manager pkg/controller/daemon): one pod per eligible
// node. A node is eligible when the pod template's nodeSelector and required node affinity match
// it and every NoSchedule/NoExecute taint is tolerated (the template's tolerations plus the
// automatic DaemonSet tolerations). Pods are created with a required node affinity on
// metadata.name=<node> and left for the scheduler to bind. Templates are versioned as
// ControllerRevisions; pods carry `controller-revision-hash` and `pod-template-generation`.
// Updates: RollingUpdate (maxUnavailable, or maxSurge) and OnDelete. Status is what `kubectl
// rollout status ds` reads.
//
// Concurrency: the controller, its informers and its queue share one executor. Every reference
// given to the constructor must outlive the controller.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/history.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

class ControllerContext;

// Label on DaemonSet pods: the template generation they were created from.
inline constexpr std::string_view kPodTemplateGenerationLabel = "pod-template-generation";

struct DaemonSetPlacement {
  bool should_run = false;               // a new daemon pod belongs on the node
  bool should_continue_running = false;  // an existing daemon pod may stay
};
// NodeShouldRunDaemonPod: the template's nodeName, nodeSelector, required node affinity, and the
// node's taints against the pod's tolerations (NoSchedule and NoExecute block new pods; only
// untolerated NoExecute evicts running ones).
DaemonSetPlacement NodeShouldRunDaemonPod(const boost::json::object& node,
                                          const boost::json::object& ds);
// Adds (or replaces) the tolerations every DaemonSet pod gets: not-ready and unreachable
// (NoExecute); disk-pressure, memory-pressure, pid-pressure and unschedulable (NoSchedule);
// network-unavailable (NoSchedule) for hostNetwork pods.
void AddDaemonPodTolerations(boost::json::object& pod_spec);

class DaemonSetController final : public Controller {
 public:
  struct Informers {
    client::Informer& daemonsets;
    client::Informer& pods;
    client::Informer& nodes;
    client::Informer& revisions;
  };
  DaemonSetController(client::Client& client, Informers informers, WorkQueue& queue,
                      const Clock& clock, SetEventFunc events);
  ~DaemonSetController() override;

  // Registers the informer handlers that feed the queue (and the expectations).
  void RegisterHandlers();

  std::string_view name() const override { return "daemonset-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Creates the controller over ctx's shared informers and runs it (2 workers).
Status StartDaemonSetController(ControllerContext& ctx);

}  // namespace mini8s::controllers
