// OpenAPI documents generated from the schema registry (DESIGN §3, issue 3): what `kubectl
// explain`, kubectl's fieldValidation probe and client-side apply read.
//
//  * /openapi/v3              OpenApiV3Root: {"paths": {"apis/apps/v1": {"serverRelativeURL":
//                             "/openapi/v3/apis/apps/v1?hash=H"}, ...}}, H the document's hash.
//  * /openapi/v3/<gv path>    OpenApiV3Document: OpenAPI 3.0 with every resource's paths and the
//                             definitions they reach in components.schemas.
//  * /openapi/v2              OpenApiV2Json (swagger 2.0) and OpenApiV2Protobuf (gnostic's
//                             openapi.v2.Document, the only encoding kubectl accepts there).
//
// Building is pure (registry in, JSON out). OpenApiCache keeps the serialized documents and
// rebuilds them when the registry's set of kinds changes (a CRD added, updated or removed).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/api/registry.h"
#include "mini8s/api/schema.h"
#include "mini8s/common/result.h"

namespace mini8s::api {

// The group-version paths the server publishes ("api/v1", "apis/apps/v1", ...), sorted.
std::vector<std::string> OpenApiGroupVersionPaths(const Registry& registry);

// One group-version's OpenAPI 3.0 document; kNotFound for a group-version nothing serves.
// `group_version_path` is "api/v1" or "apis/<group>/<version>" (a leading '/' is ignored).
Result<boost::json::object> OpenApiV3Document(const Registry& registry,
                                              std::string_view group_version_path);

// The /openapi/v3 root, with each document's hash (OpenApiHash of its serialized form).
boost::json::object OpenApiV3Root(const Registry& registry);

// Swagger 2.0: every resource's paths and every reachable definition, in one document.
boost::json::object OpenApiV2Json(const Registry& registry);
// The same document encoded as gnostic's openapi.v2.Document protobuf message.
std::string OpenApiV2Protobuf(const Registry& registry);
// Encodes any swagger 2.0 JSON document (as OpenApiV2Json builds it) as openapi.v2.Document.
std::string EncodeOpenApiV2Protobuf(const boost::json::object& swagger);

// The Content-Type of the /openapi/v2 protobuf response. kubectl asks for
// "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", but '@' is not a MIME token
// character and Go's mime parser rejects it in a response; the apiserver answers with this
// dotted spelling, which kubectl accepts.
inline constexpr std::string_view kOpenApiV2ProtobufContentType =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

// The content hash used in serverRelativeURL and ETags: SHA-512, uppercase hex (as upstream).
std::string OpenApiHash(std::string_view serialized);

// Serialized documents, rebuilt lazily when the registry changes. Thread-safe.
class OpenApiCache {
 public:
  struct Document {
    std::string body;  // JSON (or protobuf for v2)
    std::string hash;  // OpenApiHash(body); the ETag is "\"" + hash + "\""
  };
  // Every v3 document of one registry state (v2 is built on first use).
  struct Snapshot {
    Document root;                          // /openapi/v3
    std::map<std::string, Document> by_gv;  // "apis/apps/v1" -> its document
    double build_ms = 0;                    // how long building all v3 documents took
  };

  // `registry` must outlive the cache.
  explicit OpenApiCache(const Registry& registry) : registry_(registry) {}

  // The current v3 documents (rebuilt first if the registry's kinds changed).
  std::shared_ptr<const Snapshot> V3();
  // /openapi/v3/<gv path> ("apis/apps/v1"); kNotFound when unknown.
  Result<Document> V3Document(std::string_view group_version_path);
  // /openapi/v2 as JSON or as protobuf.
  Document V2Json();
  Document V2Protobuf();

 private:
  struct State;
  // Returns the state for the registry as it is now, rebuilding v3 if needed. Locks mu_.
  std::shared_ptr<State> Current();

  const Registry& registry_;
  std::mutex mu_;
  std::shared_ptr<State> state_;
};

}  // namespace mini8s::api
