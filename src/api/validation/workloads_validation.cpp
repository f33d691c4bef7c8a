// Workload kinds: apps/v1 Deployment, ReplicaSet, DaemonSet, StatefulSet and batch/v1 Job,
// CronJob (upstream pkg/apis/apps/validation and pkg/apis/batch/validation).
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "api/validation/json_util.h"
#include "api/validation/kinds.h"

namespace mini8s::api::vdetail {

namespace json = boost::json;

// ---- selectors

bool SelectorIsEmpty(const JsonV* selector) {
  return Len(Get(selector, "matchLabels")) == 0 && Len(Get(selector, "matchExpressions")) == 0;
}

bool SelectorMatches(const JsonV* selector, const JsonV* labels) {
  if (const json::object* ml = Obj(Get(selector, "matchLabels"))) {
    for (const auto& kv : *ml) {
      const JsonV* v = Get(labels, kv.key());
      if (v == nullptr || !Equal(*v, kv.value())) return false;
    }
  }
  if (const json::array* exprs = Arr(Get(selector, "matchExpressions"))) {
    for (const auto& e : *exprs) {
      std::string_view key = Str(Get(&e, "key"));
      std::string_view op = Str(Get(&e, "operator"));
      const JsonV* v = Get(labels, key);
      bool in = false;
      if (const json::array* values = Arr(Get(&e, "values")); values && v) {
        for (const auto& x : *values) in = in || x == *v;
      }
      if (op == "In" && !in) return false;
      if (op == "NotIn" && in) return false;
      if (op == "Exists" && v == nullptr) return false;
      if (op == "DoesNotExist" && v != nullptr) return false;
    }
  }
  return true;
}

std::string GoStringSlice(const JsonV* v) {
  const json::array* arr = Arr(v);
  if (arr == nullptr) return "[]string(nil)";
  std::string out = "[]string{";
  for (size_t i = 0; i < arr->size(); ++i) out += (i ? ", " : "") + GoQuote(Str(&(*arr)[i]));
  return out + "}";
}

std::string GoLabelSelector(const JsonV* selector) {
  if (IsNull(selector)) return "null";
  std::string out =
      "v1.LabelSelector{MatchLabels:" + GoMapStringString(Get(selector, "matchLabels")) +
      ", MatchExpressions:";
  const json::array* exprs = Arr(Get(selector, "matchExpressions"));
  if (exprs == nullptr) {
    out += "[]v1.LabelSelectorRequirement(nil)";
  } else {
    out += "[]v1.LabelSelectorRequirement{";
    for (size_t i = 0; i < exprs->size(); ++i) {
      const JsonV& e = (*exprs)[i];
      out += (i ? ", " : "");
      out += "v1.LabelSelectorRequirement{Key:" + GoQuote(Str(Get(&e, "key"))) +
             ", Operator:" + GoQuote(Str(Get(&e, "operator"))) +
             ", Values:" + GoStringSlice(Get(&e, "values")) + "}";
    }
    out += "}";
  }
  return out + "}";
}

int64_t IntOrPercentValue(const JsonV* v, bool round_up) {
  if (v == nullptr || v->is_null()) return 0;
  if (auto i = Int(v)) return *i;
  std::string_view s = Str(v);
  (void)round_up;  // percentages are taken of 100, so rounding never matters
  if (IsValidPercent(s).empty()) s.remove_suffix(1);
  // Like intstr's IntValue(): a string that is not a number counts as 0.
  int64_t n = 0;
  bool neg = !s.empty() && s[0] == '-';
  if (neg || (!s.empty() && s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
    if (n > INT32_MAX) return 0;
  }
  return neg ? -n : n;
}

ErrorList ValidatePositiveIntOrPercent(const JsonV* v, const FieldPath& path) {
  ErrorList errs;
  if (v == nullptr || v->is_null()) return errs;
  if (v->is_string()) {
    for (auto& m : IsValidPercent(v->get_string())) {
      errs.push_back(Invalid(path, BadValue::Rendered(GoIntOrString(v)), m));
    }
  } else {
    Append(errs, ValidateNonnegative(v, path));
  }
  return errs;
}

namespace {

ErrorList IsNotMoreThan100Percent(const JsonV* v, const FieldPath& path) {
  ErrorList errs;
  if (v == nullptr || !v->is_string() || !IsValidPercent(v->get_string()).empty()) return errs;
  if (IntOrPercentValue(v, false) > 100) {
    errs.push_back(
        Invalid(path, BadValue::Rendered(GoIntOrString(v)), "must not be greater than 100%"));
  }
  return errs;
}

// Selector present, non-empty, valid, and matching the template's labels.
ErrorList ValidateSelectorAndTemplate(const JsonV* spec, const FieldPath& sp,
                                      std::string_view kind_word) {
  ErrorList errs;
  const JsonV* selector = Get(spec, "selector");
  const JsonV* labels = Path(spec, "template", "metadata", "labels");
  if (IsNull(selector)) {
    errs.push_back(Required(sp.Child("selector")));
  } else {
    Append(errs, ValidateLabelSelector(selector, sp.Child("selector")));
    if (SelectorIsEmpty(selector)) {
      errs.push_back(Invalid(sp.Child("selector"), BadValue::Rendered(GoLabelSelector(selector)),
                             "empty selector is invalid for " + std::string(kind_word)));
    }
  }
  if (!IsNull(selector) && !SelectorMatches(selector, labels)) {
    errs.push_back(Invalid(sp.Child("template", "metadata", "labels"),
                           BadValue::Rendered(GoMapStringString(labels)),
                           "`selector` does not match template `labels`"));
  }
  return errs;
}

// A pod template for a controller whose pods always restart; `kind` names it in the
// activeDeadlineSeconds message ("ReplicaSet" for Deployments too, as upstream).
ErrorList ValidateReplicatedTemplate(const JsonV* spec, const FieldPath& sp,
                                     std::string_view kind = "ReplicaSet") {
  ErrorList errs;
  const JsonV* tmpl = Get(spec, "template");
  if (IsNull(tmpl)) {
    errs.push_back(Required(sp.Child("template")));
    return errs;
  }
  Append(errs, ValidatePodTemplateSpec(tmpl, sp.Child("template")));
  std::string_view rp = Str(Path(tmpl, "spec", "restartPolicy"));
  if (rp != "Always") {
    errs.push_back(
        NotSupported(sp.Child("template", "spec", "restartPolicy"), BadValue::Str(rp), {"Always"}));
  }
  if (!IsNull(Path(tmpl, "spec", "activeDeadlineSeconds"))) {
    errs.push_back(
        Forbidden(sp.Child("template", "spec", "activeDeadlineSeconds"),
                  "activeDeadlineSeconds in " + std::string(kind) + " is not Supported"));
  }
  return errs;
}

ErrorList ValidateSelectorImmutable(const JsonV& obj, const JsonV* old) {
  ErrorList errs;
  if (old == nullptr) return errs;
  const JsonV* ns = Path(&obj, "spec", "selector");
  Append(errs,
         ValidateImmutable(ns, Path(old, "spec", "selector"), FieldPath("spec").Child("selector"),
                           BadValue::Rendered(GoLabelSelector(ns))));
  return errs;
}

}  // namespace

ErrorList ValidateDeployment(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  Append(errs, ValidateNonnegative(Get(spec, "replicas"), sp.Child("replicas")));
  Append(errs, ValidateSelectorAndTemplate(spec, sp, "deployment"));
  Append(errs, ValidateReplicatedTemplate(spec, sp));

  const JsonV* strategy = Get(spec, "strategy");
  FieldPath stp = sp.Child("strategy");
  std::string_view type = Str(Get(strategy, "type"));
  const JsonV* ru = Get(strategy, "rollingUpdate");
  if (type == "Recreate") {
    if (!IsNull(ru)) {
      errs.push_back(Forbidden(stp.Child("rollingUpdate"),
                               "may not be specified when strategy `type` is 'Recreate'"));
    }
  } else if (type == "RollingUpdate") {
    if (IsNull(ru)) {
      errs.push_back(
          Required(stp.Child("rollingUpdate"), "this should be defaulted and never be nil"));
    } else {
      FieldPath rp = stp.Child("rollingUpdate");
      const JsonV* mu = Get(ru, "maxUnavailable");
      const JsonV* ms = Get(ru, "maxSurge");
      Append(errs, ValidatePositiveIntOrPercent(mu, rp.Child("maxUnavailable")));
      Append(errs, ValidatePositiveIntOrPercent(ms, rp.Child("maxSurge")));
      if (IntOrPercentValue(mu, false) == 0 && IntOrPercentValue(ms, true) == 0) {
        errs.push_back(Invalid(rp.Child("maxUnavailable"), BadValue::Rendered(GoIntOrString(mu)),
                               "may not be 0 when `maxSurge` is 0"));
      }
      Append(errs, IsNotMoreThan100Percent(mu, rp.Child("maxUnavailable")));
    }
  } else {
    // Upstream prints the whole strategy struct.
    errs.push_back(
        NotSupported(stp,
                     BadValue::Rendered("apps.DeploymentStrategy{Type:" + GoQuote(type) +
                                        ", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}"),
                     {"Recreate", "RollingUpdate"}));
  }
  Append(errs, ValidateNonnegative(Get(spec, "minReadySeconds"), sp.Child("minReadySeconds")));
  Append(errs,
         ValidateNonnegative(Get(spec, "revisionHistoryLimit"), sp.Child("revisionHistoryLimit")));
  if (auto pds = Int(Get(spec, "progressDeadlineSeconds"))) {
    Append(errs, ValidateNonnegative(Get(spec, "progressDeadlineSeconds"),
                                     sp.Child("progressDeadlineSeconds")));
    if (*pds <= Int(Get(spec, "minReadySeconds")).value_or(0)) {
      errs.push_back(Invalid(sp.Child("progressDeadlineSeconds"), BadValue::Int(*pds),
                             "must be greater than minReadySeconds"));
    }
  }
  Append(errs, ValidateSelectorImmutable(obj, old));
  return errs;
}

ErrorList ValidateReplicaSet(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  Append(errs, ValidateNonnegative(Get(spec, "replicas"), sp.Child("replicas")));
  Append(errs, ValidateNonnegative(Get(spec, "minReadySeconds"), sp.Child("minReadySeconds")));
  Append(errs, ValidateSelectorAndTemplate(spec, sp, "deployment"));
  Append(errs, ValidateReplicatedTemplate(spec, sp));
  Append(errs, ValidateSelectorImmutable(obj, old));
  return errs;
}

ErrorList ValidateDaemonSet(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  const JsonV* selector = Get(spec, "selector");
  const JsonV* labels = Path(spec, "template", "metadata", "labels");
  Append(errs, ValidateLabelSelector(selector, sp.Child("selector")));
  // A missing selector selects nothing, so it never matches the template.
  if (IsNull(selector) || !SelectorMatches(selector, labels)) {
    errs.push_back(Invalid(sp.Child("template", "metadata", "labels"),
                           BadValue::Rendered(GoMapStringString(labels)),
                           "`selector` does not match template `labels`"));
  }
  if (!IsNull(selector) && SelectorIsEmpty(selector)) {
    errs.push_back(Invalid(sp.Child("selector"), BadValue::Rendered(GoLabelSelector(selector)),
                           "empty selector is invalid for daemonset"));
  }
  Append(errs, ValidateReplicatedTemplate(spec, sp, "DaemonSet"));
  Append(errs, ValidateNonnegative(Get(spec, "minReadySeconds"), sp.Child("minReadySeconds")));
  Append(errs,
         ValidateNonnegative(Get(spec, "templateGeneration"), sp.Child("templateGeneration")));
  const JsonV* us = Get(spec, "updateStrategy");
  FieldPath up = sp.Child("updateStrategy");
  std::string_view type = Str(Get(us, "type"));
  if (type == "RollingUpdate") {
    const JsonV* ru = Get(us, "rollingUpdate");
    if (IsNull(ru)) {
      errs.push_back(Required(up.Child("rollingUpdate")));
    } else {
      FieldPath rp = up.Child("rollingUpdate");
      const JsonV* mu = Get(ru, "maxUnavailable");
      const JsonV* ms = Get(ru, "maxSurge");
      Append(errs, ValidatePositiveIntOrPercent(mu, rp.Child("maxUnavailable")));
      Append(errs, ValidatePositiveIntOrPercent(ms, rp.Child("maxSurge")));
      Append(errs, IsNotMoreThan100Percent(mu, rp.Child("maxUnavailable")));
      Append(errs, IsNotMoreThan100Percent(ms, rp.Child("maxSurge")));
      bool has_unavailable = IntOrPercentValue(mu, false) != 0;
      bool has_surge = IntOrPercentValue(ms, false) != 0;
      if (has_unavailable && has_surge) {
        errs.push_back(Invalid(rp.Child("maxSurge"), BadValue::Rendered(GoIntOrString(ms)),
                               "may not be set when maxUnavailable is non-zero"));
      } else if (!has_unavailable && !has_surge) {
        errs.push_back(Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"));
      }
    }
  } else if (type != "OnDelete") {
    errs.push_back(
        NotSupported(up,
                     BadValue::Rendered("apps.DaemonSetUpdateStrategy{Type:" + GoQuote(type) +
                                        ", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}"),
                     {"RollingUpdate", "OnDelete"}));
  }
  Append(errs,
         ValidateNonnegative(Get(spec, "revisionHistoryLimit"), sp.Child("revisionHistoryLimit")));
  Append(errs, ValidateSelectorImmutable(obj, old));
  return errs;
}

ErrorList ValidateStatefulSet(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  std::string_view pmp = Str(Get(spec, "podManagementPolicy"));
  if (pmp.empty()) {
    errs.push_back(Required(sp.Child("podManagementPolicy")));
  } else if (pmp != "OrderedReady" && pmp != "Parallel") {
    errs.push_back(Invalid(sp.Child("podManagementPolicy"), BadValue::Str(pmp),
                           "must be 'OrderedReady' or 'Parallel'"));
  }
  const JsonV* us = Get(spec, "updateStrategy");
  std::string_view type = Str(Get(us, "type"));
  const JsonV* ru = Get(us, "rollingUpdate");
  if (type.empty()) {
    errs.push_back(Required(sp.Child("updateStrategy")));
  } else if (type == "OnDelete") {
    if (!IsNull(ru)) {
      errs.push_back(Invalid(sp.Child("updateStrategy", "rollingUpdate"), BadValue::FromJson(*ru),
                             "only allowed for updateStrategy 'RollingUpdate'"));
    }
  } else if (type == "RollingUpdate") {
    if (!IsNull(ru)) {
      FieldPath rp = sp.Child("updateStrategy", "rollingUpdate");
      Append(errs, ValidateNonnegative(Get(ru, "partition"), rp.Child("partition")));
      if (const JsonV* mu = Get(ru, "maxUnavailable"); !IsNull(mu)) {
        Append(errs, ValidatePositiveIntOrPercent(mu, rp.Child("maxUnavailable")));
        if (IntOrPercentValue(mu, false) == 0) {
          errs.push_back(Invalid(rp.Child("maxUnavailable"), BadValue::Rendered(GoIntOrString(mu)),
                                 "cannot be 0"));
        }
        Append(errs, IsNotMoreThan100Percent(mu, rp.Child("maxUnavailable")));
      }
    }
  } else {
    errs.push_back(Invalid(sp.Child("updateStrategy"), BadValue::FromJson(*us),
                           "must be 'RollingUpdate' or 'OnDelete'"));
  }
  if (const JsonV* pol = Get(spec, "persistentVolumeClaimRetentionPolicy"); !IsNull(pol)) {
    FieldPath pp = sp.Child("persistentVolumeClaimRetentionPolicy");
    for (std::string_view f : {"whenDeleted", "whenScaled"}) {
      std::string_view v = Str(Get(pol, f));
      if (v != "Retain" && v != "Delete") {
        errs.push_back(NotSupported(pp.Child(f), BadValue::Str(v), {"Retain", "Delete"}));
      }
    }
  }
  Append(errs, ValidateNonnegative(Get(spec, "replicas"), sp.Child("replicas")));
  Append(errs, ValidateNonnegative(Get(spec, "minReadySeconds"), sp.Child("minReadySeconds")));
  Append(errs, ValidateNonnegative(Path(spec, "ordinals", "start"), sp.Child("ordinals.start")));
  const JsonV* selector = Get(spec, "selector");
  if (IsNull(selector)) {
    errs.push_back(Required(sp.Child("selector")));
  } else {
    Append(errs, ValidateLabelSelector(selector, sp.Child("selector")));
    if (SelectorIsEmpty(selector)) {
      errs.push_back(Invalid(sp.Child("selector"), BadValue::Rendered(GoLabelSelector(selector)),
                             "empty selector is invalid for statefulset"));
    }
  }
  // Upstream checks only the template's labels and annotations here, not its pod spec.
  const JsonV* tmpl = Get(spec, "template");
  FieldPath tp = sp.Child("template");
  const JsonV* labels = Path(tmpl, "metadata", "labels");
  if (!IsNull(selector) && !SelectorIsEmpty(selector) && !SelectorMatches(selector, labels)) {
    errs.push_back(Invalid(tp.Child("metadata", "labels"),
                           BadValue::Rendered(GoMapStringString(labels)),
                           "`selector` does not match template `labels`"));
  }
  Append(errs, ValidateLabels(labels, tp.Child("labels")));
  Append(errs, ValidateAnnotations(Path(tmpl, "metadata", "annotations"), tp.Child("annotations")));
  std::string_view rp = Str(Path(tmpl, "spec", "restartPolicy"));
  if (rp != "Always") {
    errs.push_back(NotSupported(tp.Child("spec", "restartPolicy"), BadValue::Str(rp), {"Always"}));
  }
  if (!IsNull(Path(tmpl, "spec", "activeDeadlineSeconds"))) {
    errs.push_back(Forbidden(tp.Child("spec", "activeDeadlineSeconds"),
                             "activeDeadlineSeconds in StatefulSet is not Supported"));
  }
  if (old != nullptr) {
    // Only replicas, ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and
    // minReadySeconds may change.
    json::value a = spec ? *spec : json::value(json::object{});
    json::value b = Get(old, "spec") ? *Get(old, "spec") : json::value(json::object{});
    for (json::value* v : {&a, &b}) {
      if (!v->is_object()) continue;
      for (std::string_view f : {"replicas", "ordinals", "template", "updateStrategy",
                                 "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}) {
        v->get_object().erase(f);
      }
    }
    if (a != b) {
      errs.push_back(Forbidden(sp,
                               "updates to statefulset spec for fields other than 'replicas', "
                               "'ordinals', 'template', 'updateStrategy', "
                               "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                               "are forbidden"));
    }
  }
  return errs;
}

// ---- batch

namespace {

ErrorList ValidateJobSpec(const JsonV* spec, const FieldPath& sp, bool is_template) {
  ErrorList errs;
  for (std::string_view f : {"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                             "ttlSecondsAfterFinished"}) {
    Append(errs, ValidateNonnegative(Get(spec, f), sp.Child(f)));
  }
  if (const JsonV* cm = Get(spec, "completionMode"); !IsNull(cm)) {
    std::string_view mode = Str(cm);
    if (mode != "NonIndexed" && mode != "Indexed") {
      errs.push_back(
          NotSupported(sp.Child("completionMode"), BadValue::Str(mode), {"NonIndexed", "Indexed"}));
    }
    if (mode == "Indexed") {
      if (IsNull(Get(spec, "completions"))) {
        errs.push_back(Required(sp.Child("completions"), "when completion mode is Indexed"));
      }
      if (auto p = Int(Get(spec, "parallelism")); p && *p > 100000) {
        errs.push_back(Invalid(sp.Child("parallelism"), BadValue::Int(*p),
                               "must be less than or equal to 100000 when completion mode is "
                               "Indexed"));
      }
    }
  }
  if (const JsonV* prp = Get(spec, "podReplacementPolicy"); !IsNull(prp)) {
    std::string_view v = Str(prp);
    if (v != "TerminatingOrFailed" && v != "Failed") {
      errs.push_back(NotSupported(sp.Child("podReplacementPolicy"), BadValue::Str(v),
                                  {"Failed", "TerminatingOrFailed"}));
    }
  }
  const JsonV* selector = Get(spec, "selector");
  bool manual = Bool(Get(spec, "manualSelector"));
  if (!is_template) {
    if (IsNull(selector)) {
      // Without manualSelector the server generates the selector before validation.
      if (manual) errs.push_back(Required(sp.Child("selector")));
    } else {
      Append(errs, ValidateLabelSelector(selector, sp.Child("selector")));
      const JsonV* labels = Path(spec, "template", "metadata", "labels");
      if (!SelectorMatches(selector, labels)) {
        errs.push_back(Invalid(sp.Child("template", "metadata", "labels"),
                               BadValue::Rendered(GoMapStringString(labels)),
                               "`selector` does not match template `labels`"));
      }
    }
  }
  const JsonV* tmpl = Get(spec, "template");
  Append(errs, ValidatePodTemplateSpec(tmpl, sp.Child("template")));
  std::string_view rp = Str(Path(tmpl, "spec", "restartPolicy"));
  if (rp != "OnFailure" && rp != "Never") {
    errs.push_back(NotSupported(sp.Child("template", "spec", "restartPolicy"), BadValue::Str(rp),
                                {"OnFailure", "Never"}));
  }
  return errs;
}

BadValue ShownInt(const JsonV* v) {
  if (auto i = Int(v)) return BadValue::Int(*i);
  return BadValue::Str("null");
}

}  // namespace

ErrorList ValidateJob(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  Append(errs, ValidateJobSpec(spec, sp, false));
  if (old == nullptr) return errs;
  const JsonV* ospec = Get(old, "spec");
  // Completions may change only for elastic indexed jobs (completions == parallelism).
  bool elastic = Str(Get(spec, "completionMode")) == "Indexed" &&
                 Int(Get(spec, "completions")) == Int(Get(spec, "parallelism")) &&
                 Int(Get(ospec, "completions")) == Int(Get(ospec, "parallelism"));
  if (!elastic) {
    Append(errs, ValidateImmutable(Get(spec, "completions"), Get(ospec, "completions"),
                                   sp.Child("completions"), ShownInt(Get(spec, "completions"))));
  }
  Append(errs,
         ValidateImmutable(Get(spec, "selector"), Get(ospec, "selector"), sp.Child("selector"),
                           BadValue::Rendered(GoLabelSelector(Get(spec, "selector")))));
  // The template is immutable, except scheduling directives of a suspended job that never ran.
  json::value nt = Get(spec, "template") ? *Get(spec, "template") : json::value(nullptr);
  json::value ot = Get(ospec, "template") ? *Get(ospec, "template") : json::value(nullptr);
  bool never_started = Bool(Get(ospec, "suspend")) && IsNull(Path(old, "status", "startTime"));
  if (never_started) {
    for (json::value* t : {&nt, &ot}) {
      if (!t->is_object()) continue;
      if (json::object* m = MutObj(t->get_object(), "metadata")) {
        m->erase("labels");
        m->erase("annotations");
      }
      if (json::object* s = MutObj(t->get_object(), "spec")) {
        for (std::string_view f : {"nodeSelector", "affinity", "tolerations", "schedulingGates"}) {
          s->erase(f);
        }
      }
    }
  }
  if (nt != ot) {
    errs.push_back(Invalid(sp.Child("template"), BadValue::FromJson(*Get(spec, "template")),
                           "field is immutable"));
  }
  for (std::string_view f : {"completionMode", "podFailurePolicy", "backoffLimitPerIndex"}) {
    const JsonV* n = Get(spec, f);
    Append(errs, ValidateImmutable(n, Get(ospec, f), sp.Child(f),
                                   IsNull(n) ? BadValue::Str("null") : BadValue::FromJson(*n)));
  }
  return errs;
}

// ---- cron

namespace {

struct CronBounds {
  unsigned min, max;
  std::vector<std::string_view> names;  // index = value offset from 0
};

std::string AtoiError(std::string_view s) {
  return "failed to parse int from " + std::string(s) + ": strconv.Atoi: parsing " + GoQuote(s) +
         ": invalid syntax";
}

// Returns "" or robfig/cron's error; `value` gets the parsed number.
std::string ParseIntOrName(std::string_view s, const CronBounds& b, unsigned& value) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < b.names.size(); ++i) {
    if (!b.names[i].empty() && lower == b.names[i]) {
      value = static_cast<unsigned>(i);
      return {};
    }
  }
  std::string_view digits = s;
  bool neg = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    neg = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return AtoiError(s);
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return AtoiError(s);
    v = v * 10 + (c - '0');
    if (v > INT32_MAX) {
      return "failed to parse int from " + std::string(s) + ": strconv.Atoi: parsing " +
             GoQuote(s) + ": value out of range";
    }
  }
  if (neg && v != 0) {
    return "negative number (" + std::string("-") + std::to_string(v) +
           ") not allowed: " + std::string(s);
  }
  value = static_cast<unsigned>(v);
  return {};
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? s.npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

std::string ParseRange(std::string_view expr, const CronBounds& b) {
  auto range_and_step = Split(expr, '/');
  auto low_high = Split(range_and_step[0], '-');
  bool single = low_high.size() == 1;
  unsigned start = 0, end = 0, step = 1;
  if (low_high[0] == "*" || low_high[0] == "?") {
    start = b.min;
    end = b.max;
  } else {
    if (auto e = ParseIntOrName(low_high[0], b, start); !e.empty()) return e;
    if (low_high.size() == 1) {
      end = start;
    } else if (low_high.size() == 2) {
      if (auto e = ParseIntOrName(low_high[1], b, end); !e.empty()) return e;
    } else {
      return "too many hyphens: " + std::string(expr);
    }
  }
  if (range_and_step.size() == 2) {
    CronBounds plain{0, 0, {}};
    if (auto e = ParseIntOrName(range_and_step[1], plain, step); !e.empty()) return e;
    if (single) end = b.max;
  } else if (range_and_step.size() > 2) {
    return "too many slashes: " + std::string(expr);
  }
  if (start < b.min) {
    return "beginning of range (" + std::to_string(start) + ") below minimum (" +
           std::to_string(b.min) + "): " + std::string(expr);
  }
  if (end > b.max) {
    return "end of range (" + std::to_string(end) + ") above maximum (" + std::to_string(b.max) +
           "): " + std::string(expr);
  }
  if (start > end) {
    return "beginning of range (" + std::to_string(start) + ") beyond end of range (" +
           std::to_string(end) + "): " + std::string(expr);
  }
  if (step == 0) return "step of range should be a positive number: " + std::string(expr);
  return {};
}

bool ZoneExists(std::string_view tz) {
  if (tz == "UTC" || tz == "Local") return true;
  if (tz.empty() || tz.find("..") != std::string_view::npos || tz.front() == '/') return false;
  struct stat st {};
  std::string path = "/usr/share/zoneinfo/" + std::string(tz);
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::string ParseCronSchedule(std::string_view spec) {
  if (spec.empty()) return "empty spec string";
  if (spec.substr(0, 3) == "TZ=" || spec.substr(0, 8) == "CRON_TZ=") {
    size_t eq = spec.find('=');
    size_t sp = spec.find(' ');
    std::string_view tz =
        spec.substr(eq + 1, sp == std::string_view::npos ? spec.npos : sp - eq - 1);
    if (!ZoneExists(tz)) {
      return "provided bad location " + std::string(tz) + ": unknown time zone " + std::string(tz);
    }
    spec = sp == std::string_view::npos ? std::string_view() : spec.substr(sp);
    size_t b = spec.find_first_not_of(" \t");
    spec = b == std::string_view::npos ? std::string_view() : spec.substr(b);
  }
  if (!spec.empty() && spec[0] == '@') {
    static constexpr std::string_view kDescriptors[] = {
        "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"};
    for (auto d : kDescriptors) {
      if (spec == d) return {};
    }
    if (spec.substr(0, 7) == "@every ") {
      std::string_view dur = spec.substr(7);
      // A Go duration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+
      bool ok = !dur.empty();
      size_t i = 0;
      if (ok && (dur[0] == '-' || dur[0] == '+')) ++i;
      if (dur == "0") return {};
      bool any = false;
      while (ok && i < dur.size()) {
        size_t d0 = i;
        while (i < dur.size() && ((dur[i] >= '0' && dur[i] <= '9') || dur[i] == '.')) ++i;
        if (i == d0) {
          ok = false;
          break;
        }
        size_t u0 = i;
        while (i < dur.size() && std::isalpha(static_cast<unsigned char>(dur[i]))) ++i;
        std::string_view unit = dur.substr(u0, i - u0);
        ok = unit == "ns" || unit == "us" || unit == "µs" || unit == "ms" || unit == "s" ||
             unit == "m" || unit == "h";
        any = true;
      }
      if (ok && any) return {};
      return "failed to parse duration " + std::string(spec) + ": time: invalid duration " +
             GoQuote(dur);
    }
    return "unrecognized descriptor: " + std::string(spec);
  }
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < spec.size()) {
    while (i < spec.size() && std::isspace(static_cast<unsigned char>(spec[i]))) ++i;
    size_t s = i;
    while (i < spec.size() && !std::isspace(static_cast<unsigned char>(spec[i]))) ++i;
    if (i > s) fields.push_back(spec.substr(s, i - s));
  }
  if (fields.size() != 5) {
    std::string list = "[";
    for (size_t k = 0; k < fields.size(); ++k) list += (k ? " " : "") + std::string(fields[k]);
    list += "]";
    return "expected exactly 5 fields, found " + std::to_string(fields.size()) + ": " + list;
  }
  static const CronBounds kBounds[5] = {
      {0, 59, {}},
      {0, 23, {}},
      {1, 31, {}},
      {1,
       12,
       {"", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
      {0, 6, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}};
  for (size_t f = 0; f < 5; ++f) {
    for (auto expr : Split(fields[f], ',')) {
      if (auto e = ParseRange(expr, kBounds[f]); !e.empty()) return e;
    }
  }
  return {};
}

ErrorList ValidateCronJob(const JsonV& obj, const JsonV* old, const ValidationContext&) {
  ErrorList errs;
  FieldPath sp("spec");
  const JsonV* spec = Get(&obj, "spec");
  if (old == nullptr) {
    std::string_view name = Str(Path(&obj, "metadata", "name"));
    if (name.size() > 52) {
      errs.push_back(Invalid(FieldPath("metadata").Child("name"), BadValue::Str(name),
                             "must be no more than 52 characters"));
    }
  }
  std::string_view schedule = Str(Get(spec, "schedule"));
  const JsonV* tz = Get(spec, "timeZone");
  if (schedule.empty()) {
    errs.push_back(Required(sp.Child("schedule")));
  } else {
    if (auto e = ParseCronSchedule(schedule); !e.empty()) {
      errs.push_back(Invalid(sp.Child("schedule"), BadValue::Str(schedule), e));
    }
    bool allow_tz =
        old != nullptr && Str(Path(old, "spec", "schedule")).find("TZ") != std::string_view::npos;
    bool has_tz = schedule.find("TZ") != std::string_view::npos;
    if (allow_tz && has_tz && !IsNull(tz)) {
      errs.push_back(Invalid(sp.Child("schedule"), BadValue::Str(schedule),
                             "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
    } else if (!allow_tz && has_tz) {
      errs.push_back(Invalid(sp.Child("schedule"), BadValue::Str(schedule),
                             "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
    }
  }
  Append(errs, ValidateNonnegative(Get(spec, "startingDeadlineSeconds"),
                                   sp.Child("startingDeadlineSeconds")));
  bool tz_changed = old == nullptr || Str(tz) != Str(Path(old, "spec", "timeZone")) ||
                    IsNull(tz) != IsNull(Path(old, "spec", "timeZone"));
  if (!IsNull(tz) && tz_changed) {
    std::string_view z = Str(tz);
    FieldPath zp = sp.Child("timeZone");
    bool bad_chars = false;
    for (auto part : Split(z, '/')) {
      bool ok = !part.empty() && part != "." && part != ".." && part[0] != '-';
      for (char c : part) {
        ok =
            ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+');
      }
      bad_chars = bad_chars || !ok;
    }
    if (z.empty()) {
      errs.push_back(Invalid(zp, BadValue::Str(z), "timeZone must be nil or non-empty string"));
    } else if (bad_chars) {
      errs.push_back(Invalid(zp, BadValue::Str(z), "unknown time zone " + std::string(z)));
    } else if (z.size() == 5 && (z == "Local" || z == "local" || z == "LOCAL")) {
      errs.push_back(Invalid(zp, BadValue::Str(z),
                             "timeZone must be an explicit time zone as defined in "
                             "https://www.iana.org/time-zones"));
    } else if (!ZoneExists(z)) {
      errs.push_back(Invalid(zp, BadValue::Str(z), "unknown time zone " + std::string(z)));
    }
  }
  std::string_view cp = Str(Get(spec, "concurrencyPolicy"));
  if (cp.empty()) {
    errs.push_back(Required(sp.Child("concurrencyPolicy")));
  } else if (cp != "Allow" && cp != "Forbid" && cp != "Replace") {
    errs.push_back(NotSupported(sp.Child("concurrencyPolicy"), BadValue::Str(cp),
                                {"Allow", "Forbid", "Replace"}));
  }
  Append(errs, ValidateNonnegative(Get(spec, "successfulJobsHistoryLimit"),
                                   sp.Child("successfulJobsHistoryLimit")));
  Append(errs, ValidateNonnegative(Get(spec, "failedJobsHistoryLimit"),
                                   sp.Child("failedJobsHistoryLimit")));
  const JsonV* jt = Get(spec, "jobTemplate");
  FieldPath jp = sp.Child("jobTemplate");
  Append(errs, ValidateJobSpec(Get(jt, "spec"), jp.Child("spec"), true));
  // The Job controller generates selectors for the Jobs it creates.
  if (const JsonV* sel = Path(jt, "spec", "selector"); !IsNull(sel)) {
    errs.push_back(Invalid(jp.Child("spec", "selector"), BadValue::Rendered(GoLabelSelector(sel)),
                           "`selector` will be auto-generated"));
  }
  if (Bool(Path(jt, "spec", "manualSelector"))) {
    errs.push_back(
        NotSupported(jp.Child("spec", "manualSelector"), BadValue::Bool(true), {"nil", "false"}));
  }
  return errs;
}

}  // namespace mini8s::api::vdetail
