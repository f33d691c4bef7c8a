// The GET fast path gives the bytes of Decode + SerializeJson, or declines.
#include "server/stored_json.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/common/json.h"

namespace mini8s::server {
namespace {

// What the slow path answers: parse, set metadata.resourceVersion, serialize.
std::string Slow(const std::string& stored, int64_t rev) {
  auto v = ParseJson(stored);
  REQUIRE(v.ok());
  auto& obj = v->as_object();
  if (!obj.contains("metadata")) obj["metadata"] = boost::json::object();
  obj["metadata"].as_object()["resourceVersion"] = std::to_string(rev);
  return SerializeJson(*v);
}

TEST_CASE("server stored json: adding the resourceVersion matches decode and serialize",
          "[server][unit]") {
  for (
      const char* text : {
          R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"d"},"data":{"v":"x"}})",
          R"({"metadata":{},"kind":"X"})",
          R"({"kind":"Pod","metadata":{"labels":{"a":"b}{"},"annotations":{"q":"\"}\\"},"finalizers":["x",{"y":[1,2]}]},"spec":{"n":-1.5e3,"t":true,"z":null}})",
          R"({"metadata":{"name":"<&>"},"data":{"k":"\u003c\u2028"},"list":[[],{}]})",
      }) {
    std::string stored = SerializeJson(*ParseJson(text));
    auto fast = WithResourceVersion(stored, 1234);
    REQUIRE(fast.has_value());
    CHECK(*fast == Slow(stored, 1234));
  }
}

TEST_CASE("server stored json: values not in the stored shape take the slow path",
          "[server][unit]") {
  CHECK_FALSE(WithResourceVersion("k8s:enc:aescbc:v1:key1:....", 1));
  CHECK_FALSE(WithResourceVersion(R"({"kind":"X"})", 1));     // no metadata
  CHECK_FALSE(WithResourceVersion(R"({"metadata":[]})", 1));  // not an object
  CHECK_FALSE(WithResourceVersion(R"({"metadata":{"resourceVersion":"3"}})", 1));
  CHECK_FALSE(WithResourceVersion(R"({"metad\u0061ta":{}})", 1));         // escaped key
  CHECK_FALSE(WithResourceVersion(R"({"metadata":{"name":"a"})", 1));     // truncated
  CHECK_FALSE(WithResourceVersion(R"({"metadata":{"name":"a"}} x)", 1));  // trailing bytes
  CHECK_FALSE(WithResourceVersion(R"({"metadata":{},"metadata":{}})", 1));
  CHECK_FALSE(WithResourceVersion("", 1));
}

}  // namespace
}  // namespace mini8s::server
