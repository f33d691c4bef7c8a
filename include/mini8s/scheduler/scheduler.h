// The scheduler (kube-scheduler's default profile, in process): it watches pods that have no
// node and are meant for it (schedulerName "default-scheduler" or empty), runs upstream's
// default filter plugins (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
// NodeResourcesFit, VolumeBinding, PodTopologySpread, InterPodAffinity, plus node readiness) and
// score plugins with upstream's weights, and binds the pod through the pods/binding subresource.
//
// It keeps its own cache of what is placed on every node, including pods it has "assumed" (bound,
// or binding, but not yet seen bound through the informer), so back-to-back decisions never
// double-book a node; binds run asynchronously, several in flight. Pods that fit nowhere get the
// PodScheduled=False/Unschedulable condition and a FailedScheduling event with upstream's message,
// and are retried with backoff (1 s doubling to 10 s) or at once when the cluster changes.
//
// Concurrency: everything runs on the executor given to the constructor (the informers' too).
// The Scheduler must outlive Run and every bind it started (Stop, then let the executor drain).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"

namespace mini8s::controllers {
class ControllerContext;
}  // namespace mini8s::controllers

namespace mini8s::scheduler {

inline constexpr std::string_view kDefaultSchedulerName = "default-scheduler";

struct SchedulerOptions {
  std::string scheduler_name = std::string(kDefaultSchedulerName);
  // Binds (each a pods/binding POST, plus PVC annotations) allowed in flight at once.
  int max_binds_in_flight = 64;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{10'000};
  // An unschedulable pod is retried at the latest after this long without a cluster event.
  std::chrono::milliseconds unschedulable_timeout{5 * 60 * 1000};
  // Seed for random tie-breaking between equally scored nodes; 0 = from std::random_device.
  uint64_t seed = 0;
};

// Where the scheduler reads the cluster. All must outlive the Scheduler.
struct SchedulerInformers {
  client::Informer& pods;
  client::Informer& nodes;
  client::Informer& pvcs;
  client::Informer& pvs;
  client::Informer& storage_classes;
};

// Receives events about pods: (involved object, "Normal"|"Warning", reason, message).
using EventSink = std::function<void(const boost::json::object& object, std::string_view type,
                                     std::string_view reason, std::string message)>;

struct SchedulerStats {
  uint64_t attempts = 0;  // scheduling cycles run
  uint64_t bound = 0;     // successful binds
  uint64_t unschedulable = 0;
  uint64_t bind_errors = 0;
};

class Scheduler {
 public:
  // Registers handlers on the informers (call before they start).
  Scheduler(client::Client& client, boost::asio::any_io_executor executor, const Clock& clock,
            SchedulerInformers informers, EventSink events, SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Waits for the informers to sync, then schedules until Stop: pops pods from activeQ, flushes
  // backoff about every second, and caps binds in flight. Co_spawn it on the executor.
  boost::asio::awaitable<void> Run();
  void Stop();

  // One scheduling cycle for the next pod in activeQ (its bind is started, not awaited).
  // False when activeQ is empty. For tests and benchmarks that drive the loop themselves.
  bool ScheduleOne();
  // Moves pods whose backoff expired (per the clock) to activeQ.
  void FlushQueues();

  const SchedulerStats& stats() const;
  int binds_in_flight() const;
  // Binds plus PodScheduled status patches still running.
  int writes_in_flight() const;
  size_t active_pods() const;
  size_t backoff_pods() const;
  size_t unschedulable_pods() const;
  // The node the cache has `ns/name` on (bound or assumed), "" if none.
  std::string CachedNodeOf(std::string_view key) const;
  bool IsAssumed(std::string_view key) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Creates the scheduler over ctx's shared informers and runs it until ctx stops; events are
// recorded as component "default-scheduler".
Status StartScheduler(controllers::ControllerContext& ctx);

}  // namespace mini8s::scheduler
