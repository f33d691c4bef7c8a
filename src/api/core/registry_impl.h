// Private pieces of the registry shared by registry.cpp and crd.cpp.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "mini8s/api/schema.h"
#include "mini8s/common/result.h"

namespace mini8s::api::detail {

// The built-in schema nodes: one per generated row, immutable after construction.
struct BuiltinArena {
  std::vector<Schema> nodes;
  // The node built from a named definition, or nullptr.
  const Schema* FindDefinition(std::string_view name) const;
};

// The schema nodes of one custom kind. Holds the built-in arena too, because a custom root
// refers to the built-in ObjectMeta.
struct CustomArena {
  std::deque<Schema> nodes;  // deque: stable addresses while growing
  std::shared_ptr<const BuiltinArena> builtin;
};

// Builds the built-in arena from the generated tables.
std::shared_ptr<const BuiltinArena> BuildBuiltinArena();

// What one CustomResourceDefinition contributes: the KindInfo of every served version, whose
// schemas share one CustomArena.
struct CustomKinds {
  std::string crd_name;  // metadata.name, "<plural>.<group>"
  std::string group;
  std::vector<std::shared_ptr<KindInfo>> kinds;  // one per served version, in declared order
};

// Reads a CustomResourceDefinition (apiextensions.k8s.io/v1). kInvalid with the field path
// ("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: ...") when it is unusable.
Result<CustomKinds> BuildCustomKinds(const boost::json::value& crd,
                                     const std::shared_ptr<const BuiltinArena>& builtin);

}  // namespace mini8s::api::detail
