#include "mini8s/server/bootstrap_token.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "testutil/fake_clock.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

TEST_CASE("bootstrap tokens: only <6>.<16> lower-case alphanumerics parse", "[server][unit]") {
  auto t = ParseBootstrapToken("abcdef.0123456789abcdef");
  REQUIRE(t);
  CHECK(t->id == "abcdef");
  CHECK(t->secret == "0123456789abcdef");
  for (const char* bad :
       {"", "abcdef0123456789abcdef", "ABCDEF.0123456789abcdef", "abcde.0123456789abcdefg",
        "abcdef.0123456789abcde", "abcdef:0123456789abcdef", "abcdef.0123456789abcdef ",
        "abc-ef.0123456789abcdef"}) {
    CHECK_FALSE(ParseBootstrapToken(bad));
  }
  auto g = GenerateBootstrapToken();
  CHECK(ParseBootstrapToken(g.id + "." + g.secret));
  CHECK(g.id != GenerateBootstrapToken().id);
}

TEST_CASE("bootstrap tokens: the Secret round-trips upstream's fields", "[server][unit]") {
  testutil::FakeClock clock;
  BootstrapTokenSpec spec;
  spec.token = {"abcdef", "0123456789abcdef"};
  spec.description = "for node n2";
  spec.groups = {"system:bootstrappers:mini8s:default-node-token", "system:bootstrappers:extra"};
  json::object s = BootstrapTokenSecret(spec, clock.Now());
  CHECK(api::Name(s) == "bootstrap-token-abcdef");
  CHECK(api::Namespace(s) == "kube-system");
  CHECK(api::GetString(s, "type") == "bootstrap.kubernetes.io/token");
  auto info = ParseBootstrapTokenSecret(s);
  REQUIRE(info.ok());
  CHECK(info->id == "abcdef");
  CHECK(info->secret == "0123456789abcdef");
  CHECK(info->usages == std::vector<std::string>{"authentication", "signing"});
  CHECK(info->extra_groups == spec.groups);
  CHECK(info->description == "for node n2");
  REQUIRE(info->expiration);
  CHECK(*info->expiration == clock.Now() + std::chrono::hours(24));
  // stringData (kubectl create secret --from-literal style objects) reads the same.
  json::object sd{{"apiVersion", "v1"},
                  {"kind", "Secret"},
                  {"type", "bootstrap.kubernetes.io/token"},
                  {"metadata", json::object{{"name", "bootstrap-token-abcdef"}}},
                  {"stringData", json::object{{"token-id", "abcdef"},
                                              {"token-secret", "0123456789abcdef"},
                                              {"usage-bootstrap-authentication", "true"}}}};
  auto info2 = ParseBootstrapTokenSecret(sd);
  REQUIRE(info2.ok());
  CHECK(info2->usages == std::vector<std::string>{"authentication"});
  CHECK_FALSE(info2->expiration);
}

TEST_CASE("bootstrap tokens: specs with unknown usages or groups are refused", "[server][unit]") {
  BootstrapTokenSpec spec;
  spec.token = {"abcdef", "0123456789abcdef"};
  CHECK(ValidateBootstrapTokenSpec(spec).ok());
  spec.usages = {"authentication", "root"};
  CHECK(ValidateBootstrapTokenSpec(spec).Is(Code::kInvalid));
  spec.usages = {"authentication"};
  spec.groups = {"system:masters"};
  CHECK(ValidateBootstrapTokenSpec(spec).Is(Code::kInvalid));
  spec.groups = {"system:bootstrappers:ok-"};
  CHECK(ValidateBootstrapTokenSpec(spec).Is(Code::kInvalid));
  spec.groups = {};
  spec.token.secret = "short";
  CHECK(ValidateBootstrapTokenSpec(spec).Is(Code::kInvalid));
}

struct Fixture {
  testutil::FakeClock clock;
  std::map<std::string, json::object> secrets;
  BootstrapTokenAuthenticator authn{[this](std::string_view r, std::string_view ns,
                                           std::string_view name) -> Result<json::object> {
                                      if (r != "secrets" || ns != "kube-system")
                                        return Status::NotFound("x");
                                      auto it = secrets.find(std::string(name));
                                      if (it == secrets.end())
                                        return Status::NotFound(std::string(name));
                                      return it->second;
                                    },
                                    &clock};
  void Add(BootstrapTokenSpec spec) {
    json::object s = BootstrapTokenSecret(spec, clock.Now());
    secrets[std::string(api::Name(s))] = std::move(s);
  }
};

TEST_CASE("bootstrap tokens: the authenticator checks secret, expiry and usage", "[server][unit]") {
  Fixture f;
  BootstrapTokenSpec spec;
  spec.token = {"abcdef", "0123456789abcdef"};
  spec.ttl = std::chrono::hours(1);
  f.Add(spec);
  auto u = f.authn.AuthenticateToken("abcdef.0123456789abcdef");
  REQUIRE(u.ok());
  REQUIRE(u->has_value());
  CHECK((*u)->name == "system:bootstrap:abcdef");
  CHECK((*u)->groups == std::vector<std::string>{"system:bootstrappers",
                                                 "system:bootstrappers:mini8s:default-node-token"});
  CHECK(f.authn.AuthenticateToken("abcdef.fedcba9876543210").error().Is(Code::kUnauthorized));
  CHECK(f.authn.AuthenticateToken("zzzzzz.0123456789abcdef").error().Is(Code::kUnauthorized));
  auto other = f.authn.AuthenticateToken("not-a-bootstrap-token");
  REQUIRE(other.ok());
  CHECK_FALSE(other->has_value());

  f.clock.Advance(std::chrono::hours(1));
  auto expired = f.authn.AuthenticateToken("abcdef.0123456789abcdef");
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().message() == "bootstrap token abcdef has expired");

  BootstrapTokenSpec signing_only;
  signing_only.token = {"ghijkl", "0123456789abcdef"};
  signing_only.usages = {"signing"};
  f.Add(signing_only);
  CHECK(f.authn.AuthenticateToken("ghijkl.0123456789abcdef").error().Is(Code::kUnauthorized));

  BootstrapTokenSpec forever;
  forever.token = {"mnopqr", "0123456789abcdef"};
  forever.ttl = std::chrono::seconds(0);
  f.Add(forever);
  f.clock.Advance(std::chrono::hours(24 * 365));
  CHECK(f.authn.AuthenticateToken("mnopqr.0123456789abcdef").ok());
}

TEST_CASE("bootstrap tokens: the cleaner deletes expired token secrets only", "[server][unit]") {
  testutil::FakeClock clock;
  boost::asio::io_context io;
  client::FakeClient fake(io.get_executor());
  client::Resource secrets{"", "v1", "secrets", "Secret", true};
  BootstrapTokenSpec short_lived, long_lived;
  short_lived.token = {"aaaaaa", "0123456789abcdef"};
  short_lived.ttl = std::chrono::minutes(10);
  long_lived.token = {"bbbbbb", "0123456789abcdef"};
  long_lived.ttl = std::chrono::hours(10);
  json::object other{{"apiVersion", "v1"},
                     {"kind", "Secret"},
                     {"metadata", json::object{{"name", "plain"}, {"namespace", "kube-system"}}}};
  std::optional<Result<int>> removed;
  // Built outside the coroutine: GCC 12 mishandles temporaries in a coroutine's range-for.
  std::vector<json::object> initial{BootstrapTokenSecret(short_lived, clock.Now()),
                                    BootstrapTokenSecret(long_lived, clock.Now()), other};
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        for (size_t i = 0; i < initial.size(); ++i) {
          json::object o = initial[i];
          auto c = co_await fake.Create(secrets, std::move(o));
          CHECK(c.ok());
        }
        auto none = co_await RemoveExpiredBootstrapTokens(fake, clock);
        CHECK((none.ok() && *none == 0));
        clock.Advance(std::chrono::minutes(11));
        auto r = co_await RemoveExpiredBootstrapTokens(fake, clock);
        removed.emplace(std::move(r));
      },
      boost::asio::detached);
  io.run();
  REQUIRE(removed);
  REQUIRE(removed->ok());
  CHECK(**removed == 1);
  std::optional<Result<client::ObjectList>> left;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        std::string ns = "kube-system";
        client::ListOptions options;
        auto l = co_await fake.List(secrets, ns, options);
        left.emplace(std::move(l));
      },
      boost::asio::detached);
  io.restart();
  io.run();
  REQUIRE(left);
  REQUIRE(left->ok());
  std::vector<std::string> names;
  for (const auto& o : (*left)->items) names.emplace_back(api::Name(o));
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"bootstrap-token-bbbbbb", "plain"});
}

}  // namespace
}  // namespace mini8s::server
