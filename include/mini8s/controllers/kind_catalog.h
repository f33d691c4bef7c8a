// KindCatalog: which resources the cluster serves, for controllers that act on every kind (the
// garbage collector, namespace deletion). It is the controller side of upstream's discovery plus
// RESTMapper, read from an api::Registry: one client::Resource per group/resource (its preferred
// version), filtered by verbs, and the resolution of an ownerReference's apiVersion/kind.
//
// Custom kinds: a registry shared with the in-process API server already tracks CRDs. A catalog
// made by ForContext owns a built-in registry and mirrors the CustomResourceDefinitions it sees
// through the context's CRD informer, so it works the same over a RestClient.
//
// Concurrency: the registry is thread-safe; the catalog's listeners and the CRD handlers run on
// the context's executor.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/client/client.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"

namespace mini8s::api {
class Registry;
}  // namespace mini8s::api

namespace mini8s::client {
class Informer;
}  // namespace mini8s::client

namespace mini8s::controllers {

class ControllerContext;

// The CustomResourceDefinition resource (apiextensions.k8s.io/v1).
client::Resource CustomResourceDefinitions();

class KindCatalog {
 public:
  // Reads `registry` as it is (it must already follow CRDs, as the server's own registry does).
  explicit KindCatalog(std::shared_ptr<api::Registry> registry);
  ~KindCatalog();
  KindCatalog(const KindCatalog&) = delete;
  KindCatalog& operator=(const KindCatalog&) = delete;

  // The catalog shared by every controller of `ctx`: a built-in registry whose custom kinds follow
  // the CRDs seen by ctx.informers (created on first use; the CRD informer starts with the others).
  static std::shared_ptr<KindCatalog> ForContext(ControllerContext& ctx);

  // Mirrors the CustomResourceDefinitions `crds` sees into the registry (adds, replaces and
  // removes custom kinds) and makes Complete() wait for its first sync. `crds` must outlive the
  // catalog's use of it.
  void MirrorCrds(client::Informer& crds);

  // One Resource per served group/resource (its preferred version: GA before beta before alpha,
  // higher versions first) whose verbs include every one of `verbs`; only namespaced ones when
  // `namespaced_only`.
  std::vector<client::Resource> Resources(std::initializer_list<std::string_view> verbs,
                                          bool namespaced_only = false) const;
  // The resource an apiVersion/kind names (an ownerReference's). A version the registry lacks
  // resolves to the preferred version of the same group and kind. kNotFound if the kind is unknown.
  Result<client::Resource> ForKind(std::string_view api_version, std::string_view kind) const;
  // OK when the kind list is complete; kUnavailable while the CRD mirror has not synced.
  Status Complete() const;
  // Calls `listener` (on the executor) after the set of kinds changed.
  void OnChange(std::function<void()> listener);

  api::Registry& registry() const { return *registry_; }

 private:
  void Changed();

  std::shared_ptr<api::Registry> registry_;
  const client::Informer* crds_ = nullptr;
  std::vector<std::function<void()>> listeners_;
  // Guards the CRD handlers against a catalog destroyed before the informer.
  std::shared_ptr<KindCatalog*> self_;
};

// Kubernetes version priority (upstream's CompareKubeAwareVersionStrings): true if `a` is
// preferred to `b` ("v2" > "v1" > "v1beta2" > "v1beta1" > "v1alpha1" > anything else, then
// alphabetical).
bool VersionPreferred(std::string_view a, std::string_view b);

}  // namespace mini8s::controllers
