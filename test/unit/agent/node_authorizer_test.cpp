// The node authorizer's matrix and NodeRestriction.
#include "mini8s/server/node_authorizer.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/schema.h"

namespace mini8s::server {
namespace {

UserInfo Node(const std::string& n) {
  return {"system:node:" + n, "", {"system:nodes", "system:authenticated"}};
}

Attributes Req(UserInfo u, std::string verb, std::string group, std::string resource,
               std::string ns = "", std::string name = "", std::string sub = "") {
  Attributes a;
  a.user = std::move(u);
  a.verb = std::move(verb);
  a.resource_request = true;
  a.api_group = std::move(group);
  a.resource = std::move(resource);
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  a.subresource = std::move(sub);
  return a;
}

NodeAuthorizer MakeAuthorizer() {
  return NodeAuthorizer(
      [](const std::string& ns, const std::string& name) -> std::optional<std::string> {
        if (ns == "default" && name == "mine") return "n1";
        if (ns == "default" && name == "theirs") return "n2";
        if (ns == "default" && name == "pending") return "";
        return std::nullopt;
      },
      // n1's pods use secret "s1", configmap "c1", claim "pvc1" (bound to "pv1"), account "sa1";
      // n2's use "s2".
      [](const std::string& node, const std::string& r, const std::string& ns,
         const std::string& name) {
        if (node == "n2") return r == "secrets" && ns == "default" && name == "s2";
        if (node != "n1") return false;
        if (r == "persistentvolumes") return ns.empty() && name == "pv1";
        if (ns != "default") return false;
        return (r == "secrets" && name == "s1") || (r == "configmaps" && name == "c1") ||
               (r == "persistentvolumeclaims" && name == "pvc1") ||
               (r == "serviceaccounts" && name == "sa1");
      });
}

TEST_CASE("node authorizer: reads a kubelet needs are allowed", "[authz][unit]") {
  NodeAuthorizer a = MakeAuthorizer();
  for (const char* verb : {"get", "list", "watch"}) {
    CHECK(a.Authorize(Req(Node("n1"), verb, "", "nodes")));
    CHECK(a.Authorize(Req(Node("n1"), verb, "", "pods", "default")));
    CHECK(a.Authorize(Req(Node("n1"), verb, "", "services")));
    CHECK(a.Authorize(Req(Node("n1"), verb, "", "endpoints", "default")));
    CHECK(a.Authorize(Req(Node("n1"), verb, "discovery.k8s.io", "endpointslices")));
  }
  CHECK(a.Authorize(Req(Node("n1"), "get", "", "secrets", "default", "s1")));
  CHECK(a.Authorize(Req(Node("n1"), "get", "", "configmaps", "default", "c1")));
  CHECK(a.Authorize(Req(Node("n1"), "get", "", "persistentvolumeclaims", "default", "pvc1")));
  CHECK(a.Authorize(Req(Node("n1"), "get", "", "persistentvolumes", "", "pv1")));
  CHECK(a.Authorize(Req(Node("n1"), "create", "", "serviceaccounts", "default", "sa1", "token")));
  for (const char* r : {"secrets", "configmaps", "persistentvolumeclaims"}) {
    CHECK_FALSE(a.Authorize(Req(Node("n1"), "list", "", r, "default")));
    CHECK_FALSE(a.Authorize(Req(Node("n1"), "watch", "", r, "default")));
    CHECK_FALSE(a.Authorize(Req(Node("n1"), "update", "", r, "default", "s1")));
  }
}

TEST_CASE("node authorizer: secrets, configmaps, claims and tokens only for its own pods",
          "[authz][unit]") {
  NodeAuthorizer a = MakeAuthorizer();
  // Another node's pod's secret, and objects no pod of the node references.
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "get", "", "secrets", "default", "s2")));
  CHECK(a.Authorize(Req(Node("n2"), "get", "", "secrets", "default", "s2")));
  CHECK_FALSE(a.Authorize(Req(Node("n2"), "get", "", "secrets", "default", "s1")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "get", "", "secrets", "kube-system", "s1")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "get", "", "configmaps", "default", "other")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "get", "", "persistentvolumes", "", "pv2")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "create", "", "serviceaccounts", "default", "sa2",
                              "token")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "get", "", "serviceaccounts", "default", "sa1")));
  // Without a reference lookup nothing of the kind is readable.
  NodeAuthorizer bare([](const std::string&, const std::string&) {
    return std::optional<std::string>("n1");
  });
  CHECK_FALSE(bare.Authorize(Req(Node("n1"), "get", "", "secrets", "default", "s1")));
}

TEST_CASE("node authorizer: what a pod references", "[authz][unit]") {
  auto pod = boost::json::parse(R"({
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
      "nodeName": "n1",
      "serviceAccountName": "builder",
      "imagePullSecrets": [{"name": "pull"}],
      "volumes": [
        {"name": "a", "secret": {"secretName": "vol-secret"}},
        {"name": "b", "configMap": {"name": "vol-cm"}},
        {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "d", "projected": {"sources": [{"secret": {"name": "proj-secret"}},
                                                {"configMap": {"name": "proj-cm"}}]}},
        {"name": "e", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "csi-secret"}}},
        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
      ],
      "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
      "containers": [{"name": "c", "env": [
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
        {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}}],
        "envFrom": [{"configMapRef": {"name": "envfrom-cm"}}]}]
    }})").as_object();
  for (const char* s : {"pull", "vol-secret", "proj-secret", "csi-secret", "init-env",
                        "env-secret"}) {
    CHECK(PodReferences(pod, "secrets", s));
  }
  for (const char* c : {"vol-cm", "proj-cm", "env-cm", "envfrom-cm"}) {
    CHECK(PodReferences(pod, "configmaps", c));
  }
  CHECK(PodReferences(pod, "persistentvolumeclaims", "data"));
  CHECK(PodReferences(pod, "persistentvolumeclaims", "web-scratch"));
  CHECK(PodReferences(pod, "serviceaccounts", "builder"));
  CHECK_FALSE(PodReferences(pod, "serviceaccounts", "default"));
  CHECK_FALSE(PodReferences(pod, "secrets", "vol-cm"));
  CHECK_FALSE(PodReferences(pod, "configmaps", "vol-secret"));
  CHECK_FALSE(PodReferences(pod, "persistentvolumeclaims", "web-a"));
}

TEST_CASE("node authorizer: a node writes its own Node only", "[authz][unit]") {
  NodeAuthorizer a = MakeAuthorizer();
  CHECK(a.Authorize(Req(Node("n1"), "create", "", "nodes")));
  CHECK(a.Authorize(Req(Node("n1"), "update", "", "nodes", "", "n1")));
  CHECK(a.Authorize(Req(Node("n1"), "patch", "", "nodes", "", "n1", "status")));
  CHECK(a.Authorize(Req(Node("n1"), "update", "", "nodes", "", "n1", "status")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "update", "", "nodes", "", "n2")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "patch", "", "nodes", "", "n2", "status")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "delete", "", "nodes", "", "n2")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "deletecollection", "", "nodes")));
}

TEST_CASE("node authorizer: its own Lease in kube-node-lease only", "[authz][unit]") {
  NodeAuthorizer a = MakeAuthorizer();
  const std::string g = "coordination.k8s.io";
  CHECK(a.Authorize(Req(Node("n1"), "create", g, "leases", "kube-node-lease")));
  CHECK(a.Authorize(Req(Node("n1"), "get", g, "leases", "kube-node-lease", "n1")));
  CHECK(a.Authorize(Req(Node("n1"), "update", g, "leases", "kube-node-lease", "n1")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "update", g, "leases", "kube-node-lease", "n2")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "update", g, "leases", "kube-system", "n1")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "list", g, "leases", "kube-node-lease")));
}

TEST_CASE("node authorizer: pod status writes and deletes only for pods bound to the node",
          "[authz][unit]") {
  NodeAuthorizer a = MakeAuthorizer();
  CHECK(a.Authorize(Req(Node("n1"), "update", "", "pods", "default", "mine", "status")));
  CHECK(a.Authorize(Req(Node("n1"), "patch", "", "pods", "default", "mine", "status")));
  CHECK(a.Authorize(Req(Node("n1"), "delete", "", "pods", "default", "mine")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "update", "", "pods", "default", "theirs", "status")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "delete", "", "pods", "default", "theirs")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "delete", "", "pods", "default", "pending")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "delete", "", "pods", "default", "ghost")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "update", "", "pods", "default", "mine")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "create", "", "pods", "default")));
}

TEST_CASE("node authorizer: events may be created, everything else is denied", "[authz][unit]") {
  NodeAuthorizer a = MakeAuthorizer();
  CHECK(a.Authorize(Req(Node("n1"), "create", "", "events", "default")));
  CHECK(a.Authorize(Req(Node("n1"), "patch", "", "events", "default", "e")));
  CHECK(a.Authorize(Req(Node("n1"), "create", "events.k8s.io", "events", "default")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "delete", "", "events", "default", "e")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "create", "apps", "deployments", "default")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "get", "rbac.authorization.k8s.io", "roles", "x", "y")));
  CHECK_FALSE(a.Authorize(Req(Node("n1"), "create", "", "namespaces")));
  Attributes path;
  path.user = Node("n1");
  path.verb = "get";
  path.path = "/metrics";
  CHECK_FALSE(a.Authorize(path));
}

TEST_CASE("node authorizer: only system:node users in system:nodes are nodes", "[authz][unit]") {
  NodeAuthorizer a = MakeAuthorizer();
  UserInfo no_group{"system:node:n1", "", {"system:authenticated"}};
  CHECK_FALSE(a.Authorize(Req(no_group, "get", "", "nodes")));
  UserInfo admin{"system:admin", "", {"system:masters", "system:nodes"}};
  CHECK_FALSE(a.Authorize(Req(admin, "get", "", "nodes")));
  CHECK(NodeNameOfUser(Node("x")) == "x");
  CHECK_FALSE(NodeNameOfUser(UserInfo{"system:node:", "", {"system:nodes"}}).has_value());
}

TEST_CASE("node authorizer: a union allows what any member allows", "[authz][unit]") {
  auto node = std::make_shared<NodeAuthorizer>(MakeAuthorizer());
  UnionAuthorizer u({std::make_shared<MastersAuthorizer>(), node});
  UserInfo admin{"system:admin", "", {"system:masters", "system:authenticated"}};
  CHECK(u.Authorize(Req(admin, "delete", "", "nodes", "", "n2")));
  CHECK(u.Authorize(Req(Node("n1"), "update", "", "nodes", "", "n1")));
  CHECK_FALSE(u.Authorize(Req(Node("n1"), "update", "", "nodes", "", "n2")));
  UnionAuthorizer empty({});
  CHECK_FALSE(empty.Authorize(Req(admin, "get", "", "nodes")));
}

TEST_CASE("node restriction: names and bound pods are checked on the objects", "[authz][unit]") {
  NodeRestrictionAdmission adm;
  api::KindInfo nodes;
  nodes.version = "v1";
  nodes.kind = "Node";
  nodes.plural = "nodes";
  nodes.namespaced = false;
  api::KindInfo pods;
  pods.version = "v1";
  pods.kind = "Pod";
  pods.plural = "pods";
  api::KindInfo leases;
  leases.group = "coordination.k8s.io";
  leases.version = "v1";
  leases.kind = "Lease";
  leases.plural = "leases";
  UserInfo n1 = Node("n1");

  boost::json::object own{{"metadata", boost::json::object{{"name", "n1"}}}};
  boost::json::object other{{"metadata", boost::json::object{{"name", "n2"}}}};
  AdmissionAttributes create_own{"CREATE", nodes, "", "", "", &own, nullptr, n1};
  CHECK(adm.Admit(create_own).ok());
  AdmissionAttributes create_other{"CREATE", nodes, "", "", "", &other, nullptr, n1};
  CHECK(adm.Admit(create_other).code() == Code::kForbidden);

  AdmissionAttributes lease_other{"CREATE", leases, "", "kube-node-lease", "", &other, nullptr, n1};
  CHECK(adm.Admit(lease_other).code() == Code::kForbidden);
  AdmissionAttributes lease_own{"CREATE", leases, "", "kube-node-lease", "", &own, nullptr, n1};
  CHECK(adm.Admit(lease_own).ok());

  boost::json::object mine{{"spec", boost::json::object{{"nodeName", "n1"}}}};
  boost::json::object theirs{{"spec", boost::json::object{{"nodeName", "n2"}}}};
  boost::json::object update = mine;
  AdmissionAttributes status_mine{"UPDATE", pods, "status", "default", "p", &update, &mine, n1};
  CHECK(adm.Admit(status_mine).ok());
  AdmissionAttributes status_theirs{"UPDATE", pods, "status", "default", "p", &update, &theirs, n1};
  CHECK(adm.Admit(status_theirs).code() == Code::kForbidden);
  AdmissionAttributes delete_theirs{"DELETE", pods, "", "default", "p", nullptr, &theirs, n1};
  CHECK(adm.Admit(delete_theirs).code() == Code::kForbidden);

  UserInfo admin{"system:admin", "", {"system:masters"}};
  AdmissionAttributes admin_other{"CREATE", nodes, "", "", "", &other, nullptr, admin};
  CHECK(adm.Admit(admin_other).ok());
}

}  // namespace
}  // namespace mini8s::server
