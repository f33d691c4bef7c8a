// Schema nodes -> JSON Schema (OpenAPI 3.0 components.schemas or swagger 2.0 definitions).
#include <boost/json/parse.hpp>

#include "api/openapi/generator.h"

namespace mini8s::api::openapi_internal {

namespace json = boost::json;

namespace {

const char* TypeName(Type t) {
  switch (t) {
    case Type::kObject:
      return "object";
    case Type::kArray:
      return "array";
    case Type::kString:
    case Type::kQuantity:  // a string or a number on the wire; published as string (upstream)
      return "string";
    case Type::kInteger:
      return "integer";
    case Type::kNumber:
      return "number";
    case Type::kBoolean:
      return "boolean";
    case Type::kIntOrString:
    case Type::kAny:
      return nullptr;
  }
  return nullptr;
}

json::array StringArray(const std::vector<std::string>& v) {
  json::array out;
  out.reserve(v.size());
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

// Enum values are kept as strings; non-string schemas stored their JSON text (CRDs).
json::value EnumValue(const Schema& node, const std::string& v) {
  if (node.type == Type::kString || node.type == Type::kIntOrString ||
      node.type == Type::kQuantity) {
    return json::value(v);
  }
  boost::system::error_code ec;
  json::value parsed = json::parse(v, ec);
  return ec ? json::value(v) : parsed;
}

}  // namespace

SchemaEmitter::SchemaEmitter(const Registry& registry, Dialect dialect)
    : registry_(registry),
      dialect_(dialect),
      ref_prefix_(dialect == Dialect::kV3 ? "#/components/schemas/" : "#/definitions/") {}

json::object SchemaEmitter::RefTo(std::string_view name) const {
  json::object ref;
  ref["$ref"] = ref_prefix_ + std::string(name);
  return ref;
}

void SchemaEmitter::Register(const std::string& name, const Schema* node) {
  if (canonical_.emplace(name, node).second) pending_.push_back(name);
}

bool SchemaEmitter::Require(std::string_view name) {
  if (Has(name)) return true;
  const Schema* node = registry_.FindDefinition(name);
  if (node == nullptr) return false;
  Register(std::string(name), node);
  return true;
}

void SchemaEmitter::AddSynthetic(const std::string& name, json::object body) {
  if (Has(name)) return;
  synthetic_.emplace(name, std::move(body));
}

json::value SchemaEmitter::Use(const Schema* node) {
  if (node == nullptr) return json::object{};
  if (node->definition.empty()) return Body(*node);

  const std::string& name = node->definition;
  auto it = canonical_.find(name);
  const Schema* canonical = nullptr;
  if (it != canonical_.end()) {
    canonical = it->second;
  } else {
    // The registry's node is the definition; a custom resource's root is its own definition.
    canonical = registry_.FindDefinition(name);
    if (canonical == nullptr) canonical = node;
    Register(name, canonical);
  }
  if (canonical == node) return RefTo(name);

  // A use of the definition with its own list/map/patch facts (a copy of the node carrying
  // them): the $ref plus those facts. OpenAPI 3 ignores siblings of $ref, so v3 wraps the $ref
  // in allOf as upstream does; kubectl explain follows both forms.
  json::object out;
  if (dialect_ == Dialect::kV3) {
    out["allOf"] = json::array{RefTo(name)};
  } else {
    out = RefTo(name);
  }
  if (!node->description.empty() && node->description != canonical->description) {
    out["description"] = node->description;
  }
  if (node->default_value) out["default"] = *node->default_value;
  if (node->nullable && !canonical->nullable) out["nullable"] = true;
  Schema facts;  // only the list/map/patch facts that differ from the definition
  if (node->list_type != canonical->list_type) facts.list_type = node->list_type;
  if (node->list_map_keys != canonical->list_map_keys) facts.list_map_keys = node->list_map_keys;
  if (node->map_type != canonical->map_type) facts.map_type = node->map_type;
  if (node->patch_strategy != canonical->patch_strategy) {
    facts.patch_strategy = node->patch_strategy;
  }
  if (node->patch_merge_key != canonical->patch_merge_key) {
    facts.patch_merge_key = node->patch_merge_key;
  }
  AddExtensions(facts, out);
  return out;
}

void SchemaEmitter::AddExtensions(const Schema& node, json::object& out) const {
  if (!node.list_type.empty()) out["x-kubernetes-list-type"] = node.list_type;
  if (!node.list_map_keys.empty()) {
    out["x-kubernetes-list-map-keys"] = StringArray(node.list_map_keys);
  }
  if (!node.map_type.empty()) out["x-kubernetes-map-type"] = node.map_type;
  if (!node.patch_merge_key.empty()) out["x-kubernetes-patch-merge-key"] = node.patch_merge_key;
  if (!node.patch_strategy.empty()) out["x-kubernetes-patch-strategy"] = node.patch_strategy;
  if (node.preserve_unknown_fields) out["x-kubernetes-preserve-unknown-fields"] = true;
  if (node.embedded_resource) out["x-kubernetes-embedded-resource"] = true;
  if (!node.group_version_kinds.empty()) {
    json::array gvks;
    for (const auto& gvk : node.group_version_kinds) {
      gvks.push_back(
          json::object{{"group", gvk.group}, {"kind", gvk.kind}, {"version", gvk.version}});
    }
    out["x-kubernetes-group-version-kind"] = std::move(gvks);
  }
}

json::object SchemaEmitter::Body(const Schema& node) {
  json::object out;
  if (!node.description.empty()) out["description"] = node.description;
  if (node.type == Type::kQuantity && dialect_ == Dialect::kV3) {
    // OpenAPI 3 can say "string or number"; kubectl explain then names the type after the
    // definition (<Quantity>) instead of calling it a string.
    out["oneOf"] = json::array{json::object{{"type", "string"}}, json::object{{"type", "number"}}};
  } else if (node.type == Type::kIntOrString) {
    if (!node.definition.empty()) {
      // The named IntOrString type, as upstream publishes it (v3: with both alternatives).
      if (dialect_ == Dialect::kV3) {
        out["oneOf"] =
            json::array{json::object{{"type", "integer"}}, json::object{{"type", "string"}}};
      } else {
        out["type"] = "string";
      }
      out["format"] = node.format.empty() ? "int-or-string" : node.format;
    } else {
      // Inline (custom resources): the structural-schema spelling.
      out["x-kubernetes-int-or-string"] = true;
      if (dialect_ == Dialect::kV3) {
        out["anyOf"] =
            json::array{json::object{{"type", "integer"}}, json::object{{"type", "string"}}};
      }
    }
  } else if (const char* t = TypeName(node.type)) {
    out["type"] = t;
    if (!node.format.empty()) out["format"] = node.format;
  }

  if (!node.properties.empty()) {
    json::object props;
    for (const Property& p : node.properties) props[p.name] = Use(p.schema);
    out["properties"] = std::move(props);
  }
  if (node.additional_properties != nullptr) {
    out["additionalProperties"] = Use(node.additional_properties);
  }
  if (node.items != nullptr) out["items"] = Use(node.items);
  if (!node.required.empty()) out["required"] = StringArray(node.required);
  if (!node.enum_values.empty()) {
    json::array values;
    for (const auto& v : node.enum_values) values.push_back(EnumValue(node, v));
    out["enum"] = std::move(values);
  }
  if (node.default_value) out["default"] = *node.default_value;
  if (node.nullable) out["nullable"] = true;
  if (node.minimum) out["minimum"] = *node.minimum;
  if (node.maximum) out["maximum"] = *node.maximum;
  if (node.exclusive_minimum) out["exclusiveMinimum"] = true;
  if (node.exclusive_maximum) out["exclusiveMaximum"] = true;
  if (node.min_length) out["minLength"] = *node.min_length;
  if (node.max_length) out["maxLength"] = *node.max_length;
  if (node.min_items) out["minItems"] = *node.min_items;
  if (node.max_items) out["maxItems"] = *node.max_items;
  if (node.min_properties) out["minProperties"] = *node.min_properties;
  if (node.max_properties) out["maxProperties"] = *node.max_properties;
  if (!node.pattern.empty()) out["pattern"] = node.pattern;
  AddExtensions(node, out);
  // The registry marks built-in objects without declared fields (RawExtension, FieldsV1) as
  // preserving unknown fields, which is how it keeps their content; upstream publishes them as
  // plain objects, and so do we.
  if (node.preserve_unknown_fields && node.type == Type::kObject && node.properties.empty() &&
      node.additional_properties == nullptr && !node.definition.empty() &&
      registry_.FindDefinition(node.definition) == &node) {
    out.erase("x-kubernetes-preserve-unknown-fields");
  }
  return out;
}

json::object SchemaEmitter::TakeDefinitions() {
  std::map<std::string, json::object> done;
  while (!pending_.empty()) {
    std::string name = std::move(pending_.front());
    pending_.pop_front();
    done.emplace(name, Body(*canonical_.at(name)));
  }
  for (auto& [name, body] : synthetic_) done.emplace(name, body);
  json::object out;
  out.reserve(done.size());
  for (auto& [name, body] : done) out[name] = std::move(body);
  return out;
}

}  // namespace mini8s::api::openapi_internal
