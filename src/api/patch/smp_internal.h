// Strategic merge patch internals shared by the apply side (strategic_merge_patch.cpp) and the
// diff side (strategic_diff.cpp). Private to api/patch.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/schema.h"
#include "mini8s/common/result.h"

namespace mini8s::api::smp {

inline constexpr std::string_view kDirective = "$patch";
inline constexpr std::string_view kDelete = "delete";
inline constexpr std::string_view kReplace = "replace";
inline constexpr std::string_view kMerge = "merge";
inline constexpr std::string_view kRetainKeysStrategy = "retainKeys";
inline constexpr std::string_view kRetainKeys = "$retainKeys";
inline constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList";
inline constexpr std::string_view kSetElementOrder = "$setElementOrder";

// Patch metadata of one field, read from the field's schema node (the views point into the
// schema, which outlives every patch call).
struct Meta {
  const Schema* sub = nullptr;  // the field's schema (maps) or its items' schema (lists)
  std::string_view strategy;    // "merge", "replace" or ""
  bool retain_keys = false;
  std::string_view merge_key;
};

Result<Meta> LookupMap(const Schema* schema, std::string_view key);
Result<Meta> LookupSlice(const Schema* schema, std::string_view key);

struct MergeOptions {
  // Server side: apply $deleteFromPrimitiveList and $retainKeys; false when merging two patches
  // (three-way diff), which keeps the directives.
  bool merge_parallel_list = true;
  // Server side: drop nulls that match nothing; false keeps them (a patch merged into a patch).
  bool ignore_unmatched_nulls = true;
};

// mergeMap: merges `patch` into `original` and returns the result.
Result<boost::json::object> MergeMap(boost::json::object original, boost::json::object patch,
                                     const Schema* schema, const MergeOptions& options);

// Element kinds as upstream distinguishes them (numbers are one kind here).
enum class ElemKind { kNone, kMap, kScalar };

// The common element kind of the lists, kNone when all are empty. kInvalid for lists of lists,
// kBadRequest for mixed element types.
Result<ElemKind> SliceElementKind(std::initializer_list<const boost::json::array*> lists);

bool StartsWith(std::string_view s, std::string_view prefix);

// fmt.Sprintf("%v") of a scalar: what upstream sorts and compares scalars and merge keys by.
std::string PrintedScalar(const boost::json::value& v);
// Stable ascending order of scalars by their printed form (upstream's sortScalars).
void SortScalars(boost::json::array& a);
// Removes later duplicates, keeping first occurrences.
void DedupeScalars(boost::json::array& a);

}  // namespace mini8s::api::smp
