#include "controllers/batch/batch_util.h"

#include <boost/json/array.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/clock.h"

namespace mini8s::controllers::batch_internal {

namespace json = boost::json;

json::object ObjectField(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_object()) return {};
  return it->value().as_object();
}

const json::object* FindCondition(const json::object& status, std::string_view type) {
  auto it = status.find("conditions");
  if (it == status.end() || !it->value().is_array()) return nullptr;
  for (const json::value& c : it->value().as_array()) {
    if (!c.is_object()) continue;
    if (api::GetString(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

bool ConditionTrue(const json::object& status, std::string_view type) {
  const json::object* c = FindCondition(status, type);
  return c != nullptr && api::GetString(*c, "status") == "True";
}

bool SetCondition(json::object& status, std::string_view type, std::string_view cond_status,
                  std::string_view reason, std::string_view message,
                  std::chrono::system_clock::time_point now, bool add_if_missing) {
  std::string ts = FormatRfc3339(now);
  json::value& conds = status["conditions"];
  if (!conds.is_array()) conds = json::array();
  for (json::value& c : conds.as_array()) {
    if (!c.is_object() || api::GetString(c.as_object(), "type") != type) continue;
    json::object& o = c.as_object();
    if (api::GetString(o, "status") == cond_status) return false;
    o["status"] = cond_status;
    o["reason"] = reason;
    o["message"] = message;
    o["lastProbeTime"] = ts;
    o["lastTransitionTime"] = ts;
    return true;
  }
  if (!add_if_missing) {
    if (conds.as_array().empty()) status.erase("conditions");
    return false;
  }
  json::object c;
  c["type"] = type;
  c["status"] = cond_status;
  c["lastProbeTime"] = ts;
  c["lastTransitionTime"] = ts;
  c["reason"] = reason;
  c["message"] = message;
  conds.as_array().push_back(std::move(c));
  return true;
}

std::optional<std::chrono::system_clock::time_point> TimeField(const json::object& obj,
                                                               std::string_view path) {
  std::string_view s = api::GetString(obj, path);
  if (s.empty()) return std::nullopt;
  auto t = ParseRfc3339(s);
  if (!t.has_value()) return std::nullopt;
  return *t;
}

}  // namespace mini8s::controllers::batch_internal
