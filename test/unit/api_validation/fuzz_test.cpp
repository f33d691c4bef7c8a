// Bounded fuzzing of what validation sees from clients: quantity strings and whole objects of
// the wrong shape. Every input must give a value, an error list or a Status, never a crash or
// an exception. Fixed seeds keep failures reproducible.
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "mini8s/api/defaults.h"
#include "mini8s/api/quantity.h"
#include "mini8s/api/registry.h"
#include "mini8s/api/validation.h"
#include "mini8s/common/json.h"
#include "unit/common/fuzz_util.h"

namespace mini8s::api {
namespace {

TEST_CASE("Fuzz: mutated quantities parse, print and compare or fail with a Status",
          "[api_validation][unit]") {
  const std::vector<std::string> seeds = {"100m",
                                          "1.5Gi",
                                          "-2e3",
                                          "0.000000001",
                                          "9223372036854775807",
                                          "1E",
                                          "123456789012345678901Ki"};
  testing::Mutator m(2024, {"e", "E", "Ki", "Mi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "-",
                            "+", ".", "999999999999999999999", "e2147483647", "e-2147483648"});
  Quantity one = Quantity::FromInt(1);
  for (int i = 0; i < 4000; ++i) {
    std::string in = m.Mutate(seeds[m.Below(seeds.size())]);
    try {
      auto q = Quantity::Parse(in);
      if (!q.has_value()) continue;
      std::string canonical = q->String();
      auto again = Quantity::Parse(canonical);
      INFO(in << " -> " << canonical);
      REQUIRE(again.has_value());
      CHECK(again->Cmp(*q) == 0);
      (void)q->Value();
      (void)q->MilliValue();
      (void)q->AsApproximateDouble();
      Quantity sum = *q;
      (void)sum.Add(one);
      (void)sum.Sub(*q);
      (void)q->Cmp(one);
    } catch (const std::exception& e) {
      FAIL("exception escaped for quantity " << in << ": " << e.what());
    }
  }
}

TEST_CASE("Fuzz: mutated objects default and validate without crashing", "[api_validation][unit]") {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  struct Seed {
    const char* group;
    const char* kind;
    const char* json;
  };
  const std::vector<Seed> seeds = {
      {"", "Pod",
       R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"}},)"
       R"("spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80}],)"
       R"("resources":{"limits":{"cpu":"1","memory":"1Gi"}},"env":[{"name":"A","value":"1"}]}],)"
       R"("volumes":[{"name":"v","emptyDir":{}}],"tolerations":[{"key":"k","operator":"Exists"}]}})"},
      {"apps", "Deployment",
       R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":)"
       R"({"replicas":1,"selector":{"matchLabels":{"a":"b"}},"strategy":{"type":"RollingUpdate"},)"
       R"("template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c",)"
       R"("image":"i"}]}}}})"},
      {"", "Service",
       R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"NodePort",)"
       R"("sessionAffinity":"ClientIP","ports":[{"port":80,"targetPort":"http","nodePort":30001}],)"
       R"("selector":{"a":"b"}}})"},
  };
  testing::Mutator m(31337, {"{", "}", "[", "]", ",", ":", "null", "true", "1.5", "-1", "\"\"",
                             "{}", "[]", "\"x\"", "1e300", "9223372036854775808"});
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    const Seed& seed = seeds[m.Below(seeds.size())];
    std::string text = m.Mutate(seed.json);
    auto v = ParseJson(text);
    if (!v.has_value() || !v->is_object()) continue;
    ++parsed;
    auto info = registry->FindKind(seed.group, "v1", seed.kind);
    REQUIRE(info != nullptr);
    try {
      boost::json::object obj = v->get_object();
      ApplyDefaults(*info, obj);
      (void)ValidateCreate(*info, obj);
      (void)ValidateUpdate(*info, obj, v->get_object());
      if (info->schema != nullptr) {
        (void)ValidateAgainstSchema(*info->schema, *v);
        boost::json::value pruned = *v;
        PruneUnknownFields(*info->schema, pruned);
      }
    } catch (const std::exception& e) {
      FAIL("exception escaped for " << seed.kind << " " << text << ": " << e.what());
    }
  }
  CHECK(parsed > 100);
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

// Upstream quotes the number as written ("1.5"); Boost's serializer wrote "1.5E0".
TEST_CASE("Schema validation: numbers in decode errors are written as Go writes them",
          "[api_validation][unit]") {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = registry->FindKind("", "v1", "Service");
  REQUIRE(info != nullptr);
  auto svc = ParseJson(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},)"
                       R"("spec":{"ports":[{"port":80,"targetPort":1.5}]}})");
  REQUIRE(svc.has_value());
  auto r = ValidateAgainstSchema(*info->schema, *svc);
  REQUIRE_FALSE(r.decode_errors.empty());
  CHECK_THAT(r.decode_errors[0], Catch::Contains("number 1.5 ") && !Catch::Contains("E0"));
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

KindInfoConstSharedPtr PatternedKind(Registry& registry) {
  auto crd = ParseJson(R"({"apiVersion":"apiextensions.k8s.io/v1",
    "kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"widgets","singular":"widget","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{
        "type":"object","properties":{"spec":{"type":"object","properties":{
          "name":{"type":"string","pattern":"^(a|b)*$"},
          "when":{"type":"string","format":"date-time"},
          "id":{"type":"string","format":"uuid"}}}}}}}]}})");
  REQUIRE(crd.has_value());
  REQUIRE(registry.AddCustomResource(*crd).ok());
  auto info = registry.FindKind("example.com", "v1", "Widget");
  REQUIRE(info != nullptr);
  return info;
}

size_t ErrorsFor(const KindInfo& info, std::string_view field, const std::string& value) {
  boost::json::object spec;
  spec[field] = value;
  boost::json::value obj = boost::json::object{{"apiVersion", "example.com/v1"},
                                               {"kind", "Widget"},
                                               {"metadata", boost::json::object{{"name", "w"}}},
                                               {"spec", std::move(spec)}};
  SchemaValidationOptions opts;
  opts.custom_resource = true;
  return ValidateAgainstSchema(*info.schema, obj, opts).errors.size();
}

// std::regex recurses per subject character: these inputs used to overflow the stack.
TEST_CASE("Schema validation: long strings against a CRD pattern fail instead of crashing",
          "[api_validation][unit]") {
  std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = PatternedKind(*registry);
  CHECK(ErrorsFor(*info, "name", "abab") == 0);
  CHECK(ErrorsFor(*info, "name", "abc") == 1);
  CHECK(ErrorsFor(*info, "name", std::string(200000, 'a')) == 1);
}

TEST_CASE("Schema validation: date-time and uuid formats are checked without std::regex",
          "[api_validation][unit]") {
  std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = PatternedKind(*registry);
  CHECK(ErrorsFor(*info, "when", "2024-01-02T03:04:05Z") == 0);
  CHECK(ErrorsFor(*info, "when", "2024-01-02 03:04:05.123+02:00") == 0);
  CHECK(ErrorsFor(*info, "when", "2024-01-02T03:04:05." + std::string(200000, '1') + "Z") == 0);
  CHECK(ErrorsFor(*info, "when", "2024-01-02T03:04:05.Z") == 1);
  CHECK(ErrorsFor(*info, "when", "2024-01-02T03:04:05+0200") == 1);
  CHECK(ErrorsFor(*info, "when", "2024-01-02") == 1);
  CHECK(ErrorsFor(*info, "id", "123e4567-e89b-12d3-a456-426614174000") == 0);
  CHECK(ErrorsFor(*info, "id", "123e4567e89b12d3a456426614174000") == 0);
  CHECK(ErrorsFor(*info, "id", "123e4567-e89b-12d3-a456-42661417400") == 1);
  CHECK(ErrorsFor(*info, "id", "123e4567-e89b-12d3-a456-4266141740000") == 1);
  CHECK(ErrorsFor(*info, "id", "g23e4567-e89b-12d3-a456-426614174000") == 1);
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

// The CRD kind's schema is recursive (JSONSchemaProps), so a hostile CRD nested to the JSON
// depth limit drives the schema walks as deep as the parser allows.
TEST_CASE("Schema validation: a CRD nested to the JSON depth limit validates without a crash",
          "[api_validation][unit]") {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = registry->FindKind("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
  REQUIRE(info != nullptr);
  std::string schema;
  const int levels = static_cast<int>(kMaxJsonDepth / 2) - 10;
  for (int i = 0; i < levels; ++i) schema += R"({"type":"object","properties":{"a":)";
  schema += R"({"type":"string"})";
  for (int i = 0; i < levels; ++i) schema += "}}";
  auto crd =
      ParseJson(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",)"
                R"("metadata":{"name":"ws.example.com"},"spec":{"group":"example.com",)"
                R"("versions":[{"name":"v1","schema":{"openAPIV3Schema":)" +
                schema + "}}]}}");
  REQUIRE(crd.has_value());
  auto r = ValidateAgainstSchema(*info->schema, *crd);
  REQUIRE(r.decode_errors.size() == 1);
  CHECK_THAT(r.decode_errors[0], Catch::Contains("levels deep"));
  boost::json::object obj = crd->get_object();
  ApplyDefaults(*info, obj);
  (void)ValidateCreate(*info, obj);
  boost::json::value pruned = *crd;
  PruneUnknownFields(*info->schema, pruned);
  CHECK_FALSE(registry->AddCustomResource(*crd).ok());  // deeper than a CRD schema may nest
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

// Boost 1.81's operator== copies each object member it visits: comparing these two values took
// about 8 s. The comparison must be linear and still exact.
TEST_CASE("Validation: immutability checks compare deeply nested values in linear time",
          "[api_validation][unit]") {
  auto nested = [](const char* leaf) {
    std::string text;
    for (std::size_t i = 0; i + 1 < kMaxJsonDepth; ++i) text += R"({"a":)";
    text += leaf;
    text.append(kMaxJsonDepth - 1, '}');
    auto v = ParseJson(text);
    REQUIRE(v.has_value());
    return std::move(*v);
  };
  boost::json::value a = nested("1"), b = nested("1"), c = nested("2");
  FieldPath path = FieldPath().Child("spec");
  CHECK(ValidateImmutable(&a, &b, path, BadValue::Omit()).empty());
  CHECK(ValidateImmutable(&a, &c, path, BadValue::Omit()).size() == 1);
  boost::json::value i = 1, u = 1u, d = 1.0;
  CHECK(ValidateImmutable(&i, &u, path, BadValue::Omit()).empty());  // as Boost compares
  CHECK(ValidateImmutable(&i, &d, path, BadValue::Omit()).size() == 1);
}

}  // namespace
}  // namespace mini8s::api
