// JSON codec over Boost.JSON, shaped after what the Kubernetes API machinery does with JSON:
//
//   - ParseJson accepts exactly one JSON text (trailing non-whitespace is an error), limits nesting
//     to 10000 levels (Go's encoding/json limit) and reports errors as "line L, column C: ...".
//   - Integers that fit int64 or uint64 are kept exact; larger ones become doubles (as the
//     apiserver's unstructured decoding does). Numbers that overflow a double are rejected.
//   - Duplicate object keys: the last one wins (Go's json.Unmarshal); JsonParseOptions can collect
//     their paths ("spec.containers[0].name") for fieldValidation=Strict, or reject them.
//   - SerializeJson / PrettyJson write what Go's encoding/json writes, so our output is
//   byte-for-byte
//     what kubectl and the apiserver produce: shortest round-trip floats (1 not 1.0, 1e+21, 1e-7),
//     HTML-safe escaping (<, >, & as \u003c...), and PrettyJson indents by 4 like `kubectl -o
//     json`.
//
// Thread-safe: all functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "mini8s/common/result.h"

namespace mini8s {

inline constexpr std::size_t kMaxJsonDepth = 10000;

struct JsonParseOptions {
  std::size_t max_depth = kMaxJsonDepth;
  // When true, a repeated key in an object is an error (kBadRequest) naming its path.
  bool reject_duplicate_keys = false;
  // When set (and duplicates are not rejected), receives the path of every repeated key, in the
  // order met, in the form the apiserver's strict decoder uses: `metadata.name`, `a[2].b`.
  std::vector<std::string>* duplicate_fields = nullptr;
};

// Parses one JSON text. Errors are kBadRequest with "line L, column C: <problem>".
Result<boost::json::value> ParseJson(std::string_view text, const JsonParseOptions& options = {});

// Compact JSON, as Go's json.Marshal writes it (no trailing newline).
std::string SerializeJson(const boost::json::value& v);
// Indented by 4 spaces as `kubectl -o json` (json.MarshalIndent(v, "", "    ")); no trailing
// newline.
std::string PrettyJson(const boost::json::value& v);

// Appends the JSON string literal for `s` (quotes included) with Go's escaping; invalid UTF-8
// bytes become \ufffd.
void AppendJsonString(std::string& out, std::string_view s);

// Formats a double as Go's strconv.FormatFloat(v, fmt, -1, bits) does: fmt is 'e', 'f' or 'g';
// bits is 32 or 64 (the shortest representation that round-trips at that precision).
// 'j' gives what Go's encoding/json writes for a float64 ('f', or 'e' when |v| < 1e-6 or
// |v| >= 1e21, with a one-digit negative exponent: 1e-7).
std::string FormatGoFloat(double v, char fmt, int bits = 64);

// --- Path helpers ------------------------------------------------------------------------------
// A dotted path names object members by key and array elements by [index]:
// "spec.template.spec.containers[0].image". The empty path is the root. Keys that contain '.' or
// '[' cannot be named this way; use JsonFindPointer for those.

// The value at `path`, or nullptr when any step is missing or of the wrong kind.
const boost::json::value* JsonFind(const boost::json::value& root, std::string_view path);
boost::json::value* JsonFind(boost::json::value& root, std::string_view path);
// RFC 6901 JSON Pointer ("/metadata/labels/app.kubernetes.io~1name"); "" is the root.
const boost::json::value* JsonFindPointer(const boost::json::value& root, std::string_view pointer);

// Typed getters: nullopt / nullptr when missing or of another kind.
std::optional<std::string_view> JsonGetString(const boost::json::value& root,
                                              std::string_view path);
// Accepts int64, uint64 up to INT64_MAX, and doubles with an exact integral value in range.
std::optional<int64_t> JsonGetInt(const boost::json::value& root, std::string_view path);
std::optional<bool> JsonGetBool(const boost::json::value& root, std::string_view path);
const boost::json::object* JsonGetObject(const boost::json::value& root, std::string_view path);
const boost::json::array* JsonGetArray(const boost::json::value& root, std::string_view path);

}  // namespace mini8s
