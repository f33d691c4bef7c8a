#include "mini8s/http/tls_material.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "testutil/temp_dir.h"

namespace mini8s::http {
namespace {

TEST_CASE("TLS material: a leaf issued by a CA verifies and carries its SANs and usages",
          "[http][unit]") {
  auto ca = GenerateSelfSignedCa("mini8s-server-ca");
  REQUIRE(ca.ok());
  CertificateRequest req;
  req.common_name = "kube-apiserver";
  req.dns_names = {"localhost", "kubernetes.default.svc"};
  req.ip_addresses = {"127.0.0.1", "10.43.0.1", "::1"};
  req.server_auth = true;
  auto leaf = IssueCertificate(*ca, req);
  REQUIRE(leaf.ok());
  CHECK(VerifyCertificate(leaf->cert_pem, ca->cert_pem).ok());

  auto info = InspectCertificate(leaf->cert_pem);
  REQUIRE(info.ok());
  CHECK(info->common_name == "kube-apiserver");
  CHECK(info->dns_names == std::vector<std::string>{"localhost", "kubernetes.default.svc"});
  CHECK(info->ip_addresses == std::vector<std::string>{"127.0.0.1", "10.43.0.1", "::1"});
  CHECK(info->server_auth);
  CHECK_FALSE(info->client_auth);
  CHECK_FALSE(info->is_ca);
  auto days = std::chrono::duration_cast<std::chrono::hours>(info->not_after - info->not_before);
  CHECK(days.count() == 365 * 24 + 1);

  auto ca_info = InspectCertificate(ca->cert_pem);
  REQUIRE(ca_info.ok());
  CHECK(ca_info->is_ca);
  CHECK(ca_info->not_after - ca_info->not_before > std::chrono::hours(24 * 3649));
}

TEST_CASE("TLS material: client certificates carry CN and one O per group", "[http][unit]") {
  auto ca = GenerateSelfSignedCa("mini8s-client-ca", KeyType::kRsa2048);
  REQUIRE(ca.ok());
  CertificateRequest req;
  req.common_name = "system:admin";
  req.organizations = {"system:masters", "ops"};
  req.client_auth = true;
  auto leaf = IssueCertificate(*ca, req, KeyType::kRsa2048);
  REQUIRE(leaf.ok());
  auto info = InspectCertificate(leaf->cert_pem);
  REQUIRE(info.ok());
  CHECK(info->common_name == "system:admin");
  CHECK(info->organizations == std::vector<std::string>{"system:masters", "ops"});
  CHECK(info->client_auth);
  CHECK_FALSE(info->server_auth);
}

TEST_CASE("TLS material: a certificate from another CA does not verify", "[http][unit]") {
  auto ca1 = GenerateSelfSignedCa("ca-one");
  auto ca2 = GenerateSelfSignedCa("ca-two");
  REQUIRE(ca1.ok());
  REQUIRE(ca2.ok());
  CertificateRequest req;
  req.common_name = "node";
  req.client_auth = true;
  auto leaf = IssueCertificate(*ca1, req);
  REQUIRE(leaf.ok());
  Status s = VerifyCertificate(leaf->cert_pem, ca2->cert_pem);
  CHECK(s.code() == Code::kInvalid);
  // A bundle holding both CAs verifies it.
  CHECK(VerifyCertificate(leaf->cert_pem, ca2->cert_pem + ca1->cert_pem).ok());
}

TEST_CASE("TLS material: bad names and mismatched CA keys are rejected", "[http][unit]") {
  auto ca = GenerateSelfSignedCa("ca");
  auto other = GenerateSelfSignedCa("other");
  REQUIRE(ca.ok());
  REQUIRE(other.ok());
  CertificateRequest req;
  req.common_name = "x";
  req.ip_addresses = {"300.1.1.1"};
  CHECK(IssueCertificate(*ca, req).error().code() == Code::kInvalid);
  req.ip_addresses.clear();
  req.dns_names = {"a,DNS:evil"};
  CHECK(IssueCertificate(*ca, req).error().code() == Code::kInvalid);
  req.dns_names.clear();
  CertificateAndKey mixed{ca->cert_pem, other->key_pem};
  CHECK_FALSE(IssueCertificate(mixed, req).ok());
}

TEST_CASE("TLS material: PEM files are written with the requested mode", "[http][unit]") {
  testutil::TempDir dir;
  auto key = GenerateKey();
  REQUIRE(key.ok());
  std::string path = dir.File("server.key");
  REQUIRE(WritePemFile(path, key->pem, 0600).ok());
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(ReadPemFile(path).value() == key->pem);
  CHECK(ReadPemFile(dir.File("missing")).error().code() == Code::kNotFound);
}

TEST_CASE("TLS material: CA bundle hash is the SHA-256 of the file bytes", "[http][unit]") {
  CHECK(CaBundleSha256Hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mini8s::http
