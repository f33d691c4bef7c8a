#include "mini8s/controllers/endpoints.h"

#include <set>
#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/controllers/service_lb.h"
#include "unit/ctrl_service/env.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using testing::Env;

const client::Resource kSvc = resources::Services();
const client::Resource kPods = resources::Pods();
const client::Resource kEps = resources::Endpoints();
const client::Resource kSlices = resources::EndpointSlices();
const client::Resource kNodes = resources::Nodes();

json::object Pod(std::string name, std::string ip, bool ready, std::string app = "web",
                 std::string node = "n1") {
  json::object pod = json::parse(R"({
    "apiVersion":"v1","kind":"Pod",
    "metadata":{"namespace":"default","labels":{}},
    "spec":{"containers":[{"name":"c","ports":[
        {"name":"http","containerPort":8080},
        {"name":"dns","containerPort":5353,"protocol":"UDP"}]}]},
    "status":{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}})")
                         .as_object();
  api::SetName(pod, name);
  api::SetLabel(pod, "app", app);
  auto& spec = api::MutableObjectAt(pod, "spec");
  if (!node.empty()) spec["nodeName"] = node;
  auto& status = api::MutableObjectAt(pod, "status");
  if (!ip.empty()) {
    status["podIP"] = ip;
    status["podIPs"] = json::array{json::object{{"ip", ip}}};
  }
  status["conditions"].as_array()[0].as_object()["status"] = ready ? "True" : "False";
  return pod;
}

json::object Service(std::string name, std::string spec_json) {
  json::object svc{{"apiVersion", "v1"}, {"kind", "Service"}};
  svc["metadata"] = json::object{
      {"namespace", "default"}, {"name", name}, {"labels", json::object{{"team", "a"}}}};
  svc["spec"] = json::parse(spec_json);
  return svc;
}

const json::array* Subsets(const json::object& ep) { return api::GetArray(ep, "subsets"); }

std::set<std::string> Ips(const json::value& addrs) {
  std::set<std::string> out;
  if (!addrs.is_array()) return out;
  for (const auto& a : addrs.as_array()) out.insert(std::string(a.at("ip").as_string()));
  return out;
}

TEST_CASE("EndpointsController: ready pods are addresses, not-ready ones notReadyAddresses",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& pods = env.Inf(kPods);
  auto& eps = env.Inf(kEps);
  EndpointsController ctl(env.fake, svcs, pods, eps, env.queue, env.clock);
  env.Start();
  env.Create(kSvc, Service("web", R"({"clusterIP":"10.43.1.1","selector":{"app":"web"},
      "ports":[{"name":"http","port":80,"targetPort":"http"}]})"));
  env.Create(kPods, Pod("a", "10.42.0.5", true));
  env.Create(kPods, Pod("b", "10.42.0.6", false));
  env.Create(kPods, Pod("c", "", true));                 // no IP yet
  env.Create(kPods, Pod("d", "10.42.0.8", true, "db"));  // not selected
  env.Drain(ctl);

  auto ep = env.Get(kEps, "default", "web");
  REQUIRE(ep.has_value());
  const json::array* subsets = Subsets(*ep);
  REQUIRE(subsets);
  REQUIRE(subsets->size() == 1);
  const auto& s = subsets->at(0).as_object();
  CHECK(Ips(s.at("addresses")) == std::set<std::string>{"10.42.0.5"});
  CHECK(Ips(s.at("notReadyAddresses")) == std::set<std::string>{"10.42.0.6"});
  CHECK(json::serialize(s.at("ports")) == R"([{"name":"http","port":8080,"protocol":"TCP"}])");
  const auto& addr = s.at("addresses").as_array()[0].as_object();
  CHECK(addr.at("nodeName") == "n1");
  CHECK(addr.at("targetRef").at("kind") == "Pod");
  CHECK(addr.at("targetRef").at("name") == "a");
  CHECK(api::Label(*ep, "team") == "a");
  CHECK(api::Annotation(*ep, kLastChangeTriggerTime).has_value());

  // b becomes ready: it moves to addresses.
  auto b = env.Get(kPods, "default", "b");
  REQUIRE(b.has_value());
  api::MutableObjectAt(*b, "status")["conditions"].as_array()[0].as_object()["status"] = "True";
  REQUIRE(env.Run(env.fake.UpdateStatus(kPods, *b)).has_value());
  CHECK(env.queue.Len() == 1);
  env.Drain(ctl);
  ep = env.Get(kEps, "default", "web");
  REQUIRE(ep.has_value());
  const auto& s2 = Subsets(*ep)->at(0).as_object();
  CHECK(Ips(s2.at("addresses")) == std::set<std::string>{"10.42.0.5", "10.42.0.6"});
  CHECK_FALSE(s2.contains("notReadyAddresses"));

  // Deleting a pod removes it; deleting the service removes the Endpoints.
  REQUIRE(env.Run(env.fake.Delete(kPods, "default", "a")).has_value());
  env.Drain(ctl);
  ep = env.Get(kEps, "default", "web");
  CHECK(Ips(Subsets(*ep)->at(0).at("addresses")) == std::set<std::string>{"10.42.0.6"});
  REQUIRE(env.Run(env.fake.Delete(kSvc, "default", "web")).has_value());
  env.Drain(ctl);
  CHECK(env.Get(kEps, "default", "web").error().code() == Code::kNotFound);
}

TEST_CASE("EndpointsController: named ports resolve per pod and by protocol",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& pods = env.Inf(kPods);
  auto& eps = env.Inf(kEps);
  EndpointsController ctl(env.fake, svcs, pods, eps, env.queue, env.clock);
  env.Start();
  env.Create(kSvc, Service("dns", R"({"selector":{"app":"web"},"ports":[
      {"name":"dns","port":53,"protocol":"UDP","targetPort":"dns"},
      {"name":"metrics","port":9090,"targetPort":"metrics"},
      {"name":"plain","port":81}]})"));
  auto other = Pod("x", "10.42.0.9", true);
  // x names its port differently: 9100 for metrics.
  api::MutableObjectAt(other, "spec")["containers"].as_array()[0].as_object()["ports"] =
      json::parse(R"([{"name":"dns","containerPort":53,"protocol":"UDP"},
                      {"name":"metrics","containerPort":9100}])");
  env.Create(kPods, Pod("a", "10.42.0.5", true));
  env.Create(kPods, other);
  env.Drain(ctl);
  auto ep = env.Get(kEps, "default", "dns");
  REQUIRE(ep.has_value());
  const json::array* subsets = Subsets(*ep);
  REQUIRE(subsets);
  REQUIRE(subsets->size() == 2);  // different port sets cannot share a subset
  std::map<std::string, std::string> ports_by_ip;
  for (const auto& s : *subsets) {
    for (const auto& ip : Ips(s.at("addresses"))) {
      ports_by_ip[ip] = json::serialize(s.at("ports"));
    }
  }
  // a has no "metrics" port: it serves dns (5353/UDP) and plain (81) only.
  CHECK(
      ports_by_ip["10.42.0.5"] ==
      R"([{"name":"dns","port":5353,"protocol":"UDP"},{"name":"plain","port":81,"protocol":"TCP"}])");
  CHECK(
      ports_by_ip["10.42.0.9"] ==
      R"([{"name":"dns","port":53,"protocol":"UDP"},{"name":"metrics","port":9100,"protocol":"TCP"},{"name":"plain","port":81,"protocol":"TCP"}])");
}

TEST_CASE("EndpointsController: publishNotReadyAddresses, hostnames, headless, no selector",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& pods = env.Inf(kPods);
  auto& eps = env.Inf(kEps);
  EndpointsController ctl(env.fake, svcs, pods, eps, env.queue, env.clock);
  env.Start();
  env.Create(kSvc, Service("db", R"({"clusterIP":"None","publishNotReadyAddresses":true,
      "selector":{"app":"db"}})"));
  env.Create(kSvc, Service("manual", R"({"ports":[{"port":80}]})"));
  auto p = Pod("db-0", "10.42.0.20", false, "db");
  api::MutableObjectAt(p, "spec")["hostname"] = "db-0";
  api::MutableObjectAt(p, "spec")["subdomain"] = "db";
  env.Create(kPods, p);
  auto q = Pod("db-1", "10.42.0.21", false, "db");
  api::MutableObjectAt(q, "spec")["hostname"] = "db-1";
  api::MutableObjectAt(q, "spec")["subdomain"] = "other";
  env.Create(kPods, q);
  env.Create(kEps, R"({"metadata":{"namespace":"default","name":"manual"},
      "subsets":[{"addresses":[{"ip":"192.168.1.1"}],"ports":[{"port":80}]}]})");
  env.Drain(ctl);

  auto ep = env.Get(kEps, "default", "db");
  REQUIRE(ep.has_value());
  const auto& s = Subsets(*ep)->at(0).as_object();
  CHECK(Ips(s.at("addresses")) == std::set<std::string>{"10.42.0.20", "10.42.0.21"});
  CHECK_FALSE(s.contains("ports"));
  const auto& a0 = s.at("addresses").as_array()[0].as_object();
  const auto& a1 = s.at("addresses").as_array()[1].as_object();
  CHECK(a0.at("hostname") == "db-0");
  CHECK_FALSE(a1.contains("hostname"));
  CHECK(api::Label(*ep, kHeadlessLabel) == "");

  auto manual = env.Get(kEps, "default", "manual");
  REQUIRE(manual.has_value());
  CHECK(Ips(Subsets(*manual)->at(0).at("addresses")) == std::set<std::string>{"192.168.1.1"});
}

std::vector<json::object> ManagedSlices(Env& env, std::string service) {
  std::vector<json::object> out;
  for (auto& s : env.List(kSlices, "default")) {
    if (api::Label(s, kServiceNameLabel) == service) out.push_back(std::move(s));
  }
  return out;
}

TEST_CASE("EndpointSliceController: slices are labelled, owned and carry conditions",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& pods = env.Inf(kPods);
  auto& slices = env.Inf(kSlices);
  auto& nodes = env.Inf(kNodes);
  EndpointSliceController ctl(env.fake, svcs, pods, slices, &nodes, env.queue, env.clock);
  env.Start();
  env.Create(kNodes, R"({"metadata":{"name":"n1","labels":{"topology.kubernetes.io/zone":"z1"}}})");
  auto svc = env.Create(kSvc, Service("web", R"({"clusterIP":"10.43.1.1","selector":{"app":"web"},
      "ports":[{"name":"http","port":80,"targetPort":"http"}]})"));
  // No pods yet: one placeholder slice.
  env.Drain(ctl);
  auto got = ManagedSlices(env, "web");
  REQUIRE(got.size() == 1);
  CHECK(got[0].at("endpoints").as_array().empty());
  CHECK(got[0].at("ports").is_null());

  env.Create(kPods, Pod("a", "10.42.0.5", true));
  env.Create(kPods, Pod("b", "10.42.0.6", false));
  env.Drain(ctl);
  got = ManagedSlices(env, "web");
  REQUIRE(got.size() == 1);
  const auto& s = got[0];
  CHECK(api::Label(s, kManagedByLabel) == kEndpointSliceControllerName);
  CHECK(api::Label(s, "team") == "a");
  CHECK(s.at("addressType") == "IPv4");
  CHECK(json::serialize(s.at("ports")) == R"([{"name":"http","port":8080,"protocol":"TCP"}])");
  auto owner = api::ControllerOf(s);
  REQUIRE(owner);
  CHECK(owner->kind == "Service");
  CHECK(owner->uid == api::Uid(svc));
  const auto& eps = s.at("endpoints").as_array();
  REQUIRE(eps.size() == 2);
  std::map<std::string, json::object> by_ip;
  for (const auto& e : eps) by_ip[std::string(e.at("addresses").at(0).as_string())] = e.as_object();
  CHECK(json::serialize(by_ip["10.42.0.5"].at("conditions")) ==
        R"({"ready":true,"serving":true,"terminating":false})");
  CHECK(json::serialize(by_ip["10.42.0.6"].at("conditions")) ==
        R"({"ready":false,"serving":false,"terminating":false})");
  CHECK(by_ip["10.42.0.5"].at("nodeName") == "n1");
  CHECK(by_ip["10.42.0.5"].at("zone") == "z1");
  CHECK(by_ip["10.42.0.5"].at("targetRef").at("name") == "a");

  // A reconcile with nothing changed writes nothing, even when the stored slice's objects come
  // back with their keys in another order.
  json::object reordered = got[0];
  reordered["ports"] = json::parse(R"([{"protocol":"TCP","port":8080,"name":"http"}])");
  REQUIRE(env.Run(env.fake.Update(kSlices, reordered)).has_value());
  env.Drain(ctl);
  env.fake.ClearActions();
  env.queue.Add("default/web");
  env.Drain(ctl);
  for (const auto& a : env.fake.actions()) CHECK(a.rfind("list", 0) == 0);
}

TEST_CASE("EndpointSliceController: more than 100 endpoints are split across slices",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& pods = env.Inf(kPods);
  auto& slices = env.Inf(kSlices);
  EndpointSliceController ctl(env.fake, svcs, pods, slices, nullptr, env.queue, env.clock);
  env.Start();
  env.Create(
      kSvc,
      Service("big", R"({"selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]})"));
  for (int i = 0; i < 250; ++i) {
    env.Create(kPods,
               Pod("p" + std::to_string(i),
                   "10.42." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1), true));
  }
  env.Drain(ctl);
  auto got = ManagedSlices(env, "big");
  REQUIRE(got.size() == 3);
  std::set<std::string> all;
  size_t total = 0;
  for (const auto& s : got) {
    const auto& eps = s.at("endpoints").as_array();
    CHECK(eps.size() <= kMaxEndpointsPerSlice);
    total += eps.size();
    for (const auto& e : eps) all.insert(std::string(e.at("addresses").at(0).as_string()));
  }
  CHECK(total == 250);
  CHECK(all.size() == 250);

  // Removing pods keeps the others where they are and drops emptied slices.
  for (int i = 0; i < 120; ++i) {
    REQUIRE(env.Run(env.fake.Delete(kPods, "default", "p" + std::to_string(i))).has_value());
  }
  env.Drain(ctl);
  got = ManagedSlices(env, "big");
  total = 0;
  for (const auto& s : got) total += s.at("endpoints").as_array().size();
  CHECK(total == 130);
  CHECK(got.size() >= 2);
  CHECK(got.size() <= 3);
  for (const auto& s : got) CHECK_FALSE(s.at("endpoints").as_array().empty());

  // Deleting the service deletes its slices.
  REQUIRE(env.Run(env.fake.Delete(kSvc, "default", "big")).has_value());
  env.Drain(ctl);
  CHECK(ManagedSlices(env, "big").empty());
}

TEST_CASE("EndpointSliceController: a stale cache does not create duplicate slices",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& pods = env.Inf(kPods);
  // A slice informer that never runs: the cache never sees the controller's own writes.
  client::Informer frozen(env.fake, kSlices);
  frozen.AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  EndpointSliceController ctl(env.fake, svcs, pods, frozen, nullptr, env.queue, env.clock);
  env.Start();
  env.Create(kSvc, Service("web", R"({"selector":{"app":"web"},"ports":[{"port":80}]})"));
  env.Create(kPods, Pod("a", "10.42.0.5", true));
  REQUIRE(env.Run(ctl.Reconcile("default/web")).has_value());
  REQUIRE(ManagedSlices(env, "web").size() == 1);
  env.fake.ClearActions();
  REQUIRE(env.Run(ctl.Reconcile("default/web")).has_value());
  CHECK(ManagedSlices(env, "web").size() == 1);
  bool listed = false;
  for (const auto& a : env.fake.actions()) listed |= a.rfind("list endpointslices", 0) == 0;
  CHECK(listed);
  // A new pod lands in the existing slice, found through the API.
  env.Create(kPods, Pod("b", "10.42.0.6", true));
  REQUIRE(env.Run(ctl.Reconcile("default/web")).has_value());
  auto got = ManagedSlices(env, "web");
  REQUIRE(got.size() == 1);
  CHECK(got[0].at("endpoints").as_array().size() == 2);
}

TEST_CASE("EndpointSliceController: services without a selector are left alone",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& pods = env.Inf(kPods);
  auto& slices = env.Inf(kSlices);
  EndpointSliceController ctl(env.fake, svcs, pods, slices, nullptr, env.queue, env.clock);
  env.Start();
  env.Create(kSvc, Service("manual", R"({"ports":[{"port":80}]})"));
  env.Drain(ctl);
  CHECK(ManagedSlices(env, "manual").empty());
}

TEST_CASE("KubernetesServiceController: creates and repairs the kubernetes service and endpoints",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& eps = env.Inf(kEps);
  auto& slices = env.Inf(kSlices);
  ClusterConfig config;
  config.api_server_host = "192.168.5.10";
  config.api_server_port = 6443;
  KubernetesServiceController ctl(env.fake, svcs, eps, slices, env.queue, config);
  env.Start();
  env.queue.Add("default/kubernetes");
  env.Drain(ctl);

  auto svc = env.Get(kSvc, "default", "kubernetes");
  REQUIRE(svc.has_value());
  CHECK(api::GetString(*svc, "spec.clusterIP") == "10.43.0.1");
  CHECK(json::serialize(*api::FindPath(*svc, "spec.ports")) ==
        R"([{"name":"https","port":443,"protocol":"TCP","targetPort":6443}])");
  CHECK(api::Label(*svc, "component") == "apiserver");
  CHECK(api::FindPath(*svc, "spec.selector") == nullptr);
  auto ep = env.Get(kEps, "default", "kubernetes");
  REQUIRE(ep.has_value());
  CHECK(
      json::serialize(*api::FindPath(*ep, "subsets")) ==
      R"([{"addresses":[{"ip":"192.168.5.10"}],"ports":[{"name":"https","port":6443,"protocol":"TCP"}]}])");
  auto slice = env.Get(kSlices, "default", "kubernetes");
  REQUIRE(slice.has_value());
  CHECK(api::Label(*slice, kServiceNameLabel) == "kubernetes");
  CHECK(json::serialize(slice->at("endpoints")) ==
        R"([{"addresses":["192.168.5.10"],"conditions":{"ready":true}}])");

  // Someone edits the endpoints: they are put back.
  json::object broken = *ep;
  broken["subsets"] = json::parse(R"([{"addresses":[{"ip":"1.2.3.4"}],"ports":[{"port":1}]}])");
  REQUIRE(env.Run(env.fake.Update(kEps, broken)).has_value());
  env.Drain(ctl);
  ep = env.Get(kEps, "default", "kubernetes");
  CHECK(Ips(ep->at("subsets").at(0).at("addresses")) == std::set<std::string>{"192.168.5.10"});
}

json::object Node(std::string name, bool ready, std::string internal, std::string external = "") {
  json::object node{{"apiVersion", "v1"}, {"kind", "Node"}};
  node["metadata"] = json::object{{"name", name}};
  json::array addrs{json::object{{"type", "InternalIP"}, {"address", internal}},
                    json::object{{"type", "Hostname"}, {"address", name}}};
  if (!external.empty())
    addrs.push_back(json::object{{"type", "ExternalIP"}, {"address", external}});
  node["status"] = json::object{
      {"addresses", std::move(addrs)},
      {"conditions",
       json::array{json::object{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
  return node;
}

TEST_CASE("ServiceLbController: LoadBalancer status lists the ready nodes' addresses",
          "[ctrl_service][unit]") {
  Env env;
  auto& svcs = env.Inf(kSvc);
  auto& nodes = env.Inf(kNodes);
  ServiceLbController ctl(env.fake, svcs, nodes, env.queue);
  env.Start();
  env.Create(kNodes, Node("n1", true, "192.168.1.11"));
  env.Create(kNodes, Node("n2", true, "192.168.1.10"));
  env.Create(kNodes, Node("n3", false, "192.168.1.12"));
  env.Create(kSvc, Service("lb", R"({"type":"LoadBalancer","clusterIP":"10.43.2.2",
      "ports":[{"port":80,"nodePort":30080}]})"));
  env.Create(kSvc, Service("other", R"({"type":"LoadBalancer","loadBalancerClass":"x/y",
      "ports":[{"port":80}]})"));
  env.Drain(ctl);
  auto svc = env.Get(kSvc, "default", "lb");
  REQUIRE(svc.has_value());
  CHECK(json::serialize(*api::FindPath(*svc, "status.loadBalancer.ingress")) ==
        R"([{"ip":"192.168.1.10","ipMode":"VIP"},{"ip":"192.168.1.11","ipMode":"VIP"}])");
  CHECK(api::FindPath(*env.Get(kSvc, "default", "other"), "status.loadBalancer.ingress") ==
        nullptr);

  // A node with an ExternalIP: external addresses win.
  env.Create(kNodes, Node("n4", true, "192.168.1.13", "203.0.113.4"));
  env.Drain(ctl);
  svc = env.Get(kSvc, "default", "lb");
  CHECK(json::serialize(*api::FindPath(*svc, "status.loadBalancer.ingress")) ==
        R"([{"ip":"203.0.113.4","ipMode":"VIP"}])");

  // Type changes to ClusterIP: the ingress goes away.
  json::object cip = *svc;
  api::MutableObjectAt(cip, "spec")["type"] = "ClusterIP";
  REQUIRE(env.Run(env.fake.Update(kSvc, cip)).has_value());
  env.Drain(ctl);
  svc = env.Get(kSvc, "default", "lb");
  CHECK(api::FindPath(*svc, "status.loadBalancer.ingress") == nullptr);
}

}  // namespace
}  // namespace mini8s::controllers
