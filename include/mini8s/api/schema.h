// The schema registry's vocabulary: one description per kind that validation, defaulting, the
// strategic merge patch, Table output, discovery, OpenAPI, `kubectl explain` and the protobuf
// decoder all read (DESIGN §3 "Object model").
//
// Schema nodes are immutable once published and have stable addresses. Built-in nodes live as
// long as the registry (or any KindInfo that holds them); a custom kind's nodes live as long as
// its KindInfo (KindInfo::schema_arena), so hold the KindInfoConstSharedPtr, not just the
// `const Schema*`, when a CRD may be removed meanwhile. Recursive definitions (JSONSchemaProps)
// are plain pointer cycles. Nodes without their own facts are shared: two properties that both
// refer to io.k8s.api.core.v1.Container point at the same node.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace mini8s::api {

enum class Type : uint8_t {
  kAny,     // no type constraint (RawExtension, JSON, preserve-unknown without properties)
  kObject,  // fixed properties (and/or additional_properties for maps)
  kArray,
  kString,
  kInteger,
  kNumber,
  kBoolean,
  kIntOrString,  // format "int-or-string"
  kQuantity,     // resource.Quantity: a string or a number on the wire
};

struct Schema;

struct GroupVersionKind {
  std::string group;  // "" for core
  std::string version;
  std::string kind;
  friend bool operator==(const GroupVersionKind&, const GroupVersionKind&) = default;
};

// One property of an object schema. The protobuf tag belongs to the edge, not the child type,
// because the same message type (ObjectMeta, Container) is reused with its own numbering.
struct Property {
  std::string name;
  const Schema* schema = nullptr;
  int proto_tag = 0;  // 0 = unknown / not sent as protobuf
};

struct Schema {
  Type type = Type::kAny;
  std::string format;  // int32, int64, double, date-time, byte, int-or-string, ...
  // The definition this node was built from, e.g. io.k8s.api.core.v1.PodSpec ("" for inline
  // nodes; "com.example.stable.v1.CronTab" style for the root of a custom resource).
  std::string definition;
  std::string description;  // mini8s's own short text (never upstream's); may be empty
  // x-kubernetes-group-version-kind of a definition node (one entry for a kind, several for
  // shared types such as DeleteOptions); what /openapi publishes for `kubectl explain`.
  std::vector<GroupVersionKind> group_version_kinds;
  std::vector<std::string> enum_values;
  std::vector<std::string> required;
  std::vector<Property> properties;               // declaration order
  const Schema* items = nullptr;                  // kArray
  const Schema* additional_properties = nullptr;  // map values (object with open keys)
  bool preserve_unknown_fields = false;           // x-kubernetes-preserve-unknown-fields
  bool embedded_resource = false;                 // x-kubernetes-embedded-resource
  bool nullable = false;

  // List and map semantics (server-side apply and strategic merge patch).
  std::string list_type;  // "atomic" | "set" | "map" | "" (x-kubernetes-list-type)
  std::vector<std::string> list_map_keys;
  std::string map_type;        // "atomic" | "granular" | ""
  std::string patch_strategy;  // "merge" | "replace" | "retainKeys" | "merge,retainKeys" | ""
  std::string patch_merge_key;

  // Value constraints (mostly from CRD openAPIV3Schema).
  std::optional<double> minimum, maximum;
  bool exclusive_minimum = false, exclusive_maximum = false;
  std::optional<int64_t> min_length, max_length, min_items, max_items, min_properties,
      max_properties;
  std::string pattern;
  std::optional<boost::json::value> default_value;

  // The property named `name`, or nullptr.
  const Property* FindProperty(std::string_view name) const;
  // The schema for a child: a property's schema, else additional_properties, else nullptr
  // (nullptr also when this node is kAny or preserves unknown fields).
  const Schema* Child(std::string_view name) const;
  bool IsMap() const { return type == Type::kObject && additional_properties != nullptr; }
};

// A column of `kubectl get` output (metav1.TableColumnDefinition) and how to fill it.
struct TableColumn {
  std::string name;         // "NAME", "READY", ...
  std::string type;         // "string" | "integer" | "number" | "boolean" | "date"
  std::string format;       // "name" for the NAME column, "" otherwise
  std::string description;  // mini8s's own words
  int priority = 0;         // 0 = always shown, 1 = -o wide only
  // A simple JSONPath into the object (".spec.replicas"): the whole cell for CRD
  // additionalPrinterColumns (printer empty); for built-ins, where set, the field the printer
  // starts from (it may still format it, e.g. "<none>" for empty).
  std::string json_path;
  // The name of a built-in cell printer ("name", "age", "created_at", "pod.ready", ...), or empty
  // when json_path alone gives the cell (custom resources).
  std::string printer;
};

// One subresource of a resource, as discovery lists it (APISubresourceDiscovery).
struct SubresourceInfo {
  std::string name;                  // "status", "scale", "exec", ...
  std::string group, version, kind;  // the body's kind (responseKind): autoscaling/v1 Scale
  std::vector<std::string> verbs;    // "get", "patch", "update", "create", ...
};

struct KindInfo {
  std::string group;  // "" for core
  std::string version;
  std::string kind;
  std::string list_kind;                 // "PodList"
  std::string plural;                    // "pods"
  std::string singular;                  // "pod"
  std::vector<std::string> short_names;  // {"po"}
  std::vector<std::string> categories;   // {"all"}
  std::vector<std::string> verbs;  // create delete deletecollection get list patch update watch
  std::vector<std::string> subresources;  // "status", "scale", "log", "exec", "binding", ...
  std::vector<SubresourceInfo> subresource_info;  // the same subresources, in the same order
  bool namespaced = true;
  bool custom = false;             // added at run time from a CustomResourceDefinition
  const Schema* schema = nullptr;  // the kind's root object schema
  // Upstream's Table columns in order (the name column has format "name"); kinds without
  // upstream printers get Name + "Created At", custom kinds Name + their printer columns.
  std::vector<TableColumn> columns;
  // Field selectors beyond metadata.name and metadata.namespace (e.g. spec.nodeName, status.phase).
  std::vector<std::string> selectable_fields;
  // For the scale subresource: JSON paths of spec replicas, status replicas and label selector.
  std::string scale_spec_replicas_path, scale_status_replicas_path, scale_label_selector_path;
  // True for kinds that are only bodies of other resources' subresources (autoscaling/v1 Scale,
  // policy/v1 Eviction, authentication.k8s.io/v1 TokenRequest): they have a GVK and a schema but
  // no plural and no verbs, and discovery must not list them as resources of their group.
  bool subresource_only = false;
  // Keeps `schema` and every node it reaches alive (the built-in arena, or a CRD's own arena).
  std::shared_ptr<const void> schema_arena;

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  bool HasSubresource(std::string_view name) const;
  bool HasVerb(std::string_view verb) const;
};

using KindInfoConstSharedPtr = std::shared_ptr<const KindInfo>;

}  // namespace mini8s::api
