#include <string>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/defaults.h"
#include "mini8s/api/validation.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

KindInfo Kind(std::string group, std::string kind, bool namespaced = true) {
  KindInfo k;
  k.group = std::move(group);
  k.version = "v1";
  k.kind = std::move(kind);
  k.namespaced = namespaced;
  return k;
}

std::vector<std::string> Render(const ErrorList& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.ToString());
  return out;
}

// Validates like the API server does: defaults first.
std::vector<std::string> Create(const KindInfo& k, std::string_view text) {
  json::object obj = json::parse(text).as_object();
  ApplyDefaults(k, obj);
  return Render(ValidateCreate(k, obj));
}

TEST_CASE("PodValidation: a minimal defaulted pod is valid", "[api_validation][unit]") {
  CHECK(Create(Kind("", "Pod"), R"({"metadata": {"name": "web", "namespace": "default"},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]}})")
            .empty());
}

TEST_CASE("PodValidation: container problems are all reported with their paths",
          "[api_validation][unit]") {
  auto errs = Create(Kind("", "Pod"), R"({"metadata": {"name": "web", "namespace": "default"},
    "spec": {
      "volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "hostPath": {"path": "/x"},
                   "configMap": {"name": "c"}}],
      "containers": [
        {"name": "c", "image": "",
         "ports": [{"name": "http", "containerPort": 70000}, {"name": "http", "containerPort": 81,
                    "protocol": "ICMP"}],
         "env": [{"name": ""}, {"name": "A=B", "value": "1"}],
         "volumeMounts": [{"name": "missing", "mountPath": "/a"}, {"name": "data", "mountPath": "/a"}],
         "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2", "gpu": "1"}}},
        {"name": "c", "image": "busybox", "imagePullPolicy": "Sometimes"},
        {"name": "Bad_Name", "image": "busybox"}],
      "restartPolicy": "Sometimes",
      "dnsPolicy": "Bogus"}})");
  const std::string label_msg =
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
      "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
      "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  std::vector<std::string> want = {
      "spec.volumes[1].configMap: Forbidden: may not specify more than 1 volume type",
      "spec.volumes[1].name: Duplicate value: \"data\"",
      "spec.containers[0].image: Required value",
      "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and "
      "65535, inclusive",
      "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
      "spec.containers[0].ports[1].protocol: Unsupported value: \"ICMP\": supported values: "
      "\"SCTP\", \"TCP\", \"UDP\"",
      "spec.containers[0].env[0].name: Required value",
      "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name "
      "must consist only of printable ASCII characters other than '='",
      "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
      "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
      "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal "
      "to cpu limit of 1",
      "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard "
      "resource for containers",
      "spec.containers[1].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: "
      "\"Always\", \"IfNotPresent\", \"Never\"",
      "spec.containers[1].name: Duplicate value: \"c\"",
      "spec.containers[2].name: Invalid value: \"Bad_Name\": " + label_msg,
      "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", "
      "\"OnFailure\", \"Never\"",
      "spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: "
      "\"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
  };
  CHECK(errs == want);
}

TEST_CASE("PodValidation: an empty pod needs containers and a name", "[api_validation][unit]") {
  auto errs = Create(Kind("", "Pod"), R"({"metadata": {"namespace": "default"}, "spec": {}})");
  CHECK(errs ==
        std::vector<std::string>{"metadata.name: Required value: name or generateName is required",
                                 "spec.containers: Required value"});
}

TEST_CASE("PodValidation: probes, extended resources and tolerations", "[api_validation][unit]") {
  auto errs = Create(Kind("", "Pod"), R"({"metadata": {"name": "p", "namespace": "d"},
    "spec": {"containers": [{"name": "c", "image": "x",
        "livenessProbe": {"successThreshold": 2, "httpGet": {"port": 0}},
        "readinessProbe": {"periodSeconds": -1},
        "resources": {"limits": {"example.com/gpu": "1"}, "requests": {"example.com/gpu": "2"}}}],
      "tolerations": [{"operator": "Equal", "value": "x"},
                      {"key": "k", "operator": "Exists", "value": "v", "effect": "Sometimes"}]}})");
  CHECK(
      errs ==
      std::vector<std::string>{
          "spec.containers[0].resources.requests: Invalid value: \"2\": must be equal to "
          "example.com/gpu limit of 1",
          "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and "
          "65535, inclusive",
          "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
          "spec.containers[0].readinessProbe: Required value: must specify a handler type",
          "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater "
          "than "
          "or equal to 0",
          "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when "
          "`key` is empty, which means \"match all values and all keys\"",
          "spec.tolerations[1].operator: Invalid value: map[string]interface {}{\"effect\":"
          "\"Sometimes\", \"key\":\"k\", \"operator\":\"Exists\", \"value\":\"v\"}: value must be "
          "empty when `operator` is 'Exists'",
          "spec.tolerations[1].effect: Unsupported value: \"Sometimes\": supported values: "
          "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""});
}

TEST_CASE("PodValidation: init containers, host ports and env sources", "[api_validation][unit]") {
  auto errs = Create(Kind("", "Pod"), R"({"metadata": {"name": "p", "namespace": "d"},
    "spec": {
      "initContainers": [{"name": "c", "image": "x", "readinessProbe": {"exec": {"command": ["t"]}}}],
      "containers": [
        {"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}],
         "env": [{"name": "A", "value": "v", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                 {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}},
                 {"name": "C", "valueFrom": {"configMapKeyRef": {"key": "k"}}}]},
        {"name": "d", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}})");
  const std::string subdomain_msg =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
      "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
      "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  CHECK(errs ==
        std::vector<std::string>{
            "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when "
            "`value` is not empty",
            "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Unsupported value: "
            "\"status.phase\": supported values: \"metadata.name\", \"metadata.namespace\", "
            "\"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", "
            "\"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
            "spec.containers[0].env[2].valueFrom.configMapKeyRef.name: Invalid value: \"\": " +
                subdomain_msg,
            "spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"",
            "spec.initContainers[0].name: Duplicate value: \"c\"",
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers "
            "without restartPolicy=Always"});
}

TEST_CASE("PodValidation: updates may change only images, deadlines and added tolerations",
          "[api_validation][unit]") {
  KindInfo k = Kind("", "Pod");
  json::object old = json::parse(R"({"metadata": {"name": "p", "namespace": "d",
    "resourceVersion": "1"}, "spec": {"containers": [{"name": "c", "image": "nginx:1",
    "ports": [{"containerPort": 80}]}], "activeDeadlineSeconds": 100}})")
                         .as_object();
  ApplyDefaults(k, old);

  json::object image = old;
  image["spec"].as_object()["containers"].as_array()[0].as_object()["image"] = "nginx:2";
  image["spec"].as_object()["activeDeadlineSeconds"] = 50;
  image["spec"].as_object()["tolerations"] = json::parse(R"([{"key": "a", "operator": "Exists"}])");
  CHECK(ValidateUpdate(k, image, old).empty());

  json::object port = old;
  port["spec"].as_object()["containers"].as_array()[0].as_object()["ports"] =
      json::parse(R"([{"containerPort": 81, "protocol": "TCP"}])");
  port["spec"].as_object()["activeDeadlineSeconds"] = 200;
  CHECK(Render(ValidateUpdate(k, port, old)) ==
        std::vector<std::string>{"spec.activeDeadlineSeconds: Invalid value: 200: must be less "
                                 "than or equal to previous value"});
  port["spec"].as_object()["activeDeadlineSeconds"] = 100;
  CHECK(Render(ValidateUpdate(k, port, old)) ==
        std::vector<std::string>{
            "spec: Forbidden: pod updates may not change fields other than "
            "`spec.containers[*].image`,`spec.initContainers[*].image`,"
            "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
            "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
            "was previously negative)"});
}

}  // namespace
}  // namespace mini8s::api
