// The strategic merge patch against the real built-in schemas: checks that the registry's patch
// metadata (kubectl-wire.md §4.6) drives merging as upstream's struct tags do.
#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/patch.h"
#include "mini8s/api/registry.h"

namespace mini8s::api {
namespace {

boost::json::value J(std::string_view text) { return boost::json::parse(text); }
std::string S(const boost::json::value& v) { return boost::json::serialize(v); }

const Schema* KindSchema(std::string_view group, std::string_view kind) {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = registry->FindKind(group, "v1", kind);
  REQUIRE(info != nullptr);
  REQUIRE(info->schema != nullptr);
  return info->schema;
}

TEST_CASE(
    "StrategicMergePatch: built-in Deployment metadata merges containers, env, ports, "
    "volumes and strategy",
    "[api][unit]") {
  const Schema* deployment = KindSchema("apps", "Deployment");
  auto original = J(R"({"metadata":{"labels":{"old":"x","tier":"web"},"name":"x"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},
      "strategy":{"rollingUpdate":{"maxSurge":1},"type":"RollingUpdate"},
      "template":{"metadata":{"labels":{"app":"x"}},"spec":{
        "containers":[
          {"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"image":"nginx:1.2","name":"c",
           "ports":[{"containerPort":80},{"containerPort":443}],
           "volumeMounts":[{"mountPath":"/v1","name":"v1"},{"mountPath":"/v2","name":"v2"}]},
          {"image":"busybox","name":"sidecar"}],
        "tolerations":[{"key":"k","operator":"Exists"}],
        "volumes":[{"configMap":{"name":"cm1"},"name":"v1"},{"configMap":{"name":"cm2"},"name":"v2"}]}}}})");
  auto modified = J(R"({"metadata":{"labels":{"tier":"web"},"name":"x"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},"strategy":{"type":"Recreate"},
      "template":{"metadata":{"labels":{"app":"x"}},"spec":{
        "containers":[{"args":["a"],"env":[{"name":"A","value":"1"}],"image":"nginx:1.3","name":"c",
          "ports":[{"containerPort":80}],"volumeMounts":[{"mountPath":"/v2","name":"v2"}]}],
        "volumes":[{"name":"v2","secret":{"secretName":"s"}}]}}}})");
  auto patch = CreateThreeWayMergePatch(original, modified, original, deployment);
  REQUIRE(patch.ok());
  CHECK(
      S(*patch) ==
      R"({"metadata":{"labels":{"old":null}},)"
      R"("spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"},)"
      R"("template":{"spec":{)"
      R"("$setElementOrder/containers":[{"name":"c"}],)"
      R"("$setElementOrder/volumes":[{"name":"v2"}],)"
      R"("containers":[{"$setElementOrder/env":[{"name":"A"}],"$setElementOrder/ports":[{"containerPort":80}],)"
      R"("$setElementOrder/volumeMounts":[{"mountPath":"/v2"}],)"
      R"("args":["a"],"env":[{"$patch":"delete","name":"B"}],"image":"nginx:1.3","name":"c",)"
      R"("ports":[{"$patch":"delete","containerPort":443}],)"
      R"("volumeMounts":[{"$patch":"delete","mountPath":"/v1"}]},)"
      R"({"$patch":"delete","name":"sidecar"}],)"
      R"("tolerations":null,)"
      R"("volumes":[{"$retainKeys":["name","secret"],"configMap":null,"name":"v2","secret":{"secretName":"s"}},)"
      R"({"$patch":"delete","name":"v1"}]}}}})");
  auto applied = StrategicMergePatch(original, *patch, deployment);
  REQUIRE(applied.ok());
  CHECK(JsonEqual(*applied, modified));
}

TEST_CASE(
    "StrategicMergePatch: built-in Pod metadata merges finalizers, conditions and owner "
    "references",
    "[api][unit]") {
  const Schema* pod = KindSchema("", "Pod");
  auto live = J(R"({"metadata":{"name":"p","finalizers":["a","b"],
      "ownerReferences":[{"uid":"1","name":"rs","kind":"ReplicaSet","apiVersion":"apps/v1"}]},
    "spec":{"containers":[{"name":"c","image":"x"}],"tolerations":[{"key":"a"}]},
    "status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}})");
  auto patch = J(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]},
    "spec":{"tolerations":[{"key":"b"}]},
    "status":{"conditions":[{"type":"Ready","status":"True"}]}})");
  auto got = StrategicMergePatch(live, patch, pod);
  REQUIRE(got.ok());
  CHECK(S(got->at_pointer("/metadata/finalizers")) == R"(["c","b"])");
  CHECK(S(got->at_pointer("/spec/tolerations")) == R"([{"key":"b"}])");
  CHECK(S(got->at_pointer("/status/conditions")) ==
        R"([{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}])");
}

TEST_CASE("StrategicMergePatch: built-in Service ports merge by port", "[api][unit]") {
  const Schema* service = KindSchema("", "Service");
  auto live = J(
      R"({"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}],"selector":{"app":"x"}}})");
  auto got = StrategicMergePatch(live, J(R"({"spec":{"ports":[{"port":80,"targetPort":9090}]}})"),
                                 service);
  REQUIRE(got.ok());
  CHECK(S(got->at_pointer("/spec/ports")) == R"([{"port":80,"targetPort":9090},{"port":443}])");
}

}  // namespace
}  // namespace mini8s::api
