// A hand-built Registry for decoder tests: schema nodes with proto_tag set by the test, so the
// decoder is tested independently of the generated built-in tables. Test-only.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mini8s/api/registry.h"
#include "mini8s/api/schema.h"

namespace mini8s::api::testing {

class FakeRegistry : public Registry {
 public:
  // Node factories; the registry owns every node.
  Schema* Node(Type type, std::string definition = "", std::string format = "") {
    Schema& s = nodes_.emplace_back();
    s.type = type;
    s.definition = std::move(definition);
    s.format = std::move(format);
    return &s;
  }
  Schema* String(std::string format = "") { return Node(Type::kString, "", std::move(format)); }
  Schema* Int(std::string format = "int32") { return Node(Type::kInteger, "", std::move(format)); }
  Schema* Array(const Schema* items) {
    Schema* s = Node(Type::kArray);
    s->items = items;
    return s;
  }
  Schema* Map(const Schema* values) {
    Schema* s = Node(Type::kObject);
    s->additional_properties = values;
    return s;
  }
  // An object schema; `props` are {name, schema, proto_tag}.
  Schema* Object(std::string definition, std::vector<Property> props) {
    Schema* s = Node(Type::kObject, std::move(definition));
    s->properties = std::move(props);
    return s;
  }

  void AddKind(std::string group, std::string version, std::string kind, const Schema* schema,
               bool custom = false) {
    auto info = std::make_shared<KindInfo>();
    info->custom = custom;
    info->group = std::move(group);
    info->version = std::move(version);
    info->kind = std::move(kind);
    info->schema = schema;
    kinds_.push_back(info);
  }
  void AddDefinition(std::string name, const Schema* schema) { defs_[std::move(name)] = schema; }

  KindInfoConstSharedPtr FindKind(std::string_view group, std::string_view version,
                                  std::string_view kind) const override {
    for (const auto& k : kinds_) {
      if (k->group == group && k->version == version && k->kind == kind) return k;
    }
    return nullptr;
  }
  KindInfoConstSharedPtr FindResource(std::string_view, std::string_view,
                                      std::string_view) const override {
    return nullptr;
  }
  std::vector<KindInfoConstSharedPtr> FindResourceInAnyGroup(std::string_view) const override {
    return {};
  }
  KindInfoConstSharedPtr FindByApiVersionKind(std::string_view api_version,
                                              std::string_view kind) const override {
    for (const auto& k : kinds_) {
      if (k->ApiVersion() == api_version && k->kind == kind) return k;
    }
    return nullptr;
  }
  std::vector<KindInfoConstSharedPtr> Kinds() const override {
    return {kinds_.begin(), kinds_.end()};
  }
  const Schema* FindDefinition(std::string_view name) const override {
    auto it = defs_.find(std::string(name));
    return it == defs_.end() ? nullptr : it->second;
  }
  Status AddCustomResource(const boost::json::value&) override {
    return Status::Invalid("not supported by the fake");
  }
  Status RemoveCustomResource(std::string_view) override {
    return Status::NotFound("not supported by the fake");
  }

 private:
  std::deque<Schema> nodes_;
  std::vector<std::shared_ptr<KindInfo>> kinds_;
  std::map<std::string, const Schema*> defs_;
};

}  // namespace mini8s::api::testing
