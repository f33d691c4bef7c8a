#include "api/apply/field_set.h"

#include <catch2/catch.hpp>

#include "mini8s/common/json.h"

namespace mini8s::api::apply {
namespace {

boost::json::value J(std::string_view text) { return ParseJson(text).value(); }

TEST_CASE("field set: FieldsV1 round-trips with '.' for members that have children",
          "[api_apply][unit]") {
  const std::string text =
      R"({"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":)"
      R"({"k:{\"name\":\"c\"}":{".":{},"f:image":{}}},"f:finalizers":{"v:\"a\"":{}},)"
      R"("f:x":{"i:0":{}}}})";
  auto set = DecodeFieldsV1(J(text));
  REQUIRE(set.has_value());
  CHECK(SerializeJson(EncodeFieldsV1(set.value())) == text);
  Path labels = {PathElement::Field("metadata"), PathElement::Field("labels")};
  CHECK(set.value().Has(labels));
  CHECK_FALSE(set.value().Has({PathElement::Field("metadata")}));
}

TEST_CASE("field set: elements sort fields before keys, values and indexes", "[api_apply][unit]") {
  FieldSet set;
  set.Insert({PathElement::Index(10)});
  set.Insert({PathElement::Index(9)});
  set.Insert({PathElement::Value(J("443"))});
  set.Insert({PathElement::Value(J("80"))});
  set.Insert({PathElement::Key(J(R"({"protocol":"TCP","containerPort":80})").get_object())});
  set.Insert({PathElement::Field("b")});
  set.Insert({PathElement::Field("a")});
  CHECK(SerializeJson(EncodeFieldsV1(set)) ==
        R"({"f:a":{},"f:b":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{},"v:80":{},)"
        R"("v:443":{},"i:9":{},"i:10":{}})");
}

TEST_CASE("field set: malformed FieldsV1 is rejected", "[api_apply][unit]") {
  CHECK_FALSE(DecodeFieldsV1(J(R"({"x:foo":{}})")).has_value());
  CHECK_FALSE(DecodeFieldsV1(J(R"({"f:a":[]})")).has_value());
  CHECK_FALSE(DecodeFieldsV1(J(R"({"k:notjson":{}})")).has_value());
  CHECK_FALSE(DecodeFieldsV1(J(R"({"i:x":{}})")).has_value());
}

TEST_CASE("field set: set operations follow member semantics", "[api_apply][unit]") {
  auto a = DecodeFieldsV1(J(R"({"f:s":{"f:a":{},"f:b":{}},"f:t":{}})")).value();
  auto b = DecodeFieldsV1(J(R"({"f:s":{"f:b":{}},"f:u":{}})")).value();
  CHECK(SerializeJson(EncodeFieldsV1(Union(a, b))) ==
        R"({"f:s":{"f:a":{},"f:b":{}},"f:t":{},"f:u":{}})");
  CHECK(SerializeJson(EncodeFieldsV1(Intersection(a, b))) == R"({"f:s":{"f:b":{}}})");
  CHECK(SerializeJson(EncodeFieldsV1(Difference(a, b))) == R"({"f:s":{"f:a":{}},"f:t":{}})");
  auto s_only = DecodeFieldsV1(J(R"({"f:s":{}})")).value();
  CHECK(SerializeJson(EncodeFieldsV1(RecursiveDifference(a, s_only))) == R"({"f:t":{}})");
  CHECK(SerializeJson(EncodeFieldsV1(Difference(a, s_only))) == SerializeJson(EncodeFieldsV1(a)));
}

TEST_CASE("field set: paths print as upstream's conflict messages do", "[api_apply][unit]") {
  Path p = {PathElement::Field("spec"),
            PathElement::Field("containers"),
            PathElement::Key(J(R"({"name":"c"})").get_object()),
            PathElement::Field("ports"),
            PathElement::Key(J(R"({"containerPort":80,"protocol":"TCP"})").get_object()),
            PathElement::Field("hostPort")};
  CHECK(PathToString(p) ==
        R"(.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].hostPort)");
  CHECK(PathToString({PathElement::Field("f"), PathElement::Value(J(R"("x")"))}) == R"(.f[="x"])");
}

}  // namespace
}  // namespace mini8s::api::apply
