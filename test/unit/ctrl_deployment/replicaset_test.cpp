#include "mini8s/controllers/replicaset.h"

#include <algorithm>
#include <chrono>

#include <catch2/catch.hpp>

#include "unit/ctrl_deployment/fixture.h"

namespace mini8s::controllers::testing {
namespace {

using namespace std::chrono_literals;

json::object ReplicaSet(int replicas, int min_ready = 0) {
  return Parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
    "metadata":{"namespace":"ns","name":"web","labels":{"app":"web"}},
    "spec":{"replicas":)" +
               std::to_string(replicas) + R"(,"minReadySeconds":)" + std::to_string(min_ready) +
               R"(,
      "selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web","tier":"fe"},"annotations":{"a":"b"}},
                  "spec":{"containers":[{"name":"c","image":"nginx"}]}}}})");
}

json::object OrphanPod(const std::string& name, const std::string& app) {
  return Parse(R"({"metadata":{"namespace":"ns","name":")" + name + R"(","labels":{"app":")" + app +
               R"("}},"spec":{"containers":[]}})");
}

void SetReplicas(Env& env, int n) {
  env.Patch(resources::ReplicaSets(), "web", R"({"spec":{"replicas":)" + std::to_string(n) + "}}");
}

int CountActions(Env& env, const std::string& prefix) {
  const auto& a = env.fake.actions();
  return static_cast<int>(std::count_if(
      a.begin(), a.end(), [&](const std::string& s) { return s.rfind(prefix, 0) == 0; }));
}

TEST_CASE("ReplicaSet: creates pods from the template with a controller reference",
          "[ctrl_deployment][unit]") {
  Env env(false);
  json::object rs = env.Create(resources::ReplicaSets(), ReplicaSet(3));
  env.Drain();
  REQUIRE(env.errors.empty());
  auto pods = env.Pods();
  REQUIRE(pods.size() == 3);
  for (const auto& p : pods) {
    CHECK(api::GenerateName(p) == "web-");
    CHECK(api::Name(p).rfind("web-", 0) == 0);
    CHECK(*api::Label(p, "tier") == "fe");
    CHECK(*api::Annotation(p, "a") == "b");
    auto refs = api::OwnerReferences(p);
    REQUIRE(refs.size() == 1);
    CHECK(refs[0].kind == "ReplicaSet");
    CHECK(refs[0].api_version == "apps/v1");
    CHECK(refs[0].name == "web");
    CHECK(refs[0].uid == api::Uid(rs));
    CHECK(refs[0].controller);
    CHECK(refs[0].block_owner_deletion);
    CHECK(api::GetArray(p, "spec.containers")->at(0).as_object().at("image") == "nginx");
  }
  auto got = env.Get(resources::ReplicaSets(), "ns", "web");
  CHECK(IntAt(got, "status.replicas") == 3);
  CHECK(IntAt(got, "status.fullyLabeledReplicas") == 3);
  CHECK(IntAt(got, "status.readyReplicas") == 0);
  CHECK(IntAt(got, "status.observedGeneration") == 1);
  const auto& ev = env.Events("replicaset-controller");
  CHECK(std::count_if(ev.begin(), ev.end(), [](const std::string& e) {
          return e.rfind("Normal SuccessfulCreate Created pod: web-", 0) == 0;
        }) == 3);

  SECTION("and readiness shows in status") {
    env.MarkReady();
    env.Drain();
    got = env.Get(resources::ReplicaSets(), "ns", "web");
    CHECK(IntAt(got, "status.readyReplicas") == 3);
    CHECK(IntAt(got, "status.availableReplicas") == 3);
  }
}

TEST_CASE("ReplicaSet: a failed create sets ReplicaFailure, records FailedCreate, and clears",
          "[ctrl_deployment][unit]") {
  Env env(false);
  env.Create(resources::ReplicaSets(), ReplicaSet(3));
  Poll(env.io);
  env.fake.FailNext("create", Status::Forbidden("pods \"web-\" is forbidden: exceeded quota: q"));
  // One sync only: the status write it makes would otherwise trigger the retry at once.
  REQUIRE(env.Step(env.rs_queue, env.rsc));
  REQUIRE(env.errors.size() == 1);
  // Slow start: the first batch (one pod) failed, so nothing else was attempted.
  CHECK(env.Pods().empty());
  auto got = env.Get(resources::ReplicaSets(), "ns", "web");
  CHECK(ConditionField(got, "ReplicaFailure", "status") == "True");
  CHECK(ConditionField(got, "ReplicaFailure", "reason") == "FailedCreate");
  CHECK(ConditionField(got, "ReplicaFailure", "message") ==
        "pods \"web-\" is forbidden: exceeded quota: q");
  const auto& ev = env.Events("replicaset-controller");
  CHECK(std::find(ev.begin(), ev.end(),
                  "Warning FailedCreate Error creating: pods \"web-\" is forbidden: exceeded "
                  "quota: q") != ev.end());
  // Skipped creations were never expected, so the retry is not blocked.
  CHECK(env.rsc.expectations().Satisfied("ns/web"));

  env.errors.clear();
  env.Drain();  // the status update re-queued the key
  CHECK(env.errors.empty());
  CHECK(env.Pods().size() == 3);
  got = env.Get(resources::ReplicaSets(), "ns", "web");
  CHECK(ConditionField(got, "ReplicaFailure", "status").empty());
}

TEST_CASE("ReplicaSet: slow start stops after a failing batch, then creates the rest",
          "[ctrl_deployment][unit]") {
  Env env(false);
  env.Create(resources::ReplicaSets(), ReplicaSet(10));
  Poll(env.io);
  env.fake.ClearActions();
  env.fake.FailNext("create", Status::Forbidden("quota"));
  REQUIRE(env.Step(env.rs_queue, env.rsc));
  REQUIRE(env.errors.size() == 1);
  CHECK(CountActions(env, "create pods") == 1);  // the first batch failed: nothing more tried
  CHECK(env.rsc.expectations().Pending("ns/web") == std::pair<int64_t, int64_t>{0, 0});

  env.errors.clear();
  env.fake.ClearActions();
  env.Drain();
  REQUIRE(env.errors.empty());
  CHECK(CountActions(env, "create pods") == 10);
  CHECK(env.Pods().size() == 10);
}

// Two reconciles back to back in one coroutine: FakeClient calls complete without yielding, so
// the pod informer cannot deliver the first round's creations before the second round.
boost::asio::awaitable<std::size_t> ReconcileTwice(ReplicaSetController& c, std::string key,
                                                   std::pair<int64_t, int64_t>* pending) {
  auto r1 = co_await c.Reconcile(key);
  std::size_t cached = c.pod_informer().indexer().size();
  *pending = c.expectations().Pending(key);
  auto r2 = co_await c.Reconcile(key);
  (void)r1;
  (void)r2;
  co_return cached;
}

TEST_CASE(
    "ReplicaSet: expectations stop a second sync from double-creating while the informer lags",
    "[ctrl_deployment][unit]") {
  Env env(false);
  env.Create(resources::ReplicaSets(), ReplicaSet(4));
  Poll(env.io);
  auto key = RunCo(env.io, env.rs_queue.Get());
  REQUIRE(*key == "ns/web");
  env.fake.ClearActions();
  std::pair<int64_t, int64_t> pending;
  std::size_t cached = RunCo(env.io, ReconcileTwice(env.rsc, *key, &pending));
  env.rs_queue.Done(*key);
  REQUIRE(cached == 0);  // the cache really lagged
  CHECK(pending == std::pair<int64_t, int64_t>{4, 0});
  CHECK(CountActions(env, "create pods") == 4);
  env.Drain();
  CHECK(env.rsc.expectations().Satisfied("ns/web"));
  CHECK(env.rsc.expectations().Pending("ns/web") == std::pair<int64_t, int64_t>{0, 0});
  CHECK(env.Pods().size() == 4);
  CHECK(CountActions(env, "create pods") == 4);
}

TEST_CASE("ReplicaSet: Expectations count creations and each deleted pod once, and expire",
          "[ctrl_deployment][unit]") {
  testutil::FakeClock clock;
  replicaset::Expectations e(clock);
  CHECK(e.Satisfied("ns/a"));
  e.ExpectCreations("ns/a", 2);
  CHECK(!e.Satisfied("ns/a"));
  e.CreationObserved("ns/a");
  CHECK(!e.Satisfied("ns/a"));
  e.CreationObserved("ns/a");
  CHECK(e.Satisfied("ns/a"));
  e.ExpectDeletions("ns/a", {"ns/p1", "ns/p2"});
  e.DeletionObserved("ns/a", "ns/p1");
  e.DeletionObserved("ns/a", "ns/p1");  // the same pod again: counted once
  CHECK(!e.Satisfied("ns/a"));
  e.DeletionObserved("ns/a", "ns/p2");
  CHECK(e.Satisfied("ns/a"));
  e.ExpectCreations("ns/a", 1);
  clock.Advance(replicaset::Expectations::kTimeout + 1s);
  CHECK(e.Satisfied("ns/a"));  // expired
  e.Delete("ns/a");
  CHECK(e.Pending("ns/a") == std::pair<int64_t, int64_t>{0, 0});
}

TEST_CASE("ReplicaSet: scale down deletes not-ready and unscheduled pods before ready ones",
          "[ctrl_deployment][unit]") {
  Env env(false);
  env.Create(resources::ReplicaSets(), ReplicaSet(5));
  env.Drain();
  auto pods = env.Pods();
  REQUIRE(pods.size() == 5);
  // Two pods become ready on a node; one is scheduled but not ready; two stay pending.
  std::vector<std::string> ready{std::string(api::Name(pods[0])), std::string(api::Name(pods[1]))};
  for (int i = 0; i < 3; ++i) {
    json::object p = pods[i];
    api::MutableObjectAt(p, "spec")["nodeName"] = "n1";
    auto r = RunCo(env.io, env.fake.Update(resources::Pods(), p));
    REQUIRE(r.has_value());
  }
  env.MarkReady([&](const json::object& p) {
    return std::find(ready.begin(), ready.end(), api::Name(p)) != ready.end();
  });
  env.Drain();
  SetReplicas(env, 2);
  env.Drain();
  REQUIRE(env.errors.empty());
  auto left = env.Pods();
  REQUIRE(left.size() == 2);
  for (const auto& p : left) {
    CHECK(std::find(ready.begin(), ready.end(), api::Name(p)) != ready.end());
  }
  const auto& ev = env.Events("replicaset-controller");
  CHECK(std::count_if(ev.begin(), ev.end(), [](const std::string& e) {
          return e.rfind("Normal SuccessfulDelete Deleted pod: web-", 0) == 0;
        }) == 3);
  auto got = env.Get(resources::ReplicaSets(), "ns", "web");
  CHECK(IntAt(got, "status.replicas") == 2);
  CHECK(IntAt(got, "status.readyReplicas") == 2);
}

TEST_CASE("ReplicaSet: PodsToDelete prefers doubled-up nodes, recent readiness, restarts, newer",
          "[ctrl_deployment][unit]") {
  auto pod = [](std::string name, std::string node, std::string ready_since, int restarts,
                std::string created) {
    json::object p = Parse(R"({"metadata":{"namespace":"ns","name":")" + name +
                           R"(","creationTimestamp":")" + created + R"("},
      "spec":{"nodeName":")" +
                           node + R"("},
      "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True",
        "lastTransitionTime":")" +
                           ready_since + R"("}],
        "containerStatuses":[{"name":"c","restartCount":)" +
                           std::to_string(restarts) + "}]}}");
    return std::make_shared<const json::object>(std::move(p));
  };
  std::vector<client::ObjectPtr> pods{
      pod("old", "n1", "2026-01-01T00:00:00Z", 0, "2026-01-01T00:00:00Z"),
      pod("recent", "n1", "2026-01-02T00:00:00Z", 0, "2026-01-01T00:00:00Z"),
      pod("crashy", "n1", "2026-01-01T00:00:00Z", 5, "2026-01-01T00:00:00Z"),
      pod("newer", "n1", "2026-01-01T00:00:00Z", 0, "2026-01-03T00:00:00Z"),
      pod("crowded", "n2", "2026-01-01T00:00:00Z", 0, "2026-01-01T00:00:00Z"),
  };
  std::vector<client::ObjectPtr> related{pod("r1", "n2", "2026-01-01T00:00:00Z", 0, "x"),
                                         pod("r2", "n2", "2026-01-01T00:00:00Z", 0, "x")};
  auto victims = replicaset::PodsToDelete(pods, related, 4);
  REQUIRE(victims.size() == 4);
  CHECK(api::Name(*victims[0]) == "crowded");
  CHECK(api::Name(*victims[1]) == "recent");
  CHECK(api::Name(*victims[2]) == "crashy");
  CHECK(api::Name(*victims[3]) == "newer");
}

TEST_CASE("ReplicaSet: adopts matching orphans and releases pods that stop matching",
          "[ctrl_deployment][unit]") {
  Env env(false);
  env.Create(resources::Pods(), OrphanPod("orphan", "web"));
  env.Create(resources::Pods(), OrphanPod("other", "db"));
  json::object rs = env.Create(resources::ReplicaSets(), ReplicaSet(2));
  env.Drain();
  REQUIRE(env.errors.empty());
  CHECK(OwnedBy(env.Get(resources::Pods(), "ns", "orphan"), rs));
  CHECK(!api::ControllerOf(env.Get(resources::Pods(), "ns", "other")));
  CHECK(env.Pods("app=web").size() == 2);  // the orphan counted: only one pod created

  // Relabel the adopted pod: it is released and replaced.
  env.Patch(resources::Pods(), "orphan", R"({"metadata":{"labels":{"app":"gone"}}})");
  env.Drain();
  REQUIRE(env.errors.empty());
  CHECK(!api::ControllerOf(env.Get(resources::Pods(), "ns", "orphan")));
  auto web = env.Pods("app=web");
  CHECK(web.size() == 2);
  for (const auto& p : web) CHECK(OwnedBy(p, rs));
}

TEST_CASE("ReplicaSet: minReadySeconds delays availability on the clock",
          "[ctrl_deployment][unit]") {
  Env env(false);
  env.Create(resources::ReplicaSets(), ReplicaSet(2, 10));
  env.Drain();
  env.MarkReady();
  env.Drain();
  auto got = env.Get(resources::ReplicaSets(), "ns", "web");
  CHECK(IntAt(got, "status.readyReplicas") == 2);
  CHECK(IntAt(got, "status.availableReplicas") == 0);
  env.Advance(10s);
  env.Drain();
  got = env.Get(resources::ReplicaSets(), "ns", "web");
  CHECK(IntAt(got, "status.availableReplicas") == 0);  // strictly after readySince + 10s
  env.Advance(2s);  // the requeue the controller parked is due now
  env.Drain();
  got = env.Get(resources::ReplicaSets(), "ns", "web");
  CHECK(IntAt(got, "status.availableReplicas") == 2);
}

TEST_CASE("ReplicaSet: replaces a pod that is deleted and ignores finished pods",
          "[ctrl_deployment][unit]") {
  Env env(false);
  env.Create(resources::ReplicaSets(), ReplicaSet(2));
  env.Drain();
  auto pods = env.Pods();
  REQUIRE(pods.size() == 2);
  REQUIRE(RunCo(env.io, env.fake.Delete(resources::Pods(), "ns", std::string(api::Name(pods[0]))))
              .has_value());
  json::object done = pods[1];
  done["status"] = json::object{{"phase", "Succeeded"}};
  REQUIRE(RunCo(env.io, env.fake.UpdateStatus(resources::Pods(), done)).has_value());
  env.Drain();
  int active = 0;
  for (const auto& p : env.Pods()) {
    if (api::GetString(p, "status.phase") != "Succeeded") ++active;
  }
  CHECK(active == 2);
  CHECK(IntAt(env.Get(resources::ReplicaSets(), "ns", "web"), "status.replicas") == 2);
}

}  // namespace
}  // namespace mini8s::controllers::testing
