// Authorization of kubelets (upstream's Node authorizer plus the NodeRestriction admission
// plug-in, DESIGN §3 "Security"). A node is the user system:node:<name> in group system:nodes
// (the client certificate the join endpoint issues). It may:
//   - get/list/watch nodes, pods, services, endpoints, endpointslices, runtimeclasses;
//   - get the secrets, configmaps, persistentvolumeclaims (and the persistentvolumes bound to
//     those claims) that pods bound to it reference, and create tokens (serviceaccounts/token)
//     for the service accounts of those pods: upstream's graph check, here answered by looking
//     at the node's pods in the object's namespace when the request comes;
//   - create its own Node, get/update/patch/delete it and its status (not other nodes);
//   - create/get/update/patch/delete its own Lease in kube-node-lease;
//   - update/patch the status of, and delete, pods bound to it;
//   - create/update/patch events.
// Everything else is denied. Creates carry no name in the request attributes, so
// NodeRestrictionAdmission checks the object names (and the pod a status write targets) there.
//
// Thread-safe: immutable after construction; the pod lookup must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/server/admission.h"
#include "mini8s/server/auth.h"

namespace mini8s::store {
class Store;
}  // namespace mini8s::store

namespace mini8s::server {

// "system:node:<name>" in group system:nodes -> "<name>"; nullopt for other users.
std::optional<std::string> NodeNameOfUser(const UserInfo& user);

class NodeAuthorizer final : public Authorizer {
 public:
  // spec.nodeName of pod ns/name ("" when unbound); nullopt when there is no such pod.
  using PodNodeFunc =
      std::function<std::optional<std::string>(const std::string& ns, const std::string& name)>;

  // Whether a pod bound to `node` references `resource` ns/name ("secrets", "configmaps",
  // "persistentvolumeclaims", "serviceaccounts"; "persistentvolumes" with ns "": bound to a claim
  // such a pod uses).
  using PodRefFunc = std::function<bool(const std::string& node, const std::string& resource,
                                        const std::string& ns, const std::string& name)>;

  // Without `pod_refs` no secret, configmap, claim, volume or token is readable by a node.
  explicit NodeAuthorizer(PodNodeFunc pod_node, PodRefFunc pod_refs = nullptr)
      : pod_node_(std::move(pod_node)), pod_refs_(std::move(pod_refs)) {}
  // False for users that are not nodes (another authorizer of a union may allow them).
  bool Authorize(const Attributes& attrs) const override;

 private:
  PodNodeFunc pod_node_;
  PodRefFunc pod_refs_;
};

// A PodNodeFunc that reads the pod from the store (the registry's /registry/core/pods/<ns>/<name>
// key). `store` must outlive the function.
NodeAuthorizer::PodNodeFunc PodNodeFromStore(const store::Store& store);
// A PodRefFunc over the store: lists the pods of the namespace (for persistentvolumes, of the
// bound claim's namespace) and looks for one bound to the node that references the object in its
// volumes (incl. projected sources and ephemeral claims), env, envFrom, imagePullSecrets or
// serviceAccountName.
NodeAuthorizer::PodRefFunc PodRefsFromStore(const store::Store& store);

// Whether `pod` references `resource` `name` (the namespace is the pod's). Exposed for tests.
bool PodReferences(const boost::json::object& pod, std::string_view resource,
                   std::string_view name);

// Allows what any member allows (upstream's union authorizer; members are asked in order).
class UnionAuthorizer final : public Authorizer {
 public:
  explicit UnionAuthorizer(std::vector<std::shared_ptr<const Authorizer>> members)
      : members_(std::move(members)) {}
  bool Authorize(const Attributes& attrs) const override;
  // The first member's kAllow or kDeny; kNoOpinion when none has one. Reasons of members
  // without an opinion are joined with "\n" as upstream's union does.
  AuthorizerDecision Decide(const Attributes& attrs) const override;

 private:
  std::vector<std::shared_ptr<const Authorizer>> members_;
};

// NodeRestriction: for node users, a Node create/update names the node itself, a Lease create
// in kube-node-lease names it, and a pod update (status) or delete targets a pod bound to it
// (read from the stored object). kForbidden otherwise. Other users pass untouched.
class NodeRestrictionAdmission final : public AdmissionPlugin {
 public:
  std::string_view name() const override { return "NodeRestriction"; }
  Status Admit(AdmissionAttributes& attrs) override;
};

}  // namespace mini8s::server
