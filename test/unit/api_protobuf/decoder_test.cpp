#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "api/protobuf/proto_facts.h"
#include "api/protobuf/wire_reader.h"
#include "mini8s/api/protobuf.h"
#include "unit/api_protobuf/fake_registry.h"
#include "unit/api_protobuf/proto_encoder.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;
using testing::BytesField;
using testing::DoubleField;
using testing::Envelope;
using testing::Fixed32Field;
using testing::FromHex;
using testing::IntField;
using testing::Key;
using testing::MapEntry;
using testing::Varint;
using testing::VarintField;

constexpr const char* kApiext = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";

// Schemas for a few real kinds with their real field numbers (a subset of their fields), plus a
// test kind exercising every wire form.
std::unique_ptr<testing::FakeRegistry> MakeRegistry() {
  auto r = std::make_unique<testing::FakeRegistry>();
  auto* str = r->String();
  auto* bytes = r->String("byte");
  auto* i32 = r->Int("int32");
  auto* i64 = r->Int("int64");
  auto* boolean = r->Node(Type::kBoolean);
  auto* time = r->Node(Type::kString, "io.k8s.apimachinery.pkg.apis.meta.v1.Time", "date-time");
  auto* micro =
      r->Node(Type::kString, "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", "date-time");
  auto* quantity = r->Node(Type::kQuantity, "io.k8s.apimachinery.pkg.api.resource.Quantity");
  auto* ios = r->Node(Type::kIntOrString, "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                      "int-or-string");
  auto* str_map = r->Map(str);
  auto* str_list = r->Array(str);

  auto* meta = r->Object("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                         {{"name", str, 1},
                          {"generateName", str, 2},
                          {"namespace", str, 3},
                          {"selfLink", str, 4},
                          {"uid", str, 5},
                          {"resourceVersion", str, 6},
                          {"generation", i64, 7},
                          {"creationTimestamp", time, 8},
                          {"deletionTimestamp", time, 9},
                          {"deletionGracePeriodSeconds", i64, 10},
                          {"labels", str_map, 11},
                          {"annotations", str_map, 12},
                          {"finalizers", str_list, 14}});
  auto with_meta = [&](std::string def, std::vector<Property> props) {
    props.insert(props.begin(), Property{"metadata", meta, 1});
    props.insert(props.begin(), Property{"kind", str, 0});
    props.insert(props.begin(), Property{"apiVersion", str, 0});
    return r->Object(std::move(def), std::move(props));
  };

  auto* ns_spec = r->Object("io.k8s.api.core.v1.NamespaceSpec", {{"finalizers", str_list, 1}});
  auto* ns_status = r->Object("io.k8s.api.core.v1.NamespaceStatus", {{"phase", str, 1}});
  r->AddKind(
      "", "v1", "Namespace",
      with_meta("io.k8s.api.core.v1.Namespace", {{"spec", ns_spec, 2}, {"status", ns_status, 3}}));
  r->AddKind("", "v1", "ConfigMap",
             with_meta("io.k8s.api.core.v1.ConfigMap", {{"data", str_map, 2},
                                                        {"binaryData", r->Map(bytes), 3},
                                                        {"immutable", boolean, 4}}));
  r->AddKind("", "v1", "Secret",
             with_meta("io.k8s.api.core.v1.Secret", {{"data", r->Map(bytes), 2},
                                                     {"type", str, 3},
                                                     {"stringData", str_map, 4},
                                                     {"immutable", boolean, 5}}));

  // Deployment -> PodSpec, with inline-embedded messages (Probe's handler, Volume's source,
  // ConfigMapKeySelector's LocalObjectReference).
  auto* port = r->Object(
      "io.k8s.api.core.v1.ContainerPort",
      {{"name", str, 1}, {"hostPort", i32, 2}, {"containerPort", i32, 3}, {"protocol", str, 4}});
  auto* cm_key = r->Object("io.k8s.api.core.v1.ConfigMapKeySelector",
                           {{"name", str, 0}, {"key", str, 2}, {"optional", boolean, 3}});
  auto* env_source = r->Object("io.k8s.api.core.v1.EnvVarSource", {{"configMapKeyRef", cm_key, 3}});
  auto* env = r->Object("io.k8s.api.core.v1.EnvVar",
                        {{"name", str, 1}, {"value", str, 2}, {"valueFrom", env_source, 3}});
  auto* exec = r->Object("io.k8s.api.core.v1.ExecAction", {{"command", str_list, 1}});
  auto* http_get = r->Object("io.k8s.api.core.v1.HTTPGetAction",
                             {{"path", str, 1}, {"port", ios, 2}, {"host", str, 3}});
  auto* probe = r->Object("io.k8s.api.core.v1.Probe", {{"exec", exec, 0},
                                                       {"httpGet", http_get, 0},
                                                       {"initialDelaySeconds", i32, 2},
                                                       {"periodSeconds", i32, 4}});
  auto* resources = r->Object("io.k8s.api.core.v1.ResourceRequirements",
                              {{"limits", r->Map(quantity), 1}, {"requests", r->Map(quantity), 2}});
  auto* container = r->Object("io.k8s.api.core.v1.Container", {{"name", str, 1},
                                                               {"image", str, 2},
                                                               {"command", str_list, 3},
                                                               {"args", str_list, 4},
                                                               {"ports", r->Array(port), 6},
                                                               {"env", r->Array(env), 7},
                                                               {"resources", resources, 8},
                                                               {"livenessProbe", probe, 10},
                                                               {"imagePullPolicy", str, 14},
                                                               {"stdin", boolean, 16}});
  auto* empty_dir = r->Object("io.k8s.api.core.v1.EmptyDirVolumeSource",
                              {{"medium", str, 1}, {"sizeLimit", quantity, 2}});
  auto* cm_volume = r->Object("io.k8s.api.core.v1.ConfigMapVolumeSource",
                              {{"name", str, 0}, {"defaultMode", i32, 3}});
  auto* volume =
      r->Object("io.k8s.api.core.v1.Volume",
                {{"name", str, 1}, {"emptyDir", empty_dir, 0}, {"configMap", cm_volume, 0}});
  auto* pod_spec =
      r->Object("io.k8s.api.core.v1.PodSpec", {{"volumes", r->Array(volume), 1},
                                               {"containers", r->Array(container), 2},
                                               {"restartPolicy", str, 3},
                                               {"terminationGracePeriodSeconds", i64, 4},
                                               {"nodeSelector", str_map, 7},
                                               {"hostNetwork", boolean, 11},
                                               {"automountServiceAccountToken", boolean, 21}});
  auto* template_spec = r->Object("io.k8s.api.core.v1.PodTemplateSpec",
                                  {{"metadata", meta, 1}, {"spec", pod_spec, 2}});
  auto* requirement = r->Object("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
                                {{"key", str, 1}, {"operator", str, 2}, {"values", str_list, 3}});
  auto* selector =
      r->Object("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
                {{"matchLabels", str_map, 1}, {"matchExpressions", r->Array(requirement), 2}});
  auto* rolling = r->Object("io.k8s.api.apps.v1.RollingUpdateDeployment",
                            {{"maxUnavailable", ios, 1}, {"maxSurge", ios, 2}});
  auto* strategy = r->Object("io.k8s.api.apps.v1.DeploymentStrategy",
                             {{"type", str, 1}, {"rollingUpdate", rolling, 2}});
  auto* deploy_spec =
      r->Object("io.k8s.api.apps.v1.DeploymentSpec", {{"replicas", i32, 1},
                                                      {"selector", selector, 2},
                                                      {"template", template_spec, 3},
                                                      {"strategy", strategy, 4},
                                                      {"minReadySeconds", i32, 5},
                                                      {"paused", boolean, 7}});
  r->AddKind("apps", "v1", "Deployment",
             with_meta("io.k8s.api.apps.v1.Deployment", {{"spec", deploy_spec, 2}}));

  // apiextensions: JSONSchemaProps and its Or* companions (looked up by definition).
  auto* props = r->Object(std::string(kApiext) + "JSONSchemaProps", {});
  auto* or_array = r->Node(Type::kAny, std::string(kApiext) + "JSONSchemaPropsOrArray");
  auto* or_bool = r->Node(Type::kAny, std::string(kApiext) + "JSONSchemaPropsOrBool");
  auto* or_strings = r->Node(Type::kAny, std::string(kApiext) + "JSONSchemaPropsOrStringArray");
  auto* any_json = r->Node(Type::kAny, std::string(kApiext) + "JSON");
  auto* number = r->Node(Type::kNumber, "", "double");
  props->properties = {{"type", str, 5},
                       {"default", any_json, 8},
                       {"maximum", number, 9},
                       {"items", or_array, 24},
                       {"properties", r->Map(props), 29},
                       {"additionalProperties", or_bool, 30},
                       {"dependencies", r->Map(or_strings), 31}};
  r->AddDefinition(std::string(kApiext) + "JSONSchemaProps", props);

  // A test kind covering the remaining wire forms.
  auto* wire = r->Object("test.mini8s.v1.Wire", {});
  wire->properties = {
      {"apiVersion", str, 0},
      {"kind", str, 0},
      {"double", number, 1},
      {"float", r->Node(Type::kNumber, "", "float"), 2},
      {"int64s", r->Array(i64), 3},
      {"bools", r->Array(boolean), 4},
      {"extra", r->Map(str_list), 5},
      {"raw", r->Node(Type::kObject, "io.k8s.apimachinery.pkg.runtime.RawExtension"), 6},
      {"fieldsV1", r->Node(Type::kObject, "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"), 7},
      {"eventTime", micro, 8},
      {"timeout", r->Node(Type::kString, "io.k8s.apimachinery.pkg.apis.meta.v1.Duration"), 9},
      {"schema", props, 10},
      {"int32", i32, 13},
      {"matrix", r->Array(str_list), 14},
      {"child", wire, 15},
      {"untyped", r->Node(Type::kAny), 16},
      {"quantity", quantity, 17},
      {"port", ios, 18},
      {"when", time, 19},
  };
  r->AddKind("test.mini8s.io", "v1", "Wire", wire);
  r->AddKind("example.com", "v1", "Widget", r->Object("", {}), /*custom=*/true);
  return r;
}

json::value J(std::string_view text) { return json::parse(text); }

json::value Decode(const Registry& r, std::string_view body,
                   std::vector<std::string>* unknown = nullptr) {
  ProtobufDecodeOptions options;
  options.unknown_fields = unknown;
  Result<json::value> v = DecodeProtobuf(r, body, options);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return *v;
}

Status DecodeError(const Registry& r, std::string_view body) {
  Result<json::value> v = DecodeProtobuf(r, body);
  REQUIRE_FALSE(v.ok());
  return v.error();
}

// Bodies kubectl 1.32.4 sent (kubectl-wire.md, appendix create_imperative_protobuf_415).
constexpr std::string_view kNamespaceHex =
    "6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022002a00320038004200"
    "12001a020a001a002200";
constexpr std::string_view kConfigMapHex =
    "6b3873000a0f0a0276311209436f6e6669674d6170121c0a120a02636d12001a0022002a00320038004200"
    "12060a01611201621a002200";

TEST_CASE("WireReader: reads every wire type and rejects malformed fields",
          "[api_protobuf][unit]") {
  using protobuf_internal::WireReader;
  using protobuf_internal::WireType;
  std::string msg = VarintField(1, 300) + DoubleField(2, 1.5) + BytesField(3, "abc") +
                    Fixed32Field(4, 7) + VarintField(536870911, 1);
  WireReader reader(msg);
  auto f = reader.Next();
  REQUIRE(f.ok());
  CHECK(f->number == 1);
  CHECK(f->type == WireType::kVarint);
  CHECK(f->scalar == 300);
  f = reader.Next();
  REQUIRE(f.ok());
  CHECK(f->type == WireType::kFixed64);
  f = reader.Next();
  REQUIRE(f.ok());
  CHECK(f->type == WireType::kLengthDelimited);
  CHECK(f->bytes == "abc");
  f = reader.Next();
  REQUIRE(f.ok());
  CHECK(f->type == WireType::kFixed32);
  CHECK(f->scalar == 7);
  f = reader.Next();
  REQUIRE(f.ok());
  CHECK(f->number == 536870911);
  CHECK(reader.done());

  SECTION("a varint of more than ten bytes") {
    std::string bad = Key(1, 0) + std::string(10, '\x80') + "\x01";
    auto r = WireReader(bad).Next();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == Code::kBadRequest);
  }
  SECTION("a truncated varint, length, payload and fixed value") {
    for (std::string bad : {Key(1, 0) + "\x80", Key(1, 2) + "\x85", Key(1, 2) + "\x05" + "ab",
                            Key(1, 1) + "1234567", Key(1, 5) + "12"}) {
      auto r = WireReader(bad).Next();
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code() == Code::kBadRequest);
    }
  }
  SECTION("field number zero, groups and unknown wire types") {
    for (std::string bad : {Key(0, 0) + "\x01", Key(1, 3), Key(1, 4), Key(1, 6), Key(1, 7)}) {
      auto r = WireReader(bad).Next();
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code() == Code::kBadRequest);
    }
  }
}

TEST_CASE("Protobuf: the envelope kubectl sends is parsed", "[api_protobuf][unit]") {
  std::string body = FromHex(kConfigMapHex);
  auto env = ParseProtobufEnvelope(body);
  REQUIRE(env.ok());
  CHECK(env->api_version == "v1");
  CHECK(env->kind == "ConfigMap");
  CHECK(env->content_encoding.empty());
  CHECK(env->content_type.empty());
  CHECK(env->raw.size() == 0x1c);
  CHECK(HasProtobufMagic(body));
  CHECK_FALSE(HasProtobufMagic("{\"kind\":\"ConfigMap\"}"));

  auto bad = ParseProtobufEnvelope("{\"kind\":\"ConfigMap\"}");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == Code::kBadRequest);
  CHECK(bad.error().message().find("magic") != std::string::npos);
}

TEST_CASE("Protobuf: kubectl's namespace and configmap bodies decode to their JSON form",
          "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  // Empty strings, the zero generation and the zero creationTimestamp Go wrote are dropped;
  // the empty spec and status messages stay, as Go's JSON keeps them.
  CHECK(Decode(*r, FromHex(kNamespaceHex)) ==
        J(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"foo"},"spec":{},
              "status":{}})"));
  CHECK(Decode(*r, FromHex(kConfigMapHex)) ==
        J(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},
              "data":{"a":"b"}})"));
}

TEST_CASE("Protobuf: map values keep empty strings and bytes become base64",
          "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  std::string secret = BytesField(1, BytesField(1, "s") + BytesField(3, "default")) +
                       MapEntry(2, "one", std::string("\x00\xff", 2)) + MapEntry(2, "two", "ab") +
                       MapEntry(2, "three", "abc") +
                       BytesField(2, BytesField(1, "empty")) /* an entry without a value */ +
                       BytesField(3, "Opaque") + MapEntry(4, "blank", "") + VarintField(5, 0);
  // immutable is a *bool: an explicit false is kept.
  CHECK(Decode(*r, Envelope("v1", "Secret", secret)) ==
        J(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"},
              "data":{"one":"AP8=","two":"YWI=","three":"YWJj","empty":""},"type":"Opaque",
              "stringData":{"blank":""},"immutable":false})"));
}

std::string MinimalDeployment(int replicas, int min_ready) {
  const std::string labels = MapEntry(11, "app", "web");
  std::string container =
      BytesField(1, "nginx") + BytesField(2, "nginx:1.27") + BytesField(4, "-g") +
      BytesField(4, "daemon off;") +
      BytesField(
          6, BytesField(1, "") + VarintField(2, 0) + VarintField(3, 8080) + BytesField(4, "TCP")) +
      BytesField(7,
                 BytesField(1, "MODE") +
                     BytesField(3, BytesField(3, BytesField(1, BytesField(1, "cfg")) +
                                                     BytesField(2, "mode") + VarintField(3, 0)))) +
      BytesField(
          8, BytesField(1, BytesField(1, "cpu") + BytesField(2, BytesField(1, "500m"))) +
                 BytesField(2, BytesField(1, "memory") + BytesField(2, BytesField(1, "64Mi")))) +
      BytesField(
          10, BytesField(1, BytesField(2, BytesField(1, "/healthz") +
                                              BytesField(2, VarintField(1, 1) + VarintField(2, 0) +
                                                                BytesField(3, "http")) +
                                              BytesField(3, ""))) +
                  VarintField(2, 0) + VarintField(4, 10)) +
      BytesField(14, "") + VarintField(16, 0);
  std::string volume =
      BytesField(1, "scratch") +
      BytesField(2, BytesField(2, BytesField(1, "Memory") + BytesField(2, BytesField(1, "1Gi"))));
  std::string cm_volume =
      BytesField(1, "conf") +
      BytesField(2, BytesField(19, BytesField(1, BytesField(1, "cfg")) + VarintField(3, 420)));
  std::string pod_spec = BytesField(1, volume) + BytesField(1, cm_volume) +
                         BytesField(2, container) + BytesField(3, "Always") + VarintField(4, 0) +
                         VarintField(11, 0) + VarintField(21, 0);
  std::string spec =
      VarintField(1, static_cast<uint64_t>(replicas)) +
      BytesField(2, BytesField(1, BytesField(1, "app") + BytesField(2, "web"))) +
      BytesField(3, BytesField(1, labels + VarintField(7, 0) + BytesField(8, "")) +
                        BytesField(2, pod_spec)) +
      BytesField(4, BytesField(1, "RollingUpdate") +
                        BytesField(2, BytesField(1, VarintField(1, 0) + VarintField(2, 0)) +
                                          BytesField(2, VarintField(1, 1) + VarintField(2, 0) +
                                                            BytesField(3, "25%")))) +
      VarintField(5, static_cast<uint64_t>(min_ready)) + VarintField(7, 0);
  std::string deploy = BytesField(1, BytesField(1, "web") + labels) + BytesField(2, spec);
  return Envelope("apps/v1", "Deployment", deploy);
}

TEST_CASE("Protobuf: a deployment decodes with pointers, inline messages and special types",
          "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  json::value got = Decode(*r, MinimalDeployment(0, 0));
  json::value want = J(R"({
    "apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","labels":{"app":"web"}},
    "spec":{
      "replicas":0,
      "selector":{"matchLabels":{"app":"web"}},
      "template":{
        "metadata":{"labels":{"app":"web"}},
        "spec":{
          "volumes":[{"name":"scratch","emptyDir":{"medium":"Memory","sizeLimit":"1Gi"}},
                     {"name":"conf","configMap":{"name":"cfg","defaultMode":420}}],
          "containers":[{
            "name":"nginx","image":"nginx:1.27","args":["-g","daemon off;"],
            "ports":[{"containerPort":8080,"protocol":"TCP"}],
            "env":[{"name":"MODE","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"mode",
                                                                   "optional":false}}}],
            "resources":{"limits":{"cpu":"500m"},"requests":{"memory":"64Mi"}},
            "livenessProbe":{"httpGet":{"path":"/healthz","port":"http"},"periodSeconds":10}
          }],
          "restartPolicy":"Always",
          "terminationGracePeriodSeconds":0,
          "automountServiceAccountToken":false
        }
      },
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":"25%"}}
    }})");
  INFO(json::serialize(got));
  CHECK(got == want);

  // replicas is a pointer (kept at 0 above); minReadySeconds is a plain omitempty int32.
  json::value three = Decode(*r, MinimalDeployment(3, 7));
  CHECK(three.at("spec").at("replicas") == 3);
  CHECK(three.at("spec").at("minReadySeconds") == 7);
}

TEST_CASE("Protobuf: numbers, packed and unpacked repeated fields, and nested arrays",
          "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  std::string packed = Varint(1) + Varint(300) + Varint(static_cast<uint64_t>(int64_t{-2}));
  std::string wire =
      DoubleField(1, 2.5) + Fixed32Field(2, 0x3fc00000) /* 1.5f */ + BytesField(3, packed) +
      VarintField(3, 4) /* an unpacked element after packed ones */ + VarintField(4, 1) +
      VarintField(4, 0) + IntField(13, -5) /* int32 arrives sign-extended to 10 bytes */ +
      BytesField(14, BytesField(1, "a") + BytesField(1, "b")) + BytesField(14, "") +
      BytesField(5,
                 BytesField(1, "groups") + BytesField(2, BytesField(1, "x") + BytesField(1, "y")));
  CHECK(Decode(*r, Envelope("test.mini8s.io/v1", "Wire", wire)) ==
        J(R"({"apiVersion":"test.mini8s.io/v1","kind":"Wire","double":2.5,"float":1.5,
              "int64s":[1,300,-2,4],"bools":[true,false],"int32":-5,
              "matrix":[["a","b"],[]],"extra":{"groups":["x","y"]}})"));
}

TEST_CASE("Protobuf: times, durations, quantities and int-or-strings", "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  std::string wire = BytesField(8, VarintField(1, 1700000000) + VarintField(2, 123456789)) +
                     BytesField(9, VarintField(1, 5400500000000)) +
                     BytesField(17, BytesField(1, "")) + BytesField(18, VarintField(2, 8080)) +
                     BytesField(19, VarintField(1, 1700000000) + VarintField(2, 5));
  CHECK(Decode(*r, Envelope("test.mini8s.io/v1", "Wire", wire)) ==
        J(R"({"apiVersion":"test.mini8s.io/v1","kind":"Wire",
              "eventTime":"2023-11-14T22:13:20.123456Z","timeout":"1h30m0.5s",
              "port":8080,"when":"2023-11-14T22:13:20Z"})"));

  SECTION("zero times are null in Go's JSON, so they are dropped") {
    CHECK(Decode(*r, Envelope("test.mini8s.io/v1", "Wire", BytesField(19, ""))) ==
          J(R"({"apiVersion":"test.mini8s.io/v1","kind":"Wire"})"));
  }
  SECTION("an out-of-range timestamp is a bad request") {
    std::string far = BytesField(19, VarintField(1, uint64_t{1} << 62));
    CHECK(DecodeError(*r, Envelope("test.mini8s.io/v1", "Wire", far)).code() == Code::kBadRequest);
  }
}

TEST_CASE("Protobuf: embedded JSON, nested envelopes and JSONSchemaProps unions",
          "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  std::string nested_cm = FromHex(kConfigMapHex);
  std::string schema =
      BytesField(5, "object") + BytesField(8, BytesField(1, R"({"a":[1,2]})")) +
      BytesField(29,
                 BytesField(1, "spec") +
                     BytesField(2, BytesField(5, "array") +
                                       BytesField(24, BytesField(1, BytesField(5, "string"))))) +
      BytesField(29,
                 BytesField(1, "tuple") +
                     BytesField(2, BytesField(24, BytesField(2, BytesField(5, "integer")) +
                                                      BytesField(2, BytesField(5, "string"))))) +
      BytesField(30, VarintField(1, 1)) +
      BytesField(31, BytesField(1, "x") + BytesField(2, BytesField(2, "y") + BytesField(2, "z"))) +
      DoubleField(9, 10);
  std::string wire = BytesField(6, BytesField(1, nested_cm)) +
                     BytesField(7, BytesField(1, R"({"f:metadata":{}})")) + BytesField(10, schema);
  json::value got = Decode(*r, Envelope("test.mini8s.io/v1", "Wire", wire));
  INFO(json::serialize(got));
  CHECK(got == J(R"({"apiVersion":"test.mini8s.io/v1","kind":"Wire",
      "raw":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"b"}},
      "fieldsV1":{"f:metadata":{}},
      "schema":{"type":"object","default":{"a":[1,2]},"maximum":10.0,
        "properties":{"spec":{"type":"array","items":{"type":"string"}},
                      "tuple":{"items":[{"type":"integer"},{"type":"string"}]}},
        "additionalProperties":true,
        "dependencies":{"x":["y","z"]}}})"));

  SECTION("raw JSON that does not parse is a bad request") {
    std::string bad = BytesField(6, BytesField(1, "{not json"));
    CHECK(DecodeError(*r, Envelope("test.mini8s.io/v1", "Wire", bad)).code() == Code::kBadRequest);
  }
}

TEST_CASE("Protobuf: unknown and untyped fields are skipped and reported", "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  std::string cm = BytesField(1, BytesField(1, "cm") + VarintField(99, 1)) +
                   BytesField(2, BytesField(1, "a") + BytesField(2, "b")) + DoubleField(40, 1);
  std::vector<std::string> unknown;
  CHECK(Decode(*r, Envelope("v1", "ConfigMap", cm), &unknown) ==
        J(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"b"}})"));
  CHECK(unknown == std::vector<std::string>{"metadata.#99", "#40"});

  unknown.clear();
  std::string wire = BytesField(16, "x") + BytesField(15, BytesField(16, "y"));
  CHECK(Decode(*r, Envelope("test.mini8s.io/v1", "Wire", wire), &unknown) ==
        J(R"({"apiVersion":"test.mini8s.io/v1","kind":"Wire","child":{}})"));
  CHECK(unknown == std::vector<std::string>{"untyped", "child.untyped"});
}

TEST_CASE("Protobuf: malformed bodies are bad requests with a clear message",
          "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  SECTION("an unknown kind") {
    Status s = DecodeError(*r, Envelope("v1", "Nope", ""));
    CHECK(s.code() == Code::kBadRequest);
    CHECK(s.message().find("Nope") != std::string::npos);
  }
  SECTION("no type meta") {
    CHECK(DecodeError(*r, std::string("k8s\0", 4) + BytesField(2, "")).code() == Code::kBadRequest);
  }
  SECTION("a payload longer than the buffer, with the field path") {
    std::string cm = BytesField(1, BytesField(1, "cm")) + Key(2, 2) + Varint(100) + "ab";
    Status s = DecodeError(*r, Envelope("v1", "ConfigMap", cm));
    CHECK(s.code() == Code::kBadRequest);
    CHECK(s.message().find("exceeds") != std::string::npos);
  }
  SECTION("a truncated varint inside metadata") {
    std::string cm = BytesField(1, Key(7, 0) + "\xff");
    Status s = DecodeError(*r, Envelope("v1", "ConfigMap", cm));
    CHECK(s.message().find("metadata") != std::string::npos);
    CHECK(s.message().find("truncated varint") != std::string::npos);
  }
  SECTION("a wrong wire type for a string and for a message") {
    Status s = DecodeError(*r, Envelope("v1", "ConfigMap", BytesField(1, VarintField(1, 5))));
    CHECK(s.code() == Code::kBadRequest);
    CHECK(s.message() == "protobuf: metadata.name: wire type varint, expected length-delimited");
    CHECK(DecodeError(*r, Envelope("v1", "ConfigMap", VarintField(1, 1))).code() ==
          Code::kBadRequest);
    CHECK(DecodeError(*r, Envelope("test.mini8s.io/v1", "Wire", BytesField(13, "x"))).code() ==
          Code::kBadRequest);
  }
  SECTION("a nesting bomb stops at the depth bound") {
    std::string msg;
    for (int i = 0; i < 5000; ++i) msg = BytesField(15, msg);
    Status s = DecodeError(*r, Envelope("test.mini8s.io/v1", "Wire", msg));
    CHECK(s.code() == Code::kBadRequest);
    CHECK(s.message().find("nested deeper") != std::string::npos);
  }
  SECTION("envelopes nested in raw extensions are bounded too") {
    std::string body = Envelope("test.mini8s.io/v1", "Wire", "");
    for (int i = 0; i < 200; ++i) {
      body = Envelope("test.mini8s.io/v1", "Wire", BytesField(6, BytesField(1, body)));
    }
    CHECK(DecodeError(*r, body).code() == Code::kBadRequest);
  }
  SECTION("content encodings and foreign content types are unsupported media") {
    std::string tm = BytesField(1, BytesField(1, "v1") + BytesField(2, "ConfigMap"));
    std::string gz = std::string("k8s\0", 4) + tm + BytesField(2, "") + BytesField(3, "gzip");
    CHECK(DecodeError(*r, gz).code() == Code::kUnsupportedMedia);
    CHECK(DecodeError(*r, Envelope("v1", "ConfigMap", "", "application/cbor")).code() ==
          Code::kUnsupportedMedia);
  }
  SECTION("custom resources have no protobuf form") {
    Status s = DecodeError(*r, Envelope("example.com/v1", "Widget", ""));
    CHECK(s.code() == Code::kUnsupportedMedia);
    CHECK(s.message().find("custom resource") != std::string::npos);
  }
}

TEST_CASE("Protobuf: an envelope holding JSON is accepted", "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  CHECK(Decode(*r, Envelope("v1", "ConfigMap", R"({"data":{"a":"b"}})", "application/json")) ==
        J(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"}})"));
}

TEST_CASE("Protobuf: random corruption of real bodies never crashes", "[api_protobuf][unit]") {
  auto r = MakeRegistry();
  std::mt19937 rng(42);  // fixed seed: deterministic
  const std::vector<std::string> seeds = {FromHex(kNamespaceHex), FromHex(kConfigMapHex),
                                          MinimalDeployment(2, 0)};
  int decoded = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string body = seeds[static_cast<size_t>(round) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = 4 + rng() % (body.size() - 4);
      switch (rng() % 3) {
        case 0:
          body[pos] = static_cast<char>(rng() & 0xff);
          break;
        case 1:
          body.erase(pos, 1 + rng() % 8);
          break;
        default:
          body.insert(pos, 1, static_cast<char>(rng() & 0xff));
          break;
      }
      if (body.size() <= 5) body = seeds[0];
    }
    Result<json::value> v = DecodeProtobuf(*r, body);
    if (v.ok()) {
      ++decoded;
    } else {
      ++rejected;
      CHECK((v.error().code() == Code::kBadRequest || v.error().code() == Code::kUnsupportedMedia));
    }
  }
  CHECK(decoded + rejected == 3000);
  CHECK(rejected > 0);
}

TEST_CASE("Protobuf: the generated fact tables are sorted and consistent", "[api_protobuf][unit]") {
  using namespace protobuf_internal;
  auto zero = KeepZeroFields();
  REQUIRE(zero.size() > 100);
  CHECK(std::is_sorted(zero.begin(), zero.end(), [](const auto& a, const auto& b) {
    return a.definition != b.definition ? a.definition < b.definition : a.name < b.name;
  }));
  CHECK(IsKeepZeroField("io.k8s.api.apps.v1.DeploymentSpec", "replicas"));
  CHECK_FALSE(IsKeepZeroField("io.k8s.api.apps.v1.DeploymentSpec", "minReadySeconds"));
  CHECK(IsKeepZeroField("io.k8s.api.authorization.v1.SubjectAccessReviewStatus", "allowed"));
  CHECK(IsKeepZeroField("io.k8s.api.core.v1.Container", "name"));
  CHECK_FALSE(IsKeepZeroField("io.k8s.api.core.v1.Container", "image"));
  for (const InlineField& f : InlineFields()) {
    INFO(f.parent << " " << f.number << " " << f.target);
    bool has_tags = std::any_of(InlineTags().begin(), InlineTags().end(),
                                [&](const InlineTag& t) { return t.definition == f.target; });
    CHECK(has_tags);
  }
  CHECK(FindInlineField("io.k8s.api.core.v1.Volume", 2) == "io.k8s.api.core.v1.VolumeSource");
  CHECK(FindInlineTagName("io.k8s.api.core.v1.VolumeSource", 19) == "configMap");
  CHECK_FALSE(FindInlineField("io.k8s.api.core.v1.Volume", 1).has_value());
}

}  // namespace
}  // namespace mini8s::api
