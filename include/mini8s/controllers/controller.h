// Controller and ControllerRunner: the reconcile-loop scaffolding every controller shares
// (sample-controller's shape). Informers feed keys into a WorkQueue; worker coroutines take a key,
// call Reconcile(key), and then Forget it (success), AddRateLimited it (error), or AddAfter it
// (requested requeue). Reconcile is level-triggered and idempotent: it reads the informer caches
// and converges; an object missing from the cache was deleted.
//
// Concurrency: the runner, its queue, the informers and the controller share one executor (a
// strand or a single-threaded io_context).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "mini8s/client/informer.h"
#include "mini8s/common/result.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

struct Requeue {
  // Process the key again after `after` (zero with requeue=true: rate-limited requeue).
  bool requeue = false;
  std::chrono::milliseconds after{0};
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::string_view name() const = 0;
  virtual boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) = 0;
};

// Handlers that enqueue the ns/name key of every added, updated and deleted object.
client::EventHandlers EnqueueHandlers(WorkQueue& queue);
// Handlers that enqueue the key of the object's controller owner of kind `owner_kind` (for
// example, pods enqueue their ReplicaSet).
client::EventHandlers EnqueueOwnerHandlers(WorkQueue& queue, std::string owner_kind);

struct RunnerStats {
  uint64_t reconciles = 0;
  uint64_t errors = 0;
};

class ControllerRunner {
 public:
  // Every argument must outlive the runner.
  ControllerRunner(Controller& controller, WorkQueue& queue,
                   std::vector<const client::Informer*> informers, int workers = 1);

  // Waits until every informer has synced (polling on a short timer), then runs the workers until
  // the queue shuts down. Co_spawn it on the shared executor.
  boost::asio::awaitable<void> Run();
  // One worker step: takes one key and reconciles it. False once the queue is shut down.
  boost::asio::awaitable<bool> ProcessNextItem();
  bool started() const { return started_; }
  const RunnerStats& stats() const { return stats_; }

 private:
  boost::asio::awaitable<void> Worker();

  Controller& controller_;
  WorkQueue& queue_;
  std::vector<const client::Informer*> informers_;
  int workers_;
  bool started_ = false;
  RunnerStats stats_;
};

}  // namespace mini8s::controllers
