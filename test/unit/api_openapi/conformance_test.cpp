// Round trip against the upstream OpenAPI facts: the swagger 2.0 document mini8s generates has
// the same definitions (type, format, properties, required, refs, list/map/patch extensions,
// GVKs) and, for the core, apps, batch and rbac group-versions, the same paths with the same
// operation IDs, actions and query parameters as Kubernetes v1.32. Descriptions are not compared
// (mini8s writes its own).
//
// The swagger file lives outside the repository (MINI8S_SWAGGER_PATH, in ../shared/). Without it
// the test exits 77, which CTest reports as skipped.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/openapi.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

json::value LoadSwaggerOrSkip() {
  std::ifstream in(MINI8S_SWAGGER_PATH);
  if (!in) {
    std::fprintf(stderr,
                 "SKIP: upstream OpenAPI file not found at %s (it lives outside the repository, "
                 "in ../shared/reference/openapi/); conformance not checked\n",
                 MINI8S_SWAGGER_PATH);
    std::_Exit(77);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return json::parse(buf.str());
}

// The facts of a schema, without prose.
json::value Facts(const json::value& v) {
  if (v.is_array()) {
    json::array out;
    for (const auto& e : v.get_array()) out.push_back(Facts(e));
    return out;
  }
  if (!v.is_object()) return v;
  json::object out;
  for (const auto& kv : v.get_object()) {
    if (kv.key() == "description") continue;
    // Upstream's "default": {} markers on refs and its map-type on some refs are not facts the
    // registry keeps; the fields compared below are.
    if (kv.key() == "default") continue;
    // Discriminated unions are not part of the registry's model.
    if (kv.key() == "x-kubernetes-unions") continue;
    out[kv.key()] = Facts(kv.value());
  }
  return out;
}

// Query parameter names of an operation plus its path item, resolving #/parameters/ refs.
std::set<std::string> QueryParams(const json::object& swagger, const json::object& item,
                                  const json::object& op) {
  std::set<std::string> out;
  auto add = [&](const json::object& holder) {
    const json::value* ps = holder.if_contains("parameters");
    if (ps == nullptr) return;
    for (const auto& p : ps->as_array()) {
      const json::object* param = &p.as_object();
      if (const json::value* ref = param->if_contains("$ref")) {
        std::string name(ref->as_string().subview().substr(std::string("#/parameters/").size()));
        param = &swagger.at("parameters").at(name).as_object();
      }
      if (param->at("in").as_string() == "query")
        out.insert(std::string(param->at("name").as_string()));
    }
  };
  add(item);
  add(op);
  return out;
}

// Whether mini8s serves the resource of an upstream path ("/api/v1/watch/namespaces/{namespace}/
// pods/{name}" -> pods); the registry decides which kinds exist.
bool Served(const Registry& reg, const std::string& prefix, const std::string& path) {
  std::vector<std::string> segs;
  std::stringstream in(path.substr(prefix.size()));
  for (std::string seg; std::getline(in, seg, '/');) segs.push_back(seg);
  if (!segs.empty() && segs[0] == "watch") segs.erase(segs.begin());
  if (segs.size() >= 3 && segs[0] == "namespaces" && segs[1] == "{namespace}") {
    segs.erase(segs.begin(), segs.begin() + 2);
  }
  if (segs.empty()) return false;
  std::string gv = prefix.substr(prefix.find('/', 1) + 1);  // "v1/" or "apps/v1/"
  gv.pop_back();
  size_t slash = gv.find('/');
  std::string group = slash == std::string::npos ? "" : gv.substr(0, slash);
  std::string version = slash == std::string::npos ? gv : gv.substr(slash + 1);
  KindInfoConstSharedPtr kind = reg.FindResource(group, version, segs[0]);
  if (!kind) return false;
  // A subresource mini8s does not serve.
  return segs.size() < 3 || kind->HasSubresource(segs[2]);
}

TEST_CASE("OpenAPI: paths and definitions agree with upstream's facts",
          "[api_openapi][conformance][.]") {
  json::value upstream = LoadSwaggerOrSkip();
  auto reg = Registry::NewBuiltin();
  json::object ours = OpenApiV2Json(*reg);

  // Definitions: every one mini8s publishes that upstream has, fact for fact.
  const json::object& up_defs = upstream.at("definitions").as_object();
  size_t compared = 0;
  for (const auto& kv : ours.at("definitions").as_object()) {
    const json::value* up = up_defs.if_contains(kv.key());
    if (up == nullptr) continue;
    INFO("definition " << std::string(kv.key()));
    json::value mine = Facts(kv.value()), theirs = Facts(*up);
    INFO("ours: " << json::serialize(mine) << "\nupstream: " << json::serialize(theirs));
    CHECK(mine == theirs);  // objects compare regardless of key order
    ++compared;
  }
  CHECK(compared > 300);

  // Paths of four group-versions: the same paths, operations, IDs, actions and parameters.
  const json::object& up_paths = upstream.at("paths").as_object();
  const json::object& our_paths = ours.at("paths").as_object();
  size_t operations = 0;
  for (std::string prefix :
       {"/api/v1/", "/apis/apps/v1/", "/apis/batch/v1/", "/apis/rbac.authorization.k8s.io/v1/"}) {
    for (const auto& kv : up_paths) {
      std::string path(kv.key());
      // Proxy paths with a trailing {path} are not served by mini8s.
      if (path.rfind(prefix, 0) != 0 || path == prefix) continue;  // the discovery document
      if (path.find("{path}") != std::string::npos) continue;
      INFO("path " << path);
      if (!Served(*reg, prefix, path)) continue;
      const json::value* mine = our_paths.if_contains(path);
      CHECK(mine != nullptr);
      if (mine == nullptr) continue;
      const json::object& up_item = kv.value().as_object();
      for (std::string method : {"get", "put", "post", "patch", "delete"}) {
        const json::value* up_op = up_item.if_contains(method);
        const json::value* our_op = mine->as_object().if_contains(method);
        INFO("method " << method);
        CHECK((up_op == nullptr) == (our_op == nullptr));
        if (up_op == nullptr || our_op == nullptr) continue;
        const json::object& u = up_op->as_object();
        const json::object& o = our_op->as_object();
        CHECK(o.at("operationId") == u.at("operationId"));
        CHECK(o.at("x-kubernetes-action") == u.at("x-kubernetes-action"));
        CHECK(o.at("x-kubernetes-group-version-kind") == u.at("x-kubernetes-group-version-kind"));
        CHECK(QueryParams(ours, mine->as_object(), o) ==
              QueryParams(upstream.as_object(), up_item, u));
        ++operations;
      }
    }
  }
  CHECK(operations > 200);
}

}  // namespace
}  // namespace mini8s::api
