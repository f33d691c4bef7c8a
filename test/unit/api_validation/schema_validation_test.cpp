#include <memory>
#include <string>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/registry.h"
#include "mini8s/api/validation.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

std::vector<std::string> Render(const ErrorList& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.ToString());
  return out;
}

// A small CRD-like schema built by hand: spec{replicas int 0..10, name string(required,
// maxLength 5, pattern), mode enum, ports list-map keyed by name (maxItems 2), tags set}.
struct CrdSchema {
  Schema root, spec, replicas, name, mode, ports, port, port_name, port_num, tags, tag, flag;
  CrdSchema() {
    root.type = Type::kObject;
    root.properties = {{"spec", &spec}};
    spec.type = Type::kObject;
    spec.required = {"name"};
    spec.properties = {{"replicas", &replicas}, {"name", &name}, {"mode", &mode},
                       {"ports", &ports},       {"tags", &tags}, {"flag", &flag}};
    replicas.type = Type::kInteger;
    replicas.minimum = 0;
    replicas.maximum = 10;
    name.type = Type::kString;
    name.max_length = 5;
    name.min_length = 2;
    name.pattern = "^[a-z]+$";
    mode.type = Type::kString;
    mode.enum_values = {"fast", "slow"};
    ports.type = Type::kArray;
    ports.items = &port;
    ports.max_items = 2;
    ports.list_type = "map";
    ports.list_map_keys = {"name"};
    port.type = Type::kObject;
    port.properties = {{"name", &port_name}, {"port", &port_num}};
    port_name.type = Type::kString;
    port_num.type = Type::kInteger;
    tags.type = Type::kArray;
    tags.items = &tag;
    tags.list_type = "set";
    tag.type = Type::kString;
    flag.type = Type::kBoolean;
  }
};

TEST_CASE("SchemaValidation: custom resources get every OpenAPI constraint as a 422 cause",
          "[api_validation][unit]") {
  CrdSchema s;
  SchemaValidationOptions opts;
  opts.custom_resource = true;
  json::value obj = json::parse(R"({"apiVersion": "x.io/v1", "kind": "T", "metadata": {"name": "a"},
    "spec": {"replicas": 11, "mode": "medium", "flag": "yes", "extra": 1,
             "ports": [{"name": "a", "port": 1}, {"name": "a", "port": "two"}, {"name": "b"}],
             "tags": ["x", "x"]}})");
  auto r = ValidateAgainstSchema(s.root, obj, opts);
  CHECK(Render(r.errors) ==
        std::vector<std::string>{
            "spec.name: Required value",
            "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or "
            "equal to 10",
            "spec.mode: Unsupported value: \"medium\": supported values: \"fast\", \"slow\"",
            "spec.flag: Invalid value: \"string\": spec.flag in body must be of type boolean: "
            "\"string\"",
            "spec.ports: Too many: 3: must have at most 2 items",
            "spec.ports[1]: Duplicate value: map[string]interface {}{\"name\":\"a\"}",
            "spec.ports[1].port: Invalid value: \"string\": spec.ports[1].port in body must be of "
            "type integer: \"string\"",
            "spec.tags[1]: Duplicate value: \"x\"",
        });
  REQUIRE(r.errors.size() > 3);
  CHECK(r.errors[3].type == ErrorType::kTypeInvalid);
  CHECK(r.unknown_fields == std::vector<std::string>{"spec.extra"});

  json::value strings = json::parse(R"({"spec": {"name": "TOOLONG"}})");
  auto r2 = ValidateAgainstSchema(s.root, strings, opts);
  CHECK(Render(r2.errors) ==
        std::vector<std::string>{
            "spec.name: Too long: may not be more than 5 bytes",
            "spec.name: Invalid value: \"TOOLONG\": spec.name in body should match '^[a-z]+$'"});
  json::value short_name = json::parse(R"({"spec": {"name": "a"}})");
  CHECK(Render(ValidateAgainstSchema(s.root, short_name, opts).errors) ==
        std::vector<std::string>{
            "spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long"});
  s.mode.enum_values.clear();
  s.mode.format = "date-time";
  json::value when = json::parse(R"({"spec": {"name": "ab", "mode": "yesterday"}})");
  CHECK(Render(ValidateAgainstSchema(s.root, when, opts).errors) ==
        std::vector<std::string>{"spec.mode: Invalid value: \"yesterday\": spec.mode in body "
                                 "must be of type date-time: \"yesterday\""});
  json::value now = json::parse(R"({"spec": {"name": "ab", "mode": "2024-05-01T10:00:00Z"}})");
  CHECK(ValidateAgainstSchema(s.root, now, opts).errors.empty());
  s.mode.format.clear();
  s.mode.enum_values = {"fast", "slow"};
  json::value ok = json::parse(R"({"spec": {"name": "web", "replicas": 3, "mode": "fast"}})");
  CHECK(ValidateAgainstSchema(s.root, ok, opts).errors.empty());
}

TEST_CASE("SchemaValidation: pruning drops unknown fields but keeps the object's envelope",
          "[api_validation][unit]") {
  CrdSchema s;
  json::value obj = json::parse(R"({"apiVersion": "x.io/v1", "kind": "T",
    "metadata": {"name": "a"}, "spec": {"name": "web", "junk": true}, "status": {"x": 1}})");
  PruneUnknownFields(s.root, obj);
  CHECK(obj == json::parse(R"({"apiVersion": "x.io/v1", "kind": "T",
    "metadata": {"name": "a"}, "spec": {"name": "web"}})"));
}

TEST_CASE("SchemaValidation: built-in type mismatches are decode errors like upstream's",
          "[api_validation][unit]") {
  auto registry = Registry::NewBuiltin();
  REQUIRE(registry);
  auto pod = registry->FindKind("", "v1", "Pod");
  REQUIRE(pod);
  REQUIRE(pod->schema != nullptr);

  json::value good = json::parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "namespace": "default", "labels": {"a": "b"},
                 "creationTimestamp": null},
    "spec": {"containers": [{"name": "c", "image": "nginx",
      "ports": [{"containerPort": 80, "protocol": "TCP"}],
      "resources": {"limits": {"cpu": "500m", "memory": 128974848}},
      "livenessProbe": {"httpGet": {"port": "http", "path": "/"}}}]}})");
  auto g = ValidateAgainstSchema(*pod->schema, good);
  CHECK(g.decode_errors.empty());
  CHECK(g.unknown_fields.empty());
  CHECK(g.errors.empty());

  json::value bad = json::parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"foo": 1, "containers": [{"name": "c", "image": "nginx", "bar": 2,
      "ports": [{"containerPort": "80"}, {"containerPort": 3000000000}],
      "resources": {"limits": {"cpu": "1 core"}}}]}})");
  auto b = ValidateAgainstSchema(*pod->schema, bad);
  CHECK(b.decode_errors ==
        std::vector<std::string>{"json: cannot unmarshal string into Go struct field "
                                 "ContainerPort.spec.containers.ports.containerPort of type int32",
                                 "json: cannot unmarshal number 3000000000 into Go struct field "
                                 "ContainerPort.spec.containers.ports.containerPort of type int32",
                                 "quantities must match the regular expression "
                                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"});
  CHECK(b.unknown_fields == std::vector<std::string>{"spec.foo", "spec.containers[0].bar"});

  CHECK(CannotBeHandledMessage("Pod", "v1", StrictDecodingMessage(b.unknown_fields)) ==
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field "
        "\"spec.foo\", unknown field \"spec.containers[0].bar\"");
  CHECK(UnknownFieldMessage("spec.foo") == "unknown field \"spec.foo\"");

  json::value wrong_struct = json::parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p"}, "spec": "none"})");
  CHECK(ValidateAgainstSchema(*pod->schema, wrong_struct).decode_errors ==
        std::vector<std::string>{
            "json: cannot unmarshal string into Go struct field Pod.spec of type v1.PodSpec"});

  auto secret = registry->FindKind("", "v1", "Secret");
  REQUIRE(secret);
  json::value bad_b64 = json::parse(R"({"apiVersion": "v1", "kind": "Secret",
    "metadata": {"name": "s"}, "data": {"k": "not base64!"}})");
  CHECK(ValidateAgainstSchema(*secret->schema, bad_b64).decode_errors ==
        std::vector<std::string>{"illegal base64 data at input byte 3"});
}

}  // namespace
}  // namespace mini8s::api
