#include "mini8s/server/builtin_admission.h"

#include <boost/json.hpp>

#include "mini8s/api/object.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

bool IsPodCreate(const AdmissionAttributes& a) {
  return a.operation == "CREATE" && a.subresource.empty() && a.kind.group.empty() &&
         a.kind.kind == "Pod" && a.object != nullptr;
}

class DefaultTolerationSeconds final : public AdmissionPlugin {
 public:
  DefaultTolerationSeconds(int64_t not_ready, int64_t unreachable)
      : not_ready_(not_ready), unreachable_(unreachable) {}
  std::string_view name() const override { return "DefaultTolerationSeconds"; }

  Status Admit(AdmissionAttributes& a) override {
    if (!IsPodCreate(a)) return Status::OK();
    json::object& spec = api::MutableObjectAt(*a.object, "spec");
    json::array tolerations;
    if (auto it = spec.find("tolerations"); it != spec.end() && it->value().is_array()) {
      tolerations = it->value().as_array();
    }
    // A toleration covers the taint when its key matches (or it is an Exists wildcard) and its
    // effect is NoExecute or empty (upstream's check).
    auto tolerated = [&](std::string_view key) {
      for (const auto& t : tolerations) {
        if (!t.is_object()) continue;
        const json::object& o = t.as_object();
        auto str = [&](const char* f) -> std::string_view {
          auto i = o.find(f);
          return i != o.end() && i->value().is_string() ? std::string_view(i->value().as_string())
                                                        : std::string_view();
        };
        std::string_view effect = str("effect");
        if (!effect.empty() && effect != "NoExecute") continue;
        std::string_view k = str("key");
        if (k == key || (k.empty() && str("operator") == "Exists")) return true;
      }
      return false;
    };
    bool changed = false;
    const std::pair<const char*, int64_t> defaults[] = {
        {"node.kubernetes.io/not-ready", not_ready_}, {"node.kubernetes.io/unreachable", unreachable_}};
    for (const auto& [key, seconds] : defaults) {
      if (tolerated(key)) continue;
      tolerations.push_back(json::object{{"key", key},
                                         {"operator", "Exists"},
                                         {"effect", "NoExecute"},
                                         {"tolerationSeconds", seconds}});
      changed = true;
    }
    if (changed) spec["tolerations"] = std::move(tolerations);
    return Status::OK();
  }

 private:
  int64_t not_ready_;
  int64_t unreachable_;
};

class ServiceAccountDefaults final : public AdmissionPlugin {
 public:
  std::string_view name() const override { return "ServiceAccount"; }
  Status Admit(AdmissionAttributes& a) override {
    if (!IsPodCreate(a)) return Status::OK();
    json::object& spec = api::MutableObjectAt(*a.object, "spec");
    std::string_view sa = api::GetString(*a.object, "spec.serviceAccountName");
    if (sa.empty()) sa = api::GetString(*a.object, "spec.serviceAccount");
    std::string name = sa.empty() ? "default" : std::string(sa);
    spec["serviceAccountName"] = name;
    spec["serviceAccount"] = name;
    return Status::OK();
  }
};

}  // namespace

std::shared_ptr<AdmissionPlugin> NewDefaultTolerationSeconds(int64_t not_ready_seconds,
                                                             int64_t unreachable_seconds) {
  return std::make_shared<DefaultTolerationSeconds>(not_ready_seconds, unreachable_seconds);
}

std::shared_ptr<AdmissionPlugin> NewServiceAccountDefaults() {
  return std::make_shared<ServiceAccountDefaults>();
}

}  // namespace mini8s::server
