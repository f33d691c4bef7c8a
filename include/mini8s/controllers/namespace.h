// NamespaceController: upstream's namespace lifecycle controller (pkg/controller/namespace and
// its deletion package). A namespace being deleted (deletionTimestamp set) whose spec.finalizers
// still holds `kubernetes` is driven to the end:
//  1. status.phase becomes Terminating;
//  2. every object of every namespaced kind the KindCatalog knows (verbs list+delete) is
//     deleted in it with background propagation;
//  3. the status conditions NamespaceDeletionDiscoveryFailure,
//  NamespaceDeletionGroupVersionParsingFailure,
//     NamespaceDeletionContentFailure, NamespaceContentRemaining and NamespaceFinalizersRemaining
//     report how it went (upstream's reasons and messages);
//  4. while content remains (graceful pods, finalizers) the namespace is requeued after
//     estimate/2+1 seconds (the estimate is the longest pod grace period, or 15 s for pending
//     finalizers); errors retry with backoff;
//  5. once nothing is left, `kubernetes` is removed from spec.finalizers (FinalizeNamespace); the
//     server deletes the namespace when both finalizer lists are empty.
//
// Concurrency: the controller runs on the context's executor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

class ControllerContext;
class KindCatalog;

// The finalizer the namespace controller owns in spec.finalizers.
inline constexpr std::string_view kNamespaceFinalizer = "kubernetes";

// Writes `ns` (whose spec.finalizers the caller already edited) through the
// `namespaces/<name>/finalize` subresource, as upstream does. A server without that subresource
// (and FakeClient) answers 404 for a namespace that exists: then a plain update writes
// spec.finalizers, which such a server accepts. kUseFinalizeSubresource=false skips the
// subresource altogether.
inline constexpr bool kUseFinalizeSubresource = true;
boost::asio::awaitable<Result<boost::json::object>> FinalizeNamespace(client::Client& client,
                                                                      boost::json::object ns);

class NamespaceController final : public Controller {
 public:
  // `ctx` must outlive the controller. Registers the namespace informer's handlers and creates
  // the work queue (keys are namespace names).
  NamespaceController(ControllerContext& ctx, std::shared_ptr<KindCatalog> catalog);

  std::string_view name() const override { return "namespace"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  WorkQueue& queue() { return queue_; }
  const client::Informer& informer() const { return informer_; }

 private:
  struct Totals;
  boost::asio::awaitable<Result<boost::json::object>> UpdateStatus(boost::json::object ns);
  // Deletes and then lists one resource in `ns`; returns the remaining count and finalizers.
  boost::asio::awaitable<Status> DeleteResourceContent(client::Resource resource, std::string ns,
                                                       Totals* totals);

  ControllerContext& ctx_;
  std::shared_ptr<KindCatalog> catalog_;
  client::Informer& informer_;
  WorkQueue& queue_;
};

// Registers the controller on `ctx` (the catalog defaults to KindCatalog::ForContext(ctx)).
Status StartNamespaceController(ControllerContext& ctx);
Status StartNamespaceController(ControllerContext& ctx, std::shared_ptr<KindCatalog> catalog);

}  // namespace mini8s::controllers
