#include "mini8s/api/schema.h"

#include <algorithm>

namespace mini8s::api {

const Property* Schema::FindProperty(std::string_view name) const {
  for (const Property& p : properties) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Schema* Schema::Child(std::string_view name) const {
  if (const Property* p = FindProperty(name)) return p->schema;
  return additional_properties;
}

bool KindInfo::HasSubresource(std::string_view name) const {
  return std::find(subresources.begin(), subresources.end(), name) != subresources.end();
}

bool KindInfo::HasVerb(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

}  // namespace mini8s::api
