// The compact tables gen/gen_registry.py emits into generated/builtin_tables.cpp, and that
// Registry::NewBuiltin() turns into Schema nodes and KindInfo entries. Private to api/core.
//
// Everything here is constant-initialised POD (no static constructors, nothing to parse at
// start-up). Strings are indexes into kStrings (0 is ""), string lists are offsets into kLists
// (kLists[off] is the count, the string indexes follow; offset 0 is the empty list), and nodes
// refer to one another by index into kNodes (-1 = none).
#pragma once

#include <cstddef>
#include <cstdint>

#include "mini8s/api/schema.h"

namespace mini8s::api::gen {

enum NodeFlags : uint8_t {
  kFlagPreserveUnknown = 1,
  kFlagEmbeddedResource = 2,
  kFlagNullable = 4,
};

struct NodeRow {
  Type type;
  uint8_t flags;
  int32_t format;      // string
  int32_t definition;  // string: the swagger definition the node was built from
  int32_t required;    // list
  int32_t prop_begin;  // into kProps
  int32_t prop_count;
  int32_t items;            // node
  int32_t additional;       // node
  int32_t list_type;        // string
  int32_t list_map_keys;    // list
  int32_t map_type;         // string
  int32_t patch_strategy;   // string
  int32_t patch_merge_key;  // string
  int32_t gvks;             // list of (group, version, kind) string triples
};

struct PropRow {
  int32_t name;  // string
  int32_t node;
  int32_t proto_tag;  // 0 = unknown
};

struct DefRow {
  int32_t name;  // string; kDefs is sorted by name
  int32_t node;
};

struct SubresourceRow {
  int32_t name;                  // string: "status", "scale", "exec", ...
  int32_t group, version, kind;  // strings: the body's kind (responseKind)
  int32_t verbs;                 // list
};

struct ResourceRow {
  int32_t group, version, kind;  // strings
  int32_t plural;                // string; "" for subresource-only kinds
  int32_t node;                  // the kind's root schema
  bool namespaced;
  bool subresource_only;  // served only as another resource's subresource (Scale, Eviction, ...)
  int32_t verbs;          // list
  int32_t sub_begin;      // into kSubresources
  int32_t sub_count;
};

extern const char* const kStrings[];
extern const size_t kStringCount;
extern const int32_t kLists[];
extern const size_t kListsSize;
extern const NodeRow kNodes[];
extern const size_t kNodeCount;
extern const PropRow kProps[];
extern const size_t kPropCount;
extern const DefRow kDefs[];
extern const size_t kDefCount;
extern const SubresourceRow kSubresources[];
extern const size_t kSubresourceCount;
extern const ResourceRow kResources[];
extern const size_t kResourceCount;

}  // namespace mini8s::api::gen
