#include "mini8s/controllers/deployment.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <catch2/catch.hpp>

#include "unit/ctrl_deployment/fixture.h"

namespace mini8s::controllers::testing {
namespace {

using namespace std::chrono_literals;

// A Deployment as the API server would have defaulted it.
json::object Deployment(int replicas, const std::string& strategy = R"({"type":"RollingUpdate",
    "rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}})") {
  return Parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"namespace":"ns","name":"web","annotations":{"kubernetes.io/change-cause":"v1"}},
    "spec":{"replicas":)" +
               std::to_string(replicas) + R"(,
      "selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},
                  "spec":{"containers":[{"name":"c","image":"nginx:1"}]}},
      "strategy":)" +
               strategy + R"(,
      "revisionHistoryLimit":10,"progressDeadlineSeconds":600,"minReadySeconds":0}})");
}

json::object GetD(Env& env) { return env.Get(resources::Deployments(), "ns", "web"); }

void SetImage(Env& env, const std::string& image) {
  env.Patch(
      resources::Deployments(), "web",
      R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":")" + image + R"("}]}}}})");
}

std::string Image(const json::object& rs) {
  return std::string(api::GetArray(rs, "spec.template.spec.containers")
                         ->at(0)
                         .as_object()
                         .at("image")
                         .as_string());
}

std::string Rev(const json::object& obj) {
  return std::string(api::Annotation(obj, deployment::kRevisionAnnotation).value_or(""));
}

json::object RsWithImage(Env& env, const std::string& image) {
  for (auto& rs : env.ReplicaSets()) {
    if (Image(rs) == image) return rs;
  }
  FAIL("no replica set runs " << image);
  return {};
}

// kubectl's DeploymentStatusViewer.Status, which `kubectl rollout status` prints.
std::string RolloutStatus(const json::object& d) {
  std::string name(api::Name(d));
  if (api::Generation(d) > IntAt(d, "status.observedGeneration")) {
    return "Waiting for deployment spec update to be observed...";
  }
  if (ConditionField(d, "Progressing", "reason") == "ProgressDeadlineExceeded") {
    return "error: deployment \"" + name + "\" exceeded its progress deadline";
  }
  int64_t want = IntAt(d, "spec.replicas"), updated = IntAt(d, "status.updatedReplicas");
  int64_t replicas = IntAt(d, "status.replicas"), available = IntAt(d, "status.availableReplicas");
  std::string waiting = "Waiting for deployment \"" + name + "\" rollout to finish: ";
  if (updated < want) {
    return waiting + std::to_string(updated) + " out of " + std::to_string(want) +
           " new replicas have been updated...";
  }
  if (replicas > updated) {
    return waiting + std::to_string(replicas - updated) +
           " old replicas are pending termination...";
  }
  if (available < updated) {
    return waiting + std::to_string(available) + " of " + std::to_string(updated) +
           " updated replicas are available...";
  }
  return "deployment \"" + name + "\" successfully rolled out";
}

bool RolledOut(Env& env) {
  return RolloutStatus(GetD(env)) == "deployment \"web\" successfully rolled out";
}

// Alternates reconciling and the kubelet marking pods ready until the rollout finishes.
void CompleteRollout(Env& env) {
  for (int i = 0; i < 40 && !RolledOut(env); ++i) {
    env.Drain();
    env.MarkReady();
    env.Drain();
  }
  REQUIRE(RolledOut(env));
  REQUIRE(env.errors.empty());
}

int CountEvents(Env& env, const std::string& prefix) {
  const auto& ev = env.Events("deployment-controller");
  return static_cast<int>(std::count_if(
      ev.begin(), ev.end(), [&](const std::string& e) { return e.rfind(prefix, 0) == 0; }));
}

bool HasEvent(Env& env, const std::string& component, const std::string& text) {
  const auto& ev = env.Events(component);
  return std::find(ev.begin(), ev.end(), text) != ev.end();
}

TEST_CASE("Deployment: fenceposts round surge up and unavailable down, never both zero",
          "[ctrl_deployment][unit]") {
  auto fp = [](json::value surge, json::value unavail, int32_t desired) {
    auto r = deployment::ResolveFenceposts(&surge, &unavail, desired);
    REQUIRE(r.has_value());
    return *r;
  };
  using P = std::pair<int32_t, int32_t>;
  CHECK(fp("25%", "25%", 10) == P{3, 2});
  CHECK(fp("25%", "25%", 1) == P{1, 0});
  CHECK(fp("25%", "25%", 4) == P{1, 1});
  CHECK(fp(0, 0, 5) == P{0, 1});
  CHECK(fp("0%", "10%", 5) == P{0, 1});  // 0.5 rounds down to 0: both zero
  CHECK(fp(2, "50%", 3) == P{2, 1});
  json::value bad("ten"), ok(1);
  CHECK(!deployment::ResolveFenceposts(&bad, &ok, 3).has_value());
  CHECK(!deployment::ScaledValue(&bad, 3, true).has_value());

  json::object d = Deployment(3, R"({"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,
      "maxUnavailable":5}})");
  CHECK(deployment::MaxSurge(d) == 1);
  CHECK(deployment::MaxUnavailable(d) == 3);  // capped at replicas
  json::object r = Deployment(3, R"({"type":"Recreate"})");
  CHECK(deployment::MaxSurge(r) == 0);
  CHECK(deployment::MaxUnavailable(r) == 0);
}

TEST_CASE("Deployment: the pod-template hash is stable, short and safe, and tracks collisions",
          "[ctrl_deployment][unit]") {
  json::value a = json::parse(R"({"metadata":{"labels":{"app":"web","x":"y"}},
      "spec":{"containers":[{"name":"c","image":"nginx"}]}})");
  json::value b = json::parse(R"({"spec":{"containers":[{"image":"nginx","name":"c"}]},
      "metadata":{"labels":{"x":"y","app":"web"}}})");
  json::value c = json::parse(R"({"metadata":{"labels":{"app":"web","x":"y"}},
      "spec":{"containers":[{"name":"c","image":"nginx:2"}]}})");
  std::string h = deployment::ComputePodTemplateHash(a, std::nullopt);
  CHECK(h == deployment::ComputePodTemplateHash(b, std::nullopt));
  CHECK(h != deployment::ComputePodTemplateHash(c, std::nullopt));
  CHECK(h != deployment::ComputePodTemplateHash(a, 1));
  CHECK(deployment::ComputePodTemplateHash(a, 1) != deployment::ComputePodTemplateHash(a, 2));
  CHECK(!h.empty());
  CHECK(h.size() <= 10);
  CHECK(h.find_first_not_of("bcdfghjklmnpqrstvwxz2456789") == std::string::npos);
  // The hash label itself does not make templates differ.
  json::value labelled = a;
  labelled.as_object()["metadata"].as_object()["labels"].as_object()["pod-template-hash"] = h;
  CHECK(deployment::EqualIgnoreHash(a, labelled));
  CHECK(!deployment::EqualIgnoreHash(a, c));
}

TEST_CASE("Deployment: a new Deployment gets a hashed ReplicaSet, revision 1 and full status",
          "[ctrl_deployment][unit]") {
  Env env;
  json::object d = env.Create(resources::Deployments(), Deployment(3));
  env.Drain();
  REQUIRE(env.errors.empty());
  auto rss = env.ReplicaSets();
  REQUIRE(rss.size() == 1);
  const json::object& rs = rss[0];
  std::string hash(*api::Label(rs, "pod-template-hash"));
  CHECK(api::Name(rs) == "web-" + hash);
  CHECK(hash ==
        deployment::ComputePodTemplateHash(*api::FindPath(d, "spec.template"), std::nullopt));
  CHECK(api::GetString(rs, "spec.selector.matchLabels.pod-template-hash") == hash);
  CHECK(api::GetString(rs, "spec.selector.matchLabels.app") == "web");
  CHECK(api::GetString(rs, "spec.template.metadata.labels.pod-template-hash") == hash);
  CHECK(OwnedBy(rs, d));
  CHECK(Rev(rs) == "1");
  CHECK(*api::Annotation(rs, deployment::kDesiredReplicasAnnotation) == "3");
  CHECK(*api::Annotation(rs, deployment::kMaxReplicasAnnotation) == "4");
  CHECK(*api::Annotation(rs, "kubernetes.io/change-cause") == "v1");
  CHECK(IntAt(rs, "spec.replicas") == 3);
  CHECK(HasEvent(env, "deployment-controller",
                 "Normal ScalingReplicaSet Scaled up replica set web-" + hash + " from 0 to 3"));
  for (const auto& p : env.Pods()) CHECK(*api::Label(p, "pod-template-hash") == hash);

  json::object got = GetD(env);
  CHECK(Rev(got) == "1");
  CHECK(IntAt(got, "status.observedGeneration") == 1);
  CHECK(IntAt(got, "status.replicas") == 3);
  CHECK(IntAt(got, "status.updatedReplicas") == 3);
  CHECK(IntAt(got, "status.unavailableReplicas") == 3);
  CHECK(ConditionField(got, "Available", "status") == "False");
  CHECK(ConditionField(got, "Available", "reason") == "MinimumReplicasUnavailable");
  CHECK(ConditionField(got, "Available", "message") ==
        "Deployment does not have minimum availability.");
  CHECK(ConditionField(got, "Progressing", "status") == "True");
  std::string reason = ConditionField(got, "Progressing", "reason");
  CHECK((reason == "NewReplicaSetCreated" || reason == "ReplicaSetUpdated"));
  CHECK(
      RolloutStatus(got) ==
      "Waiting for deployment \"web\" rollout to finish: 0 of 3 updated replicas are available...");

  env.MarkReady();
  env.Drain();
  got = GetD(env);
  CHECK(IntAt(got, "status.readyReplicas") == 3);
  CHECK(IntAt(got, "status.availableReplicas") == 3);
  CHECK(IntAt(got, "status.unavailableReplicas") == 0);
  CHECK(ConditionField(got, "Available", "status") == "True");
  CHECK(ConditionField(got, "Available", "reason") == "MinimumReplicasAvailable");
  CHECK(ConditionField(got, "Available", "message") == "Deployment has minimum availability.");
  CHECK(ConditionField(got, "Progressing", "reason") == "NewReplicaSetAvailable");
  CHECK(ConditionField(got, "Progressing", "message") ==
        "ReplicaSet \"web-" + hash + "\" has successfully progressed.");
  CHECK(RolloutStatus(got) == "deployment \"web\" successfully rolled out");
}

TEST_CASE("Deployment: a rolling update respects maxSurge and maxUnavailable at every step",
          "[ctrl_deployment][unit]") {
  auto [surge, unavailable] = GENERATE(std::pair<std::string, std::string>{"1", "1"},
                                       std::pair<std::string, std::string>{"1", "0"},
                                       std::pair<std::string, std::string>{"0", "\"50%\""},
                                       std::pair<std::string, std::string>{"\"50%\"", "\"25%\""});
  CAPTURE(surge, unavailable);
  Env env;
  const int kReplicas = 4;
  env.Create(resources::Deployments(),
             Deployment(kReplicas, R"({"type":"RollingUpdate","rollingUpdate":{"maxSurge":)" +
                                       surge + R"(,"maxUnavailable":)" + unavailable + "}}"));
  CompleteRollout(env);
  json::object d = GetD(env);
  int max_surge = deployment::MaxSurge(d), max_unavailable = deployment::MaxUnavailable(d);
  SetImage(env, "nginx:2");

  int steps = 0;
  for (; steps < 40 && !RolledOut(env); ++steps) {
    env.Drain();
    REQUIRE(env.errors.empty());
    int spec_total = 0;
    for (const auto& rs : env.ReplicaSets()) spec_total += IntAt(rs, "spec.replicas");
    auto pods = env.ActivePods();
    int ready = 0;
    for (const auto& p : pods) {
      const json::array* conds = api::GetArray(p, "status.conditions");
      if (conds && !conds->empty()) ++ready;
    }
    CHECK(spec_total <= kReplicas + max_surge);
    CHECK(static_cast<int>(pods.size()) <= kReplicas + max_surge);
    CHECK(ready >= kReplicas - max_unavailable);
    // The kubelet readies the new pods.
    env.MarkReady();
  }
  CHECK(steps >= 2);  // it took several steps, not one jump
  REQUIRE(RolledOut(env));
  json::object old_rs = RsWithImage(env, "nginx:1");
  json::object new_rs = RsWithImage(env, "nginx:2");
  CHECK(IntAt(old_rs, "spec.replicas") == 0);
  CHECK(IntAt(new_rs, "spec.replicas") == kReplicas);
  CHECK(Rev(new_rs) == "2");
  CHECK(Rev(GetD(env)) == "2");
  CHECK(env.ActivePods("pod-template-hash=" + std::string(*api::Label(new_rs, "pod-template-hash")))
            .size() == kReplicas);
  CHECK(CountEvents(env, "Normal ScalingReplicaSet Scaled down replica set " +
                             std::string(api::Name(old_rs))) >= 1);
}

TEST_CASE("Deployment: Recreate scales the old ReplicaSet to zero and waits for its pods",
          "[ctrl_deployment][unit]") {
  Env env;
  env.Create(resources::Deployments(), Deployment(3, R"({"type":"Recreate"})"));
  CompleteRollout(env);
  // Old pods terminate slowly: a finalizer keeps them after the delete.
  for (auto p : env.Pods()) {
    api::AddFinalizer(p, "example.com/slow");
    REQUIRE(RunCo(env.io, env.fake.Update(resources::Pods(), p)).has_value());
  }
  env.Drain();
  SetImage(env, "nginx:2");
  env.Drain();
  REQUIRE(env.errors.empty());
  auto rss = env.ReplicaSets();
  REQUIRE(rss.size() == 1);  // no new ReplicaSet while old pods still run
  CHECK(IntAt(rss[0], "spec.replicas") == 0);
  CHECK(env.Pods().size() == 3);
  for (const auto& p : env.Pods()) CHECK(api::IsBeingDeleted(p));

  // The kubelet finishes terminating them.
  for (auto p : env.Pods()) {
    api::RemoveFinalizer(p, "example.com/slow");
    REQUIRE(RunCo(env.io, env.fake.Update(resources::Pods(), p)).has_value());
  }
  env.Drain();
  REQUIRE(env.errors.empty());
  json::object new_rs = RsWithImage(env, "nginx:2");
  CHECK(IntAt(new_rs, "spec.replicas") == 3);
  for (const auto& p : env.Pods()) {
    CHECK(*api::Label(p, "pod-template-hash") == *api::Label(new_rs, "pod-template-hash"));
  }
  CompleteRollout(env);
  CHECK(Rev(GetD(env)) == "2");
}

TEST_CASE("Deployment: rollback to an older template reuses its ReplicaSet with a new revision",
          "[ctrl_deployment][unit]") {
  Env env;
  env.Create(resources::Deployments(), Deployment(2));
  CompleteRollout(env);
  json::object v1 = RsWithImage(env, "nginx:1");
  SetImage(env, "nginx:2");
  CompleteRollout(env);
  REQUIRE(env.ReplicaSets().size() == 2);

  // kubectl rollout undo (1.27+): patch the Deployment's template with the old RS's template
  // minus pod-template-hash.
  json::value tmpl = *api::FindPath(v1, "spec.template");
  tmpl.as_object()["metadata"].as_object()["labels"].as_object().erase("pod-template-hash");
  json::array patch{json::object{{"op", "replace"}, {"path", "/spec/template"}, {"value", tmpl}}};
  auto r =
      RunCo(env.io, env.fake.Patch(resources::Deployments(), "ns", "web", client::PatchType::kJson,
                                   json::serialize(patch), client::PatchOptions{}));
  REQUIRE(r.has_value());
  CompleteRollout(env);

  auto rss = env.ReplicaSets();
  CHECK(rss.size() == 2);  // no third ReplicaSet
  json::object back = RsWithImage(env, "nginx:1");
  CHECK(api::Uid(back) == api::Uid(v1));
  CHECK(Rev(back) == "3");
  CHECK(*api::Annotation(back, deployment::kRevisionHistoryAnnotation) == "1");
  CHECK(IntAt(back, "spec.replicas") == 2);
  CHECK(IntAt(RsWithImage(env, "nginx:2"), "spec.replicas") == 0);
  CHECK(Rev(GetD(env)) == "3");
}

TEST_CASE("Deployment: rollout restart (a template annotation) creates a new ReplicaSet",
          "[ctrl_deployment][unit]") {
  Env env;
  env.Create(resources::Deployments(), Deployment(2));
  CompleteRollout(env);
  env.Patch(resources::Deployments(), "web",
            R"({"spec":{"template":{"metadata":{"annotations":{
                "kubectl.kubernetes.io/restartedAt":"2026-11-25T23:00:00Z"}}}}})");
  CompleteRollout(env);
  auto rss = env.ReplicaSets();
  REQUIRE(rss.size() == 2);
  int with_annotation = 0;
  for (const auto& rs : rss) {
    const json::object* ann = api::GetObject(rs, "spec.template.metadata.annotations");
    if (ann == nullptr || !ann->contains("kubectl.kubernetes.io/restartedAt")) {
      CHECK(IntAt(rs, "spec.replicas") == 0);
    } else {
      ++with_annotation;
      CHECK(IntAt(rs, "spec.replicas") == 2);
      CHECK(Rev(rs) == "2");
    }
  }
  CHECK(with_annotation == 1);
}

TEST_CASE("Deployment: revisionHistoryLimit deletes the oldest scaled-down ReplicaSets",
          "[ctrl_deployment][unit]") {
  Env env;
  json::object d = Deployment(1);
  d["spec"].as_object()["revisionHistoryLimit"] = 1;
  env.Create(resources::Deployments(), d);
  CompleteRollout(env);
  for (std::string image : {"nginx:2", "nginx:3", "nginx:4"}) {
    SetImage(env, image);
    CompleteRollout(env);
    env.Drain();
  }
  auto rss = env.ReplicaSets();
  std::set<std::string> images;
  for (const auto& rs : rss) images.insert(Image(rs));
  CHECK(images == std::set<std::string>{"nginx:3", "nginx:4"});
  CHECK(Rev(RsWithImage(env, "nginx:4")) == "4");
  CHECK(Rev(RsWithImage(env, "nginx:3")) == "3");
}

TEST_CASE("Deployment: a paused Deployment scales but does not roll out until resumed",
          "[ctrl_deployment][unit]") {
  Env env;
  env.Create(resources::Deployments(), Deployment(2));
  CompleteRollout(env);
  std::string rs_name(api::Name(env.ReplicaSets()[0]));
  env.Patch(resources::Deployments(), "web", R"({"spec":{"paused":true}})");
  env.Drain();
  json::object got = GetD(env);
  CHECK(ConditionField(got, "Progressing", "status") == "Unknown");
  CHECK(ConditionField(got, "Progressing", "reason") == "DeploymentPaused");
  CHECK(ConditionField(got, "Progressing", "message") == "Deployment is paused");

  SetImage(env, "nginx:2");
  env.Drain();
  env.MarkReady();
  env.Drain();
  CHECK(env.ReplicaSets().size() == 1);
  got = GetD(env);
  CHECK(IntAt(got, "status.observedGeneration") == api::Generation(got));

  env.Patch(resources::Deployments(), "web", R"({"spec":{"replicas":4}})");
  env.Drain();
  REQUIRE(env.errors.empty());
  auto rss = env.ReplicaSets();
  REQUIRE(rss.size() == 1);
  CHECK(IntAt(rss[0], "spec.replicas") == 4);
  CHECK(*api::Annotation(rss[0], deployment::kDesiredReplicasAnnotation) == "4");
  CHECK(HasEvent(env, "deployment-controller",
                 "Normal ScalingReplicaSet Scaled up replica set " + rs_name + " from 2 to 4"));

  env.Patch(resources::Deployments(), "web", R"({"spec":{"paused":false}})");
  env.Drain();
  got = GetD(env);
  CHECK(env.ReplicaSets().size() == 2);
  CompleteRollout(env);
  got = GetD(env);
  CHECK(ConditionField(got, "Progressing", "reason") == "NewReplicaSetAvailable");
  CHECK(IntAt(RsWithImage(env, "nginx:2"), "spec.replicas") == 4);
}

TEST_CASE("Deployment: a stalled rollout reports ProgressDeadlineExceeded on the clock",
          "[ctrl_deployment][unit]") {
  Env env;
  json::object d = Deployment(2);
  d["spec"].as_object()["progressDeadlineSeconds"] = 30;
  env.Create(resources::Deployments(), d);
  env.Drain();
  json::object got = GetD(env);
  CHECK(ConditionField(got, "Progressing", "status") == "True");
  std::string rs_name(api::Name(env.ReplicaSets()[0]));

  INFO("parked deployment keys: " << env.d_queue->Waiting());
  env.Advance(20s);
  env.Drain();
  CHECK(ConditionField(GetD(env), "Progressing", "status") == "True");

  env.Advance(11s);  // the controller parked the key for the deadline
  env.Drain();
  REQUIRE(env.errors.empty());
  got = GetD(env);
  CHECK(ConditionField(got, "Progressing", "status") == "False");
  CHECK(ConditionField(got, "Progressing", "reason") == "ProgressDeadlineExceeded");
  CHECK(ConditionField(got, "Progressing", "message") ==
        "ReplicaSet \"" + rs_name + "\" has timed out progressing.");
  CHECK(RolloutStatus(got) == "error: deployment \"web\" exceeded its progress deadline");

  // Pods finally come up: the rollout completes and the condition recovers.
  env.MarkReady();
  env.Drain();
  got = GetD(env);
  CHECK(ConditionField(got, "Progressing", "status") == "True");
  CHECK(ConditionField(got, "Progressing", "reason") == "NewReplicaSetAvailable");
  CHECK(RolledOut(env));
}

TEST_CASE("Deployment: scaling during a rollout is spread proportionally over ReplicaSets",
          "[ctrl_deployment][unit]") {
  Env env;
  env.Create(resources::Deployments(),
             Deployment(10, R"({"type":"RollingUpdate","rollingUpdate":{"maxSurge":3,
                 "maxUnavailable":2}})"));
  CompleteRollout(env);
  SetImage(env, "nginx:2");
  env.Drain();  // the new pods never become ready: the rollout is mid-way
  int old_before = IntAt(RsWithImage(env, "nginx:1"), "spec.replicas");
  int new_before = IntAt(RsWithImage(env, "nginx:2"), "spec.replicas");
  REQUIRE(old_before > 0);
  REQUIRE(new_before > 0);
  REQUIRE(old_before + new_before == 13);

  env.Patch(resources::Deployments(), "web", R"({"spec":{"replicas":20}})");
  env.Drain();
  REQUIRE(env.errors.empty());
  json::object old_rs = RsWithImage(env, "nginx:1");
  json::object new_rs = RsWithImage(env, "nginx:2");
  int old_after = IntAt(old_rs, "spec.replicas"), new_after = IntAt(new_rs, "spec.replicas");
  CHECK(old_after + new_after == 23);
  CHECK(old_after > old_before);
  CHECK(new_after > new_before);
  for (const auto& rs : {old_rs, new_rs}) {
    CHECK(*api::Annotation(rs, deployment::kDesiredReplicasAnnotation) == "20");
    CHECK(*api::Annotation(rs, deployment::kMaxReplicasAnnotation) == "23");
  }
  CompleteRollout(env);
  CHECK(IntAt(RsWithImage(env, "nginx:2"), "spec.replicas") == 20);
  CHECK(IntAt(RsWithImage(env, "nginx:1"), "spec.replicas") == 0);
}

TEST_CASE("Deployment: adopts a matching orphan ReplicaSet and warns about an empty selector",
          "[ctrl_deployment][unit]") {
  Env env;
  json::object d = Deployment(1);
  std::string hash =
      deployment::ComputePodTemplateHash(*api::FindPath(d, "spec.template"), std::nullopt);
  json::object orphan = Parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
    "metadata":{"namespace":"ns","name":"web-)" +
                              hash + R"(","labels":{"app":"web",
      "pod-template-hash":")" +
                              hash + R"("}},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web","pod-template-hash":")" +
                              hash +
                              R"("}},
      "template":{"metadata":{"labels":{"app":"web","pod-template-hash":")" +
                              hash + R"("}},
                  "spec":{"containers":[{"name":"c","image":"nginx:1"}]}}}})");
  env.Create(resources::ReplicaSets(), orphan);
  json::object created = env.Create(resources::Deployments(), d);
  env.Drain();
  REQUIRE(env.errors.empty());
  auto rss = env.ReplicaSets();
  REQUIRE(rss.size() == 1);
  CHECK(OwnedBy(rss[0], created));
  CHECK(Rev(rss[0]) == "1");

  json::object all = Deployment(1);
  api::SetName(all, "everything");
  all["spec"].as_object()["selector"] = json::object();
  env.Create(resources::Deployments(), all);
  env.Drain();
  CHECK(HasEvent(env, "deployment-controller",
                 "Warning SelectingAll This deployment is selecting all pods. A non-empty "
                 "selector is required."));
  CHECK(IntAt(env.Get(resources::Deployments(), "ns", "everything"), "status.observedGeneration") ==
        1);
  CHECK(env.ReplicaSets().size() == 1);
}

}  // namespace
}  // namespace mini8s::controllers::testing

namespace mini8s::controllers::testing {
namespace {

TEST_CASE("Deployment: a hash collision bumps collisionCount and picks another name",
          "[ctrl_deployment][unit]") {
  Env env;
  json::object d = Deployment(1);
  std::string hash =
      deployment::ComputePodTemplateHash(*api::FindPath(d, "spec.template"), std::nullopt);
  // Someone else's ReplicaSet already has the name the new one would get.
  env.Create(resources::ReplicaSets(), Parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
    "metadata":{"namespace":"ns","name":"web-)" +
                                             hash + R"(","labels":{"app":"other"}},
    "spec":{"replicas":0,"selector":{"matchLabels":{"app":"other"}},
      "template":{"metadata":{"labels":{"app":"other"}},"spec":{"containers":[]}}}})"));
  env.Create(resources::Deployments(), d);
  env.Drain();
  CHECK(!env.errors.empty());  // the colliding create failed once
  env.errors.clear();
  env.d_queue->Add("ns/web");
  env.Drain();
  REQUIRE(env.errors.empty());
  json::object got = GetD(env);
  CHECK(IntAt(got, "status.collisionCount") == 1);
  std::string hash1 = deployment::ComputePodTemplateHash(*api::FindPath(d, "spec.template"), 1);
  json::object rs = env.Get(resources::ReplicaSets(), "ns", "web-" + hash1);
  CHECK(OwnedBy(rs, got));
  CHECK(*api::Label(rs, "pod-template-hash") == hash1);
}

TEST_CASE("Deployment: a ReplicaSet's ReplicaFailure shows on the Deployment",
          "[ctrl_deployment][unit]") {
  Env env;
  env.Create(resources::Deployments(), Deployment(2));
  Poll(env.io);
  // The Deployment creates its ReplicaSet; the ReplicaSet's first pod create is refused.
  REQUIRE(env.Step(*env.d_queue, *env.dc));
  Poll(env.io);
  env.fake.FailNext("create", Status::Forbidden("pods \"web-\" is forbidden: exceeded quota"));
  REQUIRE(env.Step(env.rs_queue, env.rsc));
  Poll(env.io);
  REQUIRE(env.Step(*env.d_queue, *env.dc));
  json::object got = GetD(env);
  CHECK(ConditionField(got, "ReplicaFailure", "status") == "True");
  CHECK(ConditionField(got, "ReplicaFailure", "reason") == "FailedCreate");
  CHECK(ConditionField(got, "ReplicaFailure", "message") ==
        "pods \"web-\" is forbidden: exceeded quota");
  env.errors.clear();
  CompleteRollout(env);
  CHECK(ConditionField(GetD(env), "ReplicaFailure", "status").empty());
}

}  // namespace
}  // namespace mini8s::controllers::testing
