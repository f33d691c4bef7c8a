#include "mini8s/controllers/serviceaccount.h"

#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/controllers/manager.h"
#include "unit/ctrl_core/ctrl_core_fixture.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using testing::Fixture;
using testing::Obj;

const client::Resource kNamespaces = resources::Namespaces();
const client::Resource kServiceAccounts = resources::ServiceAccounts();
const client::Resource kConfigMaps = resources::ConfigMaps();
constexpr char kBundle[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

ClusterConfig WithBundle() {
  ClusterConfig c;
  c.ca_bundle_pem = kBundle;
  return c;
}

json::object NamespaceObj(std::string name, std::string phase) {
  return Obj("v1", "Namespace", "", name,
             json::object{{"status", json::object{{"phase", std::move(phase)}}}});
}

struct SaFixture : Fixture {
  SaFixture() : Fixture(WithBundle()), sa(ctx), ca(ctx) {
    AddWorker(sa, sa.queue());
    AddWorker(ca, ca.queue());
  }
  ServiceAccountsController sa;
  RootCaPublisher ca;
};

TEST_CASE("ServiceAccountsController: every active namespace gets a default ServiceAccount",
          "[ctrl_core][unit]") {
  SaFixture f;
  f.Create(kNamespaces, NamespaceObj("existing", "Active"));
  f.StartInformers();
  f.Drain();
  CHECK(f.Exists(kServiceAccounts, "existing", "default"));

  f.Create(kNamespaces, NamespaceObj("fresh", "Active"));
  f.Drain();
  auto sa = f.Get(kServiceAccounts, "fresh", "default");
  REQUIRE(sa.has_value());
  CHECK(api::Kind(*sa) == "ServiceAccount");

  // Deleted: recreated (with a new uid).
  std::string old_uid(api::Uid(*sa));
  REQUIRE(f.Delete(kServiceAccounts, "fresh", "default").has_value());
  f.Drain();
  auto again = f.Get(kServiceAccounts, "fresh", "default");
  REQUIRE(again.has_value());
  CHECK(api::Uid(*again) != old_uid);

  // Other service accounts are not the controller's business.
  f.Create(kServiceAccounts, Obj("v1", "ServiceAccount", "fresh", "builder"));
  REQUIRE(f.Delete(kServiceAccounts, "fresh", "builder").has_value());
  f.Drain();
  CHECK_FALSE(f.Exists(kServiceAccounts, "fresh", "builder"));
}

TEST_CASE("ServiceAccountsController: terminating namespaces get nothing", "[ctrl_core][unit]") {
  SaFixture f;
  f.Create(kNamespaces, NamespaceObj("going", "Terminating"));
  f.StartInformers();
  f.Drain();
  CHECK_FALSE(f.Exists(kServiceAccounts, "going", "default"));
  CHECK_FALSE(f.Exists(kConfigMaps, "going", "kube-root-ca.crt"));
}

TEST_CASE("ServiceAccountsController: a failed create is retried", "[ctrl_core][unit]") {
  SaFixture f;
  f.StartInformers();
  f.Create(kNamespaces, NamespaceObj("ns1", "Active"));
  f.fake.FailNext("create", Status::Unavailable("try later"));
  f.Drain();
  // The service account controller's create failed and waits for its backoff.
  CHECK_FALSE(f.Exists(kServiceAccounts, "ns1", "default"));
  CHECK(f.Exists(kConfigMaps, "ns1", "kube-root-ca.crt"));
  CHECK(f.sa.queue().Waiting() == 1);
  f.Drain(/*max_time_steps=*/3);
  CHECK(f.Exists(kServiceAccounts, "ns1", "default"));
}

TEST_CASE("RootCaPublisher: publishes kube-root-ca.crt in every namespace and keeps it exact",
          "[ctrl_core][unit]") {
  SaFixture f;
  f.Create(kNamespaces, NamespaceObj("ns1", "Active"));
  f.StartInformers();
  f.Drain();
  auto cm = f.Get(kConfigMaps, "ns1", "kube-root-ca.crt");
  REQUIRE(cm.has_value());
  const json::object* data = api::GetObject(*cm, "data");
  REQUIRE(data != nullptr);
  CHECK(*data == json::object{{"ca.crt", kBundle}});
  CHECK_FALSE(api::Annotation(*cm, "kubernetes.io/description").value_or("").empty());

  // Changed by someone: rewritten (extra keys dropped, annotation restored).
  json::object tampered = *cm;
  tampered["data"] = json::object{{"ca.crt", "bogus"}, {"extra", "x"}};
  api::RemoveAnnotation(tampered, "kubernetes.io/description");
  REQUIRE(f.Run(f.client.Update(kConfigMaps, tampered)).has_value());
  f.Drain();
  cm = f.Get(kConfigMaps, "ns1", "kube-root-ca.crt");
  REQUIRE(cm.has_value());
  CHECK(*api::GetObject(*cm, "data") == json::object{{"ca.crt", kBundle}});
  CHECK_FALSE(api::Annotation(*cm, "kubernetes.io/description").value_or("").empty());

  // Deleted: recreated.
  REQUIRE(f.Delete(kConfigMaps, "ns1", "kube-root-ca.crt").has_value());
  f.Drain();
  cm = f.Get(kConfigMaps, "ns1", "kube-root-ca.crt");
  REQUIRE(cm.has_value());
  CHECK(*api::GetObject(*cm, "data") == json::object{{"ca.crt", kBundle}});

  // An unchanged ConfigMap causes no write.
  f.fake.ClearActions();
  f.ca.queue().Add("ns1");
  f.Drain();
  CHECK(f.fake.actions().empty());
}

TEST_CASE("RootCaPublisher: start fails without a CA bundle", "[ctrl_core][unit]") {
  Fixture f;
  CHECK(StartRootCaPublisher(f.ctx).Is(Code::kInvalid));
}

}  // namespace
}  // namespace mini8s::controllers
