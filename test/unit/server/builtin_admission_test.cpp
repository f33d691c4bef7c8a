#include "mini8s/server/builtin_admission.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/registry.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

json::object PodWith(json::array tolerations) {
  json::object spec{{"containers", json::array{json::object{{"name", "c"}, {"image", "x"}}}}};
  if (!tolerations.empty()) spec["tolerations"] = std::move(tolerations);
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", json::object{{"name", "p"}, {"namespace", "default"}}},
                      {"spec", std::move(spec)}};
}

Status Run(AdmissionPlugin& p, json::object& pod) {
  auto reg = api::Registry::NewBuiltin();
  auto k = reg->FindResource("", "v1", "pods");
  UserInfo u{"u", "", {}};
  AdmissionAttributes a{"CREATE", *k, "", "default", "p", &pod, nullptr, u, false};
  return p.Admit(a);
}

TEST_CASE("builtin admission: DefaultTolerationSeconds adds both NoExecute tolerations",
          "[server][unit]") {
  auto p = NewDefaultTolerationSeconds();
  json::object pod = PodWith({});
  REQUIRE(Run(*p, pod).ok());
  const json::array* t = api::GetArray(pod, "spec.tolerations");
  REQUIRE(t != nullptr);
  REQUIRE(t->size() == 2);
  CHECK(api::GetString((*t)[0].as_object(), "key") == "node.kubernetes.io/not-ready");
  CHECK(api::GetInt((*t)[1].as_object(), "tolerationSeconds") == 300);
  CHECK(api::GetString((*t)[1].as_object(), "effect") == "NoExecute");
}

TEST_CASE("builtin admission: DefaultTolerationSeconds keeps a pod's own toleration",
          "[server][unit]") {
  auto p = NewDefaultTolerationSeconds();
  json::object pod = PodWith(json::array{json::object{{"key", "node.kubernetes.io/unreachable"},
                                                      {"operator", "Exists"},
                                                      {"effect", "NoExecute"},
                                                      {"tolerationSeconds", 5}}});
  REQUIRE(Run(*p, pod).ok());
  const json::array* t = api::GetArray(pod, "spec.tolerations");
  REQUIRE(t->size() == 2);
  CHECK(api::GetInt((*t)[0].as_object(), "tolerationSeconds") == 5);
  CHECK(api::GetString((*t)[1].as_object(), "key") == "node.kubernetes.io/not-ready");
  // A wildcard Exists toleration covers everything.
  json::object all = PodWith(json::array{json::object{{"operator", "Exists"}}});
  REQUIRE(Run(*p, all).ok());
  CHECK(api::GetArray(all, "spec.tolerations")->size() == 1);
}

TEST_CASE("builtin admission: pods default to the default service account", "[server][unit]") {
  auto p = NewServiceAccountDefaults();
  json::object pod = PodWith({});
  REQUIRE(Run(*p, pod).ok());
  CHECK(api::GetString(pod, "spec.serviceAccountName") == "default");
  json::object named = PodWith({});
  api::MutableObjectAt(named, "spec")["serviceAccountName"] = "builder";
  REQUIRE(Run(*p, named).ok());
  CHECK(api::GetString(named, "spec.serviceAccount") == "builder");
}

}  // namespace
}  // namespace mini8s::server
