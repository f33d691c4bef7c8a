#include <algorithm>
#include <set>
#include <string>

#include "mini8s/controllers/job.h"
#include "unit/ctrl_batch/batch_test_util.h"

namespace mini8s::controllers {
namespace {

using namespace std::chrono_literals;
using batch_test::Harness;
using batch_test::kJobs;
using batch_test::kPods;
namespace json = boost::json;

// A Job with a controller and the informers it reads.
struct JobEnv : Harness {
  JobEnv()
      : jobs(NewInformer(kJobs)),
        pods(NewInformer(kPods)),
        ctl(fake_, jobs, pods, queue_, clock_, Sink()) {
    StartInformers();
  }
  Result<Requeue> Sync(const std::string& name = "pi") { return Run(ctl.Reconcile("ns1/" + name)); }

  json::object MakeJob(const std::string& spec_fields, const std::string& name = "pi") {
    return Create(kJobs, R"({"metadata":{"namespace":"ns1","name":")" + name + R"("},
      "spec":{)" + spec_fields +
                             R"(,
        "template":{"metadata":{"labels":{"app":"pi"}},
                    "spec":{"restartPolicy":"Never",
                            "containers":[{"name":"pi","image":"perl"}]}}}})");
  }
  std::vector<json::object> LivePods() {
    std::vector<json::object> out;
    for (auto& p : List(kPods)) {
      std::string_view phase = api::GetString(p, "status.phase");
      if (phase != "Succeeded" && phase != "Failed" && !api::IsBeingDeleted(p)) out.push_back(p);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return api::Name(a) < api::Name(b); });
    return out;
  }
  void Finish(const json::object& pod, const std::string& phase, int exit_code = 0) {
    std::string name(api::Name(pod));
    MergeStatus(kPods, name,
                R"({"phase":")" + phase + R"(","containerStatuses":[{"name":"pi","restartCount":0,
                   "state":{"terminated":{"exitCode":)" +
                    std::to_string(exit_code) + R"(,"finishedAt":")" + FormatRfc3339(clock_.Now()) +
                    R"("}}}]})");
  }
  json::object JobStatus(const std::string& name = "pi") {
    json::object job = Get(kJobs, name);
    const json::object* st = api::GetObject(job, "status");
    return st ? *st : json::object{};
  }
  static int64_t Int(const json::object& st, std::string_view f) {
    return api::GetInt(st, f).value_or(0);
  }
  static std::string Cond(const json::object& st, std::string_view type) {
    if (const json::array* conds = api::GetArray(st, "conditions")) {
      for (const auto& c : *conds) {
        if (api::GetString(c.as_object(), "type") == type) {
          return std::string(api::GetString(c.as_object(), "status")) + " " +
                 std::string(api::GetString(c.as_object(), "reason")) + " " +
                 std::string(api::GetString(c.as_object(), "message"));
        }
      }
    }
    return "";
  }

  client::Informer& jobs;
  client::Informer& pods;
  JobController ctl;
};

TEST_CASE("JobController: completions 3 with parallelism 2 runs pods until three succeed",
          "[ctrl_batch][unit]") {
  JobEnv env;
  json::object job = env.MakeJob(R"("completions":3,"parallelism":2,"backoffLimit":6)");
  REQUIRE(env.Sync().has_value());
  auto pods = env.LivePods();
  REQUIRE(pods.size() == 2);
  const std::string uid(api::Uid(job));
  for (const auto& p : pods) {
    CHECK(api::GenerateName(p) == "pi-");
    CHECK(api::Label(p, "app") == "pi");
    CHECK(api::Label(p, "batch.kubernetes.io/controller-uid") == uid);
    CHECK(api::Label(p, "batch.kubernetes.io/job-name") == "pi");
    CHECK(api::Label(p, "controller-uid") == uid);
    CHECK(api::Label(p, "job-name") == "pi");
    CHECK(api::HasFinalizer(p, "batch.kubernetes.io/job-tracking"));
    auto owner = api::ControllerOf(p);
    REQUIRE(owner);
    CHECK(owner->kind == "Job");
    CHECK(owner->uid == uid);
    CHECK(owner->block_owner_deletion);
    CHECK(api::GetString(p, "spec.restartPolicy") == "Never");
  }
  auto st = env.JobStatus();
  CHECK(JobEnv::Int(st, "active") == 2);
  CHECK(api::GetString(st, "startTime") == FormatRfc3339(env.clock_.Now()));
  CHECK(env.CountEvents("Normal SuccessfulCreate Created pod: pi-") == 2);

  // Level-triggered: a second pass creates nothing more.
  REQUIRE(env.Sync().has_value());
  CHECK(env.LivePods().size() == 2);

  env.Finish(pods[0], "Succeeded");
  REQUIRE(env.Sync().has_value());
  st = env.JobStatus();
  CHECK(JobEnv::Int(st, "succeeded") == 1);
  CHECK(JobEnv::Int(st, "active") == 2);
  CHECK_FALSE(api::HasFinalizer(env.Get(kPods, std::string(api::Name(pods[0]))),
                                "batch.kubernetes.io/job-tracking"));
  CHECK(api::GetArray(st, "uncountedTerminatedPods.succeeded") == nullptr);
  auto live = env.LivePods();
  REQUIRE(live.size() == 2);

  env.Finish(live[0], "Succeeded");
  env.Finish(live[1], "Succeeded");
  REQUIRE(env.Sync().has_value());
  st = env.JobStatus();
  CHECK(JobEnv::Int(st, "succeeded") == 3);
  CHECK(JobEnv::Int(st, "active") == 0);
  CHECK(JobEnv::Int(st, "failed") == 0);
  CHECK(JobEnv::Cond(st, "SuccessCriteriaMet") ==
        "True CompletionsReached Reached expected number of succeeded pods");
  CHECK(JobEnv::Cond(st, "Complete") ==
        "True CompletionsReached Reached expected number of succeeded pods");
  CHECK(api::GetString(st, "completionTime") == FormatRfc3339(env.clock_.Now()));
  CHECK(env.HasEvent("Normal Completed Job completed"));
  CHECK(env.List(kPods).size() == 3);
  for (const auto& p : env.List(kPods)) {
    CHECK_FALSE(api::HasFinalizer(p, "batch.kubernetes.io/job-tracking"));
  }
  // Finished: nothing else happens.
  REQUIRE(env.Sync().has_value());
  CHECK(env.List(kPods).size() == 3);
}

TEST_CASE("JobController: a job without completions finishes when a pod succeeds and the rest end",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("parallelism":2)");
  REQUIRE(env.Sync().has_value());
  auto pods = env.LivePods();
  REQUIRE(pods.size() == 2);
  env.Finish(pods[0], "Succeeded");
  REQUIRE(env.Sync().has_value());
  // No replacement after a success; the other pod keeps running.
  CHECK(env.LivePods().size() == 1);
  CHECK(env.JobStatus().count("conditions") == 0);
  env.Finish(pods[1], "Succeeded");
  REQUIRE(env.Sync().has_value());
  auto st = env.JobStatus();
  CHECK(JobEnv::Int(st, "succeeded") == 2);
  CHECK(JobEnv::Cond(st, "Complete").rfind("True", 0) == 0);
}

TEST_CASE("JobController: index ranges format and parse", "[ctrl_batch][unit]") {
  CHECK(batch::FormatIndexRanges({}) == "");
  CHECK(batch::FormatIndexRanges({0, 1, 2, 5}) == "0-2,5");
  CHECK(batch::FormatIndexRanges({3}) == "3");
  CHECK(batch::FormatIndexRanges({1, 3, 4, 6, 7, 8}) == "1,3-4,6-8");
  CHECK(batch::ParseIndexRanges("0-2,5", 10) == std::set<int64_t>{0, 1, 2, 5});
  CHECK(batch::ParseIndexRanges("0-2,x,9,4-3", 6) == std::set<int64_t>{0, 1, 2});
  CHECK(batch::ParseIndexRanges("", 6).empty());
}

TEST_CASE("JobController: an indexed job labels pods with their index and tracks completedIndexes",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":4,"parallelism":2,"completionMode":"Indexed")");
  REQUIRE(env.Sync().has_value());
  auto pods = env.LivePods();
  REQUIRE(pods.size() == 2);
  std::map<std::string, json::object> by_index;
  for (const auto& p : pods) {
    auto idx = api::Annotation(p, "batch.kubernetes.io/job-completion-index");
    REQUIRE(idx);
    CHECK(api::Label(p, "batch.kubernetes.io/job-completion-index") == *idx);
    CHECK(api::GenerateName(p) == "pi-" + std::string(*idx) + "-");
    CHECK(api::GetString(p, "spec.hostname") == "pi-" + std::string(*idx));
    const json::array* containers = api::GetArray(p, "spec.containers");
    REQUIRE(containers);
    const json::array* env_vars = api::GetArray(containers->at(0).as_object(), "env");
    REQUIRE(env_vars);
    REQUIRE(env_vars->size() == 1);
    CHECK(api::GetString(env_vars->at(0).as_object(), "name") == "JOB_COMPLETION_INDEX");
    CHECK(api::GetString(env_vars->at(0).as_object(), "valueFrom.fieldRef.fieldPath") ==
          "metadata.annotations['batch.kubernetes.io/job-completion-index']");
    by_index[std::string(*idx)] = p;
  }
  REQUIRE(by_index.count("0"));
  REQUIRE(by_index.count("1"));

  env.Finish(by_index["1"], "Succeeded");
  REQUIRE(env.Sync().has_value());
  auto st = env.JobStatus();
  CHECK(api::GetString(st, "completedIndexes") == "1");
  CHECK(JobEnv::Int(st, "succeeded") == 1);
  std::set<std::string> live_indexes;
  for (const auto& p : env.LivePods()) {
    live_indexes.insert(
        std::string(*api::Annotation(p, "batch.kubernetes.io/job-completion-index")));
  }
  CHECK(live_indexes == std::set<std::string>{"0", "2"});

  for (const auto& p : env.LivePods()) env.Finish(p, "Succeeded");
  REQUIRE(env.Sync().has_value());
  st = env.JobStatus();
  CHECK(api::GetString(st, "completedIndexes") == "0-2");
  CHECK(JobEnv::Int(st, "succeeded") == 3);
  auto last = env.LivePods();
  REQUIRE(last.size() == 1);
  CHECK(api::Annotation(last[0], "batch.kubernetes.io/job-completion-index") == "3");

  env.Finish(last[0], "Succeeded");
  REQUIRE(env.Sync().has_value());
  st = env.JobStatus();
  CHECK(api::GetString(st, "completedIndexes") == "0-3");
  CHECK(JobEnv::Int(st, "succeeded") == 4);
  CHECK(JobEnv::Cond(st, "Complete").rfind("True", 0) == 0);
}

TEST_CASE("JobController: failed pods are replaced after exponential backoff until the limit",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":1,"parallelism":1,"backoffLimit":2)");
  REQUIRE(env.Sync().has_value());
  REQUIRE(env.LivePods().size() == 1);

  // First failure: 10 s before the replacement.
  env.Finish(env.LivePods()[0], "Failed", 1);
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->requeue);
  CHECK(r->after == 10s);
  CHECK(env.LivePods().empty());
  CHECK(JobEnv::Int(env.JobStatus(), "failed") == 1);
  env.clock_.Advance(9s);
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->after == 1s);
  CHECK(env.LivePods().empty());
  env.clock_.Advance(1s);
  REQUIRE(env.Sync().has_value());
  REQUIRE(env.LivePods().size() == 1);

  // Second failure: 20 s.
  env.Finish(env.LivePods()[0], "Failed", 1);
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->after == 20s);
  env.clock_.Advance(19s);
  REQUIRE(env.Sync().has_value());
  CHECK(env.LivePods().empty());
  env.clock_.Advance(1s);
  REQUIRE(env.Sync().has_value());
  REQUIRE(env.LivePods().size() == 1);

  // Third failure exceeds backoffLimit 2.
  env.Finish(env.LivePods()[0], "Failed", 1);
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK_FALSE(r->requeue);
  auto st = env.JobStatus();
  CHECK(JobEnv::Int(st, "failed") == 3);
  CHECK(JobEnv::Cond(st, "FailureTarget") ==
        "True BackoffLimitExceeded Job has reached the specified backoff limit");
  CHECK(JobEnv::Cond(st, "Failed") ==
        "True BackoffLimitExceeded Job has reached the specified backoff limit");
  CHECK(env.HasEvent("Warning BackoffLimitExceeded Job has reached the specified backoff limit"));
  CHECK(env.LivePods().empty());
  CHECK(st.count("completionTime") == 0);
}

TEST_CASE("JobController: the backoff is capped at six minutes", "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":1,"parallelism":1,"backoffLimit":100)");
  std::chrono::milliseconds last{0};
  for (int i = 0; i < 8; ++i) {
    REQUIRE(env.Sync().has_value());
    REQUIRE(env.LivePods().size() == 1);
    env.Finish(env.LivePods()[0], "Failed", 1);
    auto r = env.Sync();
    REQUIRE(r.has_value());
    last = r->after;
    env.clock_.Advance(last);
  }
  // 10, 20, 40, 80, 160, 320, then 360, 360.
  CHECK(last == 360s);
}

TEST_CASE("JobController: activeDeadlineSeconds fails the job with DeadlineExceeded",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":4,"parallelism":2,"activeDeadlineSeconds":30)");
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->requeue);
  CHECK(r->after == 30s);
  REQUIRE(env.LivePods().size() == 2);
  env.clock_.Advance(29s);
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(r->after == 1s);
  env.clock_.Advance(1s);
  REQUIRE(env.Sync().has_value());
  auto st = env.JobStatus();
  CHECK(JobEnv::Cond(st, "FailureTarget") ==
        "True DeadlineExceeded Job was active longer than specified deadline");
  CHECK(env.List(kPods).empty());  // deleted, finalizers released
  CHECK(env.CountEvents("Normal SuccessfulDelete Deleted pod: pi-") == 2);
  CHECK(JobEnv::Int(st, "failed") == 2);
  // The pods are gone: the terminal condition follows.
  REQUIRE(env.Sync().has_value());
  st = env.JobStatus();
  CHECK(JobEnv::Cond(st, "Failed") ==
        "True DeadlineExceeded Job was active longer than specified deadline");
  CHECK(env.HasEvent("Warning DeadlineExceeded Job was active longer than specified deadline"));
}

TEST_CASE("JobController: suspend deletes active pods and resume restarts them",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":2,"parallelism":2,"activeDeadlineSeconds":100)");
  REQUIRE(env.Sync().has_value());
  REQUIRE(env.LivePods().size() == 2);
  env.UpdateSpec(kJobs, "pi", "suspend", true);
  REQUIRE(env.Sync().has_value());
  CHECK(env.List(kPods).empty());
  auto st = env.JobStatus();
  CHECK(JobEnv::Cond(st, "Suspended") == "True JobSuspended Job suspended");
  CHECK(JobEnv::Int(st, "active") == 0);
  CHECK(JobEnv::Int(st, "failed") == 0);  // suspension is not a failure
  CHECK(env.HasEvent("Normal Suspended Job suspended"));

  // The deadline does not run while suspended.
  env.clock_.Advance(200s);
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK_FALSE(r->requeue);
  CHECK(JobEnv::Cond(env.JobStatus(), "FailureTarget").empty());

  env.UpdateSpec(kJobs, "pi", "suspend", false);
  r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(env.LivePods().size() == 2);
  st = env.JobStatus();
  CHECK(JobEnv::Cond(st, "Suspended") == "False JobResumed Job resumed");
  CHECK(api::GetString(st, "startTime") == FormatRfc3339(env.clock_.Now()));
  CHECK(r->after == 100s);
  CHECK(env.HasEvent("Normal Resumed Job resumed"));
}

TEST_CASE("JobController: a job created suspended starts no pods and has no startTime",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":1,"suspend":true)");
  REQUIRE(env.Sync().has_value());
  CHECK(env.List(kPods).empty());
  auto st = env.JobStatus();
  CHECK(st.count("startTime") == 0);
  CHECK(JobEnv::Cond(st, "Suspended").rfind("True", 0) == 0);
}

TEST_CASE("JobController: podFailurePolicy FailJob, Ignore and Count act on exit codes",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":1,"parallelism":1,"backoffLimit":3,
    "podFailurePolicy":{"rules":[
      {"action":"FailJob","onExitCodes":{"containerName":"pi","operator":"In","values":[42]}},
      {"action":"Ignore","onExitCodes":{"operator":"In","values":[137]}},
      {"action":"Count","onExitCodes":{"operator":"NotIn","values":[0]}}]})");
  REQUIRE(env.Sync().has_value());
  // Ignore: not counted, replaced at once.
  env.Finish(env.LivePods()[0], "Failed", 137);
  REQUIRE(env.Sync().has_value());
  CHECK(JobEnv::Int(env.JobStatus(), "failed") == 0);
  REQUIRE(env.LivePods().size() == 1);
  // Count: counted, backoff.
  env.Finish(env.LivePods()[0], "Failed", 3);
  auto r = env.Sync();
  REQUIRE(r.has_value());
  CHECK(JobEnv::Int(env.JobStatus(), "failed") == 1);
  CHECK(r->after == 10s);
  env.clock_.Advance(10s);
  REQUIRE(env.Sync().has_value());
  REQUIRE(env.LivePods().size() == 1);
  // FailJob: the job fails at once.
  json::object pod = env.LivePods()[0];
  env.Finish(pod, "Failed", 42);
  REQUIRE(env.Sync().has_value());
  auto st = env.JobStatus();
  CHECK(JobEnv::Cond(st, "Failed") ==
        "True PodFailurePolicy Container pi for pod ns1/" + std::string(api::Name(pod)) +
            " failed with exit code 42 matching FailJob rule at index 0");
}

TEST_CASE("JobController: a finished pod that vanishes after being recorded is still counted once",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":2,"parallelism":1)");
  REQUIRE(env.Sync().has_value());
  json::object pod = env.LivePods()[0];
  const std::string uid(api::Uid(pod));
  // Simulate a controller that crashed after recording the pod in uncountedTerminatedPods, and
  // the pod then disappearing (its finalizer removed by someone else and the pod deleted).
  env.Finish(pod, "Succeeded");
  env.MergeStatus(kJobs, "pi", R"({"uncountedTerminatedPods":{"succeeded":[")" + uid + R"("]}})");
  json::object p = env.Get(kPods, std::string(api::Name(pod)));
  api::RemoveFinalizer(p, "batch.kubernetes.io/job-tracking");
  REQUIRE(env.Run(env.fake_.Update(kPods, p)).has_value());
  REQUIRE(env.Run(env.fake_.Delete(kPods, "ns1", std::string(api::Name(pod)))).has_value());
  REQUIRE(env.Sync().has_value());
  auto st = env.JobStatus();
  CHECK(JobEnv::Int(st, "succeeded") == 1);
  CHECK(api::GetArray(st, "uncountedTerminatedPods.succeeded") == nullptr);
  REQUIRE(env.Sync().has_value());
  CHECK(JobEnv::Int(env.JobStatus(), "succeeded") == 1);
  CHECK(env.LivePods().size() == 1);
}

TEST_CASE("JobController: a pod deleted while running counts as failed and is replaced",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":1,"parallelism":1,"backoffLimit":5)");
  REQUIRE(env.Sync().has_value());
  std::string name(api::Name(env.LivePods()[0]));
  // The finalizer keeps the pod visible with a deletionTimestamp.
  REQUIRE(env.Run(env.fake_.Delete(kPods, "ns1", name)).has_value());
  REQUIRE(env.Sync().has_value());
  CHECK(JobEnv::Int(env.JobStatus(), "failed") == 1);
  CHECK_FALSE(env.Exists(kPods, name));
}

TEST_CASE("JobController: pods of a deleted job get their tracking finalizer released",
          "[ctrl_batch][unit]") {
  JobEnv env;
  env.MakeJob(R"("completions":2,"parallelism":2)");
  env.MakeJob(R"("completions":1,"parallelism":1)", "other");
  REQUIRE(env.Sync().has_value());
  REQUIRE(env.Sync("other").has_value());
  REQUIRE(env.List(kPods).size() == 3);
  REQUIRE(env.Run(env.fake_.Delete(kJobs, "ns1", "pi")).has_value());
  REQUIRE(env.Sync().has_value());
  int released = 0, kept = 0;
  for (const auto& p : env.List(kPods)) {
    bool has = api::HasFinalizer(p, "batch.kubernetes.io/job-tracking");
    if (api::ControllerOf(p)->name == "pi") {
      released += has ? 0 : 1;
    } else {
      kept += has ? 1 : 0;
    }
  }
  CHECK(released == 2);
  CHECK(kept == 1);  // another Job's pods are untouched
}

TEST_CASE("TtlAfterFinishedController: deletes a finished job once its TTL has passed",
          "[ctrl_batch][unit]") {
  Harness h;
  client::Informer& jobs = h.NewInformer(kJobs);
  TtlAfterFinishedController ttl(h.fake_, jobs, h.queue_, h.clock_);
  h.StartInformers();
  h.Create(kJobs, R"({"metadata":{"namespace":"ns1","name":"done"},
                      "spec":{"ttlSecondsAfterFinished":100}})");
  h.Create(kJobs, R"({"metadata":{"namespace":"ns1","name":"running"},
                      "spec":{"ttlSecondsAfterFinished":0}})");
  h.MergeStatus(kJobs, "done",
                R"({"conditions":[{"type":"Complete","status":"True","lastTransitionTime":")" +
                    FormatRfc3339(h.clock_.Now()) + R"("}]})");
  CHECK(h.queue_.Len() >= 1);  // the finished job was enqueued

  auto r = h.Run(ttl.Reconcile("ns1/running"));
  REQUIRE(r.has_value());
  CHECK_FALSE(r->requeue);
  CHECK(h.Exists(kJobs, "running"));

  r = h.Run(ttl.Reconcile("ns1/done"));
  REQUIRE(r.has_value());
  CHECK(r->requeue);
  CHECK(r->after == 100s);
  h.clock_.Advance(99s);
  r = h.Run(ttl.Reconcile("ns1/done"));
  REQUIRE(r.has_value());
  CHECK(r->after == 1s);
  CHECK(h.Exists(kJobs, "done"));
  h.clock_.Advance(1s);
  r = h.Run(ttl.Reconcile("ns1/done"));
  REQUIRE(r.has_value());
  CHECK_FALSE(r->requeue);
  CHECK_FALSE(h.Exists(kJobs, "done"));
  CHECK(h.Exists(kJobs, "running"));
}

}  // namespace
}  // namespace mini8s::controllers
