// The StatefulSet controller (kube-controller-manager pkg/controller/statefulset): pods with
// stable identities `<set>-<ordinal>` (hostname, subdomain = serviceName, labels
// statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index), one PVC per
// volumeClaimTemplate and ordinal, `<claim>-<set>-<ordinal>`, created before the pod.
//
// OrderedReady creates ordinal i only once 0..i-1 are Running and Ready and removes pods from the
// highest ordinal, one at a time; Parallel does both in bursts. Templates are versioned as
// ControllerRevisions (pods carry `controller-revision-hash` = revision name); RollingUpdate
// replaces pods from the highest ordinal down to the partition, one at a time, waiting for each
// to be healthy; OnDelete leaves that to the user. persistentVolumeClaimRetentionPolicy is
// expressed, as upstream, through ownerReferences on the PVCs (the garbage collector deletes
// them). Status is what `kubectl rollout status sts` reads.
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

inline constexpr std::string_view kStatefulSetPodNameLabel = "statefulset.kubernetes.io/pod-name";
inline constexpr std::string_view kPodIndexLabel = "apps.kubernetes.io/pod-index";

class StatefulSetController final : public Controller {
 public:
  struct Informers {
    client::Informer& statefulsets;
    client::Informer& pods;
    client::Informer& pvcs;
    client::Informer& revisions;
  };
  StatefulSetController(client::Client& client, Informers informers, WorkQueue& queue,
                        const Clock& clock, SetEventFunc events);
  ~StatefulSetController() override;

  // Registers the informer handlers that feed the queue.
  void RegisterHandlers();

  std::string_view name() const override { return "statefulset-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Creates the controller over ctx's shared informers and runs it (2 workers).
Status StartStatefulSetController(ControllerContext& ctx);

}  // namespace mini8s::controllers
