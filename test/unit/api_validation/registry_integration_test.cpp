// Defaulting and validation against the real built-in schemas: defaults must only produce fields
// the schema knows, with the right types, and a minimal defaulted object of every kind with rules
// must validate cleanly.
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/defaults.h"
#include "mini8s/api/registry.h"
#include "mini8s/api/validation.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

struct Sample {
  const char* api_version;
  const char* kind;
  const char* body;  // without apiVersion/kind
};

constexpr const char* kPodSpec =
    R"({"containers": [{"name": "c", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "readinessProbe": {"httpGet": {"port": 80}},
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]}],
       "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "tmp"}]})";

std::string Template(std::string restart = "") {
  std::string spec = kPodSpec;
  if (!restart.empty()) {
    spec.insert(1, "\"restartPolicy\": \"" + restart + "\", ");
  }
  return R"({"metadata": {"labels": {"app": "web"}}, "spec": )" + spec + "}";
}

std::vector<Sample> Samples() {
  static const std::string pod = std::string(R"({"metadata": {"name": "p", "namespace": "d"},
    "spec": )") + kPodSpec + "}";
  static const std::string deploy = R"({"metadata": {"name": "web", "namespace": "d"}, "spec": {
    "selector": {"matchLabels": {"app": "web"}}, "template": )" +
                                    Template() + "}}";
  static const std::string ds = deploy;
  static const std::string sts = R"({"metadata": {"name": "web", "namespace": "d"}, "spec": {
    "serviceName": "web", "selector": {"matchLabels": {"app": "web"}}, "template": )" +
                                 Template() +
                                 R"(, "volumeClaimTemplates": [{"metadata": {"name": "data"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})";
  static const std::string job = R"({"metadata": {"name": "j", "namespace": "d"}, "spec": {
    "template": )" + Template("Never") +
                                 "}}";
  static const std::string cron = R"({"metadata": {"name": "c", "namespace": "d"}, "spec": {
    "schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": )" +
                                  Template("OnFailure") + "}}}}";
  return {
      {"v1", "Pod", pod.c_str()},
      {"apps/v1", "Deployment", deploy.c_str()},
      {"apps/v1", "ReplicaSet", deploy.c_str()},
      {"apps/v1", "DaemonSet", ds.c_str()},
      {"apps/v1", "StatefulSet", sts.c_str()},
      {"batch/v1", "Job", job.c_str()},
      {"batch/v1", "CronJob", cron.c_str()},
      {"v1", "Service", R"({"metadata": {"name": "web", "namespace": "d"}, "spec": {
        "type": "LoadBalancer", "sessionAffinity": "ClientIP", "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}})"},
      {"v1", "ConfigMap", R"({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "b"}})"},
      {"v1", "Secret", R"({"metadata": {"name": "s", "namespace": "d"}, "data": {"a": "Yg=="}})"},
      {"v1", "Namespace", R"({"metadata": {"name": "prod"}})"},
      {"v1", "PersistentVolumeClaim", R"({"metadata": {"name": "c", "namespace": "d"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})"},
      {"v1", "ServiceAccount", R"({"metadata": {"name": "sa", "namespace": "d"}})"},
      {"networking.k8s.io/v1", "Ingress", R"({"metadata": {"name": "i", "namespace": "d"},
        "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/",
        "pathType": "Prefix", "backend": {"service": {"name": "web",
        "port": {"number": 80}}}}]}}]}})"},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", R"({"metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
        "name": "view"}, "subjects": [{"kind": "User", "name": "alice"}]})"},
      {"coordination.k8s.io/v1", "Lease", R"({"metadata": {"name": "n", "namespace": "d"},
        "spec": {"holderIdentity": "n", "leaseDurationSeconds": 40}})"},
  };
}

TEST_CASE("RegistryIntegration: defaulted samples use only schema fields and validate cleanly",
          "[api_validation][unit]") {
  auto registry = Registry::NewBuiltin();
  REQUIRE(registry);
  for (const Sample& s : Samples()) {
    INFO(s.kind);
    auto kind = registry->FindByApiVersionKind(s.api_version, s.kind);
    REQUIRE(kind);
    REQUIRE(kind->schema != nullptr);
    json::object obj = json::parse(s.body).as_object();
    obj["apiVersion"] = s.api_version;
    obj["kind"] = s.kind;
    ApplyDefaults(*kind, obj);
    INFO(json::serialize(obj));
    auto r = ValidateAgainstSchema(*kind->schema, obj);
    CHECK(r.decode_errors.empty());
    CHECK(r.unknown_fields.empty());
    CHECK(r.errors.empty());
    auto errs = ValidateCreate(*kind, obj);
    INFO(AggregateMessage(errs));
    CHECK(errs.empty());
  }
}

TEST_CASE("RegistryIntegration: map values and list items name their element type",
          "[api_validation][unit]") {
  auto registry = Registry::NewBuiltin();
  REQUIRE(registry);
  auto deploy = registry->FindKind("apps", "v1", "Deployment");
  REQUIRE(deploy);
  json::value obj = json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "x"}, "spec": {"template": {"spec": {
      "nodeSelector": {"ingress-ready": true}, "imagePullSecrets": ["secret"],
      "containers": {"name": "c"}}}}})");
  auto r = ValidateAgainstSchema(*deploy->schema, obj);
  CHECK(r.decode_errors ==
        std::vector<std::string>{
            "json: cannot unmarshal bool into Go struct field "
            "PodSpec.spec.template.spec.nodeSelector of type string",
            "json: cannot unmarshal string into Go struct field "
            "PodSpec.spec.template.spec.imagePullSecrets of type v1.LocalObjectReference",
            "json: cannot unmarshal object into Go struct field "
            "PodSpec.spec.template.spec.containers of type []v1.Container"});
}

}  // namespace
}  // namespace mini8s::api
