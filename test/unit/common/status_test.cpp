#include "mini8s/common/status.h"

#include <cerrno>

#include <catch2/catch.hpp>

#include "mini8s/common/result.h"

namespace mini8s {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::Invalid("odd: " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  MINI8S_ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}

Status CheckEven(int v) {
  MINI8S_RETURN_IF_ERROR(Half(v).status());
  return Status::OK();
}

TEST_CASE("Status: OK is the default and renders as OK", "[common][unit]") {
  Status s;
  CHECK(s.ok());
  CHECK(s.code() == Code::kOk);
  CHECK(s.message().empty());
  CHECK(s.ToString() == "OK");
}

TEST_CASE("Status: errors carry code, message and context, and copy deeply", "[common][unit]") {
  Status s = Status::NotFound("pods \"web\" not found");
  CHECK_FALSE(s.ok());
  CHECK(s.Is(Code::kNotFound));
  CHECK(s.ToString() == "NotFound: pods \"web\" not found");
  Status copy = s;
  CHECK(copy.message() == s.message());
  Status ctx = s.WithContext("get");
  CHECK(ctx.message() == "get: pods \"web\" not found");
  CHECK(ctx.code() == Code::kNotFound);
  CHECK(Status().WithContext("x").ok());
}

TEST_CASE("Status: FromErrno maps errno to a code and renders crun-style", "[common][unit]") {
  Status s = Status::FromErrno(ENOENT, "mount", "/run/x");
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.sys_errno() == ENOENT);
  CHECK(s.message() == "mount \"/run/x\": No such file or directory");
  CHECK(Status::FromErrno(EPERM, "setns").code() == Code::kForbidden);
  CHECK(Status::FromErrno(EIO, "write").code() == Code::kInternal);
}

TEST_CASE("Result: holds a value or an error, and the macros propagate errors", "[common][unit]") {
  CHECK(Quarter(8).value() == 2);
  Result<int> r = Quarter(6);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() == "odd: 3");
  CHECK(r.value_or(-1) == -1);
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(5).code() == Code::kInvalid);
  Result<std::string> s = std::string("x");
  CHECK(s->size() == 1);
  CHECK(*s == "x");
}

}  // namespace
}  // namespace mini8s
