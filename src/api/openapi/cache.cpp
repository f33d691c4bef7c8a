// OpenApiCache: the serialized documents of one registry state. The state is identified by the
// registry's kinds (immutable KindInfo objects, replaced whenever a CRD changes), so comparing
// the pointers tells whether anything changed without hashing schemas on every request.
#include <chrono>

#include <boost/json/serialize.hpp>

#include "mini8s/api/openapi.h"

namespace mini8s::api {

namespace json = boost::json;

struct OpenApiCache::State {
  std::vector<KindInfoConstSharedPtr> kinds;  // held so the pointers cannot be reused
  std::shared_ptr<const Snapshot> v3;
  std::once_flag v2_once;
  Document v2_json, v2_proto;
};

namespace {

bool SameKinds(const std::vector<KindInfoConstSharedPtr>& a,
               const std::vector<KindInfoConstSharedPtr>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

OpenApiCache::Document MakeDocument(std::string body) {
  OpenApiCache::Document doc;
  doc.hash = OpenApiHash(body);
  doc.body = std::move(body);
  return doc;
}

}  // namespace

std::shared_ptr<OpenApiCache::State> OpenApiCache::Current() {
  std::vector<KindInfoConstSharedPtr> kinds = registry_.Kinds();
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ && SameKinds(state_->kinds, kinds)) return state_;

  auto start = std::chrono::steady_clock::now();
  auto snapshot = std::make_shared<Snapshot>();
  json::object root_paths;
  for (const std::string& gv : OpenApiGroupVersionPaths(registry_)) {
    Result<json::object> doc = OpenApiV3Document(registry_, gv);
    if (!doc) continue;
    Document d = MakeDocument(json::serialize(*doc));
    root_paths[gv] = json::object{{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + d.hash}};
    snapshot->by_gv.emplace(gv, std::move(d));
  }
  snapshot->root = MakeDocument(json::serialize(json::object{{"paths", std::move(root_paths)}}));
  snapshot->build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  auto state = std::make_shared<State>();
  state->kinds = std::move(kinds);
  state->v3 = std::move(snapshot);
  state_ = state;
  return state;
}

std::shared_ptr<const OpenApiCache::Snapshot> OpenApiCache::V3() { return Current()->v3; }

Result<OpenApiCache::Document> OpenApiCache::V3Document(std::string_view group_version_path) {
  while (!group_version_path.empty() && group_version_path.front() == '/') {
    group_version_path.remove_prefix(1);
  }
  std::shared_ptr<const Snapshot> snapshot = V3();
  auto it = snapshot->by_gv.find(std::string(group_version_path));
  if (it == snapshot->by_gv.end()) {
    return Status::NotFound("no OpenAPI document for \"" + std::string(group_version_path) + "\"");
  }
  return it->second;
}

OpenApiCache::Document OpenApiCache::V2Json() {
  std::shared_ptr<State> state = Current();
  std::call_once(state->v2_once, [&] {
    json::object doc = OpenApiV2Json(registry_);
    state->v2_proto = MakeDocument(EncodeOpenApiV2Protobuf(doc));
    state->v2_json = MakeDocument(json::serialize(doc));
  });
  return state->v2_json;
}

OpenApiCache::Document OpenApiCache::V2Protobuf() {
  V2Json();
  return Current()->v2_proto;
}

}  // namespace mini8s::api
