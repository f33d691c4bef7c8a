#include "mini8s/controllers/statefulset.h"

#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "unit/ctrl_sets/sets_test_util.h"

namespace mini8s::controllers {
namespace {

using namespace testing;  // NOLINT
namespace json = boost::json;

struct StsEnv : FakeCluster {
  client::Informer statefulsets{fake, sets::StatefulSetsResource()};
  client::Informer pods{fake, sets::PodsResource()};
  client::Informer pvcs{fake, sets::PvcsResource()};
  client::Informer revisions{fake, history::ControllerRevisionsResource()};
  StatefulSetController ctl{fake, {statefulsets, pods, pvcs, revisions}, queue, clock, Recorder()};

  StsEnv() {
    informers = {&statefulsets, &pods, &pvcs, &revisions};
    ctl.RegisterHandlers();
    StartInformers();
  }
  ~StsEnv() { StopInformers(); }

  std::set<std::string> PodNames() {
    std::set<std::string> out;
    for (const auto& p : List(sets::PodsResource(), "default"))
      out.insert(std::string(api::Name(p)));
    return out;
  }
  json::object Set() { return Get(sets::StatefulSetsResource(), "default", "web"); }
  json::object Pod(const std::string& name) { return Get(sets::PodsResource(), "default", name); }
  void Scale(int64_t replicas) {
    Update(sets::StatefulSetsResource(), "default", "web",
           [replicas](json::object& s) { api::MutableObjectAt(s, "spec")["replicas"] = replicas; });
  }
  void SetImage(const std::string& image) {
    Update(sets::StatefulSetsResource(), "default", "web", [&image](json::object& s) {
      api::MutableObjectAt(s, "spec.template.spec")["containers"] =
          json::array{json::object{{"name", "nginx"}, {"image", image}}};
    });
  }
  // Brings every pod up, one sync round at a time, as an agent would.
  void ReadyUntilStable(int rounds = 10) {
    for (int i = 0; i < rounds; ++i) {
      Drain(ctl);
      bool changed = false;
      for (const auto& p : List(sets::PodsResource(), "default")) {
        if (api::GetString(p, "status.phase") != "Running") {
          MakeReady("default", std::string(api::Name(p)));
          changed = true;
        }
      }
      if (!changed) break;
    }
    Drain(ctl);
  }
};

json::object StatefulSet(int replicas, const std::string& extra_spec = "") {
  return Parse(
      R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web","namespace":"default"},)"
      R"("spec":{"replicas":)" +
      std::to_string(replicas) +
      R"(,"serviceName":"nginx","selector":{"matchLabels":{"app":"web"}},)" + extra_spec +
      R"("template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1"}]}},)"
      R"("volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],)"
      R"("resources":{"requests":{"storage":"1Gi"}}}}]}})");
}

TEST_CASE("StatefulSet: OrderedReady creates ordinal i only after 0..i-1 are Running and Ready",
          "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(sets::StatefulSetsResource(), StatefulSet(3));
  env.Drain(env.ctl);
  CHECK(env.PodNames() == std::set<std::string>{"web-0"});
  // PVC first, named <claim>-<set>-<ordinal>, labelled with the selector.
  json::object pvc = env.Get(sets::PvcsResource(), "default", "data-web-0");
  CHECK(api::Label(pvc, "app").value_or("") == "web");
  CHECK(!env.Exists(sets::PvcsResource(), "default", "data-web-1"));

  json::object pod = env.Pod("web-0");
  CHECK(api::GetString(pod, "spec.hostname") == "web-0");
  CHECK(api::GetString(pod, "spec.subdomain") == "nginx");
  CHECK(api::Label(pod, "statefulset.kubernetes.io/pod-name").value_or("") == "web-0");
  CHECK(api::Label(pod, "apps.kubernetes.io/pod-index").value_or("") == "0");
  CHECK(api::ControllerOf(pod)->kind == "StatefulSet");
  const json::array* vols = api::GetArray(pod, "spec.volumes");
  REQUIRE(vols != nullptr);
  REQUIRE(vols->size() == 1);
  CHECK(json::serialize(vols->at(0)) ==
        R"({"name":"data","persistentVolumeClaim":{"claimName":"data-web-0"}})");
  std::string rev(api::Label(pod, "controller-revision-hash").value_or(""));
  CHECK(rev.rfind("web-", 0) == 0);

  // Nothing more until web-0 is ready.
  env.Drain(env.ctl);
  CHECK(env.PodNames().size() == 1);
  env.MakeReady("default", "web-0");
  env.Drain(env.ctl);
  CHECK(env.PodNames() == std::set<std::string>{"web-0", "web-1"});
  env.MakeReady("default", "web-1");
  env.Drain(env.ctl);
  CHECK(env.PodNames() == std::set<std::string>{"web-0", "web-1", "web-2"});
  env.MakeReady("default", "web-2");
  env.Drain(env.ctl);

  json::object set = env.Set();
  CHECK(api::GetInt(set, "status.replicas") == 3);
  CHECK(api::GetInt(set, "status.readyReplicas") == 3);
  CHECK(api::GetInt(set, "status.availableReplicas") == 3);
  CHECK(api::GetInt(set, "status.currentReplicas") == 3);
  CHECK(api::GetInt(set, "status.updatedReplicas") == 3);
  CHECK(api::GetString(set, "status.currentRevision") == rev);
  CHECK(api::GetString(set, "status.updateRevision") == rev);
  CHECK(api::GetInt(set, "status.observedGeneration") == 1);
  CHECK(api::GetInt(set, "status.collisionCount") == 0);
  CHECK(env.CountEvents("Normal SuccessfulCreate create Pod web-") == 3);
  CHECK(env.CountEvents("Normal SuccessfulCreate create Claim data-web-") == 3);
}

TEST_CASE("StatefulSet: scales down from the highest ordinal, one at a time, keeping PVCs",
          "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(sets::StatefulSetsResource(), StatefulSet(4));
  env.ReadyUntilStable();
  REQUIRE(env.PodNames().size() == 4);

  env.fake.ClearActions();
  env.Scale(1);
  // One sync deletes exactly one pod, the highest.
  REQUIRE(env.queue.Len() == 1);
  env.Drain(env.ctl, 1);
  CHECK(env.PodNames() == std::set<std::string>{"web-0", "web-1", "web-2"});
  env.Drain(env.ctl);
  CHECK(env.PodNames() == std::set<std::string>{"web-0"});
  std::vector<std::string> deletes;
  for (const std::string& a : env.fake.actions()) {
    if (a.rfind("delete pods", 0) == 0) deletes.push_back(a);
  }
  CHECK(deletes == std::vector<std::string>{"delete pods default/web-3",
                                            "delete pods default/web-2",
                                            "delete pods default/web-1"});
  // whenScaled defaults to Retain.
  CHECK(env.Exists(sets::PvcsResource(), "default", "data-web-3"));
  json::object set = env.Set();
  CHECK(api::GetInt(set, "status.replicas") == 1);
  CHECK(api::GetInt(set, "status.readyReplicas") == 1);
}

TEST_CASE("StatefulSet: OrderedReady waits for a not-ready pod before scaling down the rest",
          "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(sets::StatefulSetsResource(), StatefulSet(3));
  env.ReadyUntilStable();
  // web-0 goes unready: the monotonic walk stops there, nothing is created or removed.
  json::object p0 = env.Pod("web-0");
  p0["status"] = Parse(R"({"phase":"Running","conditions":[{"type":"Ready","status":"False"}]})");
  REQUIRE(testutil::RunCo(env.io, env.fake.UpdateStatus(sets::PodsResource(), p0)).has_value());
  env.Scale(1);
  env.Drain(env.ctl);
  CHECK(env.PodNames().size() == 3);
  env.MakeReady("default", "web-0");
  env.Drain(env.ctl);
  CHECK(env.PodNames() == std::set<std::string>{"web-0"});
}

TEST_CASE("StatefulSet: Parallel creates every pod at once", "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(sets::StatefulSetsResource(), StatefulSet(3, R"("podManagementPolicy":"Parallel",)"));
  REQUIRE(env.Drain(env.ctl, 1) == 1);
  CHECK(env.PodNames() == std::set<std::string>{"web-0", "web-1", "web-2"});
  for (int i = 0; i < 3; ++i) {
    CHECK(env.Exists(sets::PvcsResource(), "default", "data-web-" + std::to_string(i)));
  }
  // And removes every condemned pod at once.
  env.Drain(env.ctl);
  env.Scale(0);
  REQUIRE(env.Drain(env.ctl, 1) == 1);
  CHECK(env.PodNames().empty());
}

TEST_CASE("StatefulSet: a deleted or failed pod is recreated with the same name",
          "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(sets::StatefulSetsResource(), StatefulSet(2));
  env.ReadyUntilStable();
  std::string uid(api::Uid(env.Pod("web-1")));
  env.Delete(sets::PodsResource(), "default", "web-1");
  env.Drain(env.ctl);
  CHECK(env.PodNames() == std::set<std::string>{"web-0", "web-1"});
  CHECK(api::Uid(env.Pod("web-1")) != uid);

  json::object p0 = env.Pod("web-0");
  p0["status"] = Parse(R"({"phase":"Failed"})");
  REQUIRE(testutil::RunCo(env.io, env.fake.UpdateStatus(sets::PodsResource(), p0)).has_value());
  env.Drain(env.ctl);
  CHECK(api::Uid(env.Pod("web-0")) != api::Uid(p0));
  CHECK(env.CountEvents("Warning RecreatingFailedPod StatefulSet default/web is recreating failed "
                        "Pod web-0") == 1);
}

TEST_CASE(
    "StatefulSet: partitioned rolling update only touches ordinals >= partition, highest first",
    "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(
      sets::StatefulSetsResource(),
      StatefulSet(4,
                  R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}},)"));
  env.ReadyUntilStable();
  std::string old_rev(api::GetString(env.Set(), "status.currentRevision"));

  env.SetImage("nginx:2");
  env.Drain(env.ctl);
  // web-3 was replaced and is not ready yet: web-2 must wait.
  std::string new_rev(api::GetString(env.Set(), "status.updateRevision"));
  CHECK(new_rev != old_rev);
  CHECK(api::Label(env.Pod("web-3"), "controller-revision-hash").value_or("") == new_rev);
  CHECK(api::Label(env.Pod("web-2"), "controller-revision-hash").value_or("") == old_rev);
  CHECK(env.Pod("web-3").at("spec").at("containers").at(0).at("image") == "nginx:2");

  env.ReadyUntilStable();
  for (std::string n : {"web-2", "web-3"}) {
    CHECK(api::Label(env.Pod(n), "controller-revision-hash").value_or("") == new_rev);
  }
  for (std::string n : {"web-0", "web-1"}) {
    CHECK(api::Label(env.Pod(n), "controller-revision-hash").value_or("") == old_rev);
    CHECK(env.Pod(n).at("spec").at("containers").at(0).at("image") == "nginx:1");
  }
  json::object set = env.Set();
  CHECK(api::GetInt(set, "status.updatedReplicas") == 2);
  CHECK(api::GetInt(set, "status.currentReplicas") == 2);
  CHECK(api::GetString(set, "status.currentRevision") == old_rev);
  CHECK(api::GetString(set, "status.updateRevision") == new_rev);
  // Lowering the partition to 0 finishes the rollout.
  env.Update(sets::StatefulSetsResource(), "default", "web", [](json::object& s) {
    api::MutableObjectAt(s, "spec.updateStrategy.rollingUpdate")["partition"] = 0;
  });
  env.ReadyUntilStable();
  set = env.Set();
  CHECK(api::GetInt(set, "status.updatedReplicas") == 4);
  CHECK(api::GetString(set, "status.currentRevision") == new_rev);
  CHECK(api::GetInt(set, "status.currentReplicas") == 4);
}

TEST_CASE("StatefulSet: whenScaled=Delete hands a condemned pod's PVC to the pod",
          "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(
      sets::StatefulSetsResource(),
      StatefulSet(
          2,
          R"("persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete","whenDeleted":"Delete"},)"));
  env.ReadyUntilStable();
  // In range: the set owns the claim (deleted with the set).
  auto refs = api::OwnerReferences(env.Get(sets::PvcsResource(), "default", "data-web-1"));
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].kind == "StatefulSet");
  CHECK(!refs[0].controller);
  std::string pod_uid(api::Uid(env.Pod("web-1")));
  env.Scale(1);
  env.Drain(env.ctl);
  refs = api::OwnerReferences(env.Get(sets::PvcsResource(), "default", "data-web-1"));
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].kind == "Pod");
  CHECK(refs[0].uid == pod_uid);
  CHECK(!env.Exists(sets::PodsResource(), "default", "web-1"));
}

TEST_CASE("StatefulSet: revisions roll back by renumbering and history is trimmed",
          "[ctrl_sets][unit]") {
  StsEnv env;
  env.Create(sets::StatefulSetsResource(), StatefulSet(0, R"("revisionHistoryLimit":2,)"));
  env.Drain(env.ctl);
  auto revs = env.List(history::ControllerRevisionsResource(), "default");
  REQUIRE(revs.size() == 1);
  std::string first(api::Name(revs[0]));
  CHECK(api::GetInt(revs[0], "revision") == 1);
  CHECK(api::ControllerOf(revs[0])->name == "web");

  env.SetImage("nginx:2");
  env.Drain(env.ctl);
  env.SetImage("nginx:1");  // back to the first template
  env.Drain(env.ctl);
  revs = env.List(history::ControllerRevisionsResource(), "default");
  REQUIRE(revs.size() == 2);
  json::object r1 = env.Get(history::ControllerRevisionsResource(), "default", first);
  CHECK(api::GetInt(r1, "revision") == 3);
  CHECK(api::GetString(env.Set(), "status.updateRevision") == first);

  for (int i = 3; i <= 7; ++i) {
    env.SetImage("nginx:" + std::to_string(i));
    env.Drain(env.ctl);
  }
  revs = env.List(history::ControllerRevisionsResource(), "default");
  // The live revision plus revisionHistoryLimit=2 older ones.
  CHECK(revs.size() == 3);
  int64_t max_rev = 0;
  for (const auto& r : revs) max_rev = std::max<int64_t>(max_rev, *api::GetInt(r, "revision"));
  CHECK(max_rev == 8);
  CHECK(!env.Exists(history::ControllerRevisionsResource(), "default", first));
}

}  // namespace
}  // namespace mini8s::controllers

namespace mini8s::controllers {
namespace {

using namespace testing;  // NOLINT

TEST_CASE("StatefulSet: adopts matching orphan pods that are members, ignores the rest",
          "[ctrl_sets][unit]") {
  StsEnv env;
  for (std::string name : {"web-0", "web-extra", "other-1"}) {
    env.Create(
        sets::PodsResource(),
        Parse(
            R"({"metadata":{"name":")" + name +
            R"(","namespace":"default","labels":{"app":"web"}},"spec":{"containers":[{"name":"c"}]}})"));
  }
  std::string uid(api::Uid(env.Pod("web-0")));
  env.Create(sets::StatefulSetsResource(), StatefulSet(1));
  env.Drain(env.ctl);
  json::object pod = env.Pod("web-0");
  CHECK(api::Uid(pod) == uid);  // adopted, not recreated
  REQUIRE(api::ControllerOf(pod).has_value());
  CHECK(api::ControllerOf(pod)->name == "web");
  CHECK(!api::ControllerOf(env.Pod("web-extra")).has_value());
  CHECK(!api::ControllerOf(env.Pod("other-1")).has_value());
}

}  // namespace
}  // namespace mini8s::controllers
