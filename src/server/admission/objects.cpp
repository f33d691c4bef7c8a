// AdmissionObjects over the store, the shared Forbidden message, and NamespaceLifecycle.
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/server/admission_plugins.h"
#include "mini8s/store/store.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

std::string Prefix(std::string_view group, std::string_view resource, std::string_view ns) {
  std::string p = "/registry/" + std::string(group.empty() ? "core" : group) + "/" +
                  std::string(resource) + "/";
  if (!ns.empty()) p += std::string(ns) + "/";
  return p;
}

std::optional<json::object> DecodeKv(const store::KeyValue& kv) {
  auto v = ParseJson(*kv.value);
  if (!v.ok() || !v->is_object()) return std::nullopt;
  json::object o = std::move(v->as_object());
  api::SetResourceVersion(o, std::to_string(kv.mod_revision));
  return o;
}

class StoreObjects final : public AdmissionObjects {
 public:
  explicit StoreObjects(store::Store& store) : store_(store) {}

  std::vector<json::object> List(std::string_view group, std::string_view resource,
                                 std::string_view ns) const override {
    std::vector<json::object> out;
    auto list = store_.List(Prefix(group, resource, ns));
    if (!list.ok()) return out;
    for (const auto& kv : list->items) {
      if (auto o = DecodeKv(kv)) out.push_back(std::move(*o));
    }
    return out;
  }

  std::optional<json::object> Get(std::string_view group, std::string_view resource,
                                  std::string_view ns, std::string_view name) const override {
    auto kv = store_.Get(Prefix(group, resource, ns) + std::string(name));
    if (!kv.ok()) return std::nullopt;
    return DecodeKv(*kv);
  }

  Result<std::string> Update(std::string_view group, std::string_view resource, std::string_view ns,
                             const json::object& obj) override {
    int64_t rev = 0;
    try {
      rev = std::stoll(std::string(api::ResourceVersion(obj)));
    } catch (const std::exception&) {
      return Status::Invalid("object has no resourceVersion");
    }
    json::object stored = obj;
    api::MutableMetadata(stored).erase("resourceVersion");
    auto r = store_.Update(Prefix(group, resource, ns) + std::string(api::Name(obj)),
                           SerializeJson(stored), rev);
    if (!r.ok()) return r.error();
    return std::to_string(*r);
  }

  Status Create(std::string_view group, std::string_view resource, std::string_view ns,
                const json::object& obj) override {
    json::object stored = obj;
    api::MutableMetadata(stored).erase("resourceVersion");
    auto r = store_.Create(Prefix(group, resource, ns) + std::string(api::Name(obj)),
                           SerializeJson(stored));
    return r.ok() ? Status::OK() : r.error();
  }

 private:
  store::Store& store_;
};

class NamespaceLifecycle final : public AdmissionPlugin {
 public:
  std::string_view name() const override { return "NamespaceLifecycle"; }
  Status Admit(AdmissionAttributes& a) override {
    if (a.operation != "DELETE" || !a.kind.group.empty() || a.kind.kind != "Namespace") {
      return Status::OK();
    }
    for (std::string_view immortal : {"default", "kube-system", "kube-public"}) {
      if (a.name == immortal) return AdmissionForbidden(a, "this namespace may not be deleted");
    }
    return Status::OK();
  }
};

}  // namespace

std::shared_ptr<AdmissionObjects> NewStoreAdmissionObjects(store::Store& store) {
  return std::make_shared<StoreObjects>(store);
}

Status AdmissionForbidden(const AdmissionAttributes& a, std::string_view reason) {
  std::string resource = a.kind.group.empty() ? a.kind.plural : a.kind.plural + "." + a.kind.group;
  return Status::Forbidden(resource + " \"" + std::string(a.name) +
                           "\" is forbidden: " + std::string(reason));
}

std::shared_ptr<AdmissionPlugin> NewNamespaceLifecycle() {
  return std::make_shared<NamespaceLifecycle>();
}

}  // namespace mini8s::server
