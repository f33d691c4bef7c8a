#include "mini8s/api/object.h"

#include <algorithm>
#include <cmath>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

namespace mini8s::api {
namespace json = boost::json;

namespace {

const json::object& EmptyObject() {
  static const json::object* empty = new json::object();
  return *empty;
}

const json::object& AsObject(const json::value& v) {
  const json::object* o = v.if_object();
  return o ? *o : EmptyObject();
}

std::string_view StringField(const json::object* obj, std::string_view key) {
  if (obj == nullptr) return {};
  auto it = obj->find(key);
  if (it == obj->end()) return {};
  const json::string* s = it->value().if_string();
  return s ? std::string_view(*s) : std::string_view();
}

const json::object* ObjectField(const json::object* obj, std::string_view key) {
  if (obj == nullptr) return nullptr;
  auto it = obj->find(key);
  return it == obj->end() ? nullptr : it->value().if_object();
}

std::optional<int64_t> IntOf(const json::value& v) {
  if (const int64_t* i = v.if_int64()) return *i;
  if (const uint64_t* u = v.if_uint64()) {
    if (*u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(*u);
    return std::nullopt;
  }
  if (const double* d = v.if_double()) {
    // Integral doubles (1e3) are integers on the wire for Kubernetes.
    // Range-checked first: converting an out-of-range double (1e300) to int64 is undefined.
    if (*d >= -0x1p63 && *d < 0x1p63 && *d == std::trunc(*d)) return static_cast<int64_t>(*d);
  }
  return std::nullopt;
}

OwnerReference ParseOwnerReference(const json::object& o) {
  OwnerReference r;
  r.api_version = StringField(&o, "apiVersion");
  r.kind = StringField(&o, "kind");
  r.name = StringField(&o, "name");
  r.uid = StringField(&o, "uid");
  if (auto it = o.find("controller"); it != o.end() && it->value().is_bool()) {
    r.controller = it->value().get_bool();
  }
  if (auto it = o.find("blockOwnerDeletion"); it != o.end() && it->value().is_bool()) {
    r.block_owner_deletion = it->value().get_bool();
  }
  return r;
}

json::object& ChildObject(json::object& parent, std::string_view key) {
  json::value& v = parent[key];
  return AsMutableObject(v);
}

void SetMetaString(json::object& obj, std::string_view key, std::string_view value) {
  MutableMetadata(obj)[key] = json::string(value);
}

bool RemoveMapKey(json::object& obj, std::string_view map_name, std::string_view key) {
  auto mit = obj.find("metadata");
  if (mit == obj.end() || !mit->value().is_object()) return false;
  json::object& meta = mit->value().get_object();
  auto it = meta.find(map_name);
  if (it == meta.end() || !it->value().is_object()) return false;
  json::object& map = it->value().get_object();
  bool erased = map.erase(key) > 0;
  if (map.empty()) meta.erase(map_name);
  return erased;
}

}  // namespace

json::object OwnerReference::ToJson() const {
  json::object o;
  o["apiVersion"] = api_version;
  o["kind"] = kind;
  o["name"] = name;
  o["uid"] = uid;
  if (controller) o["controller"] = true;
  if (block_owner_deletion) o["blockOwnerDeletion"] = true;
  return o;
}

// --- generic ---------------------------------------------------------------------------------

const json::value* FindPath(const json::object& root, std::string_view path) {
  if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  const json::object* cur = &root;
  while (true) {
    size_t dot = path.find('.');
    std::string_view step = path.substr(0, dot);
    auto it = cur->find(step);
    if (it == cur->end()) return nullptr;
    if (dot == std::string_view::npos) return &it->value();
    cur = it->value().if_object();
    if (cur == nullptr) return nullptr;
    path.remove_prefix(dot + 1);
  }
}

const json::value* FindPath(const json::value& root, std::string_view path) {
  const json::object* o = root.if_object();
  return o ? FindPath(*o, path) : nullptr;
}

std::string_view GetString(const json::object& root, std::string_view path) {
  const json::value* v = FindPath(root, path);
  const json::string* s = v ? v->if_string() : nullptr;
  return s ? std::string_view(*s) : std::string_view();
}

std::optional<int64_t> GetInt(const json::object& root, std::string_view path) {
  const json::value* v = FindPath(root, path);
  return v ? IntOf(*v) : std::nullopt;
}

std::optional<bool> GetBool(const json::object& root, std::string_view path) {
  const json::value* v = FindPath(root, path);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->get_bool();
}

const json::object* GetObject(const json::object& root, std::string_view path) {
  const json::value* v = FindPath(root, path);
  return v ? v->if_object() : nullptr;
}

const json::array* GetArray(const json::object& root, std::string_view path) {
  const json::value* v = FindPath(root, path);
  return v ? v->if_array() : nullptr;
}

json::object& MutableObjectAt(json::object& root, std::string_view path) {
  if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  json::object* cur = &root;
  while (!path.empty()) {
    size_t dot = path.find('.');
    cur = &ChildObject(*cur, path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return *cur;
}

// --- meta getters ----------------------------------------------------------------------------

std::string_view ApiVersion(const json::object& obj) { return StringField(&obj, "apiVersion"); }
std::string_view Kind(const json::object& obj) { return StringField(&obj, "kind"); }
const json::object* Metadata(const json::object& obj) { return ObjectField(&obj, "metadata"); }
std::string_view Name(const json::object& obj) { return StringField(Metadata(obj), "name"); }
std::string_view GenerateName(const json::object& obj) {
  return StringField(Metadata(obj), "generateName");
}
std::string_view Namespace(const json::object& obj) {
  return StringField(Metadata(obj), "namespace");
}
std::string_view Uid(const json::object& obj) { return StringField(Metadata(obj), "uid"); }
std::string_view ResourceVersion(const json::object& obj) {
  return StringField(Metadata(obj), "resourceVersion");
}
int64_t Generation(const json::object& obj) {
  const json::object* meta = Metadata(obj);
  if (meta == nullptr) return 0;
  auto it = meta->find("generation");
  if (it == meta->end()) return 0;
  return IntOf(it->value()).value_or(0);
}
std::string_view CreationTimestamp(const json::object& obj) {
  return StringField(Metadata(obj), "creationTimestamp");
}
std::string_view DeletionTimestamp(const json::object& obj) {
  return StringField(Metadata(obj), "deletionTimestamp");
}
std::optional<int64_t> DeletionGracePeriodSeconds(const json::object& obj) {
  const json::object* meta = Metadata(obj);
  if (meta == nullptr) return std::nullopt;
  auto it = meta->find("deletionGracePeriodSeconds");
  return it == meta->end() ? std::nullopt : IntOf(it->value());
}
bool IsBeingDeleted(const json::object& obj) { return !DeletionTimestamp(obj).empty(); }
const json::object* Labels(const json::object& obj) { return ObjectField(Metadata(obj), "labels"); }
const json::object* Annotations(const json::object& obj) {
  return ObjectField(Metadata(obj), "annotations");
}

std::optional<std::string_view> Label(const json::object& obj, std::string_view key) {
  const json::object* labels = Labels(obj);
  if (labels == nullptr) return std::nullopt;
  auto it = labels->find(key);
  if (it == labels->end() || !it->value().is_string()) return std::nullopt;
  return std::string_view(it->value().get_string());
}

std::optional<std::string_view> Annotation(const json::object& obj, std::string_view key) {
  const json::object* annotations = Annotations(obj);
  if (annotations == nullptr) return std::nullopt;
  auto it = annotations->find(key);
  if (it == annotations->end() || !it->value().is_string()) return std::nullopt;
  return std::string_view(it->value().get_string());
}

std::vector<std::string> Finalizers(const json::object& obj) {
  std::vector<std::string> out;
  const json::object* meta = Metadata(obj);
  if (meta == nullptr) return out;
  auto it = meta->find("finalizers");
  if (it == meta->end() || !it->value().is_array()) return out;
  for (const json::value& f : it->value().get_array()) {
    if (f.is_string()) out.emplace_back(f.get_string());
  }
  return out;
}

bool HasFinalizer(const json::object& obj, std::string_view finalizer) {
  const json::object* meta = Metadata(obj);
  if (meta == nullptr) return false;
  auto it = meta->find("finalizers");
  if (it == meta->end() || !it->value().is_array()) return false;
  for (const json::value& f : it->value().get_array()) {
    if (f.is_string() && f.get_string() == finalizer) return true;
  }
  return false;
}

std::vector<OwnerReference> OwnerReferences(const json::object& obj) {
  std::vector<OwnerReference> out;
  const json::object* meta = Metadata(obj);
  if (meta == nullptr) return out;
  auto it = meta->find("ownerReferences");
  if (it == meta->end() || !it->value().is_array()) return out;
  for (const json::value& r : it->value().get_array()) {
    if (const json::object* o = r.if_object()) out.push_back(ParseOwnerReference(*o));
  }
  return out;
}

std::optional<OwnerReference> ControllerOf(const json::object& obj) {
  for (OwnerReference& r : OwnerReferences(obj)) {
    if (r.controller) return std::move(r);
  }
  return std::nullopt;
}

std::string_view ApiVersion(const json::value& obj) { return ApiVersion(AsObject(obj)); }
std::string_view Kind(const json::value& obj) { return Kind(AsObject(obj)); }
std::string_view Name(const json::value& obj) { return Name(AsObject(obj)); }
std::string_view Namespace(const json::value& obj) { return Namespace(AsObject(obj)); }
std::string_view Uid(const json::value& obj) { return Uid(AsObject(obj)); }
std::string_view ResourceVersion(const json::value& obj) { return ResourceVersion(AsObject(obj)); }
int64_t Generation(const json::value& obj) { return Generation(AsObject(obj)); }
std::string_view CreationTimestamp(const json::value& obj) {
  return CreationTimestamp(AsObject(obj));
}
std::string_view DeletionTimestamp(const json::value& obj) {
  return DeletionTimestamp(AsObject(obj));
}
bool IsBeingDeleted(const json::value& obj) { return IsBeingDeleted(AsObject(obj)); }
const json::object* Labels(const json::value& obj) { return Labels(AsObject(obj)); }
const json::object* Annotations(const json::value& obj) { return Annotations(AsObject(obj)); }
std::vector<std::string> Finalizers(const json::value& obj) { return Finalizers(AsObject(obj)); }
std::vector<OwnerReference> OwnerReferences(const json::value& obj) {
  return OwnerReferences(AsObject(obj));
}

std::pair<std::string_view, std::string_view> SplitApiVersion(std::string_view api_version) {
  size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) return {std::string_view(), api_version};
  return {api_version.substr(0, slash), api_version.substr(slash + 1)};
}

// --- setters -------------------------------------------------------------------------------------

json::object& AsMutableObject(json::value& v) {
  if (!v.is_object()) v.emplace_object();
  return v.get_object();
}

json::object& MutableMetadata(json::object& obj) { return ChildObject(obj, "metadata"); }

void SetApiVersion(json::object& obj, std::string_view api_version) {
  obj["apiVersion"] = json::string(api_version);
}
void SetKind(json::object& obj, std::string_view kind) { obj["kind"] = json::string(kind); }
void SetName(json::object& obj, std::string_view name) { SetMetaString(obj, "name", name); }
void SetNamespace(json::object& obj, std::string_view ns) { SetMetaString(obj, "namespace", ns); }
void SetUid(json::object& obj, std::string_view uid) { SetMetaString(obj, "uid", uid); }
void SetResourceVersion(json::object& obj, std::string_view rv) {
  SetMetaString(obj, "resourceVersion", rv);
}
void SetGeneration(json::object& obj, int64_t generation) {
  MutableMetadata(obj)["generation"] = generation;
}
void SetCreationTimestamp(json::object& obj, std::string_view rfc3339) {
  SetMetaString(obj, "creationTimestamp", rfc3339);
}
void SetDeletionTimestamp(json::object& obj, std::string_view rfc3339) {
  SetMetaString(obj, "deletionTimestamp", rfc3339);
}
void SetDeletionGracePeriodSeconds(json::object& obj, int64_t seconds) {
  MutableMetadata(obj)["deletionGracePeriodSeconds"] = seconds;
}

void SetLabel(json::object& obj, std::string_view key, std::string_view value) {
  ChildObject(MutableMetadata(obj), "labels")[key] = json::string(value);
}
bool RemoveLabel(json::object& obj, std::string_view key) {
  return RemoveMapKey(obj, "labels", key);
}
void SetAnnotation(json::object& obj, std::string_view key, std::string_view value) {
  ChildObject(MutableMetadata(obj), "annotations")[key] = json::string(value);
}
bool RemoveAnnotation(json::object& obj, std::string_view key) {
  return RemoveMapKey(obj, "annotations", key);
}

bool AddFinalizer(json::object& obj, std::string_view finalizer) {
  if (HasFinalizer(obj, finalizer)) return false;
  json::value& list = MutableMetadata(obj)["finalizers"];
  if (!list.is_array()) list.emplace_array();
  list.get_array().emplace_back(json::string(finalizer));
  return true;
}

bool RemoveFinalizer(json::object& obj, std::string_view finalizer) {
  auto mit = obj.find("metadata");
  if (mit == obj.end() || !mit->value().is_object()) return false;
  json::object& meta = mit->value().get_object();
  auto it = meta.find("finalizers");
  if (it == meta.end() || !it->value().is_array()) return false;
  json::array& list = it->value().get_array();
  size_t before = list.size();
  for (auto f = list.begin(); f != list.end();) {
    if (f->is_string() && f->get_string() == finalizer) {
      f = list.erase(f);
    } else {
      ++f;
    }
  }
  bool removed = list.size() != before;
  if (list.empty()) meta.erase("finalizers");
  return removed;
}

void SetOwnerReferences(json::object& obj, const std::vector<OwnerReference>& refs) {
  json::object& meta = MutableMetadata(obj);
  if (refs.empty()) {
    meta.erase("ownerReferences");
    return;
  }
  json::array arr;
  arr.reserve(refs.size());
  for (const OwnerReference& r : refs) arr.emplace_back(r.ToJson());
  meta["ownerReferences"] = std::move(arr);
}

}  // namespace mini8s::api
