// The Node authorizer and NodeRestriction, cut down to what a kubelet does.
#include "mini8s/server/node_authorizer.h"

#include <algorithm>

#include "mini8s/api/object.h"
#include "mini8s/api/schema.h"
#include "mini8s/common/json.h"
#include "mini8s/store/store.h"

namespace mini8s::server {
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
      if (sub.empty() && ReadVerb(v)) return true;
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
      return sub.empty() && v == "get";
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
