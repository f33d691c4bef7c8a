#include "mini8s/controllers/local_path.h"

#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "unit/ctrl_service/env.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using testing::Env;

const client::Resource kPvcs = resources::PersistentVolumeClaims();
const client::Resource kPvs = resources::PersistentVolumes();
const client::Resource kClasses = resources::StorageClasses();

json::object Claim(std::string name, std::string extra_spec = "") {
  std::string text = R"({"apiVersion":"v1","kind":"PersistentVolumeClaim",
      "metadata":{"namespace":"default","name":")" +
                     name + R"("},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"2Gi"}})" +
                     extra_spec + R"(},
      "status":{"phase":"Pending"}})";
  return json::parse(text).as_object();
}

struct Storage {
  explicit Storage(Env& env, ClusterConfig config = {})
      : bq_(std::make_unique<WorkQueue>(env.io.get_executor(), env.clock)),
        claims(env.Inf(kPvcs)),
        volumes(env.Inf(kPvs)),
        classes(env.Inf(kClasses)),
        provisioner(env.fake, claims, volumes, classes, env.queue, config),
        binder(env.fake, claims, volumes, classes, *bq_, nullptr),
        env_(env) {}

  // Runs both controllers until neither has work.
  void Settle() {
    for (int round = 0; round < 10; ++round) {
      bool any = env_.queue.Len() > 0 || bq_->Len() > 0;
      if (!any) return;
      env_.Drain(provisioner);
      for (int i = 0; i < 50 && bq_->Len() > 0; ++i) {
        auto key = testutil::RunCo(env_.io, bq_->Get());
        REQUIRE(key.has_value());
        auto r = env_.Run(binder.Reconcile(*key));
        bq_->Done(*key);
        REQUIRE(r.has_value());
      }
    }
  }

  std::unique_ptr<WorkQueue> bq_;
  client::Informer& claims;
  client::Informer& volumes;
  client::Informer& classes;
  LocalPathProvisioner provisioner;
  PersistentVolumeBinder binder;

 private:
  Env& env_;
};

TEST_CASE("LocalPath: the StorageClass is created once and left alone afterwards",
          "[ctrl_service][unit]") {
  Env env;
  REQUIRE(env.Run(EnsureLocalPathStorageClass(env.fake)).ok());
  auto sc = env.Get(kClasses, "", "local-path");
  REQUIRE(sc.has_value());
  CHECK(sc->at("provisioner") == "rancher.io/local-path");
  CHECK(sc->at("volumeBindingMode") == "WaitForFirstConsumer");
  CHECK(sc->at("reclaimPolicy") == "Delete");
  CHECK(api::Annotation(*sc, kDefaultClassAnnotation) == "true");
  json::object changed = *sc;
  api::SetAnnotation(changed, kDefaultClassAnnotation, "false");
  REQUIRE(env.Run(env.fake.Update(kClasses, changed)).has_value());
  REQUIRE(env.Run(EnsureLocalPathStorageClass(env.fake)).ok());
  CHECK(api::Annotation(*env.Get(kClasses, "", "local-path"), kDefaultClassAnnotation) == "false");
}

TEST_CASE("LocalPath: a claim with a selected node gets a bound PV with path and affinity",
          "[ctrl_service][unit]") {
  Env env;
  ClusterConfig config;
  config.data_dir = "/var/lib/mini8s/";
  Storage st(env, config);
  env.Start();
  REQUIRE(env.Run(EnsureLocalPathStorageClass(env.fake)).ok());
  // No class named: the default (local-path) is filled in.
  auto claim = env.Create(kPvcs, Claim("data"));
  st.Settle();
  auto c = env.Get(kPvcs, "default", "data");
  REQUIRE(c.has_value());
  CHECK(api::GetString(*c, "spec.storageClassName") == "local-path");
  CHECK(api::GetString(*c, "spec.volumeName").empty());  // waits for the first consumer
  CHECK(env.List(kPvs).empty());

  // The scheduler picks node n1.
  json::object placed = *c;
  api::SetAnnotation(placed, kSelectedNodeAnnotation, "n1");
  REQUIRE(env.Run(env.fake.Update(kPvcs, placed)).has_value());
  st.Settle();

  std::string uid(api::Uid(claim));
  auto pv = env.Get(kPvs, "", "pvc-" + uid);
  REQUIRE(pv.has_value());
  CHECK(api::GetString(*pv, "spec.hostPath.path") ==
        "/var/lib/mini8s/storage/pvc-" + uid + "_default_data");
  CHECK(api::GetString(*pv, "spec.hostPath.type") == "DirectoryOrCreate");
  CHECK(api::GetString(*pv, "spec.capacity.storage") == "2Gi");
  CHECK(json::serialize(*api::FindPath(*pv, "spec.accessModes")) == R"(["ReadWriteOnce"])");
  CHECK(api::GetString(*pv, "spec.persistentVolumeReclaimPolicy") == "Delete");
  CHECK(api::GetString(*pv, "spec.storageClassName") == "local-path");
  CHECK(
      json::serialize(*api::FindPath(*pv, "spec.nodeAffinity")) ==
      R"({"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}})");
  CHECK(api::GetString(*pv, "spec.claimRef.uid") == uid);
  CHECK(api::GetString(*pv, "spec.claimRef.name") == "data");
  CHECK(api::GetString(*pv, "status.phase") == "Bound");
  CHECK(api::Annotation(*pv, kProvisionedByAnnotation) == "rancher.io/local-path");

  c = env.Get(kPvcs, "default", "data");
  CHECK(api::GetString(*c, "spec.volumeName") == "pvc-" + uid);
  CHECK(api::GetString(*c, "status.phase") == "Bound");
  CHECK(api::GetString(*c, "status.capacity.storage") == "2Gi");
  CHECK(api::Annotation(*c, kBindCompletedAnnotation) == "yes");
  CHECK(api::Annotation(*c, kBoundByControllerAnnotation) == "yes");
  CHECK(api::Annotation(*c, kBetaStorageProvisionerAnnotation) == "rancher.io/local-path");

  // Deleting the claim deletes the volume (reclaimPolicy Delete).
  REQUIRE(env.Run(env.fake.Delete(kPvcs, "default", "data")).has_value());
  st.Settle();
  CHECK(env.Get(kPvs, "", "pvc-" + uid).error().code() == Code::kNotFound);
}

TEST_CASE("LocalPath: Immediate claims bind to the smallest matching Available PV",
          "[ctrl_service][unit]") {
  Env env;
  Storage st(env);
  env.Start();
  env.Create(kClasses,
             R"({"metadata":{"name":"manual"},"provisioner":"kubernetes.io/no-provisioner",
      "volumeBindingMode":"Immediate"})");
  auto pv = [](std::string name, std::string size, std::string modes, std::string labels) {
    return R"({"metadata":{"name":")" + name + R"(","labels":)" + labels + R"(},
      "spec":{"capacity":{"storage":")" +
           size + R"("},"accessModes":)" + modes + R"(,
        "storageClassName":"manual","persistentVolumeReclaimPolicy":"Retain",
        "hostPath":{"path":"/tmp/)" +
           name + R"("}}})";
  };
  env.Create(kPvs, pv("big", "10Gi", R"(["ReadWriteOnce"])", R"({"tier":"fast"})"));
  env.Create(kPvs, pv("small", "1Gi", R"(["ReadWriteOnce"])", R"({"tier":"fast"})"));
  env.Create(kPvs, pv("fit", "3Gi", R"(["ReadWriteOnce"])", R"({"tier":"fast"})"));
  env.Create(kPvs, pv("rox", "2Gi", R"(["ReadOnlyMany"])", R"({"tier":"fast"})"));
  env.Create(kPvs, pv("slow", "2Gi", R"(["ReadWriteOnce"])", R"({"tier":"slow"})"));
  st.Settle();
  CHECK(api::GetString(*env.Get(kPvs, "", "fit"), "status.phase") == "Available");

  env.Create(kPvcs, Claim("c", R"(,"storageClassName":"manual",
      "selector":{"matchLabels":{"tier":"fast"}})"));
  st.Settle();
  auto c = env.Get(kPvcs, "default", "c");
  CHECK(api::GetString(*c, "spec.volumeName") == "fit");
  CHECK(api::GetString(*c, "status.phase") == "Bound");
  auto fit = env.Get(kPvs, "", "fit");
  CHECK(api::GetString(*fit, "spec.claimRef.name") == "c");
  CHECK(api::GetString(*fit, "status.phase") == "Bound");
  CHECK(api::Annotation(*fit, kBoundByControllerAnnotation) == "yes");
  CHECK(api::GetString(*env.Get(kPvs, "", "big"), "status.phase") == "Available");

  // Retain: deleting the claim releases the volume but keeps it.
  REQUIRE(env.Run(env.fake.Delete(kPvcs, "default", "c")).has_value());
  st.Settle();
  fit = env.Get(kPvs, "", "fit");
  REQUIRE(fit.has_value());
  CHECK(api::GetString(*fit, "status.phase") == "Released");
}

TEST_CASE("LocalPath: a claim with an explicitly empty class is not provisioned",
          "[ctrl_service][unit]") {
  Env env;
  Storage st(env);
  env.Start();
  REQUIRE(env.Run(EnsureLocalPathStorageClass(env.fake)).ok());
  auto claim = Claim("none", R"(,"storageClassName":"")");
  api::SetAnnotation(claim, kSelectedNodeAnnotation, "n1");
  env.Create(kPvcs, claim);
  st.Settle();
  CHECK(env.List(kPvs).empty());
  CHECK(api::GetString(*env.Get(kPvcs, "default", "none"), "spec.storageClassName").empty());
}

}  // namespace
}  // namespace mini8s::controllers
