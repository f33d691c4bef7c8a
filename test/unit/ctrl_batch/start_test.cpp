#include <algorithm>
#include <string>
#include <vector>

#include "mini8s/controllers/cronjob.h"
#include "mini8s/controllers/job.h"
#include "mini8s/controllers/manager.h"
#include "unit/ctrl_batch/batch_test_util.h"

namespace mini8s::controllers {
namespace {

using namespace std::chrono_literals;
using batch_test::kCronJobs;
using batch_test::kJobs;
using batch_test::kPods;
namespace json = boost::json;

// The Start functions wire informers, queues and runners through the controller manager: a
// CronJob's Job is created on schedule, the Job's pod is created, and once it succeeds the Job
// completes and the TTL controller deletes it.
TEST_CASE(
    "StartCronJobController, StartJobController and StartTtlAfterFinishedController run "
    "together in a ControllerContext",
    "[ctrl_batch][unit]") {
  batch_test::Harness h;
  ControllerContext ctx(h.fake_, h.io_.get_executor(), h.clock_);
  REQUIRE(StartJobController(ctx).ok());
  REQUIRE(StartTtlAfterFinishedController(ctx).ok());
  REQUIRE(StartCronJobController(ctx).ok());
  ctx.Start();
  h.Create(kCronJobs, R"({"metadata":{"namespace":"ns1","name":"tick"},
    "spec":{"schedule":"*/5 * * * *",
            "jobTemplate":{"spec":{"ttlSecondsAfterFinished":30,"template":{"spec":{
              "restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}})");
  // Runs the loop (runners poll informer sync on short real timers) until `done` or 5 s.
  auto settle = [&](auto done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      h.io_.run_one_for(20ms);
    }
    testutil::Poll(h.io_);
    return done();
  };
  // The context's queues park requeues on real timers; touching an object enqueues its key now.
  auto touch = [&](const client::Resource& res, const std::string& name) {
    json::object obj = h.Get(res, name);
    api::SetAnnotation(obj, "touched", std::to_string(h.clock_.Now().time_since_epoch().count()));
    REQUIRE(h.Run(h.fake_.Update(res, obj)).has_value());
  };
  REQUIRE(settle([&] { return ctx.informers.AllSynced(); }));
  h.clock_.Advance(5min);
  touch(kCronJobs, "tick");
  CHECK(settle([&] { return h.Exists(kJobs, "tick-29400005"); }));
  CHECK(settle([&] { return h.List(kPods).size() == 1; }));
  auto pods = h.List(kPods);
  REQUIRE(pods.size() == 1);
  h.MergeStatus(kPods, std::string(api::Name(pods[0])), R"({"phase":"Succeeded"})");
  CHECK(settle([&] {
    json::object job = h.Get(kJobs, "tick-29400005");
    return batch::FinishedCondition(job) != nullptr;
  }));
  h.clock_.Advance(30s);
  touch(kJobs, "tick-29400005");
  CHECK(settle([&] { return !h.Exists(kJobs, "tick-29400005"); }));
  auto has = [](const std::vector<std::string>& events, const std::string& e) {
    return std::find(events.begin(), events.end(), e) != events.end();
  };
  CHECK(has(ctx.events("cronjob-controller").recorded(),
            "Normal SuccessfulCreate Created job tick-29400005"));
  CHECK(has(ctx.events("job-controller").recorded(), "Normal Completed Job completed"));
  ctx.Stop();
  testutil::Poll(h.io_);
}

}  // namespace
}  // namespace mini8s::controllers
