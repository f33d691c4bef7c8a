#include "api/patch/json_util.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "mini8s/api/patch.h"
#include "mini8s/common/json.h"

namespace mini8s::api {
namespace detail {

std::string ToJson(const boost::json::value& v) { return SerializeJson(v); }

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

Extent Measure(const boost::json::value& root) {
  Extent e;
  std::vector<std::pair<const boost::json::value*, std::size_t>> stack = {{&root, 0}};
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    e.bytes += 8;
    if (v->is_string()) {
      e.bytes += v->get_string().size();
    } else if (v->is_array()) {
      e.depth = std::max(e.depth, d + 1);
      for (const boost::json::value& c : v->get_array()) stack.emplace_back(&c, d + 1);
    } else if (v->is_object()) {
      e.depth = std::max(e.depth, d + 1);
      for (const auto& kv : v->get_object()) {
        e.bytes += kv.key().size();
        stack.emplace_back(&kv.value(), d + 1);
      }
    }
  }
  return e;
}

Status CheckStrategicDepth(std::initializer_list<const boost::json::value*> docs) {
  for (const boost::json::value* d : docs) {
    if (Measure(*d).depth > kMaxStrategicDepth) {
      return Status::BadRequest("document nested more than " + std::to_string(kMaxStrategicDepth) +
                                " levels deep");
    }
  }
  return Status::OK();
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
