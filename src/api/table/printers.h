// Private to the table module: the cell-printer vocabulary shared by the printer files.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/schema.h"

namespace mini8s::api::table {

// Pod READY/STATUS/RESTARTS come out of one pass over the container statuses; a row computes it
// once and the three printers share it.
struct PodSummary {
  int ready = 0;
  int total = 0;
  std::string reason;
  std::string restarts;
};

struct RowContext {
  const boost::json::object& obj;
  std::chrono::system_clock::time_point now;
  const TableColumn& column;
  mutable std::optional<PodSummary> pod;
};

using CellPrinter = boost::json::value (*)(const RowContext&);

struct PrinterEntry {
  std::string_view name;
  CellPrinter fn;
};

// Each printer file contributes a table; HasCellPrinter and RowCells search them all.
std::vector<PrinterEntry> GenericPrinters();
std::vector<PrinterEntry> CorePrinters();
std::vector<PrinterEntry> WorkloadPrinters();
std::vector<PrinterEntry> OtherPrinters();

// --- helpers over JSON (missing or wrongly typed fields read as empty/zero, as Go's zero
// values do in upstream's typed printers) ---------------------------------------------------
const boost::json::value* At(const boost::json::object& o, std::string_view path);
std::string Str(const boost::json::object& o, std::string_view path);
int64_t Int(const boost::json::object& o, std::string_view path, int64_t def = 0);
bool Bool(const boost::json::object& o, std::string_view path);
const boost::json::array& Arr(const boost::json::object& o, std::string_view path);
const boost::json::object& Obj(const boost::json::object& o, std::string_view path);
const boost::json::object& AsObj(const boost::json::value& v);
size_t Count(const boost::json::object& o, std::string_view path);  // array or map size
bool Has(const boost::json::object& o, std::string_view path);      // present and not null

// translateTimestampSince: "<unknown>" for an absent, zero or unparsable time.
std::string Since(std::string_view rfc3339, std::chrono::system_clock::time_point now);
std::string SinceTime(std::chrono::system_clock::time_point t,
                      std::chrono::system_clock::time_point now);
std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view rfc3339);
std::string Join(const std::vector<std::string>& v, std::string_view sep);
// metav1.FormatLabelSelector: "<none>" for nothing/everything, "<error>" for a bad selector.
// With none_if_empty false, the empty form is "" (what Deployment's selector column prints).
std::string FormatLabelSelector(const boost::json::value* selector, bool none_if_empty = true);
// labels.FormatLabels: "k=v,..." sorted by key, "<none>" when empty.
std::string FormatLabels(const boost::json::object& labels);
// resource.Quantity.String() of a quantity field ("0" when absent).
std::string QuantityString(const boost::json::value* v);
// The container names and images of a pod spec, comma-joined (layoutContainerCells).
std::string ContainerNames(const boost::json::object& pod_spec);
std::string ContainerImages(const boost::json::object& pod_spec);
// The condition of `type` in a conditions array, or nullptr.
const boost::json::object* FindCondition(const boost::json::array& conditions,
                                         std::string_view type);
bool ConditionTrue(const boost::json::array& conditions, std::string_view type);
// Go's %v of a JSON scalar (integral numbers without a fraction).
std::string ScalarText(const boost::json::value& v);

}  // namespace mini8s::api::table
