// The server side of joining: CA pinning material, authentication, certificates, node passwords.
#include <catch2/catch.hpp>

#include "mini8s/http/tls_material.h"
#include "mini8s/server/bootstrap.h"
#include "mini8s/server/join.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

std::string B64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

struct Fixture {
  testutil::TempDir dir;
  ServerCredentials creds;
  MemNodePasswordStore passwords;
  std::unique_ptr<JoinService> service;
  std::string secret;

  Fixture() {
    BootstrapOptions o;
    o.data_dir = dir.path();
    o.token = "s3cret";
    auto c = EnsureServerCredentials(o);
    REQUIRE(c.ok());
    creds = *c;
    secret = "s3cret";
    JoinServiceOptions jo;
    jo.data_dir = dir.path();
    jo.passwords = &passwords;
    jo.config.cluster_cidr = "10.42.0.0/16";
    auto s = JoinService::Create(jo);
    REQUIRE(s.ok());
    service = std::move(*s);
  }

  http::HttpResponse Call(std::string method, std::string path, std::string auth,
                          std::string node = "", std::string password = "", std::string body = "") {
    http::HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.target = r.path;
    if (!auth.empty()) r.headers.Set("Authorization", "Basic " + B64(auth));
    if (!node.empty()) r.headers.Set("Mini8s-Node-Name", node);
    if (!password.empty()) r.headers.Set("Mini8s-Node-Password", password);
    r.headers.Set("Mini8s-Node-IP", "192.0.2.7");
    r.body = std::move(body);
    auto resp = service->HandleJoin(r);
    REQUIRE(resp.has_value());
    return *resp;
  }

  std::string Csr(const std::string& key_pem) {
    http::CertificateRequest req;
    req.common_name = "system:admin";  // what the requester asks for is ignored
    req.organizations = {"system:masters"};
    auto csr = http::GenerateCsr(key_pem, req);
    REQUIRE(csr.ok());
    return *csr;
  }
};

TEST_CASE("join service: cacerts is served unauthenticated and hashes to the token's pin",
          "[join][unit]") {
  Fixture f;
  auto r = f.Call("GET", "/v1-mini8s/cacerts", "");
  CHECK(r.status == 200);
  CHECK(r.body == f.creds.server_ca_pem);
  CHECK(f.creds.node_token.substr(3, 64) == http::CaBundleSha256Hex(r.body));
  CHECK(f.Call("GET", "/v1-mini8s/ping", "").body == "pong");
}

TEST_CASE("join service: other paths are left to the caller, unknown ones under the prefix 404",
          "[join][unit]") {
  Fixture f;
  http::HttpRequest r;
  r.method = "GET";
  r.path = "/api/v1/pods";
  CHECK_FALSE(f.service->HandleJoin(r).has_value());
  CHECK(f.Call("GET", "/v1-mini8s/nope", "node:s3cret").status == 404);
}

TEST_CASE("join service: a CSR gets a system:node certificate from the client CA", "[join][unit]") {
  Fixture f;
  auto key = http::GenerateKey();
  REQUIRE(key.ok());
  auto r = f.Call("POST", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "worker-1", "pw1",
                  f.Csr(key->pem));
  REQUIRE(r.status == 200);
  auto info = http::InspectCertificate(r.body);
  REQUIRE(info.ok());
  CHECK(info->common_name == "system:node:worker-1");
  CHECK(info->organizations == std::vector<std::string>{"system:nodes"});
  CHECK(info->client_auth);
  CHECK_FALSE(info->server_auth);
  CHECK(http::VerifyCertificate(r.body, f.creds.client_ca_pem).ok());
  // The response carries the chain: leaf then the client CA.
  CHECK(r.body.find(f.creds.client_ca_pem) != std::string::npos);
  CHECK(r.body.find("PRIVATE KEY") == std::string::npos);
  // The password was recorded (hashed, not in clear).
  auto stored = f.passwords.Get("worker-1");
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK(**stored != "pw1");
  CHECK(VerifyNodePassword("pw1", **stored));
}

TEST_CASE("join service: GET issues a key too, and server credentials are accepted",
          "[join][unit]") {
  Fixture f;
  auto r = f.Call("GET", "/v1-mini8s/client-kubelet.crt", "server:s3cret", "worker-2", "pw");
  REQUIRE(r.status == 200);
  CHECK(r.body.find("PRIVATE KEY") != std::string::npos);
  CHECK(http::InspectCertificate(r.body)->common_name == "system:node:worker-2");
}

TEST_CASE("join service: a node renews with its own certificate, not another node's",
          "[join][unit]") {
  Fixture f;
  auto first = f.Call("GET", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "n7", "pw");
  REQUIRE(first.status == 200);
  auto renew = [&](const std::string& node) {
    http::HttpRequest r;
    r.method = "GET";
    r.path = "/v1-mini8s/client-kubelet.crt";
    r.headers.Set("Mini8s-Node-Name", node);
    r.headers.Set("Mini8s-Node-Password", "pw");
    r.tls = http::TlsPeerInfo{};
    r.tls->certificate_chain_pem = {first.body};
    r.tls->certificate_verified = true;
    return *f.service->HandleJoin(r);
  };
  CHECK(renew("n7").status == 200);
  CHECK(renew("n8").status == 401);
}

TEST_CASE("join service: a wrong or missing token is 401", "[join][unit]") {
  Fixture f;
  CHECK(f.Call("GET", "/v1-mini8s/config", "node:wrong").status == 401);
  CHECK(f.Call("GET", "/v1-mini8s/config", "").status == 401);
  CHECK(f.Call("GET", "/v1-mini8s/config", "admin:s3cret").status == 401);
  CHECK(f.Call("GET", "/v1-mini8s/client-kubelet.crt", "node:s3cre", "n", "pw").status == 401);
  auto ok = f.Call("GET", "/v1-mini8s/config", "node:s3cret");
  CHECK(ok.status == 200);
  CHECK(ok.body.find("\"clusterCIDR\":\"10.42.0.0/16\"") != std::string::npos);
}

TEST_CASE("join service: a second node with the same name and another password gets 403",
          "[join][unit]") {
  Fixture f;
  CHECK(f.Call("GET", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "dup", "first").status ==
        200);
  auto again = f.Call("GET", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "dup", "first");
  CHECK(again.status == 200);
  auto other = f.Call("GET", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "dup", "second");
  CHECK(other.status == 403);
  CHECK(other.body.rfind("Node password rejected, duplicate hostname", 0) == 0);
  CHECK(other.body.find("--with-node-id") != std::string::npos);
}

TEST_CASE("join service: bad node names, missing passwords and bad CSRs are 400", "[join][unit]") {
  Fixture f;
  CHECK(f.Call("GET", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "Bad_Name", "pw").status ==
        400);
  CHECK(f.Call("GET", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "n1", "").status == 400);
  CHECK(f.Call("POST", "/v1-mini8s/client-kubelet.crt", "node:s3cret", "n1", "pw", "junk").status ==
        400);
}

TEST_CASE("join service: the node-password Secret round-trips its hash", "[join][unit]") {
  std::string h = HashNodePassword("pw");
  auto secret = NodePasswordSecret("n1", h);
  CHECK(secret.at("metadata").at("name").as_string() == "n1.node-password.mini8s");
  CHECK(secret.at("metadata").at("namespace").as_string() == "kube-system");
  CHECK(NodePasswordHashOf(secret) == h);
  CHECK(VerifyNodePassword("pw", h));
  CHECK_FALSE(VerifyNodePassword("px", h));
  CHECK_FALSE(VerifyNodePassword("pw", "$pbkdf2-sha256$x$y$z"));
  CHECK(HashNodePassword("pw") != h);  // salted
}

}  // namespace
}  // namespace mini8s::server
