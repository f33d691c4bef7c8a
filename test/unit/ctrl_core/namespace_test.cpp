#include "mini8s/controllers/namespace.h"

#include <algorithm>
#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/registry.h"
#include "mini8s/controllers/kind_catalog.h"
#include "mini8s/controllers/manager.h"
#include "unit/ctrl_core/ctrl_core_fixture.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Fixture;
using testing::Obj;

const client::Resource kNamespaces = resources::Namespaces();

std::shared_ptr<api::Registry> Builtin() {
  static std::shared_ptr<api::Registry> registry = api::Registry::NewBuiltin();
  return registry;
}

struct NsFixture : Fixture {
  explicit NsFixture(std::shared_ptr<KindCatalog> cat = std::make_shared<KindCatalog>(Builtin()))
      : catalog(std::move(cat)), controller(ctx, catalog) {
    AddWorker(controller, controller.queue());
  }
  // An Active namespace holding the `kubernetes` finalizer; `hold` adds a metadata finalizer so
  // the FakeClient keeps the object once spec.finalizers empties (it ignores spec.finalizers).
  json::object CreateNamespace(std::string name, bool hold = true) {
    json::object ns =
        Obj("v1", "Namespace", "", name,
            json::object{{"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
                         {"status", json::object{{"phase", "Active"}}}});
    if (hold) api::AddFinalizer(ns, "example.com/hold");
    return Create(kNamespaces, std::move(ns));
  }
  json::object Namespace(std::string name) {
    auto ns = Get(kNamespaces, "", std::move(name));
    MINI8S_CHECK(ns.has_value()) << ns.error().ToString();
    return *ns;
  }
  std::shared_ptr<KindCatalog> catalog;
  NamespaceController controller;
};

const json::object* FindCondition(const json::object& ns, std::string_view type) {
  if (const json::array* conds = api::GetArray(ns, "status.conditions")) {
    for (const auto& c : *conds) {
      if (c.is_object() && api::GetString(c.as_object(), "type") == type) return &c.as_object();
    }
  }
  return nullptr;
}

std::string CondField(const json::object& ns, std::string_view type, std::string_view field) {
  const json::object* c = FindCondition(ns, type);
  return c ? std::string(api::GetString(*c, field)) : std::string("<missing>");
}

std::vector<std::string> SpecFinalizers(const json::object& ns) {
  std::vector<std::string> out;
  if (const json::array* f = api::GetArray(ns, "spec.finalizers")) {
    for (const auto& v : *f) out.emplace_back(v.as_string());
  }
  return out;
}

TEST_CASE("NamespaceController: deletes every kind of content, then finalizes the namespace",
          "[ctrl_core][unit]") {
  NsFixture f;
  f.CreateNamespace("ns1");
  f.CreateNamespace("ns2");
  f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "ns1", "cm"));
  f.Create(resources::Secrets(), Obj("v1", "Secret", "ns1", "s"));
  f.Create(resources::Pods(), Obj("v1", "Pod", "ns1", "p"));
  f.Create(resources::Deployments(), Obj("apps/v1", "Deployment", "ns1", "d"));
  f.Create(resources::Jobs(), Obj("batch/v1", "Job", "ns1", "j"));
  json::object blocked = Obj("v1", "ConfigMap", "ns1", "blocked");
  api::AddFinalizer(blocked, "example.com/block");
  f.Create(resources::ConfigMaps(), blocked);
  f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "ns2", "keep"));
  f.StartInformers();
  // Active namespaces are not touched.
  CHECK(f.Drain() == 0);

  REQUIRE(f.Delete(kNamespaces, "", "ns1").has_value());
  // One pass: its own status writes do not wake the controller again.
  CHECK(f.Drain() == 1);
  json::object ns = f.Namespace("ns1");
  CHECK(api::GetString(ns, "status.phase") == "Terminating");
  CHECK_FALSE(f.Exists(resources::ConfigMaps(), "ns1", "cm"));
  CHECK_FALSE(f.Exists(resources::Secrets(), "ns1", "s"));
  CHECK_FALSE(f.Exists(resources::Pods(), "ns1", "p"));
  CHECK_FALSE(f.Exists(resources::Deployments(), "ns1", "d"));
  CHECK_FALSE(f.Exists(resources::Jobs(), "ns1", "j"));
  CHECK(f.Exists(resources::ConfigMaps(), "ns2", "keep"));
  // The blocked ConfigMap is being deleted but holds the namespace back.
  auto still = f.Get(resources::ConfigMaps(), "ns1", "blocked");
  REQUIRE(still.has_value());
  CHECK(api::IsBeingDeleted(*still));
  CHECK(SpecFinalizers(ns) == std::vector<std::string>{"kubernetes"});
  CHECK(CondField(ns, "NamespaceContentRemaining", "status") == "True");
  CHECK(CondField(ns, "NamespaceContentRemaining", "reason") == "SomeResourcesRemain");
  CHECK(CondField(ns, "NamespaceContentRemaining", "message") ==
        "Some resources are remaining: configmaps. has 1 resource instances");
  CHECK(CondField(ns, "NamespaceFinalizersRemaining", "status") == "True");
  CHECK(CondField(ns, "NamespaceFinalizersRemaining", "reason") == "SomeFinalizersRemain");
  CHECK(CondField(ns, "NamespaceFinalizersRemaining", "message") ==
        "Some content in the namespace has finalizers remaining: example.com/block in 1 "
        "resource instances");
  CHECK(CondField(ns, "NamespaceDeletionDiscoveryFailure", "status") == "False");
  CHECK(CondField(ns, "NamespaceDeletionDiscoveryFailure", "reason") == "ResourcesDiscovered");
  CHECK(CondField(ns, "NamespaceDeletionContentFailure", "status") == "False");
  CHECK(CondField(ns, "NamespaceDeletionContentFailure", "reason") == "ContentDeleted");
  CHECK(CondField(ns, "NamespaceDeletionGroupVersionParsingFailure", "reason") ==
        "ParsedGroupVersions");
  // Requeued after 15/2+1 seconds for the finalizer to finish.
  CHECK(f.controller.queue().Waiting() == 1);
  f.clock.Advance(7s);
  f.controller.queue().FlushDue();
  CHECK(f.controller.queue().Len() == 0);

  // The finalizer finishes: the next pass removes `kubernetes`.
  REQUIRE(
      f.MergePatch(resources::ConfigMaps(), "ns1", "blocked", R"({"metadata":{"finalizers":null}})")
          .has_value());
  CHECK(f.Drain(/*max_time_steps=*/2) >= 1);
  ns = f.Namespace("ns1");
  CHECK(SpecFinalizers(ns).empty());
  CHECK(CondField(ns, "NamespaceContentRemaining", "status") == "False");
  CHECK(CondField(ns, "NamespaceContentRemaining", "reason") == "ContentRemoved");
  CHECK(CondField(ns, "NamespaceContentRemaining", "message") ==
        "All content successfully removed");
  CHECK(CondField(ns, "NamespaceFinalizersRemaining", "reason") == "ContentHasNoFinalizers");
  // Finalized through namespaces/<name>/finalize; FakeClient does not serve it, so the
  // controller fell back to a plain update.
  const auto& actions = f.fake.actions();
  CHECK(std::count(actions.begin(), actions.end(), "update namespaces/finalize /ns1") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "update namespaces /ns1") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "update namespaces/status /ns1") >= 1);

  // With its own finalizer gone too, the namespace disappears; ns2 is untouched.
  REQUIRE(f.MergePatch(kNamespaces, "", "ns1", R"({"metadata":{"finalizers":null}})").has_value());
  CHECK_FALSE(f.Exists(kNamespaces, "", "ns1"));
  CHECK(api::GetString(f.Namespace("ns2"), "status.phase") == "Active");
  CHECK(f.Exists(resources::ConfigMaps(), "ns2", "keep"));
}

TEST_CASE("NamespaceController: finalizes through the finalize subresource when served",
          "[ctrl_core][unit]") {
  NsFixture f;
  f.client.serve_finalize = true;
  f.CreateNamespace("ns1");
  f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "ns1", "cm"));
  f.StartInformers();
  REQUIRE(f.Delete(kNamespaces, "", "ns1").has_value());
  f.Drain();
  CHECK(SpecFinalizers(f.Namespace("ns1")).empty());
  CHECK(f.client.finalize_calls == 1);
  // No fallback to a plain update of the namespace by the controller.
  const auto& actions = f.fake.actions();
  CHECK(std::count(actions.begin(), actions.end(), "update namespaces/finalize /ns1") == 0);
  CHECK(std::count(actions.begin(), actions.end(), "update namespaces /ns1") == 1);
}

TEST_CASE("NamespaceController: graceful pods requeue after half their grace period",
          "[ctrl_core][unit]") {
  NsFixture f;
  f.CreateNamespace("ns1");
  // A running pod whose kubelet-side finalization is simulated by a finalizer.
  json::object pod = Obj("v1", "Pod", "ns1", "p",
                         json::object{{"spec", json::object{{"terminationGracePeriodSeconds", 30}}},
                                      {"status", json::object{{"phase", "Running"}}}});
  api::AddFinalizer(pod, "example.com/kubelet");
  f.Create(resources::Pods(), pod);
  f.StartInformers();
  REQUIRE(f.Delete(kNamespaces, "", "ns1").has_value());
  CHECK(f.Drain() == 1);
  CHECK(f.controller.queue().Waiting() == 1);
  // 30/2+1 = 16 s: not due after 15 s, due after 16 s.
  f.clock.Advance(15s);
  f.controller.queue().FlushDue();
  CHECK(f.controller.queue().Len() == 0);
  f.clock.Advance(1s);
  f.controller.queue().FlushDue();
  CHECK(f.controller.queue().Len() == 1);
  CHECK(SpecFinalizers(f.Namespace("ns1")) == std::vector<std::string>{"kubernetes"});
}

TEST_CASE("NamespaceController: a failing delete is reported as a content failure and retried",
          "[ctrl_core][unit]") {
  NsFixture f;
  f.CreateNamespace("ns1");
  f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "ns1", "cm"));
  f.StartInformers();
  REQUIRE(f.Delete(kNamespaces, "", "ns1").has_value());
  f.fake.FailNext("delete", Status::Unavailable("storage is unavailable"));
  CHECK(f.Drain() == 1);
  json::object ns = f.Namespace("ns1");
  CHECK(CondField(ns, "NamespaceDeletionContentFailure", "status") == "True");
  CHECK(CondField(ns, "NamespaceDeletionContentFailure", "reason") == "ContentDeletionFailed");
  CHECK(CondField(ns, "NamespaceDeletionContentFailure", "message") ==
        "Failed to delete all resource types, 1 remaining: storage is unavailable");
  CHECK(SpecFinalizers(ns) == std::vector<std::string>{"kubernetes"});
  CHECK(f.controller.queue().Waiting() == 1);  // rate-limited retry
  f.Drain(/*max_time_steps=*/3);
  ns = f.Namespace("ns1");
  CHECK(SpecFinalizers(ns).empty());
  CHECK(CondField(ns, "NamespaceDeletionContentFailure", "status") == "False");
  CHECK_FALSE(f.Exists(resources::ConfigMaps(), "ns1", "cm"));
}

TEST_CASE("NamespaceController: incomplete discovery keeps the namespace until CRDs are known",
          "[ctrl_core][unit]") {
  auto catalog = std::make_shared<KindCatalog>(api::Registry::NewBuiltin());
  NsFixture f(catalog);
  f.CreateNamespace("ns1");
  f.StartInformers();
  // The CRD informer exists but has not listed yet: the kind list is incomplete.
  catalog->MirrorCrds(f.ctx.informers.For(CustomResourceDefinitions()));
  CHECK(catalog->Complete().Is(Code::kUnavailable));
  REQUIRE(f.Delete(kNamespaces, "", "ns1").has_value());
  CHECK(f.Drain() == 1);
  json::object ns = f.Namespace("ns1");
  CHECK(CondField(ns, "NamespaceDeletionDiscoveryFailure", "status") == "True");
  CHECK(CondField(ns, "NamespaceDeletionDiscoveryFailure", "reason") == "DiscoveryFailed");
  CHECK(SpecFinalizers(ns) == std::vector<std::string>{"kubernetes"});
  CHECK(f.controller.queue().Waiting() == 1);
  // Once the CRDs are listed the namespace is finalized.
  f.StartInformers();
  CHECK(catalog->Complete().ok());
  f.Drain(/*max_time_steps=*/3);
  ns = f.Namespace("ns1");
  CHECK(CondField(ns, "NamespaceDeletionDiscoveryFailure", "status") == "False");
  CHECK(SpecFinalizers(ns).empty());
}

TEST_CASE("NamespaceController: custom resources in the namespace are deleted too",
          "[ctrl_core][unit]") {
  auto catalog = std::make_shared<KindCatalog>(api::Registry::NewBuiltin());
  NsFixture f(catalog);
  catalog->MirrorCrds(f.ctx.informers.For(CustomResourceDefinitions()));
  json::object crd = json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                       "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": true, "storage": true,
                           "schema": {"openAPIV3Schema": {"type": "object",
                              "x-kubernetes-preserve-unknown-fields": true}}}]}})")
                         .as_object();
  f.Create(CustomResourceDefinitions(), crd);
  int changes = 0;
  catalog->OnChange([&changes] { ++changes; });
  f.CreateNamespace("ns1");
  const client::Resource widgets{"example.com", "v1", "widgets", "Widget", true};
  f.Create(widgets, Obj("example.com/v1", "Widget", "ns1", "w1"));
  f.StartInformers();
  CHECK(changes == 1);
  auto resolved = catalog->ForKind("example.com/v1", "Widget");
  REQUIRE(resolved.has_value());
  CHECK(*resolved == widgets);
  REQUIRE(f.Delete(kNamespaces, "", "ns1").has_value());
  f.Drain();
  CHECK_FALSE(f.Exists(widgets, "ns1", "w1"));
  CHECK(SpecFinalizers(f.Namespace("ns1")).empty());
  // Removing the CRD removes the kind.
  REQUIRE(f.Delete(CustomResourceDefinitions(), "", "widgets.example.com").has_value());
  testutil::Poll(f.io);
  CHECK(changes == 2);
  CHECK_FALSE(catalog->ForKind("example.com/v1", "Widget").has_value());
}

}  // namespace
}  // namespace mini8s::controllers
