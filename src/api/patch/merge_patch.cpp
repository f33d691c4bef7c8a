// RFC 7386 JSON merge patch and its diff (evanphx/json-patch's CreateMergePatch).
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/patch.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

json::value Merge(json::value target, const json::value& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = json::object();
  json::object& t = target.get_object();
  for (const auto& kv : patch.get_object()) {
    if (kv.value().is_null()) {
      t.stable_erase(kv.key());
      continue;
    }
    json::value* existing = t.if_contains(kv.key());
    json::value merged =
        Merge(existing != nullptr ? std::move(*existing) : json::value(), kv.value());
    t[kv.key()] = std::move(merged);
  }
  return target;
}

bool SameType(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return true;
  return a.kind() == b.kind();
}

json::object Diff(const json::object& a, const json::object& b) {
  json::object into;
  for (const auto& kv : b) {
    const json::value* av = a.if_contains(kv.key());
    const json::value& bv = kv.value();
    if (av == nullptr || !SameType(*av, bv)) {
      into[kv.key()] = bv;
      continue;
    }
    if (bv.is_object()) {
      json::object sub = Diff(av->get_object(), bv.get_object());
      if (!sub.empty()) into[kv.key()] = std::move(sub);
    } else if (!JsonEqual(*av, bv)) {
      into[kv.key()] = bv;
    }
  }
  for (const auto& kv : a) {
    if (!b.contains(kv.key())) into[kv.key()] = nullptr;
  }
  return into;
}

}  // namespace

json::value ApplyMergePatch(const json::value& target, const json::value& patch) {
  return Merge(target, patch);
}

Result<json::value> CreateMergePatch(const json::value& original, const json::value& modified) {
  if (original.is_object() && modified.is_object()) {
    return json::value(Diff(original.get_object(), modified.get_object()));
  }
  if (original.is_array() && modified.is_array()) {
    const json::array& a = original.get_array();
    const json::array& b = modified.get_array();
    if (a.size() != b.size()) return Status::BadRequest("Invalid JSON Document");
    json::array out;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_object() || !b[i].is_object())
        return Status::BadRequest("Invalid JSON Document");
      out.push_back(Diff(a[i].get_object(), b[i].get_object()));
    }
    return json::value(std::move(out));
  }
  if (original.is_array() != modified.is_array()) {
    return Status::BadRequest("Mismatched JSON Documents");
  }
  return Status::BadRequest("Invalid JSON Document");
}

}  // namespace mini8s::api
