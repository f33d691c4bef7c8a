// The Node authorizer and NodeRestriction, cut down to what a kubelet does.
#include "mini8s/server/node_authorizer.h"

#include <algorithm>

#include "mini8s/api/object.h"
#include "mini8s/api/schema.h"
#include "mini8s/common/json.h"
#include "mini8s/store/store.h"

namespace mini8s::server {

namespace json = boost::json;
namespace {

constexpr std::string_view kNodeUserPrefix = "system:node:";

bool OneOf(const std::string& v, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

bool ReadVerb(const std::string& v) { return OneOf(v, {"get", "list", "watch"}); }

}  // namespace

std::optional<std::string> NodeNameOfUser(const UserInfo& user) {
  if (user.name.rfind(kNodeUserPrefix, 0) != 0 || user.name.size() == kNodeUserPrefix.size()) {
    return std::nullopt;
  }
  if (std::find(user.groups.begin(), user.groups.end(), "system:nodes") == user.groups.end()) {
    return std::nullopt;
  }
  return user.name.substr(kNodeUserPrefix.size());
}

bool NodeAuthorizer::Authorize(const Attributes& a) const {
  auto node = NodeNameOfUser(a.user);
  if (!node || !a.resource_request) return false;
  const std::string& v = a.verb;
  const std::string& r = a.resource;
  const std::string& sub = a.subresource;
  if (a.api_group.empty()) {
    if (r == "nodes") {
      if (sub.empty() && ReadVerb(v)) return true;
      // A create has no name in the URL; NodeRestriction checks the object's name.
      if (sub.empty() && v == "create") return a.name.empty() || a.name == *node;
      if (sub.empty() && OneOf(v, {"update", "patch", "delete"})) return a.name == *node;
      if (sub == "status" && OneOf(v, {"get", "update", "patch"})) return a.name == *node;
      return false;
    }
    if (r == "pods") {
      // Reading a status is reading the pod (kubectl patch --subresource=status GETs it first).
      if ((sub.empty() && ReadVerb(v)) || (sub == "status" && v == "get")) return true;
      bool status_write = sub == "status" && OneOf(v, {"update", "patch"});
      bool delete_pod = sub.empty() && v == "delete";
      if ((status_write || delete_pod) && !a.name.empty() && pod_node_) {
        auto bound = pod_node_(a.namespace_, a.name);
        return bound.has_value() && *bound == *node;
      }
      return false;
    }
    if (OneOf(r, {"services", "endpoints"})) return sub.empty() && ReadVerb(v);
    if (OneOf(r, {"secrets", "configmaps", "persistentvolumeclaims", "persistentvolumes"})) {
      return sub.empty() && v == "get" && !a.name.empty() && pod_refs_ &&
             pod_refs_(*node, r, r == "persistentvolumes" ? std::string() : a.namespace_, a.name);
    }
    if (r == "serviceaccounts") {
      return sub == "token" && v == "create" && !a.name.empty() && pod_refs_ &&
             pod_refs_(*node, r, a.namespace_, a.name);
    }
    if (r == "events") return sub.empty() && OneOf(v, {"create", "update", "patch"});
    return false;
  }
  if (a.api_group == "discovery.k8s.io" && r == "endpointslices") {
    return sub.empty() && ReadVerb(v);
  }
  if (a.api_group == "node.k8s.io" && r == "runtimeclasses") return sub.empty() && ReadVerb(v);
  if (a.api_group == "events.k8s.io" && r == "events") {
    return sub.empty() && OneOf(v, {"create", "update", "patch"});
  }
  if (a.api_group == "coordination.k8s.io" && r == "leases") {
    if (a.namespace_ != "kube-node-lease" || !sub.empty()) return false;
    if (v == "create") return a.name.empty() || a.name == *node;
    return OneOf(v, {"get", "update", "patch", "delete"}) && a.name == *node;
  }
  return false;
}

NodeAuthorizer::PodNodeFunc PodNodeFromStore(const store::Store& store) {
  return [&store](const std::string& ns, const std::string& name) -> std::optional<std::string> {
    auto kv = store.Get("/registry/core/pods/" + ns + "/" + name);
    if (!kv.ok()) return std::nullopt;
    auto v = ParseJson(*kv->value);
    if (!v.ok() || !v->is_object()) return std::nullopt;
    return std::string(api::GetString(v->as_object(), "spec.nodeName"));
  };
}

namespace {

std::string_view Str(const json::object& o, std::string_view path) {
  return api::GetString(o, path);
}

// Calls f(container) for containers, initContainers and ephemeralContainers.
template <typename F>
bool AnyContainer(const json::object& pod, F f) {
  for (const char* list : {"spec.containers", "spec.initContainers", "spec.ephemeralContainers"}) {
    if (const json::array* cs = api::GetArray(pod, list)) {
      for (const auto& c : *cs) {
        if (c.is_object() && f(c.as_object())) return true;
      }
    }
  }
  return false;
}

bool EnvReferences(const json::object& c, std::string_view key_ref, std::string_view from_ref,
                   std::string_view name) {
  if (const json::array* env = api::GetArray(c, "env")) {
    for (const auto& e : *env) {
      if (!e.is_object()) continue;
      if (Str(e.as_object(), "valueFrom." + std::string(key_ref) + ".name") == name) return true;
    }
  }
  if (const json::array* from = api::GetArray(c, "envFrom")) {
    for (const auto& e : *from) {
      if (e.is_object() && Str(e.as_object(), std::string(from_ref) + ".name") == name) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool PodReferences(const json::object& pod, std::string_view resource, std::string_view name) {
  if (resource == "serviceaccounts") {
    std::string_view sa = Str(pod, "spec.serviceAccountName");
    return (sa.empty() ? std::string_view("default") : sa) == name;
  }
  const json::array* volumes = api::GetArray(pod, "spec.volumes");
  auto any_volume = [&](auto f) {
    if (volumes == nullptr) return false;
    for (const auto& v : *volumes) {
      if (v.is_object() && f(v.as_object())) return true;
    }
    return false;
  };
  auto projected = [&](const json::object& vol, std::string_view source) {
    const json::array* sources = api::GetArray(vol, "projected.sources");
    if (sources == nullptr) return false;
    for (const auto& src : *sources) {
      if (src.is_object() && Str(src.as_object(), std::string(source) + ".name") == name) {
        return true;
      }
    }
    return false;
  };
  if (resource == "secrets") {
    if (const json::array* pulls = api::GetArray(pod, "spec.imagePullSecrets")) {
      for (const auto& p : *pulls) {
        if (p.is_object() && Str(p.as_object(), "name") == name) return true;
      }
    }
    if (any_volume([&](const json::object& vol) {
          if (Str(vol, "secret.secretName") == name || projected(vol, "secret")) return true;
          // Volume plug-ins that take credentials (cephfs, rbd, iscsi, flexVolume, csi ...).
          for (const auto& [_, src] : vol) {
            if (!src.is_object()) continue;
            if (Str(src.as_object(), "secretRef.name") == name ||
                Str(src.as_object(), "nodePublishSecretRef.name") == name) {
              return true;
            }
          }
          return false;
        })) {
      return true;
    }
    return AnyContainer(pod, [&](const json::object& c) {
      return EnvReferences(c, "secretKeyRef", "secretRef", name);
    });
  }
  if (resource == "configmaps") {
    if (any_volume([&](const json::object& vol) {
          return Str(vol, "configMap.name") == name || projected(vol, "configMap");
        })) {
      return true;
    }
    return AnyContainer(pod, [&](const json::object& c) {
      return EnvReferences(c, "configMapKeyRef", "configMapRef", name);
    });
  }
  if (resource == "persistentvolumeclaims") {
    const std::string pod_name(api::Name(pod));
    return any_volume([&](const json::object& vol) {
      if (Str(vol, "persistentVolumeClaim.claimName") == name) return true;
      // Generic ephemeral volumes: the claim is named <pod>-<volume>.
      return vol.if_contains("ephemeral") != nullptr &&
             pod_name + "-" + std::string(Str(vol, "name")) == name;
    });
  }
  return false;
}

NodeAuthorizer::PodRefFunc PodRefsFromStore(const store::Store& store) {
  return [&store](const std::string& node, const std::string& resource, const std::string& ns,
                  const std::string& name) -> bool {
    std::string res = resource, pns = ns, pname = name;
    if (resource == "persistentvolumes") {
      auto kv = store.Get("/registry/core/persistentvolumes/" + name);
      if (!kv.ok()) return false;
      auto pv = ParseJson(*kv->value);
      if (!pv.ok() || !pv->is_object()) return false;
      res = "persistentvolumeclaims";
      pns = std::string(api::GetString(pv->as_object(), "spec.claimRef.namespace"));
      pname = std::string(api::GetString(pv->as_object(), "spec.claimRef.name"));
      if (pns.empty() || pname.empty()) return false;
    }
    if (pns.empty()) return false;
    auto pods = store.List("/registry/core/pods/" + pns + "/");
    if (!pods.ok()) return false;
    const std::string node_quoted = "\"" + node + "\"";
    for (const store::KeyValue& kv : pods->items) {
      // Cheap text filters before parsing: the node's name and the object's name must appear.
      if (kv.value->find(node_quoted) == std::string::npos) continue;
      if (res != "serviceaccounts" && kv.value->find(pname) == std::string::npos) continue;
      auto pod = ParseJson(*kv.value);
      if (!pod.ok() || !pod->is_object()) continue;
      if (api::GetString(pod->as_object(), "spec.nodeName") != node) continue;
      if (PodReferences(pod->as_object(), res, pname)) return true;
    }
    return false;
  };
}

bool UnionAuthorizer::Authorize(const Attributes& attrs) const {
  return Decide(attrs).allowed();
}

AuthorizerDecision UnionAuthorizer::Decide(const Attributes& attrs) const {
  std::string reasons;
  for (const auto& m : members_) {
    if (!m) continue;
    AuthorizerDecision d = m->Decide(attrs);
    if (d.decision != Decision::kNoOpinion) return d;
    if (!d.reason.empty()) reasons += (reasons.empty() ? "" : "\n") + d.reason;
  }
  return {Decision::kNoOpinion, std::move(reasons)};
}

Status NodeRestrictionAdmission::Admit(AdmissionAttributes& a) {
  auto node = NodeNameOfUser(a.user);
  if (!node) return Status::OK();
  const api::KindInfo& k = a.kind;
  auto deny = [&](const std::string& what) {
    return Status::Forbidden("node \"" + *node + "\" is not allowed to " + what);
  };
  if (k.group.empty() && k.plural == "nodes") {
    std::string_view name = a.object ? api::Name(*a.object) : std::string_view(a.name);
    if (name != *node) return deny("modify node \"" + std::string(name) + "\"");
    return Status::OK();
  }
  if (k.group == "coordination.k8s.io" && k.plural == "leases") {
    std::string_view name = a.object ? api::Name(*a.object) : std::string_view(a.name);
    if (a.ns != "kube-node-lease" || name != *node) {
      return deny("modify lease \"" + std::string(name) + "\"");
    }
    return Status::OK();
  }
  if (k.group.empty() && k.plural == "pods") {
    if (a.operation == "CREATE") return deny("create pods");  // no static (mirror) pods yet
    const boost::json::object* stored = a.old_object;
    std::string_view bound = stored ? api::GetString(*stored, "spec.nodeName") : "";
    if (bound != *node) {
      return deny("modify pod \"" + std::string(a.name) + "\" bound to another node");
    }
    if (a.operation == "UPDATE" && a.object != nullptr &&
        api::GetString(*a.object, "spec.nodeName") != *node) {
      return deny("move pod \"" + std::string(a.name) + "\" to another node");
    }
  }
  return Status::OK();
}

}  // namespace mini8s::server
