#include "mini8s/controllers/local_path.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "controllers/service/util.h"
#include "mini8s/api/object.h"
#include "mini8s/api/quantity.h"
#include "mini8s/api/selector.h"
#include "mini8s/common/logging.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

const client::Resource kPvcs{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true};
const client::Resource kPvs{"", "v1", "persistentvolumes", "PersistentVolume", false};
const client::Resource kClasses{"storage.k8s.io", "v1", "storageclasses", "StorageClass", false};

constexpr std::string_view kClaimPrefix = "claim:";
constexpr std::string_view kVolumePrefix = "volume:";

// The class a claim names: spec.storageClassName, else the legacy beta annotation; nullopt when
// neither is set ("" is an explicit "no class").
std::optional<std::string> ClaimClass(const json::object& claim) {
  const json::value* v = api::FindPath(claim, "spec.storageClassName");
  if (v && v->is_string()) return std::string(v->as_string());
  if (auto a = api::Annotation(claim, "volume.beta.kubernetes.io/storage-class")) {
    return std::string(*a);
  }
  return std::nullopt;
}

std::string VolumeClass(const json::object& pv) {
  return std::string(api::GetString(pv, "spec.storageClassName"));
}

// The default StorageClass: annotated is-default-class "true"; the newest wins (upstream since
// 1.28), ties broken by name.
client::ObjectPtr DefaultClass(const client::Informer& classes) {
  client::ObjectPtr best;
  for (const auto& sc : classes.indexer().List()) {
    bool is_default =
        api::Annotation(*sc, kDefaultClassAnnotation) == "true" ||
        api::Annotation(*sc, "storageclass.beta.kubernetes.io/is-default-class") == "true";
    if (!is_default) continue;
    if (!best || api::CreationTimestamp(*sc) > api::CreationTimestamp(*best) ||
        (api::CreationTimestamp(*sc) == api::CreationTimestamp(*best) &&
         api::Name(*sc) < api::Name(*best))) {
      best = sc;
    }
  }
  return best;
}

std::optional<api::Quantity> Storage(const json::object& obj, std::string_view path) {
  auto s = api::GetString(obj, path);
  if (s.empty()) return std::nullopt;
  auto q = api::Quantity::Parse(s);
  if (!q) return std::nullopt;
  return *q;
}

std::vector<std::string> Strings(const json::object& obj, std::string_view path) {
  std::vector<std::string> out;
  if (const json::array* a = api::GetArray(obj, path)) {
    for (const auto& v : *a) {
      if (v.is_string()) out.emplace_back(v.as_string());
    }
  }
  return out;
}

std::string_view VolumeMode(const json::object& obj) {
  auto m = api::GetString(obj, "spec.volumeMode");
  return m.empty() ? std::string_view("Filesystem") : m;
}

// Node affinity of a PV admits `node` (only kubernetes.io/hostname terms are judged; other
// expressions are left to the scheduler).
bool AffinityAdmits(const json::object& pv, std::string_view node) {
  const json::array* terms = api::GetArray(pv, "spec.nodeAffinity.required.nodeSelectorTerms");
  if (!terms || terms->empty() || node.empty()) return true;
  for (const auto& t : *terms) {
    if (!t.is_object()) continue;
    bool ok = true;
    auto exprs = t.as_object().find("matchExpressions");
    if (exprs != t.as_object().end() && exprs->value().is_array()) {
      for (const auto& e : exprs->value().as_array()) {
        if (!e.is_object()) continue;
        const auto& eo = e.as_object();
        if (eo.contains("key") && eo.at("key") == "kubernetes.io/hostname" &&
            eo.contains("operator") && eo.at("operator") == "In" && eo.contains("values") &&
            eo.at("values").is_array()) {
          const auto& vals = eo.at("values").as_array();
          ok &= std::any_of(vals.begin(), vals.end(), [&](const json::value& v) {
            return v.is_string() && v.as_string() == node;
          });
        }
      }
    }
    if (ok) return true;
  }
  return false;
}

json::object ClaimRef(const json::object& claim) {
  return json::object{{"kind", "PersistentVolumeClaim"},
                      {"namespace", api::Namespace(claim)},
                      {"name", api::Name(claim)},
                      {"uid", api::Uid(claim)},
                      {"apiVersion", "v1"},
                      {"resourceVersion", api::ResourceVersion(claim)}};
}

bool RefersTo(const json::object& pv, const json::object& claim) {
  return api::GetString(pv, "spec.claimRef.namespace") == api::Namespace(claim) &&
         api::GetString(pv, "spec.claimRef.name") == api::Name(claim);
}

void Record(EventRecorder* events, const json::object& obj, std::string_view type,
            std::string_view reason, std::string message) {
  if (events) events->Event(obj, type, reason, std::move(message));
}

}  // namespace

// ---- StorageClass -----------------------------------------------------------------------------

json::object LocalPathStorageClass() {
  return json::object{
      {"apiVersion", "storage.k8s.io/v1"},
      {"kind", "StorageClass"},
      {"metadata", json::object{{"name", kLocalPathClass},
                                {"annotations", json::object{{kDefaultClassAnnotation, "true"}}}}},
      {"provisioner", kLocalPathProvisioner},
      {"reclaimPolicy", "Delete"},
      {"volumeBindingMode", "WaitForFirstConsumer"}};
}

asio::awaitable<Status> EnsureLocalPathStorageClass(client::Client& client) {
  std::string no_ns, name(kLocalPathClass);
  auto got = co_await client.Get(kClasses, no_ns, name);
  if (got.has_value()) co_return Status::OK();
  if (got.error().code() != Code::kNotFound) co_return got.error();
  json::object sc = LocalPathStorageClass();
  auto created = co_await client.Create(kClasses, std::move(sc));
  if (!created.has_value() && created.error().code() != Code::kAlreadyExists) {
    co_return created.error();
  }
  co_return Status::OK();
}

std::string LocalPathFor(std::string_view data_dir, const json::object& claim) {
  std::string dir(data_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/storage/pvc-" + std::string(api::Uid(claim)) + "_" +
         std::string(api::Namespace(claim)) + "_" + std::string(api::Name(claim));
}

// ---- LocalPathProvisioner ---------------------------------------------------------------------

LocalPathProvisioner::LocalPathProvisioner(client::Client& client, client::Informer& claims,
                                           client::Informer& volumes, client::Informer& classes,
                                           WorkQueue& queue, ClusterConfig config,
                                           EventRecorder* events)
    : client_(client),
      claims_(claims),
      volumes_(volumes),
      classes_(classes),
      config_(std::move(config)),
      events_(events) {
  claims_.AddEventHandlers(EnqueueHandlers(queue));
  client::Informer* c = &claims_;
  WorkQueue* q = &queue;
  // A class created after its claims: look at every claim still waiting for a volume.
  client::EventHandlers ch;
  ch.on_add = [c, q](const client::ObjectPtr&) {
    for (const auto& claim : c->indexer().List()) {
      if (api::GetString(*claim, "spec.volumeName").empty()) q->Add(client::ObjectKey(*claim));
    }
  };
  classes_.AddEventHandlers(std::move(ch));
}

json::object LocalPathProvisioner::VolumeFor(const json::object& claim, std::string_view node,
                                             const json::object& storage_class) const {
  std::string name = "pvc-" + std::string(api::Uid(claim));
  std::string reclaim(api::GetString(storage_class, "reclaimPolicy"));
  if (reclaim.empty()) reclaim = "Delete";
  json::object spec;
  spec["capacity"] =
      json::object{{"storage", api::GetString(claim, "spec.resources.requests.storage")}};
  if (const auto* modes = api::FindPath(claim, "spec.accessModes")) spec["accessModes"] = *modes;
  spec["persistentVolumeReclaimPolicy"] = reclaim;
  spec["storageClassName"] = api::Name(storage_class);
  spec["volumeMode"] = VolumeMode(claim);
  spec["hostPath"] =
      json::object{{"path", LocalPathFor(config_.data_dir, claim)}, {"type", "DirectoryOrCreate"}};
  json::object expr{{"key", "kubernetes.io/hostname"},
                    {"operator", "In"},
                    {"values", json::array{json::string(node)}}};
  json::object term{{"matchExpressions", json::array{std::move(expr)}}};
  json::object required{{"nodeSelectorTerms", json::array{std::move(term)}}};
  spec["nodeAffinity"] = json::object{{"required", std::move(required)}};
  spec["claimRef"] = ClaimRef(claim);
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "PersistentVolume"},
      {"metadata",
       json::object{{"name", name},
                    {"annotations", json::object{{kProvisionedByAnnotation, kLocalPathProvisioner},
                                                 {"local.path.provisioner/selected-node", node}}}}},
      {"spec", std::move(spec)}};
}

asio::awaitable<Result<Requeue>> LocalPathProvisioner::Reconcile(std::string key) {
  client::ObjectPtr claim = claims_.indexer().Get(key);
  if (!claim || api::IsBeingDeleted(*claim)) co_return Requeue{};
  if (!api::GetString(*claim, "spec.volumeName").empty()) co_return Requeue{};
  std::optional<std::string> class_name = ClaimClass(*claim);
  client::ObjectPtr sc;
  if (class_name) {
    if (class_name->empty()) co_return Requeue{};  // explicitly no class: not dynamic
    sc = classes_.indexer().Get(*class_name);
  } else {
    sc = DefaultClass(classes_);
  }
  if (!sc || api::GetString(*sc, "provisioner") != kLocalPathProvisioner) co_return Requeue{};
  auto node = api::Annotation(*claim, kSelectedNodeAnnotation);
  if (!node || node->empty()) co_return Requeue{};  // the scheduler has not placed a consumer
  std::string pv_name = "pvc-" + std::string(api::Uid(*claim));
  if (volumes_.indexer().Get(pv_name)) co_return Requeue{};  // provisioned; the binder binds
  if (api::GetString(*claim, "spec.resources.requests.storage").empty()) {
    Record(events_, *claim, "Warning", "ProvisioningFailed",
           "failed to provision volume with StorageClass \"" + std::string(api::Name(*sc)) +
               "\": claim has no storage request");
    co_return Requeue{};
  }
  json::object pv = VolumeFor(*claim, *node, *sc);
  auto r = co_await client_.Create(kPvs, std::move(pv));
  if (!r.has_value()) {
    if (r.error().code() == Code::kAlreadyExists) co_return Requeue{};
    Record(events_, *claim, "Warning", "ProvisioningFailed",
           "failed to provision volume with StorageClass \"" + std::string(api::Name(*sc)) +
               "\": " + r.error().message());
    co_return r.error();
  }
  Record(events_, *claim, "Normal", "ProvisioningSucceeded",
         "Successfully provisioned volume " + pv_name);
  co_return Requeue{};
}

// ---- PersistentVolumeBinder -------------------------------------------------------------------

PersistentVolumeBinder::PersistentVolumeBinder(client::Client& client, client::Informer& claims,
                                               client::Informer& volumes, client::Informer& classes,
                                               WorkQueue& queue, EventRecorder* events)
    : client_(client), claims_(claims), volumes_(volumes), classes_(classes), events_(events) {
  WorkQueue* q = &queue;
  client::Informer* c = &claims_;
  auto claim_key = [](const json::object& o) {
    return std::string(kClaimPrefix) + client::ObjectKey(o);
  };
  client::EventHandlers ch;
  ch.on_add = [q, claim_key](const client::ObjectPtr& o) { q->Add(claim_key(*o)); };
  ch.on_update = [q, claim_key](const client::ObjectPtr&, const client::ObjectPtr& o) {
    q->Add(claim_key(*o));
  };
  ch.on_delete = [q](const client::DeletedObject& d) { q->Add(std::string(kClaimPrefix) + d.key); };
  claims_.AddEventHandlers(std::move(ch));

  auto pending_claims = [c, q, claim_key]() {
    for (const auto& claim : c->indexer().List()) {
      if (api::GetString(*claim, "spec.volumeName").empty()) q->Add(claim_key(*claim));
    }
  };
  client::EventHandlers vh;
  auto on_volume = [q, pending_claims](const json::object& pv) {
    q->Add(std::string(kVolumePrefix) + std::string(api::Name(pv)));
    // An unclaimed volume may be what a pending claim waits for.
    if (!api::FindPath(pv, "spec.claimRef")) pending_claims();
  };
  vh.on_add = [on_volume](const client::ObjectPtr& o) { on_volume(*o); };
  vh.on_update = [on_volume](const client::ObjectPtr&, const client::ObjectPtr& o) {
    on_volume(*o);
  };
  vh.on_delete = [q](const client::DeletedObject& d) {
    q->Add(std::string(kVolumePrefix) + d.key);
    if (d.object && !api::GetString(*d.object, "spec.claimRef.name").empty()) {
      q->Add(std::string(kClaimPrefix) +
             std::string(api::GetString(*d.object, "spec.claimRef.namespace")) + "/" +
             std::string(api::GetString(*d.object, "spec.claimRef.name")));
    }
  };
  volumes_.AddEventHandlers(std::move(vh));

  client::EventHandlers sh;
  sh.on_add = [pending_claims](const client::ObjectPtr&) { pending_claims(); };
  sh.on_update = [pending_claims](const client::ObjectPtr&, const client::ObjectPtr&) {
    pending_claims();
  };
  classes_.AddEventHandlers(std::move(sh));
}

asio::awaitable<Result<Requeue>> PersistentVolumeBinder::Reconcile(std::string key) {
  if (key.rfind(kClaimPrefix, 0) == 0) {
    std::string claim_key = key.substr(kClaimPrefix.size());
    auto r = co_await SyncClaim(claim_key);
    co_return r;
  }
  if (key.rfind(kVolumePrefix, 0) == 0) {
    std::string volume = key.substr(kVolumePrefix.size());
    auto r = co_await SyncVolume(volume);
    co_return r;
  }
  co_return Requeue{};
}

asio::awaitable<Status> PersistentVolumeBinder::Bind(json::object claim, json::object volume) {
  // 1. The volume points at the claim.
  std::string claim_uid(api::Uid(claim));
  if (api::GetString(volume, "spec.claimRef.uid") != claim_uid || !RefersTo(volume, claim)) {
    api::MutableObjectAt(volume, "spec")["claimRef"] = ClaimRef(claim);
    api::SetAnnotation(volume, kBoundByControllerAnnotation, "yes");
    auto r = co_await client_.Update(kPvs, std::move(volume));
    if (!r.has_value()) co_return r.error();
    volume = std::move(*r);
  }
  // 2. The volume is Bound.
  if (api::GetString(volume, "status.phase") != "Bound") {
    api::MutableObjectAt(volume, "status")["phase"] = "Bound";
    auto r = co_await client_.UpdateStatus(kPvs, std::move(volume));
    if (!r.has_value()) co_return r.error();
    volume = std::move(*r);
  }
  // 3. The claim points at the volume, with upstream's annotations.
  std::string pv_name(api::Name(volume));
  bool claim_changed = false;
  if (api::GetString(claim, "spec.volumeName") != pv_name) {
    api::MutableObjectAt(claim, "spec")["volumeName"] = pv_name;
    api::SetAnnotation(claim, kBoundByControllerAnnotation, "yes");
    claim_changed = true;
  }
  if (api::Annotation(claim, kBindCompletedAnnotation) != "yes") {
    api::SetAnnotation(claim, kBindCompletedAnnotation, "yes");
    claim_changed = true;
  }
  if (auto by = api::Annotation(volume, kProvisionedByAnnotation)) {
    for (auto a : {kBetaStorageProvisionerAnnotation, kStorageProvisionerAnnotation}) {
      if (api::Annotation(claim, a) != *by) {
        api::SetAnnotation(claim, a, *by);
        claim_changed = true;
      }
    }
  }
  if (claim_changed) {
    auto r = co_await client_.Update(kPvcs, std::move(claim));
    if (!r.has_value()) co_return r.error();
    claim = std::move(*r);
  }
  // 4. The claim is Bound, with the volume's capacity and access modes.
  json::object want_status = claim.contains("status") && claim.at("status").is_object()
                                 ? claim.at("status").as_object()
                                 : json::object();
  want_status["phase"] = "Bound";
  if (const auto* modes = api::FindPath(volume, "spec.accessModes")) {
    want_status["accessModes"] = *modes;
  }
  if (const auto* cap = api::FindPath(volume, "spec.capacity")) want_status["capacity"] = *cap;
  const json::value* have = api::FindPath(claim, "status");
  if (!have || *have != json::value(want_status)) {
    claim["status"] = std::move(want_status);
    auto r = co_await client_.UpdateStatus(kPvcs, std::move(claim));
    if (!r.has_value()) co_return r.error();
  }
  co_return Status::OK();
}

asio::awaitable<Result<Requeue>> PersistentVolumeBinder::SyncClaim(std::string key) {
  client::ObjectPtr claim = claims_.indexer().Get(key);
  std::string ns = client::SplitObjectKey(key).first;
  std::string name = client::SplitObjectKey(key).second;
  if (!claim) {
    // Deleted: the volumes it held are released.
    for (const auto& pv : volumes_.indexer().List()) {
      if (api::GetString(*pv, "spec.claimRef.namespace") == ns &&
          api::GetString(*pv, "spec.claimRef.name") == name) {
        std::string pv_name(api::Name(*pv));
        auto r = co_await SyncVolume(pv_name);
        if (!r.has_value()) co_return r;
      }
    }
    co_return Requeue{};
  }
  if (api::IsBeingDeleted(*claim)) co_return Requeue{};

  std::optional<std::string> class_name = ClaimClass(*claim);
  if (!class_name) {
    // Retroactive default StorageClass (upstream since 1.28): a claim created without a class
    // gets the default one.
    if (client::ObjectPtr def = DefaultClass(classes_)) {
      json::object updated = *claim;
      api::MutableObjectAt(updated, "spec")["storageClassName"] = api::Name(*def);
      auto r = co_await client_.Update(kPvcs, std::move(updated));
      if (!r.has_value()) co_return r.error();
      co_return Requeue{};  // the update comes back as an event
    }
    class_name = "";
  }

  std::string volume_name(api::GetString(*claim, "spec.volumeName"));
  if (!volume_name.empty()) {
    client::ObjectPtr pv = volumes_.indexer().Get(volume_name);
    if (!pv) {
      std::string no_ns;
      auto live = co_await client_.Get(kPvs, no_ns, volume_name);
      if (live.has_value()) co_return Requeue{true, std::chrono::milliseconds(0)};  // cache lags
      if (live.error().code() != Code::kNotFound) co_return live.error();
      if (api::GetString(*claim, "status.phase") != "Lost") {
        json::object updated = *claim;
        api::MutableObjectAt(updated, "status")["phase"] = "Lost";
        Record(events_, *claim, "Warning", "ClaimLost",
               "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
        auto r = co_await client_.UpdateStatus(kPvcs, std::move(updated));
        if (!r.has_value()) co_return r.error();
      }
      co_return Requeue{};
    }
    std::string_view ref_uid = api::GetString(*pv, "spec.claimRef.uid");
    bool free = !api::FindPath(*pv, "spec.claimRef");
    bool ours = RefersTo(*pv, *claim) && (ref_uid.empty() || ref_uid == api::Uid(*claim));
    if (free || ours) {
      MINI8S_CO_RETURN_IF_ERROR(co_await Bind(*claim, *pv));
    }
    co_return Requeue{};
  }

  // Not bound yet: a volume pre-bound to this claim, or provisioned for it, wins.
  for (const auto& pv : volumes_.indexer().List()) {
    if (api::IsBeingDeleted(*pv) || !RefersTo(*pv, *claim)) continue;
    std::string_view ref_uid = api::GetString(*pv, "spec.claimRef.uid");
    if (!ref_uid.empty() && ref_uid != api::Uid(*claim)) continue;
    MINI8S_CO_RETURN_IF_ERROR(co_await Bind(*claim, *pv));
    co_return Requeue{};
  }

  client::ObjectPtr sc;
  if (!class_name->empty()) {
    sc = classes_.indexer().Get(*class_name);
    if (!sc) co_return Requeue{};  // the class may be created later (its event requeues)
  }
  std::string_view mode = sc ? api::GetString(*sc, "volumeBindingMode") : std::string_view();
  auto selected_node = api::Annotation(*claim, kSelectedNodeAnnotation);
  if (mode == "WaitForFirstConsumer" && !selected_node) {
    Record(events_, *claim, "Normal", "WaitForFirstConsumer",
           "waiting for first consumer to be created before binding");
    co_return Requeue{};
  }

  // Matching Available volumes: class, volume mode, access modes, capacity, selector (and the
  // selected node, when there is one); the smallest fit wins (upstream findBestMatchForClaim).
  auto request = Storage(*claim, "spec.resources.requests.storage");
  std::vector<std::string> modes = Strings(*claim, "spec.accessModes");
  api::LabelSelector selector;
  if (const json::value* sel = api::FindPath(*claim, "spec.selector"); sel && !sel->is_null()) {
    auto parsed = api::LabelSelector::FromLabelSelectorJson(sel);
    if (!parsed) co_return Requeue{};
    selector = std::move(*parsed);
  }
  client::ObjectPtr best;
  std::optional<api::Quantity> best_cap;
  for (const auto& pv : volumes_.indexer().List()) {
    if (api::IsBeingDeleted(*pv) || api::FindPath(*pv, "spec.claimRef")) continue;
    auto phase = api::GetString(*pv, "status.phase");
    if (!phase.empty() && phase != "Available") continue;
    if (VolumeClass(*pv) != *class_name) continue;
    if (VolumeMode(*pv) != VolumeMode(*claim)) continue;
    std::vector<std::string> pv_modes = Strings(*pv, "spec.accessModes");
    bool modes_ok = std::all_of(modes.begin(), modes.end(), [&](const std::string& m) {
      return std::find(pv_modes.begin(), pv_modes.end(), m) != pv_modes.end();
    });
    if (!modes_ok) continue;
    auto cap = Storage(*pv, "spec.capacity.storage");
    if (!cap || (request && *cap < *request)) continue;
    if (!selector.Matches(api::Labels(*pv))) continue;
    if (selected_node && !AffinityAdmits(*pv, *selected_node)) continue;
    if (!best || *cap < *best_cap) {
      best = pv;
      best_cap = cap;
    }
  }
  if (best) {
    MINI8S_CO_RETURN_IF_ERROR(co_await Bind(*claim, *best));
    co_return Requeue{};
  }

  std::string_view provisioner = sc ? api::GetString(*sc, "provisioner") : std::string_view();
  if (!provisioner.empty() && provisioner != "kubernetes.io/no-provisioner") {
    // Tell the external provisioner the claim is its to fill (upstream's
    // setClaimProvisioner).
    if (api::Annotation(*claim, kStorageProvisionerAnnotation) != provisioner ||
        api::Annotation(*claim, kBetaStorageProvisionerAnnotation) != provisioner) {
      json::object updated = *claim;
      api::SetAnnotation(updated, kStorageProvisionerAnnotation, provisioner);
      api::SetAnnotation(updated, kBetaStorageProvisionerAnnotation, provisioner);
      Record(events_, *claim, "Normal", "ExternalProvisioning",
             "Waiting for a volume to be created either by the external provisioner '" +
                 std::string(provisioner) +
                 "' or manually by the system administrator. If volume creation is delayed, "
                 "please verify that the provisioner is running and correctly registered.");
      auto r = co_await client_.Update(kPvcs, std::move(updated));
      if (!r.has_value()) co_return r.error();
    }
    co_return Requeue{};
  }
  Record(events_, *claim, "Normal", "FailedBinding",
         class_name->empty()
             ? "no persistent volumes available for this claim and no storage class is set"
             : "no persistent volumes available for this claim");
  co_return Requeue{};
}

asio::awaitable<Status> PersistentVolumeBinder::SetVolumePhase(json::object volume,
                                                               std::string phase) {
  if (api::GetString(volume, "status.phase") == phase) co_return Status::OK();
  api::MutableObjectAt(volume, "status")["phase"] = phase;
  auto r = co_await client_.UpdateStatus(kPvs, std::move(volume));
  co_return r.status();
}

asio::awaitable<Result<Requeue>> PersistentVolumeBinder::SyncVolume(std::string name) {
  client::ObjectPtr pv = volumes_.indexer().Get(name);
  if (!pv || api::IsBeingDeleted(*pv)) co_return Requeue{};
  const json::value* ref = api::FindPath(*pv, "spec.claimRef");
  std::string available = "Available", released = "Released";
  if (!ref || !ref->is_object()) {
    MINI8S_CO_RETURN_IF_ERROR(co_await SetVolumePhase(*pv, available));
    co_return Requeue{};
  }
  std::string ns(api::GetString(*pv, "spec.claimRef.namespace"));
  std::string claim_name(api::GetString(*pv, "spec.claimRef.name"));
  std::string ref_uid(api::GetString(*pv, "spec.claimRef.uid"));
  client::ObjectPtr claim = claims_.indexer().Get(ns, claim_name);
  if (ref_uid.empty()) {
    // Pre-bound by the user to a claim that may not exist yet: available to that claim only.
    if (!claim) MINI8S_CO_RETURN_IF_ERROR(co_await SetVolumePhase(*pv, available));
    co_return Requeue{};  // the claim's own sync binds it
  }
  if (claim && api::Uid(*claim) == ref_uid) {
    std::string_view bound_to = api::GetString(*claim, "spec.volumeName");
    if (bound_to.empty() || bound_to == name) {
      MINI8S_CO_RETURN_IF_ERROR(co_await Bind(*claim, *pv));
    }
    co_return Requeue{};
  }
  // The claim is gone (or replaced by a new one of the same name): confirm against the API
  // before acting on a possibly stale cache.
  auto live = co_await client_.Get(kPvcs, ns, claim_name);
  if (live.has_value() && api::Uid(*live) == ref_uid) {
    co_return Requeue{true, std::chrono::milliseconds(0)};
  }
  if (!live.has_value() && live.error().code() != Code::kNotFound) co_return live.error();
  std::string_view policy = api::GetString(*pv, "spec.persistentVolumeReclaimPolicy");
  bool ours = api::Annotation(*pv, kProvisionedByAnnotation) == kLocalPathProvisioner;
  if (policy == "Delete" && ours) {
    // The node agent removes the directory once no pod uses it.
    std::string no_ns;
    auto r = co_await client_.Delete(kPvs, no_ns, name);
    if (!r.has_value() && r.error().code() != Code::kNotFound) co_return r.error();
    co_return Requeue{};
  }
  MINI8S_CO_RETURN_IF_ERROR(co_await SetVolumePhase(*pv, released));
  co_return Requeue{};
}

// ---- Start ------------------------------------------------------------------------------------

namespace {

asio::awaitable<void> EnsureClassLoop(ControllerContext* ctx) {
  asio::steady_timer timer(ctx->executor);
  while (!ctx->stopping()) {
    Status s = co_await EnsureLocalPathStorageClass(ctx->client);
    if (s.ok()) co_return;
    MINI8S_LOG(WARNING) << "local-path StorageClass: " << s.ToString() << "; retrying";
    for (int i = 0; i < 5 && !ctx->stopping(); ++i) {
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
}

}  // namespace

Status StartLocalPathProvisioner(ControllerContext& ctx) {
  auto& claims = ctx.informers.For(resources::PersistentVolumeClaims());
  auto& volumes = ctx.informers.For(resources::PersistentVolumes());
  auto& classes = ctx.informers.For(resources::StorageClasses());
  ControllerContext* c = &ctx;
  ctx.Spawn([c]() { return EnsureClassLoop(c); });

  WorkQueue& pq = ctx.NewQueue();
  auto provisioner = std::make_unique<LocalPathProvisioner>(
      ctx.client, claims, volumes, classes, pq, ctx.config, &ctx.events("rancher.io/local-path"));
  ctx.Run(std::move(provisioner), pq, {&claims, &volumes, &classes});

  WorkQueue& bq = ctx.NewQueue();
  auto binder = std::make_unique<PersistentVolumeBinder>(
      ctx.client, claims, volumes, classes, bq, &ctx.events("persistentvolume-controller"));
  ctx.Run(std::move(binder), bq, {&claims, &volumes, &classes});
  return Status::OK();
}

}  // namespace mini8s::controllers
