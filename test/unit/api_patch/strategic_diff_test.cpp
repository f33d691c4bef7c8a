#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/patch.h"
#include "unit/api_patch/test_schemas.h"

namespace mini8s::api {
namespace {

boost::json::value J(std::string_view text) { return boost::json::parse(text); }
std::string S(const boost::json::value& v) { return boost::json::serialize(v); }

const testing::TestSchemas& Schemas() {
  static const testing::TestSchemas schemas;
  return schemas;
}

TEST_CASE("TwoWayMergePatch: the patch turns original into modified", "[api][unit]") {
  struct Case {
    const char* name;
    const char* original;
    const char* modified;
    const char* patch;  // exact, keys sorted as kubectl sends them
  };
  const std::vector<Case> cases = {
      {"no change", R"({"spec":{"nodeName":"a"}})", R"({"spec":{"nodeName":"a"}})", R"({})"},
      {"scalar change and removal", R"({"spec":{"nodeName":"a","x":1}})",
       R"({"spec":{"nodeName":"b"}})", R"({"spec":{"nodeName":"b","x":null}})"},
      {"container added at the front", R"({"spec":{"containers":[{"name":"a","image":"a"}]}})",
       R"({"spec":{"containers":[{"name":"b","image":"b"},{"name":"a","image":"a"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],"containers":[{"image":"b","name":"b"}]}})"},
      {"container removed and another changed",
       R"({"spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"}]}})",
       R"({"spec":{"containers":[{"name":"b","image":"b2"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"b"}],"containers":[{"image":"b2","name":"b"},{"$patch":"delete","name":"a"}]}})"},
      {"reorder only", R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
       R"({"spec":{"containers":[{"name":"b"},{"name":"a"}]}})",
       R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}})"},
      {"primitive merge list", R"({"metadata":{"finalizers":["a","b"]}})",
       R"({"metadata":{"finalizers":["b","c"]}})",
       R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"$setElementOrder/finalizers":["b","c"],"finalizers":["c"]}})"},
      {"atomic list replaced", R"({"spec":{"tolerations":[{"key":"a"}]}})",
       R"({"spec":{"tolerations":[{"key":"b"}]}})", R"({"spec":{"tolerations":[{"key":"b"}]}})"},
      {"retainKeys volume source switch",
       R"({"spec":{"volumes":[{"name":"v","configMap":{"name":"c"}}]}})",
       R"({"spec":{"volumes":[{"name":"v","secret":{"secretName":"s"}}]}})",
       R"({"spec":{"$setElementOrder/volumes":[{"name":"v"}],"volumes":[{"$retainKeys":["name","secret"],"configMap":null,"name":"v","secret":{"secretName":"s"}}]}})"},
      {"list added where there was none", R"({"spec":{}})",
       R"({"spec":{"containers":[{"name":"a"}]}})", R"({"spec":{"containers":[{"name":"a"}]}})"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto patch = CreateTwoWayMergePatch(J(c.original), J(c.modified), Schemas().pod);
    if (!patch.ok()) FAIL(patch.error().ToString());
    CHECK(S(*patch) == c.patch);
    auto applied = StrategicMergePatch(J(c.original), *patch, Schemas().pod);
    REQUIRE(applied.ok());
    INFO("applied " << S(*applied));
    CHECK(JsonEqual(*applied, J(c.modified)));
  }
}

// kubectl-wire.md §4.6: last-applied had two containers, env A and B, ports 80 and 443, volumes
// v1 and v2, a RollingUpdate strategy, tolerations and a label `old`; the new manifest drops
// them. The live object carries server-side defaults the manifests never mention.
TEST_CASE("ThreeWayMergePatch: reproduces the patch kubectl apply sent for the directive case",
          "[api][unit]") {
  auto original = J(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"annotations":{},"labels":{"old":"x","tier":"web"},"name":"x","namespace":"default"},
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
  auto modified = J(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"NEW"},
      "labels":{"tier":"web"},"name":"x","namespace":"default"},
    "spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},"strategy":{"type":"Recreate"},
      "template":{"metadata":{"labels":{"app":"x"}},"spec":{
        "containers":[{"args":["a"],"env":[{"name":"A","value":"1"}],"image":"nginx:1.3","name":"c",
          "ports":[{"containerPort":80}],"volumeMounts":[{"mountPath":"/v2","name":"v2"}]}],
        "volumes":[{"name":"v2","secret":{"secretName":"s"}}]}}}})");
  auto current = J(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"OLD"},
      "labels":{"old":"x","tier":"web"},"name":"x","namespace":"default","resourceVersion":"7",
      "uid":"u1","generation":1},
    "spec":{"replicas":1,"revisionHistoryLimit":10,"selector":{"matchLabels":{"app":"x"}},
      "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":"25%"},"type":"RollingUpdate"},
      "template":{"metadata":{"labels":{"app":"x"}},"spec":{
        "containers":[
          {"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"image":"nginx:1.2",
           "imagePullPolicy":"IfNotPresent","name":"c",
           "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443,"protocol":"TCP"}],
           "volumeMounts":[{"mountPath":"/v1","name":"v1"},{"mountPath":"/v2","name":"v2"}]},
          {"image":"busybox","imagePullPolicy":"Always","name":"sidecar"}],
        "restartPolicy":"Always",
        "tolerations":[{"key":"k","operator":"Exists"}],
        "volumes":[{"configMap":{"name":"cm1"},"name":"v1"},{"configMap":{"name":"cm2"},"name":"v2"}]}}},
    "status":{"replicas":1}})");
  auto patch = CreateThreeWayMergePatch(original, modified, current, Schemas().deployment);
  if (!patch.ok()) FAIL(patch.error().ToString());
  // The patch of kubectl-wire.md §4.6, byte for byte (with the annotation's value shortened).
  CHECK(
      S(*patch) ==
      R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"NEW"},"labels":{"old":null}},)"
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

  // Applying it keeps the server's defaults and yields the new manifest's content.
  auto applied = StrategicMergePatch(current, *patch, Schemas().deployment);
  REQUIRE(applied.ok());
  const auto& c0 = applied->at_pointer("/spec/template/spec/containers/0");
  CHECK(
      S(c0) ==
      R"({"env":[{"name":"A","value":"1"}],"image":"nginx:1.3","imagePullPolicy":"IfNotPresent","name":"c",)"
      R"("ports":[{"containerPort":80,"protocol":"TCP"}],"volumeMounts":[{"mountPath":"/v2","name":"v2"}],"args":["a"]})");
  CHECK(applied->at_pointer("/spec/template/spec/containers").get_array().size() == 1);
  CHECK(S(applied->at_pointer("/spec/strategy")) == R"({"type":"Recreate"})");
  CHECK(S(applied->at_pointer("/spec/template/spec/volumes")) ==
        R"([{"name":"v2","secret":{"secretName":"s"}}])");
  CHECK(applied->at_pointer("/spec/template/spec").get_object().if_contains("tolerations") ==
        nullptr);
  CHECK(S(applied->at_pointer("/metadata/labels")) == R"({"tier":"web"})");
  CHECK(applied->at_pointer("/spec/revisionHistoryLimit") == 10);
}

TEST_CASE("ThreeWayMergePatch: image change, env removal and unchanged manifests", "[api][unit]") {
  auto base = [](const char* image, const char* env) {
    return J(std::string(
                 R"({"metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"env":)") +
             env + R"(,"image":")" + image + R"(","name":"c"}]}}}})");
  };
  auto live = [](const char* image, const char* env) {
    return J(
        std::string(
            R"({"metadata":{"name":"x","uid":"1"},"spec":{"replicas":1,"template":{"spec":{"containers":[{"env":)") +
        env + R"(,"image":")" + image +
        R"(","imagePullPolicy":"Always","name":"c"}],"dnsPolicy":"ClusterFirst"}}}})");
  };
  const char* ab = R"([{"name":"A","value":"1"},{"name":"B","value":"2"}])";
  const char* a = R"([{"name":"A","value":"1"}])";

  auto image = CreateThreeWayMergePatch(base("nginx:1.2", ab), base("nginx:1.3", ab),
                                        live("nginx:1.2", ab), Schemas().deployment);
  REQUIRE(image.ok());
  CHECK(
      S(*image) ==
      R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"image":"nginx:1.3","name":"c"}]}}}})");

  auto env = CreateThreeWayMergePatch(base("nginx:1.2", ab), base("nginx:1.2", a),
                                      live("nginx:1.2", ab), Schemas().deployment);
  REQUIRE(env.ok());
  CHECK(
      S(*env) ==
      R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],"containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"$patch":"delete","name":"B"}],"name":"c"}]}}}})");
  auto applied = StrategicMergePatch(live("nginx:1.2", ab), *env, Schemas().deployment);
  REQUIRE(applied.ok());
  CHECK(JsonEqual(*applied, live("nginx:1.2", a)));

  auto unchanged = CreateThreeWayMergePatch(base("nginx:1.2", ab), base("nginx:1.2", ab),
                                            live("nginx:1.2", ab), Schemas().deployment);
  REQUIRE(unchanged.ok());
  CHECK(S(*unchanged) == "{}");
}

TEST_CASE("ThreeWayMergePatch: without overwrite, a conflicting live change is refused",
          "[api][unit]") {
  auto original = J(R"({"spec":{"replicas":1,"nodeName":"a"}})");
  auto modified = J(R"({"spec":{"replicas":2,"nodeName":"a"}})");
  auto current = J(R"({"spec":{"replicas":3,"nodeName":"a"}})");
  auto forced = CreateThreeWayMergePatch(original, modified, current, Schemas().pod, true);
  REQUIRE(forced.ok());
  CHECK(S(*forced) == R"({"spec":{"replicas":2}})");
  auto refused = CreateThreeWayMergePatch(original, modified, current, Schemas().pod, false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == Code::kConflict);
  auto untouched = CreateThreeWayMergePatch(original, modified, original, Schemas().pod, false);
  CHECK(untouched.ok());
}

}  // namespace
}  // namespace mini8s::api
