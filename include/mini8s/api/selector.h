// Label selectors (equality- and set-based, as `?labelSelector=` and metav1.LabelSelector carry
// them) and field selectors (`?fieldSelector=`), with upstream's syntax, canonical String() form
// and error messages (apimachinery pkg/labels and pkg/fields).
//
// Selectors are immutable values after construction. Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "mini8s/common/result.h"
#include "mini8s/common/status.h"

namespace mini8s::api {

// Labels and flattened fields; std::less<> allows lookups by string_view.
using StringMap = std::map<std::string, std::string, std::less<>>;

enum class SelectorOp : uint8_t {
  kEquals,        // a=b
  kDoubleEquals,  // a==b
  kNotEquals,     // a!=b
  kIn,            // a in (b,c)
  kNotIn,         // a notin (b,c)
  kExists,        // a
  kDoesNotExist,  // !a
  kGreaterThan,   // a>1 (labels only, integers)
  kLessThan,      // a<1
};

// One label requirement. Values are kept as given (parsed ones are sorted and unique);
// String() prints them sorted.
struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kExists;
  std::vector<std::string> values;

  bool Matches(const StringMap& labels) const;
  // `labels` is metadata.labels as JSON (nullptr = no labels); non-string values are ignored.
  bool Matches(const boost::json::object* labels) const;
  std::string String() const;
  bool operator==(const LabelRequirement&) const = default;
};

class LabelSelector {
 public:
  // Matches everything (the empty selector).
  LabelSelector() = default;
  static LabelSelector Everything() { return LabelSelector(); }
  // Matches nothing (what a null metav1.LabelSelector means).
  static LabelSelector Nothing();

  // Parses the string form: `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1,m<2`. Requirements are
  // sorted by key. kBadRequest with upstream's message (e.g. "unable to parse requirement: found
  // 'b', expected: in, notin, =, ==, !=, gt, lt") on syntax or key/value validation errors.
  static Result<LabelSelector> Parse(std::string_view text);

  // From a metav1.LabelSelector (`{"matchLabels":{...},"matchExpressions":[{key,operator,
  // values}]}`). nullptr or JSON null yields Nothing(); `{}` yields Everything(). kInvalid
  // with upstream's message for bad operators, keys, values or value counts; kBadRequest when
  // the JSON has the wrong shape.
  static Result<LabelSelector> FromLabelSelectorJson(const boost::json::value* selector);

  // Exact match of every pair in `labels` (kubectl's `matchLabels` / selectorFromSet),
  // validated: kInvalid for a bad key or value.
  static Result<LabelSelector> FromSet(const StringMap& labels);

  // A validated requirement (upstream NewRequirement): kInvalid with upstream's message.
  static Result<LabelRequirement> NewRequirement(std::string key, SelectorOp op,
                                                 std::vector<std::string> values);

  bool Matches(const StringMap& labels) const;
  bool Matches(const boost::json::object* labels) const;

  // True when the selector places no restriction (matches everything).
  bool Empty() const { return !nothing_ && requirements_.empty(); }
  bool MatchesNothing() const { return nothing_; }

  // Canonical form: requirements joined by ',' in key order (upstream's String()); "" for
  // Everything() and Nothing().
  std::string String() const;

  // The single value a requirement on `key` forces (=, ==, or `in` with one value), if any.
  std::optional<std::string> RequiresExactMatch(std::string_view key) const;

  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;  // sorted by key (stable)
  bool nothing_ = false;
};

struct FieldRequirement {
  std::string field;
  SelectorOp op = SelectorOp::kEquals;  // kEquals (also for "==") or kNotEquals
  std::string value;                    // unescaped
  bool operator==(const FieldRequirement&) const = default;
};

class FieldSelector {
 public:
  FieldSelector() = default;  // everything
  static FieldSelector Everything() { return FieldSelector(); }

  // Parses `a=b,c==d,e!=f`; values may escape '\', ',' and '=' with a backslash. Terms are
  // sorted by their text. kBadRequest with upstream's message, e.g.
  // "invalid selector: 'x'; can't understand 'x'" or
  // "invalid field selector: invalid escape sequence: \\x".
  static Result<FieldSelector> Parse(std::string_view text);

  // `fields` maps field labels (metadata.name, spec.nodeName, ...) to values; a field that is
  // absent reads as "" (upstream's fields.Set semantics).
  bool Matches(const StringMap& fields) const;

  // kBadRequest "field label not supported: <field>" for the first field that is neither
  // metadata.name, metadata.namespace nor in `allowed` (the kind's selectable fields).
  Status CheckSupported(std::span<const std::string> allowed) const;

  bool Empty() const { return requirements_.empty(); }
  std::string String() const;
  std::optional<std::string> RequiresExactMatch(std::string_view field) const;
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<FieldRequirement> requirements_;
};

// Field selector value escaping: '\' -> "\\", ',' -> "\,", '=' -> "\=".
std::string EscapeFieldValue(std::string_view value);
// The inverse; kBadRequest on an unknown escape or an unescaped ',' or '='.
Result<std::string> UnescapeFieldValue(std::string_view value);

// Label key and value syntax (upstream IsQualifiedName / IsValidLabelValue): the list of
// problems, empty when valid.
std::vector<std::string> ValidateLabelKey(std::string_view key);
std::vector<std::string> ValidateLabelValue(std::string_view value);

}  // namespace mini8s::api
