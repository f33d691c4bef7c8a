// Field sets (structured-merge-diff's fieldpath.Set) and their FieldsV1 JSON encoding.
//
// A set is a trie of path elements: fields "f:name", list items by key "k:{\"name\":\"c\"}", by
// value "v:\"x\"" or by index "i:0". A node is a member when the path itself is in the set; in
// FieldsV1 a member leaf is `{}` and a member with children carries ".": {} first.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/common/result.h"

namespace mini8s::api::apply {

struct PathElement {
  enum Kind : uint8_t { kField = 0, kKey = 1, kValue = 2, kIndex = 3 };  // upstream's sort order
  Kind kind = kField;
  std::string name;          // kField
  boost::json::value value;  // kKey: an object with its fields in name order; kValue: the item
  int64_t index = 0;         // kIndex

  static PathElement Field(std::string n);
  static PathElement Key(boost::json::object fields);  // sorts the fields by name
  static PathElement Value(boost::json::value v);
  static PathElement Index(int64_t i);

  std::string Encode() const;    // the FieldsV1 key: f:name, k:{...}, v:..., i:0
  std::string ToString() const;  // as in conflict messages: .name, [name="c"], [="x"], [0]
};

// Upstream's total order of values: numbers < strings < bools < lists < maps < null.
int CompareValues(const boost::json::value& a, const boost::json::value& b);
int ComparePathElements(const PathElement& a, const PathElement& b);
struct PathElementLess {
  bool operator()(const PathElement& a, const PathElement& b) const {
    return ComparePathElements(a, b) < 0;
  }
};

using Path = std::vector<PathElement>;
std::string PathToString(const Path& path);  // ".spec.containers[name=\"c\"].image"

struct FieldSet {
  bool member = false;
  std::map<PathElement, FieldSet, PathElementLess> children;

  bool Empty() const { return !member && children.empty(); }
  void Insert(const Path& path);
  bool Has(const Path& path) const;
  // Calls `fn` for every member path, parents before children, in element order.
  void ForEachMember(const std::function<void(const Path&)>& fn) const;
  friend bool operator==(const FieldSet& a, const FieldSet& b);
};

FieldSet Union(const FieldSet& a, const FieldSet& b);
FieldSet Intersection(const FieldSet& a, const FieldSet& b);
// Members of `a` that are not members of `b` (children compared recursively).
FieldSet Difference(const FieldSet& a, const FieldSet& b);
// `a` without every path that is in `b` or lies below a member of `b`.
FieldSet RecursiveDifference(const FieldSet& a, const FieldSet& b);

boost::json::object EncodeFieldsV1(const FieldSet& set);
// kBadRequest on anything that is not a FieldsV1 trie.
Result<FieldSet> DecodeFieldsV1(const boost::json::value& fields);

}  // namespace mini8s::api::apply
