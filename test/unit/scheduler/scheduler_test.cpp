#include "mini8s/scheduler/scheduler.h"

#include <chrono>
#include <map>

#include <catch2/catch.hpp>

#include "unit/scheduler/scheduler_test_util.h"

namespace mini8s::scheduler::test {
namespace {

using namespace std::chrono_literals;

json::object Tol(const std::string& key, const std::string& value, const std::string& effect) {
  json::object t{{"key", key}, {"effect", effect}};
  if (value.empty()) {
    t["operator"] = "Exists";
  } else {
    t["operator"] = "Equal";
    t["value"] = value;
  }
  return t;
}

TEST_CASE("Scheduler: binds a pod through pods/binding and records a Scheduled event",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1"));
  f.Create(kPods, Pod("p1", "100m", "128Mi"));
  f.fake.ClearActions();
  f.ScheduleAll();
  CHECK(f.NodeOf("p1") == "n1");
  bool used_binding = false;
  for (const std::string& a : f.fake.actions()) {
    if (a == "create pods/binding default/p1") used_binding = true;
    CHECK(a.rfind("update pods", 0) != 0);  // never a plain pod update
  }
  CHECK(used_binding);
  CHECK(f.HasEvent("Normal Scheduled default/p1 Successfully assigned default/p1 to n1"));
  CHECK(f.sched->CachedNodeOf("default/p1") == "n1");
  CHECK_FALSE(f.sched->IsAssumed("default/p1"));  // the informer confirmed it
}

TEST_CASE("Scheduler: ignores pods for another scheduler and pods already bound",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1"));
  json::object other = Pod("other");
  Spec(other)["schedulerName"] = "my-scheduler";
  f.Create(kPods, other);
  json::object bound = Pod("bound", "1");
  Spec(bound)["nodeName"] = "n1";
  f.Create(kPods, bound);
  f.ScheduleAll();
  CHECK(f.NodeOf("other").empty());
  CHECK(f.sched->CachedNodeOf("default/bound") == "n1");
  CHECK(f.sched->stats().attempts == 0);
}

TEST_CASE("Scheduler: NodeUnschedulable rejects cordoned nodes unless tolerated",
          "[scheduler][unit]") {
  Fixture f;
  json::object n = Node("n1");
  Spec(n)["unschedulable"] = true;
  f.Create(kNodes, n);
  f.Create(kPods, Pod("plain"));
  json::object tolerant = Pod("tolerant");
  Spec(tolerant)["tolerations"] =
      json::array{Tol("node.kubernetes.io/unschedulable", "", "NoSchedule")};
  f.Create(kPods, tolerant);
  f.ScheduleAll();
  CHECK(f.NodeOf("plain").empty());
  CHECK(f.NodeOf("tolerant") == "n1");
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/plain 0/1 nodes are available: 1 node(s) were "
      "unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for "
      "scheduling."));
}

TEST_CASE("Scheduler: nodeSelector and required node affinity pick the matching node",
          "[scheduler][unit]") {
  Fixture f;
  json::object a = Node("a");
  api::SetLabel(a, "disk", "ssd");
  api::SetLabel(a, "cores", "16");
  f.Create(kNodes, a);
  json::object b = Node("b");
  api::SetLabel(b, "disk", "hdd");
  api::SetLabel(b, "cores", "4");
  f.Create(kNodes, b);

  json::object sel = Pod("sel");
  Spec(sel)["nodeSelector"] = json::object{{"disk", "hdd"}};
  f.Create(kPods, sel);

  json::object gt = Pod("gt");
  Spec(gt)["affinity"] =
      json::parse(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms":[{"matchExpressions":[{"key":"cores","operator":"Gt","values":["8"]}]}]}}})");
  f.Create(kPods, gt);

  json::object field = Pod("field");
  Spec(field)["affinity"] =
      json::parse(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["b"]}]}]}}})");
  f.Create(kPods, field);

  json::object none = Pod("none");
  Spec(none)["affinity"] =
      json::parse(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms":[{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}]}}})");
  f.Create(kPods, none);

  f.ScheduleAll();
  CHECK(f.NodeOf("sel") == "b");
  CHECK(f.NodeOf("gt") == "a");
  CHECK(f.NodeOf("field") == "b");
  CHECK(f.NodeOf("none").empty());
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/none 0/2 nodes are available: 2 node(s) didn't match "
      "Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not "
      "helpful for scheduling."));
}

TEST_CASE(
    "Scheduler: NoSchedule and NoExecute taints need tolerations; PreferNoSchedule only "
    "scores",
    "[scheduler][unit]") {
  Fixture f;
  json::object gpu = Node("gpu");
  Spec(gpu)["taints"] =
      json::array{json::object{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}}};
  f.Create(kNodes, gpu);
  json::object evict = Node("evict");
  Spec(evict)["taints"] = json::array{json::object{{"key", "maint"}, {"effect", "NoExecute"}}};
  f.Create(kNodes, evict);

  f.Create(kPods, Pod("plain"));
  json::object tol = Pod("tol");
  Spec(tol)["tolerations"] = json::array{Tol("dedicated", "gpu", "NoSchedule")};
  f.Create(kPods, tol);
  f.ScheduleAll();
  CHECK(f.NodeOf("plain").empty());
  CHECK(f.NodeOf("tol") == "gpu");
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/plain 0/2 nodes are available: 1 node(s) had untolerated "
      "taint {dedicated: gpu}, 1 node(s) had untolerated taint {maint: }. preemption: 0/2 nodes "
      "are available: 2 Preemption is not helpful for scheduling."));

  // PreferNoSchedule: a plain node beats a soft-tainted one, but the soft one still fits.
  Fixture g;
  json::object soft = Node("soft");
  Spec(soft)["taints"] = json::array{json::object{{"key", "spot"}, {"effect", "PreferNoSchedule"}}};
  g.Create(kNodes, soft);
  g.Create(kNodes, Node("clean"));
  for (int i = 0; i < 3; ++i) g.Create(kPods, Pod("p" + std::to_string(i), "100m"));
  g.ScheduleAll();
  for (int i = 0; i < 3; ++i) CHECK(g.NodeOf("p" + std::to_string(i)) == "clean");
  g.Delete(kNodes, "", "clean");
  g.Create(kPods, Pod("only-soft", "100m"));
  g.ScheduleAll();
  CHECK(g.NodeOf("only-soft") == "soft");
}

TEST_CASE("Scheduler: nodes that are not Ready are skipped unless the pod tolerates it",
          "[scheduler][unit]") {
  Fixture f;
  json::object n = Node("n1");
  n["status"].as_object()["conditions"] =
      json::array{json::object{{"type", "Ready"}, {"status", "False"}}};
  f.Create(kNodes, n);
  f.Create(kPods, Pod("p"));
  json::object ds = Pod("ds");
  Spec(ds)["tolerations"] = json::array{Tol("node.kubernetes.io/not-ready", "", "")};
  f.Create(kPods, ds);
  f.ScheduleAll();
  CHECK(f.NodeOf("p").empty());
  CHECK(f.NodeOf("ds") == "n1");
  // The node turns Ready: a cluster event, so the pod is retried at once.
  json::object ready = f.Get(kNodes, "", "n1");
  ready["status"].as_object()["conditions"] =
      json::array{json::object{{"type", "Ready"}, {"status", "True"}}};
  auto r = testutil::RunCo(f.io, f.fake.UpdateStatus(kNodes, ready));
  REQUIRE(r.has_value());
  f.ScheduleAll();
  CHECK(f.NodeOf("p").empty());  // moved to backoffQ: its 1 s backoff is not over
  f.clock.Advance(std::chrono::seconds(1));
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.NodeOf("p") == "n1");
}

TEST_CASE(
    "Scheduler: NodeResourcesFit counts containers, the largest init container and "
    "overhead",
    "[scheduler][unit]") {
  Fixture f;
  json::object n = Node("n1", "2", "4Gi", "3");
  n["status"].as_object()["allocatable"].as_object()["example.com/gpu"] = "1";
  f.Create(kNodes, n);

  // 1500m: init 1500m beats containers 500m+500m, so 500m is left.
  json::object init = Pod("init", "500m");
  Spec(init)["containers"].as_array().push_back(
      json::object{{"name", "c2"}, {"resources", json::object{{"requests", {{"cpu", "500m"}}}}}});
  Spec(init)["initContainers"] = json::array{
      json::object{{"name", "i"}, {"resources", json::object{{"requests", {{"cpu", "1500m"}}}}}}};
  f.Create(kPods, init);
  f.ScheduleAll();
  REQUIRE(f.NodeOf("init") == "n1");

  json::object big = Pod("big", "400m");
  Spec(big)["overhead"] = json::object{{"cpu", "200m"}};  // 600m > 500m left
  f.Create(kPods, big);
  json::object mem = Pod("mem", "", "5Gi");
  f.Create(kPods, mem);
  json::object gpu = Pod("gpu");
  Spec(gpu)["containers"].as_array()[0].as_object()["resources"] =
      json::object{{"limits", {{"example.com/gpu", "2"}}}};  // limits default the request
  f.Create(kPods, gpu);
  json::object eph = Pod("eph");
  Spec(eph)["containers"].as_array()[0].as_object()["resources"] =
      json::object{{"requests", {{"ephemeral-storage", "200Gi"}}}};
  f.Create(kPods, eph);
  f.ScheduleAll();
  CHECK(f.NodeOf("big").empty());
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/big 0/1 nodes are available: 1 Insufficient cpu. "
      "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."));
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/mem 0/1 nodes are available: 1 Insufficient memory. "
      "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."));
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/gpu 0/1 nodes are available: 1 Insufficient "
      "example.com/gpu. preemption: 0/1 nodes are available: 1 No preemption victims found for "
      "incoming pod."));
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/eph 0/1 nodes are available: 1 Insufficient "
      "ephemeral-storage. preemption: 0/1 nodes are available: 1 No preemption victims found for "
      "incoming pod."));

  // Pod count: 3 allowed, "init" holds one.
  f.Create(kPods, Pod("small1", "100m"));
  f.Create(kPods, Pod("small2", "100m"));
  f.Create(kPods, Pod("small3", "100m"));
  f.ScheduleAll();
  int placed = 0;
  for (const char* p : {"small1", "small2", "small3"}) placed += f.NodeOf(p).empty() ? 0 : 1;
  CHECK(placed == 2);
  bool too_many = false;
  for (const std::string& e : f.events) {
    if (e.find("1 Too many pods.") != std::string::npos) too_many = true;
  }
  CHECK(too_many);
}

TEST_CASE("Scheduler: assumed pods prevent overcommit before the informer catches up",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1", "1"));
  f.Create(kPods, Pod("a", "600m"));
  f.Create(kPods, Pod("b", "600m"));
  f.Poll();
  // Two cycles back to back, with no chance for binds or watch events in between.
  REQUIRE(f.sched->ScheduleOne());
  std::string first = f.sched->CachedNodeOf("default/a").empty() ? "default/b" : "default/a";
  CHECK(f.sched->IsAssumed(first));
  CHECK(f.sched->binds_in_flight() == 0);  // the bind is spawned, not yet run
  REQUIRE(f.sched->ScheduleOne());
  CHECK(f.sched->stats().unschedulable == 1);
  f.Poll();
  CHECK(f.sched->stats().bound == 1);
  CHECK(f.NodeOf("a").empty() != f.NodeOf("b").empty());
}

TEST_CASE("Scheduler: hostPort conflicts are filtered", "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1"));
  auto with_port = [](const std::string& name, int port) {
    json::object p = Pod(name);
    Spec(p)["containers"].as_array()[0].as_object()["ports"] =
        json::array{json::object{{"containerPort", 80}, {"hostPort", port}}};
    return p;
  };
  f.Create(kPods, with_port("web1", 8080));
  f.ScheduleAll();
  f.Create(kPods, with_port("web2", 8080));
  f.Create(kPods, with_port("web3", 9090));
  f.ScheduleAll();
  CHECK(f.NodeOf("web1") == "n1");
  CHECK(f.NodeOf("web2").empty());
  CHECK(f.NodeOf("web3") == "n1");
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/web2 0/1 nodes are available: 1 node(s) didn't have free "
      "ports for the requested pod ports. preemption: 0/1 nodes are available: 1 No preemption "
      "victims found for incoming pod."));
}

TEST_CASE("Scheduler: required inter-pod anti-affinity and affinity by topology key",
          "[scheduler][unit]") {
  Fixture f;
  for (const char* n : {"n1", "n2"}) {
    json::object node = Node(n);
    api::SetLabel(node, "topology.kubernetes.io/zone", n == std::string("n1") ? "z1" : "z2");
    f.Create(kNodes, node);
  }
  auto anti = [](const std::string& name) {
    json::object p = Pod(name);
    api::SetLabel(p, "app", "db");
    Spec(p)["affinity"] =
        json::parse(R"({"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
        [{"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"kubernetes.io/hostname"}]}})");
    return p;
  };
  f.Create(kPods, anti("db1"));
  f.ScheduleAll();
  f.Create(kPods, anti("db2"));
  f.ScheduleAll();
  f.Create(kPods, anti("db3"));
  f.ScheduleAll();
  CHECK(!f.NodeOf("db1").empty());
  CHECK(!f.NodeOf("db2").empty());
  CHECK(f.NodeOf("db1") != f.NodeOf("db2"));
  CHECK(f.NodeOf("db3").empty());
  // db1 and db2 repel db3 first (upstream checks existing pods' anti-affinity first).
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/db3 0/2 nodes are available: 2 node(s) didn't satisfy "
      "existing pods anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption "
      "victims found for incoming pod."));

  // The incoming pod's own anti-affinity against pods that have none.
  for (const char* n : {"n1", "n2"}) {
    json::object web = Pod(std::string("web-") + n);
    api::SetLabel(web, "app", "web");
    Spec(web)["nodeName"] = n;
    f.Create(kPods, web);
  }
  json::object shy = Pod("shy");
  Spec(shy)["affinity"] =
      json::parse(R"({"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      [{"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}})");
  f.Create(kPods, shy);
  f.ScheduleAll();
  CHECK(f.NodeOf("shy").empty());
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/shy 0/2 nodes are available: 2 node(s) didn't match pod "
      "anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption victims found "
      "for incoming pod."));

  // An existing pod's anti-affinity keeps a plain matching pod away.
  json::object plain = Pod("plain-db");
  api::SetLabel(plain, "app", "db");
  f.Create(kPods, plain);
  f.ScheduleAll();
  CHECK(f.NodeOf("plain-db").empty());
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/plain-db 0/2 nodes are available: 2 node(s) didn't "
      "satisfy existing pods anti-affinity rules. preemption: 0/2 nodes are available: 2 No "
      "preemption victims found for incoming pod."));

  // Affinity: a cache must share db1's zone.
  std::string zone_of_db1 = f.NodeOf("db1") == "n1" ? "n1" : "n2";
  json::object cache = Pod("cache");
  Spec(cache)["affinity"] =
      json::parse(R"({"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      [{"labelSelector":{"matchLabels":{"app":"db"}},"topologyKey":"topology.kubernetes.io/zone"}]}})");
  f.Create(kPods, cache);
  json::object lonely = Pod("lonely");
  Spec(lonely)["affinity"] =
      json::parse(R"({"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      [{"labelSelector":{"matchLabels":{"app":"nothing"}},"topologyKey":"kubernetes.io/hostname"}]}})");
  f.Create(kPods, lonely);
  f.ScheduleAll();
  CHECK(!f.NodeOf("cache").empty());
  CHECK(f.NodeOf("lonely").empty());
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/lonely 0/2 nodes are available: 2 node(s) didn't match "
      "pod affinity rules. preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
      "scheduling."));
}

TEST_CASE("Scheduler: PodTopologySpread DoNotSchedule enforces maxSkew", "[scheduler][unit]") {
  Fixture f;
  for (const char* n : {"n1", "n2"}) {
    json::object node = Node(n);
    api::SetLabel(node, "topology.kubernetes.io/zone", n == std::string("n1") ? "z1" : "z2");
    f.Create(kNodes, node);
  }
  json::object pinned = Pod("pinned");
  api::SetLabel(pinned, "app", "web");
  Spec(pinned)["nodeName"] = "n1";
  f.Create(kPods, pinned);
  auto spread = [](const std::string& name, const std::string& node_selector_zone) {
    json::object p = Pod(name);
    api::SetLabel(p, "app", "web");
    Spec(p)["topologySpreadConstraints"] = json::parse(R"([{"maxSkew":1,
        "topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule",
        "labelSelector":{"matchLabels":{"app":"web"}}}])");
    if (!node_selector_zone.empty()) {
      Spec(p)["affinity"] =
          json::parse(R"({"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":
          [{"weight":100,"preference":{"matchExpressions":[{"key":"topology.kubernetes.io/zone","operator":"In","values":["z1"]}]}}]}})");
    }
    return p;
  };
  // Prefers z1, but z1 already has one more: skew would be 2.
  f.Create(kPods, spread("w1", "z1"));
  f.ScheduleAll();
  CHECK(f.NodeOf("w1") == "n2");
}

TEST_CASE("Scheduler: scores choose the emptier node and spread replicas", "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("busy"));
  f.Create(kNodes, Node("idle"));
  json::object hog = Pod("hog", "3", "6Gi");
  Spec(hog)["nodeName"] = "busy";
  f.Create(kPods, hog);
  f.Create(kPods, Pod("new", "100m", "100Mi"));
  f.ScheduleAll();
  CHECK(f.NodeOf("new") == "idle");

  Fixture g;
  for (const char* n : {"n1", "n2", "n3"}) g.Create(kNodes, Node(n));
  for (int i = 0; i < 6; ++i) {
    json::object p = Pod("r" + std::to_string(i), "100m", "100Mi");
    SetOwner(p, "rs-uid");
    g.Create(kPods, p);
  }
  g.ScheduleAll();
  std::map<std::string, int> per_node;
  for (int i = 0; i < 6; ++i) ++per_node[g.NodeOf("r" + std::to_string(i))];
  CHECK(per_node == std::map<std::string, int>{{"n1", 2}, {"n2", 2}, {"n3", 2}});
}

TEST_CASE("Scheduler: the unschedulable message, condition and event follow upstream",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("small", "1"));
  for (const char* n : {"other1", "other2"}) {
    json::object node = Node(n);
    api::SetLabel(node, "pool", "other");
    f.Create(kNodes, node);
  }
  json::object p = Pod("p", "2");
  Spec(p)["affinity"] =
      json::parse(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms":[{"matchExpressions":[{"key":"pool","operator":"NotIn","values":["other"]}]}]}}})");
  f.Create(kPods, p);
  f.ScheduleAll();
  const std::string msg =
      "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
      "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for "
      "incoming pod, 2 Preemption is not helpful for scheduling.";
  CHECK(f.HasEvent("Warning FailedScheduling default/p " + msg));
  json::object pod = f.Get(kPods, "default", "p");
  const json::array* conds = api::GetArray(pod, "status.conditions");
  REQUIRE(conds != nullptr);
  REQUIRE(conds->size() == 1);
  const json::object& c = conds->at(0).as_object();
  CHECK(api::GetString(c, "type") == "PodScheduled");
  CHECK(api::GetString(c, "status") == "False");
  CHECK(api::GetString(c, "reason") == "Unschedulable");
  CHECK(api::GetString(c, "message") == msg);
  CHECK(f.sched->unschedulable_pods() == 1);

  // PreemptionPolicy Never changes the tail.
  json::object never = Pod("never", "2");
  Spec(never)["preemptionPolicy"] = "Never";
  Spec(never)["nodeSelector"] = json::object{{"pool", "none"}};
  f.Create(kPods, never);
  f.ScheduleAll();
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/never 0/3 nodes are available: 3 node(s) didn't match "
      "Pod's node affinity/selector. preemption: not eligible due to preemptionPolicy=Never."));
}

TEST_CASE("Scheduler: an unschedulable pod is retried when a node is added, not after 5 min",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kPods, Pod("p", "1"));
  f.ScheduleAll();
  CHECK(f.NodeOf("p").empty());
  CHECK(f.HasEvent("Warning FailedScheduling default/p no nodes available to schedule pods"));
  CHECK(f.sched->unschedulable_pods() == 1);
  f.clock.Advance(std::chrono::seconds(2));  // backoff over, but no event yet: stays parked
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.sched->stats().attempts == 1);
  CHECK(f.sched->unschedulable_pods() == 1);
  f.Create(kNodes, Node("n1"));  // the node event alone moves it to activeQ
  CHECK(f.sched->active_pods() == 1);
  f.ScheduleAll();
  CHECK(f.NodeOf("p") == "n1");
}

TEST_CASE("Scheduler: a pod that failed moments ago waits out its backoff after an event",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kPods, Pod("p", "1"));
  f.ScheduleAll();
  f.Create(kNodes, Node("n1"));
  CHECK(f.sched->backoff_pods() == 1);
  f.ScheduleAll();
  CHECK(f.NodeOf("p").empty());
  f.clock.Advance(std::chrono::seconds(1));
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.NodeOf("p") == "n1");
}

TEST_CASE("Scheduler: deleting a bound pod frees its resources for pending pods",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1", "1"));
  json::object hog = Pod("hog", "1");
  Spec(hog)["nodeName"] = "n1";
  f.Create(kPods, hog);
  f.Create(kPods, Pod("p", "500m"));
  f.ScheduleAll();
  CHECK(f.NodeOf("p").empty());
  f.clock.Advance(std::chrono::seconds(1));
  f.Delete(kPods, "default", "hog");
  CHECK(f.sched->active_pods() == 1);
  f.ScheduleAll();
  CHECK(f.NodeOf("p") == "n1");
}

TEST_CASE("Scheduler: unschedulable pods without a cluster event wait for backoff and timeout",
          "[scheduler][unit]") {
  SchedulerOptions opts;
  opts.unschedulable_timeout = std::chrono::minutes(5);
  Fixture f(opts);
  f.Create(kNodes, Node("n1", "1"));
  f.Create(kPods, Pod("p", "2"));
  f.ScheduleAll();
  CHECK(f.sched->stats().attempts == 1);
  f.clock.Advance(std::chrono::seconds(30));
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.sched->stats().attempts == 1);  // nothing changed: still parked
  f.clock.Advance(std::chrono::minutes(5));
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.sched->stats().attempts == 2);
}

TEST_CASE("Scheduler: a failed bind is forgotten and retried after backoff", "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1"));
  f.Create(kPods, Pod("p", "100m"));
  f.fake.FailNext("create", Status::Internal("etcd is sad"));
  f.ScheduleAll();
  CHECK(f.NodeOf("p").empty());
  CHECK(f.sched->CachedNodeOf("default/p").empty());  // the assumption was dropped
  CHECK(f.HasEvent("Warning FailedScheduling default/p Binding rejected: etcd is sad"));
  CHECK(f.sched->backoff_pods() == 1);
  f.clock.Advance(std::chrono::milliseconds(500));
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.NodeOf("p").empty());  // 1 s initial backoff not over
  f.clock.Advance(std::chrono::milliseconds(600));
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.NodeOf("p") == "n1");
}

TEST_CASE("Scheduler: WaitForFirstConsumer claims get the selected-node annotation",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1"));
  f.Create(kClasses, json::object{{"metadata", json::object{{"name", "local-path"}}},
                                  {"provisioner", "rancher.io/local-path"},
                                  {"volumeBindingMode", "WaitForFirstConsumer"}});
  f.Create(kClasses, json::object{{"metadata", json::object{{"name", "now"}}},
                                  {"provisioner", "x"},
                                  {"volumeBindingMode", "Immediate"}});
  auto claim = [](const std::string& name, const std::string& cls) {
    return json::object{
        {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
        {"spec", json::object{{"storageClassName", cls},
                              {"accessModes", json::array{"ReadWriteOnce"}},
                              {"resources", json::object{{"requests", {{"storage", "1Gi"}}}}}}}};
  };
  f.Create(kPvcs, claim("data", "local-path"));
  f.Create(kPvcs, claim("eager", "now"));
  auto with_claim = [](const std::string& pod, const std::string& claim_name) {
    json::object p = Pod(pod);
    Spec(p)["volumes"] = json::array{json::object{
        {"name", "v"}, {"persistentVolumeClaim", json::object{{"claimName", claim_name}}}}};
    return p;
  };
  f.Create(kPods, with_claim("user", "data"));
  f.Create(kPods, with_claim("eager-user", "eager"));
  f.Create(kPods, with_claim("missing-user", "missing"));
  f.ScheduleAll();
  CHECK(f.NodeOf("user") == "n1");
  json::object pvc = f.Get(kPvcs, "default", "data");
  CHECK(api::Annotation(pvc, "volume.kubernetes.io/selected-node").value_or("") == "n1");
  CHECK(f.NodeOf("eager-user").empty());
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/eager-user 0/1 nodes are available: pod has unbound "
      "immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is "
      "not helpful for scheduling."));
  CHECK(f.HasEvent(
      "Warning FailedScheduling default/missing-user 0/1 nodes are available: "
      "persistentvolumeclaim \"missing\" not found. preemption: 0/1 nodes are available: 1 No "
      "preemption victims found for incoming pod."));
}

TEST_CASE("Scheduler: a bound PersistentVolume's node affinity filters nodes",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1"));
  f.Create(kNodes, Node("n2"));
  f.Create(
      kPvs,
      json::object{{"metadata", json::object{{"name", "pv1"}}},
                   {"spec", json::parse(R"({"capacity":{"storage":"1Gi"},"nodeAffinity":{"required":
                         {"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname",
                         "operator":"In","values":["n2"]}]}]}}})")}});
  f.Create(kPvcs,
           json::object{{"metadata", json::object{{"name", "data"}, {"namespace", "default"}}},
                        {"spec", json::object{{"volumeName", "pv1"}}}});
  json::object p = Pod("user");
  Spec(p)["volumes"] = json::array{
      json::object{{"name", "v"}, {"persistentVolumeClaim", json::object{{"claimName", "data"}}}}};
  f.Create(kPods, p);
  f.ScheduleAll();
  CHECK(f.NodeOf("user") == "n2");

  // Only n1 left: the volume node affinity conflict is reported.
  Fixture g;
  g.Create(kNodes, Node("n1"));
  g.Create(kPvs, f.Get(kPvs, "", "pv1").at("spec").is_object()
                     ? json::object{{"metadata", json::object{{"name", "pv1"}}},
                                    {"spec", f.Get(kPvs, "", "pv1").at("spec")}}
                     : json::object{});
  g.Create(kPvcs,
           json::object{{"metadata", json::object{{"name", "data"}, {"namespace", "default"}}},
                        {"spec", json::object{{"volumeName", "pv1"}}}});
  g.Create(kPods, p);
  g.ScheduleAll();
  CHECK(g.NodeOf("user").empty());
  CHECK(g.HasEvent(
      "Warning FailedScheduling default/user 0/1 nodes are available: 1 node(s) had volume node "
      "affinity conflict. preemption: 0/1 nodes are available: 1 Preemption is not helpful for "
      "scheduling."));
}

}  // namespace
}  // namespace mini8s::scheduler::test

namespace mini8s::scheduler::test {
namespace {

TEST_CASE("Scheduler: preferred node affinity and preferred pod affinity steer the choice",
          "[scheduler][unit]") {
  Fixture f;
  for (const char* n : {"n1", "n2", "n3"}) {
    json::object node = Node(n);
    api::SetLabel(node, "tier", n == std::string("n2") ? "fast" : "slow");
    f.Create(kNodes, node);
  }
  json::object pref = Pod("pref", "100m");
  Spec(pref)["affinity"] =
      json::parse(R"({"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":
      [{"weight":50,"preference":{"matchExpressions":[{"key":"tier","operator":"In","values":["fast"]}]}}]}})");
  f.Create(kPods, pref);
  f.ScheduleAll();
  CHECK(f.NodeOf("pref") == "n2");

  json::object db = Pod("db", "100m");
  api::SetLabel(db, "app", "db");
  Spec(db)["nodeName"] = "n3";
  f.Create(kPods, db);
  json::object near = Pod("near", "100m");
  Spec(near)["affinity"] =
      json::parse(R"({"podAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":
      [{"weight":100,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"db"}},
        "topologyKey":"kubernetes.io/hostname"}}]}})");
  f.Create(kPods, near);
  json::object away = Pod("away", "100m");
  Spec(away)["affinity"] =
      json::parse(R"({"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":
      [{"weight":100,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"db"}},
        "topologyKey":"kubernetes.io/hostname"}}]}})");
  f.Create(kPods, away);
  f.ScheduleAll();
  CHECK(f.NodeOf("near") == "n3");
  CHECK(f.NodeOf("away") != "n3");
  CHECK(!f.NodeOf("away").empty());
}

TEST_CASE("FakeClient: pods/binding sets nodeName once and rejects a second binding",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kPods, Pod("p"));
  json::object binding{
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", json::object{{"name", "p"}, {"namespace", "default"}}},
      {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}}}};
  client::WriteOptions wo;
  wo.subresource = "binding";
  auto ok = testutil::RunCo(f.io, f.fake.Create(kPods, binding, wo));
  REQUIRE(ok.has_value());
  CHECK(api::GetString(*ok, "status") == "Success");
  json::object pod = f.Get(kPods, "default", "p");
  CHECK(api::GetString(pod, "spec.nodeName") == "n1");
  const json::array* conds = api::GetArray(pod, "status.conditions");
  REQUIRE(conds != nullptr);
  CHECK(api::GetString(conds->at(0).as_object(), "type") == "PodScheduled");
  CHECK(api::GetString(conds->at(0).as_object(), "status") == "True");
  auto again = testutil::RunCo(f.io, f.fake.Create(kPods, binding, wo));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().Is(Code::kConflict));
  CHECK(again.error().message() ==
        "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node "
        "\"n1\"");
  binding["metadata"].as_object()["name"] = "missing";
  auto missing = testutil::RunCo(f.io, f.fake.Create(kPods, binding, wo));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().Is(Code::kNotFound));
  CHECK(f.fake.actions().back() == "create pods/binding default/missing");
}

}  // namespace
}  // namespace mini8s::scheduler::test

namespace mini8s::scheduler::test {
namespace {

TEST_CASE("Scheduler: a pod waiting on pod affinity is retried when a matching pod is bound",
          "[scheduler][unit]") {
  Fixture f;
  f.Create(kNodes, Node("n1"));
  f.Create(kNodes, Node("n2"));
  json::object follower = Pod("follower");
  Spec(follower)["affinity"] =
      json::parse(R"({"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
      [{"labelSelector":{"matchLabels":{"app":"leader"}},"topologyKey":"kubernetes.io/hostname"}]}})");
  f.Create(kPods, follower);
  f.ScheduleAll();
  CHECK(f.NodeOf("follower").empty());
  f.clock.Advance(std::chrono::seconds(2));
  f.sched->FlushQueues();
  f.ScheduleAll();
  CHECK(f.sched->stats().attempts == 1);  // parked until something changes
  json::object leader = Pod("leader");
  api::SetLabel(leader, "app", "leader");
  Spec(leader)["nodeName"] = "n2";
  f.Create(kPods, leader);
  f.ScheduleAll();
  CHECK(f.NodeOf("follower") == "n2");
}

}  // namespace
}  // namespace mini8s::scheduler::test
