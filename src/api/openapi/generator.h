// Private to api/openapi: the schema and path emitters shared by the v3 and v2 documents.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mini8s/api/registry.h"
#include "mini8s/api/schema.h"

namespace mini8s::api::openapi_internal {

enum class Dialect { kV3, kV2 };

// Turns Schema trees into JSON Schema, collecting every named definition reached on the way so
// that the document's components.schemas (v3) or definitions (v2) hold exactly what its $refs
// point at.
class SchemaEmitter {
 public:
  SchemaEmitter(const Registry& registry, Dialect dialect);

  // The JSON for a use of `node`: a $ref for a named definition (registered for emission),
  // otherwise the node inline.
  boost::json::value Use(const Schema* node);
  // A $ref to a definition by name (which must be registered or synthesised).
  boost::json::object RefTo(std::string_view name) const;
  // Registers a definition by name from the registry; false if the registry does not know it.
  bool Require(std::string_view name);
  // Adds a definition that has no Schema node (a custom resource's list type).
  void AddSynthetic(const std::string& name, boost::json::object body);
  bool Has(std::string_view name) const {
    return canonical_.count(std::string(name)) != 0 || synthetic_.count(std::string(name)) != 0;
  }
  // Emits every pending definition (and what they reach); returns them, sorted by name.
  boost::json::object TakeDefinitions();

 private:
  void Register(const std::string& name, const Schema* node);
  boost::json::object Body(const Schema& node);
  void AddExtensions(const Schema& node, boost::json::object& out) const;

  const Registry& registry_;
  Dialect dialect_;
  std::string ref_prefix_;
  std::map<std::string, const Schema*> canonical_;
  std::map<std::string, boost::json::object> synthetic_;
  std::deque<std::string> pending_;
};

// The OpenAPI parameter / operation vocabulary for one dialect.
struct PathBuilder {
  const Registry& registry;
  Dialect dialect;
  SchemaEmitter& schemas;

  // Adds every path of one resource (collection, item, watch, subresources) to `paths`.
  void AddResource(const KindInfo& kind, boost::json::object& paths);
};

// "apps" + "v1" -> "AppsV1"; "" + "v1" -> "CoreV1"; "rbac.authorization.k8s.io" ->
// "RbacAuthorizationV1".
std::string GroupVersionName(std::string_view group, std::string_view version);

// The definition name of a kind's list type ("io.k8s.api.apps.v1.DeploymentList").
std::string ListDefinitionName(const KindInfo& kind);

// Makes sure the list type of `kind` is among the definitions (synthesised for custom kinds).
void RequireListDefinition(const KindInfo& kind, SchemaEmitter& schemas);

}  // namespace mini8s::api::openapi_internal
