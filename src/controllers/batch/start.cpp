// Factories that wire the batch controllers into the controller manager.
#include <memory>

#include "mini8s/controllers/cronjob.h"
#include "mini8s/controllers/job.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace {

EventSink SinkFor(ControllerContext& ctx, std::string_view component) {
  EventRecorder& recorder = ctx.events(component);
  return
      [&recorder](const boost::json::object& obj, std::string_view type, std::string_view reason,
                  std::string message) { recorder.Event(obj, type, reason, std::move(message)); };
}

}  // namespace

Status StartJobController(ControllerContext& ctx) {
  client::Informer& jobs = ctx.informers.For(resources::Jobs());
  client::Informer& pods = ctx.informers.For(resources::Pods());
  WorkQueue& queue = ctx.NewQueue();
  auto controller = std::make_unique<JobController>(ctx.client, jobs, pods, queue, ctx.clock,
                                                    SinkFor(ctx, "job-controller"));
  ctx.Run(std::move(controller), queue, {&jobs, &pods}, /*workers=*/2);
  return Status::OK();
}

Status StartTtlAfterFinishedController(ControllerContext& ctx) {
  client::Informer& jobs = ctx.informers.For(resources::Jobs());
  WorkQueue& queue = ctx.NewQueue();
  auto controller =
      std::make_unique<TtlAfterFinishedController>(ctx.client, jobs, queue, ctx.clock);
  ctx.Run(std::move(controller), queue, {&jobs});
  return Status::OK();
}

Status StartCronJobController(ControllerContext& ctx) {
  client::Informer& cronjobs = ctx.informers.For(resources::CronJobs());
  client::Informer& jobs = ctx.informers.For(resources::Jobs());
  WorkQueue& queue = ctx.NewQueue();
  auto controller = std::make_unique<CronJobController>(
      ctx.client, cronjobs, jobs, queue, ctx.clock, SinkFor(ctx, "cronjob-controller"));
  ctx.Run(std::move(controller), queue, {&cronjobs, &jobs});
  return Status::OK();
}

}  // namespace mini8s::controllers
