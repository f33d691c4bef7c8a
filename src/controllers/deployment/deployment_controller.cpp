#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "controllers/deployment/apps_util.h"
#include "mini8s/api/object.h"
#include "mini8s/api/selector.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/deployment.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace deployment;  // NOLINT(build/namespaces): this file implements it

namespace {

const char* const kComponent = "deployment-controller";
constexpr int32_t kMaxInt32 = std::numeric_limits<int32_t>::max();
// Upstream caps revision-history at this many characters.
constexpr std::size_t kMaxRevHistoryLength = 2000;

// Condition types and reasons (upstream deployment/util).
const char* const kAvailable = "Available";
const char* const kProgressing = "Progressing";
const char* const kReplicaFailure = "ReplicaFailure";
const char* const kMinimumReplicasAvailable = "MinimumReplicasAvailable";
const char* const kMinimumReplicasUnavailable = "MinimumReplicasUnavailable";
const char* const kNewReplicaSetReason = "NewReplicaSetCreated";
const char* const kFoundNewRSReason = "FoundNewReplicaSet";
const char* const kReplicaSetUpdatedReason = "ReplicaSetUpdated";
const char* const kNewRSAvailableReason = "NewReplicaSetAvailable";
const char* const kTimedOutReason = "ProgressDeadlineExceeded";
const char* const kPausedDeployReason = "DeploymentPaused";
const char* const kResumedDeployReason = "DeploymentResumed";
const char* const kFailedRSCreateReason = "ReplicaSetCreateError";

using RsPtr = std::shared_ptr<json::object>;  // a working copy, replaced by server responses

// ---- status as a value (what upstream compares with reflect.DeepEqual) ----

struct Condition {
  std::string type, status, last_update, last_transition, reason, message;
  bool operator==(const Condition&) const = default;
};

struct DStatus {
  int64_t observed_generation = 0;
  int32_t replicas = 0, updated = 0, ready = 0, available = 0, unavailable = 0;
  std::optional<int32_t> collision_count;
  std::vector<Condition> conditions;
  bool operator==(const DStatus&) const = default;
};

DStatus ReadStatus(const json::object& d) {
  DStatus s;
  s.observed_generation = api::GetInt(d, "status.observedGeneration").value_or(0);
  s.replicas = apps::GetInt32(d, "status.replicas");
  s.updated = apps::GetInt32(d, "status.updatedReplicas");
  s.ready = apps::GetInt32(d, "status.readyReplicas");
  s.available = apps::GetInt32(d, "status.availableReplicas");
  s.unavailable = apps::GetInt32(d, "status.unavailableReplicas");
  if (api::GetInt(d, "status.collisionCount")) {
    s.collision_count = apps::GetInt32(d, "status.collisionCount");
  }
  if (const json::array* conds = api::GetArray(d, "status.conditions")) {
    for (const json::value& v : *conds) {
      if (!v.is_object()) continue;
      const json::object& c = v.as_object();
      s.conditions.push_back(
          {std::string(api::GetString(c, "type")), std::string(api::GetString(c, "status")),
           std::string(api::GetString(c, "lastUpdateTime")),
           std::string(api::GetString(c, "lastTransitionTime")),
           std::string(api::GetString(c, "reason")), std::string(api::GetString(c, "message"))});
    }
  }
  return s;
}

// JSON as upstream's omitempty tags write it.
json::object StatusJson(const DStatus& s) {
  json::object o;
  if (s.observed_generation != 0) o["observedGeneration"] = s.observed_generation;
  if (s.replicas != 0) o["replicas"] = s.replicas;
  if (s.updated != 0) o["updatedReplicas"] = s.updated;
  if (s.ready != 0) o["readyReplicas"] = s.ready;
  if (s.available != 0) o["availableReplicas"] = s.available;
  if (s.unavailable != 0) o["unavailableReplicas"] = s.unavailable;
  if (!s.conditions.empty()) {
    json::array arr;
    for (const auto& c : s.conditions) {
      json::object j{{"type", c.type}, {"status", c.status}};
      if (!c.last_update.empty()) j["lastUpdateTime"] = c.last_update;
      if (!c.last_transition.empty()) j["lastTransitionTime"] = c.last_transition;
      if (!c.reason.empty()) j["reason"] = c.reason;
      if (!c.message.empty()) j["message"] = c.message;
      arr.push_back(std::move(j));
    }
    o["conditions"] = std::move(arr);
  }
  if (s.collision_count) o["collisionCount"] = *s.collision_count;
  return o;
}

const Condition* GetCondition(const DStatus& s, std::string_view type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

void RemoveCondition(DStatus& s, std::string_view type) {
  std::erase_if(s.conditions, [&](const Condition& c) { return c.type == type; });
}

// SetDeploymentCondition: a condition with the same status and reason is left alone; a status
// that does not change keeps its lastTransitionTime.
void SetCondition(DStatus& s, Condition c) {
  const Condition* cur = GetCondition(s, c.type);
  if (cur != nullptr && cur->status == c.status && cur->reason == c.reason) return;
  if (cur != nullptr && cur->status == c.status) c.last_transition = cur->last_transition;
  RemoveCondition(s, c.type);
  s.conditions.push_back(std::move(c));
}

// ---- spec readers (with the API defaults, in case the object was never defaulted) ----

int32_t Replicas(const json::object& obj) { return apps::SpecReplicas(obj); }
bool Paused(const json::object& d) { return api::GetBool(d, "spec.paused").value_or(false); }
bool IsRecreate(const json::object& d) {
  return api::GetString(d, "spec.strategy.type") == "Recreate";
}
bool IsRollingUpdate(const json::object& d) { return !IsRecreate(d); }
int32_t MinReadySeconds(const json::object& d) { return apps::GetInt32(d, "spec.minReadySeconds"); }
bool HasProgressDeadline(const json::object& d) {
  return apps::GetInt32(d, "spec.progressDeadlineSeconds", 600) != kMaxInt32;
}
int32_t ProgressDeadlineSeconds(const json::object& d) {
  return apps::GetInt32(d, "spec.progressDeadlineSeconds", 600);
}
bool HasRevisionHistoryLimit(const json::object& d) {
  return apps::GetInt32(d, "spec.revisionHistoryLimit", 10) != kMaxInt32;
}
int32_t RevisionHistoryLimit(const json::object& d) {
  return apps::GetInt32(d, "spec.revisionHistoryLimit", 10);
}

int32_t StatusReplicas(const json::object& rs) { return apps::GetInt32(rs, "status.replicas"); }
int32_t AvailableReplicas(const json::object& rs) {
  return apps::GetInt32(rs, "status.availableReplicas");
}
int32_t ReadyReplicas(const json::object& rs) { return apps::GetInt32(rs, "status.readyReplicas"); }

int64_t Revision(const json::object& rs) {
  std::optional<std::string_view> v = api::Annotation(rs, kRevisionAnnotation);
  if (!v) return 0;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size()) return 0;
  return out;
}

// ReplicaSetsByCreationTimestamp: older first, then by name.
bool CreatedBefore(const json::object& a, const json::object& b) {
  auto ta = apps::GetTime(a, "metadata.creationTimestamp");
  auto tb = apps::GetTime(b, "metadata.creationTimestamp");
  if (ta == tb) return api::Name(a) < api::Name(b);
  if (!ta || !tb) return !ta;
  return *ta < *tb;
}

void SortByCreation(std::vector<RsPtr>& v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const RsPtr& a, const RsPtr& b) { return CreatedBefore(*a, *b); });
}

std::vector<RsPtr> FilterActive(const std::vector<RsPtr>& v) {
  std::vector<RsPtr> out;
  for (const auto& rs : v) {
    if (rs && Replicas(*rs) > 0) out.push_back(rs);
  }
  return out;
}

int32_t SumSpecReplicas(const std::vector<RsPtr>& v) {
  int32_t n = 0;
  for (const auto& rs : v) {
    if (rs) n += Replicas(*rs);
  }
  return n;
}
int32_t SumStatusReplicas(const std::vector<RsPtr>& v) {
  int32_t n = 0;
  for (const auto& rs : v) {
    if (rs) n += StatusReplicas(*rs);
  }
  return n;
}
int32_t SumAvailable(const std::vector<RsPtr>& v) {
  int32_t n = 0;
  for (const auto& rs : v) {
    if (rs) n += AvailableReplicas(*rs);
  }
  return n;
}
int32_t SumReady(const std::vector<RsPtr>& v) {
  int32_t n = 0;
  for (const auto& rs : v) {
    if (rs) n += ReadyReplicas(*rs);
  }
  return n;
}

std::optional<int32_t> IntAnnotation(const json::object& rs, std::string_view key) {
  std::optional<std::string_view> v = api::Annotation(rs, key);
  if (!v) return std::nullopt;
  int32_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size()) return std::nullopt;
  return out;
}

// SetReplicasAnnotations: true when either annotation changed.
bool SetReplicasAnnotations(json::object& rs, int32_t desired, int32_t max) {
  bool changed = false;
  std::string d = std::to_string(desired), m = std::to_string(max);
  if (api::Annotation(rs, kDesiredReplicasAnnotation) != std::optional<std::string_view>(d)) {
    api::SetAnnotation(rs, kDesiredReplicasAnnotation, d);
    changed = true;
  }
  if (api::Annotation(rs, kMaxReplicasAnnotation) != std::optional<std::string_view>(m)) {
    api::SetAnnotation(rs, kMaxReplicasAnnotation, m);
    changed = true;
  }
  return changed;
}

bool SkipCopyAnnotation(std::string_view key) {
  return key == "kubectl.kubernetes.io/last-applied-configuration" || key == kRevisionAnnotation ||
         key == kRevisionHistoryAnnotation || key == kDesiredReplicasAnnotation ||
         key == kMaxReplicasAnnotation || key == "deprecated.deployment.rollback.to";
}

// copyDeploymentAnnotationsToReplicaSet (change-cause and friends follow the Deployment).
bool CopyDeploymentAnnotations(const json::object& d, json::object& rs) {
  bool changed = false;
  if (const json::object* ann = api::Annotations(d)) {
    for (const auto& [k, v] : *ann) {
      if (!v.is_string() || SkipCopyAnnotation(k)) continue;
      if (api::Annotation(rs, k) == std::optional<std::string_view>(v.as_string())) continue;
      api::SetAnnotation(rs, k, v.as_string());
      changed = true;
    }
  }
  return changed;
}

// SetNewReplicaSetAnnotations. `exists` is false for an RS about to be created.
bool SetNewReplicaSetAnnotations(const json::object& d, json::object& rs, int64_t new_revision,
                                 bool exists) {
  bool changed = CopyDeploymentAnnotations(d, rs);
  std::optional<std::string_view> old_rev_str = api::Annotation(rs, kRevisionAnnotation);
  int64_t old_rev = 0;
  if (old_rev_str) {
    auto [p, ec] =
        std::from_chars(old_rev_str->data(), old_rev_str->data() + old_rev_str->size(), old_rev);
    if (ec != std::errc() || p != old_rev_str->data() + old_rev_str->size()) {
      if (!old_rev_str->empty()) return false;  // someone wrote garbage; leave it
      old_rev = 0;
    }
  }
  std::string old_rev_text(old_rev_str.value_or(""));
  if (old_rev < new_revision) {
    api::SetAnnotation(rs, kRevisionAnnotation, std::to_string(new_revision));
    changed = true;
    // An RS that had a revision and gets a newer one became new again (a rollback): keep the
    // revisions it had in revision-history.
    if (old_rev_str) {
      std::string history(api::Annotation(rs, kRevisionHistoryAnnotation).value_or(""));
      if (history.empty()) {
        api::SetAnnotation(rs, kRevisionHistoryAnnotation, old_rev_text);
      } else {
        std::vector<std::string> parts;
        std::size_t start = 0;
        while (true) {
          std::size_t comma = history.find(',', start);
          parts.push_back(history.substr(start, comma - start));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        std::size_t total = history.size() + old_rev_text.size() + 1;
        std::size_t drop = 0;
        while (total > kMaxRevHistoryLength && drop < parts.size()) {
          total -= parts[drop].size() + 1;
          ++drop;
        }
        if (total <= kMaxRevHistoryLength) {
          std::string joined;
          for (std::size_t i = drop; i < parts.size(); ++i) joined += parts[i] + ",";
          joined += old_rev_text;
          api::SetAnnotation(rs, kRevisionHistoryAnnotation, joined);
        }
      }
    }
  }
  if (!exists && SetReplicasAnnotations(rs, Replicas(d), Replicas(d) + MaxSurge(d))) {
    changed = true;
  }
  return changed;
}

// IsSaturated: the new RS runs every desired replica, all available.
bool IsSaturated(const json::object& d, const RsPtr& rs) {
  if (!rs) return false;
  std::optional<int32_t> desired = IntAnnotation(*rs, kDesiredReplicasAnnotation);
  if (!desired) return false;
  return Replicas(*rs) == Replicas(d) && *desired == Replicas(d) &&
         AvailableReplicas(*rs) == Replicas(d);
}

// DeploymentComplete / DeploymentProgressing / DeploymentTimedOut.
bool DeploymentComplete(const json::object& d, const DStatus& s) {
  int32_t want = Replicas(d);
  return s.updated == want && s.replicas == want && s.available == want &&
         s.observed_generation >= api::Generation(d);
}

bool DeploymentProgressing(const DStatus& old_s, const DStatus& s) {
  int32_t old_old = old_s.replicas - old_s.updated;
  int32_t new_old = s.replicas - s.updated;
  return s.updated > old_s.updated || new_old < old_old || s.ready > old_s.ready ||
         s.available > old_s.available;
}

bool DeploymentTimedOut(const json::object& d, const DStatus& s, apps::TimePoint now) {
  if (!HasProgressDeadline(d)) return false;
  const Condition* c = GetCondition(s, kProgressing);
  if (c == nullptr) return false;
  if (c->reason == kNewRSAvailableReason) return false;
  if (c->reason == kTimedOutReason) return true;
  Result<apps::TimePoint> from = ParseRfc3339(c->last_update);
  if (!from.has_value()) return false;
  return *from + std::chrono::seconds(ProgressDeadlineSeconds(d)) < now;
}

// getReplicaSetFraction: this RS's share of a resize, from its max-replicas annotation.
int32_t ReplicaSetFraction(const json::object& rs, const json::object& d) {
  if (Replicas(d) == 0) return -Replicas(rs);
  int32_t deployment_replicas = Replicas(d) + MaxSurge(d);
  std::optional<int32_t> annotated = IntAnnotation(rs, kMaxReplicasAnnotation);
  int32_t base = annotated ? *annotated : apps::GetInt32(d, "status.replicas");
  if (base == 0) return 0;
  double size = static_cast<double>(Replicas(rs)) * deployment_replicas / base;
  auto rounded = static_cast<int32_t>(size < 0 ? size - 0.5 : size + 0.5);
  return rounded - Replicas(rs);
}

int32_t Proportion(const RsPtr& rs, const json::object& d, int32_t to_add, int32_t added) {
  if (!rs || Replicas(*rs) == 0 || to_add == 0 || to_add == added) return 0;
  int32_t fraction = ReplicaSetFraction(*rs, d);
  int32_t allowed = to_add - added;
  return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

std::string Quote(std::string_view s) { return json::serialize(json::string(s)); }

}  // namespace

// ---- one reconcile ----

struct DeploymentController::Sync {
  Sync(DeploymentController& controller, std::string k, json::object obj)
      : c(controller), key(std::move(k)), d(std::move(obj)) {}

  DeploymentController& c;
  std::string key;
  json::object d;  // the working copy; replaced by every server response
  bool revision_dirty = false;
  std::vector<RsPtr> rs_list;
  std::map<std::string, std::vector<client::ObjectPtr>, std::less<>> pod_map;  // RS uid -> pods

  apps::TimePoint Now() const { return c.ctx_.clock.Now(); }
  std::string NowText() const { return FormatRfc3339(Now()); }
  Condition NewCondition(std::string type, std::string status, std::string reason,
                         std::string message) const {
    std::string now = NowText();
    return {std::move(type), std::move(status), now, now, std::move(reason), std::move(message)};
  }
  std::string Ns() const { return std::string(api::Namespace(d)); }

  // ---- writes ----

  // Writes `status` (and a pending revision annotation, which upstream persists through the
  // status subresource; here the main resource takes a metadata-only merge patch).
  asio::awaitable<Status> WriteStatus(DStatus status) {
    if (revision_dirty) {
      json::object ann;
      ann[std::string(kRevisionAnnotation)] =
          std::string(api::Annotation(d, kRevisionAnnotation).value_or(""));
      std::string patch =
          json::serialize(json::object{{"metadata", json::object{{"annotations", ann}}}});
      client::Resource res = resources::Deployments();
      std::string ns = Ns(), name(api::Name(d));
      client::PatchOptions opts;
      auto r = co_await c.ctx_.client.Patch(res, ns, name, client::PatchType::kMerge,
                                            std::move(patch), opts);
      if (!r.has_value()) co_return r.error();
      d = std::move(*r);
      revision_dirty = false;
    }
    json::object next = d;
    next["status"] = StatusJson(status);
    client::Resource res = resources::Deployments();
    auto r = co_await c.ctx_.client.UpdateStatus(res, std::move(next));
    if (!r.has_value()) co_return r.error();
    d = std::move(*r);
    co_return Status();
  }

  // SetDeploymentRevision.
  bool SetRevision(const std::string& rev) {
    if (api::Annotation(d, kRevisionAnnotation) == std::optional<std::string_view>(rev)) {
      return false;
    }
    api::SetAnnotation(d, kRevisionAnnotation, rev);
    revision_dirty = true;
    return true;
  }

  // scaleReplicaSet: writes the size and the desired/max annotations; records
  // ScalingReplicaSet when the size changed. Returns whether it scaled.
  asio::awaitable<Result<bool>> ScaleReplicaSet(RsPtr rs, int32_t new_scale,
                                                std::string operation) {
    int32_t old_scale = Replicas(*rs);
    bool size_changes = old_scale != new_scale;
    json::object next = *rs;
    bool ann_changes = SetReplicasAnnotations(next, Replicas(d), Replicas(d) + MaxSurge(d));
    if (!size_changes && !ann_changes) co_return false;
    api::MutableObjectAt(next, "spec")["replicas"] = new_scale;
    client::Resource res = resources::ReplicaSets();
    auto r = co_await c.ctx_.client.Update(res, std::move(next));
    if (!r.has_value()) co_return r.error();
    *rs = std::move(*r);
    if (size_changes) {
      c.events_.Event(d, "Normal", "ScalingReplicaSet",
                      "Scaled " + operation + " replica set " + std::string(api::Name(*rs)) +
                          " from " + std::to_string(old_scale) + " to " +
                          std::to_string(new_scale));
    }
    co_return size_changes;
  }

  asio::awaitable<Result<bool>> ScaleAndRecord(RsPtr rs, int32_t new_scale) {
    if (Replicas(*rs) == new_scale) co_return false;
    std::string op = Replicas(*rs) < new_scale ? "up" : "down";
    co_return co_await ScaleReplicaSet(rs, new_scale, op);
  }

  // ---- finding ReplicaSets ----

  RsPtr FindNewReplicaSet() const {
    std::vector<RsPtr> sorted = rs_list;
    SortByCreation(sorted);
    const json::value* tmpl = api::FindPath(d, "spec.template");
    for (const auto& rs : sorted) {
      const json::value* rs_tmpl = api::FindPath(*rs, "spec.template");
      if (tmpl && rs_tmpl && EqualIgnoreHash(*rs_tmpl, *tmpl)) return rs;
    }
    return nullptr;
  }

  std::vector<RsPtr> OldReplicaSets(const RsPtr& new_rs) const {
    std::vector<RsPtr> out;
    for (const auto& rs : rs_list) {
      if (new_rs && api::Uid(*rs) == api::Uid(*new_rs)) continue;
      out.push_back(rs);
    }
    return out;
  }

  // NewRSNewReplicas: how big the new RS may be now.
  int32_t NewRSNewReplicas(const std::vector<RsPtr>& all, const json::object& new_rs) const {
    if (IsRecreate(d)) return Replicas(d);
    static const json::value kDefault("25%");
    const json::value* surge_v = api::FindPath(d, "spec.strategy.rollingUpdate.maxSurge");
    if (surge_v == nullptr) surge_v = &kDefault;
    int32_t surge = ScaledValue(surge_v, Replicas(d), true).value_or(0);
    int32_t current = SumSpecReplicas(all);
    int32_t max_total = Replicas(d) + surge;
    if (current >= max_total) return Replicas(new_rs);
    int32_t up = std::min(max_total - current, Replicas(d) - Replicas(new_rs));
    return Replicas(new_rs) + up;
  }

  // getNewReplicaSet: finds (and syncs the revision of) or creates the new RS.
  asio::awaitable<Result<RsPtr>> GetNewReplicaSet(std::vector<RsPtr> old_rss, bool create) {
    RsPtr existing = FindNewReplicaSet();
    int64_t max_old = 0;
    for (const auto& rs : old_rss) max_old = std::max(max_old, Revision(*rs));
    int64_t new_revision = max_old + 1;
    if (existing) {
      json::object copy = *existing;
      bool ann_changed = SetNewReplicaSetAnnotations(d, copy, new_revision, true);
      bool min_ready_changed = apps::GetInt32(copy, "spec.minReadySeconds") != MinReadySeconds(d);
      if (ann_changed || min_ready_changed) {
        api::MutableObjectAt(copy, "spec")["minReadySeconds"] = MinReadySeconds(d);
        client::Resource res = resources::ReplicaSets();
        auto r = co_await c.ctx_.client.Update(res, std::move(copy));
        if (!r.has_value()) co_return r.error();
        *existing = std::move(*r);
        co_return existing;
      }
      bool needs_update =
          SetRevision(std::string(api::Annotation(copy, kRevisionAnnotation).value_or("")));
      DStatus status = ReadStatus(d);
      if (HasProgressDeadline(d) && GetCondition(status, kProgressing) == nullptr) {
        SetCondition(status, NewCondition(kProgressing, "True", kFoundNewRSReason,
                                          "Found new replica set " + Quote(api::Name(copy))));
        needs_update = true;
      }
      if (needs_update) MINI8S_CO_RETURN_IF_ERROR(co_await WriteStatus(std::move(status)));
      co_return existing;
    }
    if (!create) co_return RsPtr();

    // Build the new RS: the template plus pod-template-hash in labels and selector.
    const json::value* tmpl_v = api::FindPath(d, "spec.template");
    json::value tmpl = tmpl_v ? *tmpl_v : json::value(json::object());
    DStatus cur = ReadStatus(d);
    std::string hash = ComputePodTemplateHash(tmpl, cur.collision_count);
    json::object& tmpl_obj = tmpl.is_object() ? tmpl.as_object() : tmpl.emplace_object();
    api::SetLabel(tmpl_obj, kPodTemplateHashLabel, hash);
    json::value selector = json::object();
    if (const json::value* sel = api::FindPath(d, "spec.selector"); sel && sel->is_object()) {
      selector = *sel;
    }
    json::value& match = selector.as_object()["matchLabels"];
    if (!match.is_object()) match = json::object();
    match.as_object()[kPodTemplateHashLabel] = hash;

    std::string name = std::string(api::Name(d)) + "-" + hash;
    json::object rs{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}};
    api::SetName(rs, name);
    api::SetNamespace(rs, Ns());
    if (const json::object* labels = api::Labels(tmpl_obj)) {
      api::MutableMetadata(rs)["labels"] = *labels;
    }
    api::SetOwnerReferences(rs, {apps::ControllerRefTo(d, "apps/v1", "Deployment")});
    json::object spec{{"replicas", 0},
                      {"minReadySeconds", MinReadySeconds(d)},
                      {"selector", selector},
                      {"template", tmpl}};
    rs["spec"] = std::move(spec);
    std::vector<RsPtr> all = old_rss;
    all.push_back(std::make_shared<json::object>(rs));
    int32_t new_replicas = NewRSNewReplicas(all, rs);
    api::MutableObjectAt(rs, "spec")["replicas"] = new_replicas;
    (void)SetNewReplicaSetAnnotations(d, rs, new_revision, false);

    client::Resource res = resources::ReplicaSets();
    auto created = co_await c.ctx_.client.Create(res, std::move(rs));
    bool already_exists = false;
    RsPtr result;
    if (!created.has_value() && created.error().code() == Code::kAlreadyExists) {
      std::string ns = Ns();
      std::string rs_name = name;
      auto got = co_await c.ctx_.client.Get(res, ns, rs_name);
      if (!got.has_value()) co_return got.error();
      std::optional<api::OwnerReference> ref = api::ControllerOf(*got);
      const json::value* got_tmpl = api::FindPath(*got, "spec.template");
      if (ref && ref->uid == api::Uid(d) && got_tmpl && tmpl_v &&
          EqualIgnoreHash(*got_tmpl, *tmpl_v)) {
        already_exists = true;
        result = std::make_shared<json::object>(std::move(*got));
        rs_list.push_back(result);
      } else {
        // A hash collision: bump collisionCount so the next attempt hashes differently.
        DStatus st = ReadStatus(d);
        st.collision_count = st.collision_count.value_or(0) + 1;
        Status s = co_await WriteStatus(std::move(st));
        if (s.ok()) {
          MINI8S_LOG(INFO) << "deployment " << key << ": hash collision on replica set " << name
                           << "; collisionCount is now "
                           << ReadStatus(d).collision_count.value_or(0);
        }
        co_return created.error();
      }
    } else if (!created.has_value()) {
      std::string msg =
          "Failed to create new replica set " + Quote(name) + ": " + created.error().message();
      if (HasProgressDeadline(d)) {
        DStatus st = ReadStatus(d);
        SetCondition(st, NewCondition(kProgressing, "False", kFailedRSCreateReason, msg));
        Status ignored = co_await WriteStatus(std::move(st));
        (void)ignored;
      }
      c.events_.Event(d, "Warning", kFailedRSCreateReason, msg);
      co_return created.error();
    } else {
      result = std::make_shared<json::object>(std::move(*created));
      rs_list.push_back(result);
    }
    if (!already_exists && new_replicas > 0) {
      c.events_.Event(d, "Normal", "ScalingReplicaSet",
                      "Scaled up replica set " + std::string(api::Name(*result)) + " from 0 to " +
                          std::to_string(new_replicas));
    }
    bool needs_update = SetRevision(std::to_string(new_revision));
    DStatus st = ReadStatus(d);
    if (!already_exists && HasProgressDeadline(d)) {
      SetCondition(st, NewCondition(kProgressing, "True", kNewReplicaSetReason,
                                    "Created new replica set " + Quote(api::Name(*result))));
      needs_update = true;
    }
    if (needs_update) MINI8S_CO_RETURN_IF_ERROR(co_await WriteStatus(std::move(st)));
    co_return result;
  }

  struct NewAndOld {
    RsPtr new_rs;
    std::vector<RsPtr> old_rss;
    std::vector<RsPtr> All() const {
      std::vector<RsPtr> all = old_rss;
      if (new_rs) all.push_back(new_rs);
      return all;
    }
  };

  // getAllReplicaSetsAndSyncRevision.
  asio::awaitable<Result<NewAndOld>> AllReplicaSets(bool create) {
    RsPtr found = FindNewReplicaSet();
    std::vector<RsPtr> old = OldReplicaSets(found);
    MINI8S_CO_ASSIGN_OR_RETURN(RsPtr new_rs, co_await GetNewReplicaSet(old, create));
    co_return NewAndOld{new_rs, OldReplicaSets(new_rs)};
  }

  // ---- status ----

  DStatus CalculateStatus(const std::vector<RsPtr>& all, const RsPtr& new_rs) const {
    DStatus old_s = ReadStatus(d);
    DStatus s;
    int32_t available = SumAvailable(all);
    int32_t total = SumSpecReplicas(all);
    s.observed_generation = api::Generation(d);
    s.replicas = SumStatusReplicas(all);
    s.updated = new_rs ? StatusReplicas(*new_rs) : 0;
    s.ready = SumReady(all);
    s.available = available;
    s.unavailable = std::max(0, total - available);
    s.collision_count = old_s.collision_count;
    s.conditions = old_s.conditions;
    if (available >= Replicas(d) - MaxUnavailable(d)) {
      SetCondition(s, NewCondition(kAvailable, "True", kMinimumReplicasAvailable,
                                   "Deployment has minimum availability."));
    } else {
      SetCondition(s, NewCondition(kAvailable, "False", kMinimumReplicasUnavailable,
                                   "Deployment does not have minimum availability."));
    }
    return s;
  }

  asio::awaitable<Status> SyncDeploymentStatus(const std::vector<RsPtr>& all, RsPtr new_rs) {
    DStatus s = CalculateStatus(all, new_rs);
    if (s == ReadStatus(d) && !revision_dirty) co_return Status();
    co_return co_await WriteStatus(std::move(s));
  }

  // getReplicaFailures: the new RS's ReplicaFailure conditions first, else any RS's.
  std::optional<Condition> ReplicaFailure(const std::vector<RsPtr>& all,
                                          const RsPtr& new_rs) const {
    auto from = [](const json::object& rs) -> std::optional<Condition> {
      const json::object* rc = apps::FindCondition(rs, kReplicaFailure);
      if (rc == nullptr) return std::nullopt;
      std::string t(api::GetString(*rc, "lastTransitionTime"));
      return Condition{kReplicaFailure,
                       std::string(api::GetString(*rc, "status")),
                       t,
                       t,
                       std::string(api::GetString(*rc, "reason")),
                       std::string(api::GetString(*rc, "message"))};
    };
    if (new_rs) {
      if (auto fc = from(*new_rs)) return fc;
    }
    for (const auto& rs : all) {
      if (!rs) continue;
      if (auto fc = from(*rs)) return fc;
    }
    return std::nullopt;
  }

  // syncRolloutStatus: status plus the Progressing condition, and a requeue for the deadline.
  asio::awaitable<Status> SyncRolloutStatus(const std::vector<RsPtr>& all, RsPtr new_rs) {
    DStatus s = CalculateStatus(all, new_rs);
    DStatus old_s = ReadStatus(d);
    if (!HasProgressDeadline(d)) RemoveCondition(s, kProgressing);
    const Condition* cur_p = GetCondition(old_s, kProgressing);
    bool complete_before =
        s.replicas == s.updated && cur_p != nullptr && cur_p->reason == kNewRSAvailableReason;
    if (HasProgressDeadline(d) && !complete_before) {
      std::string rs_name = new_rs ? std::string(api::Name(*new_rs)) : "";
      if (DeploymentComplete(d, s)) {
        std::string msg =
            new_rs ? "ReplicaSet " + Quote(rs_name) + " has successfully progressed."
                   : "Deployment " + Quote(api::Name(d)) + " has successfully progressed.";
        SetCondition(s, NewCondition(kProgressing, "True", kNewRSAvailableReason, msg));
      } else if (DeploymentProgressing(old_s, s)) {
        std::string msg = new_rs ? "ReplicaSet " + Quote(rs_name) + " is progressing."
                                 : "Deployment " + Quote(api::Name(d)) + " is progressing.";
        Condition cond = NewCondition(kProgressing, "True", kReplicaSetUpdatedReason, msg);
        // Progress refreshes lastUpdateTime (the deadline's origin) but a True condition keeps
        // its lastTransitionTime.
        if (cur_p != nullptr) {
          if (cur_p->status == "True") cond.last_transition = cur_p->last_transition;
          RemoveCondition(s, kProgressing);
        }
        SetCondition(s, std::move(cond));
      } else if (DeploymentTimedOut(d, s, Now())) {
        std::string msg = new_rs
                              ? "ReplicaSet " + Quote(rs_name) + " has timed out progressing."
                              : "Deployment " + Quote(api::Name(d)) + " has timed out progressing.";
        SetCondition(s, NewCondition(kProgressing, "False", kTimedOutReason, msg));
      }
    }
    if (auto failure = ReplicaFailure(all, new_rs)) {
      SetCondition(s, std::move(*failure));
    } else {
      RemoveCondition(s, kReplicaFailure);
    }
    if (s == old_s && !revision_dirty) {
      RequeueStuckDeployment(s);
      co_return Status();
    }
    co_return co_await WriteStatus(std::move(s));
  }

  // requeueStuckDeployment: look again when the progress deadline would pass.
  void RequeueStuckDeployment(const DStatus& s) {
    DStatus current = ReadStatus(d);
    const Condition* cur = GetCondition(current, kProgressing);
    if (!HasProgressDeadline(d) || cur == nullptr) return;
    if (DeploymentComplete(d, s) || cur->reason == kTimedOutReason) return;
    Result<apps::TimePoint> from = ParseRfc3339(cur->last_update);
    if (!from.has_value()) return;
    auto after = *from + std::chrono::seconds(ProgressDeadlineSeconds(d)) - Now();
    if (after < std::chrono::seconds(1)) {
      c.queue_.AddRateLimited(key);
    } else {
      c.queue_.AddAfter(key, std::chrono::duration_cast<std::chrono::nanoseconds>(after));
    }
  }

  // ---- scaling (sync.go) ----

  // FindActiveOrLatest: the one RS with replicas, or the newest when none has any.
  RsPtr ActiveOrLatest(const RsPtr& new_rs, std::vector<RsPtr> old_rss) const {
    if (!new_rs && old_rss.empty()) return nullptr;
    SortByCreation(old_rss);
    std::reverse(old_rss.begin(), old_rss.end());
    std::vector<RsPtr> all = old_rss;
    if (new_rs) all.push_back(new_rs);
    std::vector<RsPtr> active = FilterActive(all);
    if (active.empty()) return new_rs ? new_rs : old_rss.front();
    if (active.size() == 1) return active.front();
    return nullptr;
  }

  asio::awaitable<Status> Scale(RsPtr new_rs, std::vector<RsPtr> old_rss) {
    if (RsPtr only = ActiveOrLatest(new_rs, old_rss)) {
      if (Replicas(*only) == Replicas(d)) co_return Status();
      MINI8S_CO_ASSIGN_OR_RETURN(bool scaled, co_await ScaleAndRecord(only, Replicas(d)));
      (void)scaled;
      co_return Status();
    }
    if (IsSaturated(d, new_rs)) {
      for (const auto& old : FilterActive(old_rss)) {
        MINI8S_CO_ASSIGN_OR_RETURN(bool scaled, co_await ScaleAndRecord(old, 0));
        (void)scaled;
      }
      co_return Status();
    }
    if (!IsRollingUpdate(d)) co_return Status();
    // Several active ReplicaSets during a rollout: spread the resize proportionally to each
    // one's share of max-replicas, leftovers going to the largest.
    std::vector<RsPtr> all = old_rss;
    if (new_rs) all.push_back(new_rs);
    all = FilterActive(all);
    int32_t all_replicas = SumSpecReplicas(all);
    int32_t allowed = Replicas(d) > 0 ? Replicas(d) + MaxSurge(d) : 0;
    int32_t to_add = allowed - all_replicas;
    std::string operation;
    if (to_add > 0) {
      // Largest first; among equals, newer first.
      std::stable_sort(all.begin(), all.end(), [](const RsPtr& a, const RsPtr& b) {
        if (Replicas(*a) != Replicas(*b)) return Replicas(*a) > Replicas(*b);
        return CreatedBefore(*b, *a);
      });
      operation = "up";
    } else if (to_add < 0) {
      // Largest first; among equals, older first.
      std::stable_sort(all.begin(), all.end(), [](const RsPtr& a, const RsPtr& b) {
        if (Replicas(*a) != Replicas(*b)) return Replicas(*a) > Replicas(*b);
        return CreatedBefore(*a, *b);
      });
      operation = "down";
    }
    int32_t added = 0;
    std::map<std::string, int32_t, std::less<>> sizes;
    for (const auto& rs : all) {
      std::string name(api::Name(*rs));
      if (to_add != 0) {
        int32_t p = Proportion(rs, d, to_add, added);
        sizes[name] = Replicas(*rs) + p;
        added += p;
      } else {
        sizes[name] = Replicas(*rs);
      }
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
      const RsPtr& rs = all[i];
      std::string name(api::Name(*rs));
      if (i == 0 && to_add != 0) {
        sizes[name] = std::max(0, sizes[name] + (to_add - added));
      }
      MINI8S_CO_ASSIGN_OR_RETURN(bool scaled,
                                      co_await ScaleReplicaSet(rs, sizes[name], operation));
      (void)scaled;
    }
    co_return Status();
  }

  // cleanupDeployment: delete the oldest revisions beyond revisionHistoryLimit that are fully
  // scaled down and observed so.
  asio::awaitable<Status> Cleanup(std::vector<RsPtr> old_rss) {
    if (!HasRevisionHistoryLimit(d)) co_return Status();
    std::vector<RsPtr> cleanable;
    for (const auto& rs : old_rss) {
      if (rs && !api::IsBeingDeleted(*rs)) cleanable.push_back(rs);
    }
    int64_t diff = static_cast<int64_t>(cleanable.size()) - RevisionHistoryLimit(d);
    if (diff <= 0) co_return Status();
    std::stable_sort(cleanable.begin(), cleanable.end(), [](const RsPtr& a, const RsPtr& b) {
      int64_t ra = Revision(*a), rb = Revision(*b);
      if (ra != rb) return ra < rb;
      return CreatedBefore(*a, *b);
    });
    for (int64_t i = 0; i < diff; ++i) {
      const json::object& rs = *cleanable[static_cast<std::size_t>(i)];
      if (StatusReplicas(rs) != 0 || Replicas(rs) != 0 ||
          api::Generation(rs) > api::GetInt(rs, "status.observedGeneration").value_or(0) ||
          api::IsBeingDeleted(rs)) {
        continue;
      }
      client::Resource res = resources::ReplicaSets();
      std::string ns = Ns(), name(api::Name(rs));
      auto r = co_await c.ctx_.client.Delete(res, ns, name);
      if (!r.has_value() && r.error().code() != Code::kNotFound) co_return r.error();
    }
    co_return Status();
  }

  // sync: scaling and status only (paused Deployments and scaling events).
  asio::awaitable<Status> SyncOnly() {
    MINI8S_CO_ASSIGN_OR_RETURN(NewAndOld rss, co_await AllReplicaSets(false));
    MINI8S_CO_RETURN_IF_ERROR(co_await Scale(rss.new_rs, rss.old_rss));
    if (Paused(d)) MINI8S_CO_RETURN_IF_ERROR(co_await Cleanup(rss.old_rss));
    std::vector<RsPtr> all = rss.All();
    co_return co_await SyncDeploymentStatus(all, rss.new_rs);
  }

  // isScalingEvent: an active RS's desired-replicas differs from spec.replicas.
  asio::awaitable<Result<bool>> IsScalingEvent() {
    MINI8S_CO_ASSIGN_OR_RETURN(NewAndOld rss, co_await AllReplicaSets(false));
    for (const auto& rs : FilterActive(rss.All())) {
      std::optional<int32_t> desired = IntAnnotation(*rs, kDesiredReplicasAnnotation);
      if (desired && *desired != Replicas(d)) co_return true;
    }
    co_return false;
  }

  // checkPausedConditions: an Unknown Progressing condition while paused, so the deadline does
  // not count paused time.
  asio::awaitable<Status> CheckPausedConditions() {
    if (!HasProgressDeadline(d)) co_return Status();
    DStatus s = ReadStatus(d);
    const Condition* cond = GetCondition(s, kProgressing);
    if (cond != nullptr && cond->reason == kTimedOutReason) co_return Status();
    bool paused_cond = cond != nullptr && cond->reason == kPausedDeployReason;
    bool needs_update = false;
    if (Paused(d) && !paused_cond) {
      SetCondition(
          s, NewCondition(kProgressing, "Unknown", kPausedDeployReason, "Deployment is paused"));
      needs_update = true;
    } else if (!Paused(d) && paused_cond) {
      SetCondition(
          s, NewCondition(kProgressing, "Unknown", kResumedDeployReason, "Deployment is resumed"));
      needs_update = true;
    }
    if (!needs_update) co_return Status();
    co_return co_await WriteStatus(std::move(s));
  }

  // ---- rolling update (rolling.go) ----

  asio::awaitable<Result<bool>> ReconcileNewReplicaSet(const std::vector<RsPtr>& all,
                                                       RsPtr new_rs) {
    if (Replicas(*new_rs) == Replicas(d)) co_return false;
    if (Replicas(*new_rs) > Replicas(d)) co_return co_await ScaleAndRecord(new_rs, Replicas(d));
    int32_t n = NewRSNewReplicas(all, *new_rs);
    co_return co_await ScaleAndRecord(new_rs, n);
  }

  // cleanupUnhealthyReplicas: scale down old RSs' unavailable pods first (they cost no
  // availability), oldest RS first, at most `max_cleanup`.
  asio::awaitable<Result<int32_t>> CleanupUnhealthy(std::vector<RsPtr> old_rss,
                                                    int32_t max_cleanup) {
    SortByCreation(old_rss);
    int32_t total = 0;
    for (const auto& rs : old_rss) {
      if (total >= max_cleanup) break;
      if (Replicas(*rs) == 0) continue;
      if (Replicas(*rs) == AvailableReplicas(*rs)) continue;
      int32_t down = std::min(max_cleanup - total, Replicas(*rs) - AvailableReplicas(*rs));
      int32_t target = Replicas(*rs) - down;
      if (target > Replicas(*rs)) {
        co_return Status::Invalid(
            "when cleaning up unhealthy replicas, got invalid request to "
            "scale down " +
            std::string(api::Name(*rs)));
      }
      MINI8S_CO_ASSIGN_OR_RETURN(bool scaled, co_await ScaleAndRecord(rs, target));
      (void)scaled;
      total += down;
    }
    co_return total;
  }

  // scaleDownOldReplicaSetsForRollingUpdate: as far as availability allows, oldest first.
  asio::awaitable<Result<int32_t>> ScaleDownOldForRollingUpdate(const std::vector<RsPtr>& all,
                                                                std::vector<RsPtr> old_rss) {
    int32_t min_available = Replicas(d) - MaxUnavailable(d);
    int32_t available = SumAvailable(all);
    if (available <= min_available) co_return 0;
    SortByCreation(old_rss);
    int32_t total = 0, budget = available - min_available;
    for (const auto& rs : old_rss) {
      if (total >= budget) break;
      if (Replicas(*rs) == 0) continue;
      int32_t down = std::min(Replicas(*rs), budget - total);
      MINI8S_CO_ASSIGN_OR_RETURN(bool scaled,
                                      co_await ScaleAndRecord(rs, Replicas(*rs) - down));
      (void)scaled;
      total += down;
    }
    co_return total;
  }

  asio::awaitable<Result<bool>> ReconcileOldReplicaSets(std::vector<RsPtr> all,
                                                        std::vector<RsPtr> old_rss, RsPtr new_rs) {
    if (SumSpecReplicas(old_rss) == 0) co_return false;
    int32_t all_pods = SumSpecReplicas(all);
    int32_t min_available = Replicas(d) - MaxUnavailable(d);
    int32_t new_unavailable = Replicas(*new_rs) - AvailableReplicas(*new_rs);
    int32_t max_scaled_down = all_pods - min_available - new_unavailable;
    if (max_scaled_down <= 0) co_return false;
    MINI8S_CO_ASSIGN_OR_RETURN(int32_t cleaned,
                                    co_await CleanupUnhealthy(old_rss, max_scaled_down));
    std::vector<RsPtr> all2 = old_rss;
    all2.push_back(new_rs);
    MINI8S_CO_ASSIGN_OR_RETURN(int32_t scaled,
                                    co_await ScaleDownOldForRollingUpdate(all2, old_rss));
    co_return cleaned + scaled > 0;
  }

  asio::awaitable<Status> RolloutRolling() {
    MINI8S_CO_ASSIGN_OR_RETURN(NewAndOld rss, co_await AllReplicaSets(true));
    std::vector<RsPtr> all = rss.All();
    MINI8S_CO_ASSIGN_OR_RETURN(bool scaled_up,
                                    co_await ReconcileNewReplicaSet(all, rss.new_rs));
    if (scaled_up) co_return co_await SyncRolloutStatus(all, rss.new_rs);
    std::vector<RsPtr> active_old = FilterActive(rss.old_rss);
    MINI8S_CO_ASSIGN_OR_RETURN(bool scaled_down,
                                    co_await ReconcileOldReplicaSets(all, active_old, rss.new_rs));
    if (scaled_down) co_return co_await SyncRolloutStatus(all, rss.new_rs);
    if (DeploymentComplete(d, ReadStatus(d))) {
      MINI8S_CO_RETURN_IF_ERROR(co_await Cleanup(rss.old_rss));
    }
    co_return co_await SyncRolloutStatus(all, rss.new_rs);
  }

  // ---- recreate (recreate.go) ----

  bool OldPodsRunning(const RsPtr& new_rs, const std::vector<RsPtr>& old_rss) const {
    if (SumStatusReplicas(old_rss) > 0) return true;
    for (const auto& [uid, pods] : pod_map) {
      if (new_rs && api::Uid(*new_rs) == uid) continue;
      for (const auto& p : pods) {
        std::string_view phase = api::GetString(*p, "status.phase");
        if (phase == "Failed" || phase == "Succeeded") continue;
        return true;
      }
    }
    return false;
  }

  asio::awaitable<Status> RolloutRecreate() {
    MINI8S_CO_ASSIGN_OR_RETURN(NewAndOld rss, co_await AllReplicaSets(false));
    bool scaled_down = false;
    for (const auto& rs : FilterActive(rss.old_rss)) {
      MINI8S_CO_ASSIGN_OR_RETURN(bool scaled, co_await ScaleAndRecord(rs, 0));
      scaled_down = scaled_down || scaled;
    }
    std::vector<RsPtr> all = rss.All();
    if (scaled_down) co_return co_await SyncRolloutStatus(all, rss.new_rs);
    // Recreate guarantees no old pod runs next to a new one.
    if (OldPodsRunning(rss.new_rs, rss.old_rss))
      co_return co_await SyncRolloutStatus(all, rss.new_rs);
    if (!rss.new_rs) {
      MINI8S_CO_ASSIGN_OR_RETURN(rss, co_await AllReplicaSets(true));
    }
    MINI8S_CO_ASSIGN_OR_RETURN(bool scaled_up,
                                    co_await ScaleAndRecord(rss.new_rs, Replicas(d)));
    (void)scaled_up;
    if (DeploymentComplete(d, ReadStatus(d))) {
      MINI8S_CO_RETURN_IF_ERROR(co_await Cleanup(rss.old_rss));
    }
    all = rss.All();
    co_return co_await SyncRolloutStatus(all, rss.new_rs);
  }
};

// ---- the controller ----

DeploymentController::DeploymentController(ControllerContext& ctx, WorkQueue& queue)
    : ctx_(ctx),
      queue_(queue),
      d_informer_(ctx.informers.For(resources::Deployments())),
      rs_informer_(ctx.informers.For(resources::ReplicaSets())),
      pod_informer_(ctx.informers.For(resources::Pods())),
      events_(ctx.events(kComponent)) {
  d_informer_.AddEventHandlers(EnqueueHandlers(queue_));
  client::EventHandlers rs;
  rs.on_add = [this](const client::ObjectPtr& obj) { OnReplicaSetAdd(obj); };
  rs.on_update = [this](const client::ObjectPtr& o, const client::ObjectPtr& n) {
    OnReplicaSetUpdate(o, n);
  };
  rs.on_delete = [this](const client::DeletedObject& del) {
    if (del.object) OnReplicaSetDelete(*del.object);
  };
  rs_informer_.AddEventHandlers(std::move(rs));
  client::EventHandlers pods;
  pods.on_delete = [this](const client::DeletedObject& del) {
    if (del.object) OnPodDelete(*del.object);
  };
  pod_informer_.AddEventHandlers(std::move(pods));
}

DeploymentController::~DeploymentController() = default;

void DeploymentController::EnqueueDeployment(const json::object& d) {
  queue_.Add(client::ObjectKey(d));
}

client::ObjectPtr DeploymentController::ResolveDeployment(std::string_view ns,
                                                          const api::OwnerReference& ref) const {
  if (ref.kind != "Deployment") return nullptr;
  client::ObjectPtr d = d_informer_.indexer().Get(ns, ref.name);
  if (!d || api::Uid(*d) != ref.uid) return nullptr;
  return d;
}

std::vector<client::ObjectPtr> DeploymentController::DeploymentsSelecting(
    const json::object& rs) const {
  std::vector<client::ObjectPtr> out;
  std::string ns(api::Namespace(rs));
  for (const auto& d : d_informer_.indexer().ByIndex(client::kNamespaceIndex, ns)) {
    Result<api::LabelSelector> sel = apps::SpecSelector(*d);
    if (!sel.has_value() || sel->Empty() || sel->MatchesNothing()) continue;
    if (sel->Matches(api::Labels(rs))) out.push_back(d);
  }
  return out;
}

void DeploymentController::OnReplicaSetAdd(const client::ObjectPtr& rs) {
  if (api::IsBeingDeleted(*rs)) {
    OnReplicaSetDelete(*rs);
    return;
  }
  if (auto ref = api::ControllerOf(*rs)) {
    if (auto d = ResolveDeployment(api::Namespace(*rs), *ref)) EnqueueDeployment(*d);
    return;
  }
  for (const auto& d : DeploymentsSelecting(*rs)) EnqueueDeployment(*d);
}

void DeploymentController::OnReplicaSetUpdate(const client::ObjectPtr& old_rs,
                                              const client::ObjectPtr& rs) {
  if (api::ResourceVersion(*old_rs) == api::ResourceVersion(*rs)) return;
  auto cur_ref = api::ControllerOf(*rs);
  auto old_ref = api::ControllerOf(*old_rs);
  bool ref_changed = cur_ref != old_ref;
  std::string_view ns = api::Namespace(*rs);
  if (ref_changed && old_ref) {
    if (auto d = ResolveDeployment(ns, *old_ref)) EnqueueDeployment(*d);
  }
  if (cur_ref) {
    if (auto d = ResolveDeployment(ns, *cur_ref)) EnqueueDeployment(*d);
    return;
  }
  const json::object* ol = api::Labels(*old_rs);
  const json::object* nl = api::Labels(*rs);
  bool labels_changed =
      (ol == nullptr ? json::object() : *ol) != (nl == nullptr ? json::object() : *nl);
  if (labels_changed || ref_changed) {
    for (const auto& d : DeploymentsSelecting(*rs)) EnqueueDeployment(*d);
  }
}

void DeploymentController::OnReplicaSetDelete(const json::object& rs) {
  auto ref = api::ControllerOf(rs);
  if (!ref) return;
  if (auto d = ResolveDeployment(api::Namespace(rs), *ref)) EnqueueDeployment(*d);
}

void DeploymentController::OnPodDelete(const json::object& pod) {
  // Recreate waits for the last old pod to go; its deletion is the signal.
  auto rs_ref = apps::ControllerOfKind(pod, "ReplicaSet");
  if (!rs_ref) return;
  client::ObjectPtr rs = rs_informer_.indexer().Get(api::Namespace(pod), rs_ref->name);
  if (!rs || api::Uid(*rs) != rs_ref->uid) return;
  auto d_ref = api::ControllerOf(*rs);
  if (!d_ref) return;
  client::ObjectPtr d = ResolveDeployment(api::Namespace(*rs), *d_ref);
  if (d && IsRecreate(*d)) EnqueueDeployment(*d);
}

asio::awaitable<Result<Requeue>> DeploymentController::Reconcile(std::string key) {
  client::ObjectPtr cached = d_informer_.indexer().Get(std::string_view(key));
  if (!cached) co_return Requeue{};  // deleted; the garbage collector removes its ReplicaSets
  Sync sync(*this, key, *cached);
  json::object& d = sync.d;
  std::string ns(api::Namespace(d));

  if (apps::SelectorIsEmptyObject(d)) {
    events_.Event(d, "Warning", "SelectingAll",
                  "This deployment is selecting all pods. A non-empty selector is required.");
    if (api::GetInt(d, "status.observedGeneration").value_or(0) < api::Generation(d)) {
      DStatus s = ReadStatus(d);
      s.observed_generation = api::Generation(d);
      MINI8S_CO_RETURN_IF_ERROR(co_await sync.WriteStatus(std::move(s)));
    }
    co_return Requeue{};
  }
  Result<api::LabelSelector> selector = apps::SpecSelector(d);
  if (!selector.has_value()) {
    co_return Status::Invalid("deployment " + key +
                              " has invalid label selector: " + selector.error().message());
  }

  // getReplicaSetsForDeployment: claim (adopt/release) the namespace's ReplicaSets.
  apps::ClaimSpec claim;
  claim.resource = resources::ReplicaSets();
  claim.owner = cached.get();
  claim.owner_api_version = "apps/v1";
  claim.owner_kind = "Deployment";
  claim.selector = *selector;
  claim.can_adopt =
      apps::RecheckDeletionTimestamp(ctx_.client, resources::Deployments(), ns,
                                     std::string(api::Name(d)), std::string(api::Uid(d)));
  std::vector<client::ObjectPtr> candidates =
      rs_informer_.indexer().ByIndex(client::kNamespaceIndex, ns);
  MINI8S_CO_ASSIGN_OR_RETURN(
      std::vector<client::ObjectPtr> owned,
      co_await apps::ClaimObjects(ctx_.client, std::move(claim), std::move(candidates)));
  for (const auto& rs : owned) sync.rs_list.push_back(std::make_shared<json::object>(*rs));

  // getPodMapForDeployment: pods by the uid of their (owned) ReplicaSet.
  // Read through the owner index: the pods each owned ReplicaSet controls, not every pod in
  // the namespace.
  for (const auto& rs : sync.rs_list) {
    std::string rs_uid(api::Uid(*rs));
    auto& pods = sync.pod_map[rs_uid];
    for (const auto& p : pod_informer_.indexer().ByIndex(client::kOwnerIndex, rs_uid)) {
      if (api::Namespace(*p) != ns || !selector->Matches(api::Labels(*p))) continue;
      auto ref = api::ControllerOf(*p);
      if (ref && ref->uid == rs_uid) pods.push_back(p);
    }
  }

  if (api::IsBeingDeleted(d)) {
    MINI8S_CO_ASSIGN_OR_RETURN(Sync::NewAndOld rss, co_await sync.AllReplicaSets(false));
    std::vector<RsPtr> all = rss.All();
    MINI8S_CO_RETURN_IF_ERROR(co_await sync.SyncDeploymentStatus(all, rss.new_rs));
    co_return Requeue{};
  }
  MINI8S_CO_RETURN_IF_ERROR(co_await sync.CheckPausedConditions());
  if (Paused(d)) {
    MINI8S_CO_RETURN_IF_ERROR(co_await sync.SyncOnly());
    co_return Requeue{};
  }
  MINI8S_CO_ASSIGN_OR_RETURN(bool scaling, co_await sync.IsScalingEvent());
  if (scaling) {
    MINI8S_CO_RETURN_IF_ERROR(co_await sync.SyncOnly());
    co_return Requeue{};
  }
  if (IsRecreate(d)) {
    MINI8S_CO_RETURN_IF_ERROR(co_await sync.RolloutRecreate());
  } else {
    MINI8S_CO_RETURN_IF_ERROR(co_await sync.RolloutRolling());
  }
  co_return Requeue{};
}

Status StartDeploymentController(ControllerContext& ctx) {
  WorkQueue& queue = ctx.NewQueue();
  auto controller = std::make_unique<DeploymentController>(ctx, queue);
  std::vector<const client::Informer*> synced{&controller->deployment_informer(),
                                              &controller->replicaset_informer(),
                                              &controller->pod_informer()};
  ctx.Run(std::move(controller), queue, std::move(synced));
  return Status();
}

}  // namespace mini8s::controllers
