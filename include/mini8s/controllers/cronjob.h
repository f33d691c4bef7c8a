// The CronJob controller (kube-controller-manager's pkg/controller/cronjob, the v2 controller).
//
// For each batch/v1 CronJob it: reconciles status.active with the Jobs it owns (a Job that
// finished is dropped with a SawCompletedJob event, and a successful one advances
// status.lastSuccessfulTime); finds the most recent schedule time that has passed since
// status.lastScheduleTime (or creation), evaluated in spec.timeZone (see cron_schedule.h);
// honours spec.startingDeadlineSeconds (older times are not started; MissSchedule), warns when
// more than 100 start times were missed (TooManyMissedTimes) and still starts the latest;
// applies spec.concurrencyPolicy (Allow, Forbid: JobAlreadyActive, Replace: delete the active
// Jobs first); creates the Job `<cronjob>-<scheduled time in minutes since the epoch>` from
// spec.jobTemplate with the batch.kubernetes.io/cronjob-scheduled-timestamp annotation (RFC 3339
// in the CronJob's zone) and a controller ownerReference; records status.lastScheduleTime; prunes
// finished Jobs beyond spec.successfulJobsHistoryLimit (default 3) and
// spec.failedJobsHistoryLimit (default 1), oldest start first; and requeues the key exactly at
// the next schedule time. spec.suspend stops new Jobs (existing ones keep running).
//
// Concurrency: the controller, its queue and informers share one executor.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/cron_schedule.h"
#include "mini8s/controllers/job.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

struct CronJobControllerOptions {
  std::string zoneinfo_dir = "/usr/share/zoneinfo";
  DstRepeat dst_repeat = DstRepeat::kTwice;
};

class CronJobController final : public Controller {
 public:
  // Registers handlers on `cronjobs` (enqueue the CronJob) and `jobs` (enqueue the owning
  // CronJob). Every argument must outlive the controller; the jobs informer gets the owner index.
  CronJobController(client::Client& client, client::Informer& cronjobs, client::Informer& jobs,
                    WorkQueue& queue, const Clock& clock, EventSink events,
                    CronJobControllerOptions options = {});

  std::string_view name() const override { return "cronjob-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

 private:
  Result<const TimeZone*> Zone(std::string_view name);

  client::Client& client_;
  client::Informer& cronjobs_;
  client::Informer& jobs_;
  const Clock& clock_;
  EventSink events_;
  CronJobControllerOptions options_;
  std::map<std::string, TimeZone, std::less<>> zones_;
};

Status StartCronJobController(ControllerContext& ctx);

}  // namespace mini8s::controllers
