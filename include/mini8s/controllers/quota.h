// ResourceQuotaController (upstream's pkg/controller/resourcequota): keeps every ResourceQuota's
// status.hard equal to spec.hard and status.used equal to a full recount of what the namespace's
// objects use. Admission raises status.used as objects are created; this controller lowers it
// when they go (pods, services and PVCs trigger a recount of their namespace's quotas) and
// corrects any drift on a periodic resync. Keys are "ns/name" of quotas.
//
// Concurrency: runs on the context's executor; status writes are CAS on resourceVersion, so a
// concurrent admission charge makes the write conflict and the key is retried.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "mini8s/client/informer.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

class ControllerContext;

namespace resources {
client::Resource ResourceQuotas();
}  // namespace resources

class ResourceQuotaController final : public Controller {
 public:
  // `ctx` must outlive the controller; registers quota, pod, service and PVC handlers.
  explicit ResourceQuotaController(ControllerContext& ctx);
  std::string_view name() const override { return "resourcequota"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  // Enqueues every quota (the periodic full recount).
  void EnqueueAll();
  WorkQueue& queue() { return queue_; }
  const client::Informer& quotas() const { return quotas_; }

 private:
  void EnqueueNamespace(std::string_view ns);

  ControllerContext& ctx_;
  client::Informer& quotas_;
  client::Informer& pods_;
  client::Informer& services_;
  client::Informer& pvcs_;
  WorkQueue& queue_;
};

// Starts the controller with a full recount every `resync`.
Status StartResourceQuotaController(ControllerContext& ctx,
                                    std::chrono::seconds resync = std::chrono::seconds(15));

}  // namespace mini8s::controllers
