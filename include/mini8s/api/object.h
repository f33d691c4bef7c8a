// Typed accessors over Kubernetes objects held as Boost.JSON values (DESIGN §3 "Object model").
//
// Getters never throw and never crash: a missing field, or a field of the wrong JSON type, reads
// as the empty/zero value (or nullptr). Returned string_views and pointers point into the object
// and stay valid until it is modified. Setters create the intermediate objects they need
// (`metadata`, `metadata.labels`, ...) and replace a wrongly-typed intermediate with an object.
//
// Every getter has overloads for `boost::json::object` and `boost::json::value` (a value that is
// not an object reads as an empty object). Thread-compatible: free functions over caller-owned
// data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace mini8s::api {

// metav1.OwnerReference, as read from metadata.ownerReferences.
struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;

  boost::json::object ToJson() const;
  friend bool operator==(const OwnerReference&, const OwnerReference&) = default;
};

// --- generic field access -------------------------------------------------------------------

// The value at a dotted path ("spec.template.spec.nodeName"; a leading '.' is allowed), or nullptr
// if some step is missing or not an object. Array steps are not supported (use the JSON directly).
const boost::json::value* FindPath(const boost::json::value& root, std::string_view path);
const boost::json::value* FindPath(const boost::json::object& root, std::string_view path);
// Typed reads of a dotted path; the fallback when missing or wrongly typed.
std::string_view GetString(const boost::json::object& root, std::string_view path);
std::optional<int64_t> GetInt(const boost::json::object& root, std::string_view path);
std::optional<bool> GetBool(const boost::json::object& root, std::string_view path);
const boost::json::object* GetObject(const boost::json::object& root, std::string_view path);
const boost::json::array* GetArray(const boost::json::object& root, std::string_view path);

// The object at a dotted path, created (with every missing or non-object step) if needed.
boost::json::object& MutableObjectAt(boost::json::object& root, std::string_view path);

// --- type and object meta ---------------------------------------------------------------------

std::string_view ApiVersion(const boost::json::object& obj);
std::string_view Kind(const boost::json::object& obj);
// metadata, or nullptr.
const boost::json::object* Metadata(const boost::json::object& obj);
std::string_view Name(const boost::json::object& obj);
std::string_view GenerateName(const boost::json::object& obj);
std::string_view Namespace(const boost::json::object& obj);
std::string_view Uid(const boost::json::object& obj);
std::string_view ResourceVersion(const boost::json::object& obj);
int64_t Generation(const boost::json::object& obj);  // 0 if unset
std::string_view CreationTimestamp(const boost::json::object& obj);
std::string_view DeletionTimestamp(const boost::json::object& obj);
// metadata.deletionGracePeriodSeconds, if set.
std::optional<int64_t> DeletionGracePeriodSeconds(const boost::json::object& obj);
// True when metadata.deletionTimestamp is set.
bool IsBeingDeleted(const boost::json::object& obj);
// metadata.labels / metadata.annotations, or nullptr.
const boost::json::object* Labels(const boost::json::object& obj);
const boost::json::object* Annotations(const boost::json::object& obj);
// One label or annotation; nullopt if absent (or not a string).
std::optional<std::string_view> Label(const boost::json::object& obj, std::string_view key);
std::optional<std::string_view> Annotation(const boost::json::object& obj, std::string_view key);
std::vector<std::string> Finalizers(const boost::json::object& obj);
bool HasFinalizer(const boost::json::object& obj, std::string_view finalizer);
// metadata.ownerReferences; entries that are not objects are skipped.
std::vector<OwnerReference> OwnerReferences(const boost::json::object& obj);
// The owner reference with controller=true, if any.
std::optional<OwnerReference> ControllerOf(const boost::json::object& obj);

// The same getters over a value (a non-object value reads as empty).
std::string_view ApiVersion(const boost::json::value& obj);
std::string_view Kind(const boost::json::value& obj);
std::string_view Name(const boost::json::value& obj);
std::string_view Namespace(const boost::json::value& obj);
std::string_view Uid(const boost::json::value& obj);
std::string_view ResourceVersion(const boost::json::value& obj);
int64_t Generation(const boost::json::value& obj);
std::string_view CreationTimestamp(const boost::json::value& obj);
std::string_view DeletionTimestamp(const boost::json::value& obj);
bool IsBeingDeleted(const boost::json::value& obj);
const boost::json::object* Labels(const boost::json::value& obj);
const boost::json::object* Annotations(const boost::json::value& obj);
std::vector<std::string> Finalizers(const boost::json::value& obj);
std::vector<OwnerReference> OwnerReferences(const boost::json::value& obj);

// "group/version" split: {"apps", "v1"} for "apps/v1", {"", "v1"} for "v1".
std::pair<std::string_view, std::string_view> SplitApiVersion(std::string_view api_version);

// --- setters ------------------------------------------------------------------------------------

// metadata, created if missing or not an object.
boost::json::object& MutableMetadata(boost::json::object& obj);
// A value that is not an object is replaced by an empty object first.
boost::json::object& AsMutableObject(boost::json::value& v);

void SetApiVersion(boost::json::object& obj, std::string_view api_version);
void SetKind(boost::json::object& obj, std::string_view kind);
void SetName(boost::json::object& obj, std::string_view name);
void SetNamespace(boost::json::object& obj, std::string_view ns);
void SetUid(boost::json::object& obj, std::string_view uid);
void SetResourceVersion(boost::json::object& obj, std::string_view rv);
void SetGeneration(boost::json::object& obj, int64_t generation);
void SetCreationTimestamp(boost::json::object& obj, std::string_view rfc3339);
void SetDeletionTimestamp(boost::json::object& obj, std::string_view rfc3339);
void SetDeletionGracePeriodSeconds(boost::json::object& obj, int64_t seconds);
void SetLabel(boost::json::object& obj, std::string_view key, std::string_view value);
// Removes one label; drops an empty labels map. Returns true if it was present.
bool RemoveLabel(boost::json::object& obj, std::string_view key);
void SetAnnotation(boost::json::object& obj, std::string_view key, std::string_view value);
bool RemoveAnnotation(boost::json::object& obj, std::string_view key);
// Adds a finalizer unless present. Returns true if added.
bool AddFinalizer(boost::json::object& obj, std::string_view finalizer);
// Removes every occurrence; drops an empty list. Returns true if one was removed.
bool RemoveFinalizer(boost::json::object& obj, std::string_view finalizer);
// Replaces metadata.ownerReferences (removes the field when `refs` is empty).
void SetOwnerReferences(boost::json::object& obj, const std::vector<OwnerReference>& refs);

}  // namespace mini8s::api
