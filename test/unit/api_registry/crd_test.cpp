#include <string>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/registry.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

// A CRD in the shape `kubectl apply` sends, with two served versions.
json::value CronTabCrd() {
  return json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {
      "group": "stable.example.com", "scope": "Namespaced",
      "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                "shortNames": ["ct"], "categories": ["all"]},
      "versions": [
        {"name": "v1", "served": true, "storage": true,
         "schema": {"openAPIV3Schema": {"type": "object", "properties": {
           "spec": {"type": "object", "required": ["cronSpec"], "properties": {
             "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
             "image": {"type": "string", "maxLength": 253},
             "replicas": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10,
                          "default": 1},
             "port": {"x-kubernetes-int-or-string": true},
             "mode": {"type": "string", "enum": ["a", "b"]},
             "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
             "labels": {"type": "object", "additionalProperties": {"type": "string"},
                        "x-kubernetes-map-type": "granular"},
             "workers": {"type": "array", "x-kubernetes-list-type": "map",
                         "x-kubernetes-list-map-keys": ["name"],
                         "items": {"type": "object", "required": ["name"], "properties": {
                           "name": {"type": "string"}, "size": {"type": "number", "nullable": true}}}},
             "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                          "x-kubernetes-preserve-unknown-fields": true}}},
           "status": {"type": "object", "properties": {
             "replicas": {"type": "integer"}, "selector": {"type": "string"}}}}}},
         "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
             "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}},
         "additionalPrinterColumns": [
           {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
           {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "priority": 1},
           {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
         "selectableFields": [{"jsonPath": ".spec.image"}]},
        {"name": "v1beta1", "served": true, "storage": false,
         "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}},
        {"name": "v1alpha1", "served": false, "storage": false,
         "schema": {"openAPIV3Schema": {"type": "object"}}}
      ]}})");
}

TEST_CASE("Registry: a CRD adds one kind per served version", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  size_t builtin = reg->Kinds().size();
  REQUIRE(reg->AddCustomResource(CronTabCrd()).ok());
  CHECK(reg->Kinds().size() == builtin + 2);

  auto ct = reg->FindResource("stable.example.com", "v1", "ct");
  REQUIRE(ct != nullptr);
  CHECK(ct->custom);
  CHECK(ct->kind == "CronTab");
  CHECK(ct->list_kind == "CronTabList");
  CHECK(ct->namespaced);
  CHECK(ct->categories == std::vector<std::string>{"all"});
  CHECK(reg->FindResource("stable.example.com", "v1", "crontab") == ct);
  CHECK(reg->FindResource("stable.example.com", "v1", "CronTabs") == ct);
  CHECK(reg->FindByApiVersionKind("stable.example.com/v1", "CronTab") == ct);
  CHECK(reg->FindKind("stable.example.com", "v1alpha1", "CronTab") == nullptr);
  CHECK(reg->FindKind("stable.example.com", "v1beta1", "CronTab") != nullptr);
  auto any = reg->FindResourceInAnyGroup("crontabs.stable.example.com");
  REQUIRE(any.size() == 2);
  CHECK(any[0]->version == "v1");

  CHECK(ct->HasSubresource("status"));
  CHECK(ct->HasSubresource("scale"));
  CHECK(ct->scale_spec_replicas_path == ".spec.replicas");
  CHECK(ct->scale_label_selector_path == ".status.selector");
  CHECK(ct->selectable_fields == std::vector<std::string>{"spec.image"});
  REQUIRE(ct->columns.size() == 4);
  CHECK(ct->columns[0].name == "Name");
  CHECK(ct->columns[1].json_path == ".spec.cronSpec");
  CHECK(ct->columns[2].priority == 1);
  CHECK(ct->columns[3].type == "date");

  const Schema* root = ct->schema;
  REQUIRE(root != nullptr);
  CHECK(root->definition == "com.example.stable.v1.CronTab");
  CHECK(root->group_version_kinds ==
        std::vector<GroupVersionKind>{{"stable.example.com", "v1", "CronTab"}});
  CHECK(root->properties[0].name == "apiVersion");
  CHECK(root->Child("metadata") ==
        reg->FindDefinition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  const Schema* spec = root->Child("spec");
  REQUIRE(spec != nullptr);
  CHECK(spec->required == std::vector<std::string>{"cronSpec"});
  CHECK_FALSE(spec->Child("cronSpec")->pattern.empty());
  CHECK(spec->Child("image")->max_length == 253);
  const Schema* replicas = spec->Child("replicas");
  CHECK(replicas->type == Type::kInteger);
  CHECK(replicas->format == "int32");
  CHECK(replicas->minimum == 1.0);
  CHECK(replicas->maximum == 10.0);
  REQUIRE(replicas->default_value.has_value());
  CHECK(*replicas->default_value == json::value(1));
  CHECK(spec->Child("port")->type == Type::kIntOrString);
  CHECK(spec->Child("mode")->enum_values == std::vector<std::string>{"a", "b"});
  CHECK(spec->Child("extra")->preserve_unknown_fields);
  CHECK(spec->Child("labels")->IsMap());
  CHECK(spec->Child("labels")->map_type == "granular");
  const Schema* workers = spec->Child("workers");
  CHECK(workers->list_type == "map");
  CHECK(workers->list_map_keys == std::vector<std::string>{"name"});
  CHECK(workers->items->Child("size")->nullable);
  CHECK(spec->Child("template")->embedded_resource);

  auto beta = reg->FindKind("stable.example.com", "v1beta1", "CronTab");
  CHECK(beta->schema->preserve_unknown_fields);
  REQUIRE(beta->columns.size() == 2);
  CHECK(beta->columns[1].name == "Age");
}

TEST_CASE("Registry: group-less lookups put a group's preferred version first",
          "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  json::value crd = CronTabCrd();
  json::array& versions = crd.at("spec").at("versions").as_array();
  for (const char* name : {"v2", "v10alpha1", "v2beta1", "v2beta2", "v1alpha1", "zeta"}) {
    json::value v = versions[1];
    v.as_object()["name"] = name;
    v.as_object()["served"] = true;
    versions.push_back(v);
  }
  versions.erase(versions.begin() + 2);  // the unserved v1alpha1 (re-added above as served)
  REQUIRE(reg->AddCustomResource(crd).ok());
  std::vector<std::string> order;
  for (const auto& k : reg->FindResourceInAnyGroup("crontabs")) order.push_back(k->version);
  CHECK(order == std::vector<std::string>{"v2", "v1", "v2beta2", "v2beta1", "v1beta1", "v10alpha1",
                                          "v1alpha1", "zeta"});
}

TEST_CASE("Registry: removing a CRD keeps schemas alive for holders", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  REQUIRE(reg->AddCustomResource(CronTabCrd()).ok());
  KindInfoConstSharedPtr held = reg->FindKind("stable.example.com", "v1", "CronTab");
  REQUIRE(held != nullptr);
  REQUIRE(reg->RemoveCustomResource("crontabs.stable.example.com").ok());
  CHECK(reg->FindKind("stable.example.com", "v1", "CronTab") == nullptr);
  CHECK(reg->FindResource("stable.example.com", "v1", "crontabs") == nullptr);
  CHECK(reg->FindResourceInAnyGroup("ct").empty());
  // The snapshot still works (ASan would flag a dangling node here).
  CHECK(held->schema->Child("spec")->Child("replicas")->type == Type::kInteger);
  Status again = reg->RemoveCustomResource("crontabs.stable.example.com");
  CHECK(again.code() == Code::kNotFound);
}

TEST_CASE("Registry: re-adding a CRD replaces its kinds", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  REQUIRE(reg->AddCustomResource(CronTabCrd()).ok());
  json::value crd = CronTabCrd();
  json::array& versions = crd.at("spec").at("versions").as_array();
  versions[1].as_object()["served"] = false;
  versions[0].as_object()["additionalPrinterColumns"] = json::array();
  REQUIRE(reg->AddCustomResource(crd).ok());
  CHECK(reg->FindKind("stable.example.com", "v1beta1", "CronTab") == nullptr);
  auto ct = reg->FindKind("stable.example.com", "v1", "CronTab");
  REQUIRE(ct != nullptr);
  CHECK(ct->columns.size() == 2);
}

struct BadCase {
  const char* what;
  const char* json_pointer;  // where to put `value` in CronTabCrd()
  const char* value;
  const char* expected_path;
};

TEST_CASE("Registry: an unusable CRD is rejected with the field path", "[api_registry][unit]") {
  const std::string root = "spec.versions[0].schema.openAPIV3Schema.";
  const BadCase cases[] = {
      {"unknown type", "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/image",
       R"({"type": "text"})", "properties[spec].properties[image].type"},
      {"missing type", "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/image",
       R"({"maxLength": 3})", "properties[spec].properties[image].type"},
      {"array without items",
       "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/image",
       R"({"type": "array"})", "properties[spec].properties[image].items"},
      {"$ref", "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/image",
       R"({"$ref": "#/definitions/x"})", "properties[spec].properties[image].$ref"},
      {"int-or-string with a type",
       "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/port",
       R"({"type": "string", "x-kubernetes-int-or-string": true})",
       "properties[spec].properties[port].type"},
      {"list-map keys that are not item fields",
       "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/workers/"
       "x-kubernetes-list-map-keys",
       R"(["id"])", "properties[spec].properties[workers].x-kubernetes-list-map-keys"},
      {"root that is not an object", "/spec/versions/0/schema/openAPIV3Schema",
       R"({"type": "string"})", "type"},
      {"properties that are not a map",
       "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties", R"([1])",
       "properties[spec].properties"},
  };
  for (const BadCase& c : cases) {
    INFO(c.what);
    json::value crd = CronTabCrd();
    std::error_code ec;
    json::value* slot = crd.find_pointer(c.json_pointer, ec);
    if (slot == nullptr) {
      // A new key under an existing object.
      std::string_view ptr(c.json_pointer);
      size_t slash = ptr.rfind('/');
      json::value* parent = crd.find_pointer(ptr.substr(0, slash), ec);
      REQUIRE(parent != nullptr);
      slot = &parent->as_object()[ptr.substr(slash + 1)];
    }
    *slot = json::parse(c.value);
    auto reg = Registry::NewBuiltin();
    Status s = reg->AddCustomResource(crd);
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == Code::kInvalid);
    CHECK_THAT(s.message(), Catch::StartsWith(root + c.expected_path));
    CHECK(reg->FindKind("stable.example.com", "v1", "CronTab") == nullptr);
  }
}

TEST_CASE("Registry: CRD-level mistakes are rejected", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  auto expect = [&](json::value crd, std::string_view path) {
    Status s = reg->AddCustomResource(crd);
    INFO(s.ToString());
    CHECK(s.code() == Code::kInvalid);
    CHECK_THAT(s.message(), Catch::StartsWith(std::string(path)));
  };
  json::value crd = CronTabCrd();
  crd.at("metadata").as_object()["name"] = "wrong.example.com";
  expect(crd, "metadata.name");
  crd = CronTabCrd();
  crd.at("spec").as_object()["scope"] = "Global";
  expect(crd, "spec.scope");
  crd = CronTabCrd();
  crd.at("spec").at("versions").as_array()[1].as_object()["storage"] = true;
  expect(crd, "spec.versions");
  crd = CronTabCrd();
  crd.at("spec").at("versions").as_array()[0].as_object().erase("schema");
  expect(crd, "spec.versions[0].schema.openAPIV3Schema");
  crd = CronTabCrd();
  crd.at("spec").at("versions").as_array()[0].as_object()["additionalPrinterColumns"] =
      json::parse(R"([{"name": "X", "type": "time", "jsonPath": ".spec.x"}])");
  expect(crd, "spec.versions[0].additionalPrinterColumns[0].type");
  crd = CronTabCrd();
  crd.at("spec").at("versions").as_array()[0].at("subresources").as_object()["scale"] =
      json::parse(R"({"statusReplicasPath": ".status.replicas"})");
  expect(crd, "spec.versions[0].subresources.scale.specReplicasPath");
  // A CRD may not take over a built-in resource.
  crd = json::parse(R"({"metadata": {"name": "ingresses.networking.k8s.io"}, "spec": {
      "group": "networking.k8s.io", "scope": "Namespaced",
      "names": {"plural": "ingresses", "kind": "Ingress"}, "versions": [
      {"name": "v1", "served": true, "storage": true,
       "schema": {"openAPIV3Schema": {"type": "object"}}}]}})");
  expect(crd, "spec.group");
  crd.at("spec").as_object()["group"] = "apps.k8s.io";
  crd.at("metadata").as_object()["name"] = "deployments.apps";
  expect(crd, "metadata.name");
  CHECK(reg->Kinds().size() == Registry::NewBuiltin()->Kinds().size());
}

}  // namespace
}  // namespace mini8s::api
