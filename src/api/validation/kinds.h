// Private: the per-kind validation hooks and the helpers they share.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/field_errors.h"
#include "mini8s/api/validation.h"

namespace mini8s::api::vdetail {

using JsonV = boost::json::value;

// Validation of one kind's content beyond ObjectMeta. `old` is nullptr on create.
using KindValidateFn = ErrorList (*)(const JsonV& obj, const JsonV* old,
                                     const ValidationContext& ctx);

struct KindRules {
  std::string_view group;
  std::string_view kind;
  NameValidator name_fn;
  KindValidateFn validate;  // may be nullptr (ObjectMeta only)
};

// The table, in kinds.cpp.
const KindRules* FindKindRules(std::string_view group, std::string_view kind);

// Shared helpers.
ErrorList ValidateDNS1123LabelField(std::string_view value, const FieldPath& path);
ErrorList ValidateDNS1123SubdomainField(std::string_view value, const FieldPath& path);
// A PodTemplateSpec (labels, annotations, pod spec) at `path` ("spec.template").
ErrorList ValidatePodTemplateSpec(const JsonV* tmpl, const FieldPath& path);
ErrorList ValidatePodSpec(const JsonV* spec, const FieldPath& path);
// A selector matching labels: the same semantics as metav1.LabelSelectorAsSelector + Matches.
bool SelectorMatches(const JsonV* selector, const JsonV* labels);
bool SelectorIsEmpty(const JsonV* selector);
// Go's %#v of a *metav1.LabelSelector (for "field is immutable" messages).
std::string GoLabelSelector(const JsonV* selector);
// Go's %#v of a []string held in a JSON array.
std::string GoStringSlice(const JsonV* v);
// An int-or-string that must be an integer >= 0 or a percentage (apps validation).
ErrorList ValidatePositiveIntOrPercent(const JsonV* v, const FieldPath& path);
// Its value with percentages taken of 100; like intstr's IntValue(), a string that is neither a
// percentage nor a number counts as 0.
int64_t IntOrPercentValue(const JsonV* v, bool round_up);
// Cron schedule parsing with robfig/cron's standard-parser messages; "" when valid.
std::string ParseCronSchedule(std::string_view schedule);
// Whether `v` holds `s`.
bool Contains(const std::vector<std::string>& v, std::string_view s);
// An enum field: Required when empty, NotSupported when unknown.
void CheckEnum(ErrorList& errs, const JsonV* v, const FieldPath& path,
               const std::vector<std::string>& supported, bool required = true);
// The member names of core/v1 VolumeSource, in upstream's order (validation and defaulting).
std::span<const std::string_view> VolumeSourceFields();

// Kind hooks.
ErrorList ValidatePod(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateService(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateConfigMap(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateSecret(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateNamespace(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateNode(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidatePVC(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateEvent(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateReplicationController(const JsonV& obj, const JsonV* old,
                                        const ValidationContext& ctx);
ErrorList ValidateDeployment(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateReplicaSet(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateDaemonSet(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateStatefulSet(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateJob(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateCronJob(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateIngress(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateRole(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateClusterRole(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateRoleBinding(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);
ErrorList ValidateClusterRoleBinding(const JsonV& obj, const JsonV* old,
                                     const ValidationContext& ctx);
ErrorList ValidateLease(const JsonV& obj, const JsonV* old, const ValidationContext& ctx);

}  // namespace mini8s::api::vdetail
