// openapi_dump OUT_DIR [CRD.json ...]: writes what a minimal API server answers for discovery and
// OpenAPI, generated from the registry (plus the given CRDs), so that kubectl_e2e.sh can serve
// them to the real kubectl. One file per URL path: "/openapi/v3/apis/apps/v1" is written as
// "openapi__v3__apis__apps__v1" ('/' -> "__"); the v2 protobuf as "openapi__v2.pb".
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mini8s/api/openapi.h"

namespace json = boost::json;
using mini8s::api::KindInfo;
using mini8s::api::Registry;

namespace {

bool Write(const std::string& dir, std::string path, const std::string& body) {
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  std::string name;
  for (char c : path) name += c == '/' ? std::string("__") : std::string(1, c);
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out << body;
  return static_cast<bool>(out);
}

json::array Strings(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [CRD.json ...]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  auto reg = Registry::NewBuiltin();
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i]);
    std::stringstream buf;
    buf << in.rdbuf();
    boost::system::error_code ec;
    json::value crd = json::parse(buf.str(), ec);
    if (ec) {
      std::fprintf(stderr, "%s: %s\n", argv[i], ec.message().c_str());
      return 1;
    }
    mini8s::Status st = reg->AddCustomResource(crd);
    if (!st.ok()) {
      std::fprintf(stderr, "%s: %s\n", argv[i], st.ToString().c_str());
      return 1;
    }
  }

  bool ok = true;
  ok &= Write(dir, "/version",
              json::serialize(json::object{{"major", "1"},
                                           {"minor", "32"},
                                           {"gitVersion", "v1.32.0"},
                                           {"platform", "linux/amd64"}}));

  // Legacy discovery: /api, /apis and one APIResourceList per group-version.
  std::map<std::string, json::array> resources;  // "apps/v1" -> resources
  std::map<std::string, std::vector<std::string>> group_versions;
  for (const auto& kind : reg->Kinds()) {
    if (kind->subresource_only || kind->plural.empty()) continue;
    std::string gv = kind->ApiVersion();
    auto& versions = group_versions[kind->group];
    if (std::find(versions.begin(), versions.end(), kind->version) == versions.end()) {
      versions.push_back(kind->version);
    }
    json::array& list = resources[gv];
    list.push_back(json::object{{"name", kind->plural},
                                {"singularName", kind->singular},
                                {"namespaced", kind->namespaced},
                                {"kind", kind->kind},
                                {"verbs", Strings(kind->verbs)},
                                {"shortNames", Strings(kind->short_names)},
                                {"categories", Strings(kind->categories)}});
    for (const auto& sub : kind->subresource_info) {
      json::object r{{"name", kind->plural + "/" + sub.name},
                     {"singularName", ""},
                     {"namespaced", kind->namespaced},
                     {"kind", sub.kind.empty() ? kind->kind : sub.kind},
                     {"verbs", Strings(sub.verbs)}};
      if (!sub.kind.empty() && (sub.group != kind->group || sub.version != kind->version)) {
        r["group"] = sub.group;
        r["version"] = sub.version;
      }
      list.push_back(std::move(r));
    }
  }
  json::array groups;
  for (const auto& [group, versions] : group_versions) {
    if (group.empty()) continue;
    json::array vs;
    std::string preferred = versions.front();
    for (const auto& v : versions) {
      if (v == "v1") preferred = v;
    }
    json::object preferred_gv{{"groupVersion", group + "/" + preferred}, {"version", preferred}};
    vs.push_back(preferred_gv);
    for (const auto& v : versions) {
      if (v != preferred)
        vs.push_back(json::object{{"groupVersion", group + "/" + v}, {"version", v}});
    }
    groups.push_back(json::object{{"name", group},
                                  {"versions", std::move(vs)},
                                  {"preferredVersion", std::move(preferred_gv)}});
  }
  ok &= Write(dir, "/api",
              json::serialize(json::object{{"kind", "APIVersions"},
                                           {"versions", json::array{"v1"}},
                                           {"serverAddressByClientCIDRs", json::array{}}}));
  ok &= Write(dir, "/apis",
              json::serialize(json::object{
                  {"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}}));
  for (auto& [gv, list] : resources) {
    std::string path = gv.find('/') == std::string::npos ? "/api/" + gv : "/apis/" + gv;
    ok &= Write(dir, path,
                json::serialize(json::object{{"kind", "APIResourceList"},
                                             {"apiVersion", "v1"},
                                             {"groupVersion", gv},
                                             {"resources", std::move(list)}}));
  }

  // OpenAPI, through the cache the server uses.
  mini8s::api::OpenApiCache cache(*reg);
  auto v3 = cache.V3();
  ok &= Write(dir, "/openapi/v3", v3->root.body);
  for (const auto& [gv, doc] : v3->by_gv) ok &= Write(dir, "/openapi/v3/" + gv, doc.body);
  ok &= Write(dir, "/openapi/v2.pb", cache.V2Protobuf().body);
  ok &= Write(dir, "/openapi/v2.json", cache.V2Json().body);
  std::fprintf(stderr, "wrote %zu v3 documents (built in %.1f ms)\n", v3->by_gv.size(),
               v3->build_ms);
  return ok ? 0 : 1;
}
