// Bounded fuzzing of the patch and selector entry points the API server feeds with request
// bodies and query strings: every input must give a value or a Status, never a crash or an
// exception. Fixed seeds keep failures reproducible.
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "mini8s/api/patch.h"
#include "mini8s/api/registry.h"
#include "mini8s/api/selector.h"
#include "mini8s/common/json.h"
#include "unit/common/fuzz_util.h"

namespace mini8s::api {
namespace {

constexpr int kCases = 2500;

const Schema* DeploymentSchema() {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = registry->FindKind("apps", "v1", "Deployment");
  REQUIRE(info != nullptr);
  return info->schema;
}

const char* kDoc = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d",)"
                   R"("labels":{"a":"b"},"finalizers":["x","y"]},"spec":{"replicas":2,)"
                   R"("template":{"spec":{"containers":[{"name":"c","image":"i",)"
                   R"("env":[{"name":"A","value":"1"}],"ports":[{"containerPort":80}]}]}}}})";

const std::vector<std::string> kPatchSeeds = {
    // strategic merge patches
    R"({"metadata":{"labels":{"a":null,"c":"d"},"$setElementOrder/finalizers":["y","x"],)"
    R"("$deleteFromPrimitiveList/finalizers":["x"]},"spec":{"template":{"spec":{"containers":)"
    R"([{"name":"c","$patch":"delete"},{"name":"e","image":"j","env":[{"name":"B",)"
    R"("$patch":"replace"}]}],"$setElementOrder/containers":[{"name":"e"}]}},)"
    R"("$retainKeys":["replicas"]}})",
    R"({"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"z"}]}}},)"
    R"("$patch":"merge"})",
    // JSON patches
    R"([{"op":"add","path":"/metadata/labels/x","value":"y"},{"op":"remove","path":)"
    R"("/spec/template/spec/containers/-1"},{"op":"copy","from":"/metadata","path":"/m"},)"
    R"({"op":"move","from":"/m","path":"/n/o"},{"op":"test","path":"/spec/replicas","value":2},)"
    R"({"op":"replace","path":"","value":{}}])",
};

const std::vector<std::string> kDict = {"{",
                                        "}",
                                        "[",
                                        "]",
                                        ",",
                                        ":",
                                        "null",
                                        "\"$patch\":\"delete\"",
                                        "\"$patch\":\"replace\"",
                                        "\"$retainKeys\":",
                                        "\"$setElementOrder/containers\":",
                                        "\"$deleteFromPrimitiveList/x\":",
                                        "\"op\":\"copy\"",
                                        "\"from\":\"\"",
                                        "\"path\":\"/a\"",
                                        "\"path\":\"/-\"",
                                        "-9223372036854775808",
                                        "\"/spec/template/spec/containers/0\"",
                                        "1e308",
                                        "[[",
                                        "{\"name\":"};

TEST_CASE("Fuzz: mutated patches apply or fail with a Status, never an exception",
          "[api_patch][unit]") {
  auto doc = ParseJson(kDoc);
  REQUIRE(doc.has_value());
  const Schema* schema = DeploymentSchema();
  testing::Mutator m(4242, kDict);
  int parsed = 0;
  for (int i = 0; i < kCases; ++i) {
    std::string text = m.Mutate(kPatchSeeds[m.Below(kPatchSeeds.size())]);
    auto patch = ParseJson(text);
    if (!patch.has_value()) continue;
    ++parsed;
    try {
      (void)ApplyJsonPatch(*doc, *patch);
      boost::json::value merged = ApplyMergePatch(*doc, *patch);
      (void)CreateMergePatch(*doc, merged);
      if (patch->is_object()) {
        auto smp = StrategicMergePatch(*doc, *patch, schema);
        (void)StrategicMergePatch(*doc, *patch, nullptr);
        if (smp.has_value() && smp->is_object()) {
          (void)CreateTwoWayMergePatch(*doc, *smp, schema);
          (void)CreateThreeWayMergePatch(*patch, *smp, *doc, schema, i % 2 == 0);
        }
      }
    } catch (const std::exception& e) {
      FAIL("exception escaped for patch " << text << ": " << e.what());
    }
  }
  CHECK(parsed > kCases / 20);  // the success paths must be exercised too
}

TEST_CASE("Fuzz: mutated label and field selectors parse or fail with a Status",
          "[api_patch][unit]") {
  const std::vector<std::string> seeds = {
      "a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1,m<2",
      "app.kubernetes.io/name==x,tier notin (a, b ,c),  !x",
      "metadata.name=a\\,b,spec.nodeName!=,status.phase==Running"};
  testing::Mutator m(77, {"(", ")", ",", "=", "==", "!=", "!", "in", "notin", " ", "\\", "/", ">",
                          "<", "99999999999999999999", "-", "."});
  StringMap labels = {{"a", "b"}, {"l", "5"}, {"e", "f"}};
  for (int i = 0; i < kCases; ++i) {
    std::string in = m.Mutate(seeds[m.Below(seeds.size())]);
    try {
      auto ls = LabelSelector::Parse(in);
      if (ls.has_value()) {
        (void)ls->Matches(labels);
        auto again = LabelSelector::Parse(ls->String());
        CHECK(again.has_value());
      }
      auto fs = FieldSelector::Parse(in);
      if (fs.has_value()) (void)fs->String();
      (void)UnescapeFieldValue(in);
    } catch (const std::exception& e) {
      FAIL("exception escaped for selector " << in << ": " << e.what());
    }
  }
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

boost::json::value Nested(std::size_t depth) {
  std::string text(depth, '[');
  text.append(depth, ']');
  auto v = ParseJson(text);
  REQUIRE(v.has_value());
  return std::move(*v);
}

TEST_CASE("JsonPatch: repeated copies of the whole document stop at the copy size limit",
          "[api_patch][unit]") {
  auto doc = ParseJson(R"({"a":[")" + std::string(1000, 'x') + R"("]})");
  REQUIRE(doc.has_value());
  boost::json::array ops;
  // Each copy appends the list to itself, doubling it: unbounded, 10000 of them would need
  // 2^10000 bytes.
  for (int i = 0; i < 100; ++i) {
    ops.push_back(boost::json::object{{"op", "copy"}, {"from", "/a"}, {"path", "/a/-"}});
  }
  auto r = ApplyJsonPatch(*doc, ops);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Code::kInvalid);
  CHECK_THAT(r.error().message(), Catch::Contains("exceed the limit"));
}

TEST_CASE("JsonPatch: a result nested past the JSON depth limit is refused", "[api_patch][unit]") {
  boost::json::value doc = boost::json::object{{"a", Nested(kMaxJsonDepth - 1)}};
  // Copying the deep value below itself would double the nesting with each operation.
  std::string path = "/a";
  for (std::size_t i = 0; i + 1 < kMaxJsonDepth - 1; ++i) path += "/0";
  boost::json::array ops = {boost::json::object{{"op", "copy"}, {"from", "/a"}, {"path", path}}};
  auto r = ApplyJsonPatch(doc, ops);
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.error().message(), Catch::Contains("nest deeper"));
  // Within the limit still works.
  boost::json::array ok = {
      boost::json::object{{"op", "add"}, {"path", "/b"}, {"value", Nested(kMaxJsonDepth - 1)}}};
  CHECK(ApplyJsonPatch(doc, ok).has_value());
}

TEST_CASE("JsonPatch: move relocates the value without leaving a copy behind",
          "[api_patch][unit]") {
  auto doc = ParseJson(R"({"a":{"x":[1,2]},"b":{}})");
  REQUIRE(doc.has_value());
  auto patch = ParseJson(R"([{"op":"move","from":"/a/x","path":"/b/y"},)"
                         R"({"op":"move","from":"/b/y","path":"/a/x"},)"
                         R"({"op":"move","from":"/a","path":"/c"}])");
  REQUIRE(patch.has_value());
  auto r = ApplyJsonPatch(*doc, *patch);
  REQUIRE(r.has_value());
  CHECK(SerializeJson(*r) == R"({"b":{},"c":{"x":[1,2]}})");
}

boost::json::value NestedObjects(std::size_t depth) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += R"({"a":)";
  text += "1";
  text.append(depth, '}');
  auto v = ParseJson(text);
  REQUIRE(v.has_value());
  return std::move(*v);
}

TEST_CASE("Patch: documents nested to the JSON depth limit never exhaust the stack",
          "[api_patch][unit]") {
  auto with = GENERATE(0, 1);
  boost::json::value deep =
      with == 0 ? Nested(kMaxJsonDepth - 1) : NestedObjects(kMaxJsonDepth - 1);
  boost::json::value doc = boost::json::object{{"a", deep}};
  boost::json::value patch = boost::json::object{{"a", deep}, {"b", 1}};
  boost::json::value merged = ApplyMergePatch(doc, patch);
  CHECK(JsonEqual(merged.as_object()["a"], deep));
  (void)CreateMergePatch(doc, patch);
  // Strategic merge refuses what it cannot recurse through safely, and stays usable below that.
  auto refused = StrategicMergePatch(doc, patch, nullptr);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == Code::kBadRequest);
  CHECK_FALSE(StrategicMergePatch(doc, patch, DeploymentSchema()).has_value());
  CHECK_FALSE(CreateTwoWayMergePatch(doc, patch, nullptr).has_value());
  CHECK_FALSE(CreateThreeWayMergePatch(doc, patch, doc, nullptr).has_value());
  boost::json::value ok = with == 0 ? Nested(900) : NestedObjects(900);
  boost::json::value ok_doc = boost::json::object{{"a", ok}};
  boost::json::value ok_patch = boost::json::object{{"a", ok}, {"b", 1}};
  CHECK(StrategicMergePatch(ok_doc, ok_patch, nullptr).has_value());
  CHECK(CreateTwoWayMergePatch(ok_doc, ok_patch, nullptr).has_value());
  CHECK(CreateThreeWayMergePatch(ok_doc, ok_patch, ok_doc, nullptr).has_value());
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

TEST_CASE("StrategicMergePatch: numbers in error messages are written as Go writes them",
          "[api_patch][unit]") {
  auto doc = ParseJson(R"({"spec":{"template":{"spec":{"containers":[{"name":"a"}]}}}})");
  auto patch = ParseJson(R"({"spec":{"template":{"spec":{"containers":[{"image":1.5}]}}}})");
  REQUIRE(doc.has_value());
  REQUIRE(patch.has_value());
  auto r = StrategicMergePatch(*doc, *patch, DeploymentSchema());
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.error().message(), Catch::Contains("1.5") && !Catch::Contains("E0"));
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

TEST_CASE("StrategicMergePatch: a CRD nested to the JSON depth limit is refused, not a crash",
          "[api_patch][unit]") {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = registry->FindKind("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
  REQUIRE(info != nullptr);
  std::string schema;
  const int levels = static_cast<int>(kMaxJsonDepth / 2) - 10;
  for (int i = 0; i < levels; ++i) schema += R"({"properties":{"a":)";
  schema += R"({"type":"string"})";
  for (int i = 0; i < levels; ++i) schema += "}}";
  auto crd = ParseJson(R"({"spec":{"versions":[{"name":"v1","schema":{"openAPIV3Schema":)" +
                       schema + "}}]}}");
  REQUIRE(crd.has_value());
  auto patch = ParseJson(R"({"spec":{"versions":[{"name":"v1","served":true}]}})");
  REQUIRE(patch.has_value());
  CHECK_FALSE(StrategicMergePatch(*crd, *patch, info->schema).has_value());
  CHECK_FALSE(StrategicMergePatch(*patch, *crd, info->schema).has_value());
  CHECK_FALSE(CreateTwoWayMergePatch(*patch, *crd, info->schema).has_value());
  CHECK_FALSE(CreateThreeWayMergePatch(*patch, *crd, *patch, info->schema).has_value());
  CHECK(JsonEqual(*crd, *crd));
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

TEST_CASE("LabelSelector: many invalid values are reported without quadratic work",
          "[api_patch][unit]") {
  boost::json::array values;
  for (int i = 0; i < 100000; ++i) values.emplace_back("-bad-" + std::to_string(i));
  boost::json::value sel = boost::json::object{
      {"matchExpressions", boost::json::array{boost::json::object{
                               {"key", "k"}, {"operator", "In"}, {"values", std::move(values)}}}}};
  auto r = LabelSelector::FromLabelSelectorJson(&sel);
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.error().message(), Catch::Contains("values[99999]"));
}

}  // namespace
}  // namespace mini8s::api
