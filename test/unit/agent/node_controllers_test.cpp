// Node IPAM and node lifecycle (NotReady/Unknown, taints, taint-based eviction) with a FakeClock.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/controllers/node.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using testutil::Poll;
using testutil::RunCo;

json::object Node(const std::string& name) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Node"},
                      {"metadata", json::object{{"name", name}}},
                      {"spec", json::object{}}};
}

json::object Lease(const std::string& name, const std::string& renew) {
  return json::object{
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata", json::object{{"name", name}, {"namespace", "kube-node-lease"}}},
      {"spec",
       json::object{{"holderIdentity", name}, {"leaseDurationSeconds", 40}, {"renewTime", renew}}}};
}

json::object Pod(const std::string& name, const std::string& node, json::array tolerations) {
  json::object p{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", json::object{{"namespace", "default"}, {"name", name}}},
      {"spec", json::object{{"nodeName", node}, {"containers", json::array{}}}},
      {"status", json::object{{"phase", "Running"},
                              {"conditions",
                               json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}}}};
  if (!tolerations.empty()) p["spec"].as_object()["tolerations"] = std::move(tolerations);
  return p;
}

json::object Toleration(const std::string& key, std::optional<int64_t> seconds) {
  json::object t{{"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"}};
  if (seconds) t["tolerationSeconds"] = *seconds;
  return t;
}

const json::object* Cond(const json::object& obj, std::string_view type) {
  const json::array* conds = api::GetArray(obj, "status.conditions");
  if (conds == nullptr) return nullptr;
  for (const auto& c : *conds) {
    if (api::GetString(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

bool HasTaint(const json::object& node, std::string_view key, std::string_view effect) {
  const json::array* taints = api::GetArray(node, "spec.taints");
  if (taints == nullptr) return false;
  for (const auto& t : *taints) {
    if (api::GetString(t.as_object(), "key") == key &&
        api::GetString(t.as_object(), "effect") == effect) {
      return true;
    }
  }
  return false;
}

struct Fixture {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient client{io.get_executor(), client::FakeClientOptions{1000, &clock}};
  client::Informer nodes{client, resources::Nodes()};
  client::Informer leases{client, resources::Leases()};
  client::Informer pods{client, resources::Pods()};
  EventRecorder events{client, io.get_executor(), clock, "node-controller"};
  NodeLifecycleController controller{client, nodes, leases, pods, events, clock};

  Fixture() {
    pods.AddIndex(std::string(client::kNodeIndex), client::IndexByNodeName);
    for (client::Informer* i : {&nodes, &leases, &pods}) {
      boost::asio::co_spawn(io, i->Run(), testutil::Rethrow);
    }
    Poll(io);
  }
  ~Fixture() {
    for (client::Informer* i : {&nodes, &leases, &pods}) i->Stop();
    Poll(io);
  }
  void Create(const client::Resource& r, json::object o) {
    REQUIRE(RunCo(io, client.Create(r, std::move(o))).ok());
    Poll(io);
  }
  void Renew(const std::string& name) {
    auto l = RunCo(io, client.Get(resources::Leases(), "kube-node-lease", name));
    REQUIRE(l.ok());
    json::object lease = *l;
    lease["spec"].as_object()["renewTime"] = FormatRfc3339Micro(clock.Now());
    REQUIRE(RunCo(io, client.Update(resources::Leases(), lease)).ok());
    Poll(io);
  }
  Requeue Sync(const std::string& key) {
    auto r = RunCo(io, controller.Reconcile(key));
    REQUIRE(r.ok());
    Poll(io);
    return *r;
  }
  json::object GetNode(const std::string& name) {
    auto r = RunCo(io, client.Get(resources::Nodes(), "", name));
    REQUIRE(r.ok());
    return *r;
  }
  bool PodExists(const std::string& name) {
    return RunCo(io, client.Get(resources::Pods(), "default", name)).ok();
  }
};

TEST_CASE("node lifecycle: a node whose lease stops for 40 s becomes Unknown and unreachable",
          "[node][unit]") {
  Fixture f;
  json::object node = Node("n1");
  node["status"] = json::object{
      {"conditions", json::array{json::object{{"type", "Ready"},
                                              {"status", "True"},
                                              {"reason", "KubeletReady"},
                                              {"lastHeartbeatTime", "2025-11-24T16:00:00Z"}}}}};
  f.Create(resources::Nodes(), node);
  f.Create(resources::Leases(), Lease("n1", FormatRfc3339Micro(f.clock.Now())));
  auto rq = f.Sync("n1");
  CHECK(rq.requeue);
  CHECK(rq.after > std::chrono::seconds(39));
  CHECK(rq.after <= std::chrono::seconds(41));

  f.clock.Advance(std::chrono::seconds(30));
  f.Renew("n1");  // still alive: the grace period restarts
  f.Sync("n1");
  f.clock.Advance(std::chrono::seconds(39));
  f.Sync("n1");
  CHECK(api::GetString(*Cond(f.GetNode("n1"), "Ready"), "status") == "True");

  f.clock.Advance(std::chrono::seconds(2));  // 41 s without a renewal
  f.Sync("n1");
  json::object n = f.GetNode("n1");
  const json::object* ready = Cond(n, "Ready");
  REQUIRE(ready != nullptr);
  CHECK(api::GetString(*ready, "status") == "Unknown");
  CHECK(api::GetString(*ready, "reason") == "NodeStatusUnknown");
  CHECK(api::GetString(*ready, "message") == "Kubelet stopped posting node status.");
  REQUIRE(Cond(n, "MemoryPressure") != nullptr);
  CHECK(api::GetString(*Cond(n, "MemoryPressure"), "reason") == "NodeStatusNeverUpdated");
  CHECK(HasTaint(n, "node.kubernetes.io/unreachable", "NoExecute"));
  CHECK(HasTaint(n, "node.kubernetes.io/unreachable", "NoSchedule"));
  CHECK(std::find(f.events.recorded().begin(), f.events.recorded().end(),
                  "Normal NodeNotReady Node n1 status is now: NodeNotReady") !=
        f.events.recorded().end());

  // The kubelet comes back: Ready again, the taints go.
  f.Renew("n1");
  json::object back = f.GetNode("n1");
  json::object status{
      {"conditions", json::array{json::object{
                         {"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}}}};
  back["status"] = status;
  REQUIRE(RunCo(f.io, f.client.UpdateStatus(resources::Nodes(), back)).ok());
  Poll(f.io);
  f.Sync("n1");
  n = f.GetNode("n1");
  CHECK_FALSE(HasTaint(n, "node.kubernetes.io/unreachable", "NoExecute"));
  CHECK_FALSE(HasTaint(n, "node.kubernetes.io/unreachable", "NoSchedule"));
}

TEST_CASE("node lifecycle: a node reporting Ready=False gets the not-ready taints",
          "[node][unit]") {
  Fixture f;
  json::object node = Node("n2");
  node["status"] = json::object{
      {"conditions", json::array{json::object{{"type", "Ready"}, {"status", "False"}}}}};
  f.Create(resources::Nodes(), node);
  f.Create(resources::Leases(), Lease("n2", FormatRfc3339Micro(f.clock.Now())));
  f.Sync("n2");
  json::object n = f.GetNode("n2");
  CHECK(HasTaint(n, "node.kubernetes.io/not-ready", "NoExecute"));
  CHECK(HasTaint(n, "node.kubernetes.io/not-ready", "NoSchedule"));
  CHECK_FALSE(HasTaint(n, "node.kubernetes.io/unreachable", "NoExecute"));
}

TEST_CASE("node lifecycle: pods on an unreachable node are evicted after their toleration",
          "[node][unit]") {
  Fixture f;
  f.Create(resources::Nodes(), Node("n3"));
  f.Create(resources::Leases(), Lease("n3", FormatRfc3339Micro(f.clock.Now())));
  const std::string unreachable = "node.kubernetes.io/unreachable";
  f.Create(resources::Pods(), Pod("no-toleration", "n3", {}));
  f.Create(resources::Pods(), Pod("tolerates-300", "n3", {Toleration(unreachable, 300)}));
  f.Create(resources::Pods(), Pod("forever", "n3", {Toleration(unreachable, std::nullopt)}));
  f.Create(resources::Pods(), Pod("elsewhere", "n4", {}));
  f.Sync("n3");
  f.clock.Advance(std::chrono::seconds(41));
  auto rq = f.Sync("n3");
  json::object n = f.GetNode("n3");
  REQUIRE(HasTaint(n, unreachable, "NoExecute"));
  // Its pods are marked not ready at once (Services stop sending traffic there).
  auto p = RunCo(f.io, f.client.Get(resources::Pods(), "default", "forever"));
  REQUIRE(p.ok());
  CHECK(api::GetString(*Cond(*p, "Ready"), "status") == "False");

  // No toleration: evicted at once (this reconcile or the next, once the taint is cached).
  f.Sync("n3");
  CHECK_FALSE(f.PodExists("no-toleration"));
  CHECK(f.PodExists("tolerates-300"));
  CHECK(f.PodExists("forever"));
  CHECK(f.PodExists("elsewhere"));
  bool evicted_event = false;
  for (const auto& e : f.events.recorded()) {
    if (e == "Normal TaintManagerEviction Marking for deletion Pod default/no-toleration") {
      evicted_event = true;
    }
  }
  CHECK(evicted_event);

  rq = f.Sync("n3");
  CHECK(rq.requeue);
  CHECK(rq.after > std::chrono::seconds(299));
  CHECK(rq.after <= std::chrono::seconds(301));
  f.clock.Advance(std::chrono::seconds(299));
  f.Sync("n3");
  CHECK(f.PodExists("tolerates-300"));
  f.clock.Advance(std::chrono::seconds(2));
  f.Sync("n3");
  CHECK_FALSE(f.PodExists("tolerates-300"));
  CHECK(f.PodExists("forever"));
}

TEST_CASE("node lifecycle: tolerations match by key, operator, value and effect", "[node][unit]") {
  json::object taint{{"key", "k"}, {"value", "v"}, {"effect", "NoExecute"}};
  json::array none;
  CHECK_FALSE(TolerationSecondsFor(taint, nullptr).has_value());
  CHECK_FALSE(TolerationSecondsFor(taint, &none).has_value());
  json::array exists_any{json::object{{"operator", "Exists"}}};
  CHECK(TolerationSecondsFor(taint, &exists_any) == INT64_MAX);
  json::array equal{json::object{{"key", "k"}, {"value", "v"}, {"tolerationSeconds", 7}}};
  CHECK(TolerationSecondsFor(taint, &equal) == 7);
  json::array wrong_value{json::object{{"key", "k"}, {"operator", "Equal"}, {"value", "x"}}};
  CHECK_FALSE(TolerationSecondsFor(taint, &wrong_value).has_value());
  json::array wrong_effect{
      json::object{{"key", "k"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}};
  CHECK_FALSE(TolerationSecondsFor(taint, &wrong_effect).has_value());
  json::array negative{
      json::object{{"key", "k"}, {"operator", "Exists"}, {"tolerationSeconds", -5}}};
  CHECK(TolerationSecondsFor(taint, &negative) == 0);
}

TEST_CASE("node ipam: nodes get distinct /24s from the cluster CIDR", "[node][unit]") {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient client{io.get_executor(), client::FakeClientOptions{1000, &clock}};
  client::Informer nodes{client, resources::Nodes()};
  EventRecorder events{client, io.get_executor(), clock, "node-ipam-controller"};
  boost::asio::co_spawn(io, nodes.Run(), testutil::Rethrow);
  Poll(io);
  auto c = NodeIpamController::Create(client, nodes, events, "10.42.0.0/16");
  REQUIRE(c.ok());
  CHECK_FALSE(NodeIpamController::Create(client, nodes, events, "10.42.0.0/25").ok());
  CHECK_FALSE(NodeIpamController::Create(client, nodes, events, "nope").ok());

  json::object taken = Node("old");
  taken["spec"].as_object()["podCIDR"] = "10.42.0.0/24";
  for (json::object n : {taken, Node("a"), Node("b")}) {
    REQUIRE(RunCo(io, client.Create(resources::Nodes(), n)).ok());
  }
  Poll(io);
  // Both reconciled before the informer saw either write: still distinct.
  REQUIRE(RunCo(io, (*c)->Reconcile("a")).ok());
  REQUIRE(RunCo(io, (*c)->Reconcile("b")).ok());
  Poll(io);
  auto a = RunCo(io, client.Get(resources::Nodes(), "", "a"));
  auto b = RunCo(io, client.Get(resources::Nodes(), "", "b"));
  CHECK(api::GetString(*a, "spec.podCIDR") == "10.42.1.0/24");
  CHECK(api::GetString(*b, "spec.podCIDR") == "10.42.2.0/24");
  const json::array* cidrs = api::GetArray(*a, "spec.podCIDRs");
  REQUIRE(cidrs != nullptr);
  CHECK(cidrs->at(0).as_string() == "10.42.1.0/24");
  // A deleted node's range is reused.
  REQUIRE(RunCo(io, client.Delete(resources::Nodes(), "", "a")).ok());
  Poll(io);
  REQUIRE(RunCo(io, (*c)->Reconcile("a")).ok());
  REQUIRE(RunCo(io, client.Create(resources::Nodes(), Node("c"))).ok());
  Poll(io);
  REQUIRE(RunCo(io, (*c)->Reconcile("c")).ok());
  auto cn = RunCo(io, client.Get(resources::Nodes(), "", "c"));
  CHECK(api::GetString(*cn, "spec.podCIDR") == "10.42.1.0/24");
  nodes.Stop();
  Poll(io);
}

}  // namespace
}  // namespace mini8s::controllers
