#include "mini8s/server/impersonation.h"

#include <mutex>

#include <catch2/catch.hpp>

namespace mini8s::server {
namespace {

// Allows what its rules list ("resource/name" or "resource/subresource/name"), recording asks.
class RecordingAuthorizer final : public Authorizer {
 public:
  explicit RecordingAuthorizer(std::vector<std::string> allow) : allow_(std::move(allow)) {}
  bool Authorize(const Attributes& a) const override {
    std::lock_guard lock(mu_);
    std::string key = a.api_group + ":" + a.resource +
                      (a.subresource.empty() ? "" : "/" + a.subresource) + ":" + a.namespace_ +
                      ":" + a.name;
    asked.push_back(a.verb + " " + key);
    return std::find(allow_.begin(), allow_.end(), key) != allow_.end();
  }
  mutable std::vector<std::string> asked;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> allow_;
};

http::HttpRequest Request(std::vector<std::pair<std::string, std::string>> headers) {
  http::HttpRequest r;
  for (auto& [k, v] : headers) r.headers.Add(k, v);
  return r;
}

const UserInfo kAdmin{"admin", "", {"system:masters", "system:authenticated"}};
const UserInfo kDev{"dev", "", {"system:authenticated"}};

TEST_CASE("impersonation: without headers the requester acts as itself", "[server][unit]") {
  RecordingAuthorizer authz({});
  auto u = Impersonate(Request({{"Accept", "*/*"}}), kDev, authz);
  REQUIRE(u.ok());
  CHECK(u->name == "dev");
  CHECK(authz.asked.empty());
}

TEST_CASE("impersonation: system:masters may act as any user with any groups", "[server][unit]") {
  MastersAuthorizer masters;
  auto u = Impersonate(Request({{"Impersonate-User", "jane"},
                                {"Impersonate-Group", "qa"},
                                {"Impersonate-Group", "ops"},
                                {"Impersonate-Uid", "1234"},
                                {"Impersonate-Extra-Scopes", "view"},
                                {"impersonate-extra-scopes", "edit"},
                                {"Impersonate-Extra-Example.com%2fteam", "blue"}}),
                       kAdmin, masters);
  REQUIRE(u.ok());
  CHECK(u->name == "jane");
  CHECK(u->uid == "1234");
  CHECK(u->groups == std::vector<std::string>{"qa", "ops", "system:authenticated"});
  CHECK(u->extra["scopes"] == std::vector<std::string>{"view", "edit"});
  CHECK(u->extra["example.com/team"] == std::vector<std::string>{"blue"});
}

TEST_CASE("impersonation: a refused attribute is 403 with upstream's message", "[server][unit]") {
  MastersAuthorizer masters;
  auto u = Impersonate(Request({{"Impersonate-User", "x"}}), kDev, masters);
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().Is(Code::kForbidden));
  CHECK(u.error().message() ==
        "users \"x\" is forbidden: User \"dev\" cannot impersonate resource \"users\" in API "
        "group \"\" at the cluster scope");
  // The user may be allowed while a group is not.
  RecordingAuthorizer authz({":users::x"});
  auto g = Impersonate(
      Request({{"Impersonate-User", "x"}, {"Impersonate-Group", "system:masters"}}), kDev, authz);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().message() ==
        "groups \"system:masters\" is forbidden: User \"dev\" cannot impersonate resource "
        "\"groups\" in API group \"\" at the cluster scope");
}

TEST_CASE("impersonation: each attribute is checked on its own resource", "[server][unit]") {
  RecordingAuthorizer authz({":serviceaccounts:ns1:robot", "authentication.k8s.io:uids::u1",
                             "authentication.k8s.io:userextras/scopes::view"});
  auto u = Impersonate(Request({{"Impersonate-User", "system:serviceaccount:ns1:robot"},
                                {"Impersonate-Uid", "u1"},
                                {"Impersonate-Extra-Scopes", "view"}}),
                       kDev, authz);
  REQUIRE(u.ok());
  CHECK(authz.asked ==
        std::vector<std::string>{"impersonate :serviceaccounts:ns1:robot",
                                 "impersonate authentication.k8s.io:uids::u1",
                                 "impersonate authentication.k8s.io:userextras/scopes::view"});
  // A service account gets its groups.
  CHECK(u->groups == std::vector<std::string>{"system:serviceaccounts",
                                              "system:serviceaccounts:ns1",
                                              "system:authenticated"});
}

TEST_CASE("impersonation: groups without a user fail; anonymous is unauthenticated",
          "[server][unit]") {
  MastersAuthorizer masters;
  auto bad = Impersonate(Request({{"Impersonate-Group", "qa"}}), kAdmin, masters);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().Is(Code::kInternal));
  auto anon = Impersonate(Request({{"Impersonate-User", "system:anonymous"}}), kAdmin, masters);
  REQUIRE(anon.ok());
  CHECK(anon->groups == std::vector<std::string>{"system:unauthenticated"});
}

}  // namespace
}  // namespace mini8s::server
