// Shared helpers for the admission plug-in tests: a MemStore behind AdmissionObjects (the
// server's own adapter), the builtin registry's kinds, and one-call Admit.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/registry.h"
#include "mini8s/common/check.h"
#include "mini8s/server/admission_plugins.h"
#include "mini8s/store/mem_store.h"
#include "mini8s/store/store.h"

namespace mini8s::server::testing {

namespace json = boost::json;

struct AdmissionFixture {
  std::unique_ptr<store::Store> store = store::MemStore::Create();
  std::shared_ptr<AdmissionObjects> objects = NewStoreAdmissionObjects(*store);
  std::shared_ptr<api::Registry> registry = api::Registry::NewBuiltin();
  UserInfo user{"alice", "", {"system:authenticated"}};
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> audit;

  void Put(std::string_view group, std::string_view resource, std::string_view ns,
           const json::object& obj) {
    Status s = objects->Create(group, resource, ns, obj);
    MINI8S_CHECK(s.ok()) << s.ToString();
  }
  const api::KindInfo& Kind(std::string_view group, std::string_view version,
                            std::string_view resource) {
    auto k = registry->FindResource(group, version, resource);
    MINI8S_CHECK(k != nullptr) << resource;
    kinds_.push_back(k);
    return *k;
  }
  // Runs `plugin` on `obj` as `op` of `resource` in `ns`.
  Status Admit(AdmissionPlugin& plugin, std::string_view op, const api::KindInfo& kind,
               std::string_view ns, json::object* obj, const json::object* old = nullptr,
               bool dry_run = false, std::string_view subresource = "") {
    std::string name(obj ? api::Name(*obj) : api::Name(*old));
    AdmissionAttributes a{op, kind, subresource, ns, name, obj, old, user, dry_run};
    a.warnings = &warnings;
    a.audit_annotations = &audit;
    Status s = plugin.Admit(a);
    // The server tells admitted plug-ins whether the write happened; tests "write" always.
    if (s.ok()) plugin.Committed(a, true);
    return s;
  }

 private:
  std::vector<api::KindInfoConstSharedPtr> kinds_;
};

inline json::object Obj(std::string_view api_version, std::string_view kind, std::string_view ns,
                        std::string_view name, json::object extra = {}) {
  json::object o{{"apiVersion", api_version}, {"kind", kind}};
  json::object meta{{"name", name}};
  if (!ns.empty()) meta["namespace"] = ns;
  o["metadata"] = std::move(meta);
  for (auto& [k, v] : extra) o[k] = v;
  return o;
}

inline json::object Container(std::string_view name, json::object extra = {}) {
  json::object c{{"name", name}, {"image", "busybox"}};
  for (auto& [k, v] : extra) c[k] = v;
  return c;
}

inline json::object Pod(std::string_view ns, std::string_view name, json::array containers,
                        json::object spec_extra = {}) {
  json::object spec{{"containers", std::move(containers)}};
  for (auto& [k, v] : spec_extra) spec[k] = v;
  return Obj("v1", "Pod", ns, name, json::object{{"spec", std::move(spec)}});
}

inline json::object Resources(json::object requests, json::object limits = {}) {
  json::object r;
  if (!requests.empty()) r["requests"] = std::move(requests);
  if (!limits.empty()) r["limits"] = std::move(limits);
  return json::object{{"resources", std::move(r)}};
}

}  // namespace mini8s::server::testing
