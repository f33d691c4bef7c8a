// The decoder against the generated built-in registry (real field numbers merged from
// src/api/core/gen/proto_tags.json), fed with the bodies kubectl 1.32.4 sent
// (kubectl-wire.md, appendix: auth_can_i, auth_can_i_list_whoami, create_token,
// create_imperative_protobuf_415).
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/protobuf.h"
#include "mini8s/api/registry.h"
#include "unit/api_protobuf/proto_encoder.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;
using testing::BytesField;
using testing::Envelope;
using testing::FromHex;
using testing::MapEntry;
using testing::VarintField;

const Registry& Builtin() {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  return *registry;
}

json::value DecodeHex(std::string_view hex, std::vector<std::string>* unknown = nullptr) {
  ProtobufDecodeOptions options;
  options.unknown_fields = unknown;
  Result<json::value> v = DecodeProtobuf(Builtin(), FromHex(hex), options);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  return *v;
}

TEST_CASE("Protobuf: the built-in registry carries the merged field numbers",
          "[api_protobuf][unit]") {
  auto cm = Builtin().FindByApiVersionKind("v1", "ConfigMap");
  REQUIRE(cm != nullptr);
  REQUIRE(cm->schema != nullptr);
  const Property* data = cm->schema->FindProperty("data");
  REQUIRE(data != nullptr);
  CHECK(data->proto_tag == 2);
  const Property* meta = cm->schema->FindProperty("metadata");
  REQUIRE(meta != nullptr);
  CHECK(meta->proto_tag == 1);
  CHECK(meta->schema->definition == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  CHECK(meta->schema->FindProperty("labels")->proto_tag == 11);
  CHECK(cm->schema->FindProperty("apiVersion")->proto_tag == 0);
}

TEST_CASE("Protobuf: kubectl's auth and token bodies decode with the built-in registry",
          "[api_protobuf][unit]") {
  std::vector<std::string> unknown;
  // auth can-i get pods
  CHECK(DecodeHex("6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f763112175365"
                  "6c665375626a656374416363657373526576696577123c0a100a0012001a0022002a0032"
                  "0038004200121e0a1c0a0764656661756c7412036765741a0022002a04706f6473320"
                  "03a001a08080012001a0020001a002200",
                  &unknown) ==
        json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
          "metadata":{},"spec":{"resourceAttributes":{"namespace":"default","verb":"get",
          "resource":"pods"}},"status":{"allowed":false}})"));
  // auth can-i --list
  CHECK(DecodeHex("6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f763112165365"
                  "6c665375626a65637452756c657352657669657712230a100a0012001a0022002a003200"
                  "3800420012090a0764656661756c741a04180022001a002200",
                  &unknown) ==
        json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview",
          "metadata":{},"spec":{"namespace":"default"},"status":{"incomplete":false}})"));
  // auth whoami
  CHECK(DecodeHex("6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f763112115365"
                  "6c665375626a656374526576696577121a0a100a0012001a0022002a0032003800420012"
                  "060a040a0012001a002200",
                  &unknown) ==
        json::parse(R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview",
          "metadata":{},"status":{"userInfo":{}}})"));
  // create token sa
  CHECK(DecodeHex("6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f"
                  "6b656e52657175657374121a0a100a0012001a0022002a0032003800420012001a040a00"
                  "12001a002200",
                  &unknown) ==
        json::parse(R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",
          "metadata":{},"spec":{},"status":{"token":""}})"));
  CHECK(unknown.empty());
}

TEST_CASE("Protobuf: kubectl's create bodies decode with the built-in registry",
          "[api_protobuf][unit]") {
  CHECK(DecodeHex("6b3873000a0f0a02763112094e616d657370616365121b0a130a03666f6f12001a0022"
                  "002a0032003800420012001a020a001a002200") ==
        json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"foo"},
          "spec":{},"status":{}})"));
  CHECK(DecodeHex("6b3873000a0f0a0276311209436f6e6669674d6170121c0a120a02636d12001a0022002a"
                  "0032003800420012060a01611201621a002200") ==
        json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},
          "data":{"a":"b"}})"));
}

TEST_CASE("Protobuf: built-in inline messages, bytes and pointers decode by their real numbers",
          "[api_protobuf][unit]") {
  // A pod with a configMap volume (VolumeSource inline in Volume, LocalObjectReference inline in
  // ConfigMapVolumeSource), an httpGet probe (ProbeHandler inline in Probe) and a *bool false.
  std::string container =
      BytesField(1, "c") + BytesField(2, "busybox") +
      BytesField(10, BytesField(1, BytesField(2, BytesField(1, "/") +
                                                     BytesField(2, VarintField(2, 8080))))) +
      BytesField(15, VarintField(6, 0) /* readOnlyRootFilesystem: *bool false */);
  std::string volume =
      BytesField(1, "v") + BytesField(2, BytesField(19, BytesField(1, BytesField(1, "cfg"))));
  std::string pod = BytesField(1, BytesField(1, "p")) +
                    BytesField(2, BytesField(1, volume) + BytesField(2, container) +
                                      VarintField(21, 0) /* automountServiceAccountToken */);
  Result<json::value> v = DecodeProtobuf(Builtin(), Envelope("v1", "Pod", pod));
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  INFO(json::serialize(*v));
  CHECK(*v == json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
    "spec":{"volumes":[{"name":"v","configMap":{"name":"cfg"}}],
            "containers":[{"name":"c","image":"busybox",
                           "livenessProbe":{"httpGet":{"path":"/","port":8080}},
                           "securityContext":{"readOnlyRootFilesystem":false}}],
            "automountServiceAccountToken":false}})"));

  std::string secret = BytesField(1, BytesField(1, "s")) + MapEntry(2, "k", "\x01\x02\x03") +
                       BytesField(3, "Opaque");
  Result<json::value> s = DecodeProtobuf(Builtin(), Envelope("v1", "Secret", secret));
  REQUIRE(s.ok());
  CHECK(*s == json::parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
    "data":{"k":"AQID"},"type":"Opaque"})"));
}

TEST_CASE("Protobuf: a CRD's recursive schema and an event's MicroTime decode with the built-ins",
          "[api_protobuf][unit]") {
  std::string replicas = BytesField(5, "integer") + testing::DoubleField(11, 1);
  std::string spec_schema = BytesField(5, "object") + MapEntry(29, "replicas", replicas) +
                            VarintField(38, 1) /* x-kubernetes-preserve-unknown-fields */;
  std::string root = BytesField(5, "object") + MapEntry(29, "spec", spec_schema) +
                     BytesField(24, BytesField(1, BytesField(5, "string")));
  std::string version = BytesField(1, "v1") + VarintField(2, 1) + VarintField(3, 1) +
                        BytesField(4, BytesField(1, root)) + VarintField(7, 0);
  std::string crd =
      BytesField(1, BytesField(1, "widgets.example.com")) +
      BytesField(2, BytesField(1, "example.com") +
                        BytesField(3, BytesField(1, "widgets") + BytesField(4, "Widget")) +
                        BytesField(4, "Namespaced") + BytesField(7, version) + VarintField(10, 0));
  std::vector<std::string> unknown;
  ProtobufDecodeOptions options;
  options.unknown_fields = &unknown;
  Result<json::value> v = DecodeProtobuf(
      Builtin(), Envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd), options);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  INFO(json::serialize(*v));
  CHECK(*v == json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1",
    "kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","names":{"plural":"widgets","kind":"Widget"},
      "scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true,
        "schema":{"openAPIV3Schema":{"type":"object","items":{"type":"string"},
          "properties":{"spec":{"type":"object","x-kubernetes-preserve-unknown-fields":true,
            "properties":{"replicas":{"type":"integer","minimum":1.0}}}}}}}]}})"));
  CHECK(unknown.empty());

  std::string event = BytesField(1, BytesField(1, "e") + BytesField(3, "default")) +
                      BytesField(2, VarintField(1, 1700000000) + VarintField(2, 250000000)) +
                      BytesField(4, "mini8s/test") + BytesField(7, "Started") +
                      BytesField(8, BytesField(1, "Pod") + BytesField(3, "web")) +
                      BytesField(11, "Normal") + BytesField(13, "") + VarintField(15, 0);
  Result<json::value> e =
      DecodeProtobuf(Builtin(), Envelope("events.k8s.io/v1", "Event", event), options);
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  CHECK(*e == json::parse(R"({"apiVersion":"events.k8s.io/v1","kind":"Event",
    "metadata":{"name":"e","namespace":"default"},"eventTime":"2023-11-14T22:13:20.250000Z",
    "reportingController":"mini8s/test","reason":"Started",
    "regarding":{"kind":"Pod","name":"web"},"type":"Normal"})"));
}

}  // namespace
}  // namespace mini8s::api
