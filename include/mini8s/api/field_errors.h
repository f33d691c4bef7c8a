// Field-level validation errors, rendered the way Kubernetes' apimachinery renders them
// (field.Error.Error(), the aggregate "[a, b]" message, and metav1.Status details.causes), so
// kubectl shows the same text for mini8s as for a real API server.
//
// Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace mini8s::api {

// A field path: "spec.template.spec.containers[0].ports[1].containerPort", "metadata.labels[app]"
// (Key() renders map keys in brackets, as upstream's field.Path does). Cheap to copy.
class FieldPath {
 public:
  FieldPath() = default;
  explicit FieldPath(std::string_view root) : path_(root) {}
  FieldPath Child(std::string_view name) const;
  FieldPath Child(std::string_view a, std::string_view b) const { return Child(a).Child(b); }
  FieldPath Child(std::string_view a, std::string_view b, std::string_view c) const {
    return Child(a).Child(b).Child(c);
  }
  FieldPath Index(size_t i) const;
  FieldPath Key(std::string_view key) const;
  const std::string& String() const { return path_; }
  bool empty() const { return path_.empty(); }

 private:
  std::string path_;
};

enum class ErrorType : uint8_t {
  kNotFound,
  kRequired,
  kDuplicate,
  kInvalid,
  kNotSupported,
  kForbidden,
  kTooLong,
  kTooMany,
  kInternal,
  kTypeInvalid,
};

// "FieldValueInvalid", "FieldValueRequired", ... (the cause's `reason`).
std::string_view ErrorTypeReason(ErrorType t);
// "Invalid value", "Required value", ... (the start of the message).
std::string_view ErrorTypeText(ErrorType t);

// How a bad value prints, mirroring Go's fmt verbs upstream uses: numbers and booleans with %v,
// strings with %q, other values as Go would print the typed value (e.g.
// `map[string]string{"app":"x"}`) which callers pre-render with the Go* helpers below.
struct BadValue {
  enum class Kind : uint8_t { kOmit, kString, kInt, kDouble, kBool, kNull, kRendered };
  Kind kind = Kind::kOmit;
  std::string text;  // kString: the raw string; kRendered: the rendered form
  int64_t i = 0;
  double d = 0;
  bool b = false;

  static BadValue Omit() { return {}; }
  static BadValue Str(std::string_view s) { return {Kind::kString, std::string(s), 0, 0, false}; }
  static BadValue Int(int64_t v) { return {Kind::kInt, {}, v, 0, false}; }
  static BadValue Double(double v) { return {Kind::kDouble, {}, 0, v, false}; }
  static BadValue Bool(bool v) { return {Kind::kBool, {}, 0, 0, v}; }
  static BadValue Null() { return {Kind::kNull, {}, 0, 0, false}; }
  static BadValue Rendered(std::string s) { return {Kind::kRendered, std::move(s), 0, 0, false}; }
  // A JSON value as the generic (unstructured) code paths upstream print it: scalars as above,
  // objects as `map[string]interface {}{...}` and arrays as `[]interface {}{...}`.
  static BadValue FromJson(const boost::json::value& v);
};

struct FieldError {
  ErrorType type = ErrorType::kInvalid;
  std::string field;
  BadValue value;
  std::string detail;

  // The message without the field: "Invalid value: -1: must be greater than or equal to 0".
  std::string Body() const;
  // "spec.replicas: Invalid value: -1: must be greater than or equal to 0".
  std::string ToString() const;
};

// Constructors named after upstream's field.Required/Invalid/...; the message text they add
// (NotSupported's "supported values: ...", TooLong's "may not be more than N bytes") is theirs.
FieldError Required(const FieldPath& path, std::string_view detail = {});
FieldError Invalid(const FieldPath& path, BadValue value, std::string_view detail);
FieldError NotSupported(const FieldPath& path, BadValue value,
                        const std::vector<std::string>& supported);
FieldError Duplicate(const FieldPath& path, BadValue value);
FieldError NotFound(const FieldPath& path, BadValue value);
FieldError Forbidden(const FieldPath& path, std::string_view detail);
FieldError TooLong(const FieldPath& path, int64_t max_length);
FieldError TooMany(const FieldPath& path, int64_t actual, int64_t max);
FieldError TypeInvalid(const FieldPath& path, BadValue value, std::string_view detail);
FieldError InternalError(const FieldPath& path, std::string_view detail);

using ErrorList = std::vector<FieldError>;

inline void Append(ErrorList& to, ErrorList&& from) {
  for (auto& e : from) to.push_back(std::move(e));
}

// The aggregate message: "" for none, the one error's text, or "[a, b, ...]" with duplicates
// removed (utilerrors.NewAggregate over ErrorList.ToAggregate()).
std::string AggregateMessage(const ErrorList& errors);

// `<Kind>.<group> "<name>" is invalid: <aggregate>` (group omitted for core), the message of a
// 422 Invalid status (apimachinery errors.NewInvalid).
std::string InvalidMessage(std::string_view group, std::string_view kind, std::string_view name,
                           const ErrorList& errors);

// details.causes: [{"reason": "FieldValueInvalid", "message": Body(), "field": "spec.replicas"}].
boost::json::array ToCauses(const ErrorList& errors);

// The full metav1.Status body of a 422 Invalid response.
boost::json::object InvalidStatus(std::string_view group, std::string_view kind,
                                  std::string_view name, const ErrorList& errors);

// Go's strconv.Quote: "\"a\\\"b\"" with \n, \t, \\, non-printables escaped.
std::string GoQuote(std::string_view s);
// Go's %v of a float64 (strconv 'g' with the shortest representation).
std::string GoFloat(double v);
// Go's %#v of a map[string]string: map[string]string{"a":"b", "c":"d"} (keys sorted), or
// map[string]string(nil) when `v` is not an object.
std::string GoMapStringString(const boost::json::value* v);
// Go's %#v of an intstr.IntOrString holding `v` (an integer or a string JSON value).
std::string GoIntOrString(const boost::json::value* v);

}  // namespace mini8s::api
