// Small accessors over Boost.JSON for the validation and defaulting code: missing and wrongly
// typed values read as absent, so rules never throw on malformed input (the schema pass reports
// type errors separately).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace mini8s::api::vdetail {

inline const boost::json::value* Get(const boost::json::value* v, std::string_view key) {
  if (v == nullptr || !v->is_object()) return nullptr;
  return v->get_object().if_contains(key);
}
inline const boost::json::value* Get(const boost::json::object& o, std::string_view key) {
  return o.if_contains(key);
}
template <class... Rest>
const boost::json::value* Path(const boost::json::value* v, std::string_view k, Rest... rest) {
  const boost::json::value* c = Get(v, k);
  if constexpr (sizeof...(rest) == 0) {
    return c;
  } else {
    return Path(c, rest...);
  }
}
inline bool IsNull(const boost::json::value* v) { return v == nullptr || v->is_null(); }

inline std::string_view Str(const boost::json::value* v) {
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}
inline std::optional<int64_t> Int(const boost::json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) {
    double d = v->get_double();
    // Range-checked first: converting an out-of-range double (1e300) to int64 is undefined.
    if (d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d)) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}
inline bool Bool(const boost::json::value* v) {
  return v != nullptr && v->is_bool() && v->get_bool();
}
inline const boost::json::array* Arr(const boost::json::value* v) {
  return (v != nullptr && v->is_array()) ? &v->get_array() : nullptr;
}
inline const boost::json::object* Obj(const boost::json::value* v) {
  return (v != nullptr && v->is_object()) ? &v->get_object() : nullptr;
}
inline size_t Len(const boost::json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_array()) return v->get_array().size();
  if (v->is_object()) return v->get_object().size();
  if (v->is_string()) return v->get_string().size();
  return 0;
}

// Boost.JSON's `==` as of 1.81, without its cost: object::equal copies every member it visits,
// which makes comparing a hostile deeply nested value quadratic (8 s at 10000 levels). Scalars
// compare as Boost compares them (1 == 1u, 1 != 1.0). Iterative, so depth cannot exhaust the stack.
inline bool Equal(const boost::json::value& a, const boost::json::value& b) {
  std::vector<std::pair<const boost::json::value*, const boost::json::value*>> todo = {{&a, &b}};
  while (!todo.empty()) {
    auto [x, y] = todo.back();
    todo.pop_back();
    if (x->is_object()) {
      if (!y->is_object() || x->get_object().size() != y->get_object().size()) return false;
      for (const auto& kv : x->get_object()) {  // by reference: no copy
        const boost::json::value* other = y->get_object().if_contains(kv.key());
        if (other == nullptr) return false;
        todo.emplace_back(&kv.value(), other);
      }
    } else if (x->is_array()) {
      if (!y->is_array() || x->get_array().size() != y->get_array().size()) return false;
      for (std::size_t i = 0; i < x->get_array().size(); ++i) {
        todo.emplace_back(&x->get_array()[i], &y->get_array()[i]);
      }
    } else if (y->is_structured() || *x != *y) {
      return false;
    }
  }
  return true;
}

// Mutable helpers for defaulting.
inline boost::json::object& ObjAt(boost::json::object& o, std::string_view key) {
  boost::json::value& v = o[key];
  if (!v.is_object()) v = boost::json::object{};
  return v.get_object();
}
inline boost::json::object* MutObj(boost::json::object& o, std::string_view key) {
  boost::json::value* v = o.if_contains(key);
  return (v != nullptr && v->is_object()) ? &v->get_object() : nullptr;
}
inline boost::json::array* MutArr(boost::json::object& o, std::string_view key) {
  boost::json::value* v = o.if_contains(key);
  return (v != nullptr && v->is_array()) ? &v->get_array() : nullptr;
}
// Sets o[key] = value when the key is absent or null.
template <class T>
void SetDefault(boost::json::object& o, std::string_view key, T&& value) {
  boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) o[key] = boost::json::value(std::forward<T>(value));
}
// A string field that is absent, null or "" counts as unset (Go's zero value).
inline void SetDefaultString(boost::json::object& o, std::string_view key, std::string_view value) {
  boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null() || (v->is_string() && v->get_string().empty())) o[key] = value;
}

}  // namespace mini8s::api::vdetail
