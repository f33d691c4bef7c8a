// Upstream's bootstrap RBAC policy (the default ClusterRoles and ClusterRoleBindings) and its
// reconciliation at server start.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <random>

#include <boost/json/array.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/server/rbac.h"
#include "mini8s/store/store.h"

namespace mini8s::server {
namespace json = boost::json;

namespace {

using Strs = std::initializer_list<const char*>;

const Strs kRead = {"get", "list", "watch"};
const Strs kWrite = {"create", "update", "patch", "delete", "deletecollection"};
const Strs kReadWrite = {"get",    "list",  "watch",  "create",
                         "update", "patch", "delete", "deletecollection"};

std::vector<std::string> V(Strs s) { return {s.begin(), s.end()}; }

PolicyRule Res(Strs verbs, Strs groups, Strs resources, Strs names = {}) {
  return PolicyRule{V(verbs), V(groups), V(resources), V(names), {}};
}

PolicyRule Urls(Strs verbs, Strs urls) { return PolicyRule{V(verbs), {}, {}, {}, V(urls)}; }

// Upstream's eventsRule(): the events of both groups.
PolicyRule EventsRule() {
  return Res({"create", "update", "patch"}, {"", "events.k8s.io"}, {"events"});
}

constexpr const char* kAggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin";
constexpr const char* kAggregateToEdit = "rbac.authorization.k8s.io/aggregate-to-edit";
constexpr const char* kAggregateToView = "rbac.authorization.k8s.io/aggregate-to-view";

json::object Metadata(std::string_view name, std::initializer_list<const char*> extra_labels) {
  json::object labels{{"kubernetes.io/bootstrapping", "rbac-defaults"}};
  for (const char* l : extra_labels) labels[l] = "true";
  return json::object{{"name", name},
                      {"labels", std::move(labels)},
                      {"annotations", json::object{{kAutoUpdateAnnotation, "true"}}}};
}

json::object ClusterRole(std::string_view name, std::vector<PolicyRule> rules,
                         std::initializer_list<const char*> labels = {}) {
  return json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                      {"kind", "ClusterRole"},
                      {"metadata", Metadata(name, labels)},
                      {"rules", RulesToJson(rules)}};
}

json::object AggregatedClusterRole(std::string_view name, const char* aggregate_label,
                                   std::initializer_list<const char*> labels = {}) {
  json::object o = ClusterRole(name, {}, labels);
  o["aggregationRule"] = json::object{
      {"clusterRoleSelectors",
       json::array{json::object{{"matchLabels", json::object{{aggregate_label, "true"}}}}}}};
  return o;
}

json::object Subj(std::string_view kind, std::string_view name, std::string_view ns = "") {
  json::object s{{"kind", kind}, {"name", name}};
  if (kind == "ServiceAccount") {
    s["namespace"] = ns;
  } else {
    s["apiGroup"] = kRbacGroup;
  }
  return s;
}

json::object ClusterBinding(std::string_view name, json::array subjects) {
  json::object o{
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRoleBinding"},
      {"metadata", Metadata(name, {})},
      {"roleRef", json::object{{"apiGroup", kRbacGroup}, {"kind", "ClusterRole"}, {"name", name}}}};
  if (!subjects.empty()) o["subjects"] = std::move(subjects);
  return o;
}

std::vector<PolicyRule> NodeRules() {
  return {
      Res({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
      Res({"create"}, {"authorization.k8s.io"},
          {"subjectaccessreviews", "localsubjectaccessreviews"}),
      Res(kRead, {""}, {"services"}),
      Res({"create", "get", "list", "watch"}, {""}, {"nodes"}),
      Res({"update", "patch"}, {""}, {"nodes/status"}),
      Res({"update", "patch"}, {""}, {"nodes"}),
      Res({"create", "update", "patch"}, {""}, {"events"}),
      Res(kRead, {""}, {"pods"}),
      Res({"create", "delete"}, {""}, {"pods"}),
      Res({"update", "patch"}, {""}, {"pods/status"}),
      Res({"create"}, {""}, {"pods/eviction"}),
      Res({"get", "list", "watch"}, {""}, {"secrets", "configmaps"}),
      Res({"get"}, {""}, {"persistentvolumeclaims", "persistentvolumes"}),
      Res({"get"}, {""}, {"endpoints"}),
      Res({"create", "get", "list", "watch"}, {"certificates.k8s.io"},
          {"certificatesigningrequests"}),
      Res({"get", "create", "update", "patch", "delete"}, {"coordination.k8s.io"}, {"leases"}),
      Res({"get"}, {"storage.k8s.io"}, {"volumeattachments"}),
      Res({"get", "update", "patch"}, {""}, {"persistentvolumeclaims/status"}),
      Res({"create"}, {""}, {"serviceaccounts/token"}),
      Res({"get", "watch", "list"}, {"storage.k8s.io"}, {"csidrivers"}),
      Res({"get", "create", "update", "patch", "delete"}, {"storage.k8s.io"}, {"csinodes"}),
      Res({"get", "list", "watch"}, {"node.k8s.io"}, {"runtimeclasses"}),
  };
}

std::string NewUid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string NowRfc3339Utc() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Adds the entries of `want` missing from `have` (existing values win, as upstream's merge).
bool MergeMissing(json::object& have, const json::object& want) {
  bool changed = false;
  for (const auto& [k, v] : want) {
    if (!have.contains(k)) {
      have[k] = v;
      changed = true;
    }
  }
  return changed;
}

bool MergeMeta(json::object& existing, const json::object& expected, std::string_view field) {
  const json::object* want =
      api::GetObject(expected, std::string("metadata.") + std::string(field));
  if (want == nullptr) return false;
  json::object& have =
      api::MutableObjectAt(existing, std::string("metadata.") + std::string(field));
  return MergeMissing(have, *want);
}

bool AutoUpdate(const json::object& o) {
  auto a = api::Annotation(o, kAutoUpdateAnnotation);
  return !a || *a != "false";
}

Status CreateObject(store::Store& store, const std::string& key, json::object obj) {
  json::object& meta = api::MutableMetadata(obj);
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = NowRfc3339Utc();
  auto r = store.Create(key, SerializeJson(obj));
  if (!r.ok() && !r.error().Is(Code::kAlreadyExists)) return r.error();
  return Status::OK();
}

// What reconciling `existing` towards `expected` changes (a role); empty when nothing.
std::string ReconcileRole(json::object& existing, const json::object& expected) {
  std::string what;
  if (MergeMeta(existing, expected, "labels")) what += " labels";
  if (MergeMeta(existing, expected, "annotations")) what += " annotations";
  if (const json::value* want = expected.if_contains("aggregationRule")) {
    json::object& have = api::MutableObjectAt(existing, "aggregationRule");
    json::value& sels = have["clusterRoleSelectors"];
    if (!sels.is_array()) sels = json::array();
    for (const json::value& s : want->as_object().at("clusterRoleSelectors").as_array()) {
      auto& arr = sels.as_array();
      if (std::find(arr.begin(), arr.end(), s) == arr.end()) {
        arr.push_back(s);
        what += " aggregationRule";
      }
    }
    return what;
  }
  std::vector<PolicyRule> have = RulesFromJson(api::GetArray(existing, "rules"));
  std::vector<PolicyRule> missing =
      UncoveredRules(have, RulesFromJson(api::GetArray(expected, "rules")));
  if (!missing.empty()) {
    have.insert(have.end(), missing.begin(), missing.end());
    existing["rules"] = RulesToJson(have);
    what += " rules(+" + std::to_string(missing.size()) + ")";
  }
  return what;
}

std::string ReconcileBindingSubjects(json::object& existing, const json::object& expected) {
  std::string what;
  if (MergeMeta(existing, expected, "labels")) what += " labels";
  if (MergeMeta(existing, expected, "annotations")) what += " annotations";
  const json::array* want = api::GetArray(expected, "subjects");
  if (want == nullptr) return what;
  json::value& subjects = existing["subjects"];
  if (!subjects.is_array()) subjects = json::array();
  for (const json::value& w : *want) {
    bool found = false;
    for (const json::value& h : subjects.as_array()) {
      if (!h.is_object()) continue;
      const json::object& ho = h.as_object();
      const json::object& wo = w.as_object();
      found = found || (api::GetString(ho, "kind") == api::GetString(wo, "kind") &&
                        api::GetString(ho, "name") == api::GetString(wo, "name") &&
                        api::GetString(ho, "namespace") == api::GetString(wo, "namespace"));
    }
    if (!found) {
      subjects.as_array().push_back(w);
      what += " subjects";
    }
  }
  return what;
}

}  // namespace

std::vector<json::object> BootstrapClusterRoles() {
  std::vector<json::object> roles;
  roles.push_back(ClusterRole("cluster-admin", {Res({"*"}, {"*"}, {"*"}), Urls({"*"}, {"*"})}));
  roles.push_back(
      ClusterRole("system:discovery",
                  {Urls({"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                  "/openapi", "/openapi/*", "/readyz", "/version", "/version/"})}));
  roles.push_back(ClusterRole(
      "system:monitoring", {Urls({"get"}, {"/healthz", "/healthz/*", "/livez", "/livez/*",
                                           "/metrics", "/metrics/slis", "/readyz", "/readyz/*"})}));
  roles.push_back(ClusterRole(
      "system:basic-user", {Res({"create"}, {"authorization.k8s.io"},
                                {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
                            Res({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"})}));
  roles.push_back(
      ClusterRole("system:public-info-viewer",
                  {Urls({"get"}, {"/healthz", "/livez", "/readyz", "/version", "/version/"})}));
  roles.push_back(AggregatedClusterRole("admin", kAggregateToAdmin));
  roles.push_back(AggregatedClusterRole("edit", kAggregateToEdit, {kAggregateToAdmin}));
  roles.push_back(AggregatedClusterRole("view", kAggregateToView, {kAggregateToEdit}));
  roles.push_back(
      ClusterRole("system:aggregate-to-admin",
                  {Res({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"}),
                   Res(kReadWrite, {"rbac.authorization.k8s.io"}, {"roles", "rolebindings"})},
                  {kAggregateToAdmin}));
  roles.push_back(ClusterRole(
      "system:aggregate-to-edit",
      {
          Res(kRead, {""},
              {"pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
               "services/proxy"}),
          Res({"impersonate"}, {""}, {"serviceaccounts"}),
          Res(kWrite, {""}, {"pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"}),
          Res({"create"}, {""}, {"pods/eviction"}),
          Res(kWrite, {""},
              {"replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
               "services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets",
               "events"}),
          Res({"create"}, {""}, {"serviceaccounts/token"}),
          Res(kWrite, {"apps"},
              {"statefulsets", "statefulsets/scale", "daemonsets", "deployments",
               "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"}),
          Res(kWrite, {"autoscaling"}, {"horizontalpodautoscalers"}),
          Res(kWrite, {"batch"}, {"jobs", "cronjobs"}),
          Res(kWrite, {"extensions"},
              {"daemonsets", "deployments", "deployments/scale", "deployments/rollback",
               "ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale",
               "networkpolicies"}),
          Res(kWrite, {"policy"}, {"poddisruptionbudgets"}),
          Res(kWrite, {"networking.k8s.io"}, {"networkpolicies", "ingresses"}),
      },
      {kAggregateToEdit}));
  roles.push_back(ClusterRole(
      "system:aggregate-to-view",
      {
          Res(kRead, {""},
              {"pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
               "services", "services/status", "endpoints", "persistentvolumeclaims",
               "persistentvolumeclaims/status", "configmaps"}),
          Res(kRead, {""},
              {"limitranges", "resourcequotas", "bindings", "events", "pods/status",
               "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
               "pods/log"}),
          Res(kRead, {""}, {"namespaces"}),
          Res(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
          Res(kRead, {"apps"},
              {"controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
               "daemonsets", "daemonsets/status", "deployments", "deployments/status",
               "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale"}),
          Res(kRead, {"autoscaling"},
              {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}),
          Res(kRead, {"batch"}, {"jobs", "cronjobs", "cronjobs/status", "jobs/status"}),
          Res(kRead, {"extensions"},
              {"daemonsets", "daemonsets/status", "deployments", "deployments/scale",
               "deployments/status", "ingresses", "ingresses/status", "replicasets",
               "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
               "networkpolicies"}),
          Res(kRead, {"policy"}, {"poddisruptionbudgets", "poddisruptionbudgets/status"}),
          Res(kRead, {"networking.k8s.io"}, {"networkpolicies", "ingresses", "ingresses/status"}),
      },
      {kAggregateToView}));
  roles.push_back(ClusterRole("system:node", NodeRules()));
  roles.push_back(ClusterRole("system:node-proxier",
                              {Res({"list", "watch"}, {""}, {"services", "endpoints"}),
                               Res({"get", "list", "watch"}, {""}, {"nodes"}), EventsRule(),
                               Res({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}));
  roles.push_back(ClusterRole("system:node-bootstrapper",
                              {Res({"create", "get", "list", "watch"}, {"certificates.k8s.io"},
                                   {"certificatesigningrequests"})}));
  roles.push_back(
      ClusterRole("system:auth-delegator",
                  {Res({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
                   Res({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"})}));
  roles.push_back(ClusterRole(
      "system:kube-controller-manager",
      {
          EventsRule(),
          Res({"create"}, {"coordination.k8s.io"}, {"leases"}),
          Res({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"kube-controller-manager"}),
          Res({"create"}, {""}, {"secrets", "serviceaccounts"}),
          Res({"delete"}, {""}, {"secrets"}),
          Res({"get"}, {""}, {"namespaces", "secrets", "serviceaccounts", "configmaps"}),
          Res({"update"}, {""}, {"secrets", "serviceaccounts"}),
          Res({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
          Res({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
          Res({"list", "watch"}, {"*"}, {"*"}),
          Res({"create"}, {""}, {"serviceaccounts/token"}),
      }));
  roles.push_back(ClusterRole(
      "system:kube-scheduler",
      {
          EventsRule(),
          Res({"create"}, {"coordination.k8s.io"}, {"leases"}),
          Res({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"kube-scheduler"}),
          Res(kRead, {""}, {"nodes"}),
          Res({"get", "list", "watch", "delete"}, {""}, {"pods"}),
          Res({"create"}, {""}, {"pods/binding", "bindings"}),
          Res({"patch", "update"}, {""}, {"pods/status"}),
          Res(kRead, {""}, {"services", "replicationcontrollers"}),
          Res(kRead, {"apps", "extensions"}, {"replicasets"}),
          Res(kRead, {"apps"}, {"statefulsets"}),
          Res(kRead, {"policy"}, {"poddisruptionbudgets"}),
          Res(kRead, {""}, {"persistentvolumeclaims", "persistentvolumes"}),
          Res({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
          Res({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
          Res(kRead, {"storage.k8s.io"}, {"csinodes"}),
          Res(kRead, {""}, {"namespaces"}),
          Res(kRead, {"storage.k8s.io"}, {"csidrivers"}),
          Res(kRead, {"storage.k8s.io"}, {"csistoragecapacities"}),
      }));
  roles.push_back(ClusterRole(
      "system:volume-scheduler",
      {Res({"get", "list", "watch", "update", "patch"}, {""}, {"persistentvolumes"}),
       Res(kRead, {"storage.k8s.io"}, {"storageclasses"}),
       Res({"get", "list", "watch", "update", "patch"}, {""}, {"persistentvolumeclaims"})}));
  roles.push_back(
      ClusterRole("system:kube-dns", {Res({"list", "watch"}, {""}, {"endpoints", "services"})}));
  roles.push_back(ClusterRole(
      "system:service-account-issuer-discovery",
      {Urls({"get"}, {"/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                      "/openid/v1/jwks", "/openid/v1/jwks/"})}));
  return roles;
}

std::vector<json::object> BootstrapClusterRoleBindings() {
  std::vector<json::object> b;
  b.push_back(ClusterBinding("cluster-admin", {Subj("Group", "system:masters")}));
  b.push_back(ClusterBinding("system:monitoring", {Subj("Group", "system:monitoring")}));
  b.push_back(ClusterBinding("system:discovery", {Subj("Group", "system:authenticated")}));
  b.push_back(ClusterBinding("system:basic-user", {Subj("Group", "system:authenticated")}));
  b.push_back(ClusterBinding(
      "system:public-info-viewer",
      {Subj("Group", "system:authenticated"), Subj("Group", "system:unauthenticated")}));
  b.push_back(ClusterBinding("system:node-proxier", {Subj("User", "system:kube-proxy")}));
  b.push_back(ClusterBinding("system:kube-controller-manager",
                             {Subj("User", "system:kube-controller-manager")}));
  b.push_back(
      ClusterBinding("system:kube-dns", {Subj("ServiceAccount", "kube-dns", "kube-system")}));
  b.push_back(ClusterBinding("system:kube-scheduler", {Subj("User", "system:kube-scheduler")}));
  json::object vs =
      ClusterBinding("system:volume-scheduler", {Subj("User", "system:kube-scheduler")});
  b.push_back(std::move(vs));
  // Kept without subjects as upstream (the Node authorizer serves nodes).
  b.push_back(ClusterBinding("system:node", {}));
  b.push_back(ClusterBinding("system:service-account-issuer-discovery",
                             {Subj("Group", "system:serviceaccounts")}));
  return b;
}

Result<std::vector<std::string>> ReconcileBootstrapPolicy(store::Store& store) {
  std::vector<std::string> changes;
  for (const json::object& want : BootstrapClusterRoles()) {
    std::string name(api::Name(want));
    std::string key = std::string(kRbacPrefix) + "clusterroles/" + name;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto kv = store.Get(key);
      if (!kv.ok()) {
        if (!kv.error().Is(Code::kNotFound)) return kv.error();
        MINI8S_RETURN_IF_ERROR(CreateObject(store, key, want));
        changes.push_back("created clusterrole " + name);
        break;
      }
      auto v = ParseJson(*kv->value);
      if (!v.ok() || !v->is_object()) return Status::Internal("stored clusterrole " + name);
      json::object& have = v->as_object();
      if (!AutoUpdate(have)) break;
      std::string what = ReconcileRole(have, want);
      if (what.empty()) break;
      auto r = store.Update(key, SerializeJson(have), kv->mod_revision);
      if (r.ok()) {
        changes.push_back("reconciled clusterrole " + name + ":" + what);
        break;
      }
      if (!r.error().Is(Code::kConflict)) return r.error();
    }
  }
  for (const json::object& want : BootstrapClusterRoleBindings()) {
    std::string name(api::Name(want));
    std::string key = std::string(kRbacPrefix) + "clusterrolebindings/" + name;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto kv = store.Get(key);
      if (!kv.ok()) {
        if (!kv.error().Is(Code::kNotFound)) return kv.error();
        MINI8S_RETURN_IF_ERROR(CreateObject(store, key, want));
        changes.push_back("created clusterrolebinding " + name);
        break;
      }
      auto v = ParseJson(*kv->value);
      if (!v.ok() || !v->is_object()) return Status::Internal("stored clusterrolebinding " + name);
      json::object& have = v->as_object();
      if (!AutoUpdate(have)) break;
      if (api::GetString(have, "roleRef.kind") != api::GetString(want, "roleRef.kind") ||
          api::GetString(have, "roleRef.name") != api::GetString(want, "roleRef.name")) {
        // roleRef is immutable: recreate, keeping the subjects already granted.
        json::object next = want;
        if (const json::array* s = api::GetArray(have, "subjects")) next["subjects"] = *s;
        ReconcileBindingSubjects(next, want);
        auto d = store.Delete(key, kv->mod_revision);
        if (!d.ok()) {
          if (d.error().Is(Code::kConflict)) continue;
          return d.error();
        }
        MINI8S_RETURN_IF_ERROR(CreateObject(store, key, std::move(next)));
        changes.push_back("recreated clusterrolebinding " + name + " (roleRef changed)");
        break;
      }
      std::string what = ReconcileBindingSubjects(have, want);
      if (what.empty()) break;
      auto r = store.Update(key, SerializeJson(have), kv->mod_revision);
      if (r.ok()) {
        changes.push_back("reconciled clusterrolebinding " + name + ":" + what);
        break;
      }
      if (!r.error().Is(Code::kConflict)) return r.error();
    }
  }
  return changes;
}

}  // namespace mini8s::server
