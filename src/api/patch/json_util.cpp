#include "api/patch/json_util.h"

#include <boost/json/serialize.hpp>

#include "mini8s/api/patch.h"

namespace mini8s::api {
namespace detail {

std::string ToJson(const boost::json::value& v) { return boost::json::serialize(v); }

std::string_view KindName(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object:
      return "map";
    case boost::json::kind::array:
      return "list";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "number";
    case boost::json::kind::bool_:
      return "bool";
    case boost::json::kind::null:
      return "null";
  }
  return "unknown";
}

}  // namespace detail

namespace {

bool NumbersEqual(const boost::json::value& a, const boost::json::value& b) {
  using boost::json::kind;
  if (a.kind() == b.kind()) return a == b;
  // Mixed integer kinds compare exactly; anything involving a double compares as double.
  if (a.kind() == kind::double_ || b.kind() == kind::double_) {
    return a.to_number<double>() == b.to_number<double>();
  }
  if (a.kind() == kind::int64) {
    return a.get_int64() >= 0 && static_cast<uint64_t>(a.get_int64()) == b.get_uint64();
  }
  return b.get_int64() >= 0 && static_cast<uint64_t>(b.get_int64()) == a.get_uint64();
}

}  // namespace

bool JsonEqual(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) return NumbersEqual(a, b);
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& ao = a.get_object();
    const auto& bo = b.get_object();
    if (ao.size() != bo.size()) return false;
    for (const auto& kv : ao) {
      const boost::json::value* other = bo.if_contains(kv.key());
      if (other == nullptr || !JsonEqual(kv.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& aa = a.get_array();
    const auto& ba = b.get_array();
    if (aa.size() != ba.size()) return false;
    for (std::size_t i = 0; i < aa.size(); ++i) {
      if (!JsonEqual(aa[i], ba[i])) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace mini8s::api
