#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "controllers/batch/batch_util.h"
#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/cronjob.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace batch_internal;  // NOLINT: module-private helpers
using TimePoint = std::chrono::system_clock::time_point;

namespace {

constexpr int kTooManyMissed = 100;

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// "Mon, 02 Jan 2006 15:04:05 +0000" (Go's RFC1123Z, in UTC as upstream prints it).
std::string FormatRfc1123Z(TimePoint t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  CivilTime c = UnixToCivil(UnixSeconds(t));
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[c.weekday()],
                c.day, kMonths[c.month - 1], c.year, c.hour, c.minute, c.second);
  return buf;
}

struct MostRecent {
  std::optional<TimePoint> time;  // the latest schedule time in (earliest, now]
  int missed = 0;                 // how many such times (capped at kTooManyMissed + 1)
};

// Every schedule time after `earliest` up to `now`: the latest and how many. Counting stops past
// kTooManyMissed; the latest is then found by scanning growing windows that end at `now`, so a
// CronJob whose controller was down for years costs a few Next calls, not one per missed minute.
MostRecent FindMostRecent(const CronSchedule& sched, const TimeZone& zone, DstRepeat repeat,
                          TimePoint earliest, TimePoint now) {
  MostRecent out;
  std::optional<TimePoint> t = sched.Next(earliest, zone, repeat);
  while (t && *t <= now && out.missed <= kTooManyMissed) {
    out.time = t;
    ++out.missed;
    t = sched.Next(*t, zone, repeat);
  }
  if (out.missed <= kTooManyMissed) return out;
  using std::chrono::hours;
  for (auto window : {hours(1), hours(24), hours(24 * 32), hours(24 * 366), hours(24 * 366 * 6)}) {
    TimePoint from = std::max(earliest, now - window);
    std::optional<TimePoint> last;
    for (auto s = sched.Next(from, zone, repeat); s && *s <= now;
         s = sched.Next(*s, zone, repeat)) {
      last = s;
    }
    if (last) {
      out.time = last;
      break;
    }
  }
  return out;
}

bool IsControlledBy(const json::object& obj, std::string_view uid) {
  auto owner = api::ControllerOf(obj);
  return owner && owner->uid == uid;
}

json::object JobRef(const json::object& job) {
  json::object ref;
  ref["kind"] = "Job";
  ref["namespace"] = api::Namespace(job);
  ref["name"] = api::Name(job);
  ref["uid"] = api::Uid(job);
  ref["apiVersion"] = "batch/v1";
  ref["resourceVersion"] = api::ResourceVersion(job);
  return ref;
}

}  // namespace

CronJobController::CronJobController(client::Client& client, client::Informer& cronjobs,
                                     client::Informer& jobs, WorkQueue& queue, const Clock& clock,
                                     EventSink events, CronJobControllerOptions options)
    : client_(client),
      cronjobs_(cronjobs),
      jobs_(jobs),
      clock_(clock),
      events_(std::move(events)),
      options_(std::move(options)) {
  jobs_.AddIndex(std::string(client::kOwnerIndex), client::IndexByOwnerUid);
  cronjobs_.AddEventHandlers(EnqueueHandlers(queue));
  jobs_.AddEventHandlers(EnqueueOwnerHandlers(queue, "CronJob"));
}

Result<const TimeZone*> CronJobController::Zone(std::string_view name) {
  auto it = zones_.find(name);
  if (it != zones_.end()) return &it->second;
  Result<TimeZone> tz = TimeZone::Load(name, options_.zoneinfo_dir);
  if (!tz.has_value()) return tz.error();
  auto [ins, ok] = zones_.emplace(std::string(name), std::move(*tz));
  (void)ok;
  return &ins->second;
}

asio::awaitable<Result<Requeue>> CronJobController::Reconcile(std::string key) {
  client::ObjectPtr cj_ptr = cronjobs_.indexer().Get(std::string_view(key));
  if (!cj_ptr) co_return Requeue{};
  const json::object& cj = *cj_ptr;
  const TimePoint now = clock_.Now();
  const client::Resource jobs_res = JobsResource();
  const client::Resource cronjobs_res = CronJobsResource();
  const std::string ns(api::Namespace(cj));
  const std::string cj_name(api::Name(cj));
  const std::string uid(api::Uid(cj));
  const json::object spec = ObjectField(cj, "spec");
  json::object status = ObjectField(cj, "status");
  const json::object before = status;

  std::vector<json::object> active;
  if (const json::array* arr = api::GetArray(status, "active")) {
    for (const json::value& v : *arr) {
      if (v.is_object()) active.push_back(v.as_object());
    }
  }
  auto active_index = [&](std::string_view job_uid, std::string_view job_name) -> int {
    for (size_t i = 0; i < active.size(); ++i) {
      if ((!job_uid.empty() && api::GetString(active[i], "uid") == job_uid) ||
          (job_uid.empty() && api::GetString(active[i], "name") == job_name)) {
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  auto set_time_if_later = [&](std::string_view field, TimePoint t) {
    auto cur = TimeField(status, field);
    if (!cur || *cur < t) status[field] = FormatRfc3339(t);
  };

  // ---- reconcile status.active with the Jobs this CronJob owns --------------------------------
  std::vector<client::ObjectPtr> jobs;
  for (const auto& j : jobs_.indexer().ByIndex(client::kOwnerIndex, uid)) {
    if (IsControlledBy(*j, uid)) jobs.push_back(j);
  }
  for (const auto& j : jobs) {
    int idx = active_index(api::Uid(*j), api::Name(*j));
    const json::object* finished = batch::FinishedCondition(*j);
    if (idx < 0 && finished == nullptr) {
      // A running Job we did not record (status write lost): track it again.
      active.push_back(JobRef(*j));
      std::optional<std::string_view> sched_ts =
          api::Annotation(*j, batch::kCronJobScheduledTimestamp);
      if (sched_ts) {
        auto t = ParseRfc3339(*sched_ts);
        if (t.has_value()) set_time_if_later("lastScheduleTime", *t);
      }
    } else if (idx >= 0 && finished != nullptr) {
      std::string_view type = api::GetString(*finished, "type");
      events_(
          cj, "Normal", "SawCompletedJob",
          "Saw completed job: " + std::string(api::Name(*j)) + ", status: " + std::string(type));
      active.erase(active.begin() + idx);
    }
    if (finished != nullptr && api::GetString(*finished, "type") == "Complete") {
      auto t = TimeField(*j, "status.completionTime");
      if (t) set_time_if_later("lastSuccessfulTime", *t);
    }
  }
  // Active references to Jobs the cache does not know: drop them once the API confirms.
  for (size_t i = 0; i < active.size();) {
    std::string ref_uid(api::GetString(active[i], "uid"));
    bool known = std::any_of(jobs.begin(), jobs.end(),
                             [&](const auto& j) { return api::Uid(*j) == ref_uid; });
    if (known) {
      ++i;
      continue;
    }
    std::string ref_ns(api::GetString(active[i], "namespace"));
    std::string ref_name(api::GetString(active[i], "name"));
    if (ref_ns.empty()) ref_ns = ns;
    auto got = co_await client_.Get(jobs_res, ref_ns, ref_name);
    if (!got.has_value() && got.error().code() != Code::kNotFound) co_return got.error();
    if (!got.has_value() || api::Uid(*got) != ref_uid) {
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }

  Status schedule_error;
  std::optional<TimePoint> next_run;
  if (!api::IsBeingDeleted(cj)) {
    // ---- the schedule ---------------------------------------------------------------------------
    std::string tz_name(api::GetString(spec, "timeZone"));
    Result<const TimeZone*> zone = Zone(tz_name);
    std::string schedule_text(api::GetString(spec, "schedule"));
    Result<CronSchedule> sched = CronSchedule::Parse(schedule_text);
    if (!zone.has_value()) {
      events_(cj, "Warning", "UnknownTimeZone",
              "invalid timeZone: \"" + tz_name + "\": " + zone.error().message());
    } else if (!sched.has_value()) {
      events_(cj, "Warning", "UnparseableSchedule",
              "unparseable schedule: \"" + schedule_text + "\" : " + sched.error().message());
    } else if (!api::GetBool(spec, "suspend").value_or(false)) {
      const TimeZone& tz = **zone;
      const DstRepeat repeat = options_.dst_repeat;
      std::optional<TimePoint> created = TimeField(cj, "metadata.creationTimestamp");
      TimePoint earliest = TimeField(status, "lastScheduleTime").value_or(created.value_or(now));
      std::optional<int64_t> deadline_s = api::GetInt(spec, "startingDeadlineSeconds");
      TimePoint window_start = earliest;
      if (deadline_s) window_start = std::max(earliest, now - std::chrono::seconds(*deadline_s));
      MostRecent recent = FindMostRecent(*sched, tz, repeat, window_start, now);
      next_run = sched->Next(std::max(now, earliest), tz, repeat);

      if (!recent.time) {
        // Nothing runnable. With a starting deadline, say so when a start time was missed.
        if (deadline_s && window_start > earliest) {
          MostRecent missed = FindMostRecent(*sched, tz, repeat, earliest, window_start);
          if (missed.time) {
            events_(cj, "Warning", "MissSchedule",
                    "Missed scheduled time to start a job: " + FormatRfc1123Z(*missed.time));
          }
        }
      } else {
        const TimePoint scheduled = *recent.time;
        if (recent.missed > kTooManyMissed) {
          events_(cj, "Warning", "TooManyMissedTimes",
                  "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                  "or check clock skew");
        }
        const std::string job_name = cj_name + "-" + std::to_string(UnixSeconds(scheduled) / 60);
        auto last = TimeField(status, "lastScheduleTime");
        std::string policy(api::GetString(spec, "concurrencyPolicy"));
        if (active_index("", job_name) >= 0 || (last && *last == scheduled)) {
          // Already started for this time.
        } else if (policy == "Forbid" && !active.empty()) {
          events_(cj, "Normal", "JobAlreadyActive",
                  "Not starting job because prior execution is running and concurrency policy "
                  "is Forbid");
        } else {
          if (policy == "Replace") {
            while (!active.empty()) {
              std::string ref_name(api::GetString(active.front(), "name"));
              client::DeleteOptions opts;
              opts.propagation_policy = "Background";
              auto del = co_await client_.Delete(jobs_res, ns, ref_name, opts);
              if (!del.has_value() && del.error().code() != Code::kNotFound) {
                schedule_error = del.error();
                break;
              }
              if (del.has_value()) {
                events_(cj, "Normal", "SuccessfulDelete", "Deleted job " + ref_name);
              }
              active.erase(active.begin());
            }
          }
          if (schedule_error.ok()) {
            // The Job, from the template.
            json::object tmpl = ObjectField(spec, "jobTemplate");
            json::object tmeta = ObjectField(tmpl, "metadata");
            json::object job;
            job["apiVersion"] = "batch/v1";
            job["kind"] = "Job";
            json::object meta;
            meta["name"] = job_name;
            meta["namespace"] = ns;
            json::object labels = ObjectField(tmeta, "labels");
            if (!labels.empty()) meta["labels"] = std::move(labels);
            json::object annotations = ObjectField(tmeta, "annotations");
            annotations[batch::kCronJobScheduledTimestamp] =
                tz.FormatRfc3339(UnixSeconds(scheduled));
            meta["annotations"] = std::move(annotations);
            api::OwnerReference ref{"batch/v1", "CronJob", cj_name, uid, true, true};
            meta["ownerReferences"] = json::array{ref.ToJson()};
            job["metadata"] = std::move(meta);
            job["spec"] = ObjectField(tmpl, "spec");
            auto created_job = co_await client_.Create(jobs_res, std::move(job));
            std::optional<json::object> started;
            if (created_job.has_value()) {
              started = std::move(*created_job);
              events_(cj, "Normal", "SuccessfulCreate", "Created job " + job_name);
            } else if (created_job.error().code() == Code::kAlreadyExists) {
              auto existing = co_await client_.Get(jobs_res, ns, job_name);
              if (!existing.has_value()) {
                schedule_error = existing.error();
              } else if (!IsControlledBy(*existing, uid)) {
                schedule_error = Status::Conflict("job " + ns + "/" + job_name +
                                                  " already exists but is not owned by cronjob " +
                                                  ns + "/" + cj_name);
              } else {
                started = std::move(*existing);
              }
            } else {
              events_(cj, "Warning", "FailedCreate",
                      "Error creating job: " + created_job.error().message());
              schedule_error = created_job.error();
            }
            if (started) {
              if (batch::FinishedCondition(*started) == nullptr &&
                  active_index(api::Uid(*started), job_name) < 0) {
                active.push_back(JobRef(*started));
              }
              status["lastScheduleTime"] = FormatRfc3339(scheduled);
            }
          }
        }
      }
    }

    // ---- history limits -------------------------------------------------------------------------
    std::vector<client::ObjectPtr> succeeded, failed;
    for (const auto& j : jobs) {
      if (api::IsBeingDeleted(*j)) continue;
      const json::object* finished = batch::FinishedCondition(*j);
      if (finished == nullptr) continue;
      (api::GetString(*finished, "type") == "Complete" ? succeeded : failed).push_back(j);
    }
    struct History {
      std::vector<client::ObjectPtr>* jobs;
      const char* field;
      int64_t fallback;
    };
    const History histories[] = {{&succeeded, "successfulJobsHistoryLimit", 3},
                                 {&failed, "failedJobsHistoryLimit", 1}};
    for (const History& h : histories) {
      const int64_t limit = std::max<int64_t>(0, api::GetInt(spec, h.field).value_or(h.fallback));
      auto& v = *h.jobs;
      if (static_cast<int64_t>(v.size()) <= limit) continue;
      // Oldest start first; a Job that never started counts as newest (upstream byJobStartTime).
      std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        auto ta = TimeField(*a, "status.startTime");
        auto tb = TimeField(*b, "status.startTime");
        if (ta.has_value() != tb.has_value()) return ta.has_value();
        if (ta && *ta != *tb) return *ta < *tb;
        return api::Name(*a) < api::Name(*b);
      });
      const size_t excess = v.size() - static_cast<size_t>(limit);
      for (size_t i = 0; i < excess; ++i) {
        std::string jname(api::Name(*v[i]));
        client::DeleteOptions opts;
        opts.propagation_policy = "Background";
        auto del = co_await client_.Delete(jobs_res, ns, jname, opts);
        if (!del.has_value() && del.error().code() != Code::kNotFound) {
          if (schedule_error.ok()) schedule_error = del.error();
          continue;
        }
        if (del.has_value()) events_(cj, "Normal", "SuccessfulDelete", "Deleted job " + jname);
        int idx = active_index(api::Uid(*v[i]), jname);
        if (idx >= 0) active.erase(active.begin() + idx);
      }
    }
  }

  // ---- status ---------------------------------------------------------------------------------
  if (active.empty()) {
    status.erase("active");
  } else {
    json::array arr;
    for (auto& a : active) arr.emplace_back(std::move(a));
    status["active"] = std::move(arr);
  }
  if (status != before) {
    json::object updated = cj;
    updated["status"] = status;
    auto r = co_await client_.UpdateStatus(cronjobs_res, std::move(updated));
    if (!r.has_value()) co_return r.error();
  }
  if (!schedule_error.ok()) co_return schedule_error;
  if (next_run) {
    // Exactly at the next schedule time; a reconcile that runs early just requeues again.
    auto delay = std::chrono::ceil<std::chrono::milliseconds>(*next_run - now);
    co_return Requeue{true, std::max(delay, std::chrono::milliseconds(1))};
  }
  co_return Requeue{};
}

}  // namespace mini8s::controllers
