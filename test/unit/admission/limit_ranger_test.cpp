#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "unit/admission/admission_fixture.h"

namespace mini8s::server {
namespace {

using testing::AdmissionFixture;
using testing::Container;
using testing::Obj;
using testing::Pod;
using testing::Resources;
namespace json = boost::json;

json::object LimitRange(std::string_view ns, std::string_view name, json::array limits) {
  return Obj("v1", "LimitRange", ns, name,
             json::object{{"spec", json::object{{"limits", std::move(limits)}}}});
}

TEST_CASE("NamespaceLifecycle: default, kube-system and kube-public may not be deleted",
          "[admission][unit]") {
  AdmissionFixture f;
  auto p = NewNamespaceLifecycle();
  const api::KindInfo& ns = f.Kind("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public"}) {
    json::object old = Obj("v1", "Namespace", "", name);
    Status s = f.Admit(*p, "DELETE", ns, "", nullptr, &old);
    CHECK(s.code() == Code::kForbidden);
    CHECK(s.message() == "namespaces \"" + std::string(name) +
                             "\" is forbidden: this namespace may not be deleted");
  }
  json::object mine = Obj("v1", "Namespace", "", "team-a");
  CHECK(f.Admit(*p, "DELETE", ns, "", nullptr, &mine).ok());
  json::object pod = Pod("default", "p", json::array{Container("c")});
  CHECK(f.Admit(*p, "DELETE", f.Kind("", "v1", "pods"), "default", nullptr, &pod).ok());
}

TEST_CASE("LimitRanger: container defaults are filled in and recorded in the annotation",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "limitranges", "ns1",
        LimitRange("ns1", "lr",
                   json::array{
                       json::object{{"type", "Container"},
                                    {"default", json::object{{"cpu", "500m"}, {"memory", "256Mi"}}},
                                    {"defaultRequest", json::object{{"cpu", "100m"}}}}}));
  auto p = NewLimitRanger(f.objects);
  json::object pod =
      Pod("ns1", "web", json::array{Container("app", Resources({}, {{"memory", "128Mi"}}))});
  api::MutableObjectAt(pod, "spec")["initContainers"] = json::array{Container("init")};
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("", "v1", "pods"), "ns1", &pod).ok());
  const json::object& app = api::GetArray(pod, "spec.containers")->at(0).as_object();
  CHECK(api::GetString(app, "resources.limits.cpu") == "500m");
  CHECK(api::GetString(app, "resources.limits.memory") == "128Mi");  // stated: kept
  CHECK(api::GetString(app, "resources.requests.cpu") == "100m");
  // defaultRequest memory comes from the default limit (LimitRange defaulting).
  CHECK(api::GetString(app, "resources.requests.memory") == "256Mi");
  const json::object& init = api::GetArray(pod, "spec.initContainers")->at(0).as_object();
  CHECK(api::GetString(init, "resources.limits.memory") == "256Mi");
  CHECK(api::Annotation(pod, "kubernetes.io/limit-ranger").value_or("") ==
        "LimitRanger plugin set: cpu, memory request for container app; cpu limit for container "
        "app; cpu, memory request for init container init; cpu, memory limit for init container "
        "init");
}

TEST_CASE("LimitRanger: max, min and ratio per Container and Pod refuse with upstream's words",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put(
      "", "limitranges", "ns1",
      LimitRange("ns1", "lr",
                 json::array{json::object{{"type", "Container"},
                                          {"max", json::object{{"cpu", "1"}}},
                                          {"min", json::object{{"memory", "64Mi"}}},
                                          {"maxLimitRequestRatio", json::object{{"memory", "2"}}}},
                             json::object{{"type", "Pod"}, {"max", json::object{{"cpu", "3"}}}}}));
  auto p = NewLimitRanger(f.objects);
  const api::KindInfo& pods = f.Kind("", "v1", "pods");

  json::object too_big =
      Pod("ns1", "big",
          json::array{Container("c", Resources({{"cpu", "1"}, {"memory", "100Mi"}},
                                               {{"cpu", "2"}, {"memory", "100Mi"}}))});
  Status s = f.Admit(*p, "CREATE", pods, "ns1", &too_big);
  CHECK(s.code() == Code::kForbidden);
  CHECK(s.message() ==
        "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2");

  json::object two =
      Pod("ns1", "two",
          json::array{Container("c", Resources({{"cpu", "1"}, {"memory", "32Mi"}},
                                               {{"cpu", "2"}, {"memory", "100Mi"}}))});
  s = f.Admit(*p, "CREATE", pods, "ns1", &two);
  CHECK(s.message() ==
        "pods \"two\" is forbidden: [minimum memory usage per Container is 64Mi, but request is "
        "32Mi, maximum cpu usage per Container is 1, but limit is 2, memory max limit to request "
        "ratio per Container is 2, but provided ratio is 3.125000]");

  // Each container within bounds, the pod as a whole over.
  json::array four;
  for (const char* n : {"a", "b", "c", "d"}) {
    four.push_back(Container(
        n, Resources({{"cpu", "1"}, {"memory", "64Mi"}}, {{"cpu", "1"}, {"memory", "64Mi"}})));
  }
  json::object pod_over = Pod("ns1", "wide", std::move(four));
  s = f.Admit(*p, "CREATE", pods, "ns1", &pod_over);
  CHECK(s.message() ==
        "pods \"wide\" is forbidden: maximum cpu usage per Pod is 3, but limit is 4");

  json::object fine =
      Pod("ns1", "ok",
          json::array{Container("c", Resources({{"cpu", "500m"}, {"memory", "64Mi"}},
                                               {{"cpu", "1"}, {"memory", "100Mi"}}))});
  CHECK(f.Admit(*p, "CREATE", pods, "ns1", &fine).ok());
  // Other namespaces are not bound.
  CHECK(f.Admit(*p, "CREATE", pods, "other", &too_big).ok());
}

TEST_CASE("LimitRanger: PersistentVolumeClaim storage min and max", "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "limitranges", "ns1",
        LimitRange("ns1", "storage",
                   json::array{json::object{{"type", "PersistentVolumeClaim"},
                                            {"min", json::object{{"storage", "1Gi"}}},
                                            {"max", json::object{{"storage", "2Gi"}}}}}));
  auto p = NewLimitRanger(f.objects);
  const api::KindInfo& pvcs = f.Kind("", "v1", "persistentvolumeclaims");
  auto claim = [](std::string_view name, std::string_view size) {
    return Obj(
        "v1", "PersistentVolumeClaim", "ns1", name,
        json::object{
            {"spec", json::object{{"resources",
                                   json::object{{"requests", json::object{{"storage", size}}}}}}}});
  };
  json::object big = claim("big", "5Gi");
  Status s = f.Admit(*p, "CREATE", pvcs, "ns1", &big);
  CHECK(s.message() ==
        "persistentvolumeclaims \"big\" is forbidden: maximum storage usage per "
        "PersistentVolumeClaim is 2Gi, but request is 5Gi");
  json::object small = claim("small", "500Mi");
  s = f.Admit(*p, "CREATE", pvcs, "ns1", &small);
  CHECK(s.message() ==
        "persistentvolumeclaims \"small\" is forbidden: minimum storage usage per "
        "PersistentVolumeClaim is 1Gi, but request is 500Mi");
  json::object right = claim("right", "1536Mi");
  CHECK(f.Admit(*p, "CREATE", pvcs, "ns1", &right).ok());
}

}  // namespace
}  // namespace mini8s::server
