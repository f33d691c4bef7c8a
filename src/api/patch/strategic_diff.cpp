// Strategic merge patch, diff side: the two-way and three-way patches client-side apply computes
// (apimachinery strategicpatch diffMaps / diffLists / CreateThreeWayMergePatch semantics).
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "api/patch/json_util.h"
#include "api/patch/smp_internal.h"
#include "mini8s/api/patch.h"

namespace mini8s::api {
namespace smp {
namespace {

namespace json = boost::json;

struct DiffOptions {
  bool set_element_order = false;             // emit $setElementOrder lists
  bool ignore_changes_and_additions = false;  // deletions only
  bool ignore_deletions = false;              // changes and additions only
  bool build_retain_keys = false;             // emit $retainKeys (set per field)
};

Status ErrNoMergeKey(const json::object& m, std::string_view key) {
  return Status::BadRequest("map: " + detail::ToJson(m) +
                            " does not contain declared merge key: " + std::string(key));
}

bool SameType(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return true;
  return a.kind() == b.kind();
}

std::string Printed(const json::value& v) { return PrintedScalar(v); }

Result<json::object> DiffMaps(const json::object& original, const json::object& modified,
                              const Schema* schema, DiffOptions opts);

Result<json::array> SortByMergeKey(const json::array& list, std::string_view merge_key) {
  std::vector<std::pair<std::string, json::value>> items;
  for (const json::value& v : list) {
    if (!v.is_object()) {
      return Status::BadRequest("expected a map, but received a " +
                                std::string(detail::KindName(v)));
    }
    const json::value* k = v.get_object().if_contains(merge_key);
    if (k == nullptr) return ErrNoMergeKey(v.get_object(), merge_key);
    items.emplace_back(Printed(*k), v);
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  for (auto& it : items) out.push_back(std::move(it.second));
  return out;
}

// Additions/changes and `$patch: delete` directives between two lists of maps.
Status DiffListsOfMaps(const json::array& original, const json::array& modified,
                       const Schema* schema, std::string_view merge_key, const DiffOptions& opts,
                       json::array* patch, json::array* deletions) {
  MINI8S_ASSIGN_OR_RETURN(json::array o, SortByMergeKey(original, merge_key));
  MINI8S_ASSIGN_OR_RETURN(json::array m, SortByMergeKey(modified, merge_key));
  std::size_t oi = 0, mi = 0;
  while (oi < o.size() || mi < m.size()) {
    bool o_in = oi < o.size(), m_in = mi < m.size();
    std::string ok = o_in ? Printed(o[oi].get_object().at(merge_key)) : std::string();
    std::string mk = m_in ? Printed(m[mi].get_object().at(merge_key)) : std::string();
    if (o_in && m_in && ok == mk) {
      MINI8S_ASSIGN_OR_RETURN(json::object p,
                              DiffMaps(o[oi].get_object(), m[mi].get_object(), schema, opts));
      if (!p.empty()) {
        p[merge_key] = m[mi].get_object().at(merge_key);
        patch->push_back(std::move(p));
      }
      ++oi;
      ++mi;
    } else if (!o_in || (m_in && ok > mk)) {
      if (!opts.ignore_changes_and_additions) patch->push_back(m[mi]);
      ++mi;
    } else {
      if (!opts.ignore_deletions) {
        json::object d;
        d[merge_key] = o[oi].get_object().at(merge_key);
        d[kDirective] = kDelete;
        deletions->push_back(std::move(d));
      }
      ++oi;
    }
  }
  return Status::OK();
}

// Additions and deletions between two lists of scalars, compared as sets.
void DiffListsOfScalars(const json::array& original, const json::array& modified,
                        const DiffOptions& opts, json::array* additions, json::array* deletions) {
  json::array o = original, m = modified;
  SortScalars(o);
  SortScalars(m);
  std::size_t oi = 0, mi = 0;
  while (oi < o.size() || mi < m.size()) {
    bool o_in = oi < o.size(), m_in = mi < m.size();
    std::string os = o_in ? Printed(o[oi]) : std::string();
    std::string ms = m_in ? Printed(m[mi]) : std::string();
    if (o_in && m_in && os == ms) {
      ++oi;
      ++mi;
    } else if (!o_in || (m_in && os > ms)) {
      if (!opts.ignore_changes_and_additions) additions->push_back(m[mi]);
      ++mi;
    } else {
      if (!opts.ignore_deletions) deletions->push_back(o[oi]);
      ++oi;
    }
  }
  DedupeScalars(*deletions);
}

Result<bool> IsOrderSame(const json::array& original, const json::array& modified,
                         std::string_view merge_key) {
  if (original.size() != modified.size()) return false;
  for (std::size_t i = 0; i < original.size(); ++i) {
    const json::value* a = original[i].get_object().if_contains(merge_key);
    const json::value* b = modified[i].get_object().if_contains(merge_key);
    if (a == nullptr) return ErrNoMergeKey(original[i].get_object(), merge_key);
    if (b == nullptr) return ErrNoMergeKey(modified[i].get_object(), merge_key);
    if (!JsonEqual(*a, *b)) return false;
  }
  return true;
}

// Orders `items` like `order` (by merge key for maps); unknown items keep their place at the end.
json::array OrderLike(json::array items, const json::array& order, std::string_view merge_key,
                      bool maps) {
  auto pos = [&](const json::value& v) -> std::size_t {
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (maps) {
        const json::value* a = v.get_object().if_contains(merge_key);
        const json::value* b = order[i].get_object().if_contains(merge_key);
        if (a != nullptr && b != nullptr && JsonEqual(*a, *b)) return i;
      } else if (JsonEqual(v, order[i])) {
        return i;
      }
    }
    return order.size();
  };
  std::vector<std::pair<std::size_t, json::value>> keyed;
  for (json::value& v : items) keyed.emplace_back(pos(v), std::move(v));
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  for (auto& k : keyed) out.push_back(std::move(k.second));
  return out;
}

struct ListDiff {
  json::array patch, deletions, order;
};

Result<ListDiff> DiffLists(const json::array& original, const json::array& modified,
                           const Schema* schema, std::string_view merge_key,
                           const DiffOptions& opts) {
  ListDiff d;
  if (original.empty()) {
    if (modified.empty() || opts.ignore_changes_and_additions) return d;
    d.patch = modified;
    return d;
  }
  MINI8S_ASSIGN_OR_RETURN(ElemKind kind, SliceElementKind({&original, &modified}));
  if (kind == ElemKind::kMap) {
    if (merge_key.empty()) {
      return Status::BadRequest("cannot merge lists without merge key for " +
                                (schema != nullptr && !schema->definition.empty()
                                     ? schema->definition
                                     : std::string("list")));
    }
    json::array deletions;
    MINI8S_RETURN_IF_ERROR(
        DiffListsOfMaps(original, modified, schema, merge_key, opts, &d.patch, &deletions));
    d.patch = OrderLike(std::move(d.patch), modified, merge_key, true);
    MINI8S_ASSIGN_OR_RETURN(bool order_same, IsOrderSame(original, modified, merge_key));
    for (json::value& v : deletions) d.patch.push_back(std::move(v));
    bool changed = !d.patch.empty();
    if (opts.set_element_order &&
        ((!opts.ignore_changes_and_additions && (changed || !order_same)) ||
         (!opts.ignore_deletions && changed))) {
      for (const json::value& v : modified) {
        json::object key_only;
        key_only[merge_key] = v.get_object().at(merge_key);
        d.order.push_back(std::move(key_only));
      }
    }
    return d;
  }
  DiffListsOfScalars(original, modified, opts, &d.patch, &d.deletions);
  d.patch = OrderLike(std::move(d.patch), modified, merge_key, false);
  if (opts.set_element_order && ((!opts.ignore_deletions && !d.deletions.empty()) ||
                                 (!opts.ignore_changes_and_additions &&
                                  !JsonEqual(json::value(original), json::value(modified))))) {
    d.order = modified;
  }
  return d;
}

Status HandleMapDiff(std::string_view key, const json::object& original,
                     const json::object& modified, json::object& patch, const Schema* schema,
                     DiffOptions opts) {
  MINI8S_ASSIGN_OR_RETURN(Meta meta, LookupMap(schema, key));
  opts.build_retain_keys = meta.retain_keys;
  if (meta.strategy == kReplace) {
    if (!opts.ignore_changes_and_additions) patch[key] = modified;
    return Status::OK();
  }
  MINI8S_ASSIGN_OR_RETURN(json::object p, DiffMaps(original, modified, meta.sub, opts));
  if (!p.empty()) patch[key] = std::move(p);
  return Status::OK();
}

Status HandleSliceDiff(std::string_view key, const json::array& original,
                       const json::array& modified, json::object& patch, const Schema* schema,
                       DiffOptions opts) {
  MINI8S_ASSIGN_OR_RETURN(Meta meta, LookupSlice(schema, key));
  if (meta.strategy == kMerge) {
    opts.build_retain_keys = meta.retain_keys;
    MINI8S_ASSIGN_OR_RETURN(ListDiff d,
                            DiffLists(original, modified, meta.sub, meta.merge_key, opts));
    if (!d.patch.empty()) patch[key] = std::move(d.patch);
    if (!d.deletions.empty()) {
      patch[std::string(kDeleteFromPrimitiveList) + "/" + std::string(key)] =
          std::move(d.deletions);
    }
    if (!d.order.empty()) {
      patch[std::string(kSetElementOrder) + "/" + std::string(key)] = std::move(d.order);
    }
    return Status::OK();
  }
  if (!opts.ignore_changes_and_additions &&
      !JsonEqual(json::value(original), json::value(modified))) {
    patch[key] = modified;
  }
  return Status::OK();
}

Result<json::object> DiffMaps(const json::object& original, const json::object& modified,
                              const Schema* schema, DiffOptions opts) {
  json::object patch;
  json::array retain_keys;
  for (const auto& kv : modified) {
    std::string_view key = kv.key();
    const json::value& mv = kv.value();
    if (opts.build_retain_keys && !mv.is_null()) retain_keys.emplace_back(key);
    const json::value* ov = original.if_contains(key);
    if (ov == nullptr) {
      if (!opts.ignore_changes_and_additions) patch[key] = mv;
      continue;
    }
    if (key == kDirective) {
      if (!ov->is_string() || !mv.is_string()) {
        return Status::BadRequest("invalid value for special key: " + std::string(kDirective));
      }
      if (ov->get_string() != mv.get_string()) patch[key] = mv;
      continue;
    }
    if (!SameType(*ov, mv)) {
      if (!opts.ignore_changes_and_additions) patch[key] = mv;
      continue;
    }
    if (ov->is_object()) {
      MINI8S_RETURN_IF_ERROR(
          HandleMapDiff(key, ov->get_object(), mv.get_object(), patch, schema, opts));
    } else if (ov->is_array()) {
      MINI8S_RETURN_IF_ERROR(
          HandleSliceDiff(key, ov->get_array(), mv.get_array(), patch, schema, opts));
    } else if (!opts.ignore_changes_and_additions && !JsonEqual(*ov, mv)) {
      patch[key] = mv;
    }
  }
  if (!opts.ignore_deletions) {
    for (const auto& kv : original) {
      if (!modified.contains(kv.key())) patch[kv.key()] = nullptr;
    }
  }
  bool original_has_more = std::any_of(original.begin(), original.end(), [&](const auto& kv) {
    return !kv.value().is_null() && !modified.contains(kv.key());
  });
  if (!retain_keys.empty() && (!patch.empty() || original_has_more)) {
    SortScalars(retain_keys);
    patch[kRetainKeys] = std::move(retain_keys);
  }
  return patch;
}

// ---- conflict detection (upstream MergingMapsHaveConflicts) ----

Result<bool> FieldsConflict(const json::value& left, const json::value& right, const Schema* schema,
                            std::string_view strategy, std::string_view merge_key);

Result<bool> MapsConflict(const json::object& left, const json::object& right,
                          const Schema* schema) {
  for (const auto& kv : left) {
    if (kv.key() == kDirective || kv.key() == kRetainKeys) continue;
    const json::value* rv = right.if_contains(kv.key());
    if (rv == nullptr) continue;
    Meta meta;
    if (kv.value().is_array()) {
      MINI8S_ASSIGN_OR_RETURN(meta, LookupSlice(schema, kv.key()));
    } else if (kv.value().is_object()) {
      MINI8S_ASSIGN_OR_RETURN(meta, LookupMap(schema, kv.key()));
    }
    MINI8S_ASSIGN_OR_RETURN(
        bool c, FieldsConflict(kv.value(), *rv, meta.sub, meta.strategy, meta.merge_key));
    if (c) return true;
  }
  return false;
}

Result<bool> SlicesConflict(const json::array& left, const json::array& right, const Schema* schema,
                            std::string_view strategy, std::string_view merge_key) {
  MINI8S_ASSIGN_OR_RETURN(ElemKind kind, SliceElementKind({&left, &right}));
  if (kind == ElemKind::kNone) return false;
  if (strategy == kMerge) {
    if (kind != ElemKind::kMap) return false;  // merging scalar lists cannot conflict
    auto by_key = [&](const json::array& list) -> Result<std::map<std::string, json::value>> {
      std::map<std::string, json::value> out;
      for (const json::value& v : list) {
        const json::value* k = v.get_object().if_contains(merge_key);
        if (k == nullptr) {
          return Status::BadRequest("cannot find merge key `" + std::string(merge_key) +
                                    "` in merging list element:" + detail::ToJson(v));
        }
        out[Printed(*k)] = v;
      }
      return out;
    };
    MINI8S_ASSIGN_OR_RETURN(auto lm, by_key(left));
    MINI8S_ASSIGN_OR_RETURN(auto rm, by_key(right));
    for (const auto& [k, lv] : lm) {
      auto it = rm.find(k);
      if (it == rm.end()) continue;
      MINI8S_ASSIGN_OR_RETURN(bool c, FieldsConflict(lv, it->second, schema, "", ""));
      if (c) return true;
    }
    return false;
  }
  if (left.size() != right.size()) return true;
  json::array l = left, r = right;
  if (kind != ElemKind::kMap) {
    DedupeScalars(l);
    SortScalars(l);
    DedupeScalars(r);
    SortScalars(r);
    if (l.size() != r.size()) return true;
  }
  for (std::size_t i = 0; i < l.size(); ++i) {
    MINI8S_ASSIGN_OR_RETURN(bool c, FieldsConflict(l[i], r[i], schema, "", ""));
    if (c) return true;
  }
  return false;
}

Result<bool> FieldsConflict(const json::value& left, const json::value& right, const Schema* schema,
                            std::string_view strategy, std::string_view merge_key) {
  if (left.is_object()) {
    if (!right.is_object()) return true;
    const json::value* lm = left.get_object().if_contains(kDirective);
    const json::value* rm = right.get_object().if_contains(kDirective);
    if (lm != nullptr || rm != nullptr) {
      if ((lm == nullptr) != (rm == nullptr)) return true;
      if (!JsonEqual(*lm, *rm)) return true;
    }
    if (strategy == kReplace) return false;
    return MapsConflict(left.get_object(), right.get_object(), schema);
  }
  if (left.is_array()) {
    if (!right.is_array()) return true;
    return SlicesConflict(left.get_array(), right.get_array(), schema, strategy, merge_key);
  }
  return !JsonEqual(left, right);
}

// Go's json.Marshal writes object keys sorted; so does kubectl's patch. Sorting makes the output
// deterministic and byte-comparable with what kubectl sends.
void SortKeys(json::value& v) {
  if (v.is_array()) {
    for (json::value& e : v.get_array()) SortKeys(e);
    return;
  }
  if (!v.is_object()) return;
  json::object& o = v.get_object();
  std::vector<std::pair<std::string, json::value>> members;
  for (auto& kv : o) members.emplace_back(std::string(kv.key()), std::move(kv.value()));
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  json::object sorted;
  for (auto& [k, val] : members) {
    SortKeys(val);
    sorted[k] = std::move(val);
  }
  o = std::move(sorted);
}

}  // namespace
}  // namespace smp

Result<boost::json::value> CreateTwoWayMergePatch(const boost::json::value& original,
                                                  const boost::json::value& modified,
                                                  const Schema* schema) {
  if (!original.is_object() || !modified.is_object()) {
    return Status::BadRequest("invalid JSON document");
  }
  MINI8S_RETURN_IF_ERROR(detail::CheckStrategicDepth({&original, &modified}));
  smp::DiffOptions opts;
  opts.set_element_order = true;
  MINI8S_ASSIGN_OR_RETURN(
      boost::json::object patch,
      smp::DiffMaps(original.get_object(), modified.get_object(), schema, opts));
  boost::json::value out(std::move(patch));
  smp::SortKeys(out);
  return out;
}

Result<boost::json::value> CreateThreeWayMergePatch(const boost::json::value& original,
                                                    const boost::json::value& modified,
                                                    const boost::json::value& current,
                                                    const Schema* schema, bool overwrite) {
  static const boost::json::object kEmpty;
  auto as_object = [](const boost::json::value& v) -> Result<const boost::json::object*> {
    if (v.is_null()) return &kEmpty;
    if (!v.is_object()) return Status::BadRequest("invalid JSON document");
    return &v.get_object();
  };
  MINI8S_ASSIGN_OR_RETURN(const boost::json::object* o, as_object(original));
  MINI8S_ASSIGN_OR_RETURN(const boost::json::object* m, as_object(modified));
  MINI8S_ASSIGN_OR_RETURN(const boost::json::object* c, as_object(current));
  MINI8S_RETURN_IF_ERROR(detail::CheckStrategicDepth({&original, &modified, &current}));

  // The patch is the difference from current to modified without deletions, plus the deletions
  // from original to modified; merging the first into the second keeps both's directives.
  smp::DiffOptions delta_opts;
  delta_opts.ignore_deletions = true;
  delta_opts.set_element_order = true;
  MINI8S_ASSIGN_OR_RETURN(boost::json::object delta, smp::DiffMaps(*c, *m, schema, delta_opts));
  smp::DiffOptions deletion_opts;
  deletion_opts.set_element_order = true;
  deletion_opts.ignore_changes_and_additions = true;
  MINI8S_ASSIGN_OR_RETURN(boost::json::object deletions,
                          smp::DiffMaps(*o, *m, schema, deletion_opts));
  smp::MergeOptions merge;
  merge.merge_parallel_list = false;
  merge.ignore_unmatched_nulls = false;
  MINI8S_ASSIGN_OR_RETURN(boost::json::object patch,
                          smp::MergeMap(std::move(deletions), std::move(delta), schema, merge));

  if (!overwrite) {
    MINI8S_ASSIGN_OR_RETURN(boost::json::object changed,
                            smp::DiffMaps(*o, *c, schema, smp::DiffOptions{}));
    MINI8S_ASSIGN_OR_RETURN(bool conflict, smp::MapsConflict(patch, changed, schema));
    if (conflict) {
      return Status::Conflict("patch:\n" + detail::ToJson(patch) +
                              "\nconflicts with changes made from original to current:\n" +
                              detail::ToJson(changed) + "\n");
    }
  }
  boost::json::value out(std::move(patch));
  smp::SortKeys(out);
  return out;
}

}  // namespace mini8s::api
