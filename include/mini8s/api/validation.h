// Validation of API objects with Kubernetes' rules and messages: name and label syntax,
// ObjectMeta, a generic schema-driven pass (types, unknown fields, CRD constraints) and
// per-kind rules for the built-in kinds (Pod, Service, Deployment, Job, ...). Every problem is
// reported with its field path; nothing stops at the first error.
//
// Objects are Boost.JSON values as decoded from the wire (after defaulting, for the per-kind
// rules, as upstream validates defaulted objects). All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/field_errors.h"
#include "mini8s/api/schema.h"

namespace mini8s::api {

// ---- Syntax checks (apimachinery util/validation). Each returns the problems as upstream's
// messages; empty means valid.
std::vector<std::string> IsDNS1123Label(std::string_view value);
std::vector<std::string> IsDNS1123Subdomain(std::string_view value);
std::vector<std::string> IsDNS1035Label(std::string_view value);
std::vector<std::string> IsQualifiedName(std::string_view value);
std::vector<std::string> IsValidLabelValue(std::string_view value);
std::vector<std::string> IsValidPortName(std::string_view value);
std::vector<std::string> IsValidPortNum(int64_t port);
std::vector<std::string> IsConfigMapKey(std::string_view value);
std::vector<std::string> IsRelaxedEnvVarName(std::string_view value);
std::vector<std::string> IsCIdentifier(std::string_view value);
std::vector<std::string> IsValidPercent(std::string_view value);
std::vector<std::string> IsValidPathSegmentName(std::string_view value);
std::vector<std::string> IsValidIP(std::string_view value);  // "must be a valid IP address, ..."
std::string InclusiveRangeError(int64_t lo, int64_t hi);

// A name rule for metadata.name / generateName (`prefix` true for generateName, where a trailing
// dash is allowed).
using NameValidator = std::vector<std::string> (*)(std::string_view name, bool prefix);
std::vector<std::string> NameIsDNSSubdomain(std::string_view name, bool prefix);
std::vector<std::string> NameIsDNSLabel(std::string_view name, bool prefix);
std::vector<std::string> NameIsDNS1035Label(std::string_view name, bool prefix);
std::vector<std::string> NameIsPathSegment(std::string_view name, bool prefix);

// ---- ObjectMeta (apimachinery api/validation/objectmeta.go).
ErrorList ValidateLabels(const boost::json::value* labels, const FieldPath& path);
ErrorList ValidateAnnotations(const boost::json::value* annotations, const FieldPath& path);
ErrorList ValidateLabelSelector(const boost::json::value* selector, const FieldPath& path);
ErrorList ValidateObjectMeta(const boost::json::value* meta, bool requires_namespace,
                             NameValidator name_fn, const FieldPath& path);
ErrorList ValidateObjectMetaUpdate(const boost::json::value* new_meta,
                                   const boost::json::value* old_meta, const FieldPath& path);
// A non-negative integer field: "must be greater than or equal to 0".
ErrorList ValidateNonnegative(const boost::json::value* v, const FieldPath& path);
// `field is immutable` when the two values differ (absent and null are equal).
ErrorList ValidateImmutable(const boost::json::value* new_v, const boost::json::value* old_v,
                            const FieldPath& path, BadValue shown);

// ---- Schema-driven checks, for every kind including custom resources.
struct SchemaValidationOptions {
  // Built-in kinds behave like upstream's typed decoding: a type mismatch is a decode error
  // (400) and only types are checked (their rules live in the per-kind validation). Custom
  // resources get the full OpenAPI checks (required, enum, ranges, lengths, pattern, items,
  // formats) as 422 field errors, with CRD-style messages.
  bool custom_resource = false;
};

struct SchemaValidationResult {
  // 422 field errors (custom resources; also list-map key duplicates for every kind).
  ErrorList errors;
  // 400 decode errors for built-ins, e.g. `json: cannot unmarshal string into Go struct field
  // ContainerPort.spec.containers.ports.containerPort of type int32`; the server wraps them as
  // `<Kind> in version "<v>" cannot be handled as a <Kind>: <error>`.
  std::vector<std::string> decode_errors;
  // Fields the schema does not know, as paths ("spec.foo", "spec.containers[0].bar"). Upstream
  // reports each as `unknown field "<path>"` (400 for fieldValidation=Strict, a warning for Warn).
  std::vector<std::string> unknown_fields;
};

SchemaValidationResult ValidateAgainstSchema(const Schema& root, const boost::json::value& obj,
                                             const SchemaValidationOptions& options = {});
// Message helpers for the server's 400 responses and warnings, in upstream's words:
//   UnknownFieldMessage("spec.foo")          -> unknown field "spec.foo"   (also the Warn text)
//   StrictDecodingMessage({"spec.a", "b"})   -> strict decoding error: unknown field "spec.a",
//                                               unknown field "b"
//   CannotBeHandledMessage("Pod", "v1", d)   -> Pod in version "v1" cannot be handled as a Pod: d
std::string UnknownFieldMessage(std::string_view path);
std::string StrictDecodingMessage(const std::vector<std::string>& unknown_fields);
std::string CannotBeHandledMessage(std::string_view kind, std::string_view version,
                                   std::string_view detail);

// Removes fields the schema does not know (CRD pruning); keeps apiVersion/kind/metadata at the
// root and everything under x-kubernetes-preserve-unknown-fields.
void PruneUnknownFields(const Schema& root, boost::json::value& obj);

// ---- Per-kind validation: the entry points the API server calls. `kind` supplies the group,
// kind, scope and schema (custom kinds get the schema checks as 422s; built-ins get ObjectMeta
// plus their kind's rules). Kinds without rules get ObjectMeta checks only.
struct ValidationContext {
  int32_t node_port_min = 30000;  // the cluster's NodePort range (DESIGN §1)
  int32_t node_port_max = 32767;
};

ErrorList ValidateCreate(const KindInfo& kind, const boost::json::object& obj,
                         const ValidationContext& ctx = {});
ErrorList ValidateUpdate(const KindInfo& kind, const boost::json::object& obj,
                         const boost::json::object& old, const ValidationContext& ctx = {});

// Whether mini8s has kind-specific rules for group/kind.
bool HasKindValidation(std::string_view group, std::string_view kind);

}  // namespace mini8s::api
