#include <algorithm>
#include <string>

#include "mini8s/controllers/cronjob.h"
#include "unit/ctrl_batch/batch_test_util.h"

namespace mini8s::controllers {
namespace {

using namespace std::chrono_literals;
using batch_test::Harness;
using batch_test::kCronJobs;
using batch_test::kJobs;
namespace json = boost::json;

// The fake clock starts at 2025-11-24T16:00:00Z (a Monday), minute 29400000 since the epoch.
struct CronEnv : Harness {
  CronEnv()
      : cronjobs(NewInformer(kCronJobs)),
        jobs(NewInformer(kJobs)),
        ctl(fake_, cronjobs, jobs, queue_, clock_, Sink()) {
    StartInformers();
  }
  Result<Requeue> Sync() { return Run(ctl.Reconcile("ns1/hello")); }
  json::object MakeCron(const std::string& spec_fields) {
    return Create(kCronJobs, R"({"metadata":{"namespace":"ns1","name":"hello"},
      "spec":{)" + spec_fields + R"(,
        "jobTemplate":{"metadata":{"labels":{"app":"hello"},"annotations":{"team":"a"}},
                       "spec":{"template":{"spec":{"restartPolicy":"OnFailure",
                         "containers":[{"name":"c","image":"busybox"}]}}}}}})");
  }
  std::vector<std::string> JobNames() {
    std::vector<std::string> out;
    for (const auto& j : List(kJobs)) out.emplace_back(api::Name(j));
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> ActiveNames() {
    std::vector<std::string> out;
    json::object cj = Get(kCronJobs, "hello");
    if (const json::array* arr = api::GetArray(cj, "status.active")) {
      for (const auto& a : *arr) out.emplace_back(api::GetString(a.as_object(), "name"));
    }
    return out;
  }
  std::string StatusField(std::string_view f) {
    return std::string(api::GetString(Get(kCronJobs, "hello"), "status." + std::string(f)));
  }
  void FinishJob(const std::string& name, const std::string& type) {
    std::string now = FormatRfc3339(clock_.Now());
    std::string extra = type == "Complete" ? R"(,"completionTime":")" + now + "\"" : "";
    MergeStatus(kJobs, name,
                R"({"conditions":[{"type":")" + type + R"(","status":"True",
                   "lastTransitionTime":")" +
                    now + R"("}])" + extra + "}");
  }

  client::Informer& cronjobs;
  client::Informer& jobs;
  CronJobController ctl;
};

TEST_CASE("CronJobController: creates a job per schedule time and requeues at the next one",
          "[ctrl_batch][unit]") {
  CronEnv env;
  json::object cj = env.MakeCron(R"("schedule":"*/5 * * * *")");
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(env.JobNames().empty());
  CHECK(r->requeue);
  CHECK(r->after == 300s);

  env.clock_.Advance(150s);
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->after == 150s);
  CHECK(env.JobNames().empty());

  env.clock_.Advance(150s);
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->after == 300s);
  REQUIRE(env.JobNames() == std::vector<std::string>{"hello-29400005"});
  json::object job = env.Get(kJobs, "hello-29400005");
  CHECK(api::Annotation(job, "batch.kubernetes.io/cronjob-scheduled-timestamp") ==
        "2025-11-24T16:05:00Z");
  CHECK(api::Annotation(job, "team") == "a");
  CHECK(api::Label(job, "app") == "hello");
  auto owner = api::ControllerOf(job);
  REQUIRE(owner);
  CHECK(owner->kind == "CronJob");
  CHECK(owner->uid == api::Uid(cj));
  CHECK(api::GetString(job, "spec.template.spec.restartPolicy") == "OnFailure");
  CHECK(env.ActiveNames() == std::vector<std::string>{"hello-29400005"});
  CHECK(env.StatusField("lastScheduleTime") == "2025-11-24T16:05:00Z");
  CHECK(env.HasEvent("Normal SuccessfulCreate Created job hello-29400005"));

  // The same time is never started twice.
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(env.JobNames().size() == 1);
  CHECK(env.CountEvents("Normal SuccessfulCreate") == 1);
}

TEST_CASE("CronJobController: under a ControllerRunner the key comes back exactly on schedule",
          "[ctrl_batch][unit]") {
  CronEnv env;
  env.MakeCron(R"("schedule":"*/5 * * * *")");
  ControllerRunner runner(env.ctl, env.queue_, {&env.cronjobs, &env.jobs});
  boost::asio::co_spawn(env.io_, runner.Run(), testutil::Rethrow);
  // The runner polls informer sync on a short real timer before its first reconcile.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (env.queue_.Waiting() == 0 && std::chrono::steady_clock::now() < deadline) {
    env.io_.run_one_for(20ms);
  }
  testutil::Poll(env.io_);
  REQUIRE(runner.stats().reconciles >= 1);
  CHECK(env.queue_.Waiting() == 1);  // parked until 16:05
  env.clock_.Advance(299s);
  env.queue_.FlushDue();
  testutil::Poll(env.io_);
  CHECK(env.JobNames().empty());
  env.clock_.Advance(1s);
  env.queue_.FlushDue();
  testutil::Poll(env.io_);
  CHECK(env.JobNames() == std::vector<std::string>{"hello-29400005"});
  CHECK(env.queue_.Waiting() == 1);  // and parked again until 16:10
}

TEST_CASE("CronJobController: Allow runs jobs concurrently and finished jobs leave active",
          "[ctrl_batch][unit]") {
  CronEnv env;
  env.MakeCron(R"("schedule":"*/5 * * * *","concurrencyPolicy":"Allow")");
  env.clock_.Advance(5min);
  REQUIRE(env.Sync().has_value());
  env.clock_.Advance(5min);
  REQUIRE(env.Sync().has_value());
  CHECK(env.ActiveNames() == std::vector<std::string>{"hello-29400005", "hello-29400010"});

  env.FinishJob("hello-29400005", "Complete");
  REQUIRE(env.Sync().has_value());
  CHECK(env.ActiveNames() == std::vector<std::string>{"hello-29400010"});
  CHECK(env.HasEvent("Normal SawCompletedJob Saw completed job: hello-29400005, status: Complete"));
  CHECK(env.StatusField("lastSuccessfulTime") == "2025-11-24T16:10:00Z");
  env.FinishJob("hello-29400010", "Failed");
  REQUIRE(env.Sync().has_value());
  CHECK(env.ActiveNames().empty());
  CHECK(env.HasEvent("Normal SawCompletedJob Saw completed job: hello-29400010, status: Failed"));
  CHECK(env.StatusField("lastSuccessfulTime") == "2025-11-24T16:10:00Z");
}

TEST_CASE("CronJobController: Forbid skips a run while the previous job is active",
          "[ctrl_batch][unit]") {
  CronEnv env;
  env.MakeCron(R"("schedule":"*/5 * * * *","concurrencyPolicy":"Forbid")");
  env.clock_.Advance(5min);
  REQUIRE(env.Sync().has_value());
  env.clock_.Advance(5min);
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->after == 300s);
  CHECK(env.JobNames() == std::vector<std::string>{"hello-29400005"});
  CHECK(
      env.HasEvent("Normal JobAlreadyActive Not starting job because prior execution is "
                   "running and concurrency policy is Forbid"));
  // Once it finishes, the pending 16:10 run starts (late, which no deadline forbids).
  env.clock_.Advance(1min);
  env.FinishJob("hello-29400005", "Complete");
  REQUIRE(env.Sync().has_value());
  CHECK(env.JobNames() == std::vector<std::string>{"hello-29400005", "hello-29400010"});
  CHECK(env.ActiveNames() == std::vector<std::string>{"hello-29400010"});
}

TEST_CASE("CronJobController: Replace deletes the active job before starting the next",
          "[ctrl_batch][unit]") {
  CronEnv env;
  env.MakeCron(R"("schedule":"*/5 * * * *","concurrencyPolicy":"Replace")");
  env.clock_.Advance(5min);
  REQUIRE(env.Sync().has_value());
  env.clock_.Advance(5min);
  REQUIRE(env.Sync().has_value());
  CHECK(env.JobNames() == std::vector<std::string>{"hello-29400010"});
  CHECK(env.ActiveNames() == std::vector<std::string>{"hello-29400010"});
  CHECK(env.HasEvent("Normal SuccessfulDelete Deleted job hello-29400005"));
  CHECK(env.HasEvent("Normal SuccessfulCreate Created job hello-29400010"));
}

TEST_CASE("CronJobController: history limits keep the newest finished jobs", "[ctrl_batch][unit]") {
  for (bool explicit_limits : {false, true}) {
    CronEnv env;
    json::object cj = env.MakeCron(
        explicit_limits
            ? R"("schedule":"0 0 1 1 *","successfulJobsHistoryLimit":1,"failedJobsHistoryLimit":0)"
            : R"("schedule":"0 0 1 1 *")");
    const std::string uid(api::Uid(cj));
    for (int i = 0; i < 8; ++i) {
      std::string name = "old-" + std::to_string(i);
      env.Create(kJobs, R"({"metadata":{"namespace":"ns1","name":")" + name + R"(",
        "ownerReferences":[{"apiVersion":"batch/v1","kind":"CronJob","name":"hello",
                            "uid":")" +
                            uid + R"(","controller":true}]},"spec":{}})");
      env.MergeStatus(kJobs, name,
                      R"({"startTime":")" +
                          FormatRfc3339(env.clock_.Now() + std::chrono::minutes(i)) + R"("})");
      env.FinishJob(name, i < 5 ? "Complete" : "Failed");
    }
    REQUIRE(env.Sync().has_value());
    if (explicit_limits) {
      CHECK(env.JobNames() == std::vector<std::string>{"old-4"});
      CHECK(env.CountEvents("Normal SuccessfulDelete Deleted job old-") == 7);
    } else {
      CHECK(env.JobNames() == std::vector<std::string>{"old-2", "old-3", "old-4", "old-7"});
      CHECK(env.CountEvents("Normal SuccessfulDelete Deleted job old-") == 4);
      CHECK(env.HasEvent("Normal SuccessfulDelete Deleted job old-0"));
      CHECK(env.HasEvent("Normal SuccessfulDelete Deleted job old-5"));
    }
  }
}

TEST_CASE("CronJobController: missed runs start only the latest one", "[ctrl_batch][unit]") {
  CronEnv env;
  env.MakeCron(R"("schedule":"*/5 * * * *")");
  env.clock_.Advance(62min);  // twelve runs missed
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(env.JobNames() == std::vector<std::string>{"hello-29400060"});
  CHECK(env.StatusField("lastScheduleTime") == "2025-11-24T17:00:00Z");
  CHECK(r->after == 3min);
  CHECK_FALSE(env.HasEvent("Warning TooManyMissedTimes"));
}

TEST_CASE("CronJobController: startingDeadlineSeconds drops runs that are too late",
          "[ctrl_batch][unit]") {
  SECTION("past the deadline") {
    CronEnv env;
    env.MakeCron(R"("schedule":"*/5 * * * *","startingDeadlineSeconds":60)");
    env.clock_.Advance(62min);
    auto r = env.Sync();
    REQUIRE(r.has_value());
    CHECK(env.JobNames().empty());
    CHECK(
        env.HasEvent("Warning MissSchedule Missed scheduled time to start a job: "
                     "Mon, 24 Nov 2025 17:00:00 +0000"));
    CHECK(r->after == 3min);
    // The next run is on time and starts.
    env.clock_.Advance(3min);
    REQUIRE(env.Sync().has_value());
    CHECK(env.JobNames() == std::vector<std::string>{"hello-29400065"});
  }
  SECTION("within the deadline") {
    CronEnv env;
    env.MakeCron(R"("schedule":"*/5 * * * *","startingDeadlineSeconds":200)");
    env.clock_.Advance(62min);
    REQUIRE(env.Sync().has_value());
    CHECK(env.JobNames() == std::vector<std::string>{"hello-29400060"});
    CHECK_FALSE(env.HasEvent("Warning MissSchedule"));
  }
}

TEST_CASE("CronJobController: more than 100 missed start times warns and runs the latest",
          "[ctrl_batch][unit]") {
  CronEnv env;
  env.MakeCron(R"("schedule":"* * * * *")");
  env.clock_.Advance(200min + 30s);
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(env.HasEvent("Warning TooManyMissedTimes too many missed start times"));
  CHECK(env.JobNames() == std::vector<std::string>{"hello-29400200"});
  CHECK(r->after == 30s);
}

TEST_CASE("CronJobController: spec.timeZone decides the schedule and the annotation",
          "[ctrl_batch][unit]") {
  CronEnv env;
  // 16:00Z is 11:00 in New York (EST): today's run has just passed.
  env.MakeCron(R"("schedule":"0 11 * * *","timeZone":"America/New_York")");
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->after == 24h);
  env.clock_.Advance(24h);
  REQUIRE(env.Sync().has_value());
  REQUIRE(env.JobNames() == std::vector<std::string>{"hello-29401440"});
  CHECK(api::Annotation(env.Get(kJobs, "hello-29401440"),
                        "batch.kubernetes.io/cronjob-scheduled-timestamp") ==
        "2025-11-25T11:00:00-05:00");
}

TEST_CASE("CronJobController: bad zones and schedules are reported, suspend stops runs",
          "[ctrl_batch][unit]") {
  SECTION("unknown time zone") {
    CronEnv env;
    env.MakeCron(R"("schedule":"*/5 * * * *","timeZone":"Mars/Olympus_Mons")");
    env.clock_.Advance(5min);
    auto r = env.Sync();
    REQUIRE(r.has_value());
    CHECK_FALSE(r->requeue);
    CHECK(env.JobNames().empty());
    CHECK(env.HasEvent("Warning UnknownTimeZone invalid timeZone: \"Mars/Olympus_Mons\""));
  }
  SECTION("TZ in the schedule") {
    CronEnv env;
    env.MakeCron(R"("schedule":"TZ=Europe/Berlin */5 * * * *")");
    env.clock_.Advance(5min);
    auto r = env.Sync();
    REQUIRE(r.has_value());
    CHECK(env.JobNames().empty());
    CHECK(env.HasEvent("Warning UnparseableSchedule unparseable schedule:"));
  }
  SECTION("suspended") {
    CronEnv env;
    env.MakeCron(R"("schedule":"*/5 * * * *","suspend":true)");
    env.clock_.Advance(5min);
    auto r = env.Sync();
    REQUIRE(r.has_value());
    CHECK_FALSE(r->requeue);
    CHECK(env.JobNames().empty());
  }
}

}  // namespace
}  // namespace mini8s::controllers
