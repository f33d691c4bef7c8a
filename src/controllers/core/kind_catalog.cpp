#include "mini8s/controllers/kind_catalog.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/registry.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace json = boost::json;

namespace {

struct VersionRank {
  bool kube = false;  // matches v<major>[(alpha|beta)<minor>]
  int major = 0;
  int stage = 0;  // 3 GA, 2 beta, 1 alpha
  int minor = 0;
};

// Parses "v1", "v2beta1", "v1alpha3"; anything else ranks below every such version.
VersionRank RankOf(std::string_view v) {
  VersionRank r;
  auto digits = [](std::string_view s, size_t& i, int& out) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') out = out * 10 + (s[i++] - '0');
    return i > start;
  };
  if (v.size() < 2 || v[0] != 'v') return r;
  size_t i = 1;
  if (!digits(v, i, r.major)) return r;
  if (i == v.size()) {
    r.stage = 3;
    r.kube = true;
    return r;
  }
  std::string_view rest = v.substr(i);
  size_t skip = 0;
  if (rest.substr(0, 4) == "beta") {
    r.stage = 2;
    skip = 4;
  } else if (rest.substr(0, 5) == "alpha") {
    r.stage = 1;
    skip = 5;
  } else {
    return r;
  }
  i += skip;
  if (!digits(v, i, r.minor) || i != v.size()) return VersionRank{};
  r.kube = true;
  return r;
}

}  // namespace

bool VersionPreferred(std::string_view a, std::string_view b) {
  VersionRank ra = RankOf(a), rb = RankOf(b);
  if (ra.kube != rb.kube) return ra.kube;
  if (!ra.kube) return a < b;
  if (ra.stage != rb.stage) return ra.stage > rb.stage;
  if (ra.major != rb.major) return ra.major > rb.major;
  if (ra.minor != rb.minor) return ra.minor > rb.minor;
  return false;
}

client::Resource CustomResourceDefinitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          false};
}

KindCatalog::KindCatalog(std::shared_ptr<api::Registry> registry)
    : registry_(std::move(registry)), self_(std::make_shared<KindCatalog*>(this)) {}

KindCatalog::~KindCatalog() { *self_ = nullptr; }

std::shared_ptr<KindCatalog> KindCatalog::ForContext(ControllerContext& ctx) {
  // One catalog per context, alive while some controller holds it.
  static std::mutex mu;
  static std::map<const ControllerContext*, std::weak_ptr<KindCatalog>> by_context;
  std::lock_guard lock(mu);
  for (auto it = by_context.begin(); it != by_context.end();) {
    it = it->second.expired() ? by_context.erase(it) : std::next(it);
  }
  if (auto existing = by_context[&ctx].lock()) return existing;
  auto catalog = std::make_shared<KindCatalog>(api::Registry::NewBuiltin());
  catalog->MirrorCrds(ctx.informers.For(CustomResourceDefinitions()));
  by_context[&ctx] = catalog;
  return catalog;
}

void KindCatalog::MirrorCrds(client::Informer& crds) {
  crds_ = &crds;
  std::weak_ptr<KindCatalog*> weak = self_;
  auto upsert = [weak](const client::ObjectPtr& crd) {
    auto self = weak.lock();
    if (!self || *self == nullptr) return;
    Status s = (*self)->registry_->AddCustomResource(json::value(*crd));
    if (!s.ok()) {
      MINI8S_LOG(WARNING) << "kind catalog: CRD " << api::Name(*crd)
                          << " not usable: " << s.ToString();
      return;
    }
    (*self)->Changed();
  };
  client::EventHandlers h;
  h.on_add = upsert;
  h.on_update = [upsert](const client::ObjectPtr&, const client::ObjectPtr& crd) { upsert(crd); };
  h.on_delete = [weak](const client::DeletedObject& del) {
    auto self = weak.lock();
    if (!self || *self == nullptr) return;
    std::string name = del.object ? std::string(api::Name(*del.object)) : del.key;
    Status s = (*self)->registry_->RemoveCustomResource(name);
    if (s.ok()) (*self)->Changed();
  };
  crds.AddEventHandlers(std::move(h));
}

std::vector<client::Resource> KindCatalog::Resources(std::initializer_list<std::string_view> verbs,
                                                     bool namespaced_only) const {
  // group/plural -> the preferred version's kind.
  std::map<std::pair<std::string, std::string>, api::KindInfoConstSharedPtr> best;
  for (const auto& k : registry_->Kinds()) {
    if (k->plural.empty() || k->subresource_only) continue;
    if (namespaced_only && !k->namespaced) continue;
    bool all =
        std::all_of(verbs.begin(), verbs.end(), [&](std::string_view v) { return k->HasVerb(v); });
    if (!all) continue;
    auto& slot = best[{k->group, k->plural}];
    if (!slot || VersionPreferred(k->version, slot->version)) slot = k;
  }
  std::vector<client::Resource> out;
  out.reserve(best.size());
  for (const auto& [key, k] : best) out.push_back(client::Resource::FromKind(*k));
  return out;
}

Result<client::Resource> KindCatalog::ForKind(std::string_view api_version,
                                              std::string_view kind) const {
  if (auto k = registry_->FindByApiVersionKind(api_version, kind); k && !k->plural.empty()) {
    return client::Resource::FromKind(*k);
  }
  auto [group, version] = api::SplitApiVersion(api_version);
  api::KindInfoConstSharedPtr best;
  for (const auto& k : registry_->Kinds()) {
    if (k->group != group || k->kind != kind || k->plural.empty()) continue;
    if (!best || VersionPreferred(k->version, best->version)) best = k;
  }
  if (!best) {
    return Status::NotFound("no matches for kind \"" + std::string(kind) + "\" in version \"" +
                            std::string(api_version) + "\"");
  }
  return client::Resource::FromKind(*best);
}

Status KindCatalog::Complete() const {
  if (crds_ != nullptr && !crds_->HasSynced()) {
    return Status::Unavailable(
        "unable to retrieve the complete list of server APIs: customresourcedefinitions not yet "
        "synced");
  }
  return Status::OK();
}

void KindCatalog::OnChange(std::function<void()> listener) {
  listeners_.push_back(std::move(listener));
}

void KindCatalog::Changed() {
  for (const auto& l : listeners_) l();
}

}  // namespace mini8s::controllers
