// The Start functions wired together on one ControllerContext, as `mini8s server` runs them: the
// runners and informers are started by ctx.Start() and run on the io_context. The runners poll
// their informers' sync on a short timer, so this test runs the loop for real time, bounded.
#include <chrono>
#include <functional>
#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/controllers/garbage_collector.h"
#include "mini8s/controllers/kind_catalog.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/namespace.h"
#include "mini8s/controllers/serviceaccount.h"
#include "unit/ctrl_core/ctrl_core_fixture.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Fixture;
using testing::Obj;
using testing::OwnedBy;

ClusterConfig WithBundle() {
  ClusterConfig c;
  c.ca_bundle_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  return c;
}

// Runs the loop until `done` holds (at most 5 s of real time).
bool RunUntil(Fixture& f, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    f.io.restart();
    f.io.run_one_for(20ms);
  }
  return done();
}

TEST_CASE("Start functions: the core controllers run together on one context",
          "[ctrl_core][unit]") {
  Fixture f(WithBundle());
  const client::Resource ns_res = resources::Namespaces();
  f.Create(ns_res,
           Obj("v1", "Namespace", "", "ns1",
               json::object{{"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
                            {"status", json::object{{"phase", "Active"}}}}));
  json::object doomed =
      Obj("v1", "Namespace", "", "doomed",
          json::object{{"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
                       {"status", json::object{{"phase", "Active"}}}});
  api::AddFinalizer(doomed, "example.com/hold");
  f.Create(ns_res, doomed);
  f.Create(resources::Secrets(), Obj("v1", "Secret", "doomed", "s"));
  json::object d = f.Create(resources::Deployments(), Obj("apps/v1", "Deployment", "ns1", "web"));
  f.Create(resources::ReplicaSets(), OwnedBy(Obj("apps/v1", "ReplicaSet", "ns1", "web-1"), d));
  // A custom kind, known to the controllers only through the CRD informer.
  f.Create(CustomResourceDefinitions(), json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                       "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": true, "storage": true,
                           "schema": {"openAPIV3Schema": {"type": "object",
                              "x-kubernetes-preserve-unknown-fields": true}}}]}})")
                                            .as_object());
  const client::Resource widgets{"example.com", "v1", "widgets", "Widget", true};
  json::object owner = f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "ns1", "owner"));
  f.Create(widgets, OwnedBy(Obj("example.com/v1", "Widget", "ns1", "w1"), owner));

  REQUIRE(StartGarbageCollector(f.ctx).ok());
  REQUIRE(StartNamespaceController(f.ctx).ok());
  REQUIRE(StartServiceAccountController(f.ctx).ok());
  REQUIRE(StartRootCaPublisher(f.ctx).ok());
  f.ctx.Start();

  CHECK(RunUntil(f, [&] {
    return f.Exists(resources::ServiceAccounts(), "ns1", "default") &&
           f.Exists(resources::ConfigMaps(), "ns1", "kube-root-ca.crt");
  }));
  REQUIRE(f.Delete(resources::Deployments(), "ns1", "web").has_value());
  CHECK(RunUntil(f, [&] { return !f.Exists(resources::ReplicaSets(), "ns1", "web-1"); }));
  // The widget monitor was added when the CRD informer reported the kind.
  REQUIRE(f.Delete(resources::ConfigMaps(), "ns1", "owner").has_value());
  CHECK(RunUntil(f, [&] { return !f.Exists(widgets, "ns1", "w1"); }));
  // Namespace deletion empties the namespace and drops the `kubernetes` finalizer.
  REQUIRE(f.Delete(ns_res, "", "doomed").has_value());
  CHECK(RunUntil(f, [&] {
    auto ns = f.Get(ns_res, "", "doomed");
    return ns.has_value() && api::GetArray(*ns, "spec.finalizers") != nullptr &&
           api::GetArray(*ns, "spec.finalizers")->empty();
  }));
  CHECK_FALSE(f.Exists(resources::Secrets(), "doomed", "s"));
  CHECK(f.Exists(resources::ServiceAccounts(), "ns1", "default"));

  f.ctx.Stop();
  testutil::Poll(f.io);
}

}  // namespace
}  // namespace mini8s::controllers
