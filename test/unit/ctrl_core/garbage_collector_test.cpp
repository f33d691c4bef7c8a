#include "mini8s/controllers/garbage_collector.h"

#include <algorithm>
#include <string>
#include <vector>

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
using testing::Fixture;
using testing::Obj;
using testing::OwnedBy;

std::shared_ptr<KindCatalog> BuiltinCatalog() {
  static std::shared_ptr<api::Registry> registry = api::Registry::NewBuiltin();
  return std::make_shared<KindCatalog>(registry);
}

// A fixture with a running collector: monitors on every kind, informers synced, both workers.
struct GcFixture : Fixture {
  GcFixture() {
    gc = GarbageCollector::Create(ctx, BuiltinCatalog());
    delete_worker = gc->NewDeleteWorker();
    orphan_worker = gc->NewOrphanWorker();
    AddWorker(*delete_worker, gc->attempt_to_delete());
    AddWorker(*orphan_worker, gc->attempt_to_orphan());
  }
  void Start() {
    REQUIRE(!gc->SyncMonitors().empty());
    StartInformers();
    Drain(20);
  }
  // Records deletions (and the start of a foreground deletion) of `r` in `log`.
  void Track(const client::Resource& r) {
    client::EventHandlers h;
    h.on_update = [this](const client::ObjectPtr& old_obj, const client::ObjectPtr& obj) {
      if (!api::IsBeingDeleted(*old_obj) && api::IsBeingDeleted(*obj)) {
        log.push_back("terminating " + std::string(api::Name(*obj)));
      }
    };
    h.on_delete = [this](const client::DeletedObject& del) {
      log.push_back("deleted " + std::string(api::Name(*del.object)));
    };
    ctx.informers.For(r).AddEventHandlers(std::move(h));
  }
  std::ptrdiff_t Pos(const std::string& entry) const {
    auto it = std::find(log.begin(), log.end(), entry);
    return it == log.end() ? -1 : it - log.begin();
  }

  std::shared_ptr<GarbageCollector> gc;
  std::unique_ptr<Controller> delete_worker;
  std::unique_ptr<Controller> orphan_worker;
  std::vector<std::string> log;
};

const client::Resource kDeployments = resources::Deployments();
const client::Resource kReplicaSets = resources::ReplicaSets();
const client::Resource kPods = resources::Pods();
const client::Resource kConfigMaps = resources::ConfigMaps();

TEST_CASE("GarbageCollector: monitors every deletable kind except events", "[ctrl_core][unit]") {
  GcFixture f;
  auto added = f.gc->SyncMonitors();
  CHECK(added.size() == f.gc->monitors());
  auto has = [&](std::string_view group, std::string_view resource) {
    return std::any_of(added.begin(), added.end(), [&](const client::Informer* i) {
      return i->resource().group == group && i->resource().resource == resource;
    });
  };
  CHECK(has("", "pods"));
  CHECK(has("apps", "replicasets"));
  CHECK(has("", "namespaces"));
  CHECK(has("batch", "jobs"));
  CHECK_FALSE(has("", "events"));
  CHECK_FALSE(has("events.k8s.io", "events"));
  // Nothing new the second time.
  CHECK(f.gc->SyncMonitors().empty());
}

TEST_CASE("GarbageCollector: background deletion collects a Deployment's ReplicaSet and its pods",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object d = f.Create(kDeployments, Obj("apps/v1", "Deployment", "ns1", "web"));
  json::object rs =
      f.Create(kReplicaSets, OwnedBy(Obj("apps/v1", "ReplicaSet", "ns1", "web-5d"), d));
  json::object p1 = f.Create(kPods, OwnedBy(Obj("v1", "Pod", "ns1", "web-5d-a"), rs));
  json::object p2 = f.Create(kPods, OwnedBy(Obj("v1", "Pod", "ns1", "web-5d-b"), rs));
  json::object lone = f.Create(kPods, Obj("v1", "Pod", "ns1", "lone"));
  f.Start();

  // With every owner alive nothing is collected, and the graph knows the edges.
  CHECK(f.Exists(kReplicaSets, "ns1", "web-5d"));
  CHECK(f.Exists(kPods, "ns1", "web-5d-a"));
  auto deps = f.gc->DependentsOf(std::string(api::Uid(rs)));
  CHECK(deps.size() == 2);
  CHECK(f.gc->DependentsOf(std::string(api::Uid(d))) ==
        std::vector<std::string>{std::string(api::Uid(rs))});
  CHECK_FALSE(f.gc->IsVirtual(std::string(api::Uid(d))));

  REQUIRE(f.Delete(kDeployments, "ns1", "web").has_value());
  f.Drain();
  CHECK_FALSE(f.Exists(kReplicaSets, "ns1", "web-5d"));
  CHECK_FALSE(f.Exists(kPods, "ns1", "web-5d-a"));
  CHECK_FALSE(f.Exists(kPods, "ns1", "web-5d-b"));
  CHECK(f.Exists(kPods, "ns1", "lone"));
  CHECK_FALSE(f.gc->InGraph(std::string(api::Uid(p1))));
  CHECK_FALSE(f.gc->InGraph(std::string(api::Uid(d))));
  // Dependents were deleted with background propagation, preconditioned on their uid.
  const auto& actions = f.fake.actions();
  CHECK(std::count(actions.begin(), actions.end(), "delete replicasets ns1/web-5d") == 1);
  (void)p2;
  (void)lone;
}

TEST_CASE("GarbageCollector: an object whose owner never existed is collected after a live check",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object ghost = Obj("apps/v1", "ReplicaSet", "ns1", "ghost");
  api::SetUid(ghost, "uid-never-existed");
  json::object pod = f.Create(kPods, OwnedBy(Obj("v1", "Pod", "ns1", "orphaned"), ghost));
  f.Start();
  CHECK_FALSE(f.Exists(kPods, "ns1", "orphaned"));
  CHECK_FALSE(f.gc->InGraph("uid-never-existed"));
  // The owner was looked up by name in the dependent's namespace.
  const auto& actions = f.fake.actions();
  CHECK(std::count(actions.begin(), actions.end(), "get replicasets ns1/ghost") >= 1);
  (void)pod;
}

TEST_CASE("GarbageCollector: a dependent with another live owner keeps living without the dead ref",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object a = f.Create(kConfigMaps, Obj("v1", "ConfigMap", "ns1", "owner-a"));
  json::object b = f.Create(kConfigMaps, Obj("v1", "ConfigMap", "ns1", "owner-b"));
  f.Create(kPods, OwnedBy(OwnedBy(Obj("v1", "Pod", "ns1", "shared"), a, false), b, false));
  f.Start();

  REQUIRE(f.Delete(kConfigMaps, "ns1", "owner-a").has_value());
  f.Drain();
  auto pod = f.Get(kPods, "ns1", "shared");
  REQUIRE(pod.has_value());
  auto refs = api::OwnerReferences(*pod);
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].uid == api::Uid(b));
  CHECK(refs[0].name == "owner-b");

  // When the last owner goes, so does the dependent.
  REQUIRE(f.Delete(kConfigMaps, "ns1", "owner-b").has_value());
  f.Drain();
  CHECK_FALSE(f.Exists(kPods, "ns1", "shared"));
}

TEST_CASE("GarbageCollector: foreground deletion removes dependents first, then the owner",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object d = f.Create(kDeployments, Obj("apps/v1", "Deployment", "ns1", "web"));
  json::object rs =
      f.Create(kReplicaSets, OwnedBy(Obj("apps/v1", "ReplicaSet", "ns1", "web-5d"), d));
  f.Create(kPods, OwnedBy(Obj("v1", "Pod", "ns1", "web-5d-a"), rs));
  f.Create(kPods, OwnedBy(Obj("v1", "Pod", "ns1", "web-5d-b"), rs));
  // A pod that holds the ReplicaSet back with a finalizer of its own.
  json::object held = Obj("v1", "Pod", "ns1", "web-5d-held");
  api::AddFinalizer(held, "example.com/hold");
  f.Create(kPods, OwnedBy(held, rs));
  f.Track(kDeployments);
  f.Track(kReplicaSets);
  f.Track(kPods);
  f.Start();

  auto del = f.Delete(kDeployments, "ns1", "web", "Foreground");
  REQUIRE(del.has_value());
  CHECK(api::HasFinalizer(*del, "foregroundDeletion"));
  f.Drain();

  // The ReplicaSet has dependents, so it is deleted in the foreground too and waits for the pod
  // that is still being finalized; the Deployment waits for the ReplicaSet.
  auto d_now = f.Get(kDeployments, "ns1", "web");
  auto rs_now = f.Get(kReplicaSets, "ns1", "web-5d");
  REQUIRE(d_now.has_value());
  REQUIRE(rs_now.has_value());
  CHECK(api::IsBeingDeleted(*rs_now));
  CHECK(api::HasFinalizer(*rs_now, "foregroundDeletion"));
  CHECK(api::HasFinalizer(*d_now, "foregroundDeletion"));
  CHECK_FALSE(f.Exists(kPods, "ns1", "web-5d-a"));
  CHECK_FALSE(f.Exists(kPods, "ns1", "web-5d-b"));
  auto held_now = f.Get(kPods, "ns1", "web-5d-held");
  REQUIRE(held_now.has_value());
  CHECK(api::IsBeingDeleted(*held_now));

  // Its finalizer done, the held pod goes, then the ReplicaSet, then the Deployment.
  REQUIRE(
      f.MergePatch(kPods, "ns1", "web-5d-held", R"({"metadata":{"finalizers":null}})").has_value());
  f.Drain();
  CHECK_FALSE(f.Exists(kPods, "ns1", "web-5d-held"));
  CHECK_FALSE(f.Exists(kReplicaSets, "ns1", "web-5d"));
  CHECK_FALSE(f.Exists(kDeployments, "ns1", "web"));
  INFO(json::serialize(json::value_from(f.log)));
  REQUIRE(f.Pos("deleted web") >= 0);
  CHECK(f.Pos("terminating web") < f.Pos("terminating web-5d"));
  CHECK(f.Pos("terminating web-5d") < f.Pos("deleted web-5d-a"));
  CHECK(f.Pos("deleted web-5d-a") < f.Pos("deleted web-5d-held"));
  CHECK(f.Pos("deleted web-5d-held") < f.Pos("deleted web-5d"));
  CHECK(f.Pos("deleted web-5d") < f.Pos("deleted web"));
}

TEST_CASE("GarbageCollector: a foreground owner does not wait for non-blocking dependents",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object owner = f.Create(kConfigMaps, Obj("v1", "ConfigMap", "ns1", "owner"));
  json::object held = Obj("v1", "ConfigMap", "ns1", "dep");
  api::AddFinalizer(held, "example.com/hold");
  f.Create(kConfigMaps, OwnedBy(held, owner, false, /*block=*/false));
  f.Start();
  REQUIRE(f.Delete(kConfigMaps, "ns1", "owner", "Foreground").has_value());
  f.Drain();
  // The owner is gone although its dependent is still finalizing (and was deleted too).
  CHECK_FALSE(f.Exists(kConfigMaps, "ns1", "owner"));
  auto dep = f.Get(kConfigMaps, "ns1", "dep");
  REQUIRE(dep.has_value());
  CHECK(api::IsBeingDeleted(*dep));
}

TEST_CASE("GarbageCollector: a foreground deletion cycle is broken by unblocking references",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object x = f.Create(kConfigMaps, Obj("v1", "ConfigMap", "ns1", "x"));
  json::object y = f.Create(kConfigMaps, OwnedBy(Obj("v1", "ConfigMap", "ns1", "y"), x));
  // x and y own each other, both blocking.
  json::object x_owned = OwnedBy(x, y);
  std::string patch = json::serialize(json::object{
      {"metadata",
       json::object{{"ownerReferences", *api::GetArray(x_owned, "metadata.ownerReferences")}}}});
  REQUIRE(f.MergePatch(kConfigMaps, "ns1", "x", patch).has_value());
  f.Start();
  REQUIRE(f.Delete(kConfigMaps, "ns1", "x", "Foreground").has_value());
  f.Drain(10);
  CHECK_FALSE(f.Exists(kConfigMaps, "ns1", "x"));
  CHECK_FALSE(f.Exists(kConfigMaps, "ns1", "y"));
}

TEST_CASE("GarbageCollector: orphan deletion leaves the dependents without the ownerReference",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object rs = f.Create(kReplicaSets, Obj("apps/v1", "ReplicaSet", "ns1", "web-5d"));
  json::object other = f.Create(kConfigMaps, Obj("v1", "ConfigMap", "ns1", "other"));
  f.Create(kPods, OwnedBy(Obj("v1", "Pod", "ns1", "a"), rs));
  f.Create(kPods, OwnedBy(OwnedBy(Obj("v1", "Pod", "ns1", "b"), rs), other, false));
  f.Start();

  auto del = f.Delete(kReplicaSets, "ns1", "web-5d", "Orphan");
  REQUIRE(del.has_value());
  CHECK(api::HasFinalizer(*del, "orphan"));
  f.Drain();
  CHECK_FALSE(f.Exists(kReplicaSets, "ns1", "web-5d"));
  auto a = f.Get(kPods, "ns1", "a");
  auto b = f.Get(kPods, "ns1", "b");
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(api::OwnerReferences(*a).empty());
  CHECK(api::GetArray(*a, "metadata.ownerReferences") == nullptr);
  auto b_refs = api::OwnerReferences(*b);
  REQUIRE(b_refs.size() == 1);
  CHECK(b_refs[0].uid == api::Uid(other));
}

TEST_CASE("GarbageCollector: an owner in another namespace is invalid and reported",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object owner = f.Create(kConfigMaps, Obj("v1", "ConfigMap", "ns-a", "owner"));
  json::object dep = f.Create(kConfigMaps, OwnedBy(Obj("v1", "ConfigMap", "ns-b", "dep"), owner));
  f.Start();
  // Looked up in the dependent's namespace, the owner does not exist: the dependent is collected.
  CHECK_FALSE(f.Exists(kConfigMaps, "ns-b", "dep"));
  CHECK(f.Exists(kConfigMaps, "ns-a", "owner"));
  const auto& events = f.ctx.events("garbage-collector-controller").recorded();
  std::string want =
      "Warning OwnerRefInvalidNamespace ownerRef [v1/ConfigMap, namespace: ns-b, "
      "name: owner, uid: " +
      std::string(api::Uid(owner)) + "] does not exist in namespace \"ns-b\"";
  CHECK(std::count(events.begin(), events.end(), want) == 1);
  (void)dep;
}

TEST_CASE("GarbageCollector: a cluster-scoped dependent of a namespaced owner kind is left alone",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object ghost = Obj("v1", "Pod", "ns1", "ghost");
  api::SetUid(ghost, "uid-ghost-pod");
  f.Create(resources::PersistentVolumes(),
           OwnedBy(Obj("v1", "PersistentVolume", "", "pv1"), ghost));
  f.Start();
  CHECK(f.Exists(resources::PersistentVolumes(), "", "pv1"));
}

TEST_CASE("GarbageCollector: a cluster-scoped owner collects namespaced dependents",
          "[ctrl_core][unit]") {
  GcFixture f;
  json::object node = f.Create(resources::Nodes(), Obj("v1", "Node", "", "n1"));
  f.Create(resources::Leases(),
           OwnedBy(Obj("coordination.k8s.io/v1", "Lease", "kube-node-lease", "n1"), node));
  f.Start();
  CHECK(f.Exists(resources::Leases(), "kube-node-lease", "n1"));
  REQUIRE(f.Delete(resources::Nodes(), "", "n1").has_value());
  f.Drain();
  CHECK_FALSE(f.Exists(resources::Leases(), "kube-node-lease", "n1"));
}

TEST_CASE("GarbageCollector: a failed delete is retried with backoff", "[ctrl_core][unit]") {
  GcFixture f;
  json::object rs = f.Create(kReplicaSets, Obj("apps/v1", "ReplicaSet", "ns1", "web-5d"));
  f.Create(kPods, OwnedBy(Obj("v1", "Pod", "ns1", "a"), rs));
  f.Start();
  REQUIRE(f.Delete(kReplicaSets, "ns1", "web-5d").has_value());
  f.fake.FailNext("delete", Status::Unavailable("etcd is sad"));
  f.Drain(/*max_time_steps=*/0);
  CHECK(f.Exists(kPods, "ns1", "a"));
  CHECK(f.gc->attempt_to_delete().Waiting() == 1);
  f.Drain(/*max_time_steps=*/5);
  CHECK_FALSE(f.Exists(kPods, "ns1", "a"));
}

TEST_CASE("KindCatalog: resolves owner kinds and prefers GA versions", "[ctrl_core][unit]") {
  auto catalog = BuiltinCatalog();
  auto rs = catalog->ForKind("apps/v1", "ReplicaSet");
  REQUIRE(rs.has_value());
  CHECK(rs->resource == "replicasets");
  CHECK(rs->namespaced);
  // An unknown version of a known group resolves to the served one.
  auto old = catalog->ForKind("apps/v1beta2", "Deployment");
  REQUIRE(old.has_value());
  CHECK(old->version == "v1");
  CHECK(catalog->ForKind("example.com/v1", "Widget").error().Is(Code::kNotFound));
  CHECK(VersionPreferred("v2", "v1"));
  CHECK(VersionPreferred("v1", "v2beta1"));
  CHECK(VersionPreferred("v1beta2", "v1beta1"));
  CHECK(VersionPreferred("v1alpha1", "foo"));
  CHECK_FALSE(VersionPreferred("v1", "v1"));
  // One entry per group/resource.
  auto all = catalog->Resources({"list"});
  std::set<std::string> seen;
  for (const auto& r : all) CHECK(seen.insert(r.group + "/" + r.resource).second);
  CHECK(catalog->Complete().ok());
}

}  // namespace
}  // namespace mini8s::controllers
