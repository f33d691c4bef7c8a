// Small helpers over Boost.JSON shared by the patch and selector code. Private to api/patch.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "mini8s/common/status.h"

namespace mini8s::api::detail {

// Compact JSON text of `v` (for error messages).
std::string ToJson(const boost::json::value& v);

// "map", "list", "string", "number", "bool" or "null": the Go-ish type names upstream's error
// messages use, so messages read the same.
std::string_view KindName(const boost::json::value& v);

// Approximate encoded size and container depth of a value, walked without recursion so a
// hostile value cannot exhaust the stack here.
struct Extent {
  std::size_t bytes = 0;
  std::size_t depth = 0;  // containers on the deepest path: 0 for a scalar, 1 for [] or {}
};
Extent Measure(const boost::json::value& v);

// The strategic merge code recurses once or more per level and copies subtrees (Boost.JSON's
// copy recurses too), so documents nested near the parser's limit overflow the stack. Objects
// deeper than this are refused (kBadRequest); real ones nest a few dozen levels.
inline constexpr std::size_t kMaxStrategicDepth = 1000;
Status CheckStrategicDepth(std::initializer_list<const boost::json::value*> docs);

}  // namespace mini8s::api::detail
