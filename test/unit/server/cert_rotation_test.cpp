#include "mini8s/server/cert_rotation.h"

#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "mini8s/http/tls_material.h"
#include "testutil/fake_clock.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

using namespace std::chrono_literals;

std::string Slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fake clock standing `days_left` days before the expiry of a certificate issued right now.
void SetDaysBeforeExpiry(testutil::FakeClock& clock, int days_left) {
  auto target = std::chrono::system_clock::now() + http::kLeafCertificateValidity -
                std::chrono::hours(24 * days_left);
  clock.Advance(target - clock.Now());
}

std::chrono::hours Lifetime(const std::string& pem) {
  auto info = http::InspectCertificate(pem);
  REQUIRE(info.ok());
  return std::chrono::duration_cast<std::chrono::hours>(info->not_after - info->not_before);
}

TEST_CASE("cert renewal: leaves live one year and CAs ten", "[server][unit]") {
  testutil::TempDir dir;
  BootstrapOptions o;
  o.data_dir = dir.path();
  auto c = EnsureServerCredentials(o);
  REQUIRE(c.ok());
  // InitCert backdates notBefore by an hour for clock skew.
  CHECK(Lifetime(c->serving_cert_pem) == std::chrono::hours(24 * 365 + 1));
  CHECK(Lifetime(c->admin_cert_pem) == std::chrono::hours(24 * 365 + 1));
  CHECK(Lifetime(c->server_ca_pem) == std::chrono::hours(24 * 3650 + 1));
  CHECK(Lifetime(c->client_ca_pem) == std::chrono::hours(24 * 3650 + 1));
}

TEST_CASE(
    "cert renewal: a leaf 80 days from expiry is reissued from the same CA, one 100 days "
    "away is kept",
    "[server][unit]") {
  testutil::TempDir dir;
  testutil::FakeClock clock;
  BootstrapOptions o;
  o.data_dir = dir.path();
  o.clock = &clock;
  SetDaysBeforeExpiry(clock, 365);
  auto first = EnsureServerCredentials(o);
  REQUIRE(first.ok());
  std::string server_ca_file = Slurp(first->tls_dir + "/server-ca.crt");
  std::string server_ca_key = Slurp(first->tls_dir + "/server-ca.key");
  std::string client_ca_file = Slurp(first->tls_dir + "/client-ca.crt");

  SetDaysBeforeExpiry(clock, 100);
  auto kept = RenewCertificates(o, *first);
  REQUIRE(kept.ok());
  CHECK_FALSE(kept->serving_changed);
  CHECK_FALSE(kept->admin_changed);
  CHECK(kept->credentials.serving_cert_pem == first->serving_cert_pem);

  SetDaysBeforeExpiry(clock, 80);
  auto renewed = RenewCertificates(o, *first);
  REQUIRE(renewed.ok());
  CHECK(renewed->serving_changed);
  CHECK(renewed->admin_changed);
  const ServerCredentials& n = renewed->credentials;
  CHECK(n.serving_cert_pem != first->serving_cert_pem);
  CHECK(n.serving_key_pem != first->serving_key_pem);
  CHECK(n.admin_cert_pem != first->admin_cert_pem);
  // The CAs are untouched, so every client that trusts the old CA trusts the new certificate,
  // and client certificates issued before still verify.
  CHECK(Slurp(first->tls_dir + "/server-ca.crt") == server_ca_file);
  CHECK(Slurp(first->tls_dir + "/server-ca.key") == server_ca_key);
  CHECK(Slurp(first->tls_dir + "/client-ca.crt") == client_ca_file);
  CHECK(n.server_ca_pem == first->server_ca_pem);
  CHECK(http::VerifyCertificate(n.serving_cert_pem, first->server_ca_pem, clock.Now()).ok());
  CHECK(http::VerifyCertificate(first->admin_cert_pem, n.client_ca_pem, clock.Now()).ok());
  CHECK(http::VerifyCertificate(n.admin_cert_pem, first->client_ca_pem, clock.Now()).ok());
  // The new leaf lives a year from the (test) clock's now.
  auto fresh = http::InspectCertificate(n.serving_cert_pem);
  REQUIRE(fresh.ok());
  CHECK(fresh->not_after - clock.Now() > std::chrono::hours(24 * 364));
  // The files hold the new certificate, and names are unchanged.
  CHECK(Slurp(n.tls_dir + "/serving-kube-apiserver.crt") == n.serving_cert_pem);
  auto before = http::InspectCertificate(first->serving_cert_pem);
  auto after = http::InspectCertificate(n.serving_cert_pem);
  REQUIRE(before.ok());
  REQUIRE(after.ok());
  CHECK(after->dns_names == before->dns_names);
  CHECK(after->common_name == before->common_name);
  CHECK(after->not_after > before->not_after);
  // Nothing left to do right after.
  auto again = RenewCertificates(o, n);
  REQUIRE(again.ok());
  CHECK_FALSE(again->serving_changed);
  CHECK_FALSE(again->admin_changed);
}

TEST_CASE("cert renewal: force_renew reissues only the named leaf", "[server][unit]") {
  testutil::TempDir dir;
  BootstrapOptions o;
  o.data_dir = dir.path();
  auto first = EnsureServerCredentials(o);
  REQUIRE(first.ok());
  o.force_renew = {"serving-kube-apiserver"};
  auto r = RenewCertificates(o, *first);
  REQUIRE(r.ok());
  CHECK(r->serving_changed);
  CHECK_FALSE(r->admin_changed);
  CHECK(r->credentials.server_ca_pem == first->server_ca_pem);
}

TEST_CASE("cert renewal: ListServerCertificates shows the CAs and leaves with their expiry",
          "[server][unit]") {
  testutil::TempDir dir;
  CHECK(ListServerCertificates(dir.path()).error().Is(Code::kNotFound));
  BootstrapOptions o;
  o.data_dir = dir.path();
  REQUIRE(EnsureServerCredentials(o).ok());
  auto list = ListServerCertificates(dir.path());
  REQUIRE(list.ok());
  REQUIRE(list->size() == 5);
  const CertificateFileInfo& admin = (*list)[0];
  CHECK(admin.path.ends_with("/client-admin.crt"));
  CHECK(admin.subject == "CN=system:admin,O=system:masters");
  CHECK(admin.usages == "ClientAuth");
  CHECK_FALSE(admin.is_ca);
  CHECK((*list)[1].is_ca);
  CHECK((*list)[1].usages == "CertSign");
  CHECK((*list)[4].path.ends_with("/serving-kube-apiserver.crt"));
  CHECK((*list)[4].usages == "ServerAuth");
  CHECK((*list)[4].not_after < (*list)[1].not_after);
}

TEST_CASE("CertificateRenewer: a pass on the interval reports a renewed serving certificate",
          "[server][unit]") {
  testutil::TempDir dir;
  testutil::FakeClock clock;
  BootstrapOptions o;
  o.data_dir = dir.path();
  o.clock = &clock;
  SetDaysBeforeExpiry(clock, 365);
  auto first = EnsureServerCredentials(o);
  REQUIRE(first.ok());

  boost::asio::io_context io;
  std::vector<RenewalResult> seen;
  CertificateRenewer::Options ro;
  ro.bootstrap = o;
  ro.interval = 1ms;
  ro.on_renewed = [&](const RenewalResult& r) { seen.push_back(r); };
  auto renewer = CertificateRenewer::Start(io.get_executor(), ro, *first);
  // Passes far from expiry change nothing.
  for (int i = 0; i < 200 && renewer->passes() < 2; ++i) io.run_for(5ms);
  REQUIRE(renewer->passes() >= 2);
  CHECK(seen.empty());
  SetDaysBeforeExpiry(clock, 30);
  for (int i = 0; i < 200 && seen.empty(); ++i) io.run_for(5ms);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].serving_changed);
  CHECK(seen[0].admin_changed);
  // The renewer compares with what it last saw: later passes are quiet again.
  uint64_t passes = renewer->passes();
  for (int i = 0; i < 200 && renewer->passes() < passes + 2; ++i) io.run_for(5ms);
  CHECK(seen.size() == 1);
  renewer.reset();
  io.run_for(5ms);
}

}  // namespace
}  // namespace mini8s::server
