// Strategic merge patch, apply side: a C++ rendering of the semantics of apimachinery's
// strategicpatch mergeMap/mergeSlice (see docs/design/patch.md for where mini8s deviates).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "api/patch/json_util.h"
#include "api/patch/smp_internal.h"
#include "mini8s/api/patch.h"
#include "mini8s/common/json.h"

namespace mini8s::api {
namespace smp {
namespace {

namespace json = boost::json;

// Upstream's mergepatch error values (their messages are what clients see).
Status ErrNoListOfLists() { return Status::Invalid("lists of lists are not supported"); }
Status ErrBadPrimitiveList() {
  return Status::BadRequest("invalid patch format of primitive list");
}
Status ErrBadRetainKeys() { return Status::BadRequest("invalid patch format of retainKeys"); }
Status ErrBadSetElementOrder() {
  return Status::BadRequest("invalid patch format of setElementOrder list");
}
Status ErrNoMergeKey(const json::object& m, std::string_view key) {
  return Status::BadRequest("map: " + detail::ToJson(m) +
                            " does not contain declared merge key: " + std::string(key));
}
Status ErrBadArgType(std::string_view expected, const json::value& actual) {
  return Status::BadRequest("expected a " + std::string(expected) + ", but received a " +
                            std::string(detail::KindName(actual)));
}
Status ErrBadPatchType(const json::value& t, const json::object& m) {
  std::string ts = t.is_string() ? std::string(t.get_string()) : detail::ToJson(t);
  return Status::BadRequest("unknown patch type: " + ts + " in map: " + detail::ToJson(m));
}

bool IsString(const json::value& v, std::string_view s) {
  return v.is_string() && v.get_string() == s;
}

bool IsDirectiveKey(std::string_view k) {
  return k == kDirective || k == kRetainKeys || StartsWith(k, kDeleteFromPrimitiveList) ||
         StartsWith(k, kSetElementOrder);
}

// Go's reflect.TypeOf comparison, with all numbers one type.
bool SameType(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return true;
  return a.kind() == b.kind();
}

// upstream removeDirectives: maps carrying `$patch` are dropped (returns false). On the server
// (`clean`), nulls and the other directive keys are dropped too, because upstream loses them
// when it decodes the result into a typed object and mini8s stores JSON as is.
bool RemoveDirectives(json::value& v, bool clean) {
  if (v.is_object()) {
    json::object& o = v.get_object();
    if (o.contains(kDirective)) return false;
    for (auto it = o.begin(); it != o.end();) {
      bool keep = true;
      if (clean && (IsDirectiveKey(it->key()) || it->value().is_null())) {
        keep = false;
      } else {
        keep = RemoveDirectives(it->value(), clean);
      }
      it = keep ? it + 1 : o.stable_erase(it);
    }
    return true;
  }
  if (v.is_array()) {
    json::array& a = v.get_array();
    for (auto it = a.begin(); it != a.end();) {
      it = RemoveDirectives(*it, clean) ? it + 1 : a.erase(it);
    }
  }
  return true;
}

// A patch value placed where the original has nothing to merge with.
json::value CleanInsert(json::value v, const MergeOptions& o, bool* keep) {
  bool server = o.merge_parallel_list && o.ignore_unmatched_nulls;
  // mini8s: `{"$patch":"replace", ...}` for an absent map sets the map (upstream drops it).
  if (server && v.is_object()) {
    const json::value* d = v.get_object().if_contains(kDirective);
    if (d != nullptr && IsString(*d, kReplace)) v.get_object().stable_erase(kDirective);
  }
  *keep = RemoveDirectives(v, server);
  return v;
}

Result<std::string> ExtractKey(std::string_view s, std::string_view prefix) {
  std::size_t slash = s.find('/');
  if (slash == std::string_view::npos || s.substr(0, slash) != prefix) {
    if (prefix == kDeleteFromPrimitiveList) return ErrBadPrimitiveList();
    return ErrBadSetElementOrder();
  }
  return std::string(s.substr(slash + 1));
}

// The value an element is identified by: its merge key's value for maps, itself otherwise.
const json::value* Identity(const json::value& item, std::string_view merge_key, ElemKind kind) {
  if (kind == ElemKind::kMap && !merge_key.empty()) {
    if (!item.is_object()) return nullptr;
    return item.get_object().if_contains(merge_key);
  }
  return &item;
}

// upstream index(): position of `item` in `list` by identity, or -1.
long IndexOf(const json::array& list, const json::value& item, std::string_view merge_key,
             ElemKind kind) {
  const json::value* want = Identity(item, merge_key, kind);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json::value* got = Identity(list[i], merge_key, kind);
    if (want == nullptr && got == nullptr) return static_cast<long>(i);
    if (want != nullptr && got != nullptr && JsonEqual(*want, *got)) return static_cast<long>(i);
  }
  return -1;
}

Status ValidateMergeKeyInLists(std::string_view merge_key,
                               std::initializer_list<const json::array*> lists) {
  for (const json::array* l : lists) {
    for (const json::value& item : *l) {
      if (!item.is_object()) return ErrBadArgType("map", item);
      if (!item.get_object().contains(merge_key))
        return ErrNoMergeKey(item.get_object(), merge_key);
    }
  }
  return Status::OK();
}

bool IsDeleteElement(const json::value& v) {
  if (!v.is_object()) return false;
  const json::value* d = v.get_object().if_contains(kDirective);
  return d != nullptr && IsString(*d, kDelete);
}

// upstream normalizeSliceOrder: sorts `to_sort` by the positions of its items in `order`;
// `$patch: delete` elements go last.
Result<json::array> NormalizeSliceOrder(json::array to_sort, const json::array& order,
                                        std::string_view merge_key, ElemKind kind) {
  json::array to_delete;
  if (kind == ElemKind::kMap) {
    MINI8S_RETURN_IF_ERROR(ValidateMergeKeyInLists(merge_key, {&to_sort, &order}));
    json::array keep;
    for (json::value& v : to_sort) {
      (IsDeleteElement(v) ? to_delete : keep).push_back(std::move(v));
    }
    to_sort = std::move(keep);
  }
  std::vector<std::pair<long, json::value>> items;
  items.reserve(to_sort.size());
  bool all_found = true;
  for (json::value& v : to_sort) {
    long pos = IndexOf(order, v, merge_key, kind);
    all_found = all_found && pos >= 0;
    items.emplace_back(pos, std::move(v));
  }
  if (all_found) {
    std::stable_sort(items.begin(), items.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  } else {
    // Upstream's comparator says "less" whenever either item is unknown, which is not an order;
    // an insertion sort reproduces what Go's stable sort does with it on short lists.
    auto less = [](const auto& a, const auto& b) {
      return (a.first >= 0 && b.first >= 0) ? a.first < b.first : true;
    };
    for (std::size_t i = 1; i < items.size(); ++i) {
      for (std::size_t j = i; j > 0 && less(items[j], items[j - 1]); --j) {
        std::swap(items[j], items[j - 1]);
      }
    }
  }
  json::array out;
  out.reserve(items.size() + to_delete.size());
  for (auto& it : items) out.push_back(std::move(it.second));
  for (json::value& v : to_delete) out.push_back(std::move(v));
  return out;
}

// upstream mergeSortedSlice: interleaves `left` (server-only items) into `right` (patch items),
// keeping each list's order; a left item goes first only if both are in `server_order` and it
// comes earlier there.
json::array MergeSortedSlice(json::array left, json::array right, const json::array& server_order,
                             std::string_view merge_key, ElemKind kind) {
  json::array out;
  out.reserve(left.size() + right.size());
  std::size_t i = 0, j = 0;
  while (i < left.size() || j < right.size()) {
    if (i >= left.size()) {
      out.push_back(std::move(right[j++]));
    } else if (j >= right.size()) {
      out.push_back(std::move(left[i++]));
    } else {
      long li = IndexOf(server_order, left[i], merge_key, kind);
      long ri = IndexOf(server_order, right[j], merge_key, kind);
      if (li >= 0 && ri >= 0 && li < ri) {
        out.push_back(std::move(left[i++]));
      } else {
        out.push_back(std::move(right[j++]));
      }
    }
  }
  return out;
}

Result<json::array> NormalizeElementOrder(json::array patch, json::array server_only,
                                          const json::array& patch_order,
                                          const json::array& server_order,
                                          std::string_view merge_key, ElemKind kind) {
  MINI8S_ASSIGN_OR_RETURN(patch,
                          NormalizeSliceOrder(std::move(patch), patch_order, merge_key, kind));
  MINI8S_ASSIGN_OR_RETURN(
      server_only, NormalizeSliceOrder(std::move(server_only), server_order, merge_key, kind));
  return MergeSortedSlice(std::move(server_only), std::move(patch), server_order, merge_key, kind);
}

// Splits `merged` into items present in `by` and the rest (upstream partition*ByPresentInList).
Status Partition(const json::array& merged, const json::array& by, std::string_view merge_key,
                 ElemKind kind, json::array* in, json::array* out) {
  for (const json::value& v : merged) {
    if (kind == ElemKind::kMap && !merge_key.empty()) {
      if (!v.is_object()) return ErrBadArgType("map", v);
      if (!v.get_object().contains(merge_key)) return ErrNoMergeKey(v.get_object(), merge_key);
    }
    (IndexOf(by, v, merge_key, kind) >= 0 ? in : out)->push_back(v);
  }
  return Status::OK();
}

json::array DeleteFromSlice(const json::array& current, const json::array& to_delete) {
  json::array out;
  for (const json::value& v : current) {
    bool found = std::any_of(to_delete.begin(), to_delete.end(),
                             [&](const json::value& d) { return JsonEqual(v, d); });
    if (!found) out.push_back(v);
  }
  return out;
}

Result<std::optional<std::size_t>> FindByKey(const json::array& list, std::string_view key,
                                             const json::value& value) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) {
      return Status::BadRequest("value for key " + std::to_string(i) + " is not a map");
    }
    const json::value* v = list[i].get_object().if_contains(key);
    if (v != nullptr && JsonEqual(*v, value)) return std::optional<std::size_t>(i);
  }
  return std::optional<std::size_t>();
}

// upstream mergeSliceWithSpecialElements: applies `$patch` elements (delete by key, replace the
// whole list) and returns the patch without them.
Status MergeSliceWithSpecialElements(json::array& original, json::array& patch,
                                     std::string_view merge_key) {
  json::array plain;
  bool replace = false;
  for (json::value& v : patch) {
    json::object& m = v.get_object();
    const json::value* d = m.if_contains(kDirective);
    if (d == nullptr) {
      plain.push_back(std::move(v));
      continue;
    }
    if (IsString(*d, kDelete)) {
      const json::value* key_value = m.if_contains(merge_key);
      if (key_value == nullptr) return ErrNoMergeKey(m, merge_key);
      while (true) {
        MINI8S_ASSIGN_OR_RETURN(auto idx, FindByKey(original, merge_key, *key_value));
        if (!idx) break;
        original.erase(original.begin() + static_cast<std::ptrdiff_t>(*idx));
      }
    } else if (IsString(*d, kReplace)) {
      replace = true;  // keep scanning so every other `$patch` element is pruned
    } else if (IsString(*d, kMerge)) {
      return Status::BadRequest("merging lists cannot yet be specified in the patch");
    } else {
      return ErrBadPatchType(*d, m);
    }
  }
  if (replace) {
    original = std::move(plain);
    patch.clear();
  } else {
    patch = std::move(plain);
  }
  return Status::OK();
}

Result<json::array> MergeSlice(json::array original, json::array patch, const Schema* schema,
                               std::string_view merge_key, const MergeOptions& o,
                               bool is_delete_list) {
  if (original.empty() && patch.empty()) return original;
  MINI8S_ASSIGN_OR_RETURN(ElemKind kind, SliceElementKind({&original, &patch}));
  json::array merged;
  if (kind != ElemKind::kMap) {
    if (o.merge_parallel_list && is_delete_list) return DeleteFromSlice(original, patch);
    merged = original;
    for (const json::value& v : patch) merged.push_back(v);
    DedupeScalars(merged);
  } else {
    if (merge_key.empty()) {
      return Status::BadRequest("cannot merge lists without merge key for " +
                                (schema != nullptr && !schema->definition.empty()
                                     ? schema->definition
                                     : std::string("list")));
    }
    MINI8S_RETURN_IF_ERROR(MergeSliceWithSpecialElements(original, patch, merge_key));
    merged = original;
    bool server = o.merge_parallel_list && o.ignore_unmatched_nulls;
    for (const json::value& v : patch) {
      const json::object& m = v.get_object();
      const json::value* key_value = m.if_contains(merge_key);
      if (key_value == nullptr) return ErrNoMergeKey(m, merge_key);
      MINI8S_ASSIGN_OR_RETURN(auto idx, FindByKey(merged, merge_key, *key_value));
      if (idx) {
        MINI8S_ASSIGN_OR_RETURN(json::object r,
                                MergeMap(std::move(merged[*idx].get_object()), m, schema, o));
        merged[*idx] = std::move(r);
      } else {
        json::value add = v;
        if (!server || RemoveDirectives(add, true)) merged.push_back(std::move(add));
      }
    }
  }
  json::array patch_items, server_only;
  MINI8S_RETURN_IF_ERROR(Partition(merged, patch, merge_key, kind, &patch_items, &server_only));
  return NormalizeElementOrder(std::move(patch_items), std::move(server_only), patch, original,
                               merge_key, kind);
}

Result<json::array> MergeSliceHandler(json::array original, json::array patch, const Meta& meta,
                                      bool is_delete_list, const MergeOptions& o) {
  if (meta.strategy == kMerge || is_delete_list) {
    return MergeSlice(std::move(original), std::move(patch), meta.sub, meta.merge_key, o,
                      is_delete_list);
  }
  json::value v(std::move(patch));
  if (o.merge_parallel_list && o.ignore_unmatched_nulls) RemoveDirectives(v, true);
  return std::move(v.get_array());
}

Result<json::object> HandleDirectiveInMergeMap(const json::value& directive, json::object patch,
                                               const MergeOptions& o) {
  if (IsString(directive, kReplace)) {
    patch.stable_erase(kDirective);
    json::value v(std::move(patch));
    if (o.merge_parallel_list && o.ignore_unmatched_nulls) RemoveDirectives(v, true);
    return std::move(v.get_object());
  }
  if (IsString(directive, kDelete)) return json::object();
  return ErrBadPatchType(directive, patch);
}

// upstream applyRetainKeysDirective.
Status ApplyRetainKeysDirective(json::object& original, json::object& patch,
                                const MergeOptions& o) {
  json::value* in_patch = patch.if_contains(kRetainKeys);
  if (in_patch == nullptr) return Status::OK();
  json::value retain = std::move(*in_patch);
  patch.stable_erase(kRetainKeys);
  if (!o.merge_parallel_list) {
    if (const json::value* in_original = original.if_contains(kRetainKeys)) {
      if (!JsonEqual(*in_original, retain)) {
        return Status::BadRequest(detail::ToJson(*in_original) + " and " + detail::ToJson(retain) +
                                  " are not deep equal: this may happen when calculating the "
                                  "3-way diff patch");
      }
    } else {
      original[kRetainKeys] = std::move(retain);
    }
    return Status::OK();
  }
  if (!retain.is_array()) return ErrBadRetainKeys();
  const json::array& keys = retain.get_array();
  auto listed = [&](std::string_view k) {
    return std::any_of(keys.begin(), keys.end(),
                       [&](const json::value& v) { return IsString(v, k); });
  };
  for (const auto& kv : patch) {
    if (kv.value().is_null() || StartsWith(kv.key(), kDeleteFromPrimitiveList) ||
        StartsWith(kv.key(), kSetElementOrder)) {
      continue;
    }
    if (!listed(kv.key())) return ErrBadRetainKeys();
  }
  for (auto it = original.begin(); it != original.end();) {
    it = listed(it->key()) ? it + 1 : original.stable_erase(it);
  }
  return Status::OK();
}

// upstream validatePatchWithSetOrderList: patch items must appear in the order list, in order.
Status ValidatePatchWithSetOrderList(const json::array& patch_list, const json::array& order,
                                     std::string_view merge_key) {
  if (order.empty() || patch_list.empty()) return Status::OK();
  json::array non_delete;
  if (!merge_key.empty()) {
    for (const json::value& v : patch_list) {
      if (!v.is_object()) return ErrBadArgType("map", v);
      if (!IsDeleteElement(v)) non_delete.push_back(v);
    }
  } else {
    non_delete = patch_list;
  }
  auto key_equal = [&](const json::value& l, const json::value& r) -> Result<bool> {
    if (merge_key.empty()) return JsonEqual(l, r);
    if (!l.is_object()) return ErrBadArgType("map", l);
    if (!r.is_object()) return ErrBadArgType("map", r);
    const json::value* lk = l.get_object().if_contains(merge_key);
    if (lk == nullptr) return ErrNoMergeKey(l.get_object(), merge_key);
    const json::value* rk = r.get_object().if_contains(merge_key);
    if (rk == nullptr) return ErrNoMergeKey(r.get_object(), merge_key);
    return JsonEqual(*lk, *rk);
  };
  std::size_t pi = 0, si = 0;
  while (pi < non_delete.size() && si < order.size()) {
    if (non_delete[pi].is_object() && non_delete[pi].get_object().contains(kDirective)) {
      ++pi;
      continue;
    }
    MINI8S_ASSIGN_OR_RETURN(bool eq, key_equal(non_delete[pi], order[si]));
    if (eq) ++pi;
    ++si;
  }
  if (pi < non_delete.size() && si >= order.size()) {
    return Status::BadRequest("The order in patch list:\n" + detail::ToJson(patch_list) +
                              "\n doesn't match " + std::string(kSetElementOrder) + " list:\n" +
                              detail::ToJson(order) + "\n");
  }
  return Status::OK();
}

// upstream mergePatchIntoOriginal: merges each list that has a `$setElementOrder/<list>`
// directive and orders it: $setElementOrder first, then the patch's order, then the live order.
Status MergePatchIntoOriginal(json::object& original, json::object& patch, const Schema* schema,
                              const MergeOptions& o) {
  std::vector<std::string> order_keys;
  for (const auto& kv : patch) {
    if (StartsWith(kv.key(), kSetElementOrder)) order_keys.emplace_back(kv.key());
  }
  bool server = o.merge_parallel_list && o.ignore_unmatched_nulls;
  for (const std::string& key : order_keys) {
    json::value order = patch.at(key);
    if (!o.merge_parallel_list) {
      if (const json::value* in_original = original.if_contains(key)) {
        if (!JsonEqual(*in_original, order)) return ErrBadSetElementOrder();
      } else {
        original[key] = order;
      }
    }
    patch.stable_erase(key);
    if (!order.is_array()) return ErrBadArgType("list", order);
    MINI8S_ASSIGN_OR_RETURN(std::string list_key, ExtractKey(key, kSetElementOrder));
    const json::value* orig_list = original.if_contains(list_key);
    const json::value* patch_list = patch.if_contains(list_key);
    if (orig_list != nullptr && !orig_list->is_array()) return ErrBadArgType("list", *orig_list);
    if (patch_list != nullptr && !patch_list->is_array()) return ErrBadArgType("list", *patch_list);
    MINI8S_ASSIGN_OR_RETURN(Meta meta, LookupSlice(schema, list_key));
    static const json::array kEmpty;
    const json::array& orig_arr = orig_list != nullptr ? orig_list->get_array() : kEmpty;
    const json::array& patch_arr = patch_list != nullptr ? patch_list->get_array() : kEmpty;
    MINI8S_RETURN_IF_ERROR(
        ValidatePatchWithSetOrderList(patch_arr, order.get_array(), meta.merge_key));
    json::array merged;
    if (orig_list != nullptr && patch_list == nullptr) {
      merged = orig_arr;
    } else if (orig_list == nullptr && patch_list != nullptr) {
      json::value v = patch_arr;
      RemoveDirectives(v, server);
      merged = std::move(v.get_array());
    } else if (orig_list != nullptr && patch_list != nullptr) {
      MINI8S_ASSIGN_OR_RETURN(merged, MergeSliceHandler(orig_arr, patch_arr, meta, false, o));
    } else {
      continue;
    }
    MINI8S_ASSIGN_OR_RETURN(ElemKind kind, SliceElementKind({&orig_arr, &patch_arr}));
    json::array result;
    if (kind == ElemKind::kNone || (kind == ElemKind::kMap && meta.merge_key.empty())) {
      result = std::move(merged);  // nothing to order by
    } else {
      json::array patch_items, server_only;
      MINI8S_RETURN_IF_ERROR(
          Partition(merged, order.get_array(), meta.merge_key, kind, &patch_items, &server_only));
      json::array orig_copy = orig_arr;
      MINI8S_ASSIGN_OR_RETURN(
          result, NormalizeElementOrder(std::move(patch_items), std::move(server_only),
                                        order.get_array(), orig_copy, meta.merge_key, kind));
    }
    original[list_key] = std::move(result);
    patch.stable_erase(list_key);
  }
  return Status::OK();
}

}  // namespace

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

namespace {

Result<Meta> Lookup(const Schema* schema, std::string_view key, bool slice) {
  Meta m;
  if (schema == nullptr) return m;
  const Schema* child = schema->Child(key);
  if (child == nullptr) return m;
  m.sub = slice ? child->items : child;
  m.merge_key = child->patch_merge_key;
  std::vector<std::string_view> parts;
  std::string_view rest = child->patch_strategy;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    parts.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  auto bad = [&] {
    return Status::Internal("unexpected patch strategy: " + child->patch_strategy);
  };
  if (parts.size() == 1) {
    if (parts[0] == kRetainKeysStrategy) {
      m.retain_keys = true;
    } else {
      m.strategy = parts[0];
    }
  } else if (parts.size() == 2) {
    if (parts[0] == kRetainKeysStrategy) {
      m.retain_keys = true;
      m.strategy = parts[1];
    } else if (parts[1] == kRetainKeysStrategy) {
      m.retain_keys = true;
      m.strategy = parts[0];
    } else {
      return bad();
    }
  } else if (parts.size() > 2) {
    return bad();
  }
  return m;
}

}  // namespace

Result<Meta> LookupMap(const Schema* schema, std::string_view key) {
  return Lookup(schema, key, false);
}
Result<Meta> LookupSlice(const Schema* schema, std::string_view key) {
  return Lookup(schema, key, true);
}

Result<ElemKind> SliceElementKind(std::initializer_list<const json::array*> lists) {
  std::optional<json::kind> seen;
  for (const json::array* l : lists) {
    for (const json::value& v : *l) {
      json::kind k = v.is_number() ? json::kind::double_ : v.kind();
      if (!seen) {
        if (k == json::kind::array) return ErrNoListOfLists();
        seen = k;
      } else if (*seen != k) {
        std::string all;
        for (const json::array* m : lists) all += detail::ToJson(*m);
        return Status::BadRequest("list element types are not identical: " + all);
      }
    }
  }
  if (!seen) return ElemKind::kNone;
  return *seen == json::kind::object ? ElemKind::kMap : ElemKind::kScalar;
}

std::string PrintedScalar(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "<nil>";
  if (v.is_double()) {
    double d = v.get_double();
    // Range first: casting a double outside long long's range is undefined.
    if (d < 1e21 && d > -1e21 && d == std::trunc(d) && d < 0x1p63 && d >= -0x1p63) {
      return std::to_string(static_cast<long long>(d));
    }
  }
  return SerializeJson(v);
}

void SortScalars(json::array& a) {
  std::vector<std::pair<std::string, json::value>> items;
  items.reserve(a.size());
  for (json::value& v : a) items.emplace_back(PrintedScalar(v), std::move(v));
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  a.clear();
  for (auto& it : items) a.push_back(std::move(it.second));
}

void DedupeScalars(json::array& a) {
  json::array out;
  for (json::value& v : a) {
    bool dup =
        std::any_of(out.begin(), out.end(), [&](const json::value& o) { return JsonEqual(o, v); });
    if (!dup) out.push_back(std::move(v));
  }
  a = std::move(out);
}

Result<json::object> MergeMap(json::object original, json::object patch, const Schema* schema,
                              const MergeOptions& o) {
  if (const json::value* d = patch.if_contains(kDirective)) {
    json::value directive = *d;
    return HandleDirectiveInMergeMap(directive, std::move(patch), o);
  }
  MINI8S_RETURN_IF_ERROR(ApplyRetainKeysDirective(original, patch, o));
  MINI8S_RETURN_IF_ERROR(MergePatchIntoOriginal(original, patch, schema, o));

  for (auto& kv : patch) {
    std::string key(kv.key());
    json::value& pv = kv.value();
    bool is_delete_list = false;
    if (StartsWith(key, kDeleteFromPrimitiveList)) {
      if (!o.merge_parallel_list) {
        original[key] = pv;
        continue;
      }
      MINI8S_ASSIGN_OR_RETURN(key, ExtractKey(key, kDeleteFromPrimitiveList));
      is_delete_list = true;
    }
    if (pv.is_null()) {
      original.stable_erase(key);
      if (o.ignore_unmatched_nulls) continue;
    }
    json::value* ov = original.if_contains(key);
    if (ov == nullptr || !SameType(*ov, pv)) {
      if (!is_delete_list) {
        bool keep = true;
        json::value v = CleanInsert(pv, o, &keep);
        if (keep) {
          original[key] = std::move(v);
        } else {
          original.stable_erase(key);
        }
      }
      continue;
    }
    if (ov->is_object()) {
      MINI8S_ASSIGN_OR_RETURN(Meta meta, LookupMap(schema, key));
      if (meta.strategy == kReplace) {
        json::value v = pv;
        if (o.merge_parallel_list && o.ignore_unmatched_nulls) RemoveDirectives(v, true);
        *ov = std::move(v);
      } else {
        MINI8S_ASSIGN_OR_RETURN(json::object merged, MergeMap(std::move(ov->get_object()),
                                                              pv.get_object(), meta.sub, o));
        *ov = std::move(merged);
      }
    } else if (ov->is_array()) {
      MINI8S_ASSIGN_OR_RETURN(Meta meta, LookupSlice(schema, key));
      MINI8S_ASSIGN_OR_RETURN(
          json::array merged,
          MergeSliceHandler(std::move(ov->get_array()), pv.get_array(), meta, is_delete_list, o));
      *ov = std::move(merged);
    } else {
      *ov = pv;
    }
  }
  return original;
}

}  // namespace smp

Result<boost::json::value> StrategicMergePatch(const boost::json::value& original,
                                               const boost::json::value& patch,
                                               const Schema* schema) {
  if (!original.is_object()) return Status::BadRequest("invalid JSON document");
  if (!patch.is_object()) return Status::BadRequest("invalid JSON document");
  MINI8S_RETURN_IF_ERROR(detail::CheckStrategicDepth({&original, &patch}));
  smp::MergeOptions options;  // server side: merge parallel lists, ignore unmatched nulls
  MINI8S_ASSIGN_OR_RETURN(
      boost::json::object merged,
      smp::MergeMap(original.get_object(), patch.get_object(), schema, options));
  return boost::json::value(std::move(merged));
}

}  // namespace mini8s::api
