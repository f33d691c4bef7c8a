// Small helpers over Boost.JSON shared by the patch and selector code. Private to api/patch.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace mini8s::api::detail {

// Compact JSON text of `v` (for error messages).
std::string ToJson(const boost::json::value& v);

// "map", "list", "string", "number", "bool" or "null": the Go-ish type names upstream's error
// messages use, so messages read the same.
std::string_view KindName(const boost::json::value& v);

}  // namespace mini8s::api::detail
