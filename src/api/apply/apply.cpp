#include "mini8s/api/apply.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "api/apply/field_set.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/json.h"

namespace mini8s::api {

namespace json = boost::json;
using apply::FieldSet;
using apply::Path;
using apply::PathElement;

namespace {

constexpr std::string_view kApply = "Apply";
constexpr std::string_view kUpdate = "Update";
constexpr std::string_view kBeforeFirstApply = "before-first-apply";
constexpr std::string_view kAncientChanges = "ancient-changes";
constexpr size_t kFieldManagerMaxLength = 128;

// ---- Typed walking -----------------------------------------------------------------------------

// How a value is merged, compared and owned: as one unit (scalars, atomic maps and lists), as a
// map whose keys are owned separately, or as a list whose items are (by key fields or by value).
enum class Shape { kLeaf, kMap, kKeyedList, kSetList };

struct TypeInfo {
  Shape shape = Shape::kLeaf;
  std::vector<std::string> keys;  // kKeyedList
};

TypeInfo ShapeOf(const Schema* s, const json::value& v) {
  TypeInfo t;
  if (v.is_object()) {
    // No schema, kAny and preserve-unknown objects are deduced as granular maps, as upstream.
    if (s == nullptr ||
        ((s->type == Type::kObject || s->type == Type::kAny) && s->map_type != "atomic")) {
      t.shape = Shape::kMap;
    }
    return t;
  }
  if (!v.is_array() || s == nullptr || s->type != Type::kArray) return t;  // deduced: atomic
  if (s->list_type == "atomic") return t;
  if (s->list_type == "set") {
    t.shape = Shape::kSetList;
    return t;
  }
  if (s->list_type == "map") {
    t.keys = s->list_map_keys;
    if (t.keys.empty() && !s->patch_merge_key.empty()) t.keys = {s->patch_merge_key};
    if (!t.keys.empty()) t.shape = Shape::kKeyedList;
    return t;
  }
  // No list-type: patchStrategy merge makes an associative list (keyed by patchMergeKey, else a
  // set), anything else is atomic.
  if (s->list_type.empty() && s->patch_strategy.find("merge") != std::string::npos) {
    if (!s->patch_merge_key.empty()) {
      t.shape = Shape::kKeyedList;
      t.keys = {s->patch_merge_key};
    } else {
      t.shape = Shape::kSetList;
    }
  }
  return t;
}

const Schema* ChildSchema(const Schema* s, std::string_view name) {
  return s == nullptr ? nullptr : s->Child(name);
}
const Schema* ItemSchema(const Schema* s) { return s == nullptr ? nullptr : s->items; }
bool IsDeclared(const Schema* s, std::string_view name) {
  return s != nullptr && s->FindProperty(name) != nullptr;
}

bool IsContainer(Shape s) { return s != Shape::kLeaf; }

// The path element naming a list item; errors as upstream's typed conversion words them.
Result<PathElement> ItemElement(const TypeInfo& t, const Schema* item_schema,
                                const json::value& item, size_t index) {
  auto err = [&](const std::string& what) {
    return Status::BadRequest("element " + std::to_string(index) + ": " + what);
  };
  if (t.shape == Shape::kSetList) {
    if (item.is_object() || item.is_array()) {
      return err("associative list without keys has an element that's a map type");
    }
    return PathElement::Value(item);
  }
  if (!item.is_object()) return err("associative list with keys has an element that's not a map");
  json::object key;
  for (const auto& k : t.keys) {
    if (const json::value* v = item.get_object().if_contains(k)) {
      key[k] = *v;
      continue;
    }
    const Schema* ks = ChildSchema(item_schema, k);
    if (ks != nullptr && ks->default_value.has_value()) {
      key[k] = *ks->default_value;
      continue;
    }
    // Upstream's OpenAPI declares `default: TCP` on every built-in `protocol` list-map key
    // (container, service and endpoint ports); our generated built-in schemas carry no defaults.
    if (k == "protocol" && ks != nullptr && ks->type == Type::kString &&
        (ks->enum_values.empty() || std::find(ks->enum_values.begin(), ks->enum_values.end(),
                                              "TCP") != ks->enum_values.end())) {
      key[k] = "TCP";
      continue;
    }
    return err("associative list with keys has an element that omits key field \"" + k +
               "\" (and doesn't have default value)");
  }
  return PathElement::Key(std::move(key));
}

// The items of a keyed or set list by path element (first occurrence wins); items whose element
// cannot be computed are skipped (live data is not re-validated here).
struct IndexedList {
  std::vector<std::optional<PathElement>> elements;  // per position
  std::map<PathElement, const json::value*, apply::PathElementLess> by_element;
};

IndexedList IndexList(const TypeInfo& t, const Schema* s, const json::array* list) {
  IndexedList out;
  if (list == nullptr) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    auto pe = ItemElement(t, ItemSchema(s), (*list)[i], i);
    if (!pe.has_value()) {
      out.elements.emplace_back();
      continue;
    }
    out.by_element.emplace(pe.value(), &(*list)[i]);
    out.elements.emplace_back(std::move(pe).value());
  }
  return out;
}

// upstream's ToFieldSet: the fields a value sets. Leaves and list items are members; a map entry
// is a member when it is null, an empty map or not a declared field.
Status ToFieldSet(const Schema* s, const json::value& v, Path& path, FieldSet& out, bool strict) {
  TypeInfo t = ShapeOf(s, v);
  switch (t.shape) {
    case Shape::kLeaf:
      out.Insert(path);
      return Status::OK();
    case Shape::kMap:
      for (const auto& kv : v.get_object()) {
        std::string key(kv.key());
        path.push_back(PathElement::Field(key));
        MINI8S_RETURN_IF_ERROR(ToFieldSet(ChildSchema(s, key), kv.value(), path, out, strict));
        const json::value& cv = kv.value();
        if (cv.is_null() || (cv.is_object() && cv.get_object().empty()) || !IsDeclared(s, key)) {
          out.Insert(path);
        }
        path.pop_back();
      }
      return Status::OK();
    case Shape::kKeyedList:
    case Shape::kSetList: {
      const json::array& list = v.get_array();
      std::map<PathElement, bool, apply::PathElementLess> seen;
      for (size_t i = 0; i < list.size(); ++i) {
        auto pe = ItemElement(t, ItemSchema(s), list[i], i);
        if (!pe.has_value()) {
          if (!strict) continue;
          return Status::BadRequest(apply::PathToString(path) + ": " + pe.error().message());
        }
        if (strict && !seen.emplace(pe.value(), true).second) {
          return Status::BadRequest(apply::PathToString(path) + ": duplicate entries for key " +
                                    pe.value().ToString());
        }
        path.push_back(std::move(pe).value());
        MINI8S_RETURN_IF_ERROR(ToFieldSet(ItemSchema(s), list[i], path, out, strict));
        out.Insert(path);
        path.pop_back();
      }
      return Status::OK();
    }
  }
  return Status::OK();
}

// upstream's EnsureNamedFieldsAreMembers: a declared field with fields below it counts as set.
void EnsureNamedFieldsAreMembers(FieldSet& set, const Schema* s) {
  for (auto& [pe, child] : set.children) {
    if (pe.kind == PathElement::kField) {
      if (IsDeclared(s, pe.name) && !child.children.empty()) child.member = true;
      EnsureNamedFieldsAreMembers(child, ChildSchema(s, pe.name));
    } else {
      EnsureNamedFieldsAreMembers(child, ItemSchema(s));
    }
  }
}

struct Comparison {
  FieldSet added, modified, removed;
};

// upstream's Compare: leaves (and atomic values) that differ are modified; a path present on
// only one side, and everything below it, is added or removed. A null on one side of a map or
// list is an empty one (Go's nil slice and map).
void Compare(const json::value* l, const json::value* r, const Schema* s, Path& path,
             Comparison& c) {
  TypeInfo tl = l ? ShapeOf(s, *l) : TypeInfo{}, tr = r ? ShapeOf(s, *r) : TypeInfo{};
  bool l_empty = l != nullptr && r != nullptr && l->is_null() && IsContainer(tr.shape);
  bool r_empty = r != nullptr && l != nullptr && r->is_null() && IsContainer(tl.shape);
  const TypeInfo& t = (r != nullptr && !r_empty) ? tr : tl;
  Shape shape = t.shape;
  bool same_shape = !l || !r || l_empty || r_empty || tl.shape == tr.shape;
  if (!same_shape || shape == Shape::kLeaf) {
    if (l && r && *l != *r) c.modified.Insert(path);
  } else if (shape == Shape::kMap) {
    const json::object* lo = l && l->is_object() ? &l->get_object() : nullptr;
    const json::object* ro = r && r->is_object() ? &r->get_object() : nullptr;
    std::map<std::string, std::pair<const json::value*, const json::value*>> keys;
    if (lo) {
      for (const auto& kv : *lo) keys[std::string(kv.key())].first = &kv.value();
    }
    if (ro) {
      for (const auto& kv : *ro) keys[std::string(kv.key())].second = &kv.value();
    }
    for (const auto& [k, pair] : keys) {
      path.push_back(PathElement::Field(k));
      Compare(pair.first, pair.second, ChildSchema(s, k), path, c);
      path.pop_back();
    }
  } else {
    const json::array* la = l && l->is_array() ? &l->get_array() : nullptr;
    const json::array* ra = r && r->is_array() ? &r->get_array() : nullptr;
    IndexedList li = IndexList(t, s, la), ri = IndexList(t, s, ra);
    std::map<PathElement, std::pair<const json::value*, const json::value*>, apply::PathElementLess>
        items;
    for (const auto& [pe, v] : li.by_element) items[pe].first = v;
    for (const auto& [pe, v] : ri.by_element) items[pe].second = v;
    for (const auto& [pe, pair] : items) {
      path.push_back(pe);
      Compare(pair.first, pair.second, ItemSchema(s), path, c);
      path.pop_back();
    }
  }
  if (!path.empty()) {
    if (l == nullptr) c.added.Insert(path);
    if (r == nullptr) c.removed.Insert(path);
  }
}

json::value Merge(const json::value& l, const json::value& r, const Schema* s);

// upstream's list merge: shared items take the applied order, items only in the live list keep
// their place relative to them, new items come where the applied list has them.
json::array MergeList(const TypeInfo& t, const Schema* s, const json::array& l,
                      const json::array& r) {
  IndexedList li = IndexList(t, s, &l), ri = IndexList(t, s, &r);
  std::vector<PathElement> shared;
  for (const auto& pe : ri.elements) {
    if (pe && li.by_element.count(*pe)) shared.push_back(*pe);
  }
  size_t next_shared = 0;
  auto is_next_shared = [&](const PathElement& pe) {
    return next_shared < shared.size() && ComparePathElements(shared[next_shared], pe) == 0;
  };
  std::map<PathElement, bool, apply::PathElementLess> merged_r;
  json::array out;
  const Schema* is = ItemSchema(s);
  size_t lI = 0, rI = 0;
  while (lI < l.size() || rI < r.size()) {
    if (lI < l.size() && !li.elements[lI]) {  // unkeyable live item: keep it
      out.push_back(l[lI++]);
      continue;
    }
    if (rI < r.size() && !ri.elements[rI]) {
      out.push_back(r[rI++]);
      continue;
    }
    if (lI < l.size() && rI < r.size()) {
      const PathElement& lpe = *li.elements[lI];
      if (ComparePathElements(lpe, *ri.elements[rI]) == 0) {
        merged_r[lpe] = true;
        out.push_back(Merge(*li.by_element[lpe], *ri.by_element[lpe], is));
        if (is_next_shared(lpe)) ++next_shared;
        ++lI;
        ++rI;
        continue;
      }
      if (ri.by_element.count(lpe) && next_shared < shared.size() && !is_next_shared(lpe)) {
        ++lI;  // shared, but its turn comes with the applied order
        continue;
      }
    }
    if (lI < l.size()) {
      const PathElement& lpe = *li.elements[lI];
      if (!ri.by_element.count(lpe)) {
        out.push_back(l[lI++]);
        continue;
      }
      if (merged_r.count(lpe)) {
        ++lI;
        continue;
      }
    }
    if (rI < r.size()) {
      const PathElement& rpe = *ri.elements[rI];
      merged_r[rpe] = true;
      auto lit = li.by_element.find(rpe);
      out.push_back(lit == li.by_element.end() ? *ri.by_element[rpe]
                                               : Merge(*lit->second, *ri.by_element[rpe], is));
      if (is_next_shared(rpe)) ++next_shared;
      ++rI;
    }
  }
  return out;
}

// Merges the applied value `r` into `l`: maps key by key, keyed and set lists item by item,
// everything else is replaced.
json::value Merge(const json::value& l, const json::value& r, const Schema* s) {
  TypeInfo tl = ShapeOf(s, l), tr = ShapeOf(s, r);
  if (tl.shape != tr.shape || tr.shape == Shape::kLeaf) return r;
  if (tr.shape == Shape::kMap) {
    json::object out = l.get_object();
    for (const auto& kv : r.get_object()) {
      auto it = out.find(kv.key());
      if (it == out.end()) {
        out[kv.key()] = kv.value();
      } else {
        it->value() = Merge(it->value(), kv.value(), ChildSchema(s, kv.key()));
      }
    }
    return out;
  }
  return MergeList(tr, s, l.get_array(), r.get_array());
}

// Puts the keys of `v`'s objects in `like`'s order, others after: a created object reads in the
// order its author wrote it, not in the zero object's.
void ReorderLike(json::value& v, const json::value& like) {
  if (!v.is_object() || !like.is_object()) return;
  json::object& o = v.get_object();
  json::object out;
  for (const auto& kv : like.get_object()) {
    auto it = o.find(kv.key());
    if (it == o.end()) continue;
    ReorderLike(it->value(), kv.value());
    out[kv.key()] = std::move(it->value());
  }
  for (auto& kv : o) {
    if (!out.contains(kv.key())) out[kv.key()] = std::move(kv.value());
  }
  o = std::move(out);
}

// Removes every member path of `rm` (with what is below it) from `v`.
void RemoveItems(json::value& v, const Schema* s, const FieldSet& rm) {
  if (rm.children.empty()) return;
  TypeInfo t = ShapeOf(s, v);
  if (t.shape == Shape::kMap) {
    json::object& o = v.get_object();
    for (const auto& [pe, child] : rm.children) {
      if (pe.kind != PathElement::kField) continue;
      auto it = o.find(pe.name);
      if (it == o.end()) continue;
      if (child.member) {
        o.erase(it);
      } else {
        RemoveItems(it->value(), ChildSchema(s, pe.name), child);
      }
    }
  } else if (t.shape == Shape::kKeyedList || t.shape == Shape::kSetList) {
    json::array& a = v.get_array();
    json::array out;
    for (size_t i = 0; i < a.size(); ++i) {
      auto pe = ItemElement(t, ItemSchema(s), a[i], i);
      const FieldSet* child = nullptr;
      if (pe.has_value()) {
        auto it = rm.children.find(pe.value());
        if (it != rm.children.end()) child = &it->second;
      }
      if (child != nullptr && child->member) continue;
      if (child != nullptr) RemoveItems(a[i], ItemSchema(s), *child);
      out.push_back(std::move(a[i]));
    }
    a = std::move(out);
  }
}

// What a Go client's zero-valued object serializes to at the top (non-pointer structs as {},
// required slices as null), which upstream compares a create against: it decides whether, e.g.,
// .spec or .metadata.labels get their own "." entry.
json::object ZeroObject(const Schema* s, bool with_nulls, int depth = 0) {
  json::object out;
  if (s == nullptr) return out;
  // (level, property): root struct fields, spec's template/strategy, the template's own.
  static const std::vector<std::pair<int, std::string>> kStructs = {
      {0, "metadata"}, {0, "spec"},           {0, "status"},   {1, "template"},
      {1, "strategy"}, {1, "updateStrategy"}, {2, "metadata"}, {2, "spec"}};
  for (const auto& [level, name] : kStructs) {
    if (level != depth) continue;
    const Schema* c = s->Child(name);
    if (c == nullptr || c->type != Type::kObject || c->properties.empty()) continue;
    int next = name == "template" ? 2 : depth == 2 ? 3 : depth + 1;
    out[name] = ZeroObject(c, with_nulls, next);
  }
  if (with_nulls) {
    for (const auto& req : s->required) {
      const Schema* c = s->Child(req);
      if (c != nullptr && c->type == Type::kArray && !out.contains(req)) out[req] = nullptr;
    }
  }
  return out;
}

FieldSet SetOf(std::initializer_list<Path> paths) {
  FieldSet s;
  for (const auto& p : paths) s.Insert(p);
  return s;
}

Path P(std::initializer_list<const char*> names) {
  Path p;
  for (const char* n : names) p.push_back(PathElement::Field(n));
  return p;
}

// Fields nobody owns (upstream's stripmeta).
const FieldSet& StripSet() {
  static const FieldSet set = SetOf({
      P({"apiVersion"}),
      P({"kind"}),
      P({"metadata"}),
      P({"metadata", "name"}),
      P({"metadata", "namespace"}),
      P({"metadata", "creationTimestamp"}),
      P({"metadata", "selfLink"}),
      P({"metadata", "uid"}),
      P({"metadata", "clusterName"}),
      P({"metadata", "generation"}),
      P({"metadata", "managedFields"}),
      P({"metadata", "resourceVersion"}),
  });
  return set;
}

// Fields the write's strategy resets (upstream's ResetFieldsStrategy): the main resource does
// not write status, the status subresource does not write spec.
FieldSet IgnoredSet(const Schema* s, std::string_view subresource) {
  if (subresource.empty() && IsDeclared(s, "status")) return SetOf({P({"status"})});
  if (subresource == "status" && IsDeclared(s, "spec")) return SetOf({P({"spec"})});
  return {};
}

// ---- Managers ----------------------------------------------------------------------------------

struct Manager {
  std::string manager, operation, api_version, subresource;
  std::optional<std::string> time;
  FieldSet set;
};

// upstream's manager identifier: appliers are one manager across API versions.
std::string ManagerId(std::string_view manager, std::string_view operation,
                      std::string_view api_version, std::string_view subresource) {
  std::string id(manager);
  id += '\0';
  id += operation;
  id += '\0';
  if (operation != kApply) id += api_version;
  id += '\0';
  id += subresource;
  return id;
}
std::string ManagerId(const Manager& m) {
  return ManagerId(m.manager, m.operation, m.api_version, m.subresource);
}

using Managers = std::map<std::string, Manager>;

std::string PrintManager(const Manager& m) {
  std::string out;
  AppendJsonString(out, m.manager);
  if (m.operation == kUpdate) out += " using " + m.api_version;
  return out;
}

const json::value* ManagedFieldsOf(const json::object& obj) {
  const json::value* md = obj.if_contains("metadata");
  if (md == nullptr || !md->is_object()) return nullptr;
  return md->get_object().if_contains("managedFields");
}

Result<Managers> DecodeManagers(const json::value* mf) {
  Managers out;
  if (mf == nullptr || mf->is_null()) return out;
  if (!mf->is_array()) return Status::BadRequest("managedFields must be a list");
  const json::array& list = mf->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) return Status::BadRequest("managed fields entry must be an object");
    const json::object& e = list[i].get_object();
    auto str = [&](std::string_view k) -> std::string {
      const json::value* v = e.if_contains(k);
      return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    Manager m;
    m.manager = str("manager");
    m.operation = str("operation");
    m.api_version = str("apiVersion");
    m.subresource = str("subresource");
    if (m.operation != kApply && m.operation != kUpdate) {
      return Status::BadRequest("operation must be `Apply` or `Update`");
    }
    if (m.api_version.empty()) return Status::BadRequest("apiVersion must not be empty");
    std::string type = str("fieldsType");
    if (type.empty()) {
      return Status::BadRequest("missing fieldsType in managed fields entry " + std::to_string(i));
    }
    if (type != "FieldsV1") {
      return Status::BadRequest("invalid fieldsType \"" + type + "\" in managed fields entry " +
                                std::to_string(i));
    }
    if (const json::value* t = e.if_contains("time"); t != nullptr && t->is_string()) {
      m.time = std::string(t->get_string());
    }
    if (const json::value* f = e.if_contains("fieldsV1"); f != nullptr && !f->is_null()) {
      auto set = apply::DecodeFieldsV1(*f);
      if (!set.has_value()) {
        return Status::BadRequest("error decoding versioned set from entry " + std::to_string(i) +
                                  ": " + set.error().message());
      }
      m.set = std::move(set).value();
    }
    out[ManagerId(m)] = std::move(m);
  }
  return out;
}

int64_t UnixSeconds(const std::optional<std::string>& t) {
  if (!t) return 0;
  auto tp = ParseRfc3339(*t);
  if (!tp.has_value()) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(tp.value().time_since_epoch()).count();
}

// Encoded in upstream's order: Apply before Update, then by time, manager, apiVersion,
// subresource.
json::array EncodeManagers(const Managers& managers) {
  std::vector<const Manager*> list;
  for (const auto& [id, m] : managers) {
    if (!m.set.Empty()) list.push_back(&m);
  }
  std::stable_sort(list.begin(), list.end(), [](const Manager* p, const Manager* q) {
    if (p->operation != q->operation) return p->operation < q->operation;
    int64_t ps = UnixSeconds(p->time), qs = UnixSeconds(q->time);
    if (ps != qs) return ps < qs;
    if (p->manager != q->manager) return p->manager < q->manager;
    if (p->api_version != q->api_version) return p->api_version < q->api_version;
    return p->subresource < q->subresource;
  });
  json::array out;
  for (const Manager* m : list) {
    json::object e;
    e["manager"] = m->manager;
    e["operation"] = m->operation;
    e["apiVersion"] = m->api_version;
    if (m->time) e["time"] = *m->time;
    e["fieldsType"] = "FieldsV1";
    e["fieldsV1"] = apply::EncodeFieldsV1(m->set);
    if (!m->subresource.empty()) e["subresource"] = m->subresource;
    out.push_back(std::move(e));
  }
  return out;
}

// upstream's capManagers: beyond 10 Update entries, the oldest are merged, per API version, into
// one "ancient-changes" entry, so objects written by many controllers stay small.
void CapUpdateManagers(Managers& managers) {
  constexpr size_t kMaxUpdateManagers = 10;
  std::vector<std::string> updaters;
  for (const auto& [id, m] : managers) {
    if (m.operation == kUpdate) updaters.push_back(id);
  }
  if (updaters.size() <= kMaxUpdateManagers) return;
  std::stable_sort(updaters.begin(), updaters.end(), [&](const auto& a, const auto& b) {
    int64_t as = UnixSeconds(managers.at(a).time), bs = UnixSeconds(managers.at(b).time);
    return as != bs ? as < bs : a < b;
  });
  std::map<std::string, std::string> first_by_version;
  size_t length = updaters.size();
  for (size_t i = 0; i < updaters.size() && length > kMaxUpdateManagers; ++i) {
    Manager m = managers.at(updaters[i]);
    std::string bucket = ManagerId(kAncientChanges, kUpdate, m.api_version, "");
    auto first = first_by_version.find(m.api_version);
    if (first == first_by_version.end()) {
      first_by_version[m.api_version] = updaters[i];
      continue;
    }
    if (!managers.count(bucket)) {
      Manager b = managers.at(first->second);
      managers.erase(first->second);
      b.manager = std::string(kAncientChanges);
      b.subresource.clear();
      managers[bucket] = std::move(b);
    }
    Manager& b = managers[bucket];
    b.set = apply::Union(m.set, b.set);
    b.time = m.time;  // the more recent of the two
    managers.erase(updaters[i]);
    --length;
  }
}

json::object& Metadata(json::object& obj) {
  json::value& md = obj["metadata"];
  if (!md.is_object()) md = json::object();
  return md.get_object();
}

void StoreManagers(json::object& obj, Managers& managers) {
  CapUpdateManagers(managers);
  json::array list = EncodeManagers(managers);
  if (list.empty()) {
    if (json::value* md = obj.if_contains("metadata"); md != nullptr && md->is_object()) {
      md->get_object().erase("managedFields");
    }
    return;
  }
  Metadata(obj)["managedFields"] = std::move(list);
}

json::value WithoutManagedFields(const json::object& obj) {
  json::object copy = obj;
  if (json::value* md = copy.if_contains("metadata"); md != nullptr && md->is_object()) {
    md->get_object().erase("managedFields");
  }
  return copy;
}

std::string ConflictMessage(const std::vector<std::pair<const Manager*, Path>>& conflicts) {
  if (conflicts.size() == 1) {
    return "Apply failed with 1 conflict: conflict with " + PrintManager(*conflicts[0].first) +
           ": " + apply::PathToString(conflicts[0].second);
  }
  // Grouped by manager, managers in order of their printed names.
  std::map<std::string, std::vector<std::string>> by_manager;
  for (const auto& [m, path] : conflicts) {
    by_manager[PrintManager(*m)].push_back(apply::PathToString(path));
  }
  std::string out = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: ";
  bool first = true;
  for (const auto& [name, paths] : by_manager) {
    if (!first) out += "\n";
    first = false;
    out += "conflicts with " + name + ":";
    for (const auto& p : paths) out += "\n- " + p;
  }
  return out;
}

// upstream's Updater.update: other managers lose fields this write changed (a conflict unless
// forced) or removed; managers left with nothing are dropped.
// `allowed`: conflicts that do not count (kubectl's client-side-apply fields, see below); when
// every conflict is allowed the write proceeds as if forced.
Status UpdateOwnership(const json::value& live, const json::value& next, const Schema* s,
                       Managers& managers, const std::string& workflow, bool force,
                       const FieldSet& ignored, Comparison& comparison,
                       std::vector<FieldManagerConflict>* conflicts_out,
                       const FieldSet* allowed = nullptr) {
  Path root;
  Compare(&live, &next, s, root, comparison);
  comparison.added = apply::RecursiveDifference(comparison.added, ignored);
  comparison.modified = apply::RecursiveDifference(comparison.modified, ignored);
  comparison.removed = apply::RecursiveDifference(comparison.removed, ignored);
  FieldSet changed = apply::Union(comparison.modified, comparison.added);
  std::map<std::string, FieldSet> conflicts;
  for (const auto& [id, m] : managers) {
    if (id == workflow) continue;
    FieldSet c = apply::Intersection(m.set, changed);
    if (!c.Empty()) conflicts[id] = std::move(c);
  }
  std::vector<std::pair<const Manager*, Path>> list;
  if (!force) {
    for (const auto& [id, set] : conflicts) {
      const Manager* m = &managers.at(id);
      FieldSet real = allowed != nullptr ? apply::Difference(set, *allowed) : set;
      real.ForEachMember([&](const Path& p) { list.emplace_back(m, p); });
    }
  }
  if (!list.empty()) {
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return PrintManager(*a.first) < PrintManager(*b.first);
    });
    if (conflicts_out != nullptr) {
      conflicts_out->clear();
      for (const auto& [m, p] : list) {
        conflicts_out->push_back({"conflict with " + PrintManager(*m), apply::PathToString(p)});
      }
    }
    return Status::Conflict(ConflictMessage(list));
  }
  for (auto& [id, m] : managers) {
    if (id == workflow) continue;
    if (auto it = conflicts.find(id); it != conflicts.end()) {
      m.set = apply::Difference(m.set, it->second);
    }
    m.set = apply::Difference(m.set, comparison.removed);
  }
  for (auto it = managers.begin(); it != managers.end();) {
    it = it->second.set.Empty() ? managers.erase(it) : std::next(it);
  }
  return Status::OK();
}

// An Update-operation write by `manager` from `old_v` to `next` (upstream's managedFieldsUpdater
// over Updater.Update): the fields it added or changed join the manager's previous set.
void RecordUpdate(const json::value& old_v, const json::value& next, const Schema* s,
                  Managers& managers, std::string_view manager, std::string_view api_version,
                  std::string_view subresource, const std::string& time) {
  const std::string self = std::string("\0current-operation", 18);
  FieldSet ignored = IgnoredSet(s, subresource);
  Comparison c;
  Status st = UpdateOwnership(old_v, next, s, managers, self, /*force=*/true, ignored, c, nullptr);
  (void)st;  // forced: cannot conflict
  FieldSet set = apply::Union(c.modified, c.added);
  set = apply::Difference(apply::RecursiveDifference(set, ignored), StripSet());
  if (set.Empty()) return;
  std::string id = ManagerId(manager, kUpdate, api_version, subresource);
  Manager& m = managers[id];
  if (m.manager.empty()) {
    m.manager = std::string(manager);
    m.operation = std::string(kUpdate);
    m.api_version = std::string(api_version);
    m.subresource = std::string(subresource);
  }
  m.set = apply::Union(m.set, set);
  m.time = time;
}

bool IsResetList(const json::value* mf) {
  if (mf == nullptr || !mf->is_array() || mf->get_array().empty()) return false;
  for (const auto& e : mf->get_array()) {
    if (!e.is_object() || !e.get_object().empty()) return false;
  }
  return true;
}

std::string GroupVersionKindText(const json::object& obj) {
  auto str = [&](std::string_view key) {
    const json::value* v = obj.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  std::string gv = str("apiVersion"), kind = str("kind");
  if (gv.find('/') == std::string::npos) gv = "/" + gv;
  return gv + ", Kind=" + kind;
}

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";
constexpr std::string_view kKubectlManager = "kubectl";

const json::string* LastAppliedOf(const json::object& obj) {
  const json::value* md = obj.if_contains("metadata");
  if (md == nullptr || !md->is_object()) return nullptr;
  const json::value* an = md->get_object().if_contains("annotations");
  if (an == nullptr || !an->is_object()) return nullptr;
  const json::value* la = an->get_object().if_contains(kLastApplied);
  return la != nullptr && la->is_string() && !la->get_string().empty() ? &la->get_string()
                                                                       : nullptr;
}

// upstream's lastAppliedManager: when kubectl moves an object from client-side to server-side
// apply, conflicts on fields of the last-applied annotation whose live value is still the
// applied one are not conflicts (kubectl-client-side-apply owns them only by history).
std::optional<FieldSet> AllowedConflictsFromLastApplied(const Schema* s, const json::value& live) {
  const json::string* text = LastAppliedOf(live.get_object());
  if (text == nullptr) return std::nullopt;
  auto parsed = ParseJson(*text);
  if (!parsed.has_value() || !parsed.value().is_object()) return std::nullopt;
  FieldSet set;
  Path root;
  if (!ToFieldSet(s, parsed.value(), root, set, /*strict=*/false).ok()) return std::nullopt;
  Comparison c;
  Compare(&parsed.value(), &live, s, root, c);
  return apply::Difference(set, c.modified);
}

json::value SortedKeys(const json::value& v) {
  if (v.is_array()) {
    json::array out;
    for (const auto& e : v.get_array()) out.push_back(SortedKeys(e));
    return out;
  }
  if (!v.is_object()) return v;
  std::vector<std::pair<std::string_view, const json::value*>> kvs;
  for (const auto& kv : v.get_object()) kvs.emplace_back(kv.key(), &kv.value());
  std::sort(kvs.begin(), kvs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json::object out;
  for (const auto& [k, val] : kvs) out[k] = SortedKeys(*val);
  return out;
}

// upstream's lastAppliedUpdater: `kubectl apply --server-side` keeps an existing last-applied
// annotation in step with what it applied (compact JSON, sorted keys, trailing newline, without
// the annotation itself), so a later client-side apply diffs against the right base.
void SyncLastApplied(json::object& result, const json::object& applied) {
  if (LastAppliedOf(result) == nullptr) return;
  json::value copy = applied;
  if (json::value* md = copy.get_object().if_contains("metadata"); md && md->is_object()) {
    if (json::value* an = md->get_object().if_contains("annotations"); an && an->is_object()) {
      an->get_object().erase(kLastApplied);
    }
  }
  Metadata(result)["annotations"].get_object()[kLastApplied] =
      SerializeJson(SortedKeys(copy)) + "\n";
}

}  // namespace

// ---- Public API --------------------------------------------------------------------------------

Result<ApplyResult> ServerSideApply(const Schema* schema, const json::object* live,
                                    const json::object& applied, std::string_view manager,
                                    bool force, std::string_view api_version,
                                    std::chrono::system_clock::time_point now,
                                    std::string_view subresource,
                                    std::vector<FieldManagerConflict>* conflicts) {
  if (const json::value* mf = ManagedFieldsOf(applied); mf != nullptr && !mf->is_null()) {
    return Status::BadRequest("metadata.managedFields must be nil");
  }
  if (const json::value* av = applied.if_contains("apiVersion");
      av != nullptr && av->is_string() && av->get_string() != api_version) {
    return Status::BadRequest(
        "Incorrect version specified in apply patch. Specified patch version: " +
        std::string(av->get_string()) + ", expected: " + std::string(api_version));
  }
  const std::string time = FormatRfc3339(now);
  Managers managers;
  if (live != nullptr) {
    auto decoded = DecodeManagers(ManagedFieldsOf(*live));
    if (!decoded.has_value()) {
      return Status::Internal("failed to decode managed fields: " + decoded.error().message());
    }
    managers = std::move(decoded).value();
  }
  json::value live_v = live != nullptr ? WithoutManagedFields(*live)
                                       : json::value(ZeroObject(schema, /*with_nulls=*/false));
  // An object nobody has tracked yet: what it holds belongs to "before-first-apply", so the
  // first applier conflicts with it instead of silently taking it over.
  if (live != nullptr && managers.empty()) {
    RecordUpdate(ZeroObject(schema, true), live_v, schema, managers, kBeforeFirstApply, api_version,
                 subresource, time);
  }

  json::value config = applied;
  FieldSet set;
  {
    Path root;
    Status st = ToFieldSet(schema, config, root, set, /*strict=*/true);
    if (!st.ok()) {
      std::string ns(JsonGetString(applied, "metadata.namespace").value_or(""));
      std::string name(JsonGetString(applied, "metadata.name").value_or(""));
      return Status::BadRequest("failed to create typed patch object (" + ns + "/" + name + "; " +
                                GroupVersionKindText(applied) + "): " + st.message());
    }
  }
  FieldSet ignored = IgnoredSet(schema, subresource);
  set = apply::RecursiveDifference(set, ignored);

  json::value merged = Merge(live_v, config, schema);
  if (live == nullptr) ReorderLike(merged, config);

  const std::string id = ManagerId(manager, kApply, api_version, subresource);
  FieldSet last;
  std::optional<std::string> last_time;
  if (auto it = managers.find(id); it != managers.end()) {
    last = it->second.set;
    last_time = it->second.time;
  }
  Manager& self = managers[id];
  self = Manager{std::string(manager),     std::string(kApply), std::string(api_version),
                 std::string(subresource), last_time,           set};

  // Prune: what this manager applied last time and applies no more goes, unless another manager
  // (or this one, elsewhere) still owns it.
  if (!last.Empty()) {
    FieldSet merged_set;
    Path root;
    (void)ToFieldSet(schema, merged, root, merged_set, /*strict=*/false);
    EnsureNamedFieldsAreMembers(merged_set, schema);
    FieldSet owned;
    for (const auto& [mid, m] : managers) owned = apply::Union(owned, m.set);
    EnsureNamedFieldsAreMembers(owned, schema);
    FieldSet last_e = last;
    EnsureNamedFieldsAreMembers(last_e, schema);
    FieldSet rm = apply::Difference(apply::Intersection(merged_set, last_e), owned);
    RemoveItems(merged, schema, rm);
  }

  std::optional<FieldSet> allowed;
  if (manager == kKubectlManager && !force && live != nullptr) {
    allowed = AllowedConflictsFromLastApplied(schema, live_v);
  }
  Comparison comparison;
  MINI8S_RETURN_IF_ERROR(UpdateOwnership(live_v, merged, schema, managers, id, force, ignored,
                                         comparison, conflicts, allowed ? &*allowed : nullptr));
  if (manager == kKubectlManager) SyncLastApplied(merged.get_object(), applied);
  ApplyResult result;
  result.changed = merged != live_v;
  if (auto it = managers.find(id); it != managers.end()) {
    it->second.set = apply::Difference(it->second.set, StripSet());
    if (result.changed || !it->second.time) it->second.time = time;
    if (it->second.set.Empty()) managers.erase(it);
  }
  result.object = std::move(merged.get_object());
  StoreManagers(result.object, managers);
  const json::value* before = live != nullptr ? ManagedFieldsOf(*live) : nullptr;
  const json::value* after = ManagedFieldsOf(result.object);
  result.managed_fields_changed =
      (before == nullptr) != (after == nullptr) || (before != nullptr && *before != *after);
  return result;
}

Status UpdateManagedFields(const Schema* schema, const json::object* old_obj, json::object& new_obj,
                           std::string_view manager, std::string_view api_version,
                           std::chrono::system_clock::time_point now,
                           std::string_view subresource) {
  Managers managers;
  bool use_live = true;
  const json::value* sent = ManagedFieldsOf(new_obj);
  if (subresource.empty() && IsResetList(sent)) {
    use_live = false;  // [{}]: the client asks for the managed fields to be reset
  } else if (subresource.empty() && sent != nullptr && sent->is_array() &&
             !sent->get_array().empty()) {
    // A client that edits managedFields directly gets what it sent, if it decodes.
    auto decoded = DecodeManagers(sent);
    if (decoded.has_value() && !decoded.value().empty()) {
      managers = std::move(decoded).value();
      use_live = false;
    }
  }
  if (use_live && old_obj != nullptr) {
    auto decoded = DecodeManagers(ManagedFieldsOf(*old_obj));
    if (!decoded.has_value()) {
      return Status::Internal("failed to decode managed fields: " + decoded.error().message());
    }
    managers = std::move(decoded).value();
  }
  json::value next = WithoutManagedFields(new_obj);
  // An existing object without managed fields stays untracked until it is applied (upstream's
  // skipNonApplied manager); creates are always tracked.
  if (old_obj != nullptr && managers.empty()) {
    new_obj = std::move(next.get_object());
    return Status::OK();
  }
  json::value old_v = old_obj != nullptr ? WithoutManagedFields(*old_obj)
                                         : json::value(ZeroObject(schema, /*with_nulls=*/true));
  RecordUpdate(old_v, next, schema, managers, manager, api_version, subresource,
               FormatRfc3339(now));
  new_obj = std::move(next.get_object());
  StoreManagers(new_obj, managers);
  return Status::OK();
}

std::string FieldManagerFromUserAgent(std::string_view user_agent) {
  std::string_view prefix = user_agent.substr(0, user_agent.find('/'));
  std::string out;
  for (size_t i = 0; i < prefix.size();) {
    unsigned char c = static_cast<unsigned char>(prefix[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 1;
    if (i + len > prefix.size()) break;
    bool printable = len > 1 || (c >= 0x20 && c < 0x7f);
    if (printable) {
      if (out.size() + len > kFieldManagerMaxLength) break;
      out.append(prefix.substr(i, len));
    }
    i += len;
  }
  return out;
}

Status ValidateFieldManager(std::string_view manager) {
  if (manager.size() > kFieldManagerMaxLength) {
    return Status::Invalid("fieldManager: Too long: may not be more than 128 bytes");
  }
  for (size_t i = 0; i < manager.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(manager[i]);
    if (c < 0x20 || c == 0x7f) {
      return Status::Invalid("fieldManager: Invalid value: \"" + std::string(manager) +
                             "\": invalid character at position " + std::to_string(i));
    }
  }
  return Status::OK();
}

Status ValidateManagedFields(const json::object& obj) {
  const json::value* mf = ManagedFieldsOf(obj);
  if (mf == nullptr || mf->is_null()) return Status::OK();
  if (!mf->is_array()) {
    return Status::BadRequest("metadata.managedFields: must be a list of managed fields entries");
  }
  std::vector<std::string> errors;
  const json::array& list = mf->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = "metadata.managedFields[" + std::to_string(i) + "]";
    if (!list[i].is_object()) {
      errors.push_back(at + ": Invalid value: must be an object");
      continue;
    }
    const json::object& e = list[i].get_object();
    auto str = [&](std::string_view k) { return std::string(JsonGetString(e, k).value_or("")); };
    std::string op = str("operation");
    if (op != kApply && op != kUpdate) {
      errors.push_back(at + ".operation: Invalid value: \"" + op +
                       "\": must be `Apply` or `Update`");
    }
    std::string type = str("fieldsType");
    if (!type.empty() && type != "FieldsV1") {
      errors.push_back(at + ".fieldsType: Invalid value: \"" + type + "\": must be `FieldsV1`");
    }
    if (Status st = ValidateFieldManager(str("manager")); !st.ok()) {
      errors.push_back(at + ".manager" + st.message().substr(std::string("fieldManager").size()));
    }
    if (str("subresource").size() > 256) {
      errors.push_back(at + ".subresource: Too long: may not be more than 256 bytes");
    }
    if (const json::value* f = e.if_contains("fieldsV1"); f != nullptr && !f->is_null()) {
      auto set = apply::DecodeFieldsV1(*f);
      if (!set.has_value()) {
        return Status::BadRequest(at + ".fieldsV1: " + set.error().message());
      }
    }
  }
  if (errors.empty()) return Status::OK();
  std::string msg;
  if (errors.size() == 1) {
    msg = errors[0];
  } else {
    msg = "[";
    for (size_t i = 0; i < errors.size(); ++i) msg += (i ? ", " : "") + errors[i];
    msg += "]";
  }
  return Status::Invalid(msg);
}

json::array FieldManagerConflictCauses(const std::vector<FieldManagerConflict>& conflicts) {
  json::array out;
  for (const auto& c : conflicts) {
    out.push_back(json::object{
        {"reason", "FieldManagerConflict"}, {"message", c.message}, {"field", c.field}});
  }
  return out;
}

}  // namespace mini8s::api
