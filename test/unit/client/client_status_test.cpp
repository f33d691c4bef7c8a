#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/client/client.h"

namespace mini8s::client {
namespace {

TEST_CASE("Status decoding: a metav1.Status body decodes to its reason's code and message",
          "[client][unit]") {
  Status s = StatusFromResponse(404, R"({"kind":"Status","apiVersion":"v1","status":"Failure",
               "message":"pods \"web\" not found","reason":"NotFound","code":404})");
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message() == "pods \"web\" not found");
  CHECK(StatusFromResponse(409, R"({"kind":"Status","reason":"AlreadyExists","message":"x"})")
            .code() == Code::kAlreadyExists);
  CHECK(StatusFromResponse(409, R"({"kind":"Status","reason":"Conflict","message":"x"})").code() ==
        Code::kConflict);
  CHECK(StatusFromResponse(422, R"({"kind":"Status","reason":"Invalid","message":"x"})").code() ==
        Code::kInvalid);
}

TEST_CASE("Status decoding: a 410 Gone status is the relist signal kExpired", "[client][unit]") {
  CHECK(StatusFromResponse(410, R"j({"kind":"Status","reason":"Gone","code":410,
                                    "message":"too old resource version: 1 (5)"})j")
            .code() == Code::kExpired);
  CHECK(StatusFromResponse(410, R"({"kind":"Status","reason":"Expired","code":410})").code() ==
        Code::kExpired);
}

TEST_CASE("Status decoding: a non-Status error body falls back to the HTTP code",
          "[client][unit]") {
  Status s = StatusFromResponse(503, "upstream down");
  CHECK(s.code() == Code::kUnavailable);
  CHECK(s.message().find("503") != std::string::npos);
  CHECK(StatusFromResponse(500, "").code() == Code::kInternal);
  CHECK(StatusFromResponse(429, "{}").code() == Code::kTooManyRequests);
}

TEST_CASE("Status decoding: HttpCodeOf and ReasonOf invert the decoding", "[client][unit]") {
  for (Code c : {Code::kNotFound, Code::kConflict, Code::kInvalid, Code::kForbidden, Code::kExpired,
                 Code::kUnauthorized, Code::kBadRequest}) {
    std::string body = std::string(R"({"kind":"Status","reason":")") + std::string(ReasonOf(c)) +
                       R"(","message":"m"})";
    CHECK(StatusFromResponse(HttpCodeOf(c), body).code() == c);
  }
}

TEST_CASE("ObjectKey: keys are ns/name, or name when cluster-scoped", "[client][unit]") {
  auto pod = boost::json::parse(R"({"metadata":{"namespace":"ns1","name":"a"}})").as_object();
  auto node = boost::json::parse(R"({"metadata":{"name":"n1"}})").as_object();
  CHECK(ObjectKey(pod) == "ns1/a");
  CHECK(ObjectKey(node) == "n1");
  CHECK(SplitObjectKey("ns1/a") == std::pair<std::string, std::string>("ns1", "a"));
  CHECK(SplitObjectKey("n1") == std::pair<std::string, std::string>("", "n1"));
}

}  // namespace
}  // namespace mini8s::client
