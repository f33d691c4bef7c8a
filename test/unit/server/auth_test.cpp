#include <fstream>

#include <catch2/catch.hpp>

#include "mini8s/http/tls_material.h"
#include "mini8s/server/auth.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

http::HttpRequest WithBearer(const std::string& token) {
  http::HttpRequest r;
  r.headers.Set("Authorization", "Bearer " + token);
  return r;
}

TEST_CASE("server auth: token file lines give user, uid and quoted groups", "[server][unit]") {
  testutil::TempDir dir;
  std::ofstream(dir.File("tokens.csv")) << "# comment\n"
                                        << "t1,alice,1001,\"system:masters,dev\"\n"
                                        << "t2,bob,1002\n";
  auto a = Authenticator::Create(dir.File("tokens.csv"));
  REQUIRE(a.ok());
  auto alice = (*a)->Authenticate(WithBearer("t1"));
  REQUIRE(alice.ok());
  REQUIRE(alice->has_value());
  CHECK((*alice)->name == "alice");
  CHECK((*alice)->uid == "1001");
  CHECK((*alice)->groups ==
        std::vector<std::string>{"system:masters", "dev", "system:authenticated"});
  auto bob = (*a)->Authenticate(WithBearer("t2"));
  REQUIRE(bob.ok());
  CHECK((*bob)->groups == std::vector<std::string>{"system:authenticated"});
}

TEST_CASE("server auth: unknown tokens are 401, no credentials are anonymous", "[server][unit]") {
  auto a = Authenticator::FromTokens({{"good", UserInfo{"u", "", {}}}});
  auto bad = a->Authenticate(WithBearer("nope"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == Code::kUnauthorized);
  auto anon = a->Authenticate(http::HttpRequest{});
  REQUIRE(anon.ok());
  CHECK_FALSE(anon->has_value());
}

TEST_CASE("server auth: a malformed token file line is reported with its number",
          "[server][unit]") {
  testutil::TempDir dir;
  std::ofstream(dir.File("tokens.csv")) << "t1,alice,1\nonly-token\n";
  auto a = Authenticator::Create(dir.File("tokens.csv"));
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message().find("tokens.csv:2") != std::string::npos);
}

http::HttpRequest WithCertificate(const std::string& cert_pem, bool verified) {
  http::HttpRequest r;
  r.tls = http::TlsPeerInfo{};
  r.tls->certificate_chain_pem = {cert_pem};
  r.tls->certificate_verified = verified;
  return r;
}

TEST_CASE("server auth: a client certificate gives user CN and groups O on every request",
          "[server][unit]") {
  auto ca = http::GenerateSelfSignedCa("test-ca");
  REQUIRE(ca.ok());
  http::CertificateRequest req;
  req.common_name = "carol";
  req.organizations = {"system:masters", "dev"};
  req.client_auth = true;
  auto client = http::IssueCertificate(*ca, req);
  REQUIRE(client.ok());
  req.common_name = "server-only";
  req.client_auth = false;
  req.server_auth = true;
  auto server_cert = http::IssueCertificate(*ca, req);
  REQUIRE(server_cert.ok());

  auto a = Authenticator::FromTokens({});
  // Twice each: the second answer comes from the per-certificate cache and must be the same.
  for (int i = 0; i < 2; ++i) {
    auto u = a->Authenticate(WithCertificate(client->cert_pem, true));
    REQUIRE(u.ok());
    REQUIRE(u->has_value());
    CHECK((*u)->name == "carol");
    CHECK((*u)->groups ==
          std::vector<std::string>{"system:masters", "dev", "system:authenticated"});

    auto not_client = a->Authenticate(WithCertificate(server_cert->cert_pem, true));
    REQUIRE_FALSE(not_client.ok());
    CHECK(not_client.error().message() == "certificate not for client auth");

    // The cached identity is not used for a connection whose chain did not verify.
    auto unverified = a->Authenticate(WithCertificate(client->cert_pem, false));
    REQUIRE_FALSE(unverified.ok());
    CHECK(unverified.error().message() == "unverified certificate");

    auto garbage = a->Authenticate(WithCertificate("not a certificate", true));
    REQUIRE_FALSE(garbage.ok());
  }
}

TEST_CASE("server auth: masters may do anything, others get upstream's forbidden message",
          "[server][unit]") {
  MastersAuthorizer authz;
  Attributes attrs;
  attrs.user = UserInfo{"x", "", {"system:authenticated"}};
  attrs.resource_request = true;
  attrs.verb = "list";
  attrs.resource = "pods";
  attrs.namespace_ = "default";
  CHECK_FALSE(authz.Authorize(attrs));
  CHECK(ForbiddenMessage(attrs) ==
        "pods is forbidden: User \"x\" cannot list resource \"pods\" in API group \"\" in the "
        "namespace \"default\"");
  attrs.verb = "get";
  attrs.name = "web";
  attrs.api_group = "apps";
  attrs.resource = "deployments";
  attrs.subresource = "scale";
  attrs.namespace_.clear();
  CHECK(ForbiddenMessage(attrs) ==
        "deployments.apps \"web\" is forbidden: User \"x\" cannot get resource "
        "\"deployments/scale\" in API group \"apps\" at the cluster scope");
  attrs.user.groups.push_back("system:masters");
  CHECK(authz.Authorize(attrs));

  Attributes path;
  path.user = UserInfo{"x", "", {"system:authenticated"}};
  path.verb = "get";
  path.path = "/apis";
  CHECK(authz.Authorize(path));
  path.path = "/metrics";
  CHECK_FALSE(authz.Authorize(path));
  CHECK(ForbiddenMessage(path) == "forbidden: User \"x\" cannot get path \"/metrics\"");
}

}  // namespace
}  // namespace mini8s::server
