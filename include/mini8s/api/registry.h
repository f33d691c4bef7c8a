// Registry: every kind the server serves, built-in (generated from the Kubernetes v1.32 OpenAPI
// facts plus mini8s's hand-written per-kind tables) and custom (added from CRDs at run time).
//
// Thread-safe. Lookups return shared pointers to immutable KindInfo, so a caller keeps a
// consistent view even while a CRD is added or removed concurrently. Schema nodes of built-in
// kinds live as long as the registry; those of a custom kind live as long as its KindInfo.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "mini8s/api/schema.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"

namespace mini8s::api {

class Registry {
 public:
  virtual ~Registry() = default;

  // A new registry holding every built-in kind (one per process; building it parses the
  // generated tables once).
  static std::shared_ptr<Registry> NewBuiltin();

  // By group/version/kind (group "" = core). nullptr if unknown.
  virtual KindInfoConstSharedPtr FindKind(std::string_view group, std::string_view version,
                                          std::string_view kind) const = 0;
  // By group/version and plural, singular, short name or kind name (as URLs and kubectl use
  // them), case-insensitively. Subresource-only kinds (Scale, Eviction, TokenRequest) have no
  // resource name and are found by FindKind only.
  virtual KindInfoConstSharedPtr FindResource(std::string_view group, std::string_view version,
                                              std::string_view resource) const = 0;
  // By plural, singular, short name or kind (case-insensitive) in every group and version, as
  // kubectl resolves `kubectl get deploy`: the matches in preference order (core first, then the
  // built-in groups, then custom groups). "deployments.apps" restricts the match to group "apps".
  // Empty if nothing matches. (Not pure: the default, for fakes, is built on Kinds() and
  // FindResource() and orders groups alphabetically after core.)
  virtual std::vector<KindInfoConstSharedPtr> FindResourceInAnyGroup(
      std::string_view resource) const;
  // By "apiVersion" and "kind" as they appear in an object.
  virtual KindInfoConstSharedPtr FindByApiVersionKind(std::string_view api_version,
                                                      std::string_view kind) const = 0;
  // Every kind, in a stable order (group, version, kind).
  virtual std::vector<KindInfoConstSharedPtr> Kinds() const = 0;
  // A named shared definition (e.g. "io.k8s.api.core.v1.PodSpec"), or nullptr.
  virtual const Schema* FindDefinition(std::string_view name) const = 0;

  // Adds or replaces the kinds a CustomResourceDefinition describes (one per served version).
  // kInvalid with the field path if the CRD's schema cannot be used.
  virtual Status AddCustomResource(const boost::json::value& crd) = 0;
  // Removes a CRD's kinds (by its metadata.name "<plural>.<group>"). kNotFound if absent.
  virtual Status RemoveCustomResource(std::string_view crd_name) = 0;
};

}  // namespace mini8s::api
