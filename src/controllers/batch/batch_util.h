// Helpers shared by the Job, TTL-after-finished and CronJob controllers (private to the module).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "mini8s/client/client.h"

namespace mini8s::controllers::batch_internal {

inline client::Resource PodsResource() { return {"", "v1", "pods", "Pod", true}; }
inline client::Resource JobsResource() { return {"batch", "v1", "jobs", "Job", true}; }
inline client::Resource CronJobsResource() { return {"batch", "v1", "cronjobs", "CronJob", true}; }

// obj[key] as an object (a copy), or an empty object.
boost::json::object ObjectField(const boost::json::object& obj, std::string_view key);

// The condition of `type` in status.conditions, or nullptr.
const boost::json::object* FindCondition(const boost::json::object& status, std::string_view type);
bool ConditionTrue(const boost::json::object& status, std::string_view type);

// Sets a condition (status "True"/"False") the way upstream's ensureJobConditionStatus and
// newCondition do: a missing condition is appended (unless `add_if_missing` is false), a
// condition whose status differs is rewritten with new times; an identical one is left alone.
// Returns true when the status changed.
bool SetCondition(boost::json::object& status, std::string_view type, std::string_view cond_status,
                  std::string_view reason, std::string_view message,
                  std::chrono::system_clock::time_point now, bool add_if_missing = true);

// An RFC 3339 timestamp field, or nullopt.
std::optional<std::chrono::system_clock::time_point> TimeField(const boost::json::object& obj,
                                                               std::string_view path);

}  // namespace mini8s::controllers::batch_internal
