#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "mini8s/http/tls_material.h"
#include "mini8s/server/bootstrap.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

std::string Slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("server bootstrap: the first service IP of a CIDR", "[server][unit]") {
  CHECK(*FirstServiceIp("10.43.0.0/16") == "10.43.0.1");
  CHECK(*FirstServiceIp("10.96.5.7/12") == "10.96.0.1");
  CHECK_FALSE(FirstServiceIp("fd00::/64").ok());
}

TEST_CASE("server bootstrap: first start creates CAs, certificates and a K10 token, a restart "
          "reuses them",
          "[server][unit]") {
  testutil::TempDir dir;
  BootstrapOptions o;
  o.data_dir = dir.path();
  o.tls_sans = {"api.example.com", "192.0.2.10"};
  auto c = EnsureServerCredentials(o);
  REQUIRE(c.ok());
  auto info = http::InspectCertificate(c->serving_cert_pem);
  REQUIRE(info.ok());
  for (const char* dns : {"localhost", "kubernetes", "kubernetes.default.svc.cluster.local",
                          "api.example.com"}) {
    CHECK(std::find(info->dns_names.begin(), info->dns_names.end(), dns) != info->dns_names.end());
  }
  for (const char* ip : {"127.0.0.1", "10.43.0.1", "192.0.2.10"}) {
    CHECK(std::find(info->ip_addresses.begin(), info->ip_addresses.end(), ip) !=
          info->ip_addresses.end());
  }
  CHECK(http::VerifyCertificate(c->serving_cert_pem, c->server_ca_pem).ok());
  auto admin = http::InspectCertificate(c->admin_cert_pem);
  REQUIRE(admin.ok());
  CHECK(admin->common_name == "system:admin");
  CHECK(admin->organizations == std::vector<std::string>{"system:masters"});
  CHECK(http::VerifyCertificate(c->admin_cert_pem, c->client_ca_pem).ok());

  std::string token = Slurp(dir.File("server/node-token"));
  std::string want = "K10" + http::CaBundleSha256Hex(c->server_ca_pem) + "::server:";
  CHECK(token.rfind(want, 0) == 0);
  CHECK(Slurp(dir.File("server/token")) == token);
  struct stat st {};
  REQUIRE(::stat(dir.File("server/tls/server-ca.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto again = EnsureServerCredentials(o);
  REQUIRE(again.ok());
  CHECK(again->server_ca_pem == c->server_ca_pem);
  CHECK(again->serving_cert_pem == c->serving_cert_pem);
  CHECK(again->node_token == c->node_token);

  // A new SAN reissues the serving certificate from the same CA.
  o.tls_sans.push_back("other.example.com");
  auto third = EnsureServerCredentials(o);
  REQUIRE(third.ok());
  CHECK(third->serving_cert_pem != c->serving_cert_pem);
  CHECK(third->server_ca_pem == c->server_ca_pem);
}

TEST_CASE("server bootstrap: --token sets the secret part of the node token", "[server][unit]") {
  testutil::TempDir dir;
  BootstrapOptions o;
  o.data_dir = dir.path();
  o.token = "s3cret";
  auto c = EnsureServerCredentials(o);
  REQUIRE(c.ok());
  CHECK(c->node_token.size() > 9);
  CHECK(c->node_token.substr(c->node_token.size() - 15) == "::server:s3cret");
}

TEST_CASE("server bootstrap: the kubeconfig embeds the CA and the admin credentials with the "
          "requested mode",
          "[server][unit]") {
  testutil::TempDir dir;
  BootstrapOptions o;
  o.data_dir = dir.path();
  auto c = EnsureServerCredentials(o);
  REQUIRE(c.ok());
  REQUIRE(WriteKubeconfig(dir.File("etc/kc.yaml"), 0640, "https://127.0.0.1:6443", *c).ok());
  std::string y = Slurp(dir.File("etc/kc.yaml"));
  CHECK(y.find("server: https://127.0.0.1:6443") != std::string::npos);
  CHECK(y.find("certificate-authority-data: ") != std::string::npos);
  CHECK(y.find("client-key-data: ") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(dir.File("etc/kc.yaml").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

}  // namespace
}  // namespace mini8s::server
