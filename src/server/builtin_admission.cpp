#include "mini8s/server/builtin_admission.h"

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/server/service_account_token.h"

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

constexpr char kTokenMountPath[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// Upstream's projected service-account volume: a TokenRequest token the kubelet refreshes, the
// cluster CA from kube-root-ca.crt and the pod's namespace.
json::object ApiAccessVolume(const std::string& name) {
  json::object token{{"expirationSeconds", 3607}, {"path", "token"}};
  json::object ca{{"name", "kube-root-ca.crt"},
                  {"items", json::array{json::object{{"key", "ca.crt"}, {"path", "ca.crt"}}}}};
  json::object field_ref{{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}};
  json::object downward{
      {"items", json::array{json::object{{"path", "namespace"}, {"fieldRef", field_ref}}}}};
  json::array sources{json::object{{"serviceAccountToken", token}},
                      json::object{{"configMap", ca}}, json::object{{"downwardAPI", downward}}};
  return json::object{{"name", name},
                      {"projected", json::object{{"defaultMode", 420}, {"sources", sources}}}};
}

// Upstream's suffix alphabet for generated names (no vowels, no look-alikes).
std::string VolumeSuffix() {
  static constexpr char kChars[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string r = RandomLowerAlnum(5);
  for (char& c : r) c = kChars[static_cast<unsigned char>(c) % (sizeof(kChars) - 1)];
  return r;
}

class ServiceAccountDefaults final : public AdmissionPlugin {
 public:
  explicit ServiceAccountDefaults(ObjectGetter getter) : getter_(std::move(getter)) {}
  std::string_view name() const override { return "ServiceAccount"; }
  Status Admit(AdmissionAttributes& a) override {
    if (!IsPodCreate(a)) return Status::OK();
    json::object& spec = api::MutableObjectAt(*a.object, "spec");
    std::string_view sa = api::GetString(*a.object, "spec.serviceAccountName");
    if (sa.empty()) sa = api::GetString(*a.object, "spec.serviceAccount");
    std::string name = sa.empty() ? "default" : std::string(sa);
    spec["serviceAccountName"] = name;
    spec["serviceAccount"] = name;
    // Mirror pods (static pods of a kubelet) get no token, as upstream.
    if (api::Annotation(*a.object, "kubernetes.io/config.mirror")) return Status::OK();
    if (!getter_) return Status::OK();
    std::optional<bool> automount = api::GetBool(*a.object, "spec.automountServiceAccountToken");
    if (!automount) {
      auto account = getter_("serviceaccounts", a.ns, name);
      if (account.ok()) automount = api::GetBool(*account, "automountServiceAccountToken");
    }
    if (automount && !*automount) return Status::OK();
    MountToken(spec);
    return Status::OK();
  }

 private:
  static void MountToken(json::object& spec) {
    std::string volume = "kube-api-access-" + VolumeSuffix();
    bool mounted = false;
    for (const char* field : {"initContainers", "containers"}) {
      auto it = spec.find(field);
      if (it == spec.end() || !it->value().is_array()) continue;
      for (json::value& c : it->value().as_array()) {
        if (!c.is_object()) continue;
        json::object& container = c.as_object();
        json::value& mounts_v = container["volumeMounts"];
        if (!mounts_v.is_array()) mounts_v = json::array();
        json::array& mounts = mounts_v.as_array();
        bool has = false;
        for (const json::value& m : mounts) {
          has = has || (m.is_object() && api::GetString(m.as_object(), "mountPath") ==
                                             kTokenMountPath);
        }
        if (has) continue;
        mounts.push_back(json::object{
            {"name", volume}, {"readOnly", true}, {"mountPath", kTokenMountPath}});
        mounted = true;
      }
    }
    if (!mounted) return;
    json::value& volumes_v = spec["volumes"];
    if (!volumes_v.is_array()) volumes_v = json::array();
    volumes_v.as_array().push_back(ApiAccessVolume(volume));
  }
  ObjectGetter getter_;
};

}  // namespace

std::shared_ptr<AdmissionPlugin> NewDefaultTolerationSeconds(int64_t not_ready_seconds,
                                                             int64_t unreachable_seconds) {
  return std::make_shared<DefaultTolerationSeconds>(not_ready_seconds, unreachable_seconds);
}

std::shared_ptr<AdmissionPlugin> NewServiceAccountDefaults(ObjectGetter service_accounts) {
  return std::make_shared<ServiceAccountDefaults>(std::move(service_accounts));
}

}  // namespace mini8s::server
