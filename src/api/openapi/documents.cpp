// The documents: /openapi/v3 (root and per group-version) and /openapi/v2 (JSON).
#include <set>

#include <boost/json/serialize.hpp>
#include <openssl/sha.h>

#include "api/openapi/generator.h"
#include "mini8s/api/openapi.h"

namespace mini8s::api {

namespace json = boost::json;
using openapi_internal::Dialect;
using openapi_internal::PathBuilder;
using openapi_internal::SchemaEmitter;

namespace {

constexpr std::string_view kTitle = "Kubernetes";
constexpr std::string_view kVersion = "v1.32.0";

std::string GvPath(std::string_view group, std::string_view version) {
  return group.empty() ? "api/" + std::string(version)
                       : "apis/" + std::string(group) + "/" + std::string(version);
}

// Does `kind` belong in the document of `gv_path`? Subresource-only kinds (Scale) have no paths
// but are published with their group-version, as upstream does.
bool InGroupVersion(const KindInfo& kind, std::string_view gv_path) {
  return GvPath(kind.group, kind.version) == gv_path;
}

json::object Info() { return json::object{{"title", kTitle}, {"version", kVersion}}; }

}  // namespace

std::vector<std::string> OpenApiGroupVersionPaths(const Registry& registry) {
  std::set<std::string> out;
  for (const auto& kind : registry.Kinds()) {
    if (kind->subresource_only || kind->plural.empty()) continue;
    out.insert(GvPath(kind->group, kind->version));
  }
  return {out.begin(), out.end()};
}

Result<json::object> OpenApiV3Document(const Registry& registry,
                                       std::string_view group_version_path) {
  while (!group_version_path.empty() && group_version_path.front() == '/') {
    group_version_path.remove_prefix(1);
  }
  SchemaEmitter schemas(registry, Dialect::kV3);
  PathBuilder builder{registry, Dialect::kV3, schemas};
  json::object paths;
  bool served = false;
  for (const auto& kind : registry.Kinds()) {
    if (!InGroupVersion(*kind, group_version_path)) continue;
    if (kind->schema != nullptr) schemas.Use(kind->schema);
    if (kind->subresource_only || kind->plural.empty()) continue;
    served = true;
    builder.AddResource(*kind, paths);
  }
  if (!served) {
    return Status::NotFound("no OpenAPI document for \"" + std::string(group_version_path) + "\"");
  }
  json::object doc;
  doc["openapi"] = "3.0.0";
  doc["info"] = Info();
  doc["paths"] = std::move(paths);
  doc["components"] = json::object{{"schemas", schemas.TakeDefinitions()}};
  return doc;
}

json::object OpenApiV3Root(const Registry& registry) {
  json::object paths;
  for (const std::string& gv : OpenApiGroupVersionPaths(registry)) {
    Result<json::object> doc = OpenApiV3Document(registry, gv);
    if (!doc) continue;  // removed meanwhile
    paths[gv] = json::object{
        {"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + OpenApiHash(json::serialize(*doc))}};
  }
  return json::object{{"paths", std::move(paths)}};
}

json::object OpenApiV2Json(const Registry& registry) {
  SchemaEmitter schemas(registry, Dialect::kV2);
  PathBuilder builder{registry, Dialect::kV2, schemas};
  json::object paths;
  for (const auto& kind : registry.Kinds()) {
    if (kind->schema != nullptr) schemas.Use(kind->schema);
    builder.AddResource(*kind, paths);
  }
  json::object doc;
  doc["swagger"] = "2.0";
  doc["info"] = Info();
  doc["paths"] = std::move(paths);
  doc["definitions"] = schemas.TakeDefinitions();
  return doc;
}

std::string OpenApiV2Protobuf(const Registry& registry) {
  return EncodeOpenApiV2Protobuf(OpenApiV2Json(registry));
}

std::string OpenApiHash(std::string_view serialized) {
  unsigned char digest[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(serialized.data()), serialized.size(), digest);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(2 * sizeof(digest));
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace mini8s::api
