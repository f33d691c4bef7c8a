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
namespace json = boost::json;

json::object Class(std::string_view name, int64_t value, bool global_default = false) {
  return Obj("scheduling.k8s.io/v1", "PriorityClass", "", name,
             json::object{{"value", value}, {"globalDefault", global_default}});
}

TEST_CASE("Priority: the system classes are created once", "[admission][unit]") {
  AdmissionFixture f;
  REQUIRE(EnsureSystemPriorityClasses(*f.objects).ok());
  REQUIRE(EnsureSystemPriorityClasses(*f.objects).ok());
  auto node = f.objects->Get("scheduling.k8s.io", "priorityclasses", "", "system-node-critical");
  auto cluster =
      f.objects->Get("scheduling.k8s.io", "priorityclasses", "", "system-cluster-critical");
  REQUIRE(node.has_value());
  REQUIRE(cluster.has_value());
  CHECK(api::GetInt(*node, "value") == 2000001000);
  CHECK(api::GetInt(*cluster, "value") == 2000000000);
  CHECK(f.objects->List("scheduling.k8s.io", "priorityclasses", "").size() == 2);
}

TEST_CASE("Priority: class names resolve to spec.priority, unknown and mismatched are refused",
          "[admission][unit]") {
  AdmissionFixture f;
  REQUIRE(EnsureSystemPriorityClasses(*f.objects).ok());
  auto p = NewPriority(f.objects);
  const api::KindInfo& pods = f.Kind("", "v1", "pods");

  json::object plain = Pod("ns", "plain", json::array{Container("c")});
  REQUIRE(f.Admit(*p, "CREATE", pods, "ns", &plain).ok());
  CHECK(api::GetInt(plain, "spec.priority") == 0);
  CHECK(api::GetString(plain, "spec.preemptionPolicy") == "PreemptLowerPriority");

  json::object critical = Pod("ns", "crit", json::array{Container("c")},
                              json::object{{"priorityClassName", "system-node-critical"}});
  REQUIRE(f.Admit(*p, "CREATE", pods, "ns", &critical).ok());
  CHECK(api::GetInt(critical, "spec.priority") == 2000001000);

  json::object unknown =
      Pod("ns", "u", json::array{Container("c")}, json::object{{"priorityClassName", "gold"}});
  Status s = f.Admit(*p, "CREATE", pods, "ns", &unknown);
  CHECK(s.code() == Code::kForbidden);
  CHECK(s.message() == "pods \"u\" is forbidden: no PriorityClass with name gold was found");

  json::object liar =
      Pod("ns", "l", json::array{Container("c")},
          json::object{{"priorityClassName", "system-cluster-critical"}, {"priority", 5}});
  s = f.Admit(*p, "CREATE", pods, "ns", &liar);
  CHECK(
      s.message() ==
      "pods \"l\" is forbidden: the integer value of priority (5) must not be provided in pod "
      "spec; priority admission controller computed 2000000000 from the given PriorityClass name");
}

TEST_CASE(
    "Priority: the global default class applies to pods that name none, and only one may be "
    "default",
    "[admission][unit]") {
  AdmissionFixture f;
  json::object low = Class("low", 100, true);
  low["preemptionPolicy"] = "Never";
  f.Put("scheduling.k8s.io", "priorityclasses", "", low);
  auto p = NewPriority(f.objects);
  // As the API defaults leave a pod that names no class.
  json::object pod = Pod("ns", "p", json::array{Container("c")},
                         json::object{{"priority", 0}, {"preemptionPolicy", "PreemptLowerPriority"}});
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("", "v1", "pods"), "ns", &pod).ok());
  CHECK(api::GetInt(pod, "spec.priority") == 100);
  CHECK(api::GetString(pod, "spec.priorityClassName") == "low");
  CHECK(api::GetString(pod, "spec.preemptionPolicy") == "Never");

  json::object second = Class("also", 5, true);
  Status s =
      f.Admit(*p, "CREATE", f.Kind("scheduling.k8s.io", "v1", "priorityclasses"), "", &second);
  CHECK(s.message() ==
        "priorityclasses.scheduling.k8s.io \"also\" is forbidden: PriorityClass low is already "
        "marked as default. Only one default can exist");
}

}  // namespace
}  // namespace mini8s::server
