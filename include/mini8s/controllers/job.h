// The Job controller and the TTL-after-finished controller (kube-controller-manager's
// pkg/controller/job and pkg/controller/ttlafterfinished).
//
// JobController runs a batch/v1 Job's pods to completion: it creates pods from spec.template (with
// the controller ownerReference, the batch.kubernetes.io/controller-uid and job-name labels plus
// their legacy unprefixed forms, and the batch.kubernetes.io/job-tracking finalizer), keeps
// min(parallelism, remaining completions) of them running, and counts finished pods exactly once
// through status.uncountedTerminatedPods: a finished pod is first recorded there, then its
// finalizer is removed, then it moves into status.succeeded / status.failed. Indexed jobs give
// each pod a completion index (annotation, label, JOB_COMPLETION_INDEX, hostname <job>-<index>)
// and track status.completedIndexes as ranges ("0-2,5"). Failed pods are replaced after an
// exponential backoff (10 s doubling, capped at 6 min, on the injected clock); more than
// spec.backoffLimit failures, spec.activeDeadlineSeconds or a podFailurePolicy FailJob rule fail
// the Job. As upstream since 1.31, the Job first gets the interim FailureTarget /
// SuccessCriteriaMet condition, its remaining pods are terminated, and only then Failed /
// Complete is added. spec.suspend deletes the active pods and sets the Suspended condition.
//
// TtlAfterFinishedController deletes finished Jobs spec.ttlSecondsAfterFinished seconds after
// their Complete/Failed condition's lastTransitionTime (background propagation, UID precondition).
//
// Concurrency: the controllers, their queue and informers share one executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

class ControllerContext;

// Where controllers send core/v1 Events (ControllerContext's EventRecorder in the server; a
// recording lambda in tests).
using EventSink = std::function<void(const boost::json::object& object, std::string_view type,
                                     std::string_view reason, std::string message)>;

namespace batch {
inline constexpr std::string_view kJobTrackingFinalizer = "batch.kubernetes.io/job-tracking";
inline constexpr std::string_view kControllerUidLabel = "batch.kubernetes.io/controller-uid";
inline constexpr std::string_view kJobNameLabel = "batch.kubernetes.io/job-name";
inline constexpr std::string_view kLegacyControllerUidLabel = "controller-uid";
inline constexpr std::string_view kLegacyJobNameLabel = "job-name";
inline constexpr std::string_view kJobCompletionIndex = "batch.kubernetes.io/job-completion-index";
inline constexpr std::string_view kCronJobScheduledTimestamp =
    "batch.kubernetes.io/cronjob-scheduled-timestamp";

// "0-2,5" <-> sorted indexes. Parse ignores malformed parts and indexes >= `completions`.
std::set<int64_t> ParseIndexRanges(std::string_view text, int64_t completions);
std::string FormatIndexRanges(const std::set<int64_t>& indexes);

// The Job's Complete or Failed condition with status True, or nullptr.
const boost::json::object* FinishedCondition(const boost::json::object& job);
}  // namespace batch

struct JobControllerOptions {
  std::chrono::seconds initial_backoff{10};
  std::chrono::seconds max_backoff{360};
  // Pending creations/deletions not observed by the informer within this long are given up.
  std::chrono::seconds expectations_timeout{300};
};

class JobController final : public Controller {
 public:
  // Registers event handlers on `jobs` and `pods` that enqueue Job keys into `queue`. Every
  // argument must outlive the controller; the pods informer gets the owner and namespace indexes.
  JobController(client::Client& client, client::Informer& jobs, client::Informer& pods,
                WorkQueue& queue, const Clock& clock, EventSink events,
                JobControllerOptions options = {});
  ~JobController() override;

  std::string_view name() const override { return "job-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  struct Expectations;
  struct Backoff {
    int failures_after_last_success = 0;
    std::chrono::system_clock::time_point last_failure{};
  };

 private:
  boost::asio::awaitable<Result<Requeue>> Sync(std::string key, client::ObjectPtr job_ptr);
  enum class PodEvent : uint8_t { kAdd, kUpdate, kDelete };
  boost::asio::awaitable<Status> ReleaseOrphans(std::string key);
  void ObservePod(const boost::json::object& pod, PodEvent event);
  Expectations& ExpectationsFor(const std::string& key);

  client::Client& client_;
  client::Informer& jobs_;
  client::Informer& pods_;
  WorkQueue& queue_;
  const Clock& clock_;
  EventSink events_;
  JobControllerOptions options_;
  std::map<std::string, std::unique_ptr<Expectations>, std::less<>> expectations_;
  std::map<std::string, Backoff, std::less<>> backoff_;
};

class TtlAfterFinishedController final : public Controller {
 public:
  TtlAfterFinishedController(client::Client& client, client::Informer& jobs, WorkQueue& queue,
                             const Clock& clock);
  std::string_view name() const override { return "ttl-after-finished-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

 private:
  client::Client& client_;
  client::Informer& jobs_;
  const Clock& clock_;
};

Status StartJobController(ControllerContext& ctx);
Status StartTtlAfterFinishedController(ControllerContext& ctx);

}  // namespace mini8s::controllers
