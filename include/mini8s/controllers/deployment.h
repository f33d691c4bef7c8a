// The Deployment controller (kube-controller-manager's pkg/controller/deployment). A Deployment
// owns ReplicaSets named "<deployment>-<pod-template-hash>" whose selector, template and labels
// carry the pod-template-hash label; the ReplicaSet whose template equals the Deployment's
// (ignoring that label) is the "new" one, the others are "old". Rollouts:
//   RollingUpdate: scale the new RS up to at most replicas+maxSurge pods in total, and old ones
//     down while at least replicas-maxUnavailable pods stay available (minReadySeconds counts);
//   Recreate: scale every old RS to 0, wait until no old pod runs, then scale the new RS up.
// Revisions live in the deployment.kubernetes.io/revision annotation (on the Deployment and each
// RS; an RS that becomes new again, as after `kubectl rollout undo`, gets the next revision and
// remembers its earlier ones in revision-history). Each RS carries desired-replicas and
// max-replicas so that a resize during a rollout is spread proportionally across ReplicaSets.
// Paused Deployments only scale; old zero-sized ReplicaSets beyond revisionHistoryLimit are
// deleted; status carries replicas/updated/ready/available/unavailable, observedGeneration,
// collisionCount and the Available and Progressing conditions (with progressDeadlineSeconds
// measured on the injected clock), which `kubectl rollout status` reads.
//
// Concurrency: everything runs on the ControllerContext's executor. The ControllerContext and
// the WorkQueue must outlive the controller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace deployment {

inline constexpr std::string_view kPodTemplateHashLabel = "pod-template-hash";
inline constexpr std::string_view kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr std::string_view kRevisionHistoryAnnotation =
    "deployment.kubernetes.io/revision-history";
inline constexpr std::string_view kDesiredReplicasAnnotation =
    "deployment.kubernetes.io/desired-replicas";
inline constexpr std::string_view kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";

// A stable short hash of a pod template (and the collision count, when set): FNV-1a over a
// canonical serialization, printed in decimal and mapped into upstream's safe alphabet, so it
// looks like upstream's ("5d4f8b9c7"); the exact value differs from upstream's.
std::string ComputePodTemplateHash(const boost::json::value& pod_template,
                                   std::optional<int32_t> collision_count);

// Two pod templates are equal apart from the pod-template-hash label (EqualIgnoreHash).
bool EqualIgnoreHash(const boost::json::value& a, const boost::json::value& b);

// An IntOrString scaled against `total`: ints as they are, "N%" as N*total/100 rounded up or
// down. kInvalid for anything else. (intstr.GetScaledValueFromIntOrPercent)
Result<int32_t> ScaledValue(const boost::json::value* int_or_percent, int32_t total, bool round_up);

// (maxSurge, maxUnavailable) for `desired` replicas: surge rounds up, unavailable rounds down,
// and both zero makes unavailable 1 so a rollout can proceed (ResolveFenceposts).
Result<std::pair<int32_t, int32_t>> ResolveFenceposts(const boost::json::value* max_surge,
                                                      const boost::json::value* max_unavailable,
                                                      int32_t desired);

// MaxSurge / MaxUnavailable of a Deployment object (0 unless RollingUpdate; unavailable is
// capped at spec.replicas). Defaults: 25% / 25%.
int32_t MaxSurge(const boost::json::object& deployment);
int32_t MaxUnavailable(const boost::json::object& deployment);

}  // namespace deployment

class DeploymentController final : public Controller {
 public:
  // Registers handlers on the Deployment, ReplicaSet and Pod informers of ctx.informers.
  DeploymentController(ControllerContext& ctx, WorkQueue& queue);
  ~DeploymentController() override;

  std::string_view name() const override { return "deployment"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  client::Informer& deployment_informer() { return d_informer_; }
  client::Informer& replicaset_informer() { return rs_informer_; }
  client::Informer& pod_informer() { return pod_informer_; }

  struct Sync;  // one reconcile's working state (deployment_controller.cpp)

 private:
  void EnqueueDeployment(const boost::json::object& d);
  void OnReplicaSetAdd(const client::ObjectPtr& rs);
  void OnReplicaSetUpdate(const client::ObjectPtr& old_rs, const client::ObjectPtr& rs);
  void OnReplicaSetDelete(const boost::json::object& rs);
  void OnPodDelete(const boost::json::object& pod);
  client::ObjectPtr ResolveDeployment(std::string_view ns, const api::OwnerReference& ref) const;
  std::vector<client::ObjectPtr> DeploymentsSelecting(const boost::json::object& rs) const;

  ControllerContext& ctx_;
  WorkQueue& queue_;
  client::Informer& d_informer_;
  client::Informer& rs_informer_;
  client::Informer& pod_informer_;
  EventRecorder& events_;
};

// Creates the Deployment controller on ctx (a queue, handlers, and a runner started by
// ctx.Start()).
Status StartDeploymentController(ControllerContext& ctx);

}  // namespace mini8s::controllers
