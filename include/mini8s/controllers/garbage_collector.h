// GarbageCollector: upstream's garbage collector (pkg/controller/garbagecollector) over every
// listable, watchable, deletable resource of the KindCatalog.
//
// A dependency graph keyed by uid is built from the ownerReferences the informers deliver
// (GraphBuilder): an owner not observed yet is a "virtual" node, verified by a live GET. Two work
// queues drive the deletions, both keyed by uid:
//  - attemptToDelete: an object whose owners are all gone (verified by a live GET of each owner,
//    with a cache of owners known to be absent) is deleted with background propagation, or with
//    the propagation its own orphan/foregroundDeletion finalizer asks for; one with some live
//    owners loses only its dangling references. An owner being deleted in the foreground (the
//    `foregroundDeletion` finalizer) has its dependents deleted (in the foreground when they have
//    dependents themselves) and loses the finalizer once no dependent with
//    blockOwnerDeletion=true remains.
//  - attemptToOrphan: an owner being deleted with the `orphan` finalizer has its ownerReference
//    removed from every dependent, then loses the finalizer.
// Namespaces: a namespaced dependent's owner is looked up in the dependent's namespace (or is
// cluster-scoped); a reference to an owner observed in another namespace gets an
// OwnerRefInvalidNamespace warning event, and cluster-scoped dependents of namespaced owner kinds
// are left alone.
//
// Concurrency: everything runs on the context's executor. Reconciles may interleave at co_await
// points (several workers), so no graph reference is held across one.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "mini8s/client/informer.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

class ControllerContext;
class KindCatalog;

// Resources the collector never watches (upstream's DefaultIgnoredResources: events).
bool GarbageCollectorIgnores(const client::Resource& resource);

class GarbageCollector : public std::enable_shared_from_this<GarbageCollector> {
 public:
  // `ctx` must outlive the collector. Creates the two queues on ctx; monitors are added by
  // SyncMonitors.
  static std::shared_ptr<GarbageCollector> Create(ControllerContext& ctx,
                                                  std::shared_ptr<KindCatalog> catalog);
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // Adds a monitor (the shared informer plus graph handlers) for every catalog resource not yet
  // monitored (upstream's syncMonitors); returns the informers added. Start them with
  // ctx.informers.Start().
  std::vector<const client::Informer*> SyncMonitors();
  std::size_t monitors() const;

  // Workers for ctx.Run: Reconcile(uid) runs AttemptToDelete / AttemptToOrphan. They keep the
  // collector alive.
  std::unique_ptr<Controller> NewDeleteWorker();
  std::unique_ptr<Controller> NewOrphanWorker();
  WorkQueue& attempt_to_delete() { return attempt_to_delete_; }
  WorkQueue& attempt_to_orphan() { return attempt_to_orphan_; }

  // One attemptToDelete / attemptToOrphan step for the node `uid` (upstream's
  // attemptToDeleteItem / attemptToOrphanWorker). Requeue{requeue=true} asks for a rate-limited
  // retry (a virtual node that exists but has not been observed yet).
  boost::asio::awaitable<Result<Requeue>> AttemptToDelete(std::string uid);
  boost::asio::awaitable<Result<Requeue>> AttemptToOrphan(std::string uid);

  // ---- Graph introspection (tests, debugging) ----
  std::size_t graph_size() const;
  bool InGraph(std::string_view uid) const;
  bool IsVirtual(std::string_view uid) const;
  std::vector<std::string> DependentsOf(std::string_view uid) const;

  struct Graph;

 private:
  GarbageCollector(ControllerContext& ctx, std::shared_ptr<KindCatalog> catalog);

  ControllerContext& ctx_;
  std::shared_ptr<KindCatalog> catalog_;
  WorkQueue& attempt_to_delete_;
  WorkQueue& attempt_to_orphan_;
  std::shared_ptr<Graph> graph_;  // shared with the informer handlers (weakly)
};

// Registers the collector on `ctx`: monitors for every deletable resource, the two workers (which,
// as upstream's, do not wait for the monitors' first sync: decisions rest on live GETs), and
// monitors for new kinds (CRDs) as the catalog changes and every 30 s. The second form reads
// kinds from `catalog`.
Status StartGarbageCollector(ControllerContext& ctx);
Status StartGarbageCollector(ControllerContext& ctx, std::shared_ptr<KindCatalog> catalog);

}  // namespace mini8s::controllers
