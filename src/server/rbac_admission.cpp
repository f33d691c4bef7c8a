// RBAC escalation prevention (upstream's policybased role and binding storage) and the
// authorization.k8s.io access reviews.
#include <algorithm>
#include <set>

#include <boost/json/array.hpp>

#include "mini8s/api/field_errors.h"
#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/server/api_server.h"
#include "mini8s/server/node_authorizer.h"
#include "mini8s/server/rbac.h"

namespace mini8s::server {
namespace json = boost::json;

namespace {

bool InGroup(const UserInfo& u, std::string_view g) {
  return std::find(u.groups.begin(), u.groups.end(), g) != u.groups.end();
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string GoQuoteList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + Quoted(v[i]);
  return out + "]";
}

// Upstream's ConfirmNoEscalation: the error text, or "" when `rules` are all held.
std::string Escalation(const RbacAuthorizer& rbac, const UserInfo& user, std::string_view ns,
                       const std::vector<PolicyRule>& rules) {
  std::vector<PolicyRule> missing = UncoveredRules(rbac.RulesFor(user, ns), rules);
  if (missing.empty()) return "";
  std::set<std::string> lines;  // sorted and de-duplicated, as upstream's sets.String
  for (const PolicyRule& r : CompactRules(missing)) lines.insert(r.CompactString());
  std::string msg = "user " + Quoted(user.name) + " (groups=" + GoQuoteList(user.groups) +
                    ") is attempting to grant RBAC permissions not currently held:";
  bool first = true;
  for (const std::string& l : lines) {
    msg += (first ? "\n" : "\n") + l;
    first = false;
  }
  return msg;
}

// True when an update changes nothing but what the garbage collector may set (upstream's
// IsOnlyMutatingGCFields) or the server-managed metadata.
bool OnlyGcFieldsChanged(const json::object& next, const json::object& old) {
  auto strip = [](json::object o) {
    json::object& m = api::MutableMetadata(o);
    for (const char* f : {"ownerReferences", "finalizers", "resourceVersion", "managedFields",
                          "generation", "creationTimestamp", "uid"}) {
      m.erase(f);
    }
    return o;
  };
  return strip(next) == strip(old);
}

const std::vector<PolicyRule>& FullAuthority() {
  static const auto* rules = new std::vector<PolicyRule>{PolicyRule{{"*"}, {"*"}, {"*"}, {}, {}},
                                                         PolicyRule{{"*"}, {}, {}, {}, {"*"}}};
  return *rules;
}

}  // namespace

Status RbacEscalationAdmission::Admit(AdmissionAttributes& a) {
  if (a.kind.group != kRbacGroup || a.object == nullptr || !a.subresource.empty()) {
    return Status::OK();
  }
  if (a.operation != "CREATE" && a.operation != "UPDATE") return Status::OK();
  const std::string& plural = a.kind.plural;
  const bool role = plural == "roles" || plural == "clusterroles";
  const bool binding = plural == "rolebindings" || plural == "clusterrolebindings";
  if (!role && !binding) return Status::OK();
  // system:masters: the server's own privileged clients (upstream's EscalationAllowed).
  if (InGroup(a.user, "system:masters")) return Status::OK();
  if (a.operation == "UPDATE" && a.old_object != nullptr &&
      OnlyGcFieldsChanged(*a.object, *a.old_object)) {
    return Status::OK();
  }
  const json::object& obj = *a.object;
  std::string name(api::Name(obj).empty() ? a.name : api::Name(obj));
  const bool cluster = plural.rfind("cluster", 0) == 0;
  std::string ns = cluster ? "" : std::string(a.ns);
  std::string qualified = plural + "." + std::string(kRbacGroup);
  auto forbidden = [&](const std::string& why) {
    return Status::Forbidden(qualified + (name.empty() ? "" : " " + Quoted(name)) +
                             " is forbidden: " + why);
  };
  auto allowed = [&](std::string verb, std::string resource, std::string res_name) {
    Attributes attrs;
    attrs.user = a.user;
    attrs.verb = std::move(verb);
    attrs.resource_request = true;
    attrs.api_group = std::string(kRbacGroup);
    attrs.resource = std::move(resource);
    attrs.namespace_ = ns;
    attrs.name = std::move(res_name);
    return authorizer_->Authorize(attrs);
  };

  if (role) {
    if (allowed("escalate", plural, name)) return Status::OK();
    std::string e = Escalation(*rbac_, a.user, ns, RulesFromJson(api::GetArray(obj, "rules")));
    if (!e.empty()) return forbidden(e);
    bool aggregated = obj.contains("aggregationRule") ||
                      (a.old_object != nullptr && a.old_object->contains("aggregationRule"));
    if (plural == "clusterroles" && aggregated &&
        !Escalation(*rbac_, a.user, ns, FullAuthority()).empty()) {
      return forbidden("must have cluster-admin privileges to use the aggregationRule");
    }
    return Status::OK();
  }
  std::string kind(api::GetString(obj, "roleRef.kind"));
  std::string role_name(api::GetString(obj, "roleRef.name"));
  if (allowed("bind", kind == "ClusterRole" ? "clusterroles" : "roles", role_name)) {
    return Status::OK();
  }
  auto rules = rbac_->RoleReferenceRules(kind, role_name, ns);
  if (!rules.ok()) return rules.error();
  std::string e = Escalation(*rbac_, a.user, ns, *rules);
  if (!e.empty()) return forbidden(e);
  return Status::OK();
}

// ---- access reviews --------------------------------------------------------------------------

namespace {

std::string Str(const json::object* o, std::string_view field) {
  if (o == nullptr) return "";
  const json::value* v = o->if_contains(field);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

const json::object* Obj(const json::object* o, std::string_view field) {
  if (o == nullptr) return nullptr;
  const json::value* v = o->if_contains(field);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

}  // namespace

Result<json::object> SubjectAccessReview(const Authorizer& authorizer, std::string_view kind,
                                         const UserInfo& requester, std::string_view ns,
                                         json::object body) {
  const json::object* spec = Obj(&body, "spec");
  const json::object* ra = Obj(spec, "resourceAttributes");
  const json::object* nra = Obj(spec, "nonResourceAttributes");
  const bool self = kind == "SelfSubjectAccessReview";
  const bool local = kind == "LocalSubjectAccessReview";
  api::FieldPath sp("spec");
  api::ErrorList errs;
  if (ra != nullptr && nra != nullptr) {
    errs.push_back(api::Invalid(sp.Child("nonResourceAttributes"),
                                api::BadValue::Rendered("&NonResourceAttributes{...}"),
                                "cannot be specified in combination with resourceAttributes"));
  }
  if (ra == nullptr && nra == nullptr) {
    errs.push_back(api::Invalid(sp.Child("resourceAttributes"), api::BadValue::Str("null"),
                                "exactly one of nonResourceAttributes or resourceAttributes must "
                                "be specified"));
  }
  UserInfo user;
  if (self) {
    user = requester;
  } else {
    user.name = Str(spec, "user");
    user.uid = Str(spec, "uid");
    if (const json::value* g = spec ? spec->if_contains("groups") : nullptr;
        g != nullptr && g->is_array()) {
      for (const json::value& e : g->as_array()) {
        if (e.is_string()) user.groups.emplace_back(e.as_string());
      }
    }
    if (user.name.empty() && user.groups.empty()) {
      errs.push_back(api::Invalid(sp.Child("user"), api::BadValue::Str(""),
                                  "at least one of user or group must be specified"));
    }
  }
  if (local && nra != nullptr) {
    errs.push_back(api::Invalid(sp.Child("nonResourceAttributes"),
                                api::BadValue::Rendered("&NonResourceAttributes{...}"),
                                "disallowed on this kind of request"));
  }
  if (!errs.empty()) {
    return Status::Invalid(
        api::InvalidMessage("authorization.k8s.io", kind, api::Name(body), errs));
  }
  if (local && Str(ra, "namespace") != ns) {
    return Status::BadRequest("spec.resourceAttributes.namespace must match namespace: " +
                              std::string(ns));
  }
  Attributes attrs;
  attrs.user = std::move(user);
  if (ra != nullptr) {
    attrs.resource_request = true;
    attrs.verb = Str(ra, "verb");
    attrs.api_group = Str(ra, "group");
    attrs.resource = Str(ra, "resource");
    attrs.subresource = Str(ra, "subresource");
    attrs.namespace_ = Str(ra, "namespace");
    attrs.name = Str(ra, "name");
  } else {
    attrs.verb = Str(nra, "verb");
    attrs.path = Str(nra, "path");
  }
  AuthorizerDecision d = authorizer.Decide(attrs);
  json::object status{{"allowed", d.allowed()}};
  if (d.decision == Decision::kDeny) status["denied"] = true;
  if (!d.reason.empty()) status["reason"] = d.reason;
  body["status"] = std::move(status);
  return body;
}

Result<json::object> SelfSubjectRulesReview(const RbacAuthorizer& rbac, const UserInfo& requester,
                                            json::object body) {
  std::string ns = Str(Obj(&body, "spec"), "namespace");
  if (ns.empty()) return Status::BadRequest("no namespace on request");
  json::array resource_rules, non_resource_rules;
  auto strings = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  for (const PolicyRule& r : rbac.RulesFor(requester, ns)) {
    if (!r.resources.empty()) {
      json::object o{{"verbs", strings(r.verbs)}};
      if (!r.api_groups.empty()) o["apiGroups"] = strings(r.api_groups);
      o["resources"] = strings(r.resources);
      if (!r.resource_names.empty()) o["resourceNames"] = strings(r.resource_names);
      resource_rules.emplace_back(std::move(o));
    }
    if (!r.non_resource_urls.empty()) {
      non_resource_rules.emplace_back(json::object{
          {"verbs", strings(r.verbs)}, {"nonResourceURLs", strings(r.non_resource_urls)}});
    }
  }
  json::object status{{"resourceRules", std::move(resource_rules)},
                      {"nonResourceRules", std::move(non_resource_rules)},
                      {"incomplete", false}};
  if (NodeNameOfUser(requester)) {
    // The Node authorizer decides for nodes and cannot list what it allows (as upstream).
    status["incomplete"] = true;
    status["evaluationError"] = "node authorizer does not support user rule resolution";
  }
  body["status"] = std::move(status);
  return body;
}

void RegisterAccessReviews(ApiServer& server, std::shared_ptr<const Authorizer> authorizer,
                           std::shared_ptr<const RbacAuthorizer> rbac) {
  const std::string group = "authorization.k8s.io";
  for (const auto& [resource, kind] : std::vector<std::pair<std::string, std::string>>{
           {"subjectaccessreviews", "SubjectAccessReview"},
           {"localsubjectaccessreviews", "LocalSubjectAccessReview"},
           {"selfsubjectaccessreviews", "SelfSubjectAccessReview"}}) {
    server.AddComputedResource(group, resource, "", [authorizer, kind = kind](ComputedRequest& r) {
      return SubjectAccessReview(*authorizer, kind, r.user, r.ns, std::move(r.body));
    });
  }
  server.AddComputedResource(group, "selfsubjectrulesreviews", "", [rbac](ComputedRequest& r) {
    return SelfSubjectRulesReview(*rbac, r.user, std::move(r.body));
  });
}

}  // namespace mini8s::server
