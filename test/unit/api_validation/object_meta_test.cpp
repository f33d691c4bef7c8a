#include <string>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/validation.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

std::vector<std::string> Render(const ErrorList& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.ToString());
  return out;
}

const std::string kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const std::string kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

TEST_CASE("Names: DNS-1123 and qualified-name checks give upstream's messages",
          "[api_validation][unit]") {
  CHECK(IsDNS1123Subdomain("my.pod-1").empty());
  CHECK(IsDNS1123Subdomain("My_Pod") == std::vector<std::string>{kSubdomainMsg});
  CHECK(IsDNS1123Subdomain(std::string(254, 'a')) ==
        std::vector<std::string>{"must be no more than 253 characters"});
  CHECK(IsDNS1123Label("a.b") == std::vector<std::string>{"must not contain dots"});
  CHECK(IsDNS1123Label("-a").size() == 1);
  CHECK(IsQualifiedName("example.com/MyName").empty());
  CHECK(IsQualifiedName("app.kubernetes.io/name").empty());
  auto q = IsQualifiedName("/x");
  REQUIRE(q.size() == 1);
  CHECK(q[0] == "prefix part must be non-empty");
  CHECK(IsQualifiedName("a/b/c").size() == 1);
  CHECK(IsQualifiedName(std::string(64, 'a')).front() ==
        "name part must be no more than 63 characters");
  CHECK(IsValidLabelValue("").empty());
  CHECK(IsValidLabelValue("v1.2_x").empty());
  CHECK(IsValidLabelValue("-bad").size() == 1);
  CHECK(IsValidPortName("http").empty());
  CHECK(IsValidPortName("80") ==
        std::vector<std::string>{"must contain at least one letter (a-z)"});
  CHECK(IsValidPortName("a--b") ==
        std::vector<std::string>{"must not contain consecutive hyphens"});
  CHECK(IsValidPortName("averyveryverylongname").front() == "must be no more than 15 characters");
  CHECK(IsConfigMapKey("..x").back() == "must not start with '..'");
  CHECK(IsConfigMapKey("a/b").size() == 1);
  CHECK(IsValidPathSegmentName("a/b%c") ==
        std::vector<std::string>{"may not contain '/'", "may not contain '%'"});
  CHECK(IsValidPortNum(0) == std::vector<std::string>{"must be between 1 and 65535, inclusive"});
}

TEST_CASE("ObjectMeta: every problem is reported with its path", "[api_validation][unit]") {
  json::value meta = json::parse(R"({
    "name": "Bad_Name",
    "generateName": "ok-",
    "generation": -1,
    "labels": {"app": "web", "bad key!": "x", "tier": "-front"},
    "annotations": {"example.com/ok": "1", "/nope": "2"},
    "finalizers": ["orphan", "foregroundDeletion"],
    "ownerReferences": [{"apiVersion": "apps/", "kind": "", "name": "", "uid": ""}]
  })");
  auto errs = Render(ValidateObjectMeta(&meta, true, NameIsDNSSubdomain, FieldPath("metadata")));
  std::vector<std::string> want = {
      "metadata.name: Invalid value: \"Bad_Name\": " + kSubdomainMsg,
      "metadata.namespace: Required value",
      "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
      "metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric "
      "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
      "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
      "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      "metadata.labels: Invalid value: \"-front\": a valid label must be an empty string or "
      "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
      "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
      "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      "metadata.annotations: Invalid value: \"/nope\": prefix part must be non-empty",
      "metadata.ownerReferences.apiVersion: Invalid value: \"apps/\": version must not be empty",
      "metadata.ownerReferences.kind: Invalid value: \"\": kind must not be empty",
      "metadata.ownerReferences.name: Invalid value: \"\": name must not be empty",
      "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty",
      "metadata.finalizers: Invalid value: []interface {}{\"orphan\", \"foregroundDeletion\"}: "
      "finalizer orphan and foregroundDeletion cannot be both set",
  };
  CHECK(errs == want);
}

TEST_CASE("ObjectMeta: namespace rules follow the kind's scope and names use the kind's rule",
          "[api_validation][unit]") {
  json::value meta = json::parse(R"({"name": "a.b", "namespace": "default"})");
  auto cluster = Render(ValidateObjectMeta(&meta, false, NameIsDNSLabel, FieldPath("metadata")));
  CHECK(cluster ==
        std::vector<std::string>{"metadata.name: Invalid value: \"a.b\": must not contain dots",
                                 "metadata.namespace: Forbidden: not allowed on this type"});
  json::value gen = json::parse(R"({"generateName": "web-", "namespace": "default"})");
  auto g = Render(ValidateObjectMeta(&gen, true, NameIsDNSSubdomain, FieldPath("metadata")));
  CHECK(g == std::vector<std::string>{
                 "metadata.name: Required value: name or generateName is required"});
  json::value big = json::object{{"name", "x"},
                                 {"namespace", "d"},
                                 {"annotations", json::object{{"a", std::string(300000, 'x')}}}};
  auto b = Render(ValidateObjectMeta(&big, true, NameIsDNSSubdomain, FieldPath("metadata")));
  CHECK(b == std::vector<std::string>{
                 "metadata.annotations: Too long: may not be more than 262144 bytes"});
}

TEST_CASE("ObjectMeta: updates keep name, namespace, uid and creationTimestamp",
          "[api_validation][unit]") {
  json::value old_meta = json::parse(R"({"name": "a", "namespace": "ns", "uid": "u1",
    "resourceVersion": "5", "generation": 3, "creationTimestamp": "2024-01-01T00:00:00Z"})");
  json::value new_meta = json::parse(R"({"name": "b", "namespace": "ns2", "uid": "u2",
    "generation": 2, "creationTimestamp": "2024-01-02T00:00:00Z"})");
  auto errs = Render(ValidateObjectMetaUpdate(&new_meta, &old_meta, FieldPath("metadata")));
  CHECK(errs ==
        std::vector<std::string>{
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
            "metadata.generation: Invalid value: 2: must not be decremented",
            "metadata.name: Invalid value: \"b\": field is immutable",
            "metadata.namespace: Invalid value: \"ns2\": field is immutable",
            "metadata.uid: Invalid value: \"u2\": field is immutable",
            "metadata.creationTimestamp: Invalid value: 2024-01-02 00:00:00 +0000 UTC: "
            "field is immutable"});
  // Finalizers may not be added while the object is being deleted.
  json::value deleting = json::parse(R"({"name": "a", "resourceVersion": "5",
    "deletionTimestamp": "2024-01-03T00:00:00Z", "finalizers": ["a.io/x"]})");
  json::value adding = json::parse(R"({"name": "a", "resourceVersion": "5",
    "deletionTimestamp": "2024-01-03T00:00:00Z", "finalizers": ["a.io/x", "b.io/y"]})");
  auto f = Render(ValidateObjectMetaUpdate(&adding, &deleting, FieldPath("metadata")));
  CHECK(f == std::vector<std::string>{
                 "metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
                 "being deleted, found new finalizers []string{\"b.io/y\"}"});
}

TEST_CASE("LabelSelector: operators and values are checked", "[api_validation][unit]") {
  json::value sel = json::parse(R"({"matchLabels": {"app": "x"}, "matchExpressions": [
    {"key": "a", "operator": "In"},
    {"key": "b", "operator": "Exists", "values": ["x"]},
    {"key": "c", "operator": "Near", "values": ["x"]}]})");
  auto errs = Render(ValidateLabelSelector(&sel, FieldPath("spec").Child("selector")));
  CHECK(errs == std::vector<std::string>{
                    "spec.selector.matchExpressions[0].values: Required value: must be specified "
                    "when `operator` is 'In' or 'NotIn'",
                    "spec.selector.matchExpressions[1].values: Forbidden: may not be specified "
                    "when `operator` is 'Exists' or 'DoesNotExist'",
                    "spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a "
                    "valid selector operator"});
}

}  // namespace
}  // namespace mini8s::api
