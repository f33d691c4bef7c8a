#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "controllers/batch/batch_util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/job.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace batch_internal;  // NOLINT: module-private helpers

namespace batch {

std::set<int64_t> ParseIndexRanges(std::string_view text, int64_t completions) {
  std::set<int64_t> out;
  auto parse = [](std::string_view s, int64_t& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size() && v >= 0;
  };
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t dash = part.find('-');
    int64_t first = 0, last = 0;
    if (dash == std::string_view::npos) {
      if (!parse(part, first)) continue;
      last = first;
    } else if (!parse(part.substr(0, dash), first) || !parse(part.substr(dash + 1), last) ||
               first > last) {
      continue;
    }
    for (int64_t i = first; i <= last && i < completions; ++i) out.insert(i);
  }
  return out;
}

std::string FormatIndexRanges(const std::set<int64_t>& indexes) {
  std::string out;
  auto it = indexes.begin();
  while (it != indexes.end()) {
    int64_t first = *it, last = *it;
    ++it;
    while (it != indexes.end() && *it == last + 1) last = *it++;
    if (!out.empty()) out += ',';
    out += std::to_string(first);
    if (last != first) out += "-" + std::to_string(last);
  }
  return out;
}

const json::object* FinishedCondition(const json::object& job) {
  const json::object* status = api::GetObject(job, "status");
  if (status == nullptr) return nullptr;
  for (std::string_view type : {"Complete", "Failed"}) {
    const json::object* c = FindCondition(*status, type);
    if (c != nullptr && api::GetString(*c, "status") == "True") return c;
  }
  return nullptr;
}

}  // namespace batch

// Pod creations not yet seen by the informer (a count, since names are generated), deletions not
// yet seen (uids), and finalizer removals not yet seen (uids). Until the informer catches up the
// cache would make a second reconcile create or count the same pods again.
struct JobController::Expectations {
  int pending_creates = 0;
  std::set<std::string> pending_deletes;
  std::set<std::string> finalizers_removed;
  std::chrono::steady_clock::time_point since{};
};

namespace {

constexpr std::string_view kBackoffMessage = "Job has reached the specified backoff limit";
constexpr std::string_view kDeadlineMessage = "Job was active longer than specified deadline";
constexpr std::string_view kCompletionsMessage = "Reached expected number of succeeded pods";

std::string_view Phase(const json::object& pod) { return api::GetString(pod, "status.phase"); }

bool IsReady(const json::object& pod) {
  const json::object* st = api::GetObject(pod, "status");
  return st != nullptr && ConditionTrue(*st, "Ready");
}

std::optional<int64_t> PodIndex(const json::object& pod, int64_t completions) {
  std::optional<std::string_view> v = api::Annotation(pod, batch::kJobCompletionIndex);
  if (!v) v = api::Label(pod, batch::kJobCompletionIndex);
  if (!v) return std::nullopt;
  int64_t idx = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), idx);
  if (ec != std::errc() || p != v->data() + v->size() || idx < 0 || idx >= completions) {
    return std::nullopt;
  }
  return idx;
}

// All container statuses (init and regular) of a pod.
std::vector<const json::object*> ContainerStatuses(const json::object& pod) {
  std::vector<const json::object*> out;
  for (std::string_view field : {"status.initContainerStatuses", "status.containerStatuses"}) {
    const json::array* arr = api::GetArray(pod, field);
    if (arr == nullptr) continue;
    for (const json::value& v : *arr) {
      if (v.is_object()) out.push_back(&v.as_object());
    }
  }
  return out;
}

// When a finished pod finished: the latest container termination, else its deletion, else now.
std::chrono::system_clock::time_point FinishTime(const json::object& pod,
                                                 std::chrono::system_clock::time_point now) {
  std::optional<std::chrono::system_clock::time_point> best;
  for (const json::object* cs : ContainerStatuses(pod)) {
    auto t = TimeField(*cs, "state.terminated.finishedAt");
    if (t && (!best || *t > *best)) best = t;
  }
  if (!best) best = TimeField(pod, "metadata.deletionTimestamp");
  return best.value_or(now);
}

int64_t ActiveRestarts(const std::vector<client::ObjectPtr>& pods) {
  int64_t n = 0;
  for (const auto& p : pods) {
    std::string_view phase = Phase(*p);
    if (phase != "Running" && phase != "Pending") continue;
    for (const json::object* cs : ContainerStatuses(*p)) {
      n += api::GetInt(*cs, "restartCount").value_or(0);
    }
  }
  return n;
}

enum class PolicyAction { kNone, kFailJob, kIgnore, kCount };

// The first podFailurePolicy rule matching a failed pod (onExitCodes or onPodConditions).
PolicyAction MatchPodFailurePolicy(const json::object& spec, const json::object& pod,
                                   std::string& message) {
  const json::array* rules = api::GetArray(spec, "podFailurePolicy.rules");
  if (rules == nullptr) return PolicyAction::kNone;
  std::string pod_ref = std::string(api::Namespace(pod)) + "/" + std::string(api::Name(pod));
  for (size_t i = 0; i < rules->size(); ++i) {
    if (!(*rules)[i].is_object()) continue;
    const json::object& rule = (*rules)[i].as_object();
    std::string_view action_name = api::GetString(rule, "action");
    PolicyAction action = action_name == "FailJob"  ? PolicyAction::kFailJob
                          : action_name == "Ignore" ? PolicyAction::kIgnore
                          : action_name == "Count"  ? PolicyAction::kCount
                                                    : PolicyAction::kNone;
    if (action == PolicyAction::kNone) continue;  // FailIndex needs backoffLimitPerIndex
    if (const json::object* codes = api::GetObject(rule, "onExitCodes")) {
      std::string_view container = api::GetString(*codes, "containerName");
      bool in = api::GetString(*codes, "operator") != "NotIn";
      const json::array* values = api::GetArray(*codes, "values");
      for (const json::object* cs : ContainerStatuses(pod)) {
        if (!container.empty() && api::GetString(*cs, "name") != container) continue;
        std::optional<int64_t> code = api::GetInt(*cs, "state.terminated.exitCode");
        if (!code || *code == 0) continue;
        bool listed = false;
        if (values != nullptr) {
          for (const json::value& v : *values)
            listed = listed || (v.is_int64() && v.as_int64() == *code);
        }
        if (listed == in) {
          message = "Container " + std::string(api::GetString(*cs, "name")) + " for pod " +
                    pod_ref + " failed with exit code " + std::to_string(*code) + " matching " +
                    std::string(action_name) + " rule at index " + std::to_string(i);
          return action;
        }
      }
    }
    if (const json::array* conds = api::GetArray(rule, "onPodConditions")) {
      const json::object* st = api::GetObject(pod, "status");
      for (const json::value& want : *conds) {
        if (!want.is_object() || st == nullptr) continue;
        std::string_view type = api::GetString(want.as_object(), "type");
        std::string_view cstatus = api::GetString(want.as_object(), "status");
        const json::object* have = FindCondition(*st, type);
        if (have != nullptr &&
            api::GetString(*have, "status") == (cstatus.empty() ? "True" : cstatus)) {
          message = "Pod " + pod_ref + " has condition " + std::string(type) + " matching " +
                    std::string(action_name) + " rule at index " + std::to_string(i);
          return action;
        }
      }
    }
  }
  return PolicyAction::kNone;
}

std::vector<std::string> StringList(const json::object& obj, std::string_view path) {
  std::vector<std::string> out;
  if (const json::array* arr = api::GetArray(obj, path)) {
    for (const json::value& v : *arr) {
      if (v.is_string()) out.emplace_back(v.as_string());
    }
  }
  return out;
}

json::array ToArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

void SetCount(json::object& status, std::string_view field, int64_t n) {
  if (n > 0) {
    status[field] = n;
  } else {
    status.erase(field);
  }
}

void SetUncounted(json::object& status, const std::vector<std::string>& succeeded,
                  const std::vector<std::string>& failed) {
  json::object u;
  if (!succeeded.empty()) u["succeeded"] = ToArray(succeeded);
  if (!failed.empty()) u["failed"] = ToArray(failed);
  status["uncountedTerminatedPods"] = std::move(u);
}

json::object MakePod(const json::object& job, std::optional<int64_t> index) {
  const std::string job_name(api::Name(job));
  const std::string uid(api::Uid(job));
  json::object tmpl = ObjectField(ObjectField(job, "spec"), "template");
  json::object tmeta = ObjectField(tmpl, "metadata");
  json::object pod;
  pod["apiVersion"] = "v1";
  pod["kind"] = "Pod";
  json::object meta;
  meta["namespace"] = api::Namespace(job);
  meta["generateName"] = index ? job_name + "-" + std::to_string(*index) + "-" : job_name + "-";
  json::object labels = ObjectField(tmeta, "labels");
  for (auto [k, v] : {std::pair{batch::kControllerUidLabel, std::string_view(uid)},
                      std::pair{batch::kJobNameLabel, std::string_view(job_name)},
                      std::pair{batch::kLegacyControllerUidLabel, std::string_view(uid)},
                      std::pair{batch::kLegacyJobNameLabel, std::string_view(job_name)}}) {
    if (!labels.contains(k)) labels[k] = v;
  }
  json::object annotations = ObjectField(tmeta, "annotations");
  if (index) {
    labels[batch::kJobCompletionIndex] = std::to_string(*index);
    annotations[batch::kJobCompletionIndex] = std::to_string(*index);
  }
  meta["labels"] = std::move(labels);
  if (!annotations.empty()) meta["annotations"] = std::move(annotations);
  meta["finalizers"] = json::array{json::value(batch::kJobTrackingFinalizer)};
  api::OwnerReference ref{"batch/v1", "Job", job_name, uid, true, true};
  meta["ownerReferences"] = json::array{ref.ToJson()};
  pod["metadata"] = std::move(meta);
  json::object spec = ObjectField(tmpl, "spec");
  if (index) {
    if (api::GetString(spec, "hostname").empty()) {
      spec["hostname"] = job_name + "-" + std::to_string(*index);
    }
    for (std::string_view list : {"initContainers", "containers"}) {
      auto it = spec.find(list);
      if (it == spec.end() || !it->value().is_array()) continue;
      for (json::value& c : it->value().as_array()) {
        if (!c.is_object()) continue;
        json::value& env = c.as_object()["env"];
        if (!env.is_array()) env = json::array();
        bool present = false;
        for (const json::value& e : env.as_array()) {
          present = present || (e.is_object() &&
                                api::GetString(e.as_object(), "name") == "JOB_COMPLETION_INDEX");
        }
        if (present) continue;
        json::object var;
        var["name"] = "JOB_COMPLETION_INDEX";
        var["valueFrom"] = json::object{
            {"fieldRef",
             json::object{{"fieldPath", "metadata.annotations['" +
                                            std::string(batch::kJobCompletionIndex) + "']"}}}};
        env.as_array().push_back(std::move(var));
      }
    }
  }
  pod["spec"] = std::move(spec);
  return pod;
}

// Deletion order for excess pods: unscheduled, then pending, then not ready, then newest.
void SortForRemoval(std::vector<client::ObjectPtr>& pods) {
  auto rank = [](const json::object& p) {
    if (api::GetString(p, "spec.nodeName").empty()) return 0;
    if (Phase(p) == "Pending") return 1;
    if (!IsReady(p)) return 2;
    return 3;
  };
  std::stable_sort(pods.begin(), pods.end(), [&](const auto& a, const auto& b) {
    int ra = rank(*a), rb = rank(*b);
    if (ra != rb) return ra < rb;
    return api::CreationTimestamp(*a) > api::CreationTimestamp(*b);
  });
}

}  // namespace

JobController::JobController(client::Client& client, client::Informer& jobs, client::Informer& pods,
                             WorkQueue& queue, const Clock& clock, EventSink events,
                             JobControllerOptions options)
    : client_(client),
      jobs_(jobs),
      pods_(pods),
      queue_(queue),
      clock_(clock),
      events_(std::move(events)),
      options_(options) {
  pods_.AddIndex(std::string(client::kOwnerIndex), client::IndexByOwnerUid);
  pods_.AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  jobs_.AddEventHandlers(EnqueueHandlers(queue_));
  client::EventHandlers h;
  h.on_add = [this](const client::ObjectPtr& pod) { ObservePod(*pod, PodEvent::kAdd); };
  h.on_update = [this](const client::ObjectPtr& old_pod, const client::ObjectPtr& pod) {
    auto old_owner = api::ControllerOf(*old_pod);
    auto owner = api::ControllerOf(*pod);
    if (old_owner && (!owner || owner->uid != old_owner->uid))
      ObservePod(*old_pod, PodEvent::kDelete);
    ObservePod(*pod, PodEvent::kUpdate);
  };
  h.on_delete = [this](const client::DeletedObject& del) {
    if (del.object) ObservePod(*del.object, PodEvent::kDelete);
  };
  pods_.AddEventHandlers(std::move(h));
}

JobController::~JobController() = default;

void JobController::ObservePod(const json::object& pod, PodEvent event) {
  auto owner = api::ControllerOf(pod);
  if (!owner || owner->kind != "Job") return;
  std::string key = std::string(api::Namespace(pod)) + "/" + owner->name;
  auto it = expectations_.find(key);
  if (it != expectations_.end()) {
    Expectations& e = *it->second;
    std::string uid(api::Uid(pod));
    if (event == PodEvent::kAdd && e.pending_creates > 0) --e.pending_creates;
    if (event == PodEvent::kDelete || api::IsBeingDeleted(pod)) e.pending_deletes.erase(uid);
    if (event == PodEvent::kDelete || !api::HasFinalizer(pod, batch::kJobTrackingFinalizer)) {
      e.finalizers_removed.erase(uid);
    }
  }
  queue_.Add(key);
}

// Pods whose Job is gone (deleted with background propagation while they ran) would keep the
// tracking finalizer forever; release them once the API confirms the Job no longer exists.
boost::asio::awaitable<Status> JobController::ReleaseOrphans(std::string key) {
  const auto parts = client::SplitObjectKey(key);
  const std::string ns = parts.first;
  const std::string job_name = parts.second;
  std::vector<client::ObjectPtr> orphans;
  for (const auto& p : pods_.indexer().ByIndex(client::kNamespaceIndex, ns)) {
    auto owner = api::ControllerOf(*p);
    if (owner && owner->kind == "Job" && owner->name == job_name &&
        api::HasFinalizer(*p, batch::kJobTrackingFinalizer)) {
      orphans.push_back(p);
    }
  }
  if (orphans.empty()) co_return Status::OK();
  const client::Resource jobs_res = JobsResource();
  const client::Resource pods_res = PodsResource();
  auto live = co_await client_.Get(jobs_res, ns, job_name);
  if (!live.has_value() && live.error().code() != Code::kNotFound) co_return live.error();
  for (const auto& p : orphans) {
    if (live.has_value() && api::Uid(*live) == api::ControllerOf(*p)->uid) continue;
    json::object copy = *p;
    api::RemoveFinalizer(copy, batch::kJobTrackingFinalizer);
    auto r = co_await client_.Update(pods_res, std::move(copy));
    if (!r.has_value() && r.error().code() != Code::kNotFound) co_return r.error();
  }
  co_return Status::OK();
}

boost::asio::awaitable<Result<Requeue>> JobController::Reconcile(std::string key) {
  client::ObjectPtr job = jobs_.indexer().Get(std::string_view(key));
  if (!job) {
    expectations_.erase(key);
    backoff_.erase(key);
    Status st = co_await ReleaseOrphans(key);
    if (!st.ok()) co_return st;
    co_return Requeue{};
  }
  Result<Requeue> r = co_await Sync(key, job);
  co_return r;
}

JobController::Expectations& JobController::ExpectationsFor(const std::string& key) {
  auto& e = expectations_[key];
  if (!e) e = std::make_unique<Expectations>();
  return *e;
}

boost::asio::awaitable<Result<Requeue>> JobController::Sync(std::string key,
                                                            client::ObjectPtr job_ptr) {
  const json::object& job = *job_ptr;
  const auto now = clock_.Now();
  const client::Resource pods_res = PodsResource();
  const client::Resource jobs_res = JobsResource();
  const std::string ns(api::Namespace(job));
  const std::string uid(api::Uid(job));
  const json::object spec = ObjectField(job, "spec");
  json::object status = ObjectField(job, "status");
  Expectations& exp = ExpectationsFor(key);

  std::vector<client::ObjectPtr> pods;
  for (const auto& p : pods_.indexer().ByIndex(client::kOwnerIndex, uid)) {
    auto owner = api::ControllerOf(*p);
    if (owner && owner->uid == uid) pods.push_back(p);
  }
  auto has_tracking_finalizer = [&](const json::object& p) {
    return api::HasFinalizer(p, batch::kJobTrackingFinalizer) &&
           !exp.finalizers_removed.count(std::string(api::Uid(p)));
  };
  // Removes the tracking finalizer (NotFound: the pod is gone, which is as good).
  auto remove_finalizer = [&](client::ObjectPtr p) -> asio::awaitable<Status> {
    json::object copy = *p;
    api::RemoveFinalizer(copy, batch::kJobTrackingFinalizer);
    std::string puid(api::Uid(copy));
    auto r = co_await client_.Update(pods_res, std::move(copy));
    if (!r.has_value() && r.error().code() != Code::kNotFound) co_return r.error();
    exp.finalizers_removed.insert(puid);
    co_return Status::OK();
  };

  // A finished or deleted Job only releases its pods.
  if (batch::FinishedCondition(job) != nullptr || api::IsBeingDeleted(job)) {
    for (const auto& p : pods) {
      if (!has_tracking_finalizer(*p)) continue;
      Status st = co_await remove_finalizer(p);
      if (!st.ok()) co_return st;
    }
    co_return Requeue{};
  }

  const bool indexed = api::GetString(spec, "completionMode") == "Indexed" &&
                       api::GetInt(spec, "completions").has_value();
  const std::optional<int64_t> completions = api::GetInt(spec, "completions");
  const int64_t parallelism = std::max<int64_t>(0, api::GetInt(spec, "parallelism").value_or(1));
  const int64_t backoff_limit = api::GetInt(spec, "backoffLimit").value_or(6);
  const bool suspended = api::GetBool(spec, "suspend").value_or(false);
  const bool has_failure_policy = api::GetObject(spec, "podFailurePolicy") != nullptr;

  std::vector<std::string> uncounted_succeeded =
      StringList(status, "uncountedTerminatedPods.succeeded");
  std::vector<std::string> uncounted_failed = StringList(status, "uncountedTerminatedPods.failed");
  auto in_list = [](const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  std::set<int64_t> completed_indexes;
  if (indexed) {
    completed_indexes =
        batch::ParseIndexRanges(api::GetString(status, "completedIndexes"), *completions);
  }

  // ---- classify pods ----------------------------------------------------------------------------
  std::vector<client::ObjectPtr> active, terminating, new_succeeded, new_failed, release_only;
  std::string failjob_message;
  for (const auto& p : pods) {
    const std::string puid(api::Uid(*p));
    const std::string_view phase = Phase(*p);
    const bool deleting = api::IsBeingDeleted(*p);
    const bool succeeded = phase == "Succeeded";
    // Without a podFailurePolicy a pod being deleted counts as failed at once (upstream); with
    // one, only its terminal phase decides, so the policy can read exit codes.
    const bool failed = phase == "Failed" || (deleting && !succeeded && !has_failure_policy);
    if (deleting && !succeeded && phase != "Failed") terminating.push_back(p);
    if (!succeeded && !failed) {
      if (!deleting && !exp.pending_deletes.count(puid)) active.push_back(p);
      continue;
    }
    if (!has_tracking_finalizer(*p) || in_list(uncounted_succeeded, puid) ||
        in_list(uncounted_failed, puid)) {
      continue;  // counted already, or being counted
    }
    if (succeeded) {
      if (indexed) {
        auto idx = PodIndex(*p, *completions);
        if (!idx || completed_indexes.count(*idx)) {
          release_only.push_back(p);
          continue;
        }
        completed_indexes.insert(*idx);
      }
      new_succeeded.push_back(p);
      continue;
    }
    if (has_failure_policy) {
      std::string message;
      PolicyAction action = MatchPodFailurePolicy(spec, *p, message);
      if (action == PolicyAction::kIgnore) {
        release_only.push_back(p);
        continue;
      }
      if (action == PolicyAction::kFailJob && failjob_message.empty()) failjob_message = message;
    }
    new_failed.push_back(p);
  }

  const int64_t eff_succeeded =
      indexed ? static_cast<int64_t>(completed_indexes.size())
              : api::GetInt(status, "succeeded").value_or(0) +
                    static_cast<int64_t>(uncounted_succeeded.size() + new_succeeded.size());
  const int64_t eff_failed = api::GetInt(status, "failed").value_or(0) +
                             static_cast<int64_t>(uncounted_failed.size() + new_failed.size());

  // The backoff record as it will be once this round's finished pods are recorded.
  Backoff backoff = backoff_[key];
  {
    std::optional<std::chrono::system_clock::time_point> last_success;
    for (const auto& p : new_succeeded) {
      auto t = FinishTime(*p, now);
      if (!last_success || t > *last_success) last_success = t;
    }
    if (last_success) backoff.failures_after_last_success = 0;
    for (const auto& p : new_failed) {
      auto t = FinishTime(*p, now);
      if (last_success && t < *last_success) continue;
      ++backoff.failures_after_last_success;
      backoff.last_failure = std::max(backoff.last_failure, t);
    }
  }
  auto backoff_remaining = [&]() -> std::chrono::nanoseconds {
    if (backoff.failures_after_last_success == 0) return std::chrono::nanoseconds(0);
    std::chrono::nanoseconds delay = options_.initial_backoff;
    for (int i = 1; i < backoff.failures_after_last_success && delay < options_.max_backoff; ++i) {
      delay *= 2;
    }
    delay = std::min<std::chrono::nanoseconds>(delay, options_.max_backoff);
    auto elapsed = now - backoff.last_failure;
    return elapsed >= delay ? std::chrono::nanoseconds(0) : delay - elapsed;
  };

  // ---- the interim condition --------------------------------------------------------------------
  std::string target_type, target_reason, target_message;
  for (std::string_view type : {"FailureTarget", "SuccessCriteriaMet"}) {
    const json::object* c = FindCondition(status, type);
    if (c != nullptr && api::GetString(*c, "status") == "True" && target_type.empty()) {
      target_type = type;
      target_reason = api::GetString(*c, "reason");
      target_message = api::GetString(*c, "message");
    }
  }
  bool new_target = false;
  std::optional<std::chrono::nanoseconds> requeue_after;
  auto requeue_in = [&](std::chrono::nanoseconds d) {
    if (!requeue_after || d < *requeue_after) requeue_after = d;
  };
  // startTime as it will be written (set when the Job first runs or resumes).
  std::optional<std::chrono::system_clock::time_point> start_time = TimeField(status, "startTime");
  const bool resuming = !suspended && ConditionTrue(status, "Suspended");
  if (!suspended && (!start_time || resuming)) start_time = now;

  if (target_type.empty()) {
    int64_t restarts = 0;
    bool on_failure = api::GetString(spec, "template.spec.restartPolicy") == "OnFailure";
    if (on_failure) restarts = ActiveRestarts(pods);
    bool restarts_exceeded =
        on_failure && (backoff_limit == 0 ? restarts > 0 : restarts >= backoff_limit);
    std::optional<int64_t> deadline = api::GetInt(spec, "activeDeadlineSeconds");
    if (!failjob_message.empty()) {
      target_type = "FailureTarget";
      target_reason = "PodFailurePolicy";
      target_message = failjob_message;
    } else if (eff_failed > backoff_limit || restarts_exceeded) {
      target_type = "FailureTarget";
      target_reason = "BackoffLimitExceeded";
      target_message = kBackoffMessage;
    } else if (deadline && !suspended && start_time) {
      auto end = *start_time + std::chrono::seconds(*deadline);
      if (now >= end) {
        target_type = "FailureTarget";
        target_reason = "DeadlineExceeded";
        target_message = kDeadlineMessage;
      } else {
        requeue_in(end - now);
      }
    }
    new_target = !target_type.empty();
  }

  // ---- what to do with the active pods ----------------------------------------------------------
  std::vector<client::ObjectPtr> delete_counted, delete_uncounted;
  std::vector<std::optional<int64_t>> creates;
  const bool satisfied = (exp.pending_creates == 0 && exp.pending_deletes.empty()) ||
                         clock_.Monotonic() - exp.since > options_.expectations_timeout;
  if (target_type == "FailureTarget") {
    // Every pod still running fails with the Job (counted unless it already was: a retry after a
    // failed delete finds it without the finalizer or in the uncounted list).
    for (const auto& p : active) {
      std::string_view puid = api::Uid(*p);
      if (has_tracking_finalizer(*p) && !in_list(uncounted_failed, puid) &&
          !in_list(uncounted_succeeded, puid)) {
        new_failed.push_back(p);
      }
      delete_counted.push_back(p);
    }
    active.clear();
  } else if (target_type == "SuccessCriteriaMet" || suspended) {
    delete_uncounted = active;
    active.clear();
  } else if (satisfied) {
    if (indexed) {
      std::map<int64_t, client::ObjectPtr> by_index;
      for (const auto& p : active) {
        auto idx = PodIndex(*p, *completions);
        if (!idx || completed_indexes.count(*idx) || by_index.count(*idx)) {
          delete_uncounted.push_back(p);  // invalid, duplicate or already completed index
        } else {
          by_index[*idx] = p;
        }
      }
      int64_t want = std::min<int64_t>(
          parallelism, *completions - static_cast<int64_t>(completed_indexes.size()));
      want = std::max<int64_t>(want, 0);
      while (static_cast<int64_t>(by_index.size()) > want) {
        delete_uncounted.push_back(std::prev(by_index.end())->second);
        by_index.erase(std::prev(by_index.end()));
      }
      if (static_cast<int64_t>(by_index.size()) < want) {
        auto wait = backoff_remaining();
        if (wait.count() > 0) {
          requeue_in(wait);
        } else {
          for (int64_t i = 0;
               i < *completions && static_cast<int64_t>(by_index.size() + creates.size()) < want;
               ++i) {
            if (!completed_indexes.count(i) && !by_index.count(i)) creates.emplace_back(i);
          }
        }
      }
      active.clear();
      for (auto& [idx, p] : by_index) active.push_back(p);
    } else {
      const auto n = static_cast<int64_t>(active.size());
      int64_t want = 0;
      if (!completions) {
        want = eff_succeeded > 0 ? n : parallelism;
      } else {
        want = std::max<int64_t>(0, std::min(parallelism, *completions - eff_succeeded));
      }
      if (n > want) {
        SortForRemoval(active);
        delete_uncounted.assign(active.begin(), active.begin() + (n - want));
        active.erase(active.begin(), active.begin() + (n - want));
      } else if (n < want) {
        auto wait = backoff_remaining();
        if (wait.count() > 0) {
          requeue_in(wait);
        } else {
          for (int64_t i = n; i < want; ++i) creates.emplace_back(std::nullopt);
        }
      }
    }
  }
  const int64_t active_after = static_cast<int64_t>(active.size() + creates.size());

  if (target_type.empty() && !suspended) {
    bool complete = completions ? (eff_succeeded >= *completions && active_after == 0)
                                : (eff_succeeded > 0 && active_after == 0);
    if (complete) {
      target_type = "SuccessCriteriaMet";
      target_reason = "CompletionsReached";
      target_message = kCompletionsMessage;
      new_target = true;
    }
  }

  // ---- 1: record finished pods (and the interim condition) before touching them -----------------
  json::object latest = job;
  if (!new_succeeded.empty() || !new_failed.empty() || new_target) {
    for (const auto& p : new_succeeded) uncounted_succeeded.emplace_back(api::Uid(*p));
    for (const auto& p : new_failed) uncounted_failed.emplace_back(api::Uid(*p));
    SetUncounted(status, uncounted_succeeded, uncounted_failed);
    if (indexed) status["completedIndexes"] = batch::FormatIndexRanges(completed_indexes);
    if (new_target) {
      SetCondition(status, target_type, "True", target_reason, target_message, now);
    }
    latest["status"] = status;
    auto r = co_await client_.UpdateStatus(jobs_res, latest);
    if (!r.has_value()) co_return r.error();
    latest = std::move(*r);
    backoff_[key] = backoff;
  }

  // ---- 2: release finalizers, delete, create
  // ------------------------------------------------------
  std::vector<client::ObjectPtr> release = new_succeeded;
  release.insert(release.end(), new_failed.begin(), new_failed.end());
  release.insert(release.end(), release_only.begin(), release_only.end());
  release.insert(release.end(), delete_uncounted.begin(), delete_uncounted.end());
  for (const auto& p : pods) {
    std::string_view puid = api::Uid(*p);
    if ((in_list(uncounted_succeeded, puid) || in_list(uncounted_failed, puid)) &&
        std::find(release.begin(), release.end(), p) == release.end()) {
      release.push_back(p);
    }
  }
  for (const auto& p : release) {
    if (!has_tracking_finalizer(*p)) continue;
    Status st = co_await remove_finalizer(p);
    if (!st.ok()) co_return st;
  }
  int deleted = 0;
  std::vector<client::ObjectPtr> to_delete = delete_counted;
  to_delete.insert(to_delete.end(), delete_uncounted.begin(), delete_uncounted.end());
  for (const auto& p : to_delete) {
    std::string pname(api::Name(*p));
    std::string puid(api::Uid(*p));
    exp.pending_deletes.insert(puid);
    exp.since = clock_.Monotonic();
    auto r = co_await client_.Delete(pods_res, ns, pname);
    if (!r.has_value() && r.error().code() != Code::kNotFound) {
      exp.pending_deletes.erase(puid);
      co_return r.error();
    }
    if (!r.has_value()) exp.pending_deletes.erase(puid);
    ++deleted;
    events_(job, "Normal", "SuccessfulDelete", "Deleted pod: " + pname);
  }
  Status create_error;
  int64_t created = 0;
  for (const auto& index : creates) {
    json::object pod = MakePod(job, index);
    ++exp.pending_creates;
    exp.since = clock_.Monotonic();
    auto r = co_await client_.Create(pods_res, std::move(pod));
    if (!r.has_value()) {
      --exp.pending_creates;
      create_error = r.error();
      events_(job, "Warning", "FailedCreate", "Error creating: " + r.error().message());
      break;
    }
    ++created;
    events_(job, "Normal", "SuccessfulCreate", "Created pod: " + std::string(api::Name(*r)));
  }

  // ---- 3: count released pods and write the rest of the status
  // ------------------------------------
  status = ObjectField(latest, "status");
  const json::object before = status;
  auto counted = [&](std::string_view puid) {
    for (const auto& p : pods) {
      if (api::Uid(*p) == puid) return !has_tracking_finalizer(*p);
    }
    return true;  // the pod is gone
  };
  int64_t succeeded = api::GetInt(status, "succeeded").value_or(0);
  int64_t failed = api::GetInt(status, "failed").value_or(0);
  std::vector<std::string> still_succeeded, still_failed;
  for (const auto& u : uncounted_succeeded) {
    if (counted(u)) {
      ++succeeded;
    } else {
      still_succeeded.push_back(u);
    }
  }
  for (const auto& u : uncounted_failed) {
    if (counted(u)) {
      ++failed;
    } else {
      still_failed.push_back(u);
    }
  }
  if (indexed)
    succeeded = static_cast<int64_t>(completed_indexes.size()) -
                static_cast<int64_t>(still_succeeded.size());
  SetCount(status, "succeeded", succeeded);
  SetCount(status, "failed", failed);
  SetUncounted(status, still_succeeded, still_failed);
  if (indexed) status["completedIndexes"] = batch::FormatIndexRanges(completed_indexes);
  if (indexed && completed_indexes.empty()) status.erase("completedIndexes");
  const int64_t active_now = static_cast<int64_t>(active.size()) + created;
  SetCount(status, "active", active_now);
  int64_t ready = 0;
  for (const auto& p : active) ready += IsReady(*p) ? 1 : 0;
  status["ready"] = ready;
  status["terminating"] = static_cast<int64_t>(terminating.size());
  if (start_time && (resuming || !status.contains("startTime"))) {
    status["startTime"] = FormatRfc3339(*start_time);
  }
  if (suspended) {
    if (SetCondition(status, "Suspended", "True", "JobSuspended", "Job suspended", now)) {
      events_(job, "Normal", "Suspended", "Job suspended");
    }
  } else if (SetCondition(status, "Suspended", "False", "JobResumed", "Job resumed", now,
                          /*add_if_missing=*/false)) {
    events_(job, "Normal", "Resumed", "Job resumed");
  }
  // The final condition waits until no pod of the Job is still running or terminating.
  if (!target_type.empty() && active_now == 0 && terminating.empty() && deleted == 0 &&
      still_succeeded.empty() && still_failed.empty()) {
    if (target_type == "SuccessCriteriaMet") {
      if (SetCondition(status, "Complete", "True", target_reason, target_message, now)) {
        status["completionTime"] = FormatRfc3339(now);
        events_(job, "Normal", "Completed", "Job completed");
      }
    } else if (SetCondition(status, "Failed", "True", target_reason, target_message, now)) {
      events_(job, "Warning", target_reason, target_message);
    }
  }
  if (status != before) {
    latest["status"] = status;
    auto r = co_await client_.UpdateStatus(jobs_res, latest);
    if (!r.has_value()) co_return r.error();
  }
  if (!create_error.ok()) co_return create_error;
  if (requeue_after) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(*requeue_after);
    co_return Requeue{true, std::max(ms, std::chrono::milliseconds(1))};
  }
  co_return Requeue{};
}

}  // namespace mini8s::controllers
