// BuildTable and RowCells, the generic printers (name, age, created_at), the JSON helpers and
// the CRD-column cells (upstream's customresource tableconvertor semantics).
#include "mini8s/api/table.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/table/printers.h"
#include "mini8s/api/object.h"
#include "mini8s/api/quantity.h"
#include "mini8s/common/clock.h"

namespace mini8s::api {

namespace json = boost::json;

namespace table {
namespace {

const json::array kEmptyArray;
const json::object kEmptyObject;

}  // namespace

const json::value* At(const json::object& o, std::string_view path) { return FindPath(o, path); }

std::string Str(const json::object& o, std::string_view path) {
  const json::value* v = At(o, path);
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->get_string());
}

int64_t Int(const json::object& o, std::string_view path, int64_t def) {
  const json::value* v = At(o, path);
  if (v == nullptr) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return def;
}

bool Bool(const json::object& o, std::string_view path) {
  const json::value* v = At(o, path);
  return v != nullptr && v->is_bool() && v->get_bool();
}

const json::array& Arr(const json::object& o, std::string_view path) {
  const json::value* v = At(o, path);
  return v != nullptr && v->is_array() ? v->get_array() : kEmptyArray;
}

const json::object& Obj(const json::object& o, std::string_view path) {
  const json::value* v = At(o, path);
  return v != nullptr && v->is_object() ? v->get_object() : kEmptyObject;
}

const json::object& AsObj(const json::value& v) {
  return v.is_object() ? v.get_object() : kEmptyObject;
}

size_t Count(const json::object& o, std::string_view path) {
  const json::value* v = At(o, path);
  if (v == nullptr) return 0;
  if (v->is_array()) return v->get_array().size();
  if (v->is_object()) return v->get_object().size();
  return 0;
}

bool Has(const json::object& o, std::string_view path) {
  const json::value* v = At(o, path);
  return v != nullptr && !v->is_null();
}

std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view rfc3339) {
  if (rfc3339.empty()) return std::nullopt;
  Result<std::chrono::system_clock::time_point> t = ParseRfc3339(rfc3339);
  if (!t.has_value()) return std::nullopt;
  return *t;
}

std::string Since(std::string_view rfc3339, std::chrono::system_clock::time_point now) {
  std::optional<std::chrono::system_clock::time_point> t = ParseTime(rfc3339);
  // Go's zero time (0001-01-01T00:00:00Z) is "unset" too; anything before 1900 is treated so.
  if (!t || *t < std::chrono::system_clock::time_point(std::chrono::seconds(-2208988800))) {
    return "<unknown>";
  }
  return SinceTime(*t, now);
}

std::string SinceTime(std::chrono::system_clock::time_point t,
                      std::chrono::system_clock::time_point now) {
  return HumanDuration(std::chrono::duration_cast<std::chrono::nanoseconds>(now - t));
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += sep;
    out += v[i];
  }
  return out;
}

std::string FormatLabelSelector(const json::value* selector, bool none_if_empty) {
  const std::string empty = none_if_empty ? "<none>" : "";
  if (selector == nullptr || selector->is_null()) return empty;
  if (!selector->is_object()) return "<error>";
  const json::object& s = selector->get_object();
  // One requirement per key, sorted by key (labels.Selector's order).
  std::vector<std::pair<std::string, std::string>> reqs;
  for (const auto& [k, v] : Obj(s, "matchLabels")) {
    if (!v.is_string()) return "<error>";
    reqs.emplace_back(std::string(k), std::string(k) + "=" + std::string(v.get_string()));
  }
  for (const json::value& e : Arr(s, "matchExpressions")) {
    const json::object& expr = AsObj(e);
    std::string key = Str(expr, "key");
    std::string op = Str(expr, "operator");
    std::vector<std::string> values;
    for (const json::value& v : Arr(expr, "values")) {
      if (v.is_string()) values.emplace_back(v.get_string());
    }
    std::sort(values.begin(), values.end());
    if (op == "In" || op == "NotIn") {
      if (values.empty()) return "<error>";
      reqs.emplace_back(key, key + (op == "In" ? " in (" : " notin (") + Join(values, ",") + ")");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!values.empty()) return "<error>";
      reqs.emplace_back(key, (op == "Exists" ? "" : "!") + key);
    } else {
      return "<error>";
    }
  }
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(std::move(r.second));
  std::string out = Join(parts, ",");
  return out.empty() ? empty : out;
}

std::string FormatLabels(const json::object& labels) {
  std::map<std::string, std::string> sorted;
  for (const auto& [k, v] : labels) {
    sorted[std::string(k)] = v.is_string() ? std::string(v.get_string()) : ScalarText(v);
  }
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(k + "=" + v);
  std::string out = Join(parts, ",");
  return out.empty() ? "<none>" : out;
}

std::string QuantityString(const json::value* v) {
  if (v == nullptr || v->is_null()) return "0";
  std::string text = v->is_string() ? std::string(v->get_string()) : ScalarText(*v);
  Result<Quantity> q = Quantity::Parse(text);
  return q.has_value() ? q->String() : text;
}

namespace {

std::string JoinContainerField(const json::object& pod_spec, std::string_view field) {
  std::vector<std::string> parts;
  for (const json::value& c : Arr(pod_spec, "containers")) parts.push_back(Str(AsObj(c), field));
  return Join(parts, ",");
}

}  // namespace

std::string ContainerNames(const json::object& pod_spec) {
  return JoinContainerField(pod_spec, "name");
}
std::string ContainerImages(const json::object& pod_spec) {
  return JoinContainerField(pod_spec, "image");
}

const json::object* FindCondition(const json::array& conditions, std::string_view type) {
  for (const json::value& c : conditions) {
    const json::object& cond = AsObj(c);
    if (Str(cond, "type") == type) return &cond;
  }
  return nullptr;
}

bool ConditionTrue(const json::array& conditions, std::string_view type) {
  const json::object* c = FindCondition(conditions, type);
  return c != nullptr && Str(*c, "status") == "True";
}

std::string ScalarText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_double()) {
    double d = v.get_double();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e21) {
      return std::to_string(static_cast<int64_t>(d));
    }
  }
  if (v.is_null()) return "<nil>";
  return json::serialize(v);
}

// --- generic printers --------------------------------------------------------------------------

namespace {

json::value PrintName(const RowContext& r) { return json::value(Str(r.obj, "metadata.name")); }

json::value PrintAge(const RowContext& r) {
  return json::value(Since(Str(r.obj, "metadata.creationTimestamp"), r.now));
}

// The default table convertor's "Created At": RFC 3339 in UTC (Go prints the zero time as
// 0001-01-01T00:00:00Z when it is unset).
json::value PrintCreatedAt(const RowContext& r) {
  std::optional<std::chrono::system_clock::time_point> t =
      ParseTime(Str(r.obj, "metadata.creationTimestamp"));
  if (!t) return json::value("0001-01-01T00:00:00Z");
  return json::value(FormatRfc3339(*t));
}

}  // namespace

std::vector<PrinterEntry> GenericPrinters() {
  return {{"name", PrintName}, {"age", PrintAge}, {"created_at", PrintCreatedAt}};
}

}  // namespace table

// --- HumanDuration -----------------------------------------------------------------------------

std::string HumanDuration(std::chrono::nanoseconds d) {
  using std::to_string;
  // Go's int(d.Seconds()) and d / time.Minute truncate toward zero, as integer division does.
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    const int64_t s = seconds % 60;
    return s == 0 ? to_string(minutes) + "m" : to_string(minutes) + "m" + to_string(s) + "s";
  }
  if (minutes < 60 * 3) return to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) {
    const int64_t m = minutes % 60;
    return m == 0 ? to_string(hours) + "h" : to_string(hours) + "h" + to_string(m) + "m";
  }
  if (hours < 48) return to_string(hours) + "h";
  if (hours < 24 * 8) {
    const int64_t h = hours % 24;
    return h == 0 ? to_string(hours / 24) + "d" : to_string(hours / 24) + "d" + to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const int64_t dy = (hours / 24) % 365;
    return dy == 0 ? to_string(hours / 24 / 365) + "y"
                   : to_string(hours / 24 / 365) + "y" + to_string(dy) + "d";
  }
  return to_string(hours / 24 / 365) + "y";
}

// --- JSONPath ----------------------------------------------------------------------------------

namespace {

// A small evaluator for the subset of client-go's jsonpath that printer columns use: fields,
// quoted fields, indexes (negative from the end), [*], and [?(@.a.b=="x")] / != filters.
class JsonPathEval {
 public:
  explicit JsonPathEval(std::string_view p) : p_(p) {}

  bool Run(const json::value& root, std::vector<const json::value*>& out) {
    std::vector<const json::value*> cur{&root};
    while (pos_ < p_.size()) {
      std::vector<const json::value*> next;
      char c = p_[pos_];
      if (c == '.') {
        ++pos_;
        if (pos_ < p_.size() && p_[pos_] == '.') return false;  // recursive descent: unsupported
        if (pos_ < p_.size() && p_[pos_] == '[') continue;
        std::string name = ReadIdent();
        if (name.empty()) {
          if (pos_ == p_.size()) break;  // a lone "." is the root
          return false;
        }
        if (name == "*") {
          for (const json::value* v : cur) AppendChildren(*v, next);
        } else {
          for (const json::value* v : cur) AppendField(*v, name, next);
        }
      } else if (c == '[') {
        ++pos_;
        size_t close = FindClose();
        if (close == std::string_view::npos) return false;
        std::string_view inner = p_.substr(pos_, close - pos_);
        pos_ = close + 1;
        if (!Bracket(inner, cur, next)) return false;
      } else if (pos_ == 0) {
        // A path without the leading dot ("spec.replicas") is read as if it had one.
        std::string name = ReadIdent();
        if (name.empty()) return false;
        for (const json::value* v : cur) AppendField(*v, name, next);
      } else {
        return false;
      }
      cur = std::move(next);
    }
    out = std::move(cur);
    return true;
  }

 private:
  std::string ReadIdent() {
    std::string name;
    while (pos_ < p_.size()) {
      char c = p_[pos_];
      if (c == '\\' && pos_ + 1 < p_.size()) {  // "\." escapes a dot inside a key
        name += p_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      if (c == '.' || c == '[') break;
      name += c;
      ++pos_;
    }
    return name;
  }

  size_t FindClose() const {
    char quote = 0;
    int depth = 0;
    for (size_t i = pos_; i < p_.size(); ++i) {
      char c = p_[i];
      if (quote != 0) {
        if (c == quote) quote = 0;
        continue;
      }
      if (c == '\'' || c == '"')
        quote = c;
      else if (c == '(')
        ++depth;
      else if (c == ')')
        --depth;
      else if (c == ']' && depth == 0)
        return i;
    }
    return std::string_view::npos;
  }

  static void AppendField(const json::value& v, std::string_view name,
                          std::vector<const json::value*>& out) {
    if (const json::object* o = v.if_object()) {
      if (const json::value* f = o->if_contains(name)) out.push_back(f);
    }
  }

  static void AppendChildren(const json::value& v, std::vector<const json::value*>& out) {
    if (const json::array* a = v.if_array()) {
      for (const json::value& e : *a) out.push_back(&e);
    } else if (const json::object* o = v.if_object()) {
      for (const auto& kv : *o) out.push_back(&kv.value());
    }
  }

  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  }

  static bool Unquote(std::string_view s, std::string& out) {
    if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) {
      out = std::string(s.substr(1, s.size() - 2));
      return true;
    }
    return false;
  }

  static bool Bracket(std::string_view inner, const std::vector<const json::value*>& cur,
                      std::vector<const json::value*>& next) {
    inner = Trim(inner);
    std::string key;
    if (inner == "*") {
      for (const json::value* v : cur) AppendChildren(*v, next);
      return true;
    }
    if (Unquote(inner, key)) {
      for (const json::value* v : cur) AppendField(*v, key, next);
      return true;
    }
    if (inner.size() >= 3 && inner.substr(0, 2) == "?(" && inner.back() == ')') {
      return Filter(Trim(inner.substr(2, inner.size() - 3)), cur, next);
    }
    // An index (slices are not supported).
    int64_t idx = 0;
    bool neg = false;
    size_t i = 0;
    if (i < inner.size() && inner[i] == '-') {
      neg = true;
      ++i;
    }
    if (i == inner.size()) return false;
    for (; i < inner.size(); ++i) {
      if (inner[i] < '0' || inner[i] > '9') return false;
      idx = idx * 10 + (inner[i] - '0');
    }
    for (const json::value* v : cur) {
      const json::array* a = v->if_array();
      if (a == nullptr) continue;
      int64_t n = static_cast<int64_t>(a->size());
      int64_t k = neg ? n - idx : idx;
      if (k >= 0 && k < n) next.push_back(&(*a)[static_cast<size_t>(k)]);
    }
    return true;
  }

  // @.path==literal, @.path!=literal, or @.path alone (present).
  static bool Filter(std::string_view expr, const std::vector<const json::value*>& cur,
                     std::vector<const json::value*>& next) {
    std::string_view lhs = expr, rhs;
    bool negate = false, compare = false;
    size_t op = expr.find("==");
    if (op == std::string_view::npos) {
      op = expr.find("!=");
      negate = op != std::string_view::npos;
    }
    if (op != std::string_view::npos) {
      compare = true;
      lhs = Trim(expr.substr(0, op));
      rhs = Trim(expr.substr(op + 2));
    }
    if (lhs.empty() || lhs[0] != '@') return false;
    std::string_view sub = lhs.substr(1);
    json::value literal;
    if (compare) {
      std::string s;
      if (Unquote(rhs, s)) {
        literal = json::value(s);
      } else {
        json::error_code ec;
        literal = json::parse(rhs, ec);  // numbers, true/false
        if (ec) return false;
      }
    }
    for (const json::value* v : cur) {
      std::vector<const json::value*> items;
      AppendChildren(*v, items);
      for (const json::value* item : items) {
        std::vector<const json::value*> found;
        JsonPathEval sub_eval(sub);
        if (!sub_eval.Run(*item, found)) return false;
        bool match;
        if (!compare) {
          match = !found.empty();
        } else {
          bool eq = !found.empty() && Equal(*found.front(), literal);
          match = negate ? (!found.empty() && !eq) : eq;
        }
        if (match) next.push_back(item);
      }
    }
    return true;
  }

  static bool Equal(const json::value& a, const json::value& b) {
    if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
    return a == b;
  }

  std::string_view p_;
  size_t pos_ = 0;
};

}  // namespace

const json::value* EvalJsonPath(const json::value& root, std::string_view path) {
  while (!path.empty() && path.front() == ' ') path.remove_prefix(1);
  while (!path.empty() && path.back() == ' ') path.remove_suffix(1);
  if (path.size() >= 2 && path.front() == '{' && path.back() == '}') {
    path = path.substr(1, path.size() - 2);
  }
  if (path.empty()) return nullptr;
  std::vector<const json::value*> out;
  JsonPathEval eval(path);
  if (!eval.Run(root, out) || out.empty()) return nullptr;
  return out.front();
}

// --- rows --------------------------------------------------------------------------------------

namespace {

const std::map<std::string_view, table::CellPrinter>& Printers() {
  static const auto* printers = [] {
    auto* m = new std::map<std::string_view, table::CellPrinter>();
    for (auto* source : {&table::GenericPrinters, &table::CorePrinters, &table::WorkloadPrinters,
                         &table::OtherPrinters}) {
      for (const table::PrinterEntry& e : source()) m->emplace(e.name, e.fn);
    }
    return m;
  }();
  return *printers;
}

// A custom column: upstream's cellForJSONValue, except that "string" columns print any value
// the way jsonpath does (objects and arrays as compact JSON).
json::value JsonPathCell(const TableColumn& col, const json::value& root,
                         std::chrono::system_clock::time_point now) {
  const json::value* v = EvalJsonPath(root, col.json_path);
  if (v == nullptr || v->is_null()) return nullptr;
  if (col.type == "string") {
    if (v->is_object() || v->is_array()) return json::value(json::serialize(*v));
    return json::value(table::ScalarText(*v));
  }
  if (col.type == "integer") {
    if (v->is_int64() || v->is_uint64()) return json::value(v->to_number<int64_t>());
    if (v->is_double()) return json::value(static_cast<int64_t>(v->get_double()));
    return nullptr;
  }
  if (col.type == "number") {
    if (v->is_number()) return json::value(v->to_number<double>());
    return nullptr;
  }
  if (col.type == "boolean") {
    if (v->is_bool()) return json::value(v->get_bool());
    return nullptr;
  }
  if (col.type == "date") {
    if (!v->is_string()) return nullptr;
    if (!table::ParseTime(v->get_string())) return json::value("<invalid>");
    return json::value(table::Since(v->get_string(), now));
  }
  return nullptr;
}

}  // namespace

bool HasCellPrinter(std::string_view printer) { return Printers().contains(printer); }

std::vector<json::value> RowCells(const KindInfo& kind, const json::object& obj,
                                  std::chrono::system_clock::time_point now) {
  std::vector<json::value> cells;
  cells.reserve(kind.columns.size());
  std::optional<table::PodSummary> pod;
  std::optional<json::value> root;  // EvalJsonPath walks a value: copy the object once per row
  for (const TableColumn& col : kind.columns) {
    table::RowContext ctx{obj, now, col, std::move(pod)};
    auto it = col.printer.empty() ? Printers().end() : Printers().find(col.printer);
    if (it != Printers().end()) {
      cells.push_back(it->second(ctx));
    } else if (!col.json_path.empty()) {
      if (!root) root.emplace(obj);
      cells.push_back(JsonPathCell(col, *root, now));
    } else {
      cells.push_back(nullptr);
    }
    pod = std::move(ctx.pod);
  }
  return cells;
}

json::object BuildTable(const KindInfo& kind, const std::vector<const json::object*>& objects,
                        const TableOptions& opts, std::string_view list_resource_version,
                        std::string_view continue_token) {
  json::object table;
  table["kind"] = "Table";
  table["apiVersion"] = "meta.k8s.io/v1";
  json::object meta;
  if (!list_resource_version.empty()) meta["resourceVersion"] = list_resource_version;
  if (!continue_token.empty()) meta["continue"] = continue_token;
  table["metadata"] = std::move(meta);
  if (opts.no_headers) {
    table["columnDefinitions"] = nullptr;
  } else {
    json::array defs;
    for (const TableColumn& col : kind.columns) {
      defs.push_back(json::object{{"name", col.name},
                                  {"type", col.type},
                                  {"format", col.format},
                                  {"description", col.description},
                                  {"priority", col.priority}});
    }
    table["columnDefinitions"] = std::move(defs);
  }
  json::array rows;
  rows.reserve(objects.size());
  for (const json::object* obj : objects) {
    if (obj == nullptr) continue;
    std::vector<json::value> cells = RowCells(kind, *obj, opts.now);
    json::object row;
    row["cells"] = json::array(cells.begin(), cells.end());
    switch (opts.include_object) {
      case TableOptions::IncludeObject::kNone:
        row["object"] = nullptr;
        break;
      case TableOptions::IncludeObject::kMetadata: {
        json::object partial;
        partial["kind"] = "PartialObjectMetadata";
        partial["apiVersion"] = "meta.k8s.io/v1";
        const json::object* m = Metadata(*obj);
        partial["metadata"] = m != nullptr ? *m : json::object();
        row["object"] = std::move(partial);
        break;
      }
      case TableOptions::IncludeObject::kObject:
        row["object"] = *obj;
        break;
    }
    rows.push_back(std::move(row));
  }
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace mini8s::api
