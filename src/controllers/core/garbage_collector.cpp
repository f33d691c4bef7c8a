#include "mini8s/controllers/garbage_collector.h"

#include <algorithm>
#include <chrono>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/kind_catalog.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kForegroundFinalizer = "foregroundDeletion";
constexpr std::string_view kOrphanFinalizer = "orphan";
constexpr std::size_t kAbsentOwnerCacheSize = 500;  // upstream's ReferenceCache size
constexpr int kDeleteWorkers = 4;
constexpr int kMaxPatchAttempts = 5;
constexpr std::chrono::seconds kMonitorResyncPeriod{30};  // upstream's discovery resync

// An object's coordinates: its ownerReference fields plus namespace (upstream's objectReference).
struct ObjRef {
  std::string api_version, kind, name, uid, ns;
  bool operator==(const ObjRef&) const = default;
  // The form upstream logs and puts in OwnerRefInvalidNamespace events.
  std::string ToString() const {
    return "[" + api_version + "/" + kind + ", namespace: " + ns + ", name: " + name +
           ", uid: " + uid + "]";
  }
  std::string CacheKey() const {
    return api_version + '\x1f' + kind + '\x1f' + ns + '\x1f' + name + '\x1f' + uid;
  }
};

ObjRef FromOwnerRef(const api::OwnerReference& ref, std::string ns) {
  return ObjRef{ref.api_version, ref.kind, ref.name, ref.uid, std::move(ns)};
}

bool MatchesCoordinates(const api::OwnerReference& ref, const ObjRef& id) {
  return ref.uid == id.uid && ref.name == id.name && ref.kind == id.kind &&
         ref.api_version == id.api_version;
}

bool DeletionStartsWithFinalizer(const json::object* old_obj, const json::object& obj,
                                 std::string_view finalizer) {
  if (!api::IsBeingDeleted(obj) || !api::HasFinalizer(obj, finalizer)) return false;
  if (old_obj == nullptr) return true;
  return !api::IsBeingDeleted(*old_obj) || !api::HasFinalizer(*old_obj, finalizer);
}

// A bounded set of owners verified absent, least recently added evicted first.
class AbsentOwnerCache {
 public:
  void Add(const ObjRef& ref) {
    std::string key = ref.CacheKey();
    if (auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
    order_.push_front(key);
    index_[key] = order_.begin();
    if (order_.size() > kAbsentOwnerCacheSize) {
      index_.erase(order_.back());
      order_.pop_back();
    }
  }
  bool Has(const ObjRef& ref) const { return index_.count(ref.CacheKey()) != 0; }

 private:
  std::list<std::string> order_;
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
};

struct Node {
  ObjRef identity;
  std::vector<api::OwnerReference> owners;
  std::set<std::string> dependents;  // uids
  bool observed = false;             // seen through an informer (a "virtual" node is not)
  bool being_deleted = false;
  bool deleting_dependents = false;
};

// The ownerReferences JSON array of `obj` (empty if none).
json::array OwnerRefsJson(const json::object& obj) {
  if (const json::array* a = api::GetArray(obj, "metadata.ownerReferences")) return *a;
  return {};
}

std::string JsonString(const json::value& v, std::string_view key) {
  if (!v.is_object()) return {};
  const json::value* f = v.as_object().if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

}  // namespace

bool GarbageCollectorIgnores(const client::Resource& resource) {
  return resource.resource == "events" &&
         (resource.group.empty() || resource.group == "events.k8s.io");
}

// The dependency graph and the event processing of upstream's GraphBuilder. Informer handlers
// reach it through a weak pointer, so a collector destroyed before the informers is safe.
struct GarbageCollector::Graph {
  WorkQueue* attempt_to_delete = nullptr;
  WorkQueue* attempt_to_orphan = nullptr;
  EventRecorder* events = nullptr;
  std::unordered_map<std::string, Node> nodes;
  AbsentOwnerCache absent;
  std::set<std::string> monitored;  // group/resource

  Node* Find(std::string_view uid) {
    auto it = nodes.find(std::string(uid));
    return it == nodes.end() ? nullptr : &it->second;
  }

  static ObjRef IdentityOf(const client::Resource& r, const json::object& obj) {
    return ObjRef{r.ApiVersion(), r.kind, std::string(api::Name(obj)), std::string(api::Uid(obj)),
                  std::string(api::Namespace(obj))};
  }

  void ReportInvalidNamespaceOwnerRef(const Node& dep, const std::string& owner_uid) {
    const api::OwnerReference* bad = nullptr;
    for (const auto& ref : dep.owners) {
      if (ref.uid == owner_uid) {
        bad = &ref;
        break;
      }
    }
    if (bad == nullptr || events == nullptr) return;
    json::object involved{{"apiVersion", dep.identity.api_version},
                          {"kind", dep.identity.kind},
                          {"metadata", json::object{{"name", dep.identity.name},
                                                    {"namespace", dep.identity.ns},
                                                    {"uid", dep.identity.uid}}}};
    ObjRef invalid = FromOwnerRef(*bad, dep.identity.ns);
    events->Event(involved, "Warning", "OwnerRefInvalidNamespace",
                  "ownerRef " + invalid.ToString() + " does not exist in namespace \"" +
                      dep.identity.ns + "\"");
  }

  // Adds `uid` to its owners' dependents, creating (and queueing for verification) a virtual node
  // for each owner not in the graph; a dependent whose references may not match the owner the
  // graph knows is queued too (upstream's addDependentToOwners).
  void AddDependentToOwners(const std::string& uid,
                            const std::vector<api::OwnerReference>& owners) {
    bool potentially_invalid = false;
    for (const auto& owner : owners) {
      Node* n = Find(uid);
      if (n == nullptr) return;
      ObjRef dep_id = n->identity;
      Node* owner_node = Find(owner.uid);
      if (owner_node == nullptr) {
        Node v;
        v.identity = FromOwnerRef(owner, dep_id.ns);
        v.dependents.insert(uid);
        nodes.emplace(owner.uid, std::move(v));
        attempt_to_delete->Add(owner.uid);
        continue;
      }
      owner_node->dependents.insert(uid);
      if (potentially_invalid) continue;
      bool owner_namespaced = !owner_node->identity.ns.empty();
      if (owner_namespaced && owner_node->identity.ns != dep_id.ns) {
        if (owner_node->observed) ReportInvalidNamespaceOwnerRef(*n, owner.uid);
        potentially_invalid = true;
      } else if (!MatchesCoordinates(owner, owner_node->identity)) {
        potentially_invalid = true;
      } else if (!owner_namespaced && owner_node->identity.ns != dep_id.ns &&
                 !owner_node->observed) {
        // A virtual cluster-scoped owner of a namespaced dependent may really be a missing
        // namespaced owner referenced from a cluster-scoped object: verify.
        potentially_invalid = true;
      }
    }
    if (potentially_invalid) attempt_to_delete->Add(uid);
  }

  void RemoveDependentFromOwners(const std::string& uid,
                                 const std::vector<api::OwnerReference>& owners) {
    for (const auto& owner : owners) {
      if (Node* o = Find(owner.uid)) o->dependents.erase(uid);
    }
  }

  // A blocking reference was removed or stopped blocking: its owner may finish a foreground
  // deletion now.
  void AddUnblockedOwnersToDeleteQueue(
      const std::vector<api::OwnerReference>& removed,
      const std::vector<std::pair<api::OwnerReference, api::OwnerReference>>& changed) {
    for (const auto& ref : removed) {
      if (ref.block_owner_deletion && Find(ref.uid) != nullptr) attempt_to_delete->Add(ref.uid);
    }
    for (const auto& [old_ref, new_ref] : changed) {
      if (old_ref.block_owner_deletion && !new_ref.block_owner_deletion &&
          Find(new_ref.uid) != nullptr) {
        attempt_to_delete->Add(new_ref.uid);
      }
    }
  }

  void ProcessTransitions(const json::object* old_obj, const json::object& obj,
                          const std::string& uid) {
    if (DeletionStartsWithFinalizer(old_obj, obj, kOrphanFinalizer)) {
      attempt_to_orphan->Add(uid);
      return;
    }
    if (DeletionStartsWithFinalizer(old_obj, obj, kForegroundFinalizer)) {
      Node* n = Find(uid);
      if (n == nullptr) return;
      n->deleting_dependents = true;
      for (const auto& dep : n->dependents) attempt_to_delete->Add(dep);
      attempt_to_delete->Add(uid);
    }
  }

  // Dependents of `dependents` that reference `owner` by uid with other coordinates (or from
  // another namespace when the owner is namespaced), and those that match it.
  void Partition(const std::set<std::string>& dependents, const ObjRef& owner,
                 std::vector<std::string>* matching, std::vector<std::string>* nonmatching) {
    bool owner_namespaced = !owner.ns.empty();
    for (const auto& dep_uid : dependents) {
      Node* dep = Find(dep_uid);
      if (dep == nullptr) continue;
      bool match = false, mismatch = false;
      if (owner_namespaced && owner.ns != dep->identity.ns) {
        mismatch = true;
      } else {
        for (const auto& ref : dep->owners) {
          if (ref.uid != owner.uid) continue;
          (MatchesCoordinates(ref, owner) ? match : mismatch) = true;
        }
      }
      if (match && matching) matching->push_back(dep_uid);
      if (mismatch && nonmatching) nonmatching->push_back(dep_uid);
    }
  }

  void RemoveNodeAndNotify(const std::string& uid, const ObjRef& deleted) {
    auto it = nodes.find(uid);
    if (it == nodes.end()) return;
    Node n = std::move(it->second);
    nodes.erase(it);
    RemoveDependentFromOwners(uid, n.owners);
    if (!n.dependents.empty()) absent.Add(deleted);
    for (const auto& dep : n.dependents) attempt_to_delete->Add(dep);
    for (const auto& owner : n.owners) {
      Node* o = Find(owner.uid);
      if (o != nullptr && o->deleting_dependents) attempt_to_delete->Add(owner.uid);
    }
  }

  // An informer event (upstream's processGraphChanges for non-virtual events).
  void ProcessEvent(const client::Resource& r, const json::object* old_obj, const json::object& obj,
                    bool deleted) {
    std::string uid(api::Uid(obj));
    if (uid.empty()) return;
    Node* existing = Find(uid);
    if (existing != nullptr && !existing->observed) {
      ObjRef observed = IdentityOf(r, obj);
      if (!(observed == existing->identity)) {
        // Dependents that named this owner with other coordinates are checked again; those in
        // another namespace than a namespaced owner are definitely wrong.
        std::vector<std::string> suspicious;
        Partition(existing->dependents, observed, nullptr, &suspicious);
        for (const auto& dep_uid : suspicious) {
          Node* dep = Find(dep_uid);
          if (dep != nullptr && !observed.ns.empty() && dep->identity.ns != observed.ns) {
            ReportInvalidNamespaceOwnerRef(*dep, uid);
          }
          attempt_to_delete->Add(dep_uid);
        }
        existing = Find(uid);
        existing->identity = observed;
      }
      existing->observed = true;
    }
    if (deleted) {
      if (existing != nullptr) RemoveNodeAndNotify(uid, IdentityOf(r, obj));
      return;
    }
    std::vector<api::OwnerReference> owners = api::OwnerReferences(obj);
    if (existing == nullptr) {
      Node n;
      n.identity = IdentityOf(r, obj);
      n.owners = owners;
      n.observed = true;
      n.being_deleted = api::IsBeingDeleted(obj);
      n.deleting_dependents = n.being_deleted && api::HasFinalizer(obj, kForegroundFinalizer);
      nodes.emplace(uid, std::move(n));
      AddDependentToOwners(uid, owners);
      ProcessTransitions(old_obj, obj, uid);
      return;
    }
    existing->identity.api_version = r.ApiVersion();
    existing->identity.kind = r.kind;
    // Owner reference changes.
    std::map<std::string, api::OwnerReference> old_by_uid;
    for (const auto& ref : existing->owners) old_by_uid[ref.uid] = ref;
    std::vector<api::OwnerReference> added, removed;
    std::vector<std::pair<api::OwnerReference, api::OwnerReference>> changed;
    for (const auto& ref : owners) {
      auto it = old_by_uid.find(ref.uid);
      if (it == old_by_uid.end()) {
        added.push_back(ref);
        continue;
      }
      if (!(it->second == ref)) changed.emplace_back(it->second, ref);
      old_by_uid.erase(it);
    }
    for (auto& [u, ref] : old_by_uid) removed.push_back(ref);
    if (!added.empty() || !removed.empty() || !changed.empty()) {
      AddUnblockedOwnersToDeleteQueue(removed, changed);
      existing->owners = owners;
      AddDependentToOwners(uid, added);
      RemoveDependentFromOwners(uid, removed);
    }
    if (api::IsBeingDeleted(obj)) {
      if (Node* n = Find(uid)) n->being_deleted = true;
    }
    ProcessTransitions(old_obj, obj, uid);
  }

  // A live lookup found `deleted` absent (upstream's virtual delete event).
  void ProcessVirtualDelete(const ObjRef& deleted) {
    Node* existing = Find(deleted.uid);
    if (existing == nullptr) return;
    if (!existing->observed) {
      std::vector<std::string> matching, nonmatching;
      Partition(existing->dependents, deleted, &matching, &nonmatching);
      if (!nonmatching.empty()) {
        // Some dependents name this uid with other coordinates: keep the node and try the next
        // identity they use.
        if (!matching.empty()) {
          absent.Add(deleted);
          for (const auto& dep : matching) attempt_to_delete->Add(dep);
        }
        if (existing->identity == deleted) {
          if (auto alt = AlternateIdentity(nonmatching, deleted)) {
            existing->identity = *alt;
            attempt_to_delete->AddRateLimited(deleted.uid);
          }
        }
        return;
      }
    } else if (!(existing->identity == deleted)) {
      // The observed object exists under other coordinates: only dependents that used the
      // verified-absent coordinates are affected.
      std::vector<std::string> matching;
      Partition(existing->dependents, deleted, &matching, nullptr);
      if (!matching.empty()) {
        absent.Add(deleted);
        for (const auto& dep : matching) attempt_to_delete->Add(dep);
      }
      return;
    }
    RemoveNodeAndNotify(deleted.uid, deleted);
  }

  // Another identity the dependents use for `absent_id.uid` (the first in a stable order after
  // the verified-absent one, else the first).
  std::optional<ObjRef> AlternateIdentity(const std::vector<std::string>& deps,
                                          const ObjRef& absent_id) {
    bool absent_cluster_scoped = absent_id.ns.empty();
    auto less = [](const ObjRef& a, const ObjRef& b) {
      return std::tie(a.kind, a.api_version, a.ns, a.name, a.uid) <
             std::tie(b.kind, b.api_version, b.ns, b.name, b.uid);
    };
    std::optional<ObjRef> first, first_following;
    for (const auto& dep_uid : deps) {
      Node* dep = Find(dep_uid);
      if (dep == nullptr) continue;
      for (const auto& ref : dep->owners) {
        if (ref.uid != absent_id.uid) continue;
        if (MatchesCoordinates(ref, absent_id) &&
            (absent_cluster_scoped || absent_id.ns == dep->identity.ns)) {
          continue;
        }
        ObjRef alt = FromOwnerRef(ref, dep->identity.ns);
        if (absent_cluster_scoped && alt.api_version == absent_id.api_version &&
            alt.kind == absent_id.kind) {
          alt.ns.clear();
        }
        if (alt == absent_id) continue;
        if (!first || less(alt, *first)) first = alt;
        if (less(absent_id, alt) && (!first_following || less(alt, *first_following))) {
          first_following = alt;
        }
      }
    }
    return first_following ? first_following : first;
  }
};

namespace {

class GcWorker final : public Controller {
 public:
  GcWorker(std::shared_ptr<GarbageCollector> gc, bool orphan)
      : gc_(std::move(gc)), orphan_(orphan) {}
  std::string_view name() const override {
    return orphan_ ? "garbagecollector-orphan" : "garbagecollector";
  }
  asio::awaitable<Result<Requeue>> Reconcile(std::string key) override {
    if (orphan_) co_return co_await gc_->AttemptToOrphan(std::move(key));
    co_return co_await gc_->AttemptToDelete(std::move(key));
  }

 private:
  std::shared_ptr<GarbageCollector> gc_;
  bool orphan_;
};

// Outcome of checking one ownerReference (upstream's isDangling).
struct OwnerCheck {
  bool dangling = false;
  bool waiting_for_dependents = false;  // exists, being deleted in the foreground
  bool invalid = false;                 // a cluster-scoped dependent naming a namespaced owner kind
};

}  // namespace

GarbageCollector::GarbageCollector(ControllerContext& ctx, std::shared_ptr<KindCatalog> catalog)
    : ctx_(ctx),
      catalog_(std::move(catalog)),
      attempt_to_delete_(ctx.NewQueue()),
      attempt_to_orphan_(ctx.NewQueue()),
      graph_(std::make_shared<Graph>()) {
  graph_->attempt_to_delete = &attempt_to_delete_;
  graph_->attempt_to_orphan = &attempt_to_orphan_;
  graph_->events = &ctx.events("garbage-collector-controller");
}

GarbageCollector::~GarbageCollector() = default;

std::shared_ptr<GarbageCollector> GarbageCollector::Create(ControllerContext& ctx,
                                                           std::shared_ptr<KindCatalog> catalog) {
  return std::shared_ptr<GarbageCollector>(new GarbageCollector(ctx, std::move(catalog)));
}

std::vector<const client::Informer*> GarbageCollector::SyncMonitors() {
  std::vector<const client::Informer*> added;
  for (const client::Resource& r : catalog_->Resources({"delete", "list", "watch"})) {
    if (GarbageCollectorIgnores(r)) continue;
    std::string key = r.group + "/" + r.resource;
    if (graph_->monitored.count(key) != 0) continue;
    graph_->monitored.insert(key);
    client::Informer& inf = ctx_.informers.For(r);
    std::weak_ptr<Graph> weak = graph_;
    client::EventHandlers h;
    h.on_add = [weak, r](const client::ObjectPtr& obj) {
      if (auto g = weak.lock()) g->ProcessEvent(r, nullptr, *obj, false);
    };
    h.on_update = [weak, r](const client::ObjectPtr& old_obj, const client::ObjectPtr& obj) {
      if (auto g = weak.lock()) g->ProcessEvent(r, old_obj.get(), *obj, false);
    };
    h.on_delete = [weak, r](const client::DeletedObject& del) {
      if (!del.object) return;
      if (auto g = weak.lock()) g->ProcessEvent(r, nullptr, *del.object, true);
    };
    inf.AddEventHandlers(std::move(h));
    added.push_back(&inf);
  }
  return added;
}

std::size_t GarbageCollector::monitors() const { return graph_->monitored.size(); }

std::unique_ptr<Controller> GarbageCollector::NewDeleteWorker() {
  return std::make_unique<GcWorker>(shared_from_this(), false);
}

std::unique_ptr<Controller> GarbageCollector::NewOrphanWorker() {
  return std::make_unique<GcWorker>(shared_from_this(), true);
}

std::size_t GarbageCollector::graph_size() const { return graph_->nodes.size(); }

bool GarbageCollector::InGraph(std::string_view uid) const { return graph_->Find(uid) != nullptr; }

bool GarbageCollector::IsVirtual(std::string_view uid) const {
  const Node* n = graph_->Find(uid);
  return n != nullptr && !n->observed;
}

std::vector<std::string> GarbageCollector::DependentsOf(std::string_view uid) const {
  const Node* n = graph_->Find(uid);
  if (n == nullptr) return {};
  return {n->dependents.begin(), n->dependents.end()};
}

namespace {

// The live-object operations the collector performs (client calls with retries on conflict).
class LiveOps {
 public:
  LiveOps(client::Client& client, const KindCatalog& catalog)
      : client_(client), catalog_(catalog) {}

  // The object at `id`'s coordinates; kNotFound when absent.
  asio::awaitable<Result<json::object>> Get(ObjRef id) {
    auto res = catalog_.ForKind(id.api_version, id.kind);
    if (!res.has_value()) co_return Status::Internal(res.error().message());
    std::string ns = res->namespaced ? id.ns : std::string();
    client::Resource r = *res;
    co_return co_await client_.Get(std::move(r), std::move(ns), id.name);
  }

  // Deletes `id` with `policy`, preconditioned on its uid and (first) on `rv` (upstream's
  // deleteObject: a resourceVersion conflict with unchanged ownerReferences retries on the uid
  // alone).
  asio::awaitable<Status> Delete(ObjRef id, std::string rv, json::array owners_at_rv,
                                 std::string policy) {
    auto res = catalog_.ForKind(id.api_version, id.kind);
    if (!res.has_value()) co_return Status::Internal(res.error().message());
    std::string ns = res->namespaced ? id.ns : std::string();
    client::DeleteOptions opts;
    opts.propagation_policy = policy;
    opts.precondition_uid = id.uid;
    opts.precondition_resource_version = rv;
    client::Resource r = *res;
    auto d = co_await client_.Delete(r, ns, id.name, opts);
    if (d.has_value()) co_return Status::OK();
    if (!d.error().Is(Code::kConflict) || rv.empty()) co_return d.error();
    auto live = co_await client_.Get(r, ns, id.name);
    if (!live.has_value()) {
      if (live.error().Is(Code::kNotFound)) co_return Status::OK();
      co_return d.error();
    }
    if (api::Uid(*live) != id.uid || api::ResourceVersion(*live) == rv ||
        OwnerRefsJson(*live) != owners_at_rv) {
      co_return d.error();
    }
    opts.precondition_resource_version.clear();
    auto again = co_await client_.Delete(r, ns, id.name, opts);
    if (again.has_value()) co_return Status::OK();
    co_return again.error();
  }

  // Rewrites `id`'s ownerReferences with `edit` (which returns false for "no change") through a
  // JSON merge patch preconditioned on the resourceVersion, retrying conflicts. kNotFound when the
  // object (with this uid) is gone.
  template <class Edit>
  asio::awaitable<Status> EditOwnerRefs(ObjRef id, Edit edit) {
    for (int attempt = 0; attempt < kMaxPatchAttempts; ++attempt) {
      auto live = co_await Get(id);
      if (!live.has_value()) co_return live.error();
      if (api::Uid(*live) != id.uid) {
        co_return Status::NotFound("object " + id.ToString() + " is gone");
      }
      json::array refs = OwnerRefsJson(*live);
      if (!edit(refs)) co_return Status::OK();
      json::object meta{{"resourceVersion", api::ResourceVersion(*live)}};
      if (refs.empty()) {
        meta["ownerReferences"] = nullptr;
      } else {
        meta["ownerReferences"] = std::move(refs);
      }
      json::object patch{{"metadata", std::move(meta)}};
      Status s = co_await Patch(id, std::move(patch));
      if (s.ok() || !s.Is(Code::kConflict)) co_return s;
    }
    co_return Status::Conflict("ownerReferences of " + id.ToString() + " kept changing");
  }

  // Removes `uids` from `id`'s ownerReferences.
  asio::awaitable<Status> RemoveOwnerRefs(ObjRef id, std::set<std::string> uids) {
    auto edit = [&uids](json::array& refs) {
      auto before = refs.size();
      json::array kept;
      for (const auto& r : refs) {
        if (uids.count(JsonString(r, "uid")) == 0) kept.push_back(r);
      }
      refs = std::move(kept);
      return refs.size() != before;
    };
    Status s = co_await EditOwnerRefs(std::move(id), edit);
    co_return s;
  }

  // Sets blockOwnerDeletion=false on every ownerReference of `id`.
  asio::awaitable<Status> UnblockOwnerRefs(ObjRef id) {
    auto edit = [](json::array& refs) {
      bool changed = false;
      for (auto& r : refs) {
        if (!r.is_object()) continue;
        const json::value* b = r.as_object().if_contains("blockOwnerDeletion");
        if (b && b->is_bool() && b->as_bool()) {
          r.as_object()["blockOwnerDeletion"] = false;
          changed = true;
        }
      }
      return changed;
    };
    Status s = co_await EditOwnerRefs(std::move(id), edit);
    co_return s;
  }

  // Removes `finalizer` from `id` (gone or already without it: OK).
  asio::awaitable<Status> RemoveFinalizer(ObjRef id, std::string finalizer) {
    for (int attempt = 0; attempt < kMaxPatchAttempts; ++attempt) {
      auto live = co_await Get(id);
      if (!live.has_value()) {
        if (live.error().Is(Code::kNotFound)) co_return Status::OK();
        co_return live.error();
      }
      if (api::Uid(*live) != id.uid || !api::HasFinalizer(*live, finalizer)) {
        co_return Status::OK();
      }
      json::array kept;
      for (const std::string& f : api::Finalizers(*live)) {
        if (f != finalizer) kept.emplace_back(f);
      }
      json::object meta{{"resourceVersion", api::ResourceVersion(*live)}};
      if (kept.empty()) {
        meta["finalizers"] = nullptr;
      } else {
        meta["finalizers"] = std::move(kept);
      }
      json::object patch{{"metadata", std::move(meta)}};
      Status s = co_await Patch(id, std::move(patch));
      if (s.Is(Code::kNotFound)) co_return Status::OK();
      if (s.ok() || !s.Is(Code::kConflict)) co_return s;
    }
    co_return Status::Conflict("finalizers of " + id.ToString() + " kept changing");
  }

 private:
  asio::awaitable<Status> Patch(ObjRef id, json::object patch) {
    auto res = catalog_.ForKind(id.api_version, id.kind);
    if (!res.has_value()) co_return Status::Internal(res.error().message());
    std::string ns = res->namespaced ? id.ns : std::string();
    client::Resource r = *res;
    std::string body = json::serialize(patch);
    client::PatchOptions opts;
    auto p = co_await client_.Patch(std::move(r), std::move(ns), id.name, client::PatchType::kMerge,
                                    std::move(body), std::move(opts));
    if (p.has_value()) co_return Status::OK();
    co_return p.error();
  }

  client::Client& client_;
  const KindCatalog& catalog_;
};

}  // namespace

asio::awaitable<Result<Requeue>> GarbageCollector::AttemptToDelete(std::string uid) {
  auto keep_alive = shared_from_this();
  Graph& g = *graph_;
  // Upstream requeues a node that exists but has not been observed through an informer yet.
  auto finish = [&g, &uid]() -> Requeue {
    const Node* n = g.Find(uid);
    return Requeue{n != nullptr && !n->observed, std::chrono::milliseconds(0)};
  };
  Node* n = g.Find(uid);
  if (n == nullptr) co_return Requeue{};
  // Being deleted is a one-way trip: its dependents are handled once it is gone.
  if (n->being_deleted && !n->deleting_dependents) co_return Requeue{};
  const ObjRef id = n->identity;
  auto kind = catalog_->ForKind(id.api_version, id.kind);
  if (!kind.has_value()) co_return kind.error();
  if (kind->namespaced && id.ns.empty()) {
    // A namespaced kind without a namespace: only a cluster-scoped dependent names an owner like
    // this, which is invalid and cannot resolve on retry.
    co_return Requeue{};
  }

  LiveOps ops(ctx_.client, *catalog_);
  auto latest = co_await ops.Get(id);
  if (!latest.has_value()) {
    if (!latest.error().Is(Code::kNotFound)) co_return latest.error();
    g.ProcessVirtualDelete(id);
    co_return Requeue{};
  }
  if (api::Uid(*latest) != id.uid) {
    g.ProcessVirtualDelete(id);
    co_return Requeue{};
  }

  n = g.Find(uid);
  if (n == nullptr) co_return Requeue{};
  if (n->deleting_dependents) {
    // Upstream's processDeletingDependentsItem: the foreground owner waits for its blocking
    // dependents, and loses its finalizer once none is left.
    std::vector<std::string> blocking;
    for (const auto& dep_uid : n->dependents) {
      const Node* dep = g.Find(dep_uid);
      if (dep == nullptr) continue;
      for (const auto& ref : dep->owners) {
        if (ref.uid == uid && ref.block_owner_deletion) {
          blocking.push_back(dep_uid);
          break;
        }
      }
    }
    if (blocking.empty()) {
      std::string finalizer(kForegroundFinalizer);
      Status s = co_await ops.RemoveFinalizer(id, std::move(finalizer));
      if (!s.ok()) co_return s;
      co_return finish();
    }
    for (const auto& dep_uid : blocking) {
      const Node* dep = g.Find(dep_uid);
      if (dep != nullptr && !dep->deleting_dependents) attempt_to_delete_.Add(dep_uid);
    }
    co_return finish();
  }

  std::vector<api::OwnerReference> refs = api::OwnerReferences(*latest);
  if (refs.empty()) co_return finish();

  // Classify the references: solid (owner exists), dangling (gone), waiting (being deleted in
  // the foreground).
  std::vector<api::OwnerReference> solid, dangling, waiting;
  for (const auto& ref : refs) {
    OwnerCheck check;
    ObjRef cluster_key = FromOwnerRef(ref, "");
    ObjRef ns_key = FromOwnerRef(ref, id.ns);
    if (g.absent.Has(cluster_key) || g.absent.Has(ns_key)) {
      check.dangling = true;
    } else {
      auto owner_kind = catalog_->ForKind(ref.api_version, ref.kind);
      if (!owner_kind.has_value()) co_return owner_kind.error();
      if (id.ns.empty() && owner_kind->namespaced) {
        // A cluster-scoped object cannot be owned by a namespaced one; retrying cannot help.
        MINI8S_VLOG(2) << "garbage collector: " << id.ToString()
                       << " is cluster-scoped but names a namespaced owner " << ref.kind << " "
                       << ref.name;
        co_return Requeue{};
      }
      ObjRef owner_id = owner_kind->namespaced ? ns_key : cluster_key;
      auto owner = co_await ops.Get(owner_id);
      if (!owner.has_value()) {
        if (!owner.error().Is(Code::kNotFound)) co_return owner.error();
        g.absent.Add(owner_id);
        check.dangling = true;
      } else if (api::Uid(*owner) != ref.uid) {
        g.absent.Add(owner_id);
        check.dangling = true;
      } else if (api::IsBeingDeleted(*owner) && api::HasFinalizer(*owner, kForegroundFinalizer)) {
        check.waiting_for_dependents = true;
      }
    }
    if (check.dangling) {
      dangling.push_back(ref);
    } else if (check.waiting_for_dependents) {
      waiting.push_back(ref);
    } else {
      solid.push_back(ref);
    }
  }

  if (!solid.empty()) {
    if (dangling.empty() && waiting.empty()) co_return finish();
    // Keep the object; drop the references to gone owners and to owners waiting for their
    // dependents (they would wait for this object forever).
    std::set<std::string> drop;
    for (const auto& r : dangling) drop.insert(r.uid);
    for (const auto& r : waiting) drop.insert(r.uid);
    Status s = co_await ops.RemoveOwnerRefs(id, std::move(drop));
    if (!s.ok()) co_return s;
    co_return finish();
  }

  std::string rv(api::ResourceVersion(*latest));
  json::array owners_json = OwnerRefsJson(*latest);
  std::string policy = "Background";
  n = g.Find(uid);
  if (!waiting.empty() && n != nullptr && !n->dependents.empty()) {
    // This object owns others: delete it in the foreground too, so its blocking dependents go
    // first. If one of its dependents is itself waiting, unblock our references to avoid a cycle.
    bool cycle = false;
    for (const auto& dep_uid : n->dependents) {
      const Node* dep = g.Find(dep_uid);
      if (dep != nullptr && dep->deleting_dependents) cycle = true;
    }
    if (cycle) {
      Status s = co_await ops.UnblockOwnerRefs(id);
      if (!s.ok()) co_return s;
    }
    policy = "Foreground";
  } else if (api::HasFinalizer(*latest, kOrphanFinalizer)) {
    policy = "Orphan";
  } else if (api::HasFinalizer(*latest, kForegroundFinalizer)) {
    policy = "Foreground";
  }
  MINI8S_VLOG(2) << "garbage collector: deleting " << id.ToString() << " (" << policy << ")";
  Status s = co_await ops.Delete(id, std::move(rv), std::move(owners_json), std::move(policy));
  if (s.Is(Code::kNotFound)) {
    g.ProcessVirtualDelete(id);
    co_return Requeue{};
  }
  if (!s.ok()) co_return s;
  co_return finish();
}

asio::awaitable<Result<Requeue>> GarbageCollector::AttemptToOrphan(std::string uid) {
  auto keep_alive = shared_from_this();
  Graph& g = *graph_;
  const Node* n = g.Find(uid);
  if (n == nullptr) co_return Requeue{};
  const ObjRef owner = n->identity;
  std::vector<ObjRef> dependents;
  for (const auto& dep_uid : n->dependents) {
    if (const Node* dep = g.Find(dep_uid)) dependents.push_back(dep->identity);
  }
  LiveOps ops(ctx_.client, *catalog_);
  std::vector<std::string> errors;
  for (const ObjRef& dep : dependents) {
    std::set<std::string> drop{uid};
    Status s = co_await ops.RemoveOwnerRefs(dep, std::move(drop));
    if (!s.ok() && !s.Is(Code::kNotFound)) {
      errors.push_back("orphaning " + dep.ToString() + " failed, " + s.message());
    }
  }
  if (!errors.empty()) {
    std::string msg = "failed to orphan dependents of owner " + owner.ToString() + ", got errors: ";
    for (size_t i = 0; i < errors.size(); ++i) msg += (i ? ", " : "") + errors[i];
    co_return Status::Unavailable(std::move(msg));
  }
  std::string finalizer(kOrphanFinalizer);
  Status s = co_await ops.RemoveFinalizer(owner, std::move(finalizer));
  if (!s.ok()) co_return s;
  co_return Requeue{};
}

namespace {

// Adds monitors for kinds that appeared (runs until the collector is gone or ctx stops). A free
// coroutine with value parameters: a coroutine lambda's captures would die with the lambda.
asio::awaitable<void> MonitorResyncLoop(std::weak_ptr<GarbageCollector> weak,
                                        ControllerContext* context,
                                        std::shared_ptr<asio::steady_timer> timer) {
  for (;;) {
    timer->expires_after(kMonitorResyncPeriod);
    auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    auto self = weak.lock();
    if (ec || !self || context->stopping()) co_return;
    if (!self->SyncMonitors().empty()) context->informers.Start();
  }
}

}  // namespace

Status StartGarbageCollector(ControllerContext& ctx) {
  return StartGarbageCollector(ctx, KindCatalog::ForContext(ctx));
}

Status StartGarbageCollector(ControllerContext& ctx, std::shared_ptr<KindCatalog> catalog) {
  if (!catalog) return Status::Invalid("garbage collector: no kind catalog");
  auto gc = GarbageCollector::Create(ctx, catalog);
  (void)gc->SyncMonitors();
  std::weak_ptr<GarbageCollector> weak = gc;
  ControllerContext* context = &ctx;
  // New kinds (CRDs) get monitors as soon as the catalog learns of them.
  catalog->OnChange([weak, context] {
    auto self = weak.lock();
    if (!self || context->stopping()) return;
    if (!self->SyncMonitors().empty()) context->informers.Start();
  });
  // And periodically, as upstream re-runs discovery, in case a change was missed.
  auto timer = std::make_shared<asio::steady_timer>(ctx.executor);
  ctx.Spawn([weak, context, timer] { return MonitorResyncLoop(weak, context, timer); });
  // Like upstream's current collector, the workers do not wait for the monitors' first sync: every
  // decision rests on live GETs, and one resource that cannot be listed must not stop collection.
  ctx.Run(gc->NewDeleteWorker(), gc->attempt_to_delete(), {}, kDeleteWorkers);
  ctx.Run(gc->NewOrphanWorker(), gc->attempt_to_orphan(), {}, 1);
  return Status::OK();
}

}  // namespace mini8s::controllers
