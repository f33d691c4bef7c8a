// Table output: the metav1.Table the API server returns when kubectl asks for
// `application/json;as=Table;v=v1;g=meta.k8s.io` (DESIGN §3, docs/design/table.md).
//
// The columns come from the registry (KindInfo::columns); each column names a cell printer
// ("pod.status", "age", ...) that reproduces upstream's v1.32 printers, or, for custom resources,
// a JSONPath evaluated the way upstream's CRD table convertor does. Cells are computed on the
// server, including ages, exactly as upstream's server does (kubectl only lays them out).
//
// Pure functions over JSON; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/schema.h"

namespace mini8s::api {

struct TableOptions {
  // The instant ages are measured from (inject a fixed one in tests).
  std::chrono::system_clock::time_point now;
  // ?includeObject=: None (row "object" is null), Metadata (a PartialObjectMetadata, the
  // default), Object (the whole object).
  enum class IncludeObject { kNone, kMetadata, kObject } include_object = IncludeObject::kMetadata;
  // TableOptions.noHeaders: columnDefinitions is null (watch events after the first).
  bool no_headers = false;
};

// A metav1.Table (apiVersion meta.k8s.io/v1) with one row per object, in order.
// `list_resource_version` and `continue_token` fill metadata.resourceVersion / continue (both
// omitted when empty).
boost::json::object BuildTable(const KindInfo& kind,
                               const std::vector<const boost::json::object*>& objects,
                               const TableOptions& opts,
                               std::string_view list_resource_version = "",
                               std::string_view continue_token = "");

// The cells of one row, one per KindInfo::columns entry (strings, integers, booleans, numbers or
// null as upstream emits them).
std::vector<boost::json::value> RowCells(const KindInfo& kind, const boost::json::object& obj,
                                         std::chrono::system_clock::time_point now);

// True if `printer` names a built-in cell printer (every name the registry uses must).
bool HasCellPrinter(std::string_view printer);

// apimachinery's duration.HumanDuration ("45s", "3m2s", "10m", "3h5m", "10h", "2d3h", "45d",
// "2y10d", "9y"; "<invalid>" when more than a second in the future), the form of every AGE cell.
std::string HumanDuration(std::chrono::nanoseconds d);

// The first value a simple JSONPath (".spec.replicas", ".items[0].name", ".a[-1]",
// ".status.conditions[?(@.type==\"Ready\")].status", "['dotted.key']", optionally wrapped in
// {}) selects in `root`, or nullptr when it selects nothing or does not parse.
const boost::json::value* EvalJsonPath(const boost::json::value& root, std::string_view path);

}  // namespace mini8s::api
