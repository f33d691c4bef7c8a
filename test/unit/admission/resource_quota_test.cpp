#include <atomic>
#include <thread>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/quota.h"
#include "unit/admission/admission_fixture.h"

namespace mini8s::server {
namespace {

using testing::AdmissionFixture;
using testing::Container;
using testing::Obj;
using testing::Pod;
using testing::Resources;
namespace json = boost::json;

json::object Quota(std::string_view ns, std::string_view name, json::object hard) {
  return Obj("v1", "ResourceQuota", ns, name,
             json::object{{"spec", json::object{{"hard", std::move(hard)}}}});
}

std::string Used(AdmissionFixture& f, std::string_view ns, std::string_view name,
                 std::string_view resource) {
  auto q = f.objects->Get("", "resourcequotas", ns, name);
  REQUIRE(q.has_value());
  // Resource names contain dots: look the key up rather than walking a path.
  const json::object* used = api::GetObject(*q, "status.used");
  if (used == nullptr) return "";
  auto it = used->find(resource);
  return it != used->end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

TEST_CASE("ResourceQuota: pod count is charged and the last slot refused with upstream's message",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "resourcequotas", "ns1", Quota("ns1", "q", {{"pods", "2"}, {"count/configmaps", "5"}}));
  auto p = NewResourceQuota(f.objects);
  const api::KindInfo& pods = f.Kind("", "v1", "pods");
  for (const char* name : {"a", "b"}) {
    json::object pod = Pod("ns1", name, json::array{Container("c")});
    REQUIRE(f.Admit(*p, "CREATE", pods, "ns1", &pod).ok());
    f.Put("", "pods", "ns1", pod);
  }
  CHECK(Used(f, "ns1", "q", "pods") == "2");
  CHECK(Used(f, "ns1", "q", "count/configmaps") == "0");
  json::object third = Pod("ns1", "c", json::array{Container("c")});
  Status s = f.Admit(*p, "CREATE", pods, "ns1", &third);
  CHECK(s.code() == Code::kForbidden);
  CHECK(s.message() ==
        "pods \"c\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: "
        "pods=2");
  CHECK(Used(f, "ns1", "q", "pods") == "2");
  // Dry runs are checked but not charged; other kinds count under count/<resource>.
  json::object cm = Obj("v1", "ConfigMap", "ns1", "cm");
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("", "v1", "configmaps"), "ns1", &cm, nullptr, true).ok());
  CHECK(Used(f, "ns1", "q", "count/configmaps") == "0");
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("", "v1", "configmaps"), "ns1", &cm).ok());
  CHECK(Used(f, "ns1", "q", "count/configmaps") == "1");
}

TEST_CASE("ResourceQuota: compute quotas need every container to state the resource",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "resourcequotas", "ns1",
        Quota("ns1", "compute",
              {{"requests.cpu", "1"}, {"limits.cpu", "2"}, {"limits.memory", "1Gi"}}));
  auto p = NewResourceQuota(f.objects);
  const api::KindInfo& pods = f.Kind("", "v1", "pods");
  json::object bare =
      Pod("ns1", "bare", json::array{Container("c"), Container("d", Resources({{"cpu", "100m"}}))});
  Status s = f.Admit(*p, "CREATE", pods, "ns1", &bare);
  CHECK(s.message() ==
        "pods \"bare\" is forbidden: failed quota: compute: must specify limits.cpu for: c,d; "
        "limits.memory for: c,d; requests.cpu for: c");
  json::object ok =
      Pod("ns1", "ok",
          json::array{
              Container("c", Resources({{"cpu", "600m"}}, {{"cpu", "1"}, {"memory", "512Mi"}}))});
  REQUIRE(f.Admit(*p, "CREATE", pods, "ns1", &ok).ok());
  CHECK(Used(f, "ns1", "compute", "requests.cpu") == "600m");
  CHECK(Used(f, "ns1", "compute", "limits.memory") == "512Mi");
  json::object more =
      Pod("ns1", "more",
          json::array{Container(
              "c", Resources({{"cpu", "500m"}}, {{"cpu", "500m"}, {"memory", "128Mi"}}))});
  s = f.Admit(*p, "CREATE", pods, "ns1", &more);
  CHECK(s.message() ==
        "pods \"more\" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, "
        "used: requests.cpu=600m, limited: requests.cpu=1");
}

TEST_CASE("ResourceQuota: services count node ports and load balancers, updates charge growth",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "resourcequotas", "ns1",
        Quota("ns1", "svc",
              {{"services", "5"}, {"services.nodeports", "2"}, {"services.loadbalancers", "1"}}));
  auto p = NewResourceQuota(f.objects);
  const api::KindInfo& svcs = f.Kind("", "v1", "services");
  auto svc = [](std::string_view name, std::string_view type, int ports) {
    json::array ps;
    for (int i = 0; i < ports; ++i) ps.push_back(json::object{{"port", 80 + i}});
    return Obj("v1", "Service", "ns1", name,
               json::object{{"spec", json::object{{"type", type}, {"ports", std::move(ps)}}}});
  };
  json::object lb = svc("lb", "LoadBalancer", 1);
  REQUIRE(f.Admit(*p, "CREATE", svcs, "ns1", &lb).ok());
  CHECK(Used(f, "ns1", "svc", "services.loadbalancers") == "1");
  CHECK(Used(f, "ns1", "svc", "services.nodeports") == "1");
  json::object np = svc("np", "NodePort", 2);
  Status s = f.Admit(*p, "CREATE", svcs, "ns1", &np);
  CHECK(s.message() ==
        "services \"np\" is forbidden: exceeded quota: svc, requested: services.nodeports=2, used: "
        "services.nodeports=1, limited: services.nodeports=2");
  json::object cip = svc("cip", "ClusterIP", 1);
  REQUIRE(f.Admit(*p, "CREATE", svcs, "ns1", &cip).ok());
  json::object to_np = svc("cip", "NodePort", 1);
  REQUIRE(f.Admit(*p, "UPDATE", svcs, "ns1", &to_np, &cip).ok());
  CHECK(Used(f, "ns1", "svc", "services.nodeports") == "2");
  CHECK(Used(f, "ns1", "svc", "services") == "2");
}

TEST_CASE("ResourceQuota: a charge is given back when the write does not happen",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "resourcequotas", "ns1", Quota("ns1", "q", {{"pods", "1"}}));
  auto p = NewResourceQuota(f.objects);
  const api::KindInfo& pods = f.Kind("", "v1", "pods");
  json::object pod = Pod("ns1", "a", json::array{Container("c")});
  AdmissionAttributes a{"CREATE", pods, "", "ns1", "a", &pod, nullptr, f.user, false};
  REQUIRE(p->Admit(a).ok());
  CHECK(Used(f, "ns1", "q", "pods") == "1");
  p->Committed(a, false);
  CHECK(Used(f, "ns1", "q", "pods") == "0");
}

TEST_CASE("ResourceQuota: concurrent creates never both take the last slot", "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "resourcequotas", "ns1", Quota("ns1", "q", {{"count/configmaps", "3"}}));
  auto p = NewResourceQuota(f.objects);
  const api::KindInfo& cms = f.Kind("", "v1", "configmaps");
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      json::object cm = Obj("v1", "ConfigMap", "ns1", "cm" + std::to_string(t));
      AdmissionAttributes a{"CREATE", cms, "", "ns1", api::Name(cm), &cm, nullptr, f.user, false};
      if (p->Admit(a).ok()) {
        ++admitted;
        p->Committed(a, true);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(admitted.load() == 3);
  CHECK(Used(f, "ns1", "q", "count/configmaps") == "3");
}

TEST_CASE("ResourceQuota: scoped quotas charge only the pods in scope", "[admission][unit]") {
  AdmissionFixture f;
  json::object be = Quota("ns1", "besteffort", {{"pods", "1"}});
  api::MutableObjectAt(be, "spec")["scopes"] = json::array{"BestEffort"};
  f.Put("", "resourcequotas", "ns1", be);
  json::object gold = Quota("ns1", "gold", {{"pods", "1"}});
  api::MutableObjectAt(gold, "spec")["scopeSelector"] = json::object{
      {"matchExpressions",
       json::array{json::object{
           {"scopeName", "PriorityClass"}, {"operator", "In"}, {"values", json::array{"gold"}}}}}};
  f.Put("", "resourcequotas", "ns1", gold);
  f.Put("", "resourcequotas", "ns1", Quota("ns1", "cms", {{"count/configmaps", "9"}}));
  auto p = NewResourceQuota(f.objects);
  const api::KindInfo& pods = f.Kind("", "v1", "pods");
  json::object a = Pod("ns1", "a", json::array{Container("c")});
  REQUIRE(f.Admit(*p, "CREATE", pods, "ns1", &a).ok());
  f.Put("", "pods", "ns1", a);
  json::object sized = Pod("ns1", "b", json::array{Container("c", Resources({{"cpu", "1"}}))});
  REQUIRE(f.Admit(*p, "CREATE", pods, "ns1", &sized).ok());  // not BestEffort: not in scope
  json::object c = Pod("ns1", "c", json::array{Container("c")});
  CHECK(f.Admit(*p, "CREATE", pods, "ns1", &c).message() ==
        "pods \"c\" is forbidden: exceeded quota: besteffort, requested: pods=1, used: pods=1, "
        "limited: pods=1");
  json::object g = Pod("ns1", "g", json::array{Container("c", Resources({{"cpu", "1"}}))},
                       json::object{{"priorityClassName", "gold"}});
  REQUIRE(f.Admit(*p, "CREATE", pods, "ns1", &g).ok());
  CHECK(Used(f, "ns1", "gold", "pods") == "1");
  // Scoped quotas never cover other kinds.
  json::object cm = Obj("v1", "ConfigMap", "ns1", "cm");
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("", "v1", "configmaps"), "ns1", &cm).ok());
}

TEST_CASE("quota accounting: usage of pods, terminal pods and PVCs by storage class",
          "[admission][unit]") {
  namespace quota = api::quota;
  json::object pod =
      Pod("ns", "p",
          json::array{Container("a", Resources({{"cpu", "250m"}}, {{"memory", "1Gi"}})),
                      Container("b", Resources({{"cpu", "250m"}}))});
  api::MutableObjectAt(pod, "spec")["initContainers"] =
      json::array{Container("init", Resources({{"cpu", "2"}}))};
  quota::ResourceList u = quota::Usage({"", "pods"}, pod, 0);
  CHECK(quota::PrettyPrint(u) == "count/pods=1,cpu=2,limits.memory=1Gi,pods=1,requests.cpu=2");
  api::MutableObjectAt(pod, "status")["phase"] = "Succeeded";
  CHECK(quota::Usage({"", "pods"}, pod, 0).empty());
  json::object pvc = Obj(
      "v1", "PersistentVolumeClaim", "ns", "c",
      json::object{
          {"spec", json::object{{"storageClassName", "fast"},
                                {"resources",
                                 json::object{{"requests", json::object{{"storage", "2Gi"}}}}}}}});
  CHECK(quota::PrettyPrint(quota::Usage({"", "persistentvolumeclaims"}, pvc, 0)) ==
        "count/persistentvolumeclaims=1,fast.storageclass.storage.k8s.io/persistentvolumeclaims=1,"
        "fast.storageclass.storage.k8s.io/requests.storage=2Gi,persistentvolumeclaims=1,"
        "requests.storage=2Gi");
  CHECK(quota::SourceOf("count/deployments.apps") == quota::GroupResource{"apps", "deployments"});
  CHECK_FALSE(quota::SourceOf("bananas").has_value());
}

}  // namespace
}  // namespace mini8s::server
