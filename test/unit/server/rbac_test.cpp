#include "mini8s/server/rbac.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/registry.h"
#include "mini8s/common/json.h"
#include "mini8s/server/node_authorizer.h"
#include "mini8s/store/mem_store.h"
#include "mini8s/store/store.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

PolicyRule R(std::vector<std::string> verbs, std::vector<std::string> groups,
             std::vector<std::string> resources, std::vector<std::string> names = {}) {
  return PolicyRule{
      std::move(verbs), std::move(groups), std::move(resources), std::move(names), {}};
}

PolicyRule U(std::vector<std::string> verbs, std::vector<std::string> urls) {
  return PolicyRule{std::move(verbs), {}, {}, {}, std::move(urls)};
}

Attributes Res(std::string verb, std::string group, std::string resource, std::string sub = "",
               std::string ns = "", std::string name = "",
               UserInfo user = {"alice", "", {"system:authenticated"}}) {
  Attributes a;
  a.user = std::move(user);
  a.verb = std::move(verb);
  a.resource_request = true;
  a.api_group = std::move(group);
  a.resource = std::move(resource);
  a.subresource = std::move(sub);
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  return a;
}

Attributes Path(std::string verb, std::string path, UserInfo user = {"alice", "", {}}) {
  Attributes a;
  a.user = std::move(user);
  a.verb = std::move(verb);
  a.path = std::move(path);
  return a;
}

TEST_CASE("rbac: RuleAllows matches verbs, groups and resources, with * for each", "[rbac][unit]") {
  PolicyRule r = R({"get", "list"}, {"", "apps"}, {"pods", "deployments"});
  CHECK(RuleAllows(r, Res("get", "", "pods")));
  CHECK(RuleAllows(r, Res("list", "apps", "deployments")));
  CHECK_FALSE(RuleAllows(r, Res("delete", "", "pods")));
  CHECK_FALSE(RuleAllows(r, Res("get", "batch", "pods")));
  CHECK_FALSE(RuleAllows(r, Res("get", "", "secrets")));
  PolicyRule all = R({"*"}, {"*"}, {"*"});
  CHECK(RuleAllows(all, Res("escalate", "rbac.authorization.k8s.io", "roles", "", "x", "y")));
  CHECK(RuleAllows(all, Res("get", "", "pods", "log")));
  CHECK_FALSE(RuleAllows(all, Path("get", "/healthz")));  // no nonResourceURLs in the rule
}

TEST_CASE("rbac: subresources need resource/sub or */sub, never the bare resource",
          "[rbac][unit]") {
  CHECK_FALSE(RuleAllows(R({"get"}, {""}, {"pods"}), Res("get", "", "pods", "log")));
  CHECK(RuleAllows(R({"get"}, {""}, {"pods/log"}), Res("get", "", "pods", "log")));
  CHECK_FALSE(RuleAllows(R({"get"}, {""}, {"pods/log"}), Res("get", "", "pods")));
  CHECK(RuleAllows(R({"create"}, {""}, {"pods/exec"}), Res("create", "", "pods", "exec")));
  CHECK_FALSE(RuleAllows(R({"create"}, {""}, {"pods/exec"}), Res("create", "", "pods", "attach")));
  PolicyRule scale = R({"update"}, {"*"}, {"*/scale"});
  CHECK(RuleAllows(scale, Res("update", "apps", "deployments", "scale")));
  CHECK(RuleAllows(scale, Res("update", "", "replicationcontrollers", "scale")));
  CHECK_FALSE(RuleAllows(scale, Res("update", "apps", "deployments")));
  CHECK_FALSE(RuleAllows(scale, Res("update", "apps", "deployments", "status")));
}

TEST_CASE("rbac: resourceNames restrict to named requests", "[rbac][unit]") {
  PolicyRule r = R({"get", "list"}, {""}, {"configmaps"}, {"cfg"});
  CHECK(RuleAllows(r, Res("get", "", "configmaps", "", "ns", "cfg")));
  CHECK_FALSE(RuleAllows(r, Res("get", "", "configmaps", "", "ns", "other")));
  CHECK_FALSE(RuleAllows(r, Res("list", "", "configmaps", "", "ns")));  // no name on a list
}

TEST_CASE("rbac: nonResourceURLs match exactly or by a trailing * prefix", "[rbac][unit]") {
  PolicyRule r = U({"get"}, {"/healthz", "/apis/*", "/logs*"});
  CHECK(RuleAllows(r, Path("get", "/healthz")));
  CHECK_FALSE(RuleAllows(r, Path("get", "/healthz/etcd")));
  CHECK(RuleAllows(r, Path("get", "/apis/apps/v1")));
  CHECK_FALSE(RuleAllows(r, Path("get", "/apis")));
  CHECK(RuleAllows(r, Path("get", "/logsfoo")));
  CHECK_FALSE(RuleAllows(r, Path("post", "/healthz")));
  CHECK(RuleAllows(U({"*"}, {"*"}), Path("delete", "/anything")));
  CHECK_FALSE(RuleAllows(r, Res("get", "", "healthz")));  // resource requests never match URLs
}

TEST_CASE("rbac: UncoveredRules breaks rules down and honours */sub, names and URL prefixes",
          "[rbac][unit]") {
  std::vector<PolicyRule> owner = {R({"get", "list"}, {""}, {"pods", "*/status"}),
                                   R({"get"}, {""}, {"secrets"}, {"a"}), U({"get"}, {"/api/*"})};
  CHECK(UncoveredRules(owner, {R({"get"}, {""}, {"pods", "pods/status"})}).empty());
  CHECK(UncoveredRules(owner, {R({"get"}, {""}, {"secrets"}, {"a"})}).empty());
  CHECK(UncoveredRules(owner, {U({"get"}, {"/api/v1"})}).empty());
  auto missing = UncoveredRules(owner, {R({"get", "delete"}, {""}, {"pods", "secrets"})});
  REQUIRE(missing.size() == 3);  // delete pods, get secrets (unnamed), delete secrets
  auto compact = CompactRules(missing);
  REQUIRE(compact.size() == 2);
  CHECK(compact[0].CompactString() == R"({APIGroups:[""], Resources:["pods"], Verbs:["delete"]})");
  CHECK(compact[1].CompactString() ==
        R"({APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]})");
}

// ---- the index over a store ----

struct Fixture {
  std::unique_ptr<store::Store> store = store::MemStore::Create();
  std::unique_ptr<RbacAuthorizer> rbac;

  int64_t Put(const std::string& resource, const std::string& ns, json::object obj) {
    std::string name(api::Name(obj));
    std::string key =
        std::string(kRbacPrefix) + resource + "/" + (ns.empty() ? "" : ns + "/") + name;
    auto cur = store->Get(key);
    Result<int64_t> rev = cur.ok() ? store->Update(key, SerializeJson(obj), cur->mod_revision)
                                   : store->Create(key, SerializeJson(obj));
    REQUIRE(rev.ok());
    if (rbac) REQUIRE(rbac->WaitForRevision(*rev, 5s));
    return *rev;
  }
  void Delete(const std::string& resource, const std::string& ns, const std::string& name) {
    auto d = store->Delete(std::string(kRbacPrefix) + resource + "/" +
                           (ns.empty() ? "" : ns + "/") + name);
    REQUIRE(d.ok());
    if (rbac) REQUIRE(rbac->WaitForRevision(d->revision, 5s));
  }
  void Start() {
    auto r = RbacAuthorizer::Create(*store);
    REQUIRE(r.ok());
    rbac = std::move(*r);
  }
};

json::object Role(std::string kind, std::string name, std::string ns,
                  std::vector<PolicyRule> rules) {
  json::object meta{{"name", name}};
  if (!ns.empty()) meta["namespace"] = ns;
  return json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", kind},
                      {"metadata", std::move(meta)},
                      {"rules", RulesToJson(rules)}};
}

json::object Binding(std::string kind, std::string name, std::string ns, std::string role_kind,
                     std::string role, json::array subjects) {
  json::object meta{{"name", name}};
  if (!ns.empty()) meta["namespace"] = ns;
  return json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", kind},
                      {"metadata", std::move(meta)},
                      {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                               {"kind", role_kind},
                                               {"name", role}}},
                      {"subjects", std::move(subjects)}};
}

json::object Subject(std::string kind, std::string name, std::string ns = "") {
  json::object s{{"kind", kind}, {"name", name}};
  if (!ns.empty()) s["namespace"] = ns;
  return s;
}

TEST_CASE("rbac: a RoleBinding grants its Role only in its namespace, with upstream's reason",
          "[rbac][unit]") {
  Fixture f;
  f.Put("roles", "dev", Role("Role", "reader", "dev", {R({"get", "list"}, {""}, {"pods"})}));
  f.Put("rolebindings", "dev",
        Binding("RoleBinding", "rb", "dev", "Role", "reader", {Subject("User", "alice")}));
  f.Start();
  AuthorizerDecision d = f.rbac->Decide(Res("get", "", "pods", "", "dev", "p"));
  CHECK(d.allowed());
  CHECK(d.reason == R"(RBAC: allowed by RoleBinding "rb/dev" of Role "reader" to User "alice")");
  CHECK_FALSE(f.rbac->Authorize(Res("get", "", "pods", "", "prod", "p")));
  CHECK_FALSE(f.rbac->Authorize(Res("get", "", "pods")));  // cluster scope
  CHECK_FALSE(f.rbac->Authorize(Res("delete", "", "pods", "", "dev", "p")));
  CHECK_FALSE(f.rbac->Authorize(Res("get", "", "pods", "", "dev", "p", {"bob", "", {}})));
  CHECK(f.rbac->Decide(Res("delete", "", "pods", "", "dev", "p")).decision == Decision::kNoOpinion);
}

TEST_CASE("rbac: a RoleBinding to a ClusterRole grants it in the binding's namespace only",
          "[rbac][unit]") {
  Fixture f;
  f.Start();
  f.Put("clusterroles", "", Role("ClusterRole", "view", "", {R({"get"}, {""}, {"configmaps"})}));
  f.Put("rolebindings", "a",
        Binding("RoleBinding", "v", "a", "ClusterRole", "view", {Subject("Group", "team")}));
  UserInfo u{"carol", "", {"team"}};
  CHECK(f.rbac->Authorize(Res("get", "", "configmaps", "", "a", "x", u)));
  CHECK_FALSE(f.rbac->Authorize(Res("get", "", "configmaps", "", "b", "x", u)));
  CHECK_FALSE(f.rbac->Authorize(Res("get", "", "configmaps", "", "", "x", u)));
}

TEST_CASE("rbac: ClusterRoleBindings apply everywhere; groups, SAs and nonResourceURLs",
          "[rbac][unit]") {
  Fixture f;
  f.Start();
  f.Put("clusterroles", "",
        Role("ClusterRole", "ops", "",
             {R({"*"}, {"apps"}, {"deployments", "deployments/scale"}),
              U({"get"}, {"/metrics", "/logs/*"})}));
  f.Put(
      "clusterrolebindings", "",
      Binding("ClusterRoleBinding", "ops", "", "ClusterRole", "ops",
              {Subject("Group", "system:serviceaccounts:ci"),
               Subject("ServiceAccount", "deployer", "prod"), Subject("ServiceAccount", "nons")}));
  UserInfo sa{"system:serviceaccount:prod:deployer",
              "",
              {"system:serviceaccounts", "system:serviceaccounts:prod", "system:authenticated"}};
  AuthorizerDecision d = f.rbac->Decide(Res("patch", "apps", "deployments", "scale", "x", "d", sa));
  CHECK(d.allowed());
  CHECK(
      d.reason ==
      R"(RBAC: allowed by ClusterRoleBinding "ops" of ClusterRole "ops" to ServiceAccount "deployer/prod")");
  CHECK(f.rbac->Authorize(Path("get", "/logs/x", sa)));
  CHECK_FALSE(f.rbac->Authorize(Path("get", "/logs", sa)));
  UserInfo ci{"system:serviceaccount:ci:builder", "", {"system:serviceaccounts:ci"}};
  CHECK(f.rbac->Authorize(Res("get", "apps", "deployments", "", "y", "", ci)));
  // A ServiceAccount subject without a namespace in a ClusterRoleBinding applies to no one.
  UserInfo nons{"system:serviceaccount::nons", "", {}};
  CHECK_FALSE(f.rbac->Authorize(Res("get", "apps", "deployments", "", "y", "", nons)));
}

TEST_CASE("rbac: a ServiceAccount subject of a RoleBinding defaults to the binding's namespace",
          "[rbac][unit]") {
  Fixture f;
  f.Start();
  f.Put("roles", "ns1", Role("Role", "r", "ns1", {R({"get"}, {""}, {"secrets"})}));
  f.Put("rolebindings", "ns1",
        Binding("RoleBinding", "b", "ns1", "Role", "r", {Subject("ServiceAccount", "app")}));
  CHECK(f.rbac->Authorize(
      Res("get", "", "secrets", "", "ns1", "s", {"system:serviceaccount:ns1:app", "", {}})));
  CHECK_FALSE(f.rbac->Authorize(
      Res("get", "", "secrets", "", "ns1", "s", {"system:serviceaccount:other:app", "", {}})));
}

TEST_CASE("rbac: the index follows watch events for roles and bindings", "[rbac][unit]") {
  Fixture f;
  f.Start();
  Attributes get = Res("get", "", "pods", "", "dev", "p");
  CHECK_FALSE(f.rbac->Authorize(get));
  f.Put("rolebindings", "dev",
        Binding("RoleBinding", "rb", "dev", "Role", "r", {Subject("User", "alice")}));
  CHECK_FALSE(f.rbac->Authorize(get));  // the role does not exist yet
  f.Put("roles", "dev", Role("Role", "r", "dev", {R({"get"}, {""}, {"pods"})}));
  CHECK(f.rbac->Authorize(get));
  f.Put("roles", "dev", Role("Role", "r", "dev", {R({"list"}, {""}, {"pods"})}));
  CHECK_FALSE(f.rbac->Authorize(get));
  CHECK(f.rbac->Authorize(Res("list", "", "pods", "", "dev")));
  // Changing the subjects moves the grant.
  f.Put("rolebindings", "dev",
        Binding("RoleBinding", "rb", "dev", "Role", "r", {Subject("User", "bob")}));
  CHECK_FALSE(f.rbac->Authorize(Res("list", "", "pods", "", "dev")));
  CHECK(f.rbac->Authorize(Res("list", "", "pods", "", "dev", "", {"bob", "", {}})));
  f.Delete("rolebindings", "dev", "rb");
  CHECK_FALSE(f.rbac->Authorize(Res("list", "", "pods", "", "dev", "", {"bob", "", {}})));
}

TEST_CASE("rbac: RulesFor lists cluster and namespace grants once per binding", "[rbac][unit]") {
  Fixture f;
  f.Start();
  f.Put("clusterroles", "", Role("ClusterRole", "c", "", {U({"get"}, {"/version"})}));
  f.Put("roles", "n", Role("Role", "r", "n", {R({"get"}, {""}, {"pods"})}));
  f.Put("clusterrolebindings", "",
        Binding("ClusterRoleBinding", "c", "", "ClusterRole", "c",
                {Subject("User", "alice"), Subject("Group", "system:authenticated")}));
  f.Put("rolebindings", "n",
        Binding("RoleBinding", "r", "n", "Role", "r", {Subject("User", "alice")}));
  UserInfo alice{"alice", "", {"system:authenticated"}};
  CHECK(f.rbac->RulesFor(alice, "n").size() == 2);
  CHECK(f.rbac->RulesFor(alice, "other").size() == 1);
  CHECK(f.rbac->RoleReferenceRules("Role", "r", "n").ok());
  auto missing = f.rbac->RoleReferenceRules("ClusterRole", "nope", "");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message() == R"(clusterroles.rbac.authorization.k8s.io "nope" not found)");
}

TEST_CASE("rbac: the aggregator unions the rules of the ClusterRoles its selectors match",
          "[rbac][unit]") {
  Fixture f;
  f.Start();
  ClusterRoleAggregator agg(*f.store, *f.rbac);
  json::object parent = Role("ClusterRole", "monitoring", "", {});
  parent["aggregationRule"] =
      json::object{{"clusterRoleSelectors",
                    json::array{json::object{{"matchLabels", json::object{{"agg", "mon"}}}}}}};
  f.Put("clusterroles", "", parent);
  json::object a = Role("ClusterRole", "a", "", {R({"get"}, {""}, {"pods"})});
  api::SetLabel(a, "agg", "mon");
  json::object b =
      Role("ClusterRole", "b", "", {R({"get"}, {""}, {"pods"}), R({"list"}, {""}, {"nodes"})});
  api::SetLabel(b, "agg", "mon");
  f.Put("clusterroles", "", a);
  f.Put("clusterroles", "", b);
  f.Put("clusterroles", "", Role("ClusterRole", "c", "", {R({"*"}, {"*"}, {"*"})}));
  auto n = agg.ReconcileAll();
  REQUIRE(n.ok());
  CHECK(*n == 1);
  auto stored = f.store->Get(std::string(kRbacPrefix) + "clusterroles/monitoring");
  REQUIRE(stored.ok());
  REQUIRE(f.rbac->WaitForRevision(stored->mod_revision, 5s));
  auto rules = f.rbac->RoleReferenceRules("ClusterRole", "monitoring", "");
  REQUIRE(rules.ok());
  CHECK(*rules ==
        std::vector<PolicyRule>{R({"get"}, {""}, {"pods"}), R({"list"}, {""}, {"nodes"})});
  auto again = agg.ReconcileAll();
  REQUIRE(again.ok());
  CHECK(*again == 0);
}

TEST_CASE("rbac: bootstrap policy is created, then missing rules and subjects are restored",
          "[rbac][unit]") {
  Fixture f;
  auto first = ReconcileBootstrapPolicy(*f.store);
  REQUIRE(first.ok());
  CHECK(first->size() == BootstrapClusterRoles().size() + BootstrapClusterRoleBindings().size());
  auto again = ReconcileBootstrapPolicy(*f.store);
  REQUIRE(again.ok());
  CHECK(again->empty());
  // Drop a rule from system:basic-user and a subject from system:public-info-viewer.
  std::string role_key = std::string(kRbacPrefix) + "clusterroles/system:basic-user";
  auto kv = f.store->Get(role_key);
  REQUIRE(kv.ok());
  json::object role = ParseJson(*kv->value)->as_object();
  role["rules"] = json::array{};
  REQUIRE(f.store->Update(role_key, SerializeJson(role), kv->mod_revision).ok());
  std::string b_key = std::string(kRbacPrefix) + "clusterrolebindings/system:public-info-viewer";
  kv = f.store->Get(b_key);
  json::object binding = ParseJson(*kv->value)->as_object();
  binding["subjects"].as_array().pop_back();
  REQUIRE(f.store->Update(b_key, SerializeJson(binding), kv->mod_revision).ok());
  // And opt cluster-admin out of reconciliation.
  std::string ca_key = std::string(kRbacPrefix) + "clusterroles/cluster-admin";
  kv = f.store->Get(ca_key);
  json::object ca = ParseJson(*kv->value)->as_object();
  ca["rules"] = json::array{};
  api::SetAnnotation(ca, kAutoUpdateAnnotation, "false");
  REQUIRE(f.store->Update(ca_key, SerializeJson(ca), kv->mod_revision).ok());

  auto fixed = ReconcileBootstrapPolicy(*f.store);
  REQUIRE(fixed.ok());
  CHECK(fixed->size() == 2);
  f.Start();
  UserInfo u{"x", "", {"system:unauthenticated"}};
  CHECK(f.rbac->Authorize(Path("get", "/version", u)));
  UserInfo auth{"x", "", {"system:authenticated"}};
  CHECK(f.rbac->Authorize(
      Res("create", "authorization.k8s.io", "selfsubjectrulesreviews", "", "", "", auth)));
  UserInfo admin{"root", "", {"system:masters"}};
  CHECK_FALSE(f.rbac->Authorize(Res("get", "", "pods", "", "", "", admin)));  // left alone
}

TEST_CASE("rbac: bootstrap view/edit/admin aggregate from the aggregate-to roles", "[rbac][unit]") {
  Fixture f;
  REQUIRE(ReconcileBootstrapPolicy(*f.store).ok());
  f.Start();
  ClusterRoleAggregator agg(*f.store, *f.rbac);
  // edit carries aggregate-to-admin, so admin converges after edit was filled.
  for (int i = 0; i < 3; ++i) {
    auto n = agg.ReconcileAll();
    REQUIRE(n.ok());
    REQUIRE(f.rbac->WaitForRevision(f.store->CurrentRevision(), 5s));
  }
  auto rules = [&](const char* role) {
    return *f.rbac->RoleReferenceRules("ClusterRole", role, "");
  };
  Attributes get_pods = Res("get", "", "pods", "", "ns");
  Attributes create_deploy = Res("create", "apps", "deployments", "", "ns");
  Attributes create_rb = Res("create", "rbac.authorization.k8s.io", "rolebindings", "", "ns");
  auto allows = [](const std::vector<PolicyRule>& rs, const Attributes& a) {
    for (const auto& r : rs) {
      if (RuleAllows(r, a)) return true;
    }
    return false;
  };
  CHECK(allows(rules("view"), get_pods));
  CHECK_FALSE(allows(rules("view"), create_deploy));
  CHECK_FALSE(allows(rules("view"), Res("get", "", "secrets", "", "ns")));
  CHECK(allows(rules("edit"), create_deploy));
  CHECK(allows(rules("edit"), get_pods));
  CHECK_FALSE(allows(rules("edit"), create_rb));
  CHECK(allows(rules("admin"), create_rb));
  CHECK(allows(rules("admin"), create_deploy));
  CHECK(allows(rules("admin"), get_pods));
}

// ---- escalation ----

struct EscalationFixture : Fixture {
  std::shared_ptr<api::Registry> reg = api::Registry::NewBuiltin();
  std::shared_ptr<RbacAuthorizer> shared;
  std::unique_ptr<RbacEscalationAdmission> plugin;

  EscalationFixture() {
    Put("clusterroles", "",
        Role("ClusterRole", "pod-reader", "", {R({"get", "list"}, {""}, {"pods"})}));
    Put("clusterroles", "", Role("ClusterRole", "cluster-admin", "", {R({"*"}, {"*"}, {"*"})}));
    Put("rolebindings", "dev",
        Binding("RoleBinding", "alice-reader", "dev", "ClusterRole", "pod-reader",
                {Subject("User", "alice")}));
    Start();
    shared = std::move(rbac);
    plugin = std::make_unique<RbacEscalationAdmission>(shared, shared);
  }
  // Fixture::Put waits for `rbac`, which moved to `shared`: without this a test's Put raced its
  // next Admit (the informer sees a write only after the store has acknowledged it).
  int64_t Put(const std::string& resource, const std::string& ns, json::object obj) {
    int64_t rev = Fixture::Put(resource, ns, std::move(obj));
    if (shared) REQUIRE(shared->WaitForRevision(rev, 5s));
    return rev;
  }
  Status Admit(const std::string& resource, const std::string& ns, json::object obj,
               UserInfo user = {"alice", "", {"system:authenticated"}}) {
    auto k = reg->FindResource("rbac.authorization.k8s.io", "v1", resource);
    REQUIRE(k);
    std::string name(api::Name(obj));
    AdmissionAttributes a{"CREATE", *k, "", ns, name, &obj, nullptr, user, false};
    return plugin->Admit(a);
  }
};

TEST_CASE("rbac: creating a Role with rules the user holds passes, more is refused verbatim",
          "[rbac][unit]") {
  EscalationFixture f;
  CHECK(f.Admit("roles", "dev", Role("Role", "ok", "dev", {R({"get"}, {""}, {"pods"})})).ok());
  Status s = f.Admit("roles", "dev",
                     Role("Role", "bad", "dev", {R({"get", "delete"}, {""}, {"pods", "secrets"})}));
  REQUIRE(s.code() == Code::kForbidden);
  CHECK(s.message() ==
        "roles.rbac.authorization.k8s.io \"bad\" is forbidden: user \"alice\" "
        "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not "
        "currently held:\n"
        "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}\n"
        "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}");
  // Held in dev only: the same role in another namespace escalates.
  CHECK(f.Admit("roles", "prod", Role("Role", "ok", "prod", {R({"get"}, {""}, {"pods"})})).code() ==
        Code::kForbidden);
  // system:masters bypasses.
  CHECK(f.Admit("clusterroles", "", Role("ClusterRole", "x", "", {R({"*"}, {"*"}, {"*"})}),
                {"root", "", {"system:masters"}})
            .ok());
}

TEST_CASE("rbac: the escalate verb allows granting what the user does not hold", "[rbac][unit]") {
  EscalationFixture f;
  f.Put("roles", "dev",
        Role("Role", "escalator", "dev",
             {R({"escalate"}, {"rbac.authorization.k8s.io"}, {"roles"})}));
  f.Put("rolebindings", "dev",
        Binding("RoleBinding", "esc", "dev", "Role", "escalator", {Subject("User", "alice")}));
  REQUIRE(f.shared->WaitForRevision(f.store->CurrentRevision(), 5s));
  CHECK(f.Admit("roles", "dev", Role("Role", "big", "dev", {R({"*"}, {""}, {"secrets"})})).ok());
}

TEST_CASE("rbac: binding a role needs its permissions or the bind verb", "[rbac][unit]") {
  EscalationFixture f;
  json::object ok =
      Binding("RoleBinding", "b1", "dev", "ClusterRole", "pod-reader", {Subject("User", "bob")});
  CHECK(f.Admit("rolebindings", "dev", ok).ok());
  json::object admin =
      Binding("RoleBinding", "b2", "dev", "ClusterRole", "cluster-admin", {Subject("User", "bob")});
  Status s = f.Admit("rolebindings", "dev", admin);
  REQUIRE(s.code() == Code::kForbidden);
  CHECK(s.message().rfind("rolebindings.rbac.authorization.k8s.io \"b2\" is forbidden: user "
                          "\"alice\" (groups=[\"system:authenticated\"]) is attempting to grant "
                          "RBAC permissions not currently held:\n{APIGroups:[\"*\"], "
                          "Resources:[\"*\"], Verbs:[\"*\"]}",
                          0) == 0);
  json::object missing =
      Binding("RoleBinding", "b3", "dev", "Role", "nope", {Subject("User", "bob")});
  CHECK(f.Admit("rolebindings", "dev", missing).code() == Code::kNotFound);
  f.Put("roles", "dev",
        Role("Role", "binder", "dev",
             {R({"bind"}, {"rbac.authorization.k8s.io"}, {"clusterroles"}, {"cluster-admin"})}));
  f.Put("rolebindings", "dev",
        Binding("RoleBinding", "binder", "dev", "Role", "binder", {Subject("User", "alice")}));
  CHECK(f.Admit("rolebindings", "dev", admin).ok());
  // bind is namespaced here: a ClusterRoleBinding is still refused.
  json::object crb = Binding("ClusterRoleBinding", "crb", "", "ClusterRole", "cluster-admin",
                             {Subject("User", "bob")});
  CHECK(f.Admit("clusterrolebindings", "", crb).code() == Code::kForbidden);
}

TEST_CASE("rbac: an aggregated ClusterRole needs full authority", "[rbac][unit]") {
  EscalationFixture f;
  f.Put("clusterrolebindings", "",
        Binding("ClusterRoleBinding", "esc", "", "ClusterRole", "pod-reader",
                {Subject("User", "alice")}));
  json::object agg = Role("ClusterRole", "agg", "", {});
  agg["aggregationRule"] = json::object{{"clusterRoleSelectors", json::array{json::object{}}}};
  Status s = f.Admit("clusterroles", "", agg);
  REQUIRE(s.code() == Code::kForbidden);
  CHECK(s.message() ==
        "clusterroles.rbac.authorization.k8s.io \"agg\" is forbidden: must have "
        "cluster-admin privileges to use the aggregationRule");
}

// ---- reviews ----

TEST_CASE("rbac: SubjectAccessReview reports allowed and reason; validation as upstream",
          "[rbac][unit]") {
  Fixture f;
  f.Put("clusterroles", "", Role("ClusterRole", "r", "", {R({"get"}, {""}, {"pods"})}));
  f.Put("clusterrolebindings", "",
        Binding("ClusterRoleBinding", "b", "", "ClusterRole", "r", {Subject("Group", "devs")}));
  f.Start();
  UserInfo requester{"admin", "", {"system:masters"}};
  json::object sar{
      {"apiVersion", "authorization.k8s.io/v1"},
      {"kind", "SubjectAccessReview"},
      {"spec",
       json::object{{"user", "eve"},
                    {"groups", json::array{"devs"}},
                    {"resourceAttributes",
                     json::object{{"verb", "get"}, {"resource", "pods"}, {"namespace", "x"}}}}}};
  auto out = SubjectAccessReview(*f.rbac, "SubjectAccessReview", requester, "", sar);
  REQUIRE(out.ok());
  CHECK(api::GetBool(*out, "status.allowed") == true);
  CHECK(api::GetString(*out, "status.reason") ==
        R"(RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to Group "devs")");
  sar["spec"].as_object()["groups"] = json::array{};
  out = SubjectAccessReview(*f.rbac, "SubjectAccessReview", requester, "", sar);
  REQUIRE(out.ok());
  CHECK(api::GetBool(*out, "status.allowed") == false);

  json::object bad{{"spec", json::object{}}};
  auto e = SubjectAccessReview(*f.rbac, "SubjectAccessReview", requester, "", bad);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code() == Code::kInvalid);
  CHECK(e.error().message().find("at least one of user or group must be specified") !=
        std::string::npos);
  CHECK(e.error().message().find("exactly one of nonResourceAttributes or resourceAttributes") !=
        std::string::npos);

  json::object local{
      {"spec", json::object{
                   {"user", "eve"},
                   {"resourceAttributes",
                    json::object{{"verb", "get"}, {"resource", "pods"}, {"namespace", "other"}}}}}};
  auto l = SubjectAccessReview(*f.rbac, "LocalSubjectAccessReview", requester, "x", local);
  REQUIRE_FALSE(l.ok());
  CHECK(l.error().code() == Code::kBadRequest);
  CHECK(l.error().message() == "spec.resourceAttributes.namespace must match namespace: x");

  json::object self{{"spec", json::object{{"nonResourceAttributes",
                                           json::object{{"verb", "get"}, {"path", "/x"}}}}}};
  auto s = SubjectAccessReview(*f.rbac, "SelfSubjectAccessReview", {"eve", "", {"devs"}}, "", self);
  REQUIRE(s.ok());
  CHECK(api::GetBool(*s, "status.allowed") == false);
}

TEST_CASE("rbac: SelfSubjectRulesReview lists the user's rules in a namespace", "[rbac][unit]") {
  Fixture f;
  f.Put("roles", "n",
        Role("Role", "r", "n", {R({"get"}, {""}, {"pods"}, {"p"}), U({"get"}, {"/x"})}));
  f.Put("rolebindings", "n",
        Binding("RoleBinding", "b", "n", "Role", "r", {Subject("User", "eve")}));
  f.Start();
  json::object body{{"spec", json::object{{"namespace", "n"}}}};
  auto out = SelfSubjectRulesReview(*f.rbac, {"eve", "", {}}, body);
  REQUIRE(out.ok());
  CHECK(api::GetBool(*out, "status.incomplete") == false);
  const json::array* rr = api::GetArray(*out, "status.resourceRules");
  REQUIRE(rr != nullptr);
  REQUIRE(rr->size() == 1);
  CHECK(api::GetString((*rr)[0].as_object(), "resourceNames") == "");
  CHECK(api::GetArray((*rr)[0].as_object(), "resourceNames")->size() == 1);
  REQUIRE(api::GetArray(*out, "status.nonResourceRules")->size() == 1);
  auto none =
      SelfSubjectRulesReview(*f.rbac, {"eve", "", {}}, json::object{{"spec", json::object{}}});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message() == "no namespace on request");
  auto node = SelfSubjectRulesReview(*f.rbac, {"system:node:n1", "", {"system:nodes"}}, body);
  REQUIRE(node.ok());
  CHECK(api::GetBool(*node, "status.incomplete") == true);
}

TEST_CASE("rbac: the union asks Node then RBAC and keeps the first opinion", "[rbac][unit]") {
  Fixture f;
  f.Put("clusterroles", "", Role("ClusterRole", "r", "", {R({"get"}, {""}, {"nodes"})}));
  f.Put("clusterrolebindings", "",
        Binding("ClusterRoleBinding", "b", "", "ClusterRole", "r", {Subject("User", "eve")}));
  f.Start();
  std::shared_ptr<const RbacAuthorizer> rbac = std::move(f.rbac);
  UnionAuthorizer u({std::make_shared<PrivilegedGroupAuthorizer>(),
                     std::make_shared<NodeAuthorizer>(nullptr), rbac});
  CHECK(u.Decide(Res("get", "", "nodes", "", "", "n", {"eve", "", {}})).reason.rfind("RBAC:", 0) ==
        0);
  CHECK(u.Authorize(Res("delete", "", "secrets", "", "", "n", {"r", "", {"system:masters"}})));
  CHECK(
      u.Authorize(Res("get", "", "nodes", "", "", "n1", {"system:node:n1", "", {"system:nodes"}})));
  CHECK_FALSE(u.Authorize(Res("delete", "", "nodes", "", "", "n", {"eve", "", {}})));
}

}  // namespace
}  // namespace mini8s::server
