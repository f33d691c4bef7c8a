// ObjectMeta, labels, annotations and selectors (apimachinery api/validation/objectmeta.go and
// apis/meta/v1/validation).
#include <algorithm>
#include <string>

#include "api/validation/json_util.h"
#include "mini8s/api/validation.h"

namespace mini8s::api {

namespace json = boost::json;
using vdetail::Get;
using vdetail::Int;
using vdetail::Str;

namespace {

constexpr int64_t kTotalAnnotationSizeLimit = 256 * 1024;

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

ErrorList ValidateLabelName(std::string_view name, const FieldPath& path) {
  ErrorList errs;
  for (auto& m : IsQualifiedName(name)) errs.push_back(Invalid(path, BadValue::Str(name), m));
  return errs;
}

ErrorList ValidateOwnerReferences(const json::value* refs, const FieldPath& path) {
  ErrorList errs;
  const json::array* arr = vdetail::Arr(refs);
  if (arr == nullptr) return errs;
  std::string first_controller;
  for (const auto& ref : *arr) {
    std::string_view api_version = Str(Get(&ref, "apiVersion"));
    std::string_view kind = Str(Get(&ref, "kind"));
    // schema.FromAPIVersionAndKind: the version is what follows the last '/'.
    std::string_view version = api_version;
    std::string_view group;
    if (auto p = api_version.find('/'); p != std::string_view::npos) {
      group = api_version.substr(0, p);
      version = api_version.substr(p + 1);
    }
    if (version.empty()) {
      errs.push_back(Invalid(path.Child("apiVersion"), BadValue::Str(api_version),
                             "version must not be empty"));
    }
    if (kind.empty()) {
      errs.push_back(Invalid(path.Child("kind"), BadValue::Str(kind), "kind must not be empty"));
    }
    if (Str(Get(&ref, "name")).empty()) {
      errs.push_back(Invalid(path.Child("name"), BadValue::Str(""), "name must not be empty"));
    }
    if (Str(Get(&ref, "uid")).empty()) {
      errs.push_back(Invalid(path.Child("uid"), BadValue::Str(""), "uid must not be empty"));
    }
    if (group.empty() && version == "v1" && kind == "Event") {
      errs.push_back(Invalid(path, BadValue::FromJson(ref),
                             "/v1, Kind=Event is disallowed from being an owner"));
    }
    if (vdetail::Bool(Get(&ref, "controller"))) {
      std::string cur = std::string(kind) + "/" + std::string(Str(Get(&ref, "name")));
      if (!first_controller.empty()) {
        errs.push_back(Invalid(path, BadValue::FromJson(*refs),
                               "Only one reference can have Controller set to true. Found "
                               "\"true\" in references for " +
                                   first_controller + " and " + cur));
      } else {
        first_controller = cur;
      }
    }
  }
  return errs;
}

ErrorList ValidateFinalizers(const json::value* finalizers, const FieldPath& path) {
  ErrorList errs;
  const json::array* arr = vdetail::Arr(finalizers);
  if (arr == nullptr) return errs;
  bool orphan = false, foreground = false;
  for (const auto& f : *arr) {
    std::string_view s = Str(&f);
    for (auto& m : IsQualifiedName(s)) errs.push_back(Invalid(path, BadValue::Str(s), m));
    orphan = orphan || s == "orphan";
    foreground = foreground || s == "foregroundDeletion";
  }
  if (orphan && foreground) {
    errs.push_back(Invalid(path, BadValue::FromJson(*finalizers),
                           "finalizer orphan and foregroundDeletion cannot be both set"));
  }
  return errs;
}

bool JsonEqual(const json::value* a, const json::value* b) {
  bool an = vdetail::IsNull(a), bn = vdetail::IsNull(b);
  if (an || bn) return an == bn;
  return vdetail::Equal(*a, *b);
}

}  // namespace

ErrorList ValidateLabels(const json::value* labels, const FieldPath& path) {
  ErrorList errs;
  const json::object* o = vdetail::Obj(labels);
  if (o == nullptr) return errs;
  for (const auto& kv : *o) {
    Append(errs, ValidateLabelName(kv.key(), path));
    std::string_view v = Str(&kv.value());
    for (auto& m : IsValidLabelValue(v)) errs.push_back(Invalid(path, BadValue::Str(v), m));
  }
  return errs;
}

ErrorList ValidateAnnotations(const json::value* annotations, const FieldPath& path) {
  ErrorList errs;
  const json::object* o = vdetail::Obj(annotations);
  if (o == nullptr) return errs;
  int64_t total = 0;
  for (const auto& kv : *o) {
    for (auto& m : IsQualifiedName(ToLower(kv.key()))) {
      errs.push_back(Invalid(path, BadValue::Str(kv.key()), m));
    }
    total += static_cast<int64_t>(kv.key().size() + Str(&kv.value()).size());
  }
  if (total > kTotalAnnotationSizeLimit) errs.push_back(TooLong(path, kTotalAnnotationSizeLimit));
  return errs;
}

ErrorList ValidateLabelSelector(const json::value* selector, const FieldPath& path) {
  ErrorList errs;
  if (vdetail::IsNull(selector)) return errs;
  Append(errs, ValidateLabels(Get(selector, "matchLabels"), path.Child("matchLabels")));
  const json::array* exprs = vdetail::Arr(Get(selector, "matchExpressions"));
  if (exprs == nullptr) return errs;
  for (size_t i = 0; i < exprs->size(); ++i) {
    const json::value& e = (*exprs)[i];
    FieldPath ep = path.Child("matchExpressions").Index(i);
    std::string_view op = Str(Get(&e, "operator"));
    size_t nvalues = vdetail::Len(Get(&e, "values"));
    if (op == "In" || op == "NotIn") {
      if (nvalues == 0) {
        errs.push_back(
            Required(ep.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
      }
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (nvalues > 0) {
        errs.push_back(Forbidden(ep.Child("values"),
                                 "may not be specified when `operator` is 'Exists' or "
                                 "'DoesNotExist'"));
      }
    } else {
      errs.push_back(
          Invalid(ep.Child("operator"), BadValue::Str(op), "not a valid selector operator"));
    }
    Append(errs, ValidateLabelName(Str(Get(&e, "key")), ep.Child("key")));
    if (const json::array* values = vdetail::Arr(Get(&e, "values"))) {
      for (size_t j = 0; j < values->size(); ++j) {
        std::string_view v = Str(&(*values)[j]);
        for (auto& m : IsValidLabelValue(v)) {
          errs.push_back(Invalid(ep.Child("values").Index(j), BadValue::Str(v), m));
        }
      }
    }
  }
  return errs;
}

ErrorList ValidateNonnegative(const json::value* v, const FieldPath& path) {
  ErrorList errs;
  auto i = Int(v);
  if (i && *i < 0)
    errs.push_back(Invalid(path, BadValue::Int(*i), "must be greater than or equal to 0"));
  return errs;
}

ErrorList ValidateImmutable(const json::value* new_v, const json::value* old_v,
                            const FieldPath& path, BadValue shown) {
  ErrorList errs;
  if (!JsonEqual(new_v, old_v))
    errs.push_back(Invalid(path, std::move(shown), "field is immutable"));
  return errs;
}

ErrorList ValidateObjectMeta(const json::value* meta, bool requires_namespace,
                             NameValidator name_fn, const FieldPath& path) {
  ErrorList errs;
  std::string_view generate_name = Str(Get(meta, "generateName"));
  if (!generate_name.empty()) {
    for (auto& m : name_fn(generate_name, true)) {
      errs.push_back(Invalid(path.Child("generateName"), BadValue::Str(generate_name), m));
    }
  }
  std::string_view name = Str(Get(meta, "name"));
  if (name.empty()) {
    errs.push_back(Required(path.Child("name"), "name or generateName is required"));
  } else {
    for (auto& m : name_fn(name, false)) {
      errs.push_back(Invalid(path.Child("name"), BadValue::Str(name), m));
    }
  }
  std::string_view ns = Str(Get(meta, "namespace"));
  if (requires_namespace) {
    if (ns.empty()) {
      errs.push_back(Required(path.Child("namespace")));
    } else {
      for (auto& m : NameIsDNSLabel(ns, false)) {
        errs.push_back(Invalid(path.Child("namespace"), BadValue::Str(ns), m));
      }
    }
  } else if (!ns.empty()) {
    errs.push_back(Forbidden(path.Child("namespace"), "not allowed on this type"));
  }
  Append(errs, ValidateNonnegative(Get(meta, "generation"), path.Child("generation")));
  Append(errs, ValidateLabels(Get(meta, "labels"), path.Child("labels")));
  Append(errs, ValidateAnnotations(Get(meta, "annotations"), path.Child("annotations")));
  Append(errs,
         ValidateOwnerReferences(Get(meta, "ownerReferences"), path.Child("ownerReferences")));
  Append(errs, ValidateFinalizers(Get(meta, "finalizers"), path.Child("finalizers")));
  return errs;
}

ErrorList ValidateObjectMetaUpdate(const json::value* new_meta, const json::value* old_meta,
                                   const FieldPath& path) {
  ErrorList errs;
  if (!vdetail::IsNull(Get(old_meta, "deletionTimestamp"))) {
    std::vector<std::string> extra;
    const json::array* nf = vdetail::Arr(Get(new_meta, "finalizers"));
    const json::array* of = vdetail::Arr(Get(old_meta, "finalizers"));
    if (nf != nullptr) {
      for (const auto& f : *nf) {
        bool found = false;
        if (of != nullptr) {
          for (const auto& g : *of) found = found || g == f;
        }
        if (!found) extra.emplace_back(Str(&f));
      }
    }
    if (!extra.empty()) {
      std::sort(extra.begin(), extra.end());
      extra.erase(std::unique(extra.begin(), extra.end()), extra.end());
      std::string list = "[]string{";
      for (size_t i = 0; i < extra.size(); ++i) list += (i ? ", " : "") + GoQuote(extra[i]);
      errs.push_back(Forbidden(path.Child("finalizers"),
                               "no new finalizers can be added if the object is being deleted, "
                               "found new finalizers " +
                                   list + "}"));
    }
  }
  std::string_view rv = Str(Get(new_meta, "resourceVersion"));
  if (rv.empty()) {
    errs.push_back(Invalid(path.Child("resourceVersion"), BadValue::Str(rv),
                           "must be specified for an update"));
  }
  auto ng = Int(Get(new_meta, "generation")).value_or(0);
  auto og = Int(Get(old_meta, "generation")).value_or(0);
  if (ng < og) {
    errs.push_back(Invalid(path.Child("generation"), BadValue::Int(ng), "must not be decremented"));
  }
  auto immutable = [&](std::string_view field, BadValue shown) {
    Append(errs, ValidateImmutable(Get(new_meta, field), Get(old_meta, field), path.Child(field),
                                   std::move(shown)));
  };
  immutable("name", BadValue::Str(Str(Get(new_meta, "name"))));
  immutable("namespace", BadValue::Str(Str(Get(new_meta, "namespace"))));
  immutable("uid", BadValue::Str(Str(Get(new_meta, "uid"))));
  {
    // Go prints a metav1.Time through time.Time's String(): "2024-01-01 00:00:00 +0000 UTC".
    std::string ts(Str(Get(new_meta, "creationTimestamp")));
    if (ts.size() == 20 && ts[10] == 'T' && ts[19] == 'Z') {
      ts = ts.substr(0, 10) + " " + ts.substr(11, 8) + " +0000 UTC";
    } else if (ts.empty()) {
      ts = "0001-01-01 00:00:00 +0000 UTC";
    }
    immutable("creationTimestamp", BadValue::Rendered(ts));
  }
  immutable("deletionTimestamp", vdetail::IsNull(Get(new_meta, "deletionTimestamp"))
                                     ? BadValue::Str("null")
                                     : BadValue::FromJson(*Get(new_meta, "deletionTimestamp")));
  immutable("deletionGracePeriodSeconds",
            vdetail::IsNull(Get(new_meta, "deletionGracePeriodSeconds"))
                ? BadValue::Str("null")
                : BadValue::FromJson(*Get(new_meta, "deletionGracePeriodSeconds")));
  Append(errs, ValidateLabels(Get(new_meta, "labels"), path.Child("labels")));
  Append(errs, ValidateAnnotations(Get(new_meta, "annotations"), path.Child("annotations")));
  Append(errs,
         ValidateOwnerReferences(Get(new_meta, "ownerReferences"), path.Child("ownerReferences")));
  return errs;
}

}  // namespace mini8s::api
