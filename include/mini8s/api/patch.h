// Patches over Boost.JSON values: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and the
// Kubernetes strategic merge patch, plus the diff functions that create merge patches and
// strategic merge patches (what client-side `kubectl apply` sends).
//
// Semantics follow the Kubernetes apiserver (evanphx/json-patch and apimachinery's
// strategicpatch); where they differ from the RFCs, or where mini8s deviates from upstream, the
// function comment says so. docs/design/patch.md has the details.
//
// All functions are pure: inputs are never modified and results are fresh values. Thread-safe.
#pragma once

#include <cstddef>

#include <boost/json/value.hpp>

#include "mini8s/api/schema.h"
#include "mini8s/common/result.h"

namespace mini8s::api {

// The apiserver refuses JSON patches with more operations than this (413 upstream, reported
// here as kResourceExhausted with upstream's message).
inline constexpr std::size_t kMaxJsonPatchOperations = 10000;

// Applies an RFC 6902 patch (`patch` must be an array of operation objects) to `doc`.
// Errors:
//   kBadRequest         the patch is not an array of objects, or a member has the wrong type.
//   kResourceExhausted  more than kMaxJsonPatchOperations operations.
//   kInvalid            an operation does not apply (missing path, bad index, failed test);
//                       the message names the operation, e.g.
//                       `replace operation does not apply: doc is missing key: /spec/x: missing
//                       value`.
// Negative array indices count from the end, as upstream's library allows.
Result<boost::json::value> ApplyJsonPatch(const boost::json::value& doc,
                                          const boost::json::value& patch);

// Applies an RFC 7386 merge patch. Never fails: any JSON is a valid merge patch.
boost::json::value ApplyMergePatch(const boost::json::value& target,
                                   const boost::json::value& patch);

// A merge patch that turns `original` into `modified` (evanphx CreateMergePatch): changed and
// added members, null for removed ones; arrays are replaced whole. Both must be objects, or both
// arrays of objects of equal length (the result is then an array of patches); else kBadRequest.
Result<boost::json::value> CreateMergePatch(const boost::json::value& original,
                                            const boost::json::value& modified);

// Applies a strategic merge patch to `original` (both objects) as the apiserver does for built-in
// kinds. `schema` is the kind's root schema; per-field patch metadata (patch_strategy,
// patch_merge_key) is read from the node that Schema::Child(field) returns, so a field's node
// must carry the metadata of that field. Fields without metadata (and everything when `schema` is
// nullptr) merge like a JSON merge patch: maps merge, lists are replaced. The apiserver refuses
// strategic merge patches on custom resources (415); that decision is the caller's: this function
// applies one whatever `schema` is.
//
// Supported: null deletes a field; lists with strategy "merge" merge by patch_merge_key (lists of
// maps) or as sets (lists of primitives); `$patch: replace|delete` in maps and list elements and
// `$patch: replace` as a list element; `$retainKeys`; `$setElementOrder/<list>`;
// `$deleteFromPrimitiveList/<list>`. Directive keys and nulls never reach the result.
// Errors: kBadRequest for malformed patches (unknown `$patch` value, missing merge key, bad
// directive format; messages as upstream's), kInvalid for lists of lists.
Result<boost::json::value> StrategicMergePatch(const boost::json::value& original,
                                               const boost::json::value& patch,
                                               const Schema* schema);

// The strategic merge patch that turns `original` into `modified` (both objects), with
// `$setElementOrder` lists, as upstream's CreateTwoWayMergePatch.
Result<boost::json::value> CreateTwoWayMergePatch(const boost::json::value& original,
                                                  const boost::json::value& modified,
                                                  const Schema* schema);

// The patch client-side apply sends: changes from `current` (live object) to `modified` (the
// new manifest), plus deletions of what `original` (last-applied) had and `modified` dropped.
// With overwrite = false, kConflict if the patch changes something that changed differently
// from `original` to `current`. As upstream's CreateThreeWayMergePatch.
Result<boost::json::value> CreateThreeWayMergePatch(const boost::json::value& original,
                                                    const boost::json::value& modified,
                                                    const boost::json::value& current,
                                                    const Schema* schema, bool overwrite = true);

// Structural JSON equality where numbers compare by value (1 == 1.0), as Go's decoding into
// float64 makes upstream behave.
bool JsonEqual(const boost::json::value& a, const boost::json::value& b);

}  // namespace mini8s::api
