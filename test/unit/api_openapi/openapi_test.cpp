#include "mini8s/api/openapi.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>
#include <catch2/catch.hpp>

namespace mini8s::api {
namespace {

namespace json = boost::json;

json::value CronTabCrd() {
  return json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {
      "group": "stable.example.com", "scope": "Namespaced",
      "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
      "versions": [
        {"name": "v1", "served": true, "storage": true,
         "schema": {"openAPIV3Schema": {"type": "object", "description": "A cron job.",
           "properties": {
           "spec": {"type": "object", "required": ["cronSpec"], "properties": {
             "cronSpec": {"type": "string", "pattern": "^\\S+$", "description": "When."},
             "replicas": {"type": "integer", "format": "int32", "minimum": 1, "default": 1},
             "port": {"x-kubernetes-int-or-string": true},
             "mode": {"type": "string", "enum": ["a", "b"]},
             "workers": {"type": "array", "x-kubernetes-list-type": "map",
                         "x-kubernetes-list-map-keys": ["name"],
                         "items": {"type": "object", "required": ["name"], "properties": {
                           "name": {"type": "string"}}}}}},
           "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}},
         "subresources": {"status": {}}}]}})");
}

const json::object& Obj(const json::value& v, std::string_view key) {
  return v.as_object().at(key).as_object();
}

// Every "$ref" in `doc`, with the names under `prefix` that it points at.
std::set<std::string> Refs(const json::value& doc, std::string_view prefix) {
  std::set<std::string> out;
  std::function<void(const json::value&)> walk = [&](const json::value& v) {
    if (v.is_object()) {
      for (const auto& kv : v.get_object()) {
        if (kv.key() == "$ref" && kv.value().is_string()) {
          std::string_view ref = kv.value().get_string();
          if (ref.substr(0, prefix.size()) == prefix) {
            out.insert(std::string(ref.substr(prefix.size())));
          } else {
            out.insert("<bad prefix> " + std::string(ref));
          }
        } else {
          walk(kv.value());
        }
      }
    } else if (v.is_array()) {
      for (const auto& e : v.get_array()) walk(e);
    }
  };
  walk(doc);
  return out;
}

std::string GvPath(const KindInfo& k) {
  return k.group.empty() ? "api/" + k.version : "apis/" + k.group + "/" + k.version;
}

bool HasGvk(const json::value& ext, const GroupVersionKind& gvk) {
  auto match = [&](const json::value& e) {
    const json::object& o = e.as_object();
    return o.at("group").as_string() == gvk.group && o.at("version").as_string() == gvk.version &&
           o.at("kind").as_string() == gvk.kind;
  };
  if (ext.is_array()) {
    for (const auto& e : ext.get_array()) {
      if (match(e)) return true;
    }
    return false;
  }
  return match(ext);
}

// The patch operation of `kind` in its document, the way kubectl's fieldValidation probe finds
// it: any path whose patch carries the GVK.
const json::object* FindPatch(const json::object& doc, const GroupVersionKind& gvk) {
  for (const auto& path : doc.at("paths").as_object()) {
    const json::value* patch = path.value().as_object().if_contains("patch");
    if (patch == nullptr) continue;
    const json::value* ext = patch->as_object().if_contains("x-kubernetes-group-version-kind");
    if (ext != nullptr && HasGvk(*ext, gvk)) return &patch->as_object();
  }
  return nullptr;
}

bool HasQueryParam(const json::object& op, std::string_view name) {
  const json::value* params = op.if_contains("parameters");
  if (params == nullptr) return false;
  for (const auto& p : params->as_array()) {
    if (p.as_object().at("name").as_string() == name &&
        p.as_object().at("in").as_string() == "query") {
      return true;
    }
  }
  return false;
}

TEST_CASE("OpenAPI: the v3 root lists every group-version with its document's hash",
          "[api_openapi][unit]") {
  auto reg = Registry::NewBuiltin();
  json::object root = OpenApiV3Root(*reg);
  const json::object& paths = root.at("paths").as_object();
  REQUIRE(paths.contains("api/v1"));
  REQUIRE(paths.contains("apis/apps/v1"));
  REQUIRE(paths.contains("apis/rbac.authorization.k8s.io/v1"));
  for (const auto& kv : paths) {
    std::string url(kv.value().as_object().at("serverRelativeURL").as_string());
    std::string gv(kv.key());
    INFO(url);
    REQUIRE(url.rfind("/openapi/v3/" + gv + "?hash=", 0) == 0);
    std::string hash = url.substr(url.find("hash=") + 5);
    CHECK(hash.size() == 128);
    Result<json::object> doc = OpenApiV3Document(*reg, gv);
    REQUIRE(doc.ok());
    CHECK(hash == OpenApiHash(json::serialize(*doc)));
  }
  CHECK(OpenApiV3Document(*reg, "apis/nothing.example.com/v1").status().code() == Code::kNotFound);
}

TEST_CASE("OpenAPI: every resource has a patch with its GVK and fieldValidation, and a schema",
          "[api_openapi][unit]") {
  auto reg = Registry::NewBuiltin();
  std::map<std::string, json::object> docs;
  size_t checked = 0;
  for (const auto& kind : reg->Kinds()) {
    if (kind->subresource_only || kind->plural.empty()) continue;
    std::string gv = GvPath(*kind);
    if (!docs.count(gv)) docs.emplace(gv, OpenApiV3Document(*reg, gv).value());
    const json::object& doc = docs.at(gv);
    GroupVersionKind gvk{kind->group, kind->version, kind->kind};
    INFO(gv << " " << kind->kind);
    CHECK(doc.at("openapi").as_string() == "3.0.0");
    if (kind->HasVerb("patch")) {
      const json::object* patch = FindPatch(doc, gvk);
      REQUIRE(patch != nullptr);
      CHECK(HasQueryParam(*patch, "fieldValidation"));
      CHECK(HasQueryParam(*patch, "dryRun"));
      CHECK(HasQueryParam(*patch, "fieldManager"));
      CHECK(patch->at("x-kubernetes-action").as_string() == "patch");
      const json::object& content = Obj(patch->at("requestBody"), "content");
      CHECK(content.contains("application/merge-patch+json"));
      CHECK(content.contains("application/apply-patch+yaml"));
      CHECK(content.contains("application/strategic-merge-patch+json"));
    }
    // The kind's definition carries its GVK (what kubectl explain and apply look up).
    const json::object& schemas = Obj(doc.at("components"), "schemas");
    REQUIRE(schemas.contains(kind->schema->definition));
    const json::object& def = schemas.at(kind->schema->definition).as_object();
    REQUIRE(def.contains("x-kubernetes-group-version-kind"));
    CHECK(HasGvk(def.at("x-kubernetes-group-version-kind"), gvk));
    ++checked;
  }
  CHECK(checked > 40);
}

TEST_CASE("OpenAPI: no v3 document has a dangling $ref", "[api_openapi][unit]") {
  auto reg = Registry::NewBuiltin();
  for (const std::string& gv : OpenApiGroupVersionPaths(*reg)) {
    json::object doc = OpenApiV3Document(*reg, gv).value();
    const json::object& schemas = Obj(doc.at("components"), "schemas");
    for (const std::string& name : Refs(doc, "#/components/schemas/")) {
      INFO(gv << ": " << name);
      CHECK(schemas.contains(name));
    }
  }
}

TEST_CASE("OpenAPI: Pod and Deployment schemas carry the facts kubectl explain and apply need",
          "[api_openapi][unit]") {
  auto reg = Registry::NewBuiltin();
  json::object core = OpenApiV3Document(*reg, "/api/v1").value();
  const json::object& schemas = Obj(core.at("components"), "schemas");
  const json::object& pod_spec = schemas.at("io.k8s.api.core.v1.PodSpec").as_object();
  const json::object& containers = Obj(pod_spec.at("properties"), "containers");
  CHECK(containers.at("type").as_string() == "array");
  CHECK(containers.at("x-kubernetes-patch-merge-key").as_string() == "name");
  CHECK(containers.at("x-kubernetes-patch-strategy").as_string() == "merge");
  CHECK(Obj(containers, "items").at("$ref").as_string() ==
        "#/components/schemas/io.k8s.api.core.v1.Container");
  CHECK(json::value_to<std::vector<std::string>>(pod_spec.at("required")) ==
        std::vector<std::string>{"containers"});
  const json::object& resources =
      Obj(schemas.at("io.k8s.api.core.v1.ResourceRequirements"), "properties");
  const json::object& limits = resources.at("limits").as_object();
  CHECK(limits.at("type").as_string() == "object");
  CHECK(Obj(limits, "additionalProperties").at("$ref").as_string() ==
        "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity");
  const json::object& port = Obj(schemas.at("io.k8s.api.core.v1.ContainerPort"), "properties");
  CHECK(port.at("containerPort").as_object().at("format").as_string() == "int32");
  // OpenAPI 3 spells the two-typed scalars with oneOf (kubectl explain shows <IntOrString>).
  const json::object& int_or_string =
      schemas.at("io.k8s.apimachinery.pkg.util.intstr.IntOrString").as_object();
  CHECK(int_or_string.at("format").as_string() == "int-or-string");
  CHECK(int_or_string.at("oneOf").as_array().size() == 2);
  CHECK_FALSE(int_or_string.contains("type"));
  CHECK(schemas.at("io.k8s.apimachinery.pkg.api.resource.Quantity").as_object().contains("oneOf"));

  // Pod paths: namespaced and cluster-wide list, the status and exec subresources.
  const json::object& paths = core.at("paths").as_object();
  REQUIRE(paths.contains("/api/v1/namespaces/{namespace}/pods/{name}"));
  REQUIRE(paths.contains("/api/v1/pods"));
  REQUIRE(paths.contains("/api/v1/watch/namespaces/{namespace}/pods"));
  const json::object& item = Obj(paths.at("/api/v1/namespaces/{namespace}/pods/{name}"), "get");
  CHECK(item.at("operationId").as_string() == "readCoreV1NamespacedPod");
  CHECK(Obj(Obj(item.at("responses"), "200").at("content"), "application/json")
            .at("schema")
            .as_object()
            .at("$ref")
            .as_string() == "#/components/schemas/io.k8s.api.core.v1.Pod");
  REQUIRE(paths.contains("/api/v1/namespaces/{namespace}/pods/{name}/status"));
  const json::object& status =
      paths.at("/api/v1/namespaces/{namespace}/pods/{name}/status").as_object();
  CHECK(status.contains("get"));
  CHECK(status.contains("patch"));
  CHECK(status.contains("put"));

  json::object apps = OpenApiV3Document(*reg, "apis/apps/v1").value();
  const json::object& apps_paths = apps.at("paths").as_object();
  REQUIRE(apps_paths.contains("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"));
  const json::object& scale =
      Obj(apps_paths.at("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"), "put");
  CHECK(scale.at("operationId").as_string() == "replaceAppsV1NamespacedDeploymentScale");
  const json::object& scale_gvk = scale.at("x-kubernetes-group-version-kind").as_object();
  CHECK(scale_gvk.at("group").as_string() == "autoscaling");
  CHECK(scale_gvk.at("kind").as_string() == "Scale");
  const json::object& apps_schemas = Obj(apps.at("components"), "schemas");
  CHECK(apps_schemas.contains("io.k8s.api.autoscaling.v1.Scale"));
  CHECK(apps_schemas.contains("io.k8s.api.apps.v1.DeploymentList"));
  CHECK(apps_schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  CHECK(apps_schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"));
  CHECK_FALSE(apps_schemas.contains("io.k8s.api.batch.v1.Job"));  // only what is reachable
  const json::object& strategy =
      Obj(apps_schemas.at("io.k8s.api.apps.v1.DeploymentSpec"), "properties")
          .at("strategy")
          .as_object();
  // kubectl explain follows either a plain $ref or an allOf-wrapped one.
  std::string ref =
      strategy.contains("$ref")
          ? std::string(strategy.at("$ref").as_string())
          : std::string(strategy.at("allOf").as_array()[0].as_object().at("$ref").as_string());
  CHECK(ref == "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy");
}

TEST_CASE("OpenAPI: a CRD gets its own document and changes only the root's entries",
          "[api_openapi][unit]") {
  auto reg = Registry::NewBuiltin();
  OpenApiCache cache(*reg);
  auto before = cache.V3();
  REQUIRE(before->by_gv.count("apis/apps/v1") == 1);
  CHECK_FALSE(before->by_gv.count("apis/stable.example.com/v1"));
  CHECK(cache.V3() == before);  // unchanged registry: no rebuild
  CHECK(cache.V3Document("apis/stable.example.com/v1").status().code() == Code::kNotFound);

  REQUIRE(reg->AddCustomResource(CronTabCrd()).ok());
  auto after = cache.V3();
  REQUIRE(after != before);
  REQUIRE(after->by_gv.count("apis/stable.example.com/v1") == 1);
  CHECK(after->root.hash != before->root.hash);
  CHECK(after->by_gv.at("apis/apps/v1").hash == before->by_gv.at("apis/apps/v1").hash);
  CHECK(
      json::parse(after->root.body).at("paths").as_object().contains("apis/stable.example.com/v1"));

  Result<OpenApiCache::Document> doc_text = cache.V3Document("/apis/stable.example.com/v1");
  REQUIRE(doc_text.ok());
  json::value doc = json::parse(doc_text->body);
  const json::object* patch = FindPatch(doc.as_object(), {"stable.example.com", "v1", "CronTab"});
  REQUIRE(patch != nullptr);
  CHECK(HasQueryParam(*patch, "fieldValidation"));
  // No strategic merge patch for custom resources (kubectl then uses a JSON merge patch).
  CHECK_FALSE(
      Obj(patch->at("requestBody"), "content").contains("application/strategic-merge-patch+json"));
  const json::object& schemas = Obj(doc.at("components"), "schemas");
  const json::object& crontab = schemas.at("com.example.stable.v1.CronTab").as_object();
  CHECK(crontab.at("description").as_string() == "A cron job.");
  CHECK(HasGvk(crontab.at("x-kubernetes-group-version-kind"),
               {"stable.example.com", "v1", "CronTab"}));
  const json::object& spec = Obj(crontab.at("properties"), "spec");
  const json::object& props = spec.at("properties").as_object();
  CHECK(props.at("cronSpec").as_object().at("pattern").as_string() == "^\\S+$");
  CHECK(props.at("replicas").as_object().at("default") == json::value(1));
  CHECK(props.at("port").as_object().at("x-kubernetes-int-or-string") == json::value(true));
  CHECK(props.at("mode").as_object().at("enum") == json::parse(R"(["a","b"])"));
  CHECK(props.at("workers").as_object().at("x-kubernetes-list-type").as_string() == "map");
  const json::object& list = schemas.at("com.example.stable.v1.CronTabList").as_object();
  CHECK(Obj(Obj(list.at("properties"), "items"), "items").at("$ref").as_string() ==
        "#/components/schemas/com.example.stable.v1.CronTab");
  for (const std::string& name : Refs(doc, "#/components/schemas/")) {
    INFO(name);
    CHECK(schemas.contains(name));
  }
  CHECK(doc.at("paths").as_object().contains(
      "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status"));

  REQUIRE(reg->RemoveCustomResource("crontabs.stable.example.com").ok());
  CHECK(cache.V3Document("apis/stable.example.com/v1").status().code() == Code::kNotFound);
  CHECK(cache.V3()->root.hash == before->root.hash);
}

// A minimal protobuf reader for the test: the length-delimited fields `field` of `msg`.
std::vector<std::string_view> Fields(std::string_view msg, uint32_t field) {
  std::vector<std::string_view> out;
  size_t i = 0;
  auto varint = [&]() {
    uint64_t v = 0;
    for (int shift = 0; i < msg.size(); shift += 7) {
      auto b = static_cast<uint8_t>(msg[i++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  };
  while (i < msg.size()) {
    uint64_t key = varint();
    switch (key & 7) {
      case 0:
        varint();
        break;
      case 1:
        i += 8;
        break;
      case 2: {
        uint64_t len = varint();
        REQUIRE(i + len <= msg.size());
        if ((key >> 3) == field) out.push_back(msg.substr(i, len));
        i += len;
        break;
      }
      default:
        FAIL("unexpected wire type " << (key & 7));
    }
  }
  return out;
}

TEST_CASE("OpenAPI: v2 is swagger 2.0 with resolvable refs and a matching protobuf encoding",
          "[api_openapi][unit]") {
  auto reg = Registry::NewBuiltin();
  json::object swagger = OpenApiV2Json(*reg);
  CHECK(swagger.at("swagger").as_string() == "2.0");
  const json::object& defs = swagger.at("definitions").as_object();
  for (const std::string& name : Refs(swagger, "#/definitions/")) {
    INFO(name);
    CHECK(defs.contains(name));
  }
  const json::object& patch = Obj(
      swagger.at("paths").at("/apis/apps/v1/namespaces/{namespace}/deployments/{name}"), "patch");
  CHECK(patch.at("x-kubernetes-group-version-kind").at("kind").as_string() == "Deployment");
  CHECK(HasQueryParam(patch, "fieldValidation"));
  CHECK(defs.at("io.k8s.api.apps.v1.Deployment").at("x-kubernetes-group-version-kind").is_array());

  std::string proto = EncodeOpenApiV2Protobuf(swagger);
  REQUIRE(Fields(proto, 1).size() == 1);
  CHECK(Fields(proto, 1)[0] == "2.0");
  // Document.definitions(9).additional_properties(1): NamedSchema{name 1, value 2}.
  auto definitions = Fields(Fields(proto, 9).at(0), 1);
  CHECK(definitions.size() == defs.size());
  std::set<std::string_view> names;
  for (auto named : definitions) names.insert(Fields(named, 1).at(0));
  CHECK(names.count("io.k8s.api.core.v1.Pod") == 1);
  // Document.paths(8).path(2): NamedPathItem; the deployment item has a patch(8) whose
  // vendor_extension(13) carries the GVK as YAML.
  auto paths = Fields(Fields(proto, 8).at(0), 2);
  CHECK(paths.size() == swagger.at("paths").as_object().size());
  bool found = false;
  for (auto named : paths) {
    if (Fields(named, 1).at(0) != "/apis/apps/v1/namespaces/{namespace}/deployments/{name}") {
      continue;
    }
    found = true;
    auto op = Fields(Fields(named, 2).at(0), 8).at(0);
    bool gvk = false;
    for (auto ext : Fields(op, 13)) {
      if (Fields(ext, 1).at(0) != "x-kubernetes-group-version-kind") continue;
      json::value value = json::parse(Fields(Fields(ext, 2).at(0), 2).at(0));
      gvk = value.at("kind") == "Deployment" && value.at("group") == "apps";
    }
    CHECK(gvk);
  }
  CHECK(found);
  CHECK(OpenApiV2Protobuf(*reg) == proto);
}

TEST_CASE("OpenAPI: building every v3 document is fast enough to do on a CRD change",
          "[api_openapi][unit]") {
  auto reg = Registry::NewBuiltin();
  OpenApiCache cache(*reg);
  auto snapshot = cache.V3();
  size_t bytes = 0;
  for (const auto& [gv, doc] : snapshot->by_gv) bytes += doc.body.size();
  WARN("built " << snapshot->by_gv.size() << " v3 documents (" << bytes / 1024 << " KiB) in "
                << snapshot->build_ms << " ms");
  auto start = std::chrono::steady_clock::now();
  auto v2 = cache.V2Protobuf();
  double v2_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  WARN("built v2 JSON + protobuf (" << v2.body.size() / 1024 << " KiB protobuf) in " << v2_ms
                                    << " ms");
  CHECK(snapshot->build_ms < 5000);
  CHECK(!v2.body.empty());
}

}  // namespace
}  // namespace mini8s::api
