#include "mini8s/controllers/service_alloc.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/schema.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;

const api::KindInfo& ServiceKind() {
  static const api::KindInfo kind = [] {
    api::KindInfo k;
    k.version = "v1";
    k.kind = "Service";
    k.plural = "services";
    return k;
  }();
  return kind;
}

const server::UserInfo& Admin() {
  static const server::UserInfo user{"admin", "", {"system:masters"}};
  return user;
}

json::object Svc(std::string_view name, std::string_view spec_json) {
  json::object o;
  o["apiVersion"] = "v1";
  o["kind"] = "Service";
  o["metadata"] = json::object{{"namespace", "default"}, {"name", name}};
  o["spec"] = json::parse(spec_json).as_object();
  return o;
}

std::unique_ptr<ServiceAllocationPlugin> NewPlugin(ClusterConfig config = {}, int port_base = 30000,
                                                   int port_size = 2768) {
  auto p = ServiceAllocationPlugin::Create(config, port_base, port_size);
  REQUIRE(p.has_value());
  return std::move(*p);
}

Status Create(ServiceAllocationPlugin& p, json::object& svc, bool dry_run = false) {
  server::AdmissionAttributes a{"CREATE", ServiceKind(), "",      "default", api::Name(svc),
                                &svc,     nullptr,       Admin(), dry_run};
  Status s = p.Admit(a);
  return s;
}

void CommitCreate(ServiceAllocationPlugin& p, json::object& svc, bool ok) {
  server::AdmissionAttributes a{"CREATE", ServiceKind(), "",      "default", api::Name(svc),
                                &svc,     nullptr,       Admin(), false};
  p.Committed(a, ok);
}

// Admit + Committed for an update; returns Admit's status.
Status Update(ServiceAllocationPlugin& p, json::object& svc, const json::object& old,
              bool commit = true) {
  server::AdmissionAttributes a{"UPDATE", ServiceKind(), "",      "default", api::Name(svc),
                                &svc,     &old,          Admin(), false};
  Status s = p.Admit(a);
  if (s.ok()) p.Committed(a, commit);
  return s;
}

void Delete(ServiceAllocationPlugin& p, const json::object& old) {
  server::AdmissionAttributes a{"DELETE", ServiceKind(), "",      "default", api::Name(old),
                                nullptr,  &old,          Admin(), false};
  REQUIRE(p.Admit(a).ok());
  p.Committed(a, true);
}

std::string Ip(const json::object& svc) {
  return std::string(api::GetString(svc, "spec.clusterIP"));
}

int NodePort(const json::object& svc, size_t i) {
  return static_cast<int>(
      api::GetArray(svc, "spec.ports")->at(i).as_object().at("nodePort").as_int64());
}

TEST_CASE("IpAllocator: hands out every usable address once, never the reserved ones",
          "[ctrl_service][unit]") {
  auto a = IpAllocator::Create("10.43.0.0/27", {"10.43.0.10"});
  REQUIRE(a.has_value());
  IpAllocator& ips = **a;
  CHECK(ips.FirstAddress() == "10.43.0.1");
  std::set<std::string> seen;
  // 30 usable addresses, two of them only on request.
  for (int i = 0; i < 28; ++i) {
    auto ip = ips.AllocateNext();
    REQUIRE(ip.has_value());
    CHECK(seen.insert(*ip).second);
  }
  CHECK(seen.count("10.43.0.1") == 0);
  CHECK(seen.count("10.43.0.10") == 0);
  CHECK(seen.count("10.43.0.0") == 0);
  CHECK(seen.count("10.43.0.31") == 0);
  auto full = ips.AllocateNext();
  REQUIRE_FALSE(full.has_value());
  CHECK(full.error().message() == "range is full");
  CHECK(ips.Allocate("10.43.0.10").ok());
  CHECK(ips.Allocate("10.43.0.1").ok());
  CHECK(ips.Allocate("10.43.0.1").message() == "provided IP is already allocated");
  CHECK(ips.Allocate("10.44.0.1").message() ==
        "the provided IP (10.44.0.1) is not in the valid range. The range of valid IPs is "
        "10.43.0.0/27");
  ips.Release(*seen.begin());
  auto again = ips.AllocateNext();
  REQUIRE(again.has_value());
  CHECK(*again == *seen.begin());
}

TEST_CASE("IpAllocator: rejects CIDRs that are not IPv4 or too small", "[ctrl_service][unit]") {
  CHECK_FALSE(IpAllocator::Create("fd00::/108").has_value());
  CHECK_FALSE(IpAllocator::Create("10.43.0.0/31").has_value());
  CHECK_FALSE(IpAllocator::Create("10.43.0.0").has_value());
  auto a = IpAllocator::Create("10.43.7.9/16");
  REQUIRE(a.has_value());
  CHECK((*a)->Cidr() == "10.43.0.0/16");
}

TEST_CASE("IpAllocator: dynamic allocation prefers the upper range over the static band",
          "[ctrl_service][unit]") {
  auto a = IpAllocator::Create("10.43.0.0/16");
  REQUIRE(a.has_value());
  for (int i = 0; i < 200; ++i) {
    auto ip = (*a)->AllocateNext();
    REQUIRE(ip.has_value());
    // The band is the lowest 256 addresses: 10.43.0.1 - 10.43.1.0.
    CHECK(ip->rfind("10.43.0.", 0) != 0);
  }
}

TEST_CASE("Allocators: concurrent allocation never hands out a value twice",
          "[ctrl_service][unit]") {
  auto a = IpAllocator::Create("10.43.0.0/22");
  REQUIRE(a.has_value());
  IpAllocator& ips = **a;
  PortAllocator ports(30000, 2768);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::vector<std::vector<std::string>> got_ips(kThreads);
  std::vector<std::vector<int>> got_ports(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto ip = ips.AllocateNext();
        if (ip) got_ips[t].push_back(*ip);
        auto port = ports.AllocateNext();
        if (port) got_ports[t].push_back(*port);
        // Churn: give some back and take them again.
        if (i % 5 == 0 && ip) {
          ips.Release(*ip);
          got_ips[t].pop_back();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all_ips;
  std::set<int> all_ports;
  size_t n_ips = 0, n_ports = 0;
  for (int t = 0; t < kThreads; ++t) {
    n_ips += got_ips[t].size();
    n_ports += got_ports[t].size();
    all_ips.insert(got_ips[t].begin(), got_ips[t].end());
    all_ports.insert(got_ports[t].begin(), got_ports[t].end());
  }
  CHECK(n_ips == all_ips.size());
  CHECK(n_ports == all_ports.size());
  CHECK(n_ports == kThreads * kPerThread);
  CHECK(ips.Used() == n_ips);
  for (int p : all_ports) {
    CHECK(p >= 30000);
    CHECK(p <= 32767);
  }
}

TEST_CASE("ServiceAllocation: concurrent creates and deletes never share an address or port",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::vector<std::vector<json::object>> kept(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto svc = Svc("s" + std::to_string(t) + "-" + std::to_string(i),
                       R"({"type":"NodePort","ports":[{"port":80},{"port":443}]})");
        if (!Create(*p, svc).ok()) continue;
        if (i % 3 == 0) {
          CommitCreate(*p, svc, false);  // a failed write
        } else if (i % 3 == 1) {
          // No Catch2 assertions off the main thread (they are not thread-safe).
          server::AdmissionAttributes del{"DELETE",  ServiceKind(),  "",
                                          "default", api::Name(svc), nullptr,
                                          &svc,      Admin(),        false};
          if (p->Admit(del).ok()) p->Committed(del, true);
        } else {
          kept[t].push_back(std::move(svc));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> ips;
  std::set<int> ports;
  size_t n = 0;
  for (const auto& list : kept) {
    for (const auto& svc : list) {
      ++n;
      CHECK(ips.insert(Ip(svc)).second);
      CHECK(ports.insert(NodePort(svc, 0)).second);
      CHECK(ports.insert(NodePort(svc, 1)).second);
    }
  }
  CHECK(n == kThreads * (kPerThread / 3));
  CHECK(p->ips().Used() == n);
  CHECK(p->ports().Used() == 2 * n);
}

TEST_CASE("ServiceAllocation: a ClusterIP service gets an address and single-stack fields",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto svc = Svc("web", R"({"selector":{"app":"web"},"ports":[{"port":80}]})");
  REQUIRE(Create(*p, svc).ok());
  std::string ip = Ip(svc);
  CHECK(p->ips().Has(ip));
  CHECK(ip != "10.43.0.1");
  CHECK(ip != "10.43.0.10");
  CHECK(json::serialize(api::FindPath(svc, "spec.clusterIPs")->as_array()) == "[\"" + ip + "\"]");
  CHECK(json::serialize(*api::FindPath(svc, "spec.ipFamilies")) == R"(["IPv4"])");
  CHECK(api::GetString(svc, "spec.ipFamilyPolicy") == "SingleStack");
  CHECK(api::GetArray(svc, "spec.ports")->at(0).as_object().count("nodePort") == 0);
}

TEST_CASE("ServiceAllocation: a requested ClusterIP is honoured or refused with upstream's message",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto a = Svc("a", R"({"clusterIP":"10.43.0.5","ports":[{"port":80}]})");
  REQUIRE(Create(*p, a).ok());
  CHECK(Ip(a) == "10.43.0.5");
  auto b = Svc("b", R"({"clusterIP":"10.43.0.5","ports":[{"port":80}]})");
  Status s = Create(*p, b);
  CHECK(s.code() == Code::kInvalid);
  CHECK(s.message() ==
        "Service \"b\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.43.0.5\"}: "
        "failed to allocate IP 10.43.0.5: provided IP is already allocated");
  auto c = Svc("c", R"({"clusterIP":"192.168.1.1","ports":[{"port":80}]})");
  s = Create(*p, c);
  CHECK(s.code() == Code::kInvalid);
  CHECK(s.message() ==
        "Service \"c\" is invalid: spec.clusterIPs: Invalid value: []string{\"192.168.1.1\"}: "
        "failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid "
        "range. The range of valid IPs is 10.43.0.0/16");
  // The cluster DNS address is handed out on request.
  auto dns = Svc("kube-dns", R"({"clusterIP":"10.43.0.10","ports":[{"port":53}]})");
  REQUIRE(Create(*p, dns).ok());
  CHECK(p->ips().Used() == 2);
}

TEST_CASE("ServiceAllocation: headless and ExternalName services get no address",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto h = Svc("h", R"({"clusterIP":"None","selector":{"app":"x"}})");
  REQUIRE(Create(*p, h).ok());
  CHECK(Ip(h) == "None");
  CHECK(json::serialize(*api::FindPath(h, "spec.clusterIPs")) == R"(["None"])");
  CHECK(api::GetString(h, "spec.ipFamilyPolicy") == "SingleStack");
  auto hs = Svc("hs", R"({"clusterIP":"None"})");
  REQUIRE(Create(*p, hs).ok());
  CHECK(api::GetString(hs, "spec.ipFamilyPolicy") == "RequireDualStack");
  auto e = Svc("e", R"({"type":"ExternalName","externalName":"example.com"})");
  REQUIRE(Create(*p, e).ok());
  CHECK(api::FindPath(e, "spec.clusterIP") == nullptr);
  CHECK(p->ips().Used() == 0);
}

TEST_CASE("ServiceAllocation: IPv6 and dual-stack requests are refused on this cluster",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto v6 = Svc("v6", R"({"ipFamilies":["IPv6"],"ports":[{"port":80}]})");
  Status s = Create(*p, v6);
  CHECK(s.message() ==
        "Service \"v6\" is invalid: spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured "
        "on this cluster");
  auto ds = Svc("ds", R"({"ipFamilyPolicy":"RequireDualStack","ports":[{"port":80}]})");
  s = Create(*p, ds);
  CHECK(s.message() ==
        "Service \"ds\" is invalid: spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": "
        "this cluster is not configured for dual-stack services");
  CHECK(p->ips().Used() == 0);
}

TEST_CASE("ServiceAllocation: NodePort services get node ports, requested ones honoured",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto a = Svc("a", R"({"type":"NodePort","ports":[{"name":"http","port":80},
      {"name":"dns","port":53,"protocol":"UDP","nodePort":30053},
      {"name":"dns-tcp","port":53,"protocol":"TCP"}]})");
  REQUIRE(Create(*p, a).ok());
  int http = NodePort(a, 0);
  CHECK(http >= 30000);
  CHECK(http <= 32767);
  CHECK(NodePort(a, 1) == 30053);
  CHECK(NodePort(a, 2) == 30053);  // same port number shares the node port
  CHECK(p->ports().Has(http));
  CHECK(p->ports().Has(30053));
  CHECK(p->ports().Used() == 2);

  auto b = Svc("b", R"({"type":"LoadBalancer","ports":[{"port":80,"nodePort":30053}]})");
  Status s = Create(*p, b);
  CHECK(s.message() ==
        "Service \"b\" is invalid: spec.ports[0].nodePort: Invalid value: 30053: provided port is "
        "already allocated");
  // The failed create gave its ClusterIP back.
  CHECK(p->ips().Used() == 1);
  auto c = Svc("c", R"({"type":"NodePort","ports":[{"port":80,"nodePort":8080}]})");
  s = Create(*p, c);
  CHECK(s.message() ==
        "Service \"c\" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is "
        "not in the valid range. The range of valid ports is 30000-32767");
  auto lb = Svc("lb", R"({"type":"LoadBalancer","externalTrafficPolicy":"Local",
      "ports":[{"port":443}]})");
  REQUIRE(Create(*p, lb).ok());
  CHECK(p->ports().Has(NodePort(lb, 0)));
  auto hc = api::GetInt(lb, "spec.healthCheckNodePort");
  REQUIRE(hc);
  CHECK(p->ports().Has(static_cast<int>(*hc)));
  auto nolb = Svc("nolb", R"({"type":"LoadBalancer","allocateLoadBalancerNodePorts":false,
      "ports":[{"port":443}]})");
  REQUIRE(Create(*p, nolb).ok());
  CHECK(api::GetArray(nolb, "spec.ports")->at(0).as_object().count("nodePort") == 0);
}

TEST_CASE("ServiceAllocation: a failed create rolls back, a dry run keeps nothing",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto a = Svc("a", R"({"type":"NodePort","ports":[{"port":80}]})");
  REQUIRE(Create(*p, a).ok());
  CHECK(p->ips().Used() == 1);
  CHECK(p->ports().Used() == 1);
  CommitCreate(*p, a, false);  // e.g. the name already existed
  CHECK(p->ips().Used() == 0);
  CHECK(p->ports().Used() == 0);

  auto d = Svc("d", R"({"type":"NodePort","clusterIP":"10.43.0.20","ports":[{"port":80}]})");
  REQUIRE(Create(*p, d, /*dry_run=*/true).ok());
  CHECK(Ip(d) == "10.43.0.20");
  CHECK(NodePort(d, 0) >= 30000);
  CHECK(p->ips().Used() == 0);
  CHECK(p->ports().Used() == 0);
}

TEST_CASE("ServiceAllocation: a failed update gives back what its Admit allocated",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto old = Svc("web", R"({"ports":[{"name":"http","port":80}]})");
  REQUIRE(Create(*p, old).ok());
  auto np =
      Svc("web", R"({"type":"NodePort","ports":[{"name":"http","port":80,"nodePort":31111}]})");
  REQUIRE(Update(*p, np, old, /*commit=*/false).ok());
  CHECK(Ip(np) == Ip(old));
  CHECK_FALSE(p->ports().Has(31111));
  CHECK(p->ips().Has(Ip(old)));
  auto np2 =
      Svc("web", R"({"type":"NodePort","ports":[{"name":"http","port":80,"nodePort":31111}]})");
  REQUIRE(Update(*p, np2, old).ok());
  CHECK(p->ports().Has(31111));
}

TEST_CASE("ServiceAllocation: the clusterIP is immutable and kept when an update omits it",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto old = Svc("web", R"({"ports":[{"port":80}]})");
  REQUIRE(Create(*p, old).ok());
  auto replaced = Svc("web", R"({"ports":[{"port":8080}]})");
  REQUIRE(Update(*p, replaced, old).ok());
  CHECK(Ip(replaced) == Ip(old));
  CHECK(api::GetString(replaced, "spec.ipFamilyPolicy") == "SingleStack");

  auto changed = Svc("web", R"({"clusterIP":"10.43.0.99","ports":[{"port":80}]})");
  Status s = Update(*p, changed, old);
  CHECK(s.code() == Code::kInvalid);
  CHECK(s.message() ==
        "Service \"web\" is invalid: spec.clusterIP: Invalid value: \"10.43.0.99\": field is "
        "immutable");
  CHECK(p->ips().Used() == 1);
}

TEST_CASE("ServiceAllocation: node ports are released on a type change to ClusterIP and on delete",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto np = Svc("web", R"({"type":"NodePort","ports":[{"name":"http","port":80}]})");
  REQUIRE(Create(*p, np).ok());
  int port = NodePort(np, 0);

  // An update that leaves nodePort out keeps it (matched by port name).
  auto same = Svc("web", R"({"type":"NodePort","ports":[{"name":"http","port":80}]})");
  REQUIRE(Update(*p, same, np).ok());
  CHECK(NodePort(same, 0) == port);
  CHECK(p->ports().Used() == 1);

  // A failed update to ClusterIP keeps the port; a committed one releases it.
  auto cip = Svc("web", R"({"type":"ClusterIP","ports":[{"name":"http","port":80,"nodePort":0}]})");
  api::MutableObjectAt(cip, "spec")["clusterIP"] = Ip(np);
  REQUIRE(Update(*p, cip, np, /*commit=*/false).ok());
  CHECK(p->ports().Has(port));
  auto carried = Svc("web", R"({"type":"ClusterIP","ports":[{"name":"http","port":80}]})");
  api::MutableObjectAt(carried, "spec")["ports"].as_array()[0].as_object()["nodePort"] = port;
  REQUIRE(Update(*p, carried, np).ok());
  CHECK_FALSE(p->ports().Has(port));
  CHECK(api::GetArray(carried, "spec.ports")->at(0).as_object().count("nodePort") == 0);
  CHECK(p->ips().Has(Ip(carried)));

  // Back to NodePort allocates again; delete releases everything.
  auto back = Svc("web", R"({"type":"NodePort","ports":[{"name":"http","port":80}]})");
  REQUIRE(Update(*p, back, carried).ok());
  CHECK(p->ports().Used() == 1);
  Delete(*p, back);
  CHECK(p->ports().Used() == 0);
  CHECK(p->ips().Used() == 0);
}

TEST_CASE("ServiceAllocation: ExternalName to ClusterIP allocates, back releases",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  auto ext = Svc("x", R"({"type":"ExternalName","externalName":"example.com"})");
  REQUIRE(Create(*p, ext).ok());
  auto cip = Svc("x", R"({"type":"ClusterIP","ports":[{"port":80}]})");
  REQUIRE(Update(*p, cip, ext).ok());
  CHECK(p->ips().Has(Ip(cip)));
  auto ext2 = Svc("x", R"({"type":"ExternalName","externalName":"example.com"})");
  api::MutableObjectAt(ext2, "spec")["clusterIP"] = Ip(cip);
  REQUIRE(Update(*p, ext2, cip).ok());
  CHECK(api::FindPath(ext2, "spec.clusterIP") == nullptr);
  CHECK(p->ips().Used() == 0);
}

TEST_CASE("ServiceAllocation: seeding rebuilds the sets from stored services",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  std::vector<json::object> stored{
      Svc("kubernetes", R"({"clusterIP":"10.43.0.1","ports":[{"port":443}]})"),
      Svc("np",
          R"({"type":"NodePort","clusterIP":"10.43.5.5","ports":[{"port":80,"nodePort":31000}]})"),
      Svc("dup", R"({"clusterIP":"10.43.5.5","ports":[{"port":80}]})"),
      Svc("h", R"({"clusterIP":"None"})"),
  };
  auto warnings = p->Seed(stored);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0] ==
        "service default/dup: cluster IP 10.43.5.5: provided IP is already allocated");
  CHECK(p->ips().Used() == 2);
  CHECK(p->ports().Has(31000));
  auto again = Svc("again", R"({"type":"NodePort","ports":[{"port":80,"nodePort":31000}]})");
  CHECK(Create(*p, again).message().find("provided port is already allocated") !=
        std::string::npos);
  auto k = Svc("k2", R"({"clusterIP":"10.43.0.1","ports":[{"port":80}]})");
  CHECK(Create(*p, k).message().find("provided IP is already allocated") != std::string::npos);
}

TEST_CASE("ServiceAllocation: other kinds and subresources pass untouched",
          "[ctrl_service][unit]") {
  auto p = NewPlugin();
  api::KindInfo pods;
  pods.version = "v1";
  pods.kind = "Pod";
  json::object pod{{"spec", json::object{}}};
  server::AdmissionAttributes a{"CREATE", pods, "", "default", "p", &pod, nullptr, Admin(), false};
  REQUIRE(p->Admit(a).ok());
  CHECK(pod.at("spec").as_object().empty());
  auto svc = Svc("s", R"({"ports":[{"port":80}]})");
  server::AdmissionAttributes st{"UPDATE", ServiceKind(), "status", "default", "s",
                                 &svc,     &svc,          Admin(),  false};
  REQUIRE(p->Admit(st).ok());
  CHECK(p->ips().Used() == 0);
}

TEST_CASE("DefaultStorageClass: claims without a class get the newest default class",
          "[ctrl_service][unit]") {
  std::vector<json::object> classes{
      json::parse(R"({"metadata":{"name":"old","creationTimestamp":"2026-01-01T00:00:00Z",
          "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}})")
          .as_object(),
      json::parse(R"({"metadata":{"name":"local-path","creationTimestamp":"2026-02-01T00:00:00Z",
          "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}})")
          .as_object(),
      json::parse(R"({"metadata":{"name":"newest","creationTimestamp":"2026-03-01T00:00:00Z"}})")
          .as_object(),
  };
  auto plugins = NewServiceAdmissionPlugins(ClusterConfig{}, [&] { return classes; });
  REQUIRE(plugins.has_value());
  REQUIRE(plugins->plugins.size() == 2);
  server::AdmissionPlugin& p = *plugins->plugins[1];
  CHECK(p.name() == "DefaultStorageClass");
  api::KindInfo pvc_kind;
  pvc_kind.version = "v1";
  pvc_kind.kind = "PersistentVolumeClaim";
  auto admit = [&](std::string spec) {
    json::object pvc{{"metadata", json::object{{"namespace", "default"}, {"name", "c"}}},
                     {"spec", json::parse(spec)}};
    server::AdmissionAttributes a{"CREATE", pvc_kind, "",      "default", "c",
                                  &pvc,     nullptr,  Admin(), false};
    REQUIRE(p.Admit(a).ok());
    const json::value* v = api::FindPath(pvc, "spec.storageClassName");
    return v ? json::serialize(*v) : std::string("absent");
  };
  CHECK(admit(R"({"accessModes":["ReadWriteOnce"]})") == R"("local-path")");
  CHECK(admit(R"({"storageClassName":null})") == R"("local-path")");
  CHECK(admit(R"({"storageClassName":""})") == R"("")");
  CHECK(admit(R"({"storageClassName":"manual"})") == R"("manual")");
  classes.clear();
  CHECK(admit(R"({})") == "absent");
}

TEST_CASE("ServiceAllocation: the factory returns the allocation plug-in", "[ctrl_service][unit]") {
  auto plugins = NewServiceAdmissionPlugins(ClusterConfig{});
  REQUIRE(plugins.has_value());
  REQUIRE(plugins->plugins.size() == 1);
  CHECK(plugins->allocation == plugins->plugins[0].get());
  ClusterConfig bad;
  bad.service_cidr = "nonsense";
  CHECK_FALSE(NewServiceAdmissionPlugins(bad).has_value());
}

}  // namespace
}  // namespace mini8s::controllers
