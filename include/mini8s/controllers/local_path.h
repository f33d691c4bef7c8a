// Local-path storage (rancher/local-path-provisioner as k3s bundles it) and the part of
// upstream's PersistentVolume controller (pkg/controller/volume/persistentvolume) mini8s needs:
//
//  - EnsureLocalPathStorageClass: the `local-path` StorageClass (provisioner rancher.io/local-path,
//    WaitForFirstConsumer, reclaimPolicy Delete, the default class).
//  - LocalPathProvisioner: a claim of a class provisioned by rancher.io/local-path that carries
//    volume.kubernetes.io/selected-node (set by the scheduler) gets a PV `pvc-<uid>` with hostPath
//    `<data_dir>/storage/pvc-<uid>_<ns>_<claim>` (DirectoryOrCreate), node affinity to that node,
//    and a claimRef to the claim.
//  - PersistentVolumeBinder: binds claims and volumes both ways (pv.spec.claimRef,
//    pvc.spec.volumeName, phases Bound, the bind-completed / bound-by-controller /
//    storage-provisioner annotations); binds Immediate-mode claims to matching Available PVs
//    (class, access modes, capacity, volume mode, selector; the smallest fit wins); gives claims
//    without a class the default class; and when a bound claim is deleted, deletes the volume
//    (reclaimPolicy Delete, provisioned by local-path) or marks it Released. Removing the
//    directory on the node is the agent's job.
//
// Work-queue keys of the binder are "claim:<ns>/<name>" and "volume:<name>".
// Concurrency: each controller lives on the executor of its informers and queue.
#pragma once

#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

inline constexpr std::string_view kLocalPathProvisioner = "rancher.io/local-path";
inline constexpr std::string_view kLocalPathClass = "local-path";
inline constexpr std::string_view kSelectedNodeAnnotation = "volume.kubernetes.io/selected-node";
inline constexpr std::string_view kDefaultClassAnnotation =
    "storageclass.kubernetes.io/is-default-class";
inline constexpr std::string_view kBindCompletedAnnotation = "pv.kubernetes.io/bind-completed";
inline constexpr std::string_view kBoundByControllerAnnotation =
    "pv.kubernetes.io/bound-by-controller";
inline constexpr std::string_view kBetaStorageProvisionerAnnotation =
    "volume.beta.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kStorageProvisionerAnnotation =
    "volume.kubernetes.io/storage-provisioner";
inline constexpr std::string_view kProvisionedByAnnotation = "pv.kubernetes.io/provisioned-by";

// The StorageClass object mini8s ships.
boost::json::object LocalPathStorageClass();
// Creates it unless a StorageClass of that name exists (an existing one is left as the user
// changed it, as k3s's addon manager does with its `skip` annotation).
boost::asio::awaitable<Status> EnsureLocalPathStorageClass(client::Client& client);

// The hostPath directory of a claim's volume: <data_dir>/storage/pvc-<uid>_<ns>_<name>.
std::string LocalPathFor(std::string_view data_dir, const boost::json::object& claim);

class LocalPathProvisioner final : public Controller {
 public:
  // Every reference must outlive the controller. `events` may be null.
  LocalPathProvisioner(client::Client& client, client::Informer& claims, client::Informer& volumes,
                       client::Informer& classes, WorkQueue& queue, ClusterConfig config,
                       EventRecorder* events = nullptr);
  std::string_view name() const override { return "local-path-provisioner"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  // The PV to create for `claim` on `node` with `storage_class`.
  boost::json::object VolumeFor(const boost::json::object& claim, std::string_view node,
                                const boost::json::object& storage_class) const;

 private:
  client::Client& client_;
  client::Informer& claims_;
  client::Informer& volumes_;
  client::Informer& classes_;
  ClusterConfig config_;
  EventRecorder* events_;
};

class PersistentVolumeBinder final : public Controller {
 public:
  PersistentVolumeBinder(client::Client& client, client::Informer& claims,
                         client::Informer& volumes, client::Informer& classes, WorkQueue& queue,
                         EventRecorder* events = nullptr);
  std::string_view name() const override { return "persistentvolume-binder-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

 private:
  boost::asio::awaitable<Result<Requeue>> SyncClaim(std::string key);
  boost::asio::awaitable<Result<Requeue>> SyncVolume(std::string name);
  boost::asio::awaitable<Status> Bind(boost::json::object claim, boost::json::object volume);
  boost::asio::awaitable<Status> SetVolumePhase(boost::json::object volume, std::string phase);

  client::Client& client_;
  client::Informer& claims_;
  client::Informer& volumes_;
  client::Informer& classes_;
  EventRecorder* events_;
};

// Ensures the StorageClass (retrying until it exists) and starts the provisioner and the binder.
Status StartLocalPathProvisioner(ControllerContext& ctx);

}  // namespace mini8s::controllers
