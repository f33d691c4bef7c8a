#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/patch.h"

namespace mini8s::api {
namespace {

boost::json::value J(std::string_view text) { return boost::json::parse(text); }

TEST_CASE("MergePatch: the examples of RFC 7386 appendix A", "[api][unit]") {
  struct Case {
    const char* original;
    const char* patch;
    const char* result;
  };
  const std::vector<Case> cases = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", R"(null)", R"(null)"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const Case& c : cases) {
    INFO(c.original << " + " << c.patch);
    CHECK(boost::json::serialize(ApplyMergePatch(J(c.original), J(c.patch))) ==
          boost::json::serialize(J(c.result)));
  }
}

TEST_CASE("MergePatch: kubectl label and scale patches", "[api][unit]") {
  auto pod = J(R"({"metadata":{"name":"x","labels":{"app":"x"}},"spec":{"replicas":1}})");
  CHECK(JsonEqual(ApplyMergePatch(pod, J(R"({"metadata":{"labels":{"foo":"bar","app":null}}})")),
                  J(R"({"metadata":{"name":"x","labels":{"foo":"bar"}},"spec":{"replicas":1}})")));
  CHECK(JsonEqual(ApplyMergePatch(pod, J(R"({"spec":{"replicas":3}})")),
                  J(R"({"metadata":{"name":"x","labels":{"app":"x"}},"spec":{"replicas":3}})")));
}

TEST_CASE("MergePatch: CreateMergePatch diffs objects and round-trips", "[api][unit]") {
  struct Case {
    const char* original;
    const char* modified;
    const char* patch;
  };
  const std::vector<Case> cases = {
      {R"({"a":1,"b":"x"})", R"({"a":1,"b":"y"})", R"({"b":"y"})"},
      {R"({"a":1})", R"({})", R"({"a":null})"},
      {R"({})", R"({"a":{"b":1}})", R"({"a":{"b":1}})"},
      {R"({"a":{"b":1,"c":2}})", R"({"a":{"b":1,"c":3}})", R"({"a":{"c":3}})"},
      {R"({"a":{"b":1}})", R"({"a":{"b":1}})", R"({})"},
      {R"({"a":[1,2]})", R"({"a":[1,2,3]})", R"({"a":[1,2,3]})"},
      {R"({"a":[1,2]})", R"({"a":[1,2]})", R"({})"},
      {R"({"a":"x"})", R"({"a":{"b":1}})", R"({"a":{"b":1}})"},
      {R"({"a":1})", R"({"a":1.0})", R"({})"},
      {R"({"a":null})", R"({"a":null})", R"({})"},
      {R"({"a":null})", R"({"a":1})", R"({"a":1})"},
  };
  for (const Case& c : cases) {
    INFO(c.original << " -> " << c.modified);
    auto patch = CreateMergePatch(J(c.original), J(c.modified));
    REQUIRE(patch.ok());
    CHECK(JsonEqual(*patch, J(c.patch)));
    if (std::string_view(c.original) != R"({"a":null})") {
      CHECK(JsonEqual(ApplyMergePatch(J(c.original), *patch), J(c.modified)));
    }
  }
}

TEST_CASE("MergePatch: CreateMergePatch handles arrays of documents and rejects mismatches",
          "[api][unit]") {
  auto patch = CreateMergePatch(J(R"([{"a":1},{"b":1}])"), J(R"([{"a":2},{"b":1}])"));
  REQUIRE(patch.ok());
  CHECK(JsonEqual(*patch, J(R"([{"a":2},{}])")));
  auto mismatched = CreateMergePatch(J(R"({"a":1})"), J(R"([{"a":1}])"));
  REQUIRE_FALSE(mismatched.ok());
  CHECK(mismatched.error().message() == "Mismatched JSON Documents");
  auto lengths = CreateMergePatch(J(R"([{"a":1}])"), J(R"([])"));
  REQUIRE_FALSE(lengths.ok());
  CHECK(lengths.error().message() == "Invalid JSON Document");
}

}  // namespace
}  // namespace mini8s::api

namespace mini8s::api {
namespace {

TEST_CASE("JsonEqual: numbers compare by value, objects ignore member order", "[api][unit]") {
  CHECK(JsonEqual(J("1"), J("1.0")));
  CHECK(JsonEqual(J("18446744073709551615"), J("18446744073709551615")));
  CHECK_FALSE(JsonEqual(J("-1"), J("18446744073709551615")));
  CHECK(JsonEqual(J(R"({"a":1,"b":[1,{"c":null}]})"), J(R"({"b":[1.0,{"c":null}],"a":1})")));
  CHECK_FALSE(JsonEqual(J(R"({"a":1})"), J(R"({"a":1,"b":2})")));
  CHECK_FALSE(JsonEqual(J("[1,2]"), J("[2,1]")));
  CHECK_FALSE(JsonEqual(J(R"("1")"), J("1")));
  CHECK_FALSE(JsonEqual(J("null"), J("false")));
}

}  // namespace
}  // namespace mini8s::api
