// The simulated kubelet and the node agent against FakeClient with a FakeClock.
#include "mini8s/agent/sim_kubelet.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/agent/node_agent.h"
#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::agent {
namespace {

namespace json = boost::json;
using testutil::Poll;
using testutil::RunCo;

const client::Resource kPods{"", "v1", "pods", "Pod", true};
const client::Resource kNodes{"", "v1", "nodes", "Node", false};
const client::Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};

json::object Pod(const std::string& name, const std::string& node, bool job = false) {
  json::object p{{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", json::object{{"namespace", "default"}, {"name", name}}},
                 {"spec", json::object{{"nodeName", node},
                                       {"containers", json::array{json::object{
                                                          {"name", "web"}, {"image", "nginx"}}}}}},
                 {"status", json::object{{"phase", "Pending"}, {"qosClass", "BestEffort"}}}};
  if (job) {
    api::MutableMetadata(p)["ownerReferences"] =
        json::array{json::object{{"apiVersion", "batch/v1"},
                                 {"kind", "Job"},
                                 {"name", "j"},
                                 {"uid", "job-uid"},
                                 {"controller", true}}};
  }
  return p;
}

const json::object* Cond(const json::object& obj, std::string_view type) {
  const json::array* conds = api::GetArray(obj, "status.conditions");
  if (conds == nullptr) return nullptr;
  for (const auto& c : *conds) {
    if (api::GetString(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

struct Fixture {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient client{io.get_executor(), client::FakeClientOptions{1000, &clock}};
  client::Informer pods{client, kPods};
  controllers::WorkQueue queue{io.get_executor(), clock};
  SimulatedKubelet kubelet{pods, queue, clock, SimulatedKubeletOptions{}};
  controllers::EventRecorder events{client, io.get_executor(), clock, "kubelet"};

  Fixture() {
    boost::asio::co_spawn(io, pods.Run(), testutil::Rethrow);
    Poll(io);
    kubelet.AddNode("n1", client, "192.0.2.10", &events);
    kubelet.SetPodCidr("n1", "10.42.3.0/24");
  }
  ~Fixture() {
    pods.Stop();
    queue.ShutDown();
    Poll(io);
  }
  json::object Create(json::object o) {
    auto r = RunCo(io, client.Create(kPods, std::move(o)));
    REQUIRE(r.ok());
    Poll(io);
    return *r;
  }
  controllers::Requeue Sync(const std::string& key) {
    auto r = RunCo(io, kubelet.Reconcile(key));
    REQUIRE(r.ok());
    Poll(io);
    return *r;
  }
  json::object GetPod(const std::string& name) {
    auto r = RunCo(io, client.Get(kPods, "default", name));
    REQUIRE(r.ok());
    return *r;
  }
};

TEST_CASE("simulated kubelet: a bound pod becomes Running and Ready with an IP from the podCIDR",
          "[agent][unit]") {
  Fixture f;
  f.Create(Pod("web-1", "n1"));
  auto rq = f.Sync("default/web-1");
  CHECK_FALSE(rq.requeue);
  json::object p = f.GetPod("web-1");
  CHECK(api::GetString(p, "status.phase") == "Running");
  std::string ip(api::GetString(p, "status.podIP"));
  CHECK(ip.rfind("10.42.3.", 0) == 0);
  CHECK(ip != "10.42.3.0");
  CHECK(ip != "10.42.3.1");
  CHECK(api::GetString(p, "status.hostIP") == "192.0.2.10");
  CHECK(api::GetString(p, "status.qosClass") == "BestEffort");
  CHECK_FALSE(api::GetString(p, "status.startTime").empty());
  for (const char* t :
       {"PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"}) {
    INFO(t);
    REQUIRE(Cond(p, t) != nullptr);
    CHECK(api::GetString(*Cond(p, t), "status") == "True");
  }
  const json::array* cs = api::GetArray(p, "status.containerStatuses");
  REQUIRE(cs != nullptr);
  REQUIRE(cs->size() == 1);
  const json::object& c = cs->at(0).as_object();
  CHECK(api::GetBool(c, "ready") == true);
  CHECK(api::GetBool(c, "started") == true);
  CHECK(api::GetInt(c, "restartCount") == 0);
  CHECK(api::GetString(c, "image") == "docker.io/library/nginx:latest");
  CHECK(api::GetString(c, "imageID").rfind("docker.io/library/nginx@sha256:", 0) == 0);
  CHECK(api::GetString(c, "containerID").rfind("mini8s://", 0) == 0);
  CHECK_FALSE(api::GetString(c, "state.running.startedAt").empty());
  CHECK(f.kubelet.allocated_ips("n1") == 1);
  CHECK(f.events.recorded() ==
        std::vector<std::string>{
            "Normal Pulled Container image \"nginx\" already present on machine",
            "Normal Created Created container: web", "Normal Started Started container web"});

  // A second pod gets another address; pods of other nodes are left alone.
  f.Create(Pod("web-2", "n1"));
  f.Create(Pod("other", "n9"));
  f.Sync("default/web-2");
  f.Sync("default/other");
  CHECK(api::GetString(f.GetPod("web-2"), "status.podIP") != ip);
  CHECK(api::GetString(f.GetPod("other"), "status.phase") == "Pending");
}

TEST_CASE("simulated kubelet: a pod waits for its node's podCIDR", "[agent][unit]") {
  Fixture f;
  SimulatedKubelet& k = f.kubelet;
  k.AddNode("n2", f.client, "192.0.2.11");
  f.Create(Pod("early", "n2"));
  auto rq = f.Sync("default/early");
  CHECK(rq.requeue);
  CHECK(api::GetString(f.GetPod("early"), "status.phase") == "Pending");
  k.SetPodCidr("n2", "10.42.7.0/24");
  f.Sync("default/early");
  CHECK(api::GetString(f.GetPod("early"), "status.podIP").rfind("10.42.7.", 0) == 0);
}

TEST_CASE("simulated kubelet: a readinessProbe delays Ready by its initial delay",
          "[agent][unit]") {
  Fixture f;
  json::object pod = Pod("probed", "n1");
  pod["spec"].as_object()["containers"].as_array()[0].as_object()["readinessProbe"] =
      json::object{{"initialDelaySeconds", 5}};
  f.Create(pod);
  auto rq = f.Sync("default/probed");
  CHECK(rq.requeue);
  CHECK(rq.after == std::chrono::seconds(5));
  json::object p = f.GetPod("probed");
  CHECK(api::GetString(p, "status.phase") == "Running");
  CHECK(api::GetString(*Cond(p, "Ready"), "status") == "False");
  CHECK(api::GetString(*Cond(p, "Ready"), "reason") == "ContainersNotReady");
  f.clock.Advance(std::chrono::seconds(5));
  f.Sync("default/probed");
  CHECK(api::GetString(*Cond(f.GetPod("probed"), "Ready"), "status") == "True");
}

TEST_CASE("simulated kubelet: Job pods succeed after the configured delay", "[agent][unit]") {
  Fixture f;
  f.Create(Pod("job-1", "n1", true));
  auto rq = f.Sync("default/job-1");
  CHECK(rq.requeue);
  CHECK(rq.after == std::chrono::seconds(1));
  CHECK(api::GetString(f.GetPod("job-1"), "status.phase") == "Running");
  f.clock.Advance(std::chrono::milliseconds(500));
  f.Sync("default/job-1");
  CHECK(api::GetString(f.GetPod("job-1"), "status.phase") == "Running");
  f.clock.Advance(std::chrono::milliseconds(500));
  f.Sync("default/job-1");
  json::object p = f.GetPod("job-1");
  CHECK(api::GetString(p, "status.phase") == "Succeeded");
  CHECK(api::GetString(*Cond(p, "Ready"), "status") == "False");
  CHECK(api::GetString(*Cond(p, "Ready"), "reason") == "PodCompleted");
  const json::object& c = api::GetArray(p, "status.containerStatuses")->at(0).as_object();
  CHECK(api::GetInt(c, "state.terminated.exitCode") == 0);
  CHECK(api::GetString(c, "state.terminated.reason") == "Completed");
  CHECK(api::GetBool(c, "ready") == false);
  CHECK(f.kubelet.allocated_ips("n1") == 0);  // released
}

TEST_CASE(
    "simulated kubelet: a deleted pod is removed with grace 0 after the capped grace "
    "period and its IP released",
    "[agent][unit]") {
  Fixture f;
  json::object pod = Pod("doomed", "n1");
  api::AddFinalizer(pod, "test/hold");  // keeps the object visible in the fake after deletes
  f.Create(pod);
  f.Sync("default/doomed");
  CHECK(f.kubelet.allocated_ips("n1") == 1);
  client::DeleteOptions grace30;
  grace30.grace_period_seconds = 30;
  REQUIRE(RunCo(f.io, f.client.Delete(kPods, "default", "doomed", grace30)).ok());
  Poll(f.io);
  f.client.ClearActions();
  auto rq = f.Sync("default/doomed");
  CHECK(rq.requeue);
  CHECK(rq.after == std::chrono::seconds(1));  // min(30 s, the 1 s cap)
  CHECK(f.client.actions().empty());
  f.clock.Advance(std::chrono::seconds(1));
  f.Sync("default/doomed");
  REQUIRE(f.client.actions().size() == 1);
  CHECK(f.client.actions()[0] == "delete pods default/doomed");
  CHECK(f.kubelet.allocated_ips("n1") == 0);
}

TEST_CASE("pod IP pool: addresses skip network and gateway, are unique, and can be adopted",
          "[agent][unit]") {
  PodIpPool pool;
  REQUIRE(pool.Reset("10.42.0.0/29").ok());  // .2 .. .6
  std::set<std::string> got;
  for (int i = 0; i < 5; ++i) {
    auto ip = pool.Allocate("u" + std::to_string(i));
    REQUIRE(ip.ok());
    got.insert(*ip);
  }
  CHECK(got ==
        std::set<std::string>{"10.42.0.2", "10.42.0.3", "10.42.0.4", "10.42.0.5", "10.42.0.6"});
  CHECK(pool.Allocate("u9").error().code() == Code::kResourceExhausted);
  CHECK(*pool.Allocate("u1") == "10.42.0.3");  // stable per pod
  pool.Release("u1");
  CHECK(*pool.Allocate("u9") == "10.42.0.3");
  CHECK_FALSE(pool.Adopt("x", "10.42.0.4"));  // held by u2
  CHECK_FALSE(pool.Adopt("x", "10.42.1.4"));  // outside
  CHECK_FALSE(pool.Reset("fd00::/64").ok());
}

TEST_CASE("node agent: registers the Node with upstream's labels, capacity and conditions",
          "[agent][unit]") {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient client{io.get_executor(), client::FakeClientOptions{1000, &clock}};
  NodeAgentOptions o;
  o.node_name = "sim-0";
  o.node_ip = "192.0.2.5";
  NodeAgent agent(client, io.get_executor(), clock, o);
  std::string seen_cidr;
  agent.OnPodCidr([&](const std::string& c) { seen_cidr = c; });
  REQUIRE(RunCo(io, agent.Register()).ok());
  auto node = RunCo(io, client.Get(kNodes, "", "sim-0"));
  REQUIRE(node.ok());
  CHECK(api::Label(*node, "kubernetes.io/hostname") == "sim-0");
  CHECK(api::Label(*node, "kubernetes.io/os") == "linux");
  CHECK(api::Label(*node, "kubernetes.io/arch") == "amd64");
  CHECK(api::GetString(*node, "status.capacity.pods") == "110");
  CHECK(api::GetString(*node, "status.allocatable.cpu") == "4");
  CHECK_FALSE(api::GetString(*node, "status.capacity.ephemeral-storage").empty());
  const json::object* ready = Cond(*node, "Ready");
  REQUIRE(ready != nullptr);
  CHECK(api::GetString(*ready, "status") == "True");
  CHECK(api::GetString(*ready, "reason") == "KubeletReady");
  CHECK(api::GetString(*ready, "message") == "kubelet is posting ready status");
  for (const char* t : {"MemoryPressure", "DiskPressure", "PIDPressure"}) {
    REQUIRE(Cond(*node, t) != nullptr);
    CHECK(api::GetString(*Cond(*node, t), "status") == "False");
  }
  CHECK(api::GetString(*node, "status.nodeInfo.kubeletVersion").rfind("v1.32.", 0) == 0);
  const json::array* addrs = api::GetArray(*node, "status.addresses");
  REQUIRE(addrs != nullptr);
  CHECK(api::GetString(addrs->at(0).as_object(), "type") == "InternalIP");
  CHECK(api::GetString(addrs->at(0).as_object(), "address") == "192.0.2.5");

  // The lease: created, then renewed with the clock.
  REQUIRE(RunCo(io, agent.RenewLease()).ok());
  auto lease = RunCo(io, client.Get(kLeases, "kube-node-lease", "sim-0"));
  REQUIRE(lease.ok());
  CHECK(api::GetString(*lease, "spec.holderIdentity") == "sim-0");
  CHECK(api::GetInt(*lease, "spec.leaseDurationSeconds") == 40);
  std::string first(api::GetString(*lease, "spec.renewTime"));
  clock.Advance(std::chrono::seconds(10));
  REQUIRE(RunCo(io, agent.RenewLease()).ok());
  lease = RunCo(io, client.Get(kLeases, "kube-node-lease", "sim-0"));
  CHECK(api::GetString(*lease, "spec.renewTime") != first);
  CHECK(api::OwnerReferences(*lease).size() == 1);

  // The podCIDR assigned by IPAM is learned on the next status sync; a restart adopts the Node.
  std::string patch = R"({"spec":{"podCIDR":"10.42.9.0/24","podCIDRs":["10.42.9.0/24"]}})";
  REQUIRE(RunCo(io, client.Patch(kNodes, "", "sim-0", client::PatchType::kMerge, patch,
                                 client::PatchOptions{}))
              .ok());
  REQUIRE(RunCo(io, agent.SyncStatus(false)).ok());
  CHECK(seen_cidr == "10.42.9.0/24");
  NodeAgent restarted(client, io.get_executor(), clock, o);
  REQUIRE(RunCo(io, restarted.Register()).ok());
  CHECK(restarted.pod_cidr() == "10.42.9.0/24");
}

TEST_CASE("node agent: status is posted when it changed, not on every heartbeat", "[agent][unit]") {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient client{io.get_executor(), client::FakeClientOptions{1000, &clock}};
  NodeAgentOptions o;
  o.node_name = "sim-1";
  NodeAgent agent(client, io.get_executor(), clock, o);
  REQUIRE(RunCo(io, agent.Register()).ok());
  client.ClearActions();
  clock.Advance(std::chrono::seconds(10));
  REQUIRE(RunCo(io, agent.SyncStatus(false)).ok());
  CHECK(client.actions() == std::vector<std::string>{"get nodes /sim-1"});
  // The lifecycle controller marked it Unknown: the next sync sets Ready back at once.
  std::string unknown = R"({"status":{"conditions":[{"type":"Ready","status":"Unknown",)"
                        R"("reason":"NodeStatusUnknown"}]}})";
  client::PatchOptions po;
  po.subresource = "status";
  REQUIRE(
      RunCo(io, client.Patch(kNodes, "", "sim-1", client::PatchType::kMerge, unknown, po)).ok());
  REQUIRE(RunCo(io, agent.SyncStatus(false)).ok());
  auto node = RunCo(io, client.Get(kNodes, "", "sim-1"));
  CHECK(api::GetString(*Cond(*node, "Ready"), "status") == "True");
}

}  // namespace
}  // namespace mini8s::agent
