// The ReplicaSet controller (kube-controller-manager's pkg/controller/replicaset): keeps
// spec.replicas active pods matching a ReplicaSet's selector, created from spec.template with a
// controller ownerReference and generateName "<rs>-". It adopts orphan pods that match and
// releases owned pods that stop matching; it deletes surplus pods in upstream's preference order
// (unscheduled, pending, not ready, lower deletion cost, doubled-up on a node, recently ready,
// more restarts, newer); and it writes status (replicas, fullyLabeledReplicas, readyReplicas,
// availableReplicas honouring minReadySeconds, observedGeneration, the ReplicaFailure
// condition). Creations go out in slow-start batches (1, 2, 4, ...), and ControllerExpectations
// keep it from acting twice while its pod informer lags behind its own writes.
//
// Concurrency: everything (handlers, Reconcile, expectations) runs on the ControllerContext's
// executor. The ControllerContext and the WorkQueue must outlive the controller.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace replicaset {

// Upstream's UIDTrackingControllerExpectations, keyed by controller key ("ns/name"): how many
// creations and deletions the controller still expects to observe through its informer, plus
// which pod keys it deleted (so a delete is counted once however many events announce it).
// Expectations older than kTimeout count as satisfied, so a lost event cannot wedge a key.
class Expectations {
 public:
  static constexpr std::chrono::minutes kTimeout{5};

  explicit Expectations(const Clock& clock) : clock_(clock) {}

  // True when nothing is pending for `key`, when there is no record, or when the record expired.
  bool Satisfied(const std::string& key) const;
  void ExpectCreations(const std::string& key, int64_t adds);
  void ExpectDeletions(const std::string& key, const std::vector<std::string>& pod_keys);
  void CreationObserved(const std::string& key);
  // Lowers the deletion count only the first time `pod_key` is observed.
  void DeletionObserved(const std::string& key, const std::string& pod_key);
  void Delete(const std::string& key);
  // Pending (adds, dels) for tests; (0, 0) when there is no record.
  std::pair<int64_t, int64_t> Pending(const std::string& key) const;

 private:
  struct Record {
    int64_t adds = 0;
    int64_t dels = 0;
    std::chrono::steady_clock::time_point timestamp;
    std::set<std::string> deleted_keys;
  };
  const Clock& clock_;
  std::map<std::string, Record, std::less<>> records_;
};

// Orders `pods` (active, owned by one ReplicaSet) so that the ones to delete first come first.
// `related` are active pods of the same owner's other ReplicaSets (a Deployment's): pods on a
// node crowded with related pods are preferred for deletion. Returns the first `count`.
std::vector<client::ObjectPtr> PodsToDelete(std::vector<client::ObjectPtr> pods,
                                            const std::vector<client::ObjectPtr>& related,
                                            std::size_t count);

}  // namespace replicaset

struct ReplicaSetOptions {
  // Upstream's BurstReplicas: the most creations or deletions one sync issues.
  int burst_replicas = 500;
};

class ReplicaSetController final : public Controller {
 public:
  // Registers handlers on the ReplicaSet and Pod informers of ctx.informers, feeding `queue`.
  ReplicaSetController(ControllerContext& ctx, WorkQueue& queue, ReplicaSetOptions options = {});

  std::string_view name() const override { return "replicaset"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  client::Informer& replicaset_informer() { return rs_informer_; }
  client::Informer& pod_informer() { return pod_informer_; }
  const replicaset::Expectations& expectations() const { return expectations_; }

 private:
  void OnPodAdd(const client::ObjectPtr& pod);
  void OnPodUpdate(const client::ObjectPtr& old_pod, const client::ObjectPtr& pod);
  void OnPodDelete(const boost::json::object& pod);
  // The ReplicaSet `ref` points at, if it is in the cache with the same uid.
  client::ObjectPtr ResolveControllerRef(std::string_view ns, const api::OwnerReference& ref) const;
  std::vector<client::ObjectPtr> ReplicaSetsSelecting(const boost::json::object& pod) const;

  boost::asio::awaitable<Status> ManageReplicas(std::vector<client::ObjectPtr> pods,
                                                client::ObjectPtr rs, std::string key);
  boost::asio::awaitable<Status> CreatePod(const boost::json::object& rs);
  boost::asio::awaitable<Status> DeletePod(const boost::json::object& rs,
                                           const boost::json::object& pod);

  ControllerContext& ctx_;
  WorkQueue& queue_;
  ReplicaSetOptions options_;
  client::Informer& rs_informer_;
  client::Informer& pod_informer_;
  EventRecorder& events_;
  replicaset::Expectations expectations_;
};

// Creates the ReplicaSet controller on ctx (a queue, handlers, and a runner started by
// ctx.Start()).
Status StartReplicaSetController(ControllerContext& ctx);

}  // namespace mini8s::controllers
