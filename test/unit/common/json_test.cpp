#include "mini8s/common/json.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace mini8s {
namespace {

namespace bj = boost::json;

bj::value MustParse(std::string_view text) {
  auto r = ParseJson(text);
  INFO(text);
  REQUIRE(r.has_value());
  return std::move(r).value();
}

std::string ErrorOf(std::string_view text, const JsonParseOptions& options = {}) {
  auto r = ParseJson(text, options);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Code::kBadRequest);
  return r.error().message();
}

TEST_CASE("Json: parses objects, arrays and scalars and writes them back compactly",
          "[common][unit]") {
  bj::value v = MustParse(R"( {"a": 1, "b": [true, false, null], "c": "x", "d": {}} )");
  CHECK(SerializeJson(v) == R"({"a":1,"b":[true,false,null],"c":"x","d":{}})");
}

TEST_CASE("Json: syntax errors carry line and column", "[common][unit]") {
  CHECK(ErrorOf("{\n  \"a\": 1,\n  \"b\": tru\n}").rfind("line 3, column 8:", 0) == 0);
  CHECK(ErrorOf("[1, 2").rfind("line 1, column 6: unexpected end of JSON input", 0) == 0);
  CHECK(ErrorOf("").rfind("line 1, column 1:", 0) == 0);
  CHECK(ErrorOf("{\"a\": 01}").rfind("line 1, column ", 0) == 0);
}

TEST_CASE("Json: trailing garbage after the value is rejected, trailing whitespace is not",
          "[common][unit]") {
  CHECK(ErrorOf("{\"a\": 1} x") ==
        "line 1, column 10: invalid character after top-level value near 'x'");
  CHECK(ErrorOf("1 2").rfind("line 1, column 3:", 0) == 0);
  CHECK(MustParse("{\"a\": 1}\n\t \r\n").is_object());
}

TEST_CASE("Json: nesting deeper than 10000 levels is an error, not a crash", "[common][unit]") {
  std::string deep(100000, '[');
  CHECK(ErrorOf(deep) == "line 1, column 10001: nesting too deep near '['");
  std::string ok = std::string(10000, '[') + std::string(10000, ']');
  CHECK(MustParse(ok).is_array());
  std::string objs;
  for (int i = 0; i < 10001; ++i) objs += "{\"a\":";
  CHECK(ErrorOf(objs).find("nesting too deep") != std::string::npos);
}

TEST_CASE("Json: int64 and uint64 are exact; larger integers become doubles", "[common][unit]") {
  bj::value v = MustParse(
      "[9223372036854775807, -9223372036854775808, 18446744073709551615, "
      "123456789012345678901234567890]");
  const bj::array& a = v.get_array();
  CHECK(a[0].as_int64() == 9223372036854775807LL);
  CHECK(a[1].as_int64() == (-9223372036854775807LL - 1));
  CHECK(a[2].as_uint64() == 18446744073709551615ULL);
  CHECK(a[3].is_double());
  CHECK(SerializeJson(v) ==
        "[9223372036854775807,-9223372036854775808,18446744073709551615,"
        "1.2345678901234568e+29]");
}

TEST_CASE("Json: a number that overflows a double is rejected", "[common][unit]") {
  CHECK(ErrorOf("[1e400]").find("number out of range") != std::string::npos);
}

TEST_CASE("Json: floats are written as Go's encoding/json writes them", "[common][unit]") {
  bj::value v = MustParse("[1.0, 2.5, 1e21, 1e20, 0.000001, 1e-7, -0.0, 100, 3.14159]");
  CHECK(SerializeJson(v) == "[1,2.5,1e+21,100000000000000000000,0.000001,1e-7,-0,100,3.14159]");
}

TEST_CASE("Json: FormatGoFloat matches strconv.FormatFloat", "[common][unit]") {
  CHECK(FormatGoFloat(1e6, 'g') == "1e+06");
  CHECK(FormatGoFloat(123456, 'g') == "123456");
  CHECK(FormatGoFloat(1234567, 'g') == "1.234567e+06");
  CHECK(FormatGoFloat(0.0001, 'g') == "0.0001");
  CHECK(FormatGoFloat(0.00001, 'g') == "1e-05");
  CHECK(FormatGoFloat(0.1, 'g', 32) == "0.1");
  CHECK(FormatGoFloat(1.5, 'e') == "1.5e+00");
  CHECK(FormatGoFloat(1.5, 'f') == "1.5");
  CHECK(FormatGoFloat(1.5e300, 'g', 32) == "+Inf");
}

TEST_CASE("Json: strings are escaped the way Go escapes them", "[common][unit]") {
  bj::value v = MustParse(R"(["<a href=\"x\">&</a>", "tab\tnl\ncr\r", "\u0001", "\u2028", "é"])");
  CHECK(
      SerializeJson(v) ==
      R"(["\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e","tab\tnl\ncr\r","\u0001","\u2028","é"])");
  std::string out;
  AppendJsonString(out, std::string("bad\xff", 4));
  CHECK(out == "\"bad\\ufffd\"");
}

TEST_CASE("Json: invalid UTF-8 input is rejected", "[common][unit]") {
  CHECK_FALSE(ParseJson(std::string("\"\xff\"", 3)).has_value());
}

TEST_CASE("Json: PrettyJson indents by four spaces like kubectl -o json", "[common][unit]") {
  bj::value v = MustParse(R"({"kind":"List","items":[{"a":1,"b":[]},{}],"metadata":{}})");
  CHECK(PrettyJson(v) ==
        "{\n"
        "    \"kind\": \"List\",\n"
        "    \"items\": [\n"
        "        {\n"
        "            \"a\": 1,\n"
        "            \"b\": []\n"
        "        },\n"
        "        {}\n"
        "    ],\n"
        "    \"metadata\": {}\n"
        "}");
}

TEST_CASE("Json: duplicate keys keep the last value and can be reported by path",
          "[common][unit]") {
  const char* text =
      R"({"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"x"},{"image":"i","image":"j"}]},"kind":"P","kind":"Q"})";
  std::vector<std::string> dups;
  JsonParseOptions opts;
  opts.duplicate_fields = &dups;
  auto r = ParseJson(text, opts);
  REQUIRE(r.has_value());
  CHECK(*JsonGetString(*r, "metadata.name") == "b");
  CHECK(*JsonGetString(*r, "spec.containers[1].image") == "j");
  CHECK(dups == std::vector<std::string>{"metadata.name", "spec.containers[1].image", "kind"});

  JsonParseOptions strict;
  strict.reject_duplicate_keys = true;
  CHECK(ErrorOf(text, strict).find("duplicate field \"metadata.name\"") != std::string::npos);
  CHECK(ParseJson(R"({"a":{"x":1},"b":{"x":1}})", strict).has_value());
}

TEST_CASE("Json: path helpers find members by dotted path and by JSON pointer", "[common][unit]") {
  bj::value v = MustParse(
      R"({"spec":{"replicas":3,"paused":false,"big":18446744073709551615,"f":2.0,
          "containers":[{"name":"web","ports":[{"containerPort":80}]}]},
          "metadata":{"labels":{"app.kubernetes.io/name":"x"}}})");
  CHECK(*JsonGetInt(v, "spec.replicas") == 3);
  CHECK(*JsonGetInt(v, "spec.f") == 2);
  CHECK_FALSE(JsonGetInt(v, "spec.big").has_value());
  CHECK(*JsonGetBool(v, "spec.paused") == false);
  CHECK(*JsonGetString(v, "spec.containers[0].name") == "web");
  CHECK(*JsonGetInt(v, "spec.containers[0].ports[0].containerPort") == 80);
  CHECK(JsonGetArray(v, "spec.containers")->size() == 1);
  CHECK(JsonGetObject(v, "spec") != nullptr);
  CHECK(JsonFind(v, "") == &v);
  CHECK(JsonFind(v, "spec.containers[1]") == nullptr);
  CHECK(JsonFind(v, "spec.replicas.x") == nullptr);
  CHECK_FALSE(JsonGetString(v, "spec.replicas").has_value());
  CHECK(JsonFindPointer(v, "/metadata/labels/app.kubernetes.io~1name")->as_string() == "x");
  CHECK(JsonFindPointer(v, "/spec/containers/0/ports/0/containerPort")->as_int64() == 80);
  CHECK(JsonFindPointer(v, "/spec/containers/01") == nullptr);
  CHECK(JsonFindPointer(v, "spec") == nullptr);

  bj::value* replicas = JsonFind(v, "spec.replicas");
  REQUIRE(replicas != nullptr);
  *replicas = 5;
  CHECK(*JsonGetInt(v, "spec.replicas") == 5);
}

}  // namespace
}  // namespace mini8s
