#include "mini8s/api/object.h"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

namespace mini8s::api {
namespace {

namespace json = boost::json;

json::object Pod() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1", "resourceVersion": "42",
                 "generation": 3, "creationTimestamp": "2025-01-01T00:00:00Z",
                 "labels": {"app": "web", "n": 5}, "annotations": {"a": "b"},
                 "finalizers": ["x/y", 7, "z"],
                 "ownerReferences": [
                   {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-1",
                    "controller": true, "blockOwnerDeletion": true},
                   "junk",
                   {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "cm-1"}]},
    "spec": {"nodeName": "n1", "replicas": 2.0, "hostNetwork": true}})")
      .as_object();
}

TEST_CASE("Object: getters read metadata fields", "[api_registry][unit]") {
  json::object pod = Pod();
  CHECK(ApiVersion(pod) == "v1");
  CHECK(Kind(pod) == "Pod");
  CHECK(Name(pod) == "web-1");
  CHECK(Namespace(pod) == "default");
  CHECK(Uid(pod) == "u-1");
  CHECK(ResourceVersion(pod) == "42");
  CHECK(Generation(pod) == 3);
  CHECK(CreationTimestamp(pod) == "2025-01-01T00:00:00Z");
  CHECK_FALSE(IsBeingDeleted(pod));
  CHECK(Label(pod, "app") == std::optional<std::string_view>("web"));
  CHECK_FALSE(Label(pod, "n").has_value());  // not a string
  CHECK_FALSE(Label(pod, "missing").has_value());
  CHECK(Annotation(pod, "a") == std::optional<std::string_view>("b"));
  CHECK(Finalizers(pod) == std::vector<std::string>{"x/y", "z"});
  CHECK(HasFinalizer(pod, "z"));
  CHECK_FALSE(HasFinalizer(pod, "7"));
  auto owners = OwnerReferences(pod);
  REQUIRE(owners.size() == 2);
  CHECK(owners[0].kind == "ReplicaSet");
  CHECK(owners[0].block_owner_deletion);
  CHECK_FALSE(owners[1].controller);
  auto controller = ControllerOf(pod);
  REQUIRE(controller.has_value());
  CHECK(controller->uid == "rs-1");

  CHECK(GetString(pod, "spec.nodeName") == "n1");
  CHECK(GetString(pod, ".spec.nodeName") == "n1");
  CHECK(GetInt(pod, "spec.replicas") == 2);  // an integral double
  CHECK(GetBool(pod, "spec.hostNetwork") == true);
  CHECK_FALSE(GetInt(pod, "spec.nodeName").has_value());
  CHECK(GetObject(pod, "metadata.labels") != nullptr);
  CHECK(GetArray(pod, "metadata.finalizers")->size() == 3);
  CHECK(FindPath(pod, "spec.nodeName.deeper") == nullptr);

  json::value as_value = pod;
  CHECK(Name(as_value) == "web-1");
  CHECK(Labels(as_value)->size() == 2);
  CHECK(SplitApiVersion("apps/v1") == std::pair<std::string_view, std::string_view>{"apps", "v1"});
  CHECK(SplitApiVersion("v1") == std::pair<std::string_view, std::string_view>{"", "v1"});
}

TEST_CASE("Object: getters are safe on missing and wrongly typed fields", "[api_registry][unit]") {
  json::object empty;
  CHECK(Name(empty).empty());
  CHECK(Generation(empty) == 0);
  CHECK(Labels(empty) == nullptr);
  CHECK(Finalizers(empty).empty());
  CHECK(OwnerReferences(empty).empty());
  CHECK_FALSE(ControllerOf(empty).has_value());

  json::object odd = json::parse(R"({"apiVersion": 1, "kind": null, "metadata": {
      "name": ["x"], "generation": "3", "labels": "app=web", "finalizers": {"a": 1},
      "ownerReferences": {}, "deletionTimestamp": 5}})")
                         .as_object();
  CHECK(ApiVersion(odd).empty());
  CHECK(Kind(odd).empty());
  CHECK(Name(odd).empty());
  CHECK(Generation(odd) == 0);
  CHECK(Labels(odd) == nullptr);
  CHECK(Finalizers(odd).empty());
  CHECK(OwnerReferences(odd).empty());
  CHECK_FALSE(IsBeingDeleted(odd));

  json::object bad_meta = json::parse(R"({"metadata": "nope"})").as_object();
  CHECK(Metadata(bad_meta) == nullptr);
  CHECK(Name(json::value(42)).empty());
  CHECK(Labels(json::value("x")) == nullptr);
}

TEST_CASE("Object: setters create what they need and clean up after removals",
          "[api_registry][unit]") {
  json::object obj = json::parse(R"({"metadata": "not an object"})").as_object();
  SetApiVersion(obj, "apps/v1");
  SetKind(obj, "Deployment");
  SetName(obj, "web");
  SetNamespace(obj, "prod");
  SetUid(obj, "u");
  SetResourceVersion(obj, "7");
  SetGeneration(obj, 2);
  SetCreationTimestamp(obj, "2025-01-01T00:00:00Z");
  CHECK(ApiVersion(obj) == "apps/v1");
  CHECK(Kind(obj) == "Deployment");
  CHECK(Name(obj) == "web");
  CHECK(Namespace(obj) == "prod");
  CHECK(Generation(obj) == 2);
  CHECK(ResourceVersion(obj) == "7");

  SetLabel(obj, "app", "web");
  SetLabel(obj, "tier", "fe");
  CHECK(RemoveLabel(obj, "app"));
  CHECK_FALSE(RemoveLabel(obj, "app"));
  CHECK(Labels(obj)->size() == 1);
  CHECK(RemoveLabel(obj, "tier"));
  CHECK_FALSE(Metadata(obj)->contains("labels"));
  SetAnnotation(obj, "k", "v");
  CHECK(Annotation(obj, "k") == std::optional<std::string_view>("v"));
  CHECK(RemoveAnnotation(obj, "k"));
  CHECK(Annotations(obj) == nullptr);

  CHECK(AddFinalizer(obj, "f1"));
  CHECK_FALSE(AddFinalizer(obj, "f1"));
  CHECK(AddFinalizer(obj, "f2"));
  CHECK(Finalizers(obj) == std::vector<std::string>{"f1", "f2"});
  CHECK(RemoveFinalizer(obj, "f1"));
  CHECK_FALSE(RemoveFinalizer(obj, "f1"));
  CHECK(RemoveFinalizer(obj, "f2"));
  CHECK_FALSE(Metadata(obj)->contains("finalizers"));

  OwnerReference ref{"apps/v1", "ReplicaSet", "web-1", "rs", true, false};
  SetOwnerReferences(obj, {ref});
  REQUIRE(OwnerReferences(obj).size() == 1);
  CHECK(OwnerReferences(obj)[0] == ref);
  CHECK_FALSE(GetObject(obj, "metadata")
                  ->at("ownerReferences")
                  .as_array()[0]
                  .as_object()
                  .contains("blockOwnerDeletion"));
  SetOwnerReferences(obj, {});
  CHECK_FALSE(Metadata(obj)->contains("ownerReferences"));

  SetDeletionTimestamp(obj, "2025-01-02T00:00:00Z");
  SetDeletionGracePeriodSeconds(obj, 30);
  CHECK(IsBeingDeleted(obj));
  CHECK(DeletionGracePeriodSeconds(obj) == 30);

  MutableObjectAt(obj, "spec.template.spec")["nodeName"] = "n2";
  CHECK(GetString(obj, "spec.template.spec.nodeName") == "n2");
  json::value v = 5;
  AsMutableObject(v)["x"] = 1;
  CHECK(v.is_object());
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

// Converting an out-of-range double to int64 is undefined behaviour; UBSan builds catch the old
// unchecked cast here, and every build checks the answers.
TEST_CASE("Object: integer accessors reject doubles outside the int64 range",
          "[api_registry][unit]") {
  auto obj = boost::json::parse(
                 R"({"metadata":{"generation":1e300},"spec":{"a":-1e300,"b":9223372036854775808.0,)"
                 R"("c":1e3,"d":-9223372036854775808.0,"e":1.5}})")
                 .as_object();
  CHECK(Generation(obj) == 0);
  CHECK_FALSE(GetInt(obj, "spec.a").has_value());
  CHECK_FALSE(GetInt(obj, "spec.b").has_value());
  CHECK(GetInt(obj, "spec.c") == 1000);
  CHECK(GetInt(obj, "spec.d") == INT64_MIN);
  CHECK_FALSE(GetInt(obj, "spec.e").has_value());
}

}  // namespace
}  // namespace mini8s::api
