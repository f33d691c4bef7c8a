// Conformance with the upstream OpenAPI file: every field of every supported kind, as the
// Kubernetes v1.32 swagger describes it, is known to the registry with the same type, format,
// required list, list/map semantics and strategic-merge key and strategy; every resource's plural
// and scope and every subresource has its upstream path.
//
// The swagger file is not part of the repository (MINI8S_SWAGGER_PATH points next to it, into
// ../shared/). Without it the test exits 77, which CTest reports as skipped.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/registry.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;

json::value LoadSwaggerOrSkip() {
  std::ifstream in(MINI8S_SWAGGER_PATH);
  if (!in) {
    std::fprintf(stderr,
                 "SKIP: upstream OpenAPI file not found at %s (it lives outside the repository, "
                 "in ../shared/reference/openapi/); conformance not checked\n",
                 MINI8S_SWAGGER_PATH);
    std::_Exit(77);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return json::parse(buf.str());
}

std::string Str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

std::vector<std::string> StrList(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return out;
  for (const auto& v : it->value().get_array()) out.emplace_back(v.get_string());
  return out;
}

class Checker {
 public:
  explicit Checker(const json::object& definitions) : defs_(definitions) {}

  // Compares the swagger schema `spec` (inline, possibly a $ref) with `node` at `path`.
  void Compare(const json::object& spec, const Schema* node, const std::string& path) {
    INFO(path);
    REQUIRE(node != nullptr);
    ++nodes_checked_;
    // The effective facts: the referenced definition's, overlaid with the inline extensions.
    const json::object* def = &spec;
    std::string def_name;
    if (auto ref = spec.find("$ref"); ref != spec.end()) {
      std::string target(ref->value().get_string());
      def_name = target.substr(target.rfind('/') + 1);
      auto d = defs_.find(def_name);
      REQUIRE(d != defs_.end());
      def = &d->value().get_object();
    }
    auto ext = [&](std::string_view key) {
      std::string v = Str(spec, key);
      return v.empty() ? Str(*def, key) : v;
    };
    std::string swagger_type = Str(*def, "type");
    std::string format = Str(*def, "format");
    Type expected;
    if (def_name == "io.k8s.apimachinery.pkg.api.resource.Quantity") {
      expected = Type::kQuantity;
    } else if (swagger_type.empty()) {
      expected = Type::kAny;
    } else if (swagger_type == "string" && format == "int-or-string") {
      expected = Type::kIntOrString;
    } else if (swagger_type == "object") {
      expected = Type::kObject;
    } else if (swagger_type == "array") {
      expected = Type::kArray;
    } else if (swagger_type == "string") {
      expected = Type::kString;
    } else if (swagger_type == "integer") {
      expected = Type::kInteger;
    } else if (swagger_type == "number") {
      expected = Type::kNumber;
    } else {
      REQUIRE(swagger_type == "boolean");
      expected = Type::kBoolean;
    }
    CHECK(static_cast<int>(node->type) == static_cast<int>(expected));
    CHECK(node->format == format);
    CHECK(node->patch_merge_key == ext("x-kubernetes-patch-merge-key"));
    CHECK(node->patch_strategy == ext("x-kubernetes-patch-strategy"));
    CHECK(node->list_type == ext("x-kubernetes-list-type"));
    CHECK(node->map_type == ext("x-kubernetes-map-type"));
    std::vector<std::string> keys = StrList(spec, "x-kubernetes-list-map-keys");
    if (keys.empty()) keys = StrList(*def, "x-kubernetes-list-map-keys");
    CHECK(node->list_map_keys == keys);
    if (!def_name.empty()) {
      CHECK(node->definition == def_name);
      std::vector<GroupVersionKind> gvks;
      if (auto g = def->find("x-kubernetes-group-version-kind"); g != def->end()) {
        for (const auto& e : g->value().get_array()) {
          const json::object& o = e.as_object();
          gvks.push_back({Str(o, "group"), Str(o, "version"), Str(o, "kind")});
        }
      }
      CHECK(node->group_version_kinds == gvks);
    }

    // A definition's structure is compared once; an inline $ref node with overrides shares it.
    if (!def_name.empty() && !visited_.insert({def_name, node}).second) return;
    CHECK(node->required == StrList(*def, "required"));
    if (auto items = def->find("items"); items != def->end()) {
      Compare(items->value().get_object(), node->items, path + "[]");
    } else {
      CHECK(node->items == nullptr);
    }
    if (auto ap = def->find("additionalProperties"); ap != def->end()) {
      Compare(ap->value().get_object(), node->additional_properties, path + "{}");
    } else {
      CHECK(node->additional_properties == nullptr);
    }
    auto props = def->find("properties");
    if (props == def->end()) {
      CHECK(node->properties.empty());
      return;
    }
    const json::object& p = props->value().get_object();
    REQUIRE(node->properties.size() == p.size());
    size_t i = 0;
    for (const auto& [name, child] : p) {
      const Property& prop = node->properties[i++];
      CHECK(prop.name == std::string_view(name));  // same order as upstream
      ++fields_checked_;
      Compare(child.get_object(), prop.schema, path + "." + std::string(name));
    }
  }

  size_t fields_checked() const { return fields_checked_; }
  size_t nodes_checked() const { return nodes_checked_; }

 private:
  const json::object& defs_;
  std::set<std::pair<std::string, const Schema*>> visited_;
  size_t fields_checked_ = 0;
  size_t nodes_checked_ = 0;
};

// Hidden from discovery ([.]): CMake registers it on its own with SKIP_RETURN_CODE 77.
TEST_CASE("Registry: every upstream field of every supported kind is known with the same facts",
          "[api_registry][conformance][.]") {
  json::value swagger = LoadSwaggerOrSkip();
  const json::object& defs = swagger.at("definitions").as_object();
  const json::object& paths = swagger.at("paths").as_object();
  auto reg = Registry::NewBuiltin();
  Checker checker(defs);
  size_t kinds_checked = 0;
  for (const auto& k : reg->Kinds()) {
    INFO(k->group << "/" << k->version << " " << k->kind);
    if (k->group == "metrics.k8s.io") continue;  // not served by the upstream apiserver
    std::string def = k->schema->definition;
    REQUIRE(defs.contains(def));
    json::object ref;
    ref["$ref"] = "#/definitions/" + def;
    checker.Compare(ref, k->schema, def);
    ++kinds_checked;

    // The kind's GVK is the definition's.
    bool gvk_found = false;
    for (const auto& gvk : defs.at(def).at("x-kubernetes-group-version-kind").as_array()) {
      const json::object& g = gvk.as_object();
      gvk_found = gvk_found || (Str(g, "group") == k->group && Str(g, "version") == k->version &&
                                Str(g, "kind") == k->kind);
    }
    CHECK(gvk_found);

    if (k->subresource_only) continue;
    std::string base =
        k->group.empty() ? "/api/" + k->version : "/apis/" + k->group + "/" + k->version;
    std::string collection = base + (k->namespaced ? "/namespaces/{namespace}/" : "/") + k->plural;
    CHECK(paths.contains(collection));
    for (const std::string& sub : k->subresources) {
      INFO(sub);
      CHECK(paths.contains(collection + "/{name}/" + sub));
    }
  }
  std::printf("conformance: %zu kinds, %zu fields, %zu schema nodes checked against %s\n",
              kinds_checked, checker.fields_checked(), checker.nodes_checked(),
              MINI8S_SWAGGER_PATH);
  CHECK(kinds_checked >= 40);
  CHECK(checker.fields_checked() > 1000);
}

}  // namespace
}  // namespace mini8s::api
