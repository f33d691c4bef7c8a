#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/patch.h"

namespace mini8s::api {
namespace {

boost::json::value J(std::string_view text) { return boost::json::parse(text); }

struct Case {
  const char* name;
  const char* doc;
  const char* patch;
  const char* want;  // expected document, or nullptr when an error is expected
  Code code = Code::kOk;
  const char* message = "";  // expected error message (exact), when an error is expected
};

TEST_CASE("JsonPatch: every RFC 6902 operation applies as specified", "[api][unit]") {
  const std::vector<Case> cases = {
      {"add member", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
       R"({"foo":"bar","baz":"qux"})"},
      {"add replaces existing member", R"({"a":1})", R"([{"op":"add","path":"/a","value":2}])",
       R"({"a":2})"},
      {"add array element in the middle", R"({"foo":["bar","baz"]})",
       R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
      {"add at index == size appends", R"({"a":[1]})", R"([{"op":"add","path":"/a/1","value":2}])",
       R"({"a":[1,2]})"},
      {"add with '-' appends", R"({"a":[1]})", R"([{"op":"add","path":"/a/-","value":[2]}])",
       R"({"a":[1,[2]]})"},
      {"add nested object", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {"add whole document", R"({"a":1})", R"([{"op":"add","path":"","value":[1]}])", R"([1])"},
      {"add null value", R"({})", R"([{"op":"add","path":"/a","value":null}])", R"({"a":null})"},
      {"remove member", R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])",
       R"({"foo":"bar"})"},
      {"remove array element", R"({"foo":["bar","qux","baz"]})",
       R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {"remove with negative index counts from the end", R"({"a":[1,2,3]})",
       R"([{"op":"remove","path":"/a/-1"}])", R"({"a":[1,2]})"},
      {"replace member", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
      {"replace array element", R"({"a":[1,2]})", R"([{"op":"replace","path":"/a/0","value":9}])",
       R"({"a":[9,2]})"},
      {"replace whole document", R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])",
       R"({"b":2})"},
      {"move member", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {"move array element", R"({"foo":["all","grass","cows","eat"]})",
       R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {"move to the same place is a no-op", R"({"a":1})",
       R"([{"op":"move","from":"/a","path":"/a"}])", R"({"a":1})"},
      {"copy member", R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
       R"({"a":{"b":1},"c":{"b":1}})"},
      {"copy into array", R"({"a":[1],"b":2})", R"([{"op":"copy","from":"/b","path":"/a/0"}])",
       R"({"a":[2,1],"b":2})"},
      {"test success then replace", R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2},
           {"op":"replace","path":"/baz","value":"x"}])",
       R"({"baz":"x","foo":["a",2,"c"]})"},
      {"test compares numbers by value", R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])",
       R"({"a":1})"},
      {"test compares objects ignoring member order", R"({"a":{"x":1,"y":[1,{"z":2}]}})",
       R"([{"op":"test","path":"/a","value":{"y":[1,{"z":2}],"x":1}}])",
       R"({"a":{"x":1,"y":[1,{"z":2}]}})"},
      {"~1 and ~0 escape '/' and '~'", R"({"a/b":1,"m~n":2})",
       R"([{"op":"replace","path":"/a~1b","value":3},{"op":"remove","path":"/m~0n"}])",
       R"({"a/b":3})"},
      {"~01 decodes to ~1, not /", R"({"~1":1})", R"([{"op":"remove","path":"/~01"}])", R"({})"},
      {"empty key is a member name", R"({"":1})", R"([{"op":"replace","path":"/","value":2}])",
       R"({"":2})"},
      {"operations apply in order", R"({})",
       R"([{"op":"add","path":"/a","value":[]},{"op":"add","path":"/a/-","value":1},
           {"op":"add","path":"/a/0","value":0},{"op":"copy","from":"/a","path":"/b"},
           {"op":"remove","path":"/a/1"}])",
       R"({"a":[0],"b":[0,1]})"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto got = ApplyJsonPatch(J(c.doc), J(c.patch));
    REQUIRE(got.ok());
    CHECK(boost::json::serialize(*got) == boost::json::serialize(J(c.want)));
  }
}

TEST_CASE("JsonPatch: failures name the operation and the reason", "[api][unit]") {
  const std::vector<Case> cases = {
      {"add below a missing parent", R"({"a":1})", R"([{"op":"add","path":"/x/y","value":1}])",
       nullptr, Code::kInvalid,
       R"(add operation does not apply: doc is missing path: "/x/y": missing value)"},
      {"add past the end of an array", R"({"a":[1]})", R"([{"op":"add","path":"/a/5","value":1}])",
       nullptr, Code::kInvalid,
       "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index "
       "referenced"},
      {"add with a non-numeric index", R"({"a":[1]})", R"([{"op":"add","path":"/a/x","value":1}])",
       nullptr, Code::kInvalid,
       "error in add for path: '/a/x': value was not a proper array index: 'x'"},
      {"remove a missing member", R"({"a":1})", R"([{"op":"remove","path":"/b"}])", nullptr,
       Code::kInvalid,
       "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value"},
      {"remove below a missing parent", R"({"a":1})", R"([{"op":"remove","path":"/b/c"}])", nullptr,
       Code::kInvalid,
       R"(remove operation does not apply: doc is missing path: "/b/c": missing value)"},
      {"remove an index out of range", R"({"a":[1]})", R"([{"op":"remove","path":"/a/1"}])",
       nullptr, Code::kInvalid,
       "error in remove for path: '/a/1': Unable to access invalid index: 1: invalid index "
       "referenced"},
      {"replace a missing member", R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])",
       nullptr, Code::kInvalid,
       "replace operation does not apply: doc is missing key: /b: missing value"},
      {"replace below a missing parent", R"({})", R"([{"op":"replace","path":"/a/b","value":1}])",
       nullptr, Code::kInvalid,
       "replace operation does not apply: doc is missing path: /a/b: missing value"},
      {"move from a missing member", R"({})", R"([{"op":"move","from":"/a","path":"/b"}])", nullptr,
       Code::kInvalid,
       "move operation does not apply: doc is missing from path: /a: missing value"},
      {"move into its own child", R"({"a":{"b":1}})",
       R"([{"op":"move","from":"/a","path":"/a/b/c"}])", nullptr, Code::kInvalid,
       "move operation does not apply: from path /a is a prefix of path /a/b/c"},
      {"copy to a missing parent", R"({"a":1})", R"([{"op":"copy","from":"/a","path":"/x/y"}])",
       nullptr, Code::kInvalid,
       "copy operation does not apply: doc is missing destination path: /x/y: missing value"},
      {"test a different value", R"({"a":"x"})", R"([{"op":"test","path":"/a","value":"y"}])",
       nullptr, Code::kInvalid, "testing value /a failed: test failed"},
      {"test below a missing parent", R"({})", R"([{"op":"test","path":"/a/b","value":1}])",
       nullptr, Code::kInvalid,
       "test operation does not apply: is missing path: /a/b: missing value"},
      {"a failed test leaves nothing applied", R"({"a":1})",
       R"([{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":1}])", nullptr,
       Code::kInvalid, "testing value /a failed: test failed"},
      {"a path must start with '/'", R"({"a":1})", R"([{"op":"replace","path":"a","value":2}])",
       nullptr, Code::kInvalid,
       "replace operation does not apply: doc is missing path: a: missing value"},
      {"unknown op", R"({})", R"([{"op":"frob","path":"/a"}])", nullptr, Code::kBadRequest,
       "Unexpected kind: frob"},
      {"missing path", R"({})", R"([{"op":"add","value":1}])", nullptr, Code::kBadRequest,
       "add operation failed to decode path: operation missing path field: missing value"},
      {"missing from", R"({})", R"([{"op":"copy","path":"/a"}])", nullptr, Code::kBadRequest,
       "copy operation failed to decode from: operation missing from field: missing value"},
      {"missing value", R"({})", R"([{"op":"add","path":"/a"}])", nullptr, Code::kBadRequest,
       "add operation, missing value field: missing value"},
      {"the patch must be an array", R"({})", R"({"op":"add"})", nullptr, Code::kBadRequest,
       "json: cannot unmarshal object into Go value of type jsonpatch.Patch"},
      {"operations must be objects", R"({})", R"(["add"])", nullptr, Code::kBadRequest,
       "json: cannot unmarshal string into Go value of type jsonpatch.Operation"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto got = ApplyJsonPatch(J(c.doc), J(c.patch));
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code() == c.code);
    CHECK(got.error().message() == c.message);
  }
}

TEST_CASE("JsonPatch: more than the maximum number of operations is refused", "[api][unit]") {
  boost::json::array ops;
  for (std::size_t i = 0; i <= kMaxJsonPatchOperations; ++i) {
    ops.push_back(J(R"({"op":"test","path":"","value":{}})"));
  }
  auto got = ApplyJsonPatch(J("{}"), boost::json::value(ops));
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().code() == Code::kResourceExhausted);
  CHECK(got.error().message() ==
        "The allowed maximum operations in a JSON patch is 10000, got 10001");
  ops.pop_back();
  CHECK(ApplyJsonPatch(J("{}"), boost::json::value(ops)).ok());
}

TEST_CASE("JsonPatch: kubectl rollout undo's patch replaces the template", "[api][unit]") {
  auto doc = J(R"({"metadata":{"annotations":{"a":"1"}},"spec":{"replicas":2,
                   "template":{"spec":{"containers":[{"name":"c","image":"v2"}]}}}})");
  auto patch = J(R"([{"op":"replace","path":"/spec/template","value":{"spec":{"containers":
                       [{"name":"c","image":"v1"}]}}},
                     {"op":"replace","path":"/metadata/annotations","value":{"b":"2"}}])");
  auto got = ApplyJsonPatch(doc, patch);
  REQUIRE(got.ok());
  CHECK(JsonEqual(*got, J(R"({"metadata":{"annotations":{"b":"2"}},"spec":{"replicas":2,
                   "template":{"spec":{"containers":[{"name":"c","image":"v1"}]}}}})")));
}

}  // namespace
}  // namespace mini8s::api
