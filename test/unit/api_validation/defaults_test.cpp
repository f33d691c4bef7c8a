#include "mini8s/api/defaults.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

namespace mini8s::api {
namespace {

namespace json = boost::json;

// Applies defaults and checks the result equals `want`, and that defaulting again is a no-op.
void Expect(std::string_view group, std::string_view kind, std::string_view in,
            std::string_view want) {
  json::object obj = json::parse(in).as_object();
  ApplyBuiltinDefaults(group, kind, obj);
  json::object expected = json::parse(want).as_object();
  INFO(json::serialize(obj));
  CHECK(obj == expected);
  json::object again = obj;
  ApplyBuiltinDefaults(group, kind, again);
  CHECK(again == obj);
}

// The container as `kubectl get -o yaml` shows it after create on v1.32.
constexpr std::string_view kContainer = R"({"name": "c", "image": "nginx",
  "imagePullPolicy": "Always", "resources": {}, "terminationMessagePath": "/dev/termination-log",
  "terminationMessagePolicy": "File"})";
constexpr std::string_view kTemplateSpecTail = R"("dnsPolicy": "ClusterFirst",
  "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
  "terminationGracePeriodSeconds": 30)";

TEST_CASE("Defaults: a minimal Pod looks like kubectl get -o yaml shows it",
          "[api_validation][unit]") {
  Expect("", "Pod",
         R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}})",
         std::string(R"({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [)") +
             std::string(kContainer) + R"(],
              "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority",
              "priority": 0, )" +
             std::string(kTemplateSpecTail) + "}}");
}

TEST_CASE("Defaults: pod containers, probes, volumes and env get their defaults",
          "[api_validation][unit]") {
  json::object pod = json::parse(R"({"spec": {"hostNetwork": true, "containers": [{
      "name": "c", "image": "registry.local:5000/app:1.2",
      "ports": [{"containerPort": 8080}],
      "resources": {"limits": {"cpu": "1"}},
      "livenessProbe": {"httpGet": {"port": 8080}},
      "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
    "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}},
                {"name": "c", "secret": {"secretName": "s", "defaultMode": 256}}]}})")
                         .as_object();
  ApplyBuiltinDefaults("", "Pod", pod);
  const json::object& c = pod["spec"].as_object()["containers"].as_array()[0].as_object();
  CHECK(c.at("imagePullPolicy") == "IfNotPresent");
  CHECK(c.at("ports").as_array()[0] ==
        json::parse(R"({"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"})"));
  CHECK(c.at("resources") == json::parse(R"({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})"));
  CHECK(c.at("livenessProbe") ==
        json::parse(R"({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
          "failureThreshold": 3})"));
  CHECK(c.at("env").as_array()[0].at("valueFrom").at("fieldRef") ==
        json::parse(R"({"fieldPath": "metadata.name", "apiVersion": "v1"})"));
  const json::array& vols = pod["spec"].as_object()["volumes"].as_array();
  CHECK(vols[0] == json::parse(R"({"name": "a", "emptyDir": {}})"));
  CHECK(vols[1] ==
        json::parse(R"({"name": "b", "configMap": {"name": "cm", "defaultMode": 420}})"));
  CHECK(vols[2].at("secret").at("defaultMode") == 256);

  CHECK(DefaultImagePullPolicy("nginx") == "Always");
  CHECK(DefaultImagePullPolicy("nginx:latest") == "Always");
  CHECK(DefaultImagePullPolicy("nginx:1.25") == "IfNotPresent");
  CHECK(DefaultImagePullPolicy("localhost:5000/nginx") == "Always");
  CHECK(DefaultImagePullPolicy("nginx@sha256:abcd") == "IfNotPresent");
  CHECK(DefaultImagePullPolicy("") == "IfNotPresent");
}

TEST_CASE("Defaults: a minimal Deployment", "[api_validation][unit]") {
  Expect("apps", "Deployment",
         R"({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})",
         std::string(R"({"metadata": {"name": "web"}, "spec": {
            "progressDeadlineSeconds": 600, "replicas": 1, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                         "type": "RollingUpdate"},
            "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
              "spec": {"containers": [)") +
             std::string(kContainer) + "], " + std::string(kTemplateSpecTail) + "}}}}");
}

TEST_CASE("Defaults: a minimal Service", "[api_validation][unit]") {
  Expect("", "Service",
         R"({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "ports": [{"port": 80}, {"port": 443, "targetPort": "https", "name": "tls"}]}})",
         R"({"metadata": {"name": "web"}, "spec": {
            "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                      {"name": "tls", "port": 443, "protocol": "TCP", "targetPort": "https"}],
            "selector": {"app": "web"}, "sessionAffinity": "None", "type": "ClusterIP"},
            "status": {"loadBalancer": {}}})");
  json::object np = json::parse(R"({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP",
    "ports": [{"port": 80}]}})")
                        .as_object();
  ApplyBuiltinDefaults("", "Service", np);
  CHECK(np["spec"].at("externalTrafficPolicy") == "Cluster");
  CHECK(np["spec"].at("allocateLoadBalancerNodePorts") == true);
  CHECK(np["spec"].at("sessionAffinityConfig") ==
        json::parse(R"({"clientIP": {"timeoutSeconds": 10800}})"));
}

TEST_CASE("Defaults: a minimal Job and CronJob", "[api_validation][unit]") {
  std::string pod_spec = R"("spec": {"containers": [)" + std::string(kContainer) +
                         R"(], "dnsPolicy": "ClusterFirst", "restartPolicy": "Never",
      "schedulerName": "default-scheduler", "securityContext": {},
      "terminationGracePeriodSeconds": 30})";
  Expect("batch", "Job",
         R"({"metadata": {"name": "pi"}, "spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "nginx"}], "restartPolicy": "Never"}}}})",
         R"({"metadata": {"name": "pi"}, "spec": {"backoffLimit": 6,
            "completionMode": "NonIndexed", "completions": 1, "parallelism": 1,
            "podReplacementPolicy": "TerminatingOrFailed", "suspend": false,
            "template": {"metadata": {"creationTimestamp": null}, )" +
             pod_spec + "}}}");
  Expect("batch", "CronJob",
         R"({"metadata": {"name": "cj"}, "spec": {"schedule": "* * * * *", "jobTemplate": {
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}],
            "restartPolicy": "Never"}}}}}})",
         R"({"metadata": {"name": "cj"}, "spec": {"concurrencyPolicy": "Allow",
            "failedJobsHistoryLimit": 1, "schedule": "* * * * *",
            "successfulJobsHistoryLimit": 3, "suspend": false,
            "jobTemplate": {"metadata": {"creationTimestamp": null}, "spec": {"template": {
              "metadata": {"creationTimestamp": null}, )" +
             pod_spec + "}}}}}");
  // Parallelism alone leaves completions unset; template labels become the Job's labels.
  json::object job = json::parse(R"({"metadata": {"name": "j"}, "spec": {"parallelism": 3,
    "template": {"metadata": {"labels": {"app": "x"}}, "spec": {}}}})")
                         .as_object();
  ApplyBuiltinDefaults("batch", "Job", job);
  CHECK_FALSE(job["spec"].as_object().contains("completions"));
  CHECK(job["metadata"].at("labels") == json::parse(R"({"app": "x"})"));
}

TEST_CASE("Defaults: other workloads and core kinds", "[api_validation][unit]") {
  json::object ds = json::parse(R"({"spec": {"template": {"spec": {}}}})").as_object();
  ApplyBuiltinDefaults("apps", "DaemonSet", ds);
  CHECK(ds["spec"].at("updateStrategy") ==
        json::parse(R"({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1,
                        "maxSurge": 0}})"));
  CHECK(ds["spec"].at("revisionHistoryLimit") == 10);
  json::object ss = json::parse(R"({"spec": {"template": {"spec": {}},
    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}})")
                        .as_object();
  ApplyBuiltinDefaults("apps", "StatefulSet", ss);
  CHECK(ss["spec"].at("podManagementPolicy") == "OrderedReady");
  CHECK(ss["spec"].at("updateStrategy") ==
        json::parse(R"({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})"));
  CHECK(ss["spec"].at("persistentVolumeClaimRetentionPolicy") ==
        json::parse(R"({"whenDeleted": "Retain", "whenScaled": "Retain"})"));
  CHECK(ss["spec"].at("replicas") == 1);
  CHECK(ss["spec"].at("volumeClaimTemplates").as_array()[0].at("spec").at("volumeMode") ==
        "Filesystem");
  json::object secret = json::parse(R"({"metadata": {"name": "s"}})").as_object();
  ApplyBuiltinDefaults("", "Secret", secret);
  CHECK(secret.at("type") == "Opaque");
  json::object ns = json::parse(R"({"metadata": {"name": "prod"}})").as_object();
  ApplyBuiltinDefaults("", "Namespace", ns);
  CHECK(ns == json::parse(R"({"metadata": {"name": "prod",
      "labels": {"kubernetes.io/metadata.name": "prod"}},
      "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})"));
  json::object pvc = json::parse(R"({"spec": {"accessModes": ["ReadWriteOnce"]}})").as_object();
  ApplyBuiltinDefaults("", "PersistentVolumeClaim", pvc);
  CHECK(pvc["spec"].at("volumeMode") == "Filesystem");
  json::object rb = json::parse(R"({"subjects": [{"kind": "User", "name": "u"},
    {"kind": "ServiceAccount", "name": "s", "namespace": "d"}]})")
                        .as_object();
  ApplyBuiltinDefaults("rbac.authorization.k8s.io", "RoleBinding", rb);
  CHECK(rb["subjects"].as_array()[0].at("apiGroup") == "rbac.authorization.k8s.io");
  CHECK_FALSE(rb["subjects"].as_array()[1].as_object().contains("apiGroup"));
}

TEST_CASE("Defaults: custom resources get structural defaults from their schema",
          "[api_validation][unit]") {
  Schema root, spec, replicas, mode, nested, depth, list, item, item_port;
  root.type = Type::kObject;
  root.properties = {{"spec", &spec}};
  spec.type = Type::kObject;
  spec.properties = {
      {"replicas", &replicas}, {"mode", &mode}, {"nested", &nested}, {"list", &list}};
  replicas.type = Type::kInteger;
  replicas.default_value = json::value(1);
  mode.type = Type::kString;
  mode.default_value = json::value("fast");
  nested.type = Type::kObject;
  nested.default_value = json::object{};
  nested.properties = {{"depth", &depth}};
  depth.type = Type::kInteger;
  depth.default_value = json::value(3);
  list.type = Type::kArray;
  list.items = &item;
  item.type = Type::kObject;
  item.properties = {{"port", &item_port}};
  item_port.type = Type::kInteger;
  item_port.default_value = json::value(80);

  KindInfo k;
  k.group = "example.com";
  k.kind = "Widget";
  k.custom = true;
  k.schema = &root;
  json::object obj =
      json::parse(R"({"spec": {"mode": "slow", "list": [{}, {"port": 1}]}})").as_object();
  ApplyDefaults(k, obj);
  CHECK(obj == json::parse(R"({"spec": {"mode": "slow", "replicas": 1, "nested": {"depth": 3},
    "list": [{"port": 80}, {"port": 1}]}})"));
  // No parent, no defaults: a missing spec stays missing.
  json::object bare = json::parse(R"({"metadata": {"name": "w"}})").as_object();
  ApplyDefaults(k, bare);
  CHECK(bare == json::parse(R"({"metadata": {"name": "w"}})"));
}

}  // namespace
}  // namespace mini8s::api
