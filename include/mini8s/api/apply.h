// Server-side apply and metadata.managedFields (DESIGN issue 3; docs/design/apply.md).
//
// Follows upstream's sigs.k8s.io/structured-merge-diff v4 and the apiserver's fieldmanager:
// every write records which manager owns which fields (FieldsV1), an apply-patch merges the
// applied configuration into the live object, removes fields the manager stopped applying (when
// nobody else owns them) and fails with 409 when it would change fields owned by another manager,
// unless forced. List and map semantics come from the schema (x-kubernetes-list-type/-map-keys,
// else patchMergeKey lists as associative lists, else atomic; x-kubernetes-map-type).
//
// Thread-safe: all functions are pure.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "mini8s/api/schema.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"

namespace mini8s::api {

// One conflicting field of a refused apply (a details.causes entry of type FieldManagerConflict).
struct FieldManagerConflict {
  std::string message;  // conflict with "kubectl-client-side-apply" using apps/v1
  std::string field;    // .spec.replicas, .spec.template.spec.containers[name="c"].image
};

struct ApplyResult {
  boost::json::object object;  // the merged object, metadata.managedFields updated
  bool changed = false;        // false when the object (apart from managedFields) is unchanged
  // True when metadata.managedFields differs from the live object's: with !changed, a write is
  // still needed (e.g. a second manager now shares fields); with neither, the apply is a no-op.
  bool managed_fields_changed = false;
};

// Applies `applied` (the body of an apply-patch, already parsed from YAML/JSON) on top of `live`
// (nullptr: the object does not exist yet, i.e. a create) for `manager`. Returns the merged object
// with metadata.managedFields updated. Errors: kConflict with upstream's message ("Apply failed
// with 1 conflict: conflict with \"x\" using apps/v1: .spec.replicas") unless `force`, and the
// conflicts in `conflicts` (for details.causes); kBadRequest for a malformed patch (managedFields
// set, wrong apiVersion, list items without their keys); kInternal when the live object's
// managedFields cannot be decoded. `schema` may be nullptr (everything is then deduced: maps
// granular, lists atomic).
Result<ApplyResult> ServerSideApply(const Schema* schema, const boost::json::object* live,
                                    const boost::json::object& applied, std::string_view manager,
                                    bool force, std::string_view api_version,
                                    std::chrono::system_clock::time_point now,
                                    std::string_view subresource = "",
                                    std::vector<FieldManagerConflict>* conflicts = nullptr);

// Records ownership for a non-apply write (create when old_obj is nullptr, update or any of the
// three non-apply patches) by `manager`: the fields the write added or changed become the
// manager's (operation Update, at `api_version`), fields it removed leave every manager. The
// managedFields of `new_obj` decide the starting point as upstream: absent, [] or undecodable
// keep the live ones (clients unaware of the field cannot wipe it), a valid list replaces them,
// and [{}] resets them (the object is then untracked until the next apply).
Status UpdateManagedFields(const Schema* schema, const boost::json::object* old_obj,
                           boost::json::object& new_obj, std::string_view manager,
                           std::string_view api_version, std::chrono::system_clock::time_point now,
                           std::string_view subresource = "");

// The manager for a request without ?fieldManager=: the User-Agent up to its first '/', without
// unprintable characters, at most 128 bytes ("kubectl/v1.32.0 (linux/amd64) ..." -> "kubectl").
std::string FieldManagerFromUserAgent(std::string_view user_agent);

// Checks ?fieldManager= (at most 128 bytes, printable): kInvalid naming the problem.
Status ValidateFieldManager(std::string_view manager);

// Validates metadata.managedFields of an object a client sent (ObjectMeta validation): kInvalid
// with field errors such as `metadata.managedFields[0].operation: Unsupported value: "X":
// supported values: "Apply", "Update"`, or kBadRequest when an entry's fieldsV1 is not a valid
// field set.
Status ValidateManagedFields(const boost::json::object& obj);

// details.causes for a conflict Status: [{"reason":"FieldManagerConflict","message":...,
// "field":...}].
boost::json::array FieldManagerConflictCauses(const std::vector<FieldManagerConflict>& conflicts);

}  // namespace mini8s::api
