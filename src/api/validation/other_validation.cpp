// networking.k8s.io Ingress, rbac.authorization.k8s.io roles and bindings, coordination.k8s.io
// Lease (upstream pkg/apis/networking, rbac and coordination validation).
#include <algorithm>

#include "api/validation/json_util.h"
#include "api/validation/kinds.h"

namespace mini8s::api::vdetail {

namespace json = boost::json;

namespace {

constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";

ErrorList ValidateIngressBackend(const JsonV* b, const FieldPath& path) {
  ErrorList errs;
  const JsonV* res = Get(b, "resource");
  const JsonV* svc = Get(b, "service");
  bool has_resource = !IsNull(res);
  bool has_service = !IsNull(svc);
  if (has_resource && has_service) {
    errs.push_back(
        Invalid(path, BadValue::Str(""), "cannot set both resource and service backends"));
  } else if (has_resource) {
    FieldPath rp = path.Child("resource");
    if (const JsonV* g = Get(res, "apiGroup"); !IsNull(g)) {
      for (auto& m : IsDNS1123Subdomain(Str(g))) {
        errs.push_back(Invalid(rp.Child("apiGroup"), BadValue::Str(Str(g)), m));
      }
    }
    for (std::string_view f : {"kind", "name"}) {
      std::string_view v = Str(Get(res, f));
      if (v.empty()) {
        errs.push_back(Required(rp.Child(f), std::string(f) + " is required"));
      } else {
        for (auto& m : IsValidPathSegmentName(v))
          errs.push_back(Invalid(rp.Child(f), BadValue::Str(v), m));
      }
    }
  } else if (has_service) {
    FieldPath sp = path.Child("service");
    std::string_view name = Str(Get(svc, "name"));
    if (name.empty()) {
      errs.push_back(Required(sp.Child("name")));
    } else {
      for (auto& m : IsDNS1035Label(name))
        errs.push_back(Invalid(sp.Child("name"), BadValue::Str(name), m));
    }
    const JsonV* port = Get(svc, "port");
    std::string_view pname = Str(Get(port, "name"));
    auto pnum = Int(Get(port, "number")).value_or(0);
    FieldPath pp = sp.Child("port");
    if (!pname.empty() && pnum != 0) {
      errs.push_back(Invalid(path, BadValue::Str(""), "cannot set both port name & port number"));
    } else if (!pname.empty()) {
      for (auto& m : IsValidPortName(pname))
        errs.push_back(Invalid(pp.Child("name"), BadValue::Str(pname), m));
    } else if (pnum != 0) {
      for (auto& m : IsValidPortNum(pnum))
        errs.push_back(Invalid(pp.Child("number"), BadValue::Int(pnum), m));
    } else {
      errs.push_back(Required(path, "port name or number is required"));
    }
  } else {
    errs.push_back(Invalid(path, BadValue::Str(""), "resource or service backend is required"));
  }
  return errs;
}

}  // namespace

ErrorList ValidateIngress(const JsonV& obj, const JsonV*, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  const JsonV* def = Get(spec, "defaultBackend");
  size_t nrules = Len(Get(spec, "rules"));
  if (IsNull(def) && nrules == 0) {
    // Upstream prints the (empty) rules slice.
    errs.push_back(Invalid(
        sp,
        BadValue::Rendered(Arr(Get(spec, "rules")) != nullptr ? "[]networking.IngressRule{}"
                                                              : "[]networking.IngressRule(nil)"),
        "either `defaultBackend` or `rules` must be specified"));
  }
  if (!IsNull(def)) Append(errs, ValidateIngressBackend(def, sp.Child("defaultBackend")));
  if (const json::array* rules = Arr(Get(spec, "rules"))) {
    for (size_t i = 0; i < rules->size(); ++i) {
      const JsonV& r = (*rules)[i];
      FieldPath rp = sp.Child("rules").Index(i);
      std::string_view host = Str(Get(&r, "host"));
      if (!host.empty()) {
        if (IsValidIP(host).empty()) {
          errs.push_back(Invalid(rp.Child("host"), BadValue::Str(host),
                                 "must be a DNS name, not an IP address"));
        }
        if (host.find('*') != std::string_view::npos) {
          bool ok = host.substr(0, 2) == "*." && IsDNS1123Subdomain(host.substr(2)).empty();
          if (host.size() > 253) {
            errs.push_back(Invalid(rp.Child("host"), BadValue::Str(host),
                                   "must be no more than 253 characters"));
          }
          if (!ok) {
            errs.push_back(Invalid(
                rp.Child("host"), BadValue::Str(host),
                "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
                "and end with an alphanumeric character (e.g. '*.example.com', regex used for "
                "validation is "
                "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
          }
        } else {
          for (auto& m : IsDNS1123Subdomain(host)) {
            errs.push_back(Invalid(rp.Child("host"), BadValue::Str(host), m));
          }
        }
      }
      const JsonV* http = Get(&r, "http");
      if (IsNull(http)) continue;
      FieldPath hp = rp.Child("http");
      const json::array* paths = Arr(Get(http, "paths"));
      if (paths == nullptr || paths->empty()) {
        errs.push_back(Required(hp.Child("paths")));
        continue;
      }
      for (size_t j = 0; j < paths->size(); ++j) {
        const JsonV& p = (*paths)[j];
        FieldPath pp = hp.Child("paths").Index(j);
        std::string_view type = Str(Get(&p, "pathType"));
        std::string_view path = Str(Get(&p, "path"));
        if (type.empty()) {
          errs.push_back(Required(pp.Child("pathType"), "pathType must be specified"));
          continue;
        }
        if (type == "Exact" || type == "Prefix") {
          if (path.empty() || path.front() != '/') {
            errs.push_back(
                Invalid(pp.Child("path"), BadValue::Str(path), "must be an absolute path"));
          }
          if (!path.empty()) {
            for (std::string_view bad : {"//", "/./", "/../", "%2f", "%2F"}) {
              if (path.find(bad) != std::string_view::npos) {
                errs.push_back(Invalid(pp.Child("path"), BadValue::Str(path),
                                       "must not contain '" + std::string(bad) + "'"));
              }
            }
            for (std::string_view suffix : {"/..", "/."}) {
              if (path.size() >= suffix.size() &&
                  path.substr(path.size() - suffix.size()) == suffix) {
                errs.push_back(Invalid(pp.Child("path"), BadValue::Str(path),
                                       "cannot end with '" + std::string(suffix) + "'"));
              }
            }
          }
        } else if (type == "ImplementationSpecific") {
          if (!path.empty() && path.front() != '/') {
            errs.push_back(
                Invalid(pp.Child("path"), BadValue::Str(path), "must be an absolute path"));
          }
        } else {
          errs.push_back(NotSupported(pp.Child("pathType"), BadValue::Str(type),
                                      {"Exact", "ImplementationSpecific", "Prefix"}));
        }
        Append(errs, ValidateIngressBackend(Get(&p, "backend"), pp.Child("backend")));
      }
    }
  }
  return errs;
}

namespace {

ErrorList ValidatePolicyRules(const JsonV& obj, bool namespaced) {
  ErrorList errs;
  const json::array* rules = Arr(Get(&obj, "rules"));
  if (rules == nullptr) return errs;
  for (size_t i = 0; i < rules->size(); ++i) {
    const JsonV& r = (*rules)[i];
    FieldPath rp = FieldPath("rules").Index(i);
    if (Len(Get(&r, "verbs")) == 0) {
      errs.push_back(Required(rp.Child("verbs"), "verbs must contain at least one value"));
    }
    const JsonV* urls = Get(&r, "nonResourceURLs");
    size_t nurls = Len(urls);
    if (nurls > 0) {
      if (namespaced) {
        errs.push_back(Invalid(rp.Child("nonResourceURLs"), BadValue::Rendered(GoStringSlice(urls)),
                               "namespaced rules cannot apply to non-resource URLs"));
      }
      if (Len(Get(&r, "apiGroups")) > 0 || Len(Get(&r, "resources")) > 0 ||
          Len(Get(&r, "resourceNames")) > 0) {
        errs.push_back(
            Invalid(rp.Child("nonResourceURLs"), BadValue::Rendered(GoStringSlice(urls)),
                    "rules cannot apply to both regular resources and non-resource URLs"));
      }
      continue;
    }
    if (Len(Get(&r, "apiGroups")) == 0) {
      errs.push_back(
          Required(rp.Child("apiGroups"), "resource rules must supply at least one api group"));
    }
    if (Len(Get(&r, "resources")) == 0) {
      errs.push_back(
          Required(rp.Child("resources"), "resource rules must supply at least one resource"));
    }
  }
  return errs;
}

ErrorList ValidateBinding(const JsonV& obj, const JsonV* old, bool namespaced) {
  ErrorList errs;
  const JsonV* ref = Get(&obj, "roleRef");
  FieldPath rp("roleRef");
  std::string_view group = Str(Get(ref, "apiGroup"));
  if (group != kRbacGroup) {
    errs.push_back(
        NotSupported(rp.Child("apiGroup"), BadValue::Str(group), {std::string(kRbacGroup)}));
  }
  std::string_view kind = Str(Get(ref, "kind"));
  if (namespaced) {
    if (kind != "Role" && kind != "ClusterRole") {
      errs.push_back(NotSupported(rp.Child("kind"), BadValue::Str(kind), {"ClusterRole", "Role"}));
    }
  } else if (kind != "ClusterRole") {
    errs.push_back(NotSupported(rp.Child("kind"), BadValue::Str(kind), {"ClusterRole"}));
  }
  std::string_view name = Str(Get(ref, "name"));
  if (name.empty()) {
    errs.push_back(Required(rp.Child("name")));
  } else {
    for (auto& m : IsValidPathSegmentName(name)) {
      errs.push_back(Invalid(rp.Child("name"), BadValue::Str(name), m));
    }
  }
  if (const json::array* subjects = Arr(Get(&obj, "subjects"))) {
    for (size_t i = 0; i < subjects->size(); ++i) {
      const JsonV& s = (*subjects)[i];
      FieldPath sp = FieldPath("subjects").Index(i);
      std::string_view sname = Str(Get(&s, "name"));
      std::string_view skind = Str(Get(&s, "kind"));
      std::string_view sgroup = Str(Get(&s, "apiGroup"));
      if (sname.empty()) errs.push_back(Required(sp.Child("name")));
      if (skind == "ServiceAccount") {
        if (!sname.empty()) {
          for (auto& m : NameIsDNSSubdomain(sname, false)) {
            errs.push_back(Invalid(sp.Child("name"), BadValue::Str(sname), m));
          }
        }
        if (!sgroup.empty()) {
          errs.push_back(NotSupported(sp.Child("apiGroup"), BadValue::Str(sgroup), {""}));
        }
        if (!namespaced && Str(Get(&s, "namespace")).empty()) {
          errs.push_back(Required(sp.Child("namespace")));
        }
      } else if (skind == "User" || skind == "Group") {
        if (sgroup != kRbacGroup) {
          errs.push_back(
              NotSupported(sp.Child("apiGroup"), BadValue::Str(sgroup), {std::string(kRbacGroup)}));
        }
      } else {
        errs.push_back(NotSupported(sp.Child("kind"), BadValue::Str(skind),
                                    {"ServiceAccount", "User", "Group"}));
      }
    }
  }
  if (old != nullptr && Get(old, "roleRef") != nullptr && ref != nullptr &&
      *ref != *Get(old, "roleRef")) {
    errs.push_back(
        Invalid(rp,
                BadValue::Rendered("rbac.RoleRef{APIGroup:" + GoQuote(group) +
                                   ", Kind:" + GoQuote(kind) + ", Name:" + GoQuote(name) + "}"),
                "cannot change roleRef"));
  }
  return errs;
}

}  // namespace

ErrorList ValidateRole(const JsonV& obj, const JsonV*, const ValidationContext&) {
  return ValidatePolicyRules(obj, true);
}
ErrorList ValidateClusterRole(const JsonV& obj, const JsonV*, const ValidationContext&) {
  return ValidatePolicyRules(obj, false);
}
ErrorList ValidateRoleBinding(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  return ValidateBinding(obj, old, true);
}
ErrorList ValidateClusterRoleBinding(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  return ValidateBinding(obj, old, false);
}

ErrorList ValidateLease(const JsonV& obj, const JsonV*, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  if (auto d = Int(Get(spec, "leaseDurationSeconds")); d && *d <= 0) {
    errs.push_back(
        Invalid(sp.Child("leaseDurationSeconds"), BadValue::Int(*d), "must be greater than 0"));
  }
  Append(errs, ValidateNonnegative(Get(spec, "leaseTransitions"), sp.Child("leaseTransitions")));
  return errs;
}

}  // namespace mini8s::api::vdetail
