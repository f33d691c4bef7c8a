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

const testing::TestSchemas& Schemas() {
  static const testing::TestSchemas schemas;
  return schemas;
}

struct Case {
  const char* name;
  const char* original;
  const char* patch;
  const char* want;
};

void RunCases(const std::vector<Case>& cases, const Schema* schema) {
  for (const Case& c : cases) {
    INFO(c.name);
    auto got = StrategicMergePatch(J(c.original), J(c.patch), schema);
    if (!got.ok()) FAIL(got.error().ToString());
    INFO("got " << boost::json::serialize(*got));
    CHECK(JsonEqual(*got, J(c.want)));
  }
}

void ExpectError(const char* original, const char* patch, const Schema* schema, Code code,
                 const std::string& message) {
  auto got = StrategicMergePatch(J(original), J(patch), schema);
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().code() == code);
  CHECK(got.error().message() == message);
}

TEST_CASE("StrategicMergePatch: maps merge, null deletes, scalars and atomic lists replace",
          "[api][unit]") {
  RunCases(
      {
          {"nested maps merge", R"({"metadata":{"labels":{"a":"1"},"name":"x"}})",
           R"({"metadata":{"labels":{"b":"2"}}})",
           R"({"metadata":{"labels":{"a":"1","b":"2"},"name":"x"}})"},
          {"null deletes a field", R"({"metadata":{"labels":{"a":"1","b":"2"}}})",
           R"({"metadata":{"labels":{"a":null}}})", R"({"metadata":{"labels":{"b":"2"}}})"},
          {"null for an absent field is dropped", R"({"spec":{}})", R"({"spec":{"nodeName":null}})",
           R"({"spec":{}})"},
          {"nulls inside a new map are dropped", R"({"spec":{}})",
           R"({"spec":{"nodeSelector":{"a":"1","b":null}}})",
           R"({"spec":{"nodeSelector":{"a":"1"}}})"},
          {"a list without strategy is replaced",
           R"({"spec":{"tolerations":[{"key":"a"},{"key":"b"}]}})",
           R"({"spec":{"tolerations":[{"key":"c"}]}})",
           R"({"spec":{"tolerations":[{"key":"c"}]}})"},
          {"a changed type replaces", R"({"spec":{"nodeName":"a"}})",
           R"({"spec":{"nodeName":{"x":1}}})", R"({"spec":{"nodeName":{"x":1}}})"},
          {"scalar replace", R"({"spec":{"nodeName":"a"}})", R"({"spec":{"nodeName":"b"}})",
           R"({"spec":{"nodeName":"b"}})"},
          {"unknown fields merge like a merge patch", R"({"x":{"a":1,"l":[1]}})",
           R"({"x":{"b":2,"l":[2]}})", R"({"x":{"a":1,"b":2,"l":[2]}})"},
      },
      Schemas().pod);
}

TEST_CASE("StrategicMergePatch: lists of maps merge by their merge key", "[api][unit]") {
  RunCases(
      {
          {"container image change keeps other fields and containers",
           R"({"spec":{"containers":[{"name":"a","image":"a:1","args":["x"]},{"name":"b","image":"b:1"}]}})",
           R"({"spec":{"containers":[{"name":"b","image":"b:2"}]}})",
           R"({"spec":{"containers":[{"name":"a","image":"a:1","args":["x"]},{"name":"b","image":"b:2"}]}})"},
          {"a new element without $setElementOrder goes before the server's elements",
           R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
           R"({"spec":{"containers":[{"name":"c","image":"c"}]}})",
           R"({"spec":{"containers":[{"name":"c","image":"c"},{"name":"a"},{"name":"b"}]}})"},
          {"env merges by name",
           R"({"spec":{"containers":[{"name":"c","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}})",
           R"({"spec":{"containers":[{"name":"c","env":[{"name":"B","value":"3"}]}]}})",
           R"({"spec":{"containers":[{"name":"c","env":[{"name":"A","value":"1"},{"name":"B","value":"3"}]}]}})"},
          {"ports merge by containerPort in nested lists",
           R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"name":"http"}]}]}})",
           R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443}]}]}})",
           R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":443}]}]}})"},
          {"volumes merge by name", R"({"spec":{"volumes":[{"name":"v1","emptyDir":{}}]}})",
           R"({"spec":{"volumes":[{"name":"v2","secret":{"secretName":"s"}}]}})",
           R"({"spec":{"volumes":[{"name":"v2","secret":{"secretName":"s"}},{"name":"v1","emptyDir":{}}]}})"},
          {"a null inside a merged element deletes that field",
           R"({"spec":{"containers":[{"name":"c","image":"x","args":["a"]}]}})",
           R"({"spec":{"containers":[{"name":"c","args":null}]}})",
           R"({"spec":{"containers":[{"name":"c","image":"x"}]}})"},
          {"status conditions merge by type",
           R"({"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"Scheduled","status":"True"}]}})",
           R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})",
           R"({"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Scheduled","status":"True"}]}})"},
          {"owner references merge by uid",
           R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"}]}})",
           R"({"metadata":{"ownerReferences":[{"uid":"2","name":"b"}]}})",
           R"({"metadata":{"ownerReferences":[{"uid":"2","name":"b"},{"uid":"1","name":"a"}]}})"},
          {"merging into an absent list takes the patch list", R"({"spec":{}})",
           R"({"spec":{"containers":[{"name":"c","env":[{"name":"A","value":null}]}]}})",
           R"({"spec":{"containers":[{"name":"c","env":[{"name":"A"}]}]}})"},
      },
      Schemas().pod);
}

TEST_CASE("StrategicMergePatch: primitive lists with strategy merge behave as sets",
          "[api][unit]") {
  RunCases(
      {
          {"finalizers add without duplicates", R"({"metadata":{"finalizers":["a","b"]}})",
           R"({"metadata":{"finalizers":["b","c"]}})",
           R"({"metadata":{"finalizers":["a","b","c"]}})"},
          {"$deleteFromPrimitiveList removes values",
           R"({"metadata":{"finalizers":["a","b","c"]}})",
           R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b","x"]}})",
           R"({"metadata":{"finalizers":["a","c"]}})"},
          {"$deleteFromPrimitiveList on an absent list adds nothing", R"({"metadata":{}})",
           R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}})", R"({"metadata":{}})"},
          {"$deleteFromPrimitiveList also works on a list without strategy",
           R"({"spec":{"containers":[{"name":"c","args":["a","b"]}]}})",
           R"({"spec":{"containers":[{"name":"c","$deleteFromPrimitiveList/args":["a"]}]}})",
           R"({"spec":{"containers":[{"name":"c","args":["b"]}]}})"},
          {"$setElementOrder orders a primitive list, deletes apply after",
           R"({"metadata":{"finalizers":["a","b","c"]}})",
           R"({"metadata":{"$setElementOrder/finalizers":["c","d","a"],"finalizers":["d"],
               "$deleteFromPrimitiveList/finalizers":["b"]}})",
           R"({"metadata":{"finalizers":["c","d","a"]}})"},
      },
      Schemas().pod);
}

TEST_CASE("StrategicMergePatch: $patch directives on maps and list elements", "[api][unit]") {
  RunCases(
      {
          {"$patch: delete on a list element removes it by merge key",
           R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
           R"({"spec":{"containers":[{"name":"a","$patch":"delete"}]}})",
           R"({"spec":{"containers":[{"name":"b"}]}})"},
          {"$patch: delete of a missing element is a no-op",
           R"({"spec":{"containers":[{"name":"a"}]}})",
           R"({"spec":{"containers":[{"name":"z","$patch":"delete"}]}})",
           R"({"spec":{"containers":[{"name":"a"}]}})"},
          {"$patch: replace as a list element replaces the whole list",
           R"({"spec":{"containers":[{"name":"a","image":"a"},{"name":"b"}]}})",
           R"({"spec":{"containers":[{"$patch":"replace"},{"name":"c","image":"c"}]}})",
           R"({"spec":{"containers":[{"name":"c","image":"c"}]}})"},
      },
      Schemas().pod);
  RunCases(
      {
          {"$patch: replace on a map replaces it", R"({"metadata":{"labels":{"a":"1","b":"2"}}})",
           R"({"metadata":{"labels":{"$patch":"replace","c":"3"}}})",
           R"({"metadata":{"labels":{"c":"3"}}})"},
          {"$patch: replace on an absent map sets it", R"({"metadata":{}})",
           R"({"metadata":{"labels":{"$patch":"replace","c":"3"}}})",
           R"({"metadata":{"labels":{"c":"3"}}})"},
          {"$patch: delete on a map empties it", R"({"metadata":{"labels":{"a":"1"}}})",
           R"({"metadata":{"labels":{"$patch":"delete"}}})", R"({"metadata":{"labels":{}}})"},
          {"$patch: delete on an absent map leaves it absent", R"({"metadata":{}})",
           R"({"metadata":{"labels":{"$patch":"delete"}}})", R"({"metadata":{}})"},
          {"$patch: replace at the top level", R"({"a":1,"b":2})", R"({"$patch":"replace","c":3})",
           R"({"c":3})"},
          {"a map field with strategy replace is replaced",
           R"({"spec":{"replacedMap":{"matchLabels":{"a":"1"}}}})",
           R"({"spec":{"replacedMap":{"matchLabels":{"b":"2"}}}})",
           R"({"spec":{"replacedMap":{"matchLabels":{"b":"2"}}}})"},
          {"other map fields merge", R"({"spec":{"selector":{"matchLabels":{"a":"1"}}}})",
           R"({"spec":{"selector":{"matchLabels":{"b":"2"}}}})",
           R"({"spec":{"selector":{"matchLabels":{"a":"1","b":"2"}}}})"},
      },
      Schemas().deployment);
  RunCases(
      {{"$patch: delete on the root empties it", R"({"a":1})", R"({"$patch":"delete"})", R"({})"}},
      Schemas().pod);
}

TEST_CASE("StrategicMergePatch: $retainKeys clears fields not listed", "[api][unit]") {
  RunCases(
      {
          {"strategy RollingUpdate to Recreate drops rollingUpdate",
           R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})",
           R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}})",
           R"({"spec":{"strategy":{"type":"Recreate"}}})"},
          {"retained keys that the patch does not mention are kept",
           R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1},"x":1}}})",
           R"({"spec":{"strategy":{"$retainKeys":["type","rollingUpdate"],"type":"RollingUpdate"}}})",
           R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})"},
          {"a volume source change drops the old source",
           R"({"spec":{"template":{"spec":{"volumes":[{"name":"v","configMap":{"name":"cm"}}]}}}})",
           R"({"spec":{"template":{"spec":{"volumes":[{"$retainKeys":["name","secret"],"name":"v",
               "secret":{"secretName":"s"}}]}}}})",
           R"({"spec":{"template":{"spec":{"volumes":[{"name":"v","secret":{"secretName":"s"}}]}}}})"},
          {"a new element does not keep the directive",
           R"({"spec":{"template":{"spec":{"volumes":[]}}}})",
           R"({"spec":{"template":{"spec":{"volumes":[{"$retainKeys":["name","secret"],"name":"v",
               "configMap":null,"secret":{"secretName":"s"}}]}}}})",
           R"({"spec":{"template":{"spec":{"volumes":[{"name":"v","secret":{"secretName":"s"}}]}}}})"},
      },
      Schemas().deployment);
  ExpectError(R"({"spec":{"strategy":{"type":"A"}}})",
              R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":1}}}})",
              Schemas().deployment, Code::kBadRequest, "invalid patch format of retainKeys");
  ExpectError(R"({"spec":{"strategy":{"type":"A"}}})",
              R"({"spec":{"strategy":{"$retainKeys":"type"}}})", Schemas().deployment,
              Code::kBadRequest, "invalid patch format of retainKeys");
}

TEST_CASE("StrategicMergePatch: $setElementOrder decides the final order", "[api][unit]") {
  RunCases(
      {
          {"reorder only", R"({"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"},{"name":"b"}]}})",
           R"({"spec":{"containers":[{"name":"c"},{"name":"a"},{"name":"b"}]}})"},
          {"a new element goes where the order puts it",
           R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"n"},{"name":"b"}],
               "containers":[{"name":"n","image":"n"}]}})",
           R"({"spec":{"containers":[{"name":"a"},{"name":"n","image":"n"},{"name":"b"}]}})"},
          {"a server-only element goes before an ordered one that is later in the live list",
           R"({"spec":{"containers":[{"name":"a"},{"name":"s1"},{"name":"b"},{"name":"s2"},{"name":"c"}]}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"b"},{"name":"a"}]}})",
           R"({"spec":{"containers":[{"name":"s1"},{"name":"s2"},{"name":"c"},{"name":"b"},{"name":"a"}]}})"},
          {"server-only elements after every ordered one stay last",
           R"({"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"s"}]}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}})",
           R"({"spec":{"containers":[{"name":"b"},{"name":"a"},{"name":"s"}]}})"},
          {"server-only elements interleave by their live position",
           R"({"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"s"},{"name":"c"},{"name":"d"}]}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"},{"name":"d"},{"name":"c"}]}})",
           R"({"spec":{"containers":[{"name":"b"},{"name":"a"},{"name":"s"},{"name":"d"},{"name":"c"}]}})"},
          {"deletions are applied with the order",
           R"({"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"}],
               "containers":[{"name":"b","$patch":"delete"}]}})",
           R"({"spec":{"containers":[{"name":"c"},{"name":"a"}]}})"},
          {"an order for an absent list adds the patch list", R"({"spec":{}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],
               "containers":[{"name":"b"},{"name":"a"}]}})",
           R"({"spec":{"containers":[{"name":"b"},{"name":"a"}]}})"},
          {"an order for a list absent everywhere is dropped", R"({"spec":{}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"a"}]}})", R"({"spec":{}})"},
      },
      Schemas().pod);
  ExpectError(R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
              R"({"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],
                  "containers":[{"name":"b","image":"x"},{"name":"a","image":"y"}]}})",
              Schemas().pod, Code::kBadRequest,
              "The order in patch "
              "list:\n[{\"name\":\"b\",\"image\":\"x\"},{\"name\":\"a\",\"image\":\"y\"}]\n "
              "doesn't match $setElementOrder list:\n[{\"name\":\"a\"},{\"name\":\"b\"}]\n");
  ExpectError(
      R"({"spec":{"containers":[{"name":"a"}]}})",
      R"({"spec":{"$setElementOrder/containers":[{"image":"a"}],"containers":[{"name":"a"}]}})",
      Schemas().pod, Code::kBadRequest,
      R"(map: {"image":"a"} does not contain declared merge key: name)");
}

TEST_CASE("StrategicMergePatch: more ordering cases for primitive and keyed lists",
          "[api][unit]") {
  RunCases(
      {
          {"a primitive added in front by the order",
           R"({"metadata":{"finalizers":["a","b"]}})",
           R"({"metadata":{"$setElementOrder/finalizers":["c","a","b"],"finalizers":["c"]}})",
           R"({"metadata":{"finalizers":["c","a","b"]}})"},
          {"a primitive removed while the rest is reordered",
           R"({"metadata":{"finalizers":["a","b","c"]}})",
           R"({"metadata":{"$setElementOrder/finalizers":["c","a"],
               "$deleteFromPrimitiveList/finalizers":["b"]}})",
           R"({"metadata":{"finalizers":["c","a"]}})"},
          {"order entries that match nothing are ignored",
           R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
           R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"x"},{"name":"a"}]}})",
           R"({"spec":{"containers":[{"name":"b"},{"name":"a"}]}})"},
          {"integer merge keys",
           R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":80},{"containerPort":81}]}]}})",
           R"({"spec":{"containers":[{"name":"c","$setElementOrder/ports":[{"containerPort":81},
               {"containerPort":8080},{"containerPort":80}],"ports":[{"containerPort":8080}]}]}})",
           R"({"spec":{"containers":[{"name":"c","ports":[{"containerPort":81},{"containerPort":8080},{"containerPort":80}]}]}})"},
          {"a replace marker in an atomic list is dropped",
           R"({"spec":{"tolerations":[{"key":"a"}]}})",
           R"({"spec":{"tolerations":[{"$patch":"replace"},{"key":"b","value":null}]}})",
           R"({"spec":{"tolerations":[{"key":"b"}]}})"},
      },
      Schemas().pod);
}

TEST_CASE("StrategicMergePatch: malformed patches are rejected with upstream's messages",
          "[api][unit]") {
  const Schema* pod = Schemas().pod;
  ExpectError(R"({"spec":{"containers":[{"name":"a"}]}})",
              R"({"spec":{"containers":[{"image":"x"}]}})", pod, Code::kBadRequest,
              R"(map: {"image":"x"} does not contain declared merge key: name)");
  ExpectError(R"({"spec":{"containers":[{"name":"a"}]}})",
              R"({"spec":{"containers":[{"$patch":"delete"}]}})", pod, Code::kBadRequest,
              R"(map: {"$patch":"delete"} does not contain declared merge key: name)");
  ExpectError(R"({"metadata":{"labels":{"a":"1"}}})",
              R"({"metadata":{"labels":{"$patch":"merge"}}})", pod, Code::kBadRequest,
              R"(unknown patch type: merge in map: {"$patch":"merge"})");
  ExpectError(R"({"spec":{"containers":[{"name":"a"}]}})",
              R"({"spec":{"containers":[{"name":"a","$patch":"frob"}]}})", pod, Code::kBadRequest,
              R"(unknown patch type: frob in map: {"name":"a","$patch":"frob"})");
  ExpectError(R"({"spec":{"containers":[{"name":"a"}]}})",
              R"({"spec":{"containers":[{"name":"a","$patch":"merge"}]}})", pod, Code::kBadRequest,
              "merging lists cannot yet be specified in the patch");
  ExpectError(R"({"metadata":{"finalizers":[]}})", R"({"metadata":{"finalizers":[["b"]]}})", pod,
              Code::kInvalid, "lists of lists are not supported");
  ExpectError(R"({"metadata":{"finalizers":["a"]}})", R"({"metadata":{"finalizers":[{"b":1}]}})",
              pod, Code::kBadRequest, R"(list element types are not identical: ["a"][{"b":1}])");
  ExpectError(R"({"metadata":{"finalizers":["a"]}})",
              R"({"metadata":{"$deleteFromPrimitiveList":["a"]}})", pod, Code::kBadRequest,
              "invalid patch format of primitive list");
  ExpectError(R"({"spec":{"containers":[]}})", R"({"spec":{"$setElementOrder":[]}})", pod,
              Code::kBadRequest, "invalid patch format of setElementOrder list");
  ExpectError(R"({})", R"([])", pod, Code::kBadRequest, "invalid JSON document");
}

TEST_CASE("StrategicMergePatch: without a schema it merges maps and replaces lists",
          "[api][unit]") {
  RunCases(
      {
          {"maps merge, lists replace", R"({"spec":{"a":1,"l":[{"name":"x","v":1}]}})",
           R"({"spec":{"b":2,"l":[{"name":"x","w":2}]}})",
           R"({"spec":{"a":1,"b":2,"l":[{"name":"x","w":2}]}})"},
          {"directives still apply", R"({"spec":{"m":{"a":1}}})",
           R"({"spec":{"m":{"$patch":"replace","b":2}}})", R"({"spec":{"m":{"b":2}}})"},
      },
      nullptr);
}

// The patches kubectl 1.32 sends (kubectl-wire.md §3.5, §4.6, appendix C).
TEST_CASE("StrategicMergePatch: kubectl set image and rollout restart", "[api][unit]") {
  auto live = J(R"({"metadata":{"name":"x"},"spec":{"replicas":1,"template":{
      "metadata":{"labels":{"app":"x"}},
      "spec":{"containers":[{"name":"c","image":"nginx:1"},{"name":"sidecar","image":"busybox"}]}}}})");
  auto image = StrategicMergePatch(live, J(R"({"spec":{"template":{"spec":{
      "$setElementOrder/containers":[{"name":"c"}],"containers":[{"image":"nginx:9","name":"c"}]}}}})"),
                                   Schemas().deployment);
  REQUIRE(image.ok());
  CHECK(boost::json::serialize(image->at_pointer("/spec/template/spec/containers")) ==
        R"([{"name":"c","image":"nginx:9"},{"name":"sidecar","image":"busybox"}])");
  auto restart = StrategicMergePatch(live, J(R"({"spec":{"template":{"metadata":{"annotations":{
      "kubectl.kubernetes.io/restartedAt":"2026-11-25T19:07:44Z"}}}}})"),
                                     Schemas().deployment);
  REQUIRE(restart.ok());
  CHECK(restart->at_pointer(
            "/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt") ==
        "2026-11-25T19:07:44Z");
  CHECK(restart->at_pointer("/spec/template/metadata/labels/app") == "x");
}

TEST_CASE("StrategicMergePatch: kubectl apply's patch that removes an env var", "[api][unit]") {
  auto live = J(
      R"({"metadata":{"name":"x","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"old"}},
      "spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.3",
      "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}}})");
  auto patch =
      J(R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"}},
      "spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"c"}],
      "containers":[{"$setElementOrder/env":[{"name":"A"}],"env":[{"$patch":"delete","name":"B"}],"name":"c"}]}}}})");
  auto got = StrategicMergePatch(live, patch, Schemas().deployment);
  REQUIRE(got.ok());
  CHECK(JsonEqual(
      *got,
      J(R"({"metadata":{"name":"x","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"}},
      "spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.3",
      "env":[{"name":"A","value":"1"}]}]}}}})")));
}

TEST_CASE("StrategicMergePatch: the directive-heavy patch of kubectl-wire §4.6 applies",
          "[api][unit]") {
  auto live = J(R"({"metadata":{"name":"x","labels":{"old":"1","tier":"web"},
      "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"old"}},
    "spec":{"replicas":1,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
      "template":{"metadata":{"labels":{"app":"x"}},"spec":{
        "containers":[
          {"name":"c","image":"nginx:1.2","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
           "ports":[{"containerPort":80},{"containerPort":443}],
           "volumeMounts":[{"mountPath":"/v1","name":"v1"},{"mountPath":"/v2","name":"v2"}]},
          {"name":"sidecar","image":"busybox"}],
        "tolerations":[{"key":"k","operator":"Exists"}],
        "volumes":[{"name":"v1","configMap":{"name":"cm1"}},{"name":"v2","configMap":{"name":"cm2"}}]}}}})");
  auto patch = J(
      R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"},"labels":{"old":null}},
 "spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"},
  "template":{"spec":{
   "$setElementOrder/containers":[{"name":"c"}],
   "$setElementOrder/volumes":[{"name":"v2"}],
   "containers":[{"$setElementOrder/env":[{"name":"A"}],"$setElementOrder/ports":[{"containerPort":80}],
                  "$setElementOrder/volumeMounts":[{"mountPath":"/v2"}],
                  "args":["a"],"env":[{"$patch":"delete","name":"B"}],"image":"nginx:1.3","name":"c",
                  "ports":[{"$patch":"delete","containerPort":443}],
                  "volumeMounts":[{"$patch":"delete","mountPath":"/v1"}]},
                 {"$patch":"delete","name":"sidecar"}],
   "tolerations":null,
   "volumes":[{"$retainKeys":["name","secret"],"configMap":null,"name":"v2","secret":{"secretName":"s"}},
              {"$patch":"delete","name":"v1"}]}}}})");
  auto got = StrategicMergePatch(live, patch, Schemas().deployment);
  REQUIRE(got.ok());
  auto want = J(R"({"metadata":{"name":"x","labels":{"tier":"web"},
      "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"}},
    "spec":{"replicas":1,"strategy":{"type":"Recreate"},
      "template":{"metadata":{"labels":{"app":"x"}},"spec":{
        "containers":[
          {"name":"c","image":"nginx:1.3","env":[{"name":"A","value":"1"}],
           "ports":[{"containerPort":80}],"volumeMounts":[{"mountPath":"/v2","name":"v2"}],"args":["a"]}],
        "volumes":[{"name":"v2","secret":{"secretName":"s"}}]}}}})");
  INFO(boost::json::serialize(*got));
  CHECK(JsonEqual(*got, want));
  // No directive survives anywhere in the result.
  CHECK(boost::json::serialize(*got).find('$') == std::string::npos);
}

TEST_CASE("StrategicMergePatch: inputs are not modified", "[api][unit]") {
  auto original = J(R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})");
  auto patch = J(R"({"spec":{"containers":[{"name":"a","$patch":"delete"}]}})");
  auto original_copy = original;
  auto patch_copy = patch;
  REQUIRE(StrategicMergePatch(original, patch, Schemas().pod).ok());
  CHECK(original == original_copy);
  CHECK(patch == patch_copy);
}

}  // namespace
}  // namespace mini8s::api
