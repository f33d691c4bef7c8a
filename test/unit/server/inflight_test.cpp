// The max-in-flight limiter on its own: counting, long-running requests, the exemption and the
// 429 answer.
#include "server/inflight.h"

#include <vector>

#include <catch2/catch.hpp>

#include "server/internal.h"

namespace mini8s::server {
namespace {

RequestInfo Resource(std::string verb, std::string subresource = "") {
  RequestInfo i;
  i.resource_request = true;
  i.verb = std::move(verb);
  i.resource = "pods";
  i.subresource = std::move(subresource);
  return i;
}

TEST_CASE("server inflight: reads and writes have separate limits and slots come back",
          "[server][unit]") {
  InflightLimiter l(1, 1);
  auto get = l.Enter("GET", Resource("get"));
  CHECK_FALSE(get.over_limit());
  CHECK(l.read_only_in_flight() == 1);
  CHECK(l.Enter("GET", Resource("list")).over_limit());
  CHECK(l.read_only_in_flight() == 1);  // a refused claim holds nothing
  {
    auto create = l.Enter("POST", Resource("create"));
    CHECK_FALSE(create.over_limit());
    CHECK(l.Enter("DELETE", Resource("delete")).over_limit());
    CHECK(l.mutating_in_flight() == 1);
  }
  CHECK(l.mutating_in_flight() == 0);
  get.Release();
  CHECK_FALSE(l.Enter("GET", Resource("get")).over_limit());
  // Non-resource requests: GET reads, anything else writes (upstream's lower-cased method).
  RequestInfo non_resource;
  auto discovery = l.Enter("GET", non_resource);
  CHECK(l.Enter("GET", non_resource).over_limit());
  auto post = l.Enter("POST", non_resource);
  CHECK(l.Enter("PUT", non_resource).over_limit());
}

TEST_CASE("server inflight: long-running requests are not counted and 0 means no limit",
          "[server][unit]") {
  InflightLimiter l(1, 1);
  auto held = l.Enter("GET", Resource("get"));
  CHECK_FALSE(l.Enter("GET", Resource("watch")).over_limit());
  CHECK_FALSE(l.Enter("GET", Resource("get", "log")).over_limit());
  auto create = l.Enter("POST", Resource("create"));
  for (const char* sub : {"exec", "attach", "portforward", "proxy"}) {
    CHECK_FALSE(l.Enter("POST", Resource("create", sub)).over_limit());
  }
  CHECK(l.Enter("POST", Resource("create", "binding")).over_limit());
  CHECK(l.read_only_in_flight() == 1);
  CHECK(l.mutating_in_flight() == 1);

  InflightLimiter unlimited(0, 0);
  std::vector<InflightLimiter::Slot> slots;
  for (int i = 0; i < 1000; ++i) slots.push_back(unlimited.Enter("POST", Resource("create")));
  for (const auto& s : slots) CHECK_FALSE(s.over_limit());
}

TEST_CASE("server inflight: system:masters is exempt", "[server][unit]") {
  CHECK(ExemptFromInflightLimit(UserInfo{"admin", "", {"system:masters", "system:authenticated"}}));
  CHECK_FALSE(ExemptFromInflightLimit(UserInfo{"x", "", {"system:authenticated"}}));
  Reply r = TooManyRequestsReply();
  CHECK(r.status == 429);
  CHECK(r.headers.GetOr("Retry-After") == "1");
  CHECK(r.body == "Too many requests, please try again later.\n");
}

}  // namespace
}  // namespace mini8s::server
