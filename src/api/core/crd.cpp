// CustomResourceDefinition (apiextensions.k8s.io/v1) -> KindInfo + Schema nodes.
//
// The schema rules are the structural-schema rules the upstream API server enforces, as far as
// the registry needs them to be usable: every node that describes a field has a type (unless it
// is int-or-string or preserves unknown fields), arrays have one items schema, properties and
// additionalProperties are exclusive, and no $ref/definitions. Value-only junctors (allOf, anyOf,
// oneOf, not) and x-kubernetes-validations are left to validation and not turned into nodes.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include <boost/json/value.hpp>

#include "api/core/kinds.h"
#include "api/core/registry_impl.h"
#include "mini8s/common/json.h"

namespace mini8s::api::detail {
namespace json = boost::json;

namespace {

constexpr int kMaxDepth = 64;  // deeper schemas are rejected rather than recursed into

Status Required(const std::string& path, std::string_view why = "") {
  std::string msg = path + ": Required value";
  if (!why.empty()) msg.append(": ").append(why);
  return Status::Invalid(std::move(msg));
}
Status InvalidValue(const std::string& path, const json::value& v, std::string_view why) {
  return Status::Invalid(path + ": Invalid value: " + SerializeJson(v) + ": " + std::string(why));
}
Status Unsupported(const std::string& path, const json::value& v, std::string_view allowed) {
  return Status::Invalid(path + ": Unsupported value: " + SerializeJson(v) +
                         ": supported values: " + std::string(allowed));
}
Status Forbidden(const std::string& path, std::string_view why) {
  return Status::Invalid(path + ": Forbidden: " + std::string(why));
}

const json::value* Field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

// A string field: nullopt if absent, an error if present but not a string.
Result<std::string> StringOr(const json::object& o, std::string_view key, const std::string& path,
                             std::string fallback = {}) {
  const json::value* v = Field(o, key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_string()) return InvalidValue(path + "." + std::string(key), *v, "must be a string");
  return std::string(v->get_string());
}

Result<bool> BoolOr(const json::object& o, std::string_view key, const std::string& path,
                    bool fallback) {
  const json::value* v = Field(o, key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_bool()) return InvalidValue(path + "." + std::string(key), *v, "must be a boolean");
  return v->get_bool();
}

std::optional<double> NumberOf(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

Result<std::optional<int64_t>> CountOr(const json::object& o, std::string_view key,
                                       const std::string& path) {
  const json::value* v = Field(o, key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  std::optional<double> d = NumberOf(*v);
  if (!d || *d < 0 || *d >= 0x1p63 || *d != std::trunc(*d)) {  // range first: no UB cast
    return InvalidValue(path + "." + std::string(key), *v, "must be a non-negative integer");
  }
  return std::optional<int64_t>(static_cast<int64_t>(*d));
}

Result<std::vector<std::string>> StringList(const json::object& o, std::string_view key,
                                            const std::string& path) {
  std::vector<std::string> out;
  const json::value* v = Field(o, key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return InvalidValue(path + "." + std::string(key), *v, "must be a list");
  const json::array& a = v->get_array();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) {
      return InvalidValue(path + "." + std::string(key) + "[" + std::to_string(i) + "]", a[i],
                          "must be a string");
    }
    out.emplace_back(a[i].get_string());
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "stable.example.com" + "v1" + "CronTab" -> "com.example.stable.v1.CronTab", the definition
// name upstream's OpenAPI uses for custom resources.
std::string DefinitionName(std::string_view group, std::string_view version,
                           std::string_view kind) {
  std::string out;
  size_t end = group.size();
  while (true) {
    size_t dot = group.rfind('.', end == 0 ? 0 : end - 1);
    if (dot == std::string_view::npos || end == 0) {
      out.append(group.substr(0, end));
      break;
    }
    out.append(group.substr(dot + 1, end - dot - 1)).append(".");
    end = dot;
  }
  return out + "." + std::string(version) + "." + std::string(kind);
}

class SchemaBuilder {
 public:
  explicit SchemaBuilder(CustomArena& arena) : arena_(arena) {}

  // Builds the node for `v` (the root, a property, items or additionalProperties) at `path`.
  Result<Schema*> Build(const json::value& v, const std::string& path, int depth) {
    if (depth > kMaxDepth) return Forbidden(path, "schema is nested too deeply");
    const json::object* o = v.if_object();
    if (o == nullptr) return InvalidValue(path, v, "must be a schema object");

    for (std::string_view forbidden : {"$ref", "definitions", "dependencies", "patternProperties",
                                       "additionalItems", "id", "$schema"}) {
      if (Field(*o, forbidden) != nullptr) {
        return Forbidden(path + "." + std::string(forbidden), "must not be set");
      }
    }
    if (const json::value* u = Field(*o, "uniqueItems"); u && u->is_bool() && u->get_bool()) {
      return Forbidden(path + ".uniqueItems", "uniqueItems cannot be set to true");
    }

    Schema& s = arena_.nodes.emplace_back();
    MINI8S_ASSIGN_OR_RETURN(std::string type, StringOr(*o, "type", path));
    MINI8S_ASSIGN_OR_RETURN(bool int_or_string,
                            BoolOr(*o, "x-kubernetes-int-or-string", path, false));
    MINI8S_ASSIGN_OR_RETURN(s.preserve_unknown_fields,
                            BoolOr(*o, "x-kubernetes-preserve-unknown-fields", path, false));
    if (const json::value* p = Field(*o, "x-kubernetes-preserve-unknown-fields");
        p && p->is_bool() && !p->get_bool()) {
      return InvalidValue(path + ".x-kubernetes-preserve-unknown-fields", *p,
                          "must be true or undefined");
    }
    MINI8S_ASSIGN_OR_RETURN(s.embedded_resource,
                            BoolOr(*o, "x-kubernetes-embedded-resource", path, false));
    MINI8S_ASSIGN_OR_RETURN(s.nullable, BoolOr(*o, "nullable", path, false));
    MINI8S_ASSIGN_OR_RETURN(s.format, StringOr(*o, "format", path));
    MINI8S_ASSIGN_OR_RETURN(s.description, StringOr(*o, "description", path));
    MINI8S_ASSIGN_OR_RETURN(s.pattern, StringOr(*o, "pattern", path));

    if (int_or_string) {
      if (!type.empty()) {
        return InvalidValue(path + ".type", json::value(type),
                            "must be empty if x-kubernetes-int-or-string is true");
      }
      s.type = Type::kIntOrString;
    } else if (type.empty()) {
      if (!s.preserve_unknown_fields) {
        return Required(path + ".type", "must not be empty for specified fields");
      }
      s.type = Type::kAny;
    } else if (type == "object") {
      s.type = Type::kObject;
    } else if (type == "array") {
      s.type = Type::kArray;
    } else if (type == "string") {
      s.type = Type::kString;
    } else if (type == "integer") {
      s.type = Type::kInteger;
    } else if (type == "number") {
      s.type = Type::kNumber;
    } else if (type == "boolean") {
      s.type = Type::kBoolean;
    } else {
      return Unsupported(path + ".type", json::value(type),
                         "\"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"");
    }
    if (s.embedded_resource && s.type != Type::kObject) {
      return Forbidden(path + ".x-kubernetes-embedded-resource", "requires type object");
    }

    // Constraints.
    if (const json::value* m = Field(*o, "minimum")) {
      if (!NumberOf(*m)) return InvalidValue(path + ".minimum", *m, "must be a number");
      s.minimum = NumberOf(*m);
    }
    if (const json::value* m = Field(*o, "maximum")) {
      if (!NumberOf(*m)) return InvalidValue(path + ".maximum", *m, "must be a number");
      s.maximum = NumberOf(*m);
    }
    MINI8S_ASSIGN_OR_RETURN(s.exclusive_minimum, BoolOr(*o, "exclusiveMinimum", path, false));
    MINI8S_ASSIGN_OR_RETURN(s.exclusive_maximum, BoolOr(*o, "exclusiveMaximum", path, false));
    MINI8S_ASSIGN_OR_RETURN(s.min_length, CountOr(*o, "minLength", path));
    MINI8S_ASSIGN_OR_RETURN(s.max_length, CountOr(*o, "maxLength", path));
    MINI8S_ASSIGN_OR_RETURN(s.min_items, CountOr(*o, "minItems", path));
    MINI8S_ASSIGN_OR_RETURN(s.max_items, CountOr(*o, "maxItems", path));
    MINI8S_ASSIGN_OR_RETURN(s.min_properties, CountOr(*o, "minProperties", path));
    MINI8S_ASSIGN_OR_RETURN(s.max_properties, CountOr(*o, "maxProperties", path));
    if (const json::value* d = Field(*o, "default")) s.default_value = *d;
    if (const json::value* e = Field(*o, "enum")) {
      if (!e->is_array()) return InvalidValue(path + ".enum", *e, "must be a list");
      // Strings are kept as they are; other values as their JSON text ("1", "true").
      for (const json::value& item : e->get_array()) {
        s.enum_values.push_back(item.is_string() ? std::string(item.get_string())
                                                 : SerializeJson(item));
      }
    }
    MINI8S_ASSIGN_OR_RETURN(s.required, StringList(*o, "required", path));

    // Children.
    const json::value* props = Field(*o, "properties");
    const json::value* additional = Field(*o, "additionalProperties");
    if (props && additional && !(additional->is_bool() && additional->get_bool())) {
      return Forbidden(path + ".additionalProperties",
                       "additionalProperties and properties are mutual exclusive");
    }
    if (props) {
      if (!props->is_object()) return InvalidValue(path + ".properties", *props, "must be a map");
      if (s.type != Type::kObject && s.type != Type::kAny) {
        return Forbidden(path + ".properties", "only allowed for type object");
      }
      for (const auto& [name, child] : props->get_object()) {
        std::string child_path = path + ".properties[" + std::string(name) + "]";
        MINI8S_ASSIGN_OR_RETURN(Schema * c, Build(child, child_path, depth + 1));
        s.properties.push_back(Property{std::string(name), c, 0});
      }
    }
    if (additional) {
      if (additional->is_bool()) {
        // additionalProperties: true is "any value" (only meaningful with preserve-unknown);
        // false is the default for structural schemas.
        if (additional->get_bool() && !props) s.preserve_unknown_fields = true;
      } else {
        if (s.type != Type::kObject) {
          return Forbidden(path + ".additionalProperties", "only allowed for type object");
        }
        MINI8S_ASSIGN_OR_RETURN(s.additional_properties,
                                Build(*additional, path + ".additionalProperties", depth + 1));
      }
    }
    if (const json::value* items = Field(*o, "items")) {
      if (s.type != Type::kArray) return Forbidden(path + ".items", "only allowed for type array");
      if (items->is_array()) {
        return Forbidden(path + ".items", "items must be a schema object and not an array");
      }
      MINI8S_ASSIGN_OR_RETURN(s.items, Build(*items, path + ".items", depth + 1));
    } else if (s.type == Type::kArray) {
      return Required(path + ".items", "must be specified");
    }
    for (const std::string& r : s.required) {
      if (props && s.FindProperty(r) == nullptr && !s.preserve_unknown_fields) {
        return InvalidValue(path + ".required", json::value(r), "is not a declared property");
      }
    }

    // List and map semantics.
    MINI8S_ASSIGN_OR_RETURN(s.list_type, StringOr(*o, "x-kubernetes-list-type", path));
    MINI8S_ASSIGN_OR_RETURN(s.list_map_keys, StringList(*o, "x-kubernetes-list-map-keys", path));
    MINI8S_ASSIGN_OR_RETURN(s.map_type, StringOr(*o, "x-kubernetes-map-type", path));
    if (!s.list_type.empty()) {
      if (s.type != Type::kArray) {
        return Forbidden(path + ".x-kubernetes-list-type", "only allowed for type array");
      }
      if (s.list_type != "atomic" && s.list_type != "set" && s.list_type != "map") {
        return Unsupported(path + ".x-kubernetes-list-type", json::value(s.list_type),
                           "\"atomic\", \"map\", \"set\"");
      }
    }
    if (s.list_type == "map") {
      if (s.list_map_keys.empty()) {
        return Required(path + ".x-kubernetes-list-map-keys",
                        "must not be empty if x-kubernetes-list-type is map");
      }
      if (s.items == nullptr || s.items->type != Type::kObject) {
        return Forbidden(path + ".items.type",
                         "must be object if parent array's x-kubernetes-list-type is map");
      }
      for (const std::string& key : s.list_map_keys) {
        if (s.items->FindProperty(key) == nullptr) {
          return InvalidValue(path + ".x-kubernetes-list-map-keys", json::value(key),
                              "entries must all be names of item properties");
        }
      }
      // Strategic-merge semantics for custom lists follow the list-map keys (single key only).
      if (s.list_map_keys.size() == 1) s.patch_merge_key = s.list_map_keys[0];
    } else if (!s.list_map_keys.empty()) {
      return Forbidden(path + ".x-kubernetes-list-map-keys",
                       "only allowed if x-kubernetes-list-type is map");
    }
    if (!s.map_type.empty()) {
      if (s.type != Type::kObject) {
        return Forbidden(path + ".x-kubernetes-map-type", "only allowed for type object");
      }
      if (s.map_type != "atomic" && s.map_type != "granular") {
        return Unsupported(path + ".x-kubernetes-map-type", json::value(s.map_type),
                           "\"atomic\", \"granular\"");
      }
    }
    return &s;
  }

 private:
  CustomArena& arena_;
};

struct Names {
  std::string plural, singular, kind, list_kind;
  std::vector<std::string> short_names, categories;
};

Result<Names> ReadNames(const json::object& spec) {
  const json::value* v = Field(spec, "names");
  if (v == nullptr) return Required("spec.names");
  const json::object* n = v->if_object();
  if (n == nullptr) return InvalidValue("spec.names", *v, "must be an object");
  Names names;
  MINI8S_ASSIGN_OR_RETURN(names.plural, StringOr(*n, "plural", "spec.names"));
  MINI8S_ASSIGN_OR_RETURN(names.kind, StringOr(*n, "kind", "spec.names"));
  if (names.plural.empty()) return Required("spec.names.plural");
  if (names.kind.empty()) return Required("spec.names.kind");
  if (names.plural != Lower(names.plural)) {
    return InvalidValue("spec.names.plural", json::value(names.plural), "must be lowercase");
  }
  MINI8S_ASSIGN_OR_RETURN(names.singular,
                          StringOr(*n, "singular", "spec.names", Lower(names.kind)));
  MINI8S_ASSIGN_OR_RETURN(names.list_kind,
                          StringOr(*n, "listKind", "spec.names", names.kind + "List"));
  MINI8S_ASSIGN_OR_RETURN(names.short_names, StringList(*n, "shortNames", "spec.names"));
  MINI8S_ASSIGN_OR_RETURN(names.categories, StringList(*n, "categories", "spec.names"));
  return names;
}

Result<std::vector<TableColumn>> ReadColumns(const json::object& version, const std::string& path) {
  std::vector<TableColumn> columns;
  TableColumn name_col;
  name_col.name = "Name";
  name_col.type = "string";
  name_col.format = "name";
  name_col.printer = "name";
  name_col.json_path = ".metadata.name";
  columns.push_back(std::move(name_col));
  const json::value* v = Field(version, "additionalPrinterColumns");
  if (v == nullptr || v->is_null() || (v->is_array() && v->get_array().empty())) {
    // Upstream's table for a custom resource without printer columns: Name and Age.
    TableColumn age;
    age.name = "Age";
    age.type = "date";
    age.printer = "age";
    age.json_path = ".metadata.creationTimestamp";
    columns.push_back(std::move(age));
    return columns;
  }
  if (!v->is_array()) return InvalidValue(path + ".additionalPrinterColumns", *v, "must be a list");
  const json::array& a = v->get_array();
  for (size_t i = 0; i < a.size(); ++i) {
    std::string p = path + ".additionalPrinterColumns[" + std::to_string(i) + "]";
    const json::object* c = a[i].if_object();
    if (c == nullptr) return InvalidValue(p, a[i], "must be an object");
    TableColumn col;
    MINI8S_ASSIGN_OR_RETURN(col.name, StringOr(*c, "name", p));
    MINI8S_ASSIGN_OR_RETURN(col.type, StringOr(*c, "type", p));
    MINI8S_ASSIGN_OR_RETURN(col.format, StringOr(*c, "format", p));
    MINI8S_ASSIGN_OR_RETURN(col.description, StringOr(*c, "description", p));
    MINI8S_ASSIGN_OR_RETURN(col.json_path, StringOr(*c, "jsonPath", p));
    if (col.name.empty()) return Required(p + ".name");
    if (col.json_path.empty()) return Required(p + ".jsonPath");
    if (col.type != "integer" && col.type != "number" && col.type != "string" &&
        col.type != "boolean" && col.type != "date") {
      return Unsupported(p + ".type", json::value(col.type),
                         "\"boolean\", \"date\", \"integer\", \"number\", \"string\"");
    }
    if (const json::value* pr = Field(*c, "priority")) {
      std::optional<double> d = NumberOf(*pr);
      if (!d || *d < 0 || *d != static_cast<double>(static_cast<int>(*d))) {
        return InvalidValue(p + ".priority", *pr, "must be a non-negative integer");
      }
      col.priority = static_cast<int>(*d);
    }
    columns.push_back(std::move(col));
  }
  return columns;
}

// Adds apiVersion, kind and the built-in ObjectMeta to a custom root.
void CompleteRoot(Schema& root, const BuiltinArena& builtin, CustomArena& arena) {
  const Schema* meta = builtin.FindDefinition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  Schema& str = arena.nodes.emplace_back();
  str.type = Type::kString;
  std::vector<Property> props;
  props.push_back(Property{"apiVersion", &str, 0});
  props.push_back(Property{"kind", &str, 0});
  props.push_back(Property{"metadata", meta, 0});
  for (Property& p : root.properties) {
    if (p.name != "apiVersion" && p.name != "kind" && p.name != "metadata") {
      props.push_back(std::move(p));
    }
  }
  root.properties = std::move(props);
}

}  // namespace

Result<CustomKinds> BuildCustomKinds(const json::value& crd,
                                     const std::shared_ptr<const BuiltinArena>& builtin) {
  const json::object* obj = crd.if_object();
  if (obj == nullptr) return Status::Invalid("<root>: Invalid value: must be an object");
  const json::value* spec_v = Field(*obj, "spec");
  if (spec_v == nullptr) return Required("spec");
  const json::object* spec = spec_v->if_object();
  if (spec == nullptr) return InvalidValue("spec", *spec_v, "must be an object");

  CustomKinds out;
  MINI8S_ASSIGN_OR_RETURN(out.group, StringOr(*spec, "group", "spec"));
  if (out.group.empty()) return Required("spec.group");
  if (out.group.find('.') == std::string::npos) {
    return InvalidValue("spec.group", json::value(out.group),
                        "should be a domain with at least one dot");
  }
  MINI8S_ASSIGN_OR_RETURN(Names names, ReadNames(*spec));
  MINI8S_ASSIGN_OR_RETURN(std::string scope, StringOr(*spec, "scope", "spec"));
  if (scope != "Namespaced" && scope != "Cluster") {
    return Unsupported("spec.scope", json::value(scope), "\"Cluster\", \"Namespaced\"");
  }
  const json::value* meta_v = Field(*obj, "metadata");
  const json::object* meta = meta_v ? meta_v->if_object() : nullptr;
  if (meta != nullptr) {
    MINI8S_ASSIGN_OR_RETURN(out.crd_name, StringOr(*meta, "name", "metadata"));
  }
  if (out.crd_name != names.plural + "." + out.group) {
    return InvalidValue("metadata.name", json::value(out.crd_name),
                        "must be spec.names.plural+\".\"+spec.group");
  }

  const json::value* versions_v = Field(*spec, "versions");
  if (versions_v == nullptr || !versions_v->is_array() || versions_v->get_array().empty()) {
    return Required("spec.versions", "must have exactly one version marked as storage version");
  }
  const json::array& versions = versions_v->get_array();

  auto arena = std::make_shared<CustomArena>();
  arena->builtin = builtin;
  SchemaBuilder builder(*arena);
  int storage_count = 0;
  for (size_t i = 0; i < versions.size(); ++i) {
    std::string path = "spec.versions[" + std::to_string(i) + "]";
    const json::object* v = versions[i].if_object();
    if (v == nullptr) return InvalidValue(path, versions[i], "must be an object");
    MINI8S_ASSIGN_OR_RETURN(std::string name, StringOr(*v, "name", path));
    if (name.empty()) return Required(path + ".name");
    for (size_t j = 0; j < i; ++j) {
      const json::object* prev = versions[j].if_object();
      const json::value* prev_name = prev ? Field(*prev, "name") : nullptr;
      if (prev_name && prev_name->is_string() && prev_name->get_string() == name) {
        return Status::Invalid(path + ".name: Duplicate value: \"" + name + "\"");
      }
    }
    MINI8S_ASSIGN_OR_RETURN(bool served, BoolOr(*v, "served", path, false));
    MINI8S_ASSIGN_OR_RETURN(bool storage, BoolOr(*v, "storage", path, false));
    if (storage) ++storage_count;

    const json::value* schema_v = Field(*v, "schema");
    const json::object* schema_o = schema_v ? schema_v->if_object() : nullptr;
    const json::value* root_v = schema_o ? Field(*schema_o, "openAPIV3Schema") : nullptr;
    std::string schema_path = path + ".schema.openAPIV3Schema";
    if (root_v == nullptr) return Required(schema_path, "schemas are required");
    MINI8S_ASSIGN_OR_RETURN(Schema * root_p, builder.Build(*root_v, schema_path, 0));
    Schema& root = *root_p;
    if (root.type != Type::kObject) {
      return Status::Invalid(schema_path + ".type: Unsupported value: must be object at the root");
    }
    root.definition = DefinitionName(out.group, name, names.kind);
    root.group_version_kinds = {GroupVersionKind{out.group, name, names.kind}};
    CompleteRoot(root, *builtin, *arena);

    auto info = std::make_shared<KindInfo>();
    info->group = out.group;
    info->version = name;
    info->kind = names.kind;
    info->list_kind = names.list_kind;
    info->plural = names.plural;
    info->singular = names.singular;
    info->short_names = names.short_names;
    info->categories = names.categories;
    info->verbs = {"create", "delete", "deletecollection", "get",
                   "list",   "patch",  "update",           "watch"};
    info->namespaced = scope == "Namespaced";
    info->custom = true;
    info->schema = &root;

    if (const json::value* subs_v = Field(*v, "subresources"); subs_v && !subs_v->is_null()) {
      const json::object* subs = subs_v->if_object();
      if (subs == nullptr)
        return InvalidValue(path + ".subresources", *subs_v, "must be an object");
      if (const json::value* st = Field(*subs, "status"); st && !st->is_null()) {
        info->subresources.push_back("status");
        info->subresource_info.push_back(
            SubresourceInfo{"status", out.group, name, names.kind, {"get", "patch", "update"}});
      }
      if (const json::value* sc = Field(*subs, "scale"); sc && !sc->is_null()) {
        std::string sp = path + ".subresources.scale";
        const json::object* scale = sc->if_object();
        if (scale == nullptr) return InvalidValue(sp, *sc, "must be an object");
        MINI8S_ASSIGN_OR_RETURN(info->scale_spec_replicas_path,
                                StringOr(*scale, "specReplicasPath", sp));
        MINI8S_ASSIGN_OR_RETURN(info->scale_status_replicas_path,
                                StringOr(*scale, "statusReplicasPath", sp));
        MINI8S_ASSIGN_OR_RETURN(info->scale_label_selector_path,
                                StringOr(*scale, "labelSelectorPath", sp));
        if (info->scale_spec_replicas_path.empty()) return Required(sp + ".specReplicasPath");
        if (info->scale_status_replicas_path.empty()) return Required(sp + ".statusReplicasPath");
        for (auto* p : {&info->scale_spec_replicas_path, &info->scale_status_replicas_path}) {
          if (p->front() != '.') return InvalidValue(sp, json::value(*p), "must be a JSON path");
        }
        info->subresources.push_back("scale");
        info->subresource_info.push_back(
            SubresourceInfo{"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}});
      }
    }
    MINI8S_ASSIGN_OR_RETURN(info->columns, ReadColumns(*v, path));
    if (const json::value* sf = Field(*v, "selectableFields"); sf && !sf->is_null()) {
      if (!sf->is_array()) return InvalidValue(path + ".selectableFields", *sf, "must be a list");
      const json::array& fields = sf->get_array();
      for (size_t f = 0; f < fields.size(); ++f) {
        std::string fp = path + ".selectableFields[" + std::to_string(f) + "]";
        const json::object* fo = fields[f].if_object();
        if (fo == nullptr) return InvalidValue(fp, fields[f], "must be an object");
        MINI8S_ASSIGN_OR_RETURN(std::string jp, StringOr(*fo, "jsonPath", fp));
        if (jp.empty()) return Required(fp + ".jsonPath");
        info->selectable_fields.push_back(jp.front() == '.' ? jp.substr(1) : jp);
      }
    }
    info->schema_arena = arena;
    if (served) out.kinds.push_back(std::move(info));
  }
  if (storage_count != 1) {
    return Status::Invalid(
        "spec.versions: Invalid value: must have exactly one version marked "
        "as storage version");
  }
  return out;
}

}  // namespace mini8s::api::detail
