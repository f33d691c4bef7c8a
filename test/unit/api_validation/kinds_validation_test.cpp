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

json::object Defaulted(const KindInfo& k, std::string_view text) {
  json::object obj = json::parse(text).as_object();
  ApplyDefaults(k, obj);
  return obj;
}

std::vector<std::string> Create(const KindInfo& k, std::string_view text) {
  return Render(ValidateCreate(k, Defaulted(k, text)));
}

std::vector<std::string> Update(const KindInfo& k, std::string_view new_text,
                                std::string_view old_text) {
  return Render(ValidateUpdate(k, Defaulted(k, new_text), Defaulted(k, old_text)));
}

constexpr std::string_view kTemplate =
    R"("template": {"metadata": {"labels": {"app": "web"}},
                   "spec": {"containers": [{"name": "c", "image": "nginx"}]}})";

TEST_CASE("KindValidation: Deployment reports the upstream 422 of kubectl-wire.md",
          "[api_validation][unit]") {
  KindInfo k = Kind("apps", "Deployment");
  json::object obj = Defaulted(k, R"({"metadata": {"name": "x", "namespace": "default"},
    "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "x"}},
      "template": {"metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}}})");
  ErrorList errs = ValidateCreate(k, obj);
  CHECK(InvalidMessage("apps", "Deployment", "x", errs) ==
        "Deployment.apps \"x\" is invalid: [spec.replicas: Invalid value: -1: must be greater "
        "than or equal to 0, spec.template.spec.containers[0].image: Required value]");
}

TEST_CASE("KindValidation: Deployment selector, strategy and immutability",
          "[api_validation][unit]") {
  KindInfo k = Kind("apps", "Deployment");
  CHECK(Create(k, std::string(R"({"metadata": {"name": "web", "namespace": "d"}, "spec": {
    "selector": {"matchLabels": {"app": "web"}}, )") +
                      std::string(kTemplate) + "}}")
            .empty());
  auto errs = Create(k, std::string(R"({"metadata": {"name": "web", "namespace": "d"}, "spec": {
    "selector": {"matchLabels": {"app": "other"}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
    "progressDeadlineSeconds": 5, "minReadySeconds": 10, )") +
                            std::string(kTemplate) + "}}");
  CHECK(
      errs ==
      std::vector<std::string>{
          "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: "
          "`selector` does not match template `labels`",
          "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, "
          "IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0",
          "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"});
  auto missing = Create(k, R"({"metadata": {"name": "web", "namespace": "d"}, "spec": {
    "selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}],
    "restartPolicy": "Never"}}}})");
  CHECK(missing ==
        std::vector<std::string>{
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
            "deployment",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: "
            "\"Always\""});
  auto update =
      Update(k,
             std::string(R"({"metadata": {"name": "web", "namespace": "d", "resourceVersion": "2"},
        "spec": {"selector": {"matchLabels": {"app": "web", "v": "2"}}, )") +
                 R"("template": {"metadata": {"labels": {"app": "web", "v": "2"}},
             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})",
             std::string(R"({"metadata": {"name": "web", "namespace": "d", "resourceVersion": "1"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, )") +
                 std::string(kTemplate) + "}}");
  CHECK(update ==
        std::vector<std::string>{
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":"
            "\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is "
            "immutable"});
}

TEST_CASE("KindValidation: Service ports, types and clusterIP immutability",
          "[api_validation][unit]") {
  KindInfo k = Kind("", "Service");
  CHECK(Create(k, R"({"metadata": {"name": "web", "namespace": "d"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})")
            .empty());
  auto errs = Create(k, R"({"metadata": {"name": "1web", "namespace": "d"},
    "spec": {"type": "Weird", "ports": [{"port": 0, "name": "a"}, {"port": 80, "nodePort": 30001},
             {"port": 81, "name": "a", "targetPort": "Bad-Name"}]}})");
  CHECK(
      errs ==
      std::vector<std::string>{
          "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case "
          "alphanumeric characters or '-', start with an alphabetic character, and end with an "
          "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
          "'[a-z]([-a-z0-9]*[a-z0-9])?')",
          "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
          "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
          "spec.ports[1].name: Required value", "spec.ports[2].name: Duplicate value: \"a\"",
          "spec.ports[2].targetPort: Invalid value: \"Bad-Name\": must contain only alpha-numeric "
          "characters (a-z, 0-9), and hyphens (-)",
          "spec.type: Unsupported value: \"Weird\": supported values: \"ClusterIP\", "
          "\"ExternalName\", \"LoadBalancer\", \"NodePort\""});
  CHECK(Create(k, R"({"metadata": {"name": "web", "namespace": "d", "finalizers": ["foo"]},
    "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}})") ==
        std::vector<std::string>{
            "metadata.finalizers: Invalid value: \"foo\": name is neither a standard finalizer "
            "name nor is it fully qualified",
            "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", "
            "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
            "StrVal:\"\"}, NodePort:0}"});
  auto np = Create(k, R"({"metadata": {"name": "web", "namespace": "d"},
    "spec": {"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30001}]}})");
  CHECK(np == std::vector<std::string>{
                  "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"});
  auto range = Create(k, R"({"metadata": {"name": "web", "namespace": "d"},
    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}})");
  CHECK(
      range ==
      std::vector<std::string>{
          "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The "
          "range of valid ports is 30000-32767"});
  CHECK(Create(k, R"({"metadata": {"name": "web", "namespace": "d"}, "spec": {}})") ==
        std::vector<std::string>{"spec.ports: Required value"});
  CHECK(Create(k, R"({"metadata": {"name": "db", "namespace": "d"},
    "spec": {"type": "ExternalName"}})") ==
        std::vector<std::string>{"spec.externalName: Required value"});
  auto upd = Update(k, R"({"metadata": {"name": "web", "namespace": "d", "resourceVersion": "2"},
    "spec": {"clusterIP": "10.43.0.9", "clusterIPs": ["10.43.0.9"], "ports": [{"port": 80}]}})",
                    R"({"metadata": {"name": "web", "namespace": "d", "resourceVersion": "1"},
    "spec": {"clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"], "ports": [{"port": 80}]}})");
  CHECK(upd ==
        std::vector<std::string>{
            "spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.9\"}: may not change once set"});
}

TEST_CASE("KindValidation: Job restart policy, selector and immutable template",
          "[api_validation][unit]") {
  KindInfo k = Kind("batch", "Job");
  CHECK(Create(k, R"({"metadata": {"name": "j", "namespace": "d"}, "spec": {"template": {
    "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}})")
            .empty());
  auto errs = Create(k, R"({"metadata": {"name": "j", "namespace": "d"}, "spec": {
    "parallelism": -1, "backoffLimit": -2, "completionMode": "Indexed",
    "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})");
  CHECK(errs ==
        std::vector<std::string>{
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
            "spec.completions: Required value: when completion mode is Indexed",
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: "
            "\"OnFailure\", \"Never\""});
  std::string old_job = R"({"metadata": {"name": "j", "namespace": "d", "resourceVersion": "1"},
    "spec": {"completions": 2, "template": {"spec": {"containers": [{"name": "c",
    "image": "busybox"}], "restartPolicy": "Never"}}}})";
  std::string new_job = R"({"metadata": {"name": "j", "namespace": "d", "resourceVersion": "2"},
    "spec": {"completions": 3, "template": {"spec": {"containers": [{"name": "c",
    "image": "busybox:2"}], "restartPolicy": "Never"}}}})";
  auto upd = Update(k, new_job, old_job);
  REQUIRE(upd.size() == 2);
  CHECK(upd[0] == "spec.completions: Invalid value: 3: field is immutable");
  CHECK(upd[1].rfind("spec.template: Invalid value: map[string]interface {}{", 0) == 0);
  CHECK(upd[1].find(": field is immutable") != std::string::npos);
}

TEST_CASE("KindValidation: CronJob schedules parse like robfig/cron", "[api_validation][unit]") {
  KindInfo k = Kind("batch", "CronJob");
  auto make = [](std::string schedule, std::string extra = "") {
    return R"({"metadata": {"name": "c", "namespace": "d"}, "spec": {"schedule": ")" + schedule +
           "\"" + extra +
           R"(, "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c",
           "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}})";
  };
  for (const char* ok : {"*/5 * * * *", "0 0 * * 0", "@hourly", "@every 1h30m",
                         "0 9-17 * JAN-MAR mon-fri", "15,45 */2 1 * ?"}) {
    INFO(ok);
    CHECK(Create(k, make(ok)).empty());
  }
  struct Bad {
    const char* schedule;
    const char* message;
  };
  const Bad bad[] = {
      {"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
      {"60 * * * *", "end of range (60) above maximum (59): 60"},
      {"@fortnightly", "unrecognized descriptor: @fortnightly"},
      {"x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"},
      {"5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"},
      {"*/0 * * * *", "step of range should be a positive number: */0"},
      {"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
  };
  for (const auto& b : bad) {
    INFO(b.schedule);
    CHECK(Create(k, make(b.schedule)) ==
          std::vector<std::string>{"spec.schedule: Invalid value: \"" + std::string(b.schedule) +
                                   "\": " + b.message});
  }
  CHECK(Create(k, make("* * * * *", R"(, "timeZone": "Mars/Olympus")")) ==
        std::vector<std::string>{
            "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"});
  CHECK(Create(k, make("TZ=UTC * * * * *")) ==
        std::vector<std::string>{"spec.schedule: Invalid value: \"TZ=UTC * * * * *\": cannot use "
                                 "TZ or CRON_TZ in schedule, use timeZone field instead"});
  std::string long_name(53, 'a');
  std::string text = make("* * * * *");
  text.replace(text.find("\"c\""), 3, "\"" + long_name + "\"");
  CHECK(Create(k, text) == std::vector<std::string>{"metadata.name: Invalid value: \"" + long_name +
                                                    "\": must be no more than 52 characters"});
}

TEST_CASE("KindValidation: ConfigMap and Secret keys, sizes and types", "[api_validation][unit]") {
  KindInfo cm = Kind("", "ConfigMap");
  CHECK(Create(cm, R"({"metadata": {"name": "c", "namespace": "d"},
    "data": {"bad/key": "2", "good.key": "1"}, "binaryData": {"good.key": "AAAA"}})") ==
        std::vector<std::string>{
            "data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of "
            "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
            "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[good.key]: Invalid value: \"good.key\": duplicate of key present in binaryData"});
  json::object big{{"metadata", json::object{{"name", "c"}, {"namespace", "d"}}},
                   {"data", json::object{{"a", std::string(1024 * 1024 + 1, 'x')}}}};
  CHECK(Render(ValidateCreate(cm, big)) ==
        std::vector<std::string>{"[]: Too long: may not be more than 1048576 bytes"});

  KindInfo sec = Kind("", "Secret");
  CHECK(Create(sec, R"({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls",
    "data": {"tls.crt": "eA=="}})") == std::vector<std::string>{"data[tls.key]: Required value"});
  CHECK(Create(sec, R"({"metadata": {"name": "s", "namespace": "d"},
    "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "bm90IGpzb24="}})")
            .size() == 1);
  CHECK(Create(sec, R"({"metadata": {"name": "s", "namespace": "d"},
    "type": "kubernetes.io/service-account-token"})") ==
        std::vector<std::string>{
            "metadata.annotations[kubernetes.io/service-account.name]: Required value"});
  CHECK(Update(sec, R"({"metadata": {"name": "s", "namespace": "d", "resourceVersion": "2"},
    "type": "kubernetes.io/basic-auth", "data": {"username": "YQ=="}})",
               R"({"metadata": {"name": "s", "namespace": "d", "resourceVersion": "1"},
    "data": {"username": "YQ=="}})") ==
        std::vector<std::string>{
            "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"});
  CHECK(Update(cm, R"({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "2"},
    "immutable": true, "data": {"a": "2"}})",
               R"({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"},
    "immutable": true, "data": {"a": "1"}})") ==
        std::vector<std::string>{"data: Forbidden: field is immutable when `immutable` is set"});
}

TEST_CASE("KindValidation: cluster-scoped kinds, PVCs, Ingress, RBAC and Lease",
          "[api_validation][unit]") {
  CHECK(Create(Kind("", "Namespace", false), R"({"metadata": {"name": "Prod"}})").size() == 1);
  CHECK(Create(Kind("", "Namespace", false), R"({"metadata": {"name": "prod"}})").empty());
  CHECK(Create(Kind("", "Node", false), R"({"metadata": {"name": "n1", "namespace": "x"},
    "spec": {"taints": [{"key": "k", "effect": "Never"}, {"key": "a", "effect": "NoSchedule"},
                        {"key": "a", "value": "v", "effect": "NoSchedule"}]}})") ==
        std::vector<std::string>{
            "metadata.namespace: Forbidden: not allowed on this type",
            "metadata.taints[0].effect: Unsupported value: \"Never\": supported values: "
            "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            "metadata.taints[2]: Duplicate value: core.Taint{Key:\"a\", Value:\"v\", "
            "Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and "
            "effect pair"});
  CHECK(Create(Kind("", "PersistentVolumeClaim"), R"({"metadata": {"name": "c", "namespace": "d"},
    "spec": {}})") == std::vector<std::string>{
                          "spec.accessModes: Required value: at least 1 access mode is required",
                          "spec.resources[storage]: Required value"});
  KindInfo pvc = Kind("", "PersistentVolumeClaim");
  std::string old_pvc = R"({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    "status": {"phase": "Bound"}})";
  CHECK(Update(pvc, R"({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "2"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
             "volumeName": "pv-1"}, "status": {"phase": "Bound"}})",
               old_pvc)
            .empty());
  CHECK(Update(pvc, R"({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "2"},
    "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "512Mi"}}},
    "status": {"phase": "Bound"}})",
               old_pvc) ==
        std::vector<std::string>{
            "spec: Forbidden: spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims",
            "spec.resources.requests.storage: Forbidden: field can not be less than previous "
            "value"});
  CHECK(
      Create(Kind("networking.k8s.io", "Ingress"), R"({"metadata": {"name": "i", "namespace": "d"},
    "spec": {"rules": [{"host": "10.0.0.1", "http": {"paths": [
      {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web",
       "port": {"number": 80}}}},
      {"path": "/", "backend": {}},
      {"path": "/", "pathType": "Exact", "backend": {}},
      {"path": "/a//b/.", "pathType": "Exact", "backend": {"service": {"name": "web"}}}]}}]}})") ==
      std::vector<std::string>{
          "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
          "spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path",
          "spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified",
          "spec.rules[0].http.paths[2].backend: Invalid value: \"\": resource or service "
          "backend is required",
          "spec.rules[0].http.paths[3].path: Invalid value: \"/a//b/.\": must not contain '//'",
          "spec.rules[0].http.paths[3].path: Invalid value: \"/a//b/.\": cannot end with '/.'",
          "spec.rules[0].http.paths[3].backend: Required value: port name or number is required"});
  CHECK(
      Create(Kind("networking.k8s.io", "Ingress"), R"({"metadata": {"name": "i", "namespace": "d"},
    "spec": {}})") ==
      std::vector<std::string>{"spec: Invalid value: []networking.IngressRule(nil): either "
                               "`defaultBackend` or `rules` must be specified"});
  CHECK(Create(Kind("rbac.authorization.k8s.io", "Role"), R"({"metadata": {"name": "r",
    "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"]},
    {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]})") ==
        std::vector<std::string>{
            "rules[0].verbs: Required value: verbs must contain at least one value",
            "rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules "
            "cannot apply to non-resource URLs"});
  CHECK(Create(Kind("rbac.authorization.k8s.io", "ClusterRoleBinding", false),
               R"({"metadata": {"name": "system:b"}, "roleRef": {"apiGroup":
    "rbac.authorization.k8s.io", "kind": "Role", "name": "x"},
    "subjects": [{"kind": "ServiceAccount", "name": "sa"}]})") ==
        std::vector<std::string>{
            "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
            "subjects[0].namespace: Required value"});
  CHECK(Create(Kind("coordination.k8s.io", "Lease"), R"({"metadata": {"name": "n1",
    "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}})") ==
        std::vector<std::string>{
            "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"});
}

TEST_CASE("KindValidation: DaemonSet rolling update and percent values", "[api_validation][unit]") {
  KindInfo k = Kind("apps", "DaemonSet");
  auto errs = Create(k, std::string(R"({"metadata": {"name": "ds", "namespace": "d"}, "spec": {
    "selector": {"matchLabels": {"app": "web"}},
    "updateStrategy": {"type": "RollingUpdate",
                       "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "ten"}}, )") +
                            std::string(kTemplate) + "}}");
  CHECK(errs ==
        std::vector<std::string>{
            "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, "
            "IntVal:0, StrVal:\"ten\"}: a valid percent string must be a numeric string followed "
            "by an "
            "ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "
            "intstr.IntOrString{Type:1, "
            "IntVal:0, StrVal:\"150%\"}: must not be greater than 100%"});
  auto zero = Create(k, std::string(R"({"metadata": {"name": "ds", "namespace": "d"}, "spec": {
    "selector": {"matchLabels": {"app": "web"}},
    "updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}, )") +
                            std::string(kTemplate) + "}}");
  CHECK(zero ==
        std::vector<std::string>{
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
            "maxSurge is 0"});
}

TEST_CASE("KindValidation: StatefulSet spec is immutable except the documented fields",
          "[api_validation][unit]") {
  KindInfo k = Kind("apps", "StatefulSet");
  std::string base = R"({"metadata": {"name": "db", "namespace": "d", "resourceVersion": "1"},
    "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, )" +
                     std::string(kTemplate) + "}}";
  CHECK(Create(k, base).empty());
  std::string changed = base;
  changed.replace(changed.find("\"db\", \"selector\""), 4, "\"db2\"");
  CHECK(Update(k, changed, base) ==
        std::vector<std::string>{
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
            "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
            "and 'minReadySeconds' are forbidden"});
}

TEST_CASE("KindValidation: custom resources get ObjectMeta and schema checks",
          "[api_validation][unit]") {
  Schema root, spec, size;
  root.type = Type::kObject;
  root.properties = {{"spec", &spec}};
  spec.type = Type::kObject;
  spec.properties = {{"size", &size}};
  spec.required = {"size"};
  size.type = Type::kInteger;
  size.minimum = 1;
  KindInfo k = Kind("example.com", "Widget");
  k.custom = true;
  k.schema = &root;
  json::object obj = json::parse(R"({"apiVersion": "example.com/v1", "kind": "Widget",
    "metadata": {"name": "w", "namespace": "d"}, "spec": {"size": 0}})")
                         .as_object();
  CHECK(Render(ValidateCreate(k, obj)) ==
        std::vector<std::string>{
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"});
  CHECK_FALSE(HasKindValidation("example.com", "Widget"));
  CHECK(HasKindValidation("", "Pod"));
}

}  // namespace
}  // namespace mini8s::api
