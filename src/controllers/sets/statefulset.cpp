#include "mini8s/controllers/statefulset.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <boost/json.hpp>

#include "controllers/sets/sets_util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"

namespace mini8s::controllers {

namespace json = boost::json;
namespace asio = boost::asio;
using client::ObjectPtr;

namespace {

constexpr std::string_view kKind = "StatefulSet";

// ---- identity ----------------------------------------------------------------------------------

// `<parent>-<ordinal>`: the parent name and the ordinal, or -1 when the name has no ordinal.
std::pair<std::string, int64_t> ParentAndOrdinal(std::string_view name) {
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= name.size()) return {"", -1};
  std::string_view digits = name.substr(dash + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      digits.size() > 9) {
    return {"", -1};
  }
  return {std::string(name.substr(0, dash)), std::stoll(std::string(digits))};
}

int64_t Ordinal(const json::object& pod) { return ParentAndOrdinal(api::Name(pod)).second; }

bool IsMemberOf(const json::object& set, const json::object& pod) {
  return ParentAndOrdinal(api::Name(pod)).first == api::Name(set);
}

int64_t Replicas(const json::object& set) { return api::GetInt(set, "spec.replicas").value_or(1); }
int64_t StartOrdinal(const json::object& set) {
  return api::GetInt(set, "spec.ordinals.start").value_or(0);
}
int64_t EndOrdinal(const json::object& set) { return Replicas(set) + StartOrdinal(set) - 1; }

bool PodInOrdinalRange(const json::object& pod, const json::object& set) {
  int64_t ord = Ordinal(pod);
  return ord >= StartOrdinal(set) && ord <= EndOrdinal(set);
}

std::string PodName(const json::object& set, int64_t ordinal) {
  return std::string(api::Name(set)) + "-" + std::to_string(ordinal);
}

std::string_view UpdateStrategyType(const json::object& set) {
  std::string_view t = api::GetString(set, "spec.updateStrategy.type");
  return t.empty() ? std::string_view("RollingUpdate") : t;
}

// The partition the API server defaults to 0 for RollingUpdate.
int64_t Partition(const json::object& set) {
  if (UpdateStrategyType(set) != "RollingUpdate") return 0;
  return api::GetInt(set, "spec.updateStrategy.rollingUpdate.partition").value_or(0);
}

bool AllowsBurst(const json::object& set) {
  return api::GetString(set, "spec.podManagementPolicy") == "Parallel";
}

int64_t MinReadySeconds(const json::object& set) {
  return api::GetInt(set, "spec.minReadySeconds").value_or(0);
}

std::string ClaimName(std::string_view template_name, const json::object& set, int64_t ordinal) {
  return std::string(template_name) + "-" + std::string(api::Name(set)) + "-" +
         std::to_string(ordinal);
}

// The PVCs the pod at `ordinal` needs, by claim template name (getPersistentVolumeClaims).
std::map<std::string, json::object> ClaimsFor(const json::object& set, int64_t ordinal) {
  std::map<std::string, json::object> out;
  const json::array* templates = api::GetArray(set, "spec.volumeClaimTemplates");
  if (templates == nullptr) return out;
  const json::object* match_labels = api::GetObject(set, "spec.selector.matchLabels");
  for (const json::value& t : *templates) {
    if (!t.is_object()) continue;
    json::object claim = t.get_object();
    std::string tname(api::Name(claim));
    claim["apiVersion"] = "v1";
    claim["kind"] = "PersistentVolumeClaim";
    api::SetName(claim, ClaimName(tname, set, ordinal));
    api::SetNamespace(claim, api::Namespace(set));
    json::object& meta = api::MutableMetadata(claim);
    if (match_labels != nullptr) {
      json::object& labels = api::MutableObjectAt(meta, "labels");
      for (const auto& kv : *match_labels) labels[kv.key()] = kv.value();
    }
    claim.erase("status");
    out.emplace(tname, std::move(claim));
  }
  return out;
}

void UpdateIdentity(const json::object& set, json::object& pod) {
  int64_t ord = Ordinal(pod);
  api::SetName(pod, PodName(set, ord));
  api::SetNamespace(pod, api::Namespace(set));
  api::SetLabel(pod, kStatefulSetPodNameLabel, api::Name(pod));
  api::SetLabel(pod, kPodIndexLabel, std::to_string(ord));
}

bool IdentityMatches(const json::object& set, const json::object& pod) {
  auto [parent, ord] = ParentAndOrdinal(api::Name(pod));
  return ord >= 0 && parent == api::Name(set) && api::Namespace(pod) == api::Namespace(set) &&
         api::Label(pod, kStatefulSetPodNameLabel).value_or("") == api::Name(pod) &&
         api::Label(pod, kPodIndexLabel).value_or("") == std::to_string(ord);
}

// Volumes named after claim templates point at this ordinal's PVCs; other volumes stay.
void UpdateStorage(const json::object& set, json::object& pod) {
  std::map<std::string, json::object> claims = ClaimsFor(set, Ordinal(pod));
  if (claims.empty()) return;
  json::object& spec = api::MutableObjectAt(pod, "spec");
  json::array volumes;
  for (const auto& [name, claim] : claims) {
    json::object pvc{{"claimName", api::Name(claim)}};
    volumes.push_back(json::object{{"name", name}, {"persistentVolumeClaim", std::move(pvc)}});
  }
  if (const json::array* current = api::GetArray(spec, "volumes")) {
    for (const json::value& v : *current) {
      std::string vname(v.is_object() ? api::GetString(v.get_object(), "name") : "");
      if (claims.count(vname) == 0) volumes.push_back(v);
    }
  }
  spec["volumes"] = std::move(volumes);
}

bool StorageMatches(const json::object& set, const json::object& pod) {
  int64_t ord = Ordinal(pod);
  if (ord < 0) return false;
  std::map<std::string, json::object> claims = ClaimsFor(set, ord);
  const json::array* volumes = api::GetArray(pod, "spec.volumes");
  for (const auto& [name, claim] : claims) {
    bool found = false;
    if (volumes != nullptr) {
      for (const json::value& v : *volumes) {
        if (!v.is_object() || api::GetString(v.get_object(), "name") != name) continue;
        found =
            api::GetString(v.get_object(), "persistentVolumeClaim.claimName") == api::Name(claim);
      }
    }
    if (!found) return false;
  }
  return true;
}

json::object NewStatefulSetPod(const json::object& set, int64_t ordinal) {
  json::object tmpl;
  if (const json::object* t = api::GetObject(set, "spec.template")) tmpl = *t;
  json::object pod = sets::PodFromTemplate(tmpl, set, kKind);
  api::SetName(pod, PodName(set, ordinal));
  UpdateIdentity(set, pod);
  json::object& spec = api::MutableObjectAt(pod, "spec");
  spec["hostname"] = api::Name(pod);
  std::string_view service = api::GetString(set, "spec.serviceName");
  if (!service.empty()) spec["subdomain"] = service;
  UpdateStorage(set, pod);
  return pod;
}

// ---- pod state
// -----------------------------------------------------------------------------------

bool IsRunningAndReady(const json::object& pod) {
  return sets::PodPhase(pod) == "Running" && sets::IsPodReady(pod);
}

bool IsRunningAndAvailable(const json::object& pod, int64_t min_ready,
                           std::chrono::system_clock::time_point now) {
  return sets::PodPhase(pod) == "Running" && sets::IsPodAvailable(pod, min_ready, now);
}

std::string PodRevision(const json::object& pod) {
  return std::string(api::Label(pod, history::kRevisionLabel).value_or(""));
}

// ---- PVC retention (ownerReferences on claims)
// ---------------------------------------------------

struct RetentionPolicy {
  bool delete_when_scaled = false;
  bool delete_when_deleted = false;
};

RetentionPolicy Retention(const json::object& set) {
  RetentionPolicy p;
  p.delete_when_scaled =
      api::GetString(set, "spec.persistentVolumeClaimRetentionPolicy.whenScaled") == "Delete";
  p.delete_when_deleted =
      api::GetString(set, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted") == "Delete";
  return p;
}

api::OwnerReference PlainRef(const json::object& owner, std::string_view api_version,
                             std::string_view kind) {
  api::OwnerReference r;
  r.api_version = std::string(api_version);
  r.kind = std::string(kind);
  r.name = std::string(api::Name(owner));
  r.uid = std::string(api::Uid(owner));
  return r;
}

bool HasStaleOwnerRef(const json::object& claim, const json::object& owner, std::string_view kind) {
  for (const api::OwnerReference& r : api::OwnerReferences(claim)) {
    if (r.kind == kind && r.name == api::Name(owner) && r.uid != api::Uid(owner)) return true;
  }
  return false;
}

// The ownerReferences `claim` should carry under the set's retention policy, or nullopt when
// the claim is in a state the controller must not touch (stale or foreign owners).
std::optional<std::vector<api::OwnerReference>> DesiredClaimOwners(const json::object& claim,
                                                                   const json::object& set,
                                                                   const json::object& pod) {
  if (HasStaleOwnerRef(claim, set, kKind) || HasStaleOwnerRef(claim, pod, "Pod")) {
    return std::nullopt;
  }
  std::vector<api::OwnerReference> refs = api::OwnerReferences(claim);
  if (refs.size() > 2) return std::nullopt;
  std::string_view set_uid = api::Uid(set);
  std::string_view pod_uid = api::Uid(pod);
  for (const api::OwnerReference& r : refs) {
    if (r.uid != set_uid && r.uid != pod_uid) return std::nullopt;
  }
  RetentionPolicy p = Retention(set);
  bool scaled_down = !PodInOrdinalRange(pod, set);
  bool want_set = false;
  bool want_pod = false;
  if (p.delete_when_scaled && p.delete_when_deleted) {
    want_set = !scaled_down;
    want_pod = scaled_down;
  } else if (p.delete_when_scaled) {
    want_pod = scaled_down;
  } else if (p.delete_when_deleted) {
    want_set = true;
  }
  std::vector<api::OwnerReference> out;
  bool have_set = false;
  bool have_pod = false;
  for (const api::OwnerReference& r : refs) {
    if (r.uid == set_uid) {
      if (!want_set) continue;
      have_set = true;
    } else if (r.uid == pod_uid) {
      if (!want_pod) continue;
      have_pod = true;
    }
    out.push_back(r);
  }
  if (want_set && !have_set) out.push_back(PlainRef(set, "apps/v1", kKind));
  if (want_pod && !have_pod && !pod_uid.empty()) out.push_back(PlainRef(pod, "v1", "Pod"));
  return out;
}

bool ClaimOwnersMatch(const json::object& claim, const json::object& set, const json::object& pod) {
  auto desired = DesiredClaimOwners(claim, set, pod);
  return !desired || *desired == api::OwnerReferences(claim);
}

// ---- status ------------------------------------------------------------------------------------

struct SetStatus {
  int64_t observed_generation = 0;
  int64_t replicas = 0;
  int64_t ready_replicas = 0;
  int64_t current_replicas = 0;
  int64_t updated_replicas = 0;
  int64_t available_replicas = 0;
  std::string current_revision;
  std::string update_revision;
  int64_t collision_count = 0;

  // Applied onto the existing status (conditions are kept), zero values omitted as upstream's
  // omitempty fields are.
  json::object ToJson(const json::object* existing) const {
    json::object s = existing != nullptr ? *existing : json::object();
    auto put = [&s](std::string_view k, int64_t v, bool always) {
      if (v == 0 && !always) {
        s.erase(k);
      } else {
        s[k] = v;
      }
    };
    put("observedGeneration", observed_generation, false);
    put("replicas", replicas, true);
    put("readyReplicas", ready_replicas, false);
    put("currentReplicas", current_replicas, false);
    put("updatedReplicas", updated_replicas, false);
    put("availableReplicas", available_replicas, true);
    if (current_revision.empty()) {
      s.erase("currentRevision");
    } else {
      s["currentRevision"] = current_revision;
    }
    if (update_revision.empty()) {
      s.erase("updateRevision");
    } else {
      s["updateRevision"] = update_revision;
    }
    s["collisionCount"] = collision_count;
    return s;
  }
};

struct Slot {
  json::object pod;
  bool created = false;  // exists in the API (came from the cache)
};

bool IsHealthy(const Slot& s) {
  return s.created && IsRunningAndReady(s.pod) && !api::IsBeingDeleted(s.pod);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct StatefulSetController::Impl {
  Impl(client::Client& c, Informers i, WorkQueue& q, const Clock& clk, SetEventFunc ev)
      : client(c), inf(i), queue(q), clock(clk), events(std::move(ev)), history(c, i.revisions) {}

  client::Client& client;
  Informers inf;
  WorkQueue& queue;
  const Clock& clock;
  SetEventFunc events;
  history::History history;

  void Event(const json::object& obj, std::string_view type, std::string_view reason,
             std::string msg) {
    if (events) events(obj, type, reason, std::move(msg));
  }

  static std::string Title(std::string_view verb) {
    std::string t(verb);
    if (!t.empty()) t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
    return t;
  }

  void RecordPodEvent(std::string_view verb, const json::object& set, const json::object& pod,
                      const Status& err) {
    std::string what = std::string(verb) + " Pod " + std::string(api::Name(pod)) +
                       " in StatefulSet " + std::string(api::Name(set));
    if (err.ok()) {
      Event(set, "Normal", "Successful" + Title(verb), what + " successful");
    } else {
      Event(set, "Warning", "Failed" + Title(verb), what + " failed error: " + err.message());
    }
  }

  void RecordClaimEvent(std::string_view verb, const json::object& set, const json::object& pod,
                        const json::object& claim, const Status& err) {
    if (err.ok()) {
      Event(set, "Normal", "Successful" + Title(verb),
            std::string(verb) + " Claim " + std::string(api::Name(claim)) + " Pod " +
                std::string(api::Name(pod)) + " in StatefulSet " + std::string(api::Name(set)) +
                " success");
    } else {
      Event(set, "Warning", "Failed" + Title(verb),
            std::string(verb) + " Claim " + std::string(api::Name(claim)) + " for Pod " +
                std::string(api::Name(pod)) + " in StatefulSet " + std::string(api::Name(set)) +
                " failed error: " + err.message());
    }
  }

  // ---- handlers ----

  ObjectPtr ResolveControllerRef(const json::object& pod) {
    auto ref = api::ControllerOf(pod);
    if (!ref || ref->kind != kKind) return nullptr;
    ObjectPtr set = inf.statefulsets.indexer().Get(api::Namespace(pod), ref->name);
    if (!set || api::Uid(*set) != ref->uid) return nullptr;
    return set;
  }

  void EnqueueSetsForOrphan(const json::object& pod) {
    for (const ObjectPtr& set :
         inf.statefulsets.indexer().ByIndex(client::kNamespaceIndex, api::Namespace(pod))) {
      auto sel = api::LabelSelector::FromLabelSelectorJson(api::FindPath(*set, "spec.selector"));
      if (!sel.has_value() || sel->Empty()) continue;
      if (sel->Matches(api::Labels(pod))) queue.Add(client::ObjectKey(*set));
    }
  }

  void OnPod(const json::object* old_pod, const json::object& pod) {
    if (old_pod != nullptr && api::ResourceVersion(*old_pod) == api::ResourceVersion(pod)) return;
    if (old_pod != nullptr) {
      auto old_ref = api::ControllerOf(*old_pod);
      auto cur_ref = api::ControllerOf(pod);
      if (old_ref && (!cur_ref || old_ref->uid != cur_ref->uid)) {
        if (ObjectPtr set = ResolveControllerRef(*old_pod)) queue.Add(client::ObjectKey(*set));
      }
    }
    if (api::ControllerOf(pod)) {
      if (ObjectPtr set = ResolveControllerRef(pod)) queue.Add(client::ObjectKey(*set));
      return;
    }
    if (!api::IsBeingDeleted(pod)) EnqueueSetsForOrphan(pod);
  }

  // ---- pod control ----

  // Creates the pod's missing PVCs (createPersistentVolumeClaims).
  asio::awaitable<Status> CreateMissingClaims(const json::object* set_ptr,
                                              const json::object* pod_ptr) {
    const json::object& set = *set_ptr;
    const json::object& pod = *pod_ptr;
    const client::Resource& res = sets::PvcsResource();
    Status first;
    for (auto& [tname, claim] : ClaimsFor(set, Ordinal(pod))) {
      ObjectPtr existing = inf.pvcs.indexer().Get(api::Namespace(claim), api::Name(claim));
      if (existing) {
        if (api::IsBeingDeleted(*existing) && first.ok()) {
          first = Status::Conflict("pvc " + std::string(api::Name(claim)) + " is being deleted");
        }
        continue;
      }
      json::object copy = claim;
      auto created = co_await client.Create(res, std::move(copy));
      // A cache that lags behind our own create is not an error.
      if (!created.has_value() && created.error().code() == Code::kAlreadyExists) continue;
      Status err = created.has_value() ? Status::OK() : created.error();
      RecordClaimEvent("create", set, pod, claim, err);
      if (!err.ok() && first.ok()) {
        first = Status(err.code(), "failed to create PVC " + std::string(api::Name(claim)) + ": " +
                                       err.message());
      }
    }
    co_return first;
  }

  // Brings the ownerReferences of the pod's PVCs in line with the retention policy.
  asio::awaitable<Status> UpdateClaimsForRetention(const json::object* set_ptr,
                                                   const json::object* pod_ptr) {
    const json::object& set = *set_ptr;
    const json::object& pod = *pod_ptr;
    const client::Resource& res = sets::PvcsResource();
    for (auto& [tname, claim] : ClaimsFor(set, Ordinal(pod))) {
      ObjectPtr existing = inf.pvcs.indexer().Get(api::Namespace(claim), api::Name(claim));
      if (!existing) continue;
      auto desired = DesiredClaimOwners(*existing, set, pod);
      if (!desired || *desired == api::OwnerReferences(*existing)) continue;
      json::object copy = *existing;
      api::SetOwnerReferences(copy, *desired);
      auto updated = co_await client.Update(res, std::move(copy));
      if (!updated.has_value()) {
        co_return Status(updated.error().code(),
                         "could not update claim " + std::string(api::Name(claim)) +
                             " for delete policy ownerRefs: " + updated.error().message());
      }
    }
    co_return Status::OK();
  }

  bool ClaimsMatchRetention(const json::object& set, const json::object& pod) {
    for (auto& [tname, claim] : ClaimsFor(set, Ordinal(pod))) {
      ObjectPtr existing = inf.pvcs.indexer().Get(api::Namespace(claim), api::Name(claim));
      if (existing && !ClaimOwnersMatch(*existing, set, pod)) return false;
    }
    return true;
  }

  // A PVC still owned by an earlier pod of the same name is on its way out (whenScaled=Delete):
  // wait for the garbage collector rather than bind the new pod to it.
  bool PodClaimIsStale(const json::object& set, const json::object& pod) {
    if (!Retention(set).delete_when_scaled) return false;
    for (auto& [tname, claim] : ClaimsFor(set, Ordinal(pod))) {
      ObjectPtr existing = inf.pvcs.indexer().Get(api::Namespace(claim), api::Name(claim));
      if (existing && HasStaleOwnerRef(*existing, pod, "Pod")) return true;
    }
    return false;
  }

  asio::awaitable<Status> CreateStatefulPod(const json::object* set_ptr, Slot* slot) {
    const json::object& set = *set_ptr;
    Status claims = co_await CreateMissingClaims(set_ptr, &slot->pod);
    if (!claims.ok()) {
      RecordPodEvent("create", set, slot->pod, claims);
      co_return claims;
    }
    const client::Resource& res = sets::PodsResource();
    json::object copy = slot->pod;
    auto created = co_await client.Create(res, std::move(copy));
    if (!created.has_value()) {
      if (created.error().code() == Code::kAlreadyExists) co_return created.error();
      RecordPodEvent("create", set, slot->pod, created.error());
      co_return created.error();
    }
    slot->pod = std::move(created).value();
    slot->created = true;
    Status retention = co_await UpdateClaimsForRetention(set_ptr, &slot->pod);
    if (!retention.ok()) {
      RecordPodEvent("update", set, slot->pod, retention);
      co_return retention;
    }
    RecordPodEvent("create", set, slot->pod, Status::OK());
    co_return Status::OK();
  }

  asio::awaitable<Status> DeleteStatefulPod(const json::object* set_ptr,
                                            const json::object* pod_ptr) {
    const client::Resource& res = sets::PodsResource();
    std::string ns(api::Namespace(*pod_ptr));
    std::string name(api::Name(*pod_ptr));
    auto deleted = co_await client.Delete(res, ns, name);
    if (!deleted.has_value() && deleted.error().code() == Code::kNotFound) co_return Status::OK();
    Status err = deleted.has_value() ? Status::OK() : deleted.error();
    RecordPodEvent("delete", *set_ptr, *pod_ptr, err);
    co_return err;
  }

  // Restores identity and storage of an existing pod (UpdateStatefulPod).
  asio::awaitable<Status> UpdateStatefulPod(const json::object* set_ptr,
                                            const json::object* pod_ptr) {
    const json::object& set = *set_ptr;
    json::object pod = *pod_ptr;
    const client::Resource& res = sets::PodsResource();
    for (int attempt = 0; attempt < 5; ++attempt) {
      bool consistent = true;
      if (!IdentityMatches(set, pod)) {
        UpdateIdentity(set, pod);
        consistent = false;
      }
      if (!StorageMatches(set, pod)) {
        UpdateStorage(set, pod);
        consistent = false;
        Status claims = co_await CreateMissingClaims(set_ptr, &pod);
        if (!claims.ok()) {
          RecordPodEvent("update", set, pod, claims);
          co_return claims;
        }
      }
      if (!ClaimsMatchRetention(set, pod)) {
        Status r = co_await UpdateClaimsForRetention(set_ptr, &pod);
        if (!r.ok()) {
          RecordPodEvent("update", set, pod, r);
          co_return r;
        }
      }
      if (consistent) co_return Status::OK();
      json::object copy = pod;
      auto updated = co_await client.Update(res, std::move(copy));
      if (updated.has_value()) {
        RecordPodEvent("update", set, pod, Status::OK());
        co_return Status::OK();
      }
      if (updated.error().code() != Code::kConflict) {
        RecordPodEvent("update", set, pod, updated.error());
        co_return updated.error();
      }
      std::string ns(api::Namespace(pod));
      std::string name(api::Name(pod));
      auto fresh = co_await client.Get(res, ns, name);
      if (!fresh.has_value()) co_return fresh.error();
      pod = std::move(fresh).value();
    }
    co_return Status::Conflict("pod " + std::string(api::Name(pod)) + ": too many conflicts");
  }

  // ---- revisions ----

  struct Revisions {
    json::object current;
    json::object update;
    int32_t collision_count = 0;
  };

  json::object NewRevision(const json::object& set, int64_t revision, int32_t collision_count) {
    json::object cr = history::NewControllerRevision(
        set, kKind, api::GetObject(set, "spec.template.metadata.labels"),
        history::TemplatePatch(set), revision, collision_count);
    if (const json::object* a = api::Annotations(set)) {
      json::object& ann = api::MutableObjectAt(api::MutableMetadata(cr), "annotations");
      for (const auto& kv : *a) ann[kv.key()] = kv.value();
    }
    return cr;
  }

  asio::awaitable<Result<Revisions>> GetStatefulSetRevisions(const json::object* set_ptr,
                                                             std::vector<ObjectPtr> revisions) {
    const json::object& set = *set_ptr;
    Revisions out;
    out.collision_count =
        static_cast<int32_t>(api::GetInt(set, "status.collisionCount").value_or(0));
    json::object update = NewRevision(set, history::NextRevision(revisions), out.collision_count);
    std::vector<ObjectPtr> equal = history::FindEqualRevisions(revisions, update);
    if (!equal.empty() && history::EqualRevision(*revisions.back(), *equal.back())) {
      // The template has not changed since the latest revision.
      out.update = *revisions.back();
    } else if (!equal.empty()) {
      // A rollback to an earlier template: that revision becomes the newest.
      json::object prior = *equal.back();
      int64_t number = history::RevisionNumber(update);
      MINI8S_CO_ASSIGN_OR_RETURN(
          out.update, co_await history.UpdateControllerRevision(std::move(prior), number));
    } else {
      json::object parent = set;
      MINI8S_CO_ASSIGN_OR_RETURN(
          history::History::Created created,
          co_await history.CreateControllerRevision(std::move(parent), std::move(update),
                                                    out.collision_count));
      out.update = std::move(created.revision);
      out.collision_count = created.collision_count;
    }
    std::string_view current_name = api::GetString(set, "status.currentRevision");
    bool found = false;
    for (const ObjectPtr& r : revisions) {
      if (!current_name.empty() && api::Name(*r) == current_name) {
        out.current = *r;
        found = true;
        break;
      }
    }
    if (!found) out.current = out.update;
    co_return out;
  }

  asio::awaitable<Status> TruncateHistory(const json::object* set_ptr,
                                          const std::vector<Slot>* pods,
                                          std::vector<ObjectPtr> revisions, std::string current,
                                          std::string update) {
    std::set<std::string, std::less<>> live{current, update};
    for (const Slot& s : *pods) live.insert(PodRevision(s.pod));
    std::vector<ObjectPtr> old;
    for (const ObjectPtr& r : revisions) {
      if (live.count(api::Name(*r)) == 0) old.push_back(r);
    }
    int64_t limit = api::GetInt(*set_ptr, "spec.revisionHistoryLimit")
                        .value_or(sets::kDefaultRevisionHistoryLimit);
    int64_t excess = static_cast<int64_t>(old.size()) - limit;
    for (int64_t i = 0; i < excess; ++i) {
      json::object copy = *old[static_cast<size_t>(i)];
      MINI8S_CO_RETURN_IF_ERROR(co_await history.DeleteControllerRevision(std::move(copy)));
    }
    co_return Status::OK();
  }

  // ---- the update ----

  SetStatus ComputeStatus(const json::object& set, const Revisions& revs,
                          const std::vector<const Slot*>& pods) {
    SetStatus st;
    st.observed_generation = api::Generation(set);
    st.current_revision = std::string(api::Name(revs.current));
    st.update_revision = std::string(api::Name(revs.update));
    st.collision_count = revs.collision_count;
    auto now = clock.Now();
    int64_t min_ready = MinReadySeconds(set);
    for (const Slot* s : pods) {
      if (s == nullptr) continue;
      if (s->created) ++st.replicas;
      if (s->created && IsRunningAndReady(s->pod)) {
        ++st.ready_replicas;
        if (IsRunningAndAvailable(s->pod, min_ready, now)) ++st.available_replicas;
      }
      if (s->created && !api::IsBeingDeleted(s->pod)) {
        std::string rev = PodRevision(s->pod);
        if (rev == st.current_revision) ++st.current_replicas;
        if (rev == st.update_revision) ++st.updated_replicas;
      }
    }
    return st;
  }

  static std::vector<const Slot*> All(const std::vector<Slot>& a, const std::vector<Slot>& b) {
    std::vector<const Slot*> out;
    for (const Slot& s : a) out.push_back(&s);
    for (const Slot& s : b) out.push_back(&s);
    return out;
  }

  json::object NewVersionedPod(const json::object& current_set, const json::object& update_set,
                               const Revisions& revs, int64_t ordinal) {
    bool use_current = UpdateStrategyType(current_set) == "RollingUpdate" &&
                       ordinal < StartOrdinal(current_set) + Partition(current_set);
    json::object pod = NewStatefulSetPod(use_current ? current_set : update_set, ordinal);
    api::SetLabel(pod, history::kRevisionLabel,
                  api::Name(use_current ? revs.current : revs.update));
    return pod;
  }

  struct Outcome {
    bool exit = false;
    Status err;
  };

  // processReplica: keeps replicas[i] alive, correctly named and stored. exit=true stops the
  // monotonic walk.
  asio::awaitable<Outcome> ProcessReplica(const json::object* set_ptr, const json::object* cur_set,
                                          const json::object* upd_set, const Revisions* revs,
                                          bool monotonic, std::vector<Slot>* replicas, size_t i) {
    const json::object& set = *set_ptr;
    Slot& slot = (*replicas)[i];
    std::string_view phase = sets::PodPhase(slot.pod);
    if (slot.created && (phase == "Failed" || phase == "Succeeded")) {
      std::string msg =
          "StatefulSet " + std::string(api::Namespace(set)) + "/" + std::string(api::Name(set)) +
          (phase == "Failed" ? " is recreating failed Pod " : " is recreating terminated Pod ") +
          std::string(api::Name(slot.pod));
      Event(set, phase == "Failed" ? "Warning" : "Normal",
            phase == "Failed" ? "RecreatingFailedPod" : "RecreatingTerminatedPod", msg);
      json::object victim = slot.pod;
      Status del = co_await DeleteStatefulPod(set_ptr, &victim);
      if (!del.ok()) co_return Outcome{true, del};
      int64_t ord = static_cast<int64_t>(i) + StartOrdinal(set);
      slot = Slot{NewVersionedPod(*cur_set, *upd_set, *revs, ord), false};
    }
    if (!slot.created) {
      if (PodClaimIsStale(set, slot.pod)) co_return Outcome{true, Status::OK()};
      Status created = co_await CreateStatefulPod(set_ptr, &slot);
      if (!created.ok()) co_return Outcome{true, created};
      if (monotonic) co_return Outcome{true, Status::OK()};
    }
    if (slot.created && sets::PodPhase(slot.pod) == "Pending") {
      json::object pod = slot.pod;
      Status claims = co_await CreateMissingClaims(set_ptr, &pod);
      if (!claims.ok()) co_return Outcome{true, claims};
    }
    if (api::IsBeingDeleted(slot.pod) && monotonic) co_return Outcome{true, Status::OK()};
    if (!IsRunningAndReady(slot.pod) && monotonic) co_return Outcome{true, Status::OK()};
    if (!IsRunningAndAvailable(slot.pod, MinReadySeconds(set), clock.Now()) && monotonic) {
      co_return Outcome{true, Status::OK()};
    }
    if (!slot.created) co_return Outcome{false, Status::OK()};
    if (IdentityMatches(set, slot.pod) && StorageMatches(set, slot.pod) &&
        ClaimsMatchRetention(*upd_set, slot.pod)) {
      co_return Outcome{false, Status::OK()};
    }
    json::object pod = slot.pod;
    Status upd = co_await UpdateStatefulPod(upd_set, &pod);
    co_return Outcome{!upd.ok(), upd};
  }

  // processCondemned: removes pods beyond the replica count, highest ordinal first.
  asio::awaitable<Outcome> ProcessCondemned(const json::object* set_ptr,
                                            const json::object* first_unhealthy, bool monotonic,
                                            std::vector<Slot>* condemned, size_t i) {
    const json::object& set = *set_ptr;
    const Slot& slot = (*condemned)[i];
    if (api::IsBeingDeleted(slot.pod)) co_return Outcome{monotonic, Status::OK()};
    bool is_first_unhealthy = first_unhealthy == &slot.pod;
    if (!IsRunningAndReady(slot.pod) && monotonic && !is_first_unhealthy) {
      co_return Outcome{true, Status::OK()};
    }
    if (!IsRunningAndAvailable(slot.pod, MinReadySeconds(set), clock.Now()) && monotonic &&
        !is_first_unhealthy) {
      co_return Outcome{true, Status::OK()};
    }
    json::object victim = slot.pod;
    Status del = co_await DeleteStatefulPod(set_ptr, &victim);
    co_return Outcome{true, del};
  }

  struct UpdateResult {
    std::optional<SetStatus> status;  // unset only when the revisions could not be applied
    Status err;
  };

  asio::awaitable<UpdateResult> UpdateStatefulSet(const json::object* set_ptr,
                                                  const Revisions* revs,
                                                  std::vector<ObjectPtr> pods,
                                                  std::vector<Slot>* all_out) {
    const json::object& set = *set_ptr;
    auto applied_current = history::ApplyRevision(set, revs->current);
    if (!applied_current.has_value()) co_return UpdateResult{std::nullopt, applied_current.error()};
    auto applied_update = history::ApplyRevision(set, revs->update);
    if (!applied_update.has_value()) co_return UpdateResult{std::nullopt, applied_update.error()};
    json::object current_set = std::move(applied_current).value();
    json::object update_set = std::move(applied_update).value();

    int64_t replica_count = std::max<int64_t>(0, Replicas(set));
    int64_t start = StartOrdinal(set);
    std::vector<Slot> replicas(static_cast<size_t>(replica_count));
    std::vector<bool> filled(replicas.size(), false);
    std::vector<Slot> condemned;
    for (const ObjectPtr& p : pods) {
      int64_t ord = Ordinal(*p);
      if (PodInOrdinalRange(*p, set)) {
        replicas[static_cast<size_t>(ord - start)] = Slot{*p, true};
        filled[static_cast<size_t>(ord - start)] = true;
      } else if (ord >= 0) {
        condemned.push_back(Slot{*p, true});
      }
    }
    for (size_t i = 0; i < replicas.size(); ++i) {
      if (!filled[i]) {
        replicas[i] =
            Slot{NewVersionedPod(current_set, update_set, *revs, static_cast<int64_t>(i) + start),
                 false};
      }
    }
    std::sort(condemned.begin(), condemned.end(),
              [](const Slot& a, const Slot& b) { return Ordinal(a.pod) > Ordinal(b.pod); });

    const json::object* first_unhealthy = nullptr;
    for (const Slot& s : replicas) {
      if (!IsHealthy(s) && first_unhealthy == nullptr) first_unhealthy = &s.pod;
    }
    for (auto it = condemned.rbegin(); it != condemned.rend(); ++it) {
      if (!IsHealthy(*it) && first_unhealthy == nullptr) first_unhealthy = &it->pod;
    }

    // Upstream writes the status even when the sync stops early or fails.
    auto finish = [&](Status err) {
      SetStatus st = ComputeStatus(set, *revs, All(replicas, condemned));
      *all_out = replicas;
      all_out->insert(all_out->end(), condemned.begin(), condemned.end());
      return UpdateResult{st, std::move(err)};
    };

    if (api::IsBeingDeleted(set)) co_return finish(Status::OK());

    bool monotonic = !AllowsBurst(set);
    // Live replicas, in ordinal order. In burst mode every replica is processed and the first
    // error is reported.
    Status first_err;
    bool exited = false;
    for (size_t i = 0; i < replicas.size(); ++i) {
      Outcome o = co_await ProcessReplica(set_ptr, &current_set, &update_set, revs, monotonic,
                                          &replicas, i);
      if (!o.err.ok() && first_err.ok()) first_err = o.err;
      if (monotonic && (o.exit || !o.err.ok())) {
        exited = true;
        break;
      }
    }
    // In monotonic mode a blocked replica stops everything else: no scale-down, no update.
    if (!first_err.ok() || exited) co_return finish(first_err);

    // Condemned pods' PVCs get the pod as owner when whenScaled=Delete.
    for (size_t i = 0; i < condemned.size(); ++i) {
      if (ClaimsMatchRetention(update_set, condemned[i].pod)) continue;
      json::object pod = condemned[i].pod;
      Status r = co_await UpdateClaimsForRetention(&update_set, &pod);
      if (!r.ok()) co_return finish(r);
    }

    for (size_t i = 0; i < condemned.size(); ++i) {
      Outcome o = co_await ProcessCondemned(set_ptr, first_unhealthy, monotonic, &condemned, i);
      if (!o.err.ok()) co_return finish(o.err);
      if (monotonic && o.exit) co_return finish(Status::OK());
    }

    UpdateResult result = finish(Status::OK());
    if (UpdateStrategyType(set) == "OnDelete") co_return result;

    // Rolling update: the highest ordinal not at the update revision is deleted (and recreated
    // at it by a later sync), one at a time, each waiting for the ones above to be healthy.
    int64_t update_min = Partition(set);
    std::string update_name(api::Name(revs->update));
    for (int64_t target = static_cast<int64_t>(replicas.size()) - 1; target >= update_min;
         --target) {
      const Slot& s = replicas[static_cast<size_t>(target)];
      if (PodRevision(s.pod) != update_name && !api::IsBeingDeleted(s.pod)) {
        json::object victim = s.pod;
        Status del = co_await DeleteStatefulPod(set_ptr, &victim);
        if (!del.ok()) {
          result.err = del;
          co_return result;
        }
        --result.status->current_replicas;
        co_return result;
      }
      if (!IsHealthy(s)) co_return result;
    }
    co_return result;
  }

  asio::awaitable<Status> WriteStatus(const json::object* set_ptr, SetStatus status) {
    const json::object& set = *set_ptr;
    // completeRollingUpdate
    if (UpdateStrategyType(set) == "RollingUpdate" && status.updated_replicas == status.replicas &&
        status.ready_replicas == status.replicas) {
      status.current_replicas = status.updated_replicas;
      status.current_revision = status.update_revision;
    }
    const json::object* existing = api::GetObject(set, "status");
    json::object desired = status.ToJson(existing);
    if (existing != nullptr && *existing == desired) co_return Status::OK();
    const client::Resource& res = sets::StatefulSetsResource();
    json::object to_update = set;
    for (int attempt = 0; attempt < 5; ++attempt) {
      to_update["status"] = status.ToJson(api::GetObject(to_update, "status"));
      auto r = co_await client.UpdateStatus(res, to_update);
      if (r.has_value()) co_return Status::OK();
      if (r.error().code() != Code::kConflict) co_return r.error();
      std::string ns(api::Namespace(set));
      std::string name(api::Name(set));
      MINI8S_CO_ASSIGN_OR_RETURN(to_update, co_await client.Get(res, ns, name));
    }
    co_return Status::Conflict("statefulset " + std::string(api::Name(set)) +
                               ": too many status conflicts");
  }

  asio::awaitable<Result<Requeue>> Sync(std::string key) {
    ObjectPtr cached = inf.statefulsets.indexer().Get(std::string_view(key));
    if (!cached) co_return Requeue{};
    json::object set = *cached;
    auto sel = api::LabelSelector::FromLabelSelectorJson(api::FindPath(set, "spec.selector"));
    if (!sel.has_value()) {
      // Not transient: retrying cannot help.
      MINI8S_LOG(WARNING) << "statefulset " << key
                          << ": invalid selector: " << sel.error().message();
      co_return Requeue{};
    }
    api::LabelSelector selector = std::move(*sel);
    std::string kind(kKind);
    std::function<bool(const json::object&)> no_extra;

    // Adopt orphaned revisions (releases are not done for revisions, as upstream).
    {
      std::vector<ObjectPtr> candidates;
      for (const ObjectPtr& r : history.ListControllerRevisions(set, selector)) {
        if (!api::ControllerOf(*r)) candidates.push_back(r);
      }
      if (!candidates.empty()) {
        const client::Resource& res = history::ControllerRevisionsResource();
        const client::Resource& parent_res = sets::StatefulSetsResource();
        auto adopted = co_await sets::ClaimObjects(client, res, parent_res, set, kind, selector,
                                                   no_extra, std::move(candidates));
        if (!adopted.has_value()) co_return adopted.error();
      }
    }

    std::vector<ObjectPtr> candidates =
        inf.pods.indexer().ByIndex(client::kNamespaceIndex, api::Namespace(set));
    const client::Resource& pods_res = sets::PodsResource();
    const client::Resource& parent_res = sets::StatefulSetsResource();
    std::function<bool(const json::object&)> member = [&set](const json::object& pod) {
      return IsMemberOf(set, pod);
    };
    MINI8S_CO_ASSIGN_OR_RETURN(
        std::vector<ObjectPtr> pods,
        co_await sets::ClaimObjects(client, pods_res, parent_res, set, kind, selector, member,
                                    std::move(candidates)));

    std::vector<ObjectPtr> revisions = history.ListControllerRevisions(set, selector);
    history::SortControllerRevisions(revisions);
    MINI8S_CO_ASSIGN_OR_RETURN(Revisions revs,
                                    co_await GetStatefulSetRevisions(&set, revisions));

    std::vector<Slot> all;
    UpdateResult updated = co_await UpdateStatefulSet(&set, &revs, std::move(pods), &all);
    if (updated.status) {
      Status st = co_await WriteStatus(&set, *updated.status);
      if (!st.ok() && updated.err.ok()) updated.err = st;
    }
    if (!updated.err.ok()) co_return updated.err;
    std::string current_name(api::Name(revs.current));
    std::string update_name(api::Name(revs.update));
    Status trunc =
        co_await TruncateHistory(&set, &all, std::move(revisions), current_name, update_name);
    if (!trunc.ok()) co_return trunc;

    int64_t min_ready = MinReadySeconds(set);
    if (min_ready > 0 && updated.status->available_replicas != Replicas(set)) {
      co_return Requeue{true, std::chrono::seconds(min_ready)};
    }
    co_return Requeue{};
  }
};

StatefulSetController::StatefulSetController(client::Client& client, Informers informers,
                                             WorkQueue& queue, const Clock& clock,
                                             SetEventFunc events)
    : impl_(std::make_unique<Impl>(client, informers, queue, clock, std::move(events))) {}

StatefulSetController::~StatefulSetController() = default;

void StatefulSetController::RegisterHandlers() {
  Impl* impl = impl_.get();
  for (client::Informer* inf :
       {&impl->inf.statefulsets, &impl->inf.pods, &impl->inf.pvcs, &impl->inf.revisions}) {
    inf->AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  }
  impl->inf.statefulsets.AddEventHandlers(EnqueueHandlers(impl->queue));
  client::EventHandlers pods;
  pods.on_add = [impl](const ObjectPtr& p) { impl->OnPod(nullptr, *p); };
  pods.on_update = [impl](const ObjectPtr& o, const ObjectPtr& n) { impl->OnPod(o.get(), *n); };
  pods.on_delete = [impl](const client::DeletedObject& d) {
    if (!d.object) return;
    if (ObjectPtr set = impl->ResolveControllerRef(*d.object)) {
      impl->queue.Add(client::ObjectKey(*set));
    }
  };
  impl->inf.pods.AddEventHandlers(std::move(pods));
  impl->inf.revisions.AddEventHandlers(EnqueueOwnerHandlers(impl->queue, std::string(kKind)));
}

asio::awaitable<Result<Requeue>> StatefulSetController::Reconcile(std::string key) {
  co_return co_await impl_->Sync(std::move(key));
}

}  // namespace mini8s::controllers
