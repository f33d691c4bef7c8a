#include "controllers/deployment/apps_util.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "mini8s/common/logging.h"

namespace mini8s::controllers::apps {

namespace asio = boost::asio;
namespace json = boost::json;

int32_t GetInt32(const json::object& obj, std::string_view path, int32_t fallback) {
  std::optional<int64_t> v = api::GetInt(obj, path);
  if (!v) return fallback;
  return static_cast<int32_t>(std::clamp<int64_t>(*v, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
}

int32_t SpecReplicas(const json::object& obj) { return GetInt32(obj, "spec.replicas", 1); }

std::optional<TimePoint> GetTime(const json::object& obj, std::string_view path) {
  std::string_view s = api::GetString(obj, path);
  if (s.empty()) return std::nullopt;
  Result<TimePoint> t = ParseRfc3339(s);
  if (!t.has_value()) return std::nullopt;
  return *t;
}

const json::object* FindCondition(const json::object& obj, std::string_view type) {
  const json::array* conds = api::GetArray(obj, "status.conditions");
  if (conds == nullptr) return nullptr;
  for (const json::value& c : *conds) {
    if (c.is_object() && api::GetString(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

bool IsPodReady(const json::object& pod) {
  const json::object* c = FindCondition(pod, "Ready");
  return c != nullptr && api::GetString(*c, "status") == "True";
}

std::optional<TimePoint> PodReadySince(const json::object& pod) {
  const json::object* c = FindCondition(pod, "Ready");
  if (c == nullptr || api::GetString(*c, "status") != "True") return std::nullopt;
  return GetTime(*c, "lastTransitionTime");
}

bool IsPodAvailable(const json::object& pod, int32_t min_ready_seconds, TimePoint now) {
  if (!IsPodReady(pod)) return false;
  if (min_ready_seconds <= 0) return true;
  std::optional<TimePoint> since = PodReadySince(pod);
  return since && *since + std::chrono::seconds(min_ready_seconds) < now;
}

bool IsPodActive(const json::object& pod) {
  std::string_view phase = api::GetString(pod, "status.phase");
  return phase != "Succeeded" && phase != "Failed" && !api::IsBeingDeleted(pod);
}

int64_t MaxContainerRestarts(const json::object& pod) {
  int64_t max = 0;
  if (const json::array* st = api::GetArray(pod, "status.containerStatuses")) {
    for (const json::value& c : *st) {
      if (!c.is_object()) continue;
      max = std::max(max, api::GetInt(c.as_object(), "restartCount").value_or(0));
    }
  }
  return max;
}

Result<api::LabelSelector> SpecSelector(const json::object& obj) {
  const json::value* sel = api::FindPath(obj, "spec.selector");
  return api::LabelSelector::FromLabelSelectorJson(sel);
}

bool SelectorIsEmptyObject(const json::object& obj) {
  const json::object* sel = api::GetObject(obj, "spec.selector");
  if (sel == nullptr) return false;
  for (const auto& [k, v] : *sel) {
    if (v.is_object() && !v.as_object().empty()) return false;
    if (v.is_array() && !v.as_array().empty()) return false;
  }
  return true;
}

api::OwnerReference ControllerRefTo(const json::object& owner, std::string api_version,
                                    std::string kind) {
  api::OwnerReference ref;
  ref.api_version = std::move(api_version);
  ref.kind = std::move(kind);
  ref.name = std::string(api::Name(owner));
  ref.uid = std::string(api::Uid(owner));
  ref.controller = true;
  ref.block_owner_deletion = true;
  return ref;
}

std::optional<api::OwnerReference> ControllerOfKind(const json::object& obj,
                                                    std::string_view kind) {
  std::optional<api::OwnerReference> ref = api::ControllerOf(obj);
  if (!ref || ref->kind != kind) return std::nullopt;
  return ref;
}

namespace {

// A JSON patch that replaces the owner references, guarded by the resourceVersion the decision
// was made on.
std::string OwnerRefsPatch(const json::object& obj, const std::vector<api::OwnerReference>& refs) {
  json::array arr;
  for (const auto& r : refs) arr.push_back(r.ToJson());
  json::array ops;
  ops.push_back(json::object{{"op", "test"},
                             {"path", "/metadata/resourceVersion"},
                             {"value", std::string(api::ResourceVersion(obj))}});
  if (arr.empty()) {
    ops.push_back(json::object{{"op", "remove"}, {"path", "/metadata/ownerReferences"}});
  } else {
    ops.push_back(
        json::object{{"op", "add"}, {"path", "/metadata/ownerReferences"}, {"value", arr}});
  }
  return json::serialize(ops);
}

}  // namespace

asio::awaitable<Result<std::vector<client::ObjectPtr>>> ClaimObjects(
    client::Client& client, ClaimSpec spec, std::vector<client::ObjectPtr> candidates) {
  std::vector<client::ObjectPtr> claimed;
  const json::object& owner = *spec.owner;
  std::string owner_uid(api::Uid(owner));
  bool owner_deleting = api::IsBeingDeleted(owner);
  bool adopt_checked = false;
  Status first_error;
  for (const client::ObjectPtr& obj : candidates) {
    std::optional<api::OwnerReference> ref = api::ControllerOf(*obj);
    bool matches = spec.selector.Matches(api::Labels(*obj));
    std::string ns(api::Namespace(*obj));
    std::string name(api::Name(*obj));
    if (ref) {
      if (ref->uid != owner_uid) continue;  // someone else's
      if (matches) {
        claimed.push_back(obj);
        continue;
      }
      // Owned but no longer matching: release, unless the owner is going away anyway.
      if (owner_deleting) continue;
      std::vector<api::OwnerReference> refs;
      for (auto& r : api::OwnerReferences(*obj)) {
        if (r.uid != owner_uid) refs.push_back(std::move(r));
      }
      std::string patch = OwnerRefsPatch(*obj, refs);
      client::PatchOptions opts;
      auto r = co_await client.Patch(spec.resource, ns, name, client::PatchType::kJson,
                                     std::move(patch), opts);
      if (!r.has_value() && r.error().code() != Code::kNotFound && first_error.ok()) {
        first_error = r.error();
      }
      continue;
    }
    // An orphan: adopt it if it matches.
    if (owner_deleting || !matches || api::IsBeingDeleted(*obj)) continue;
    if (api::Namespace(*obj) != api::Namespace(owner)) continue;
    if (!adopt_checked && spec.can_adopt) {
      adopt_checked = true;
      Status s = co_await spec.can_adopt();
      if (!s.ok()) co_return s;
    }
    std::vector<api::OwnerReference> refs = api::OwnerReferences(*obj);
    refs.push_back(ControllerRefTo(owner, spec.owner_api_version, spec.owner_kind));
    std::string patch = OwnerRefsPatch(*obj, refs);
    client::PatchOptions opts;
    auto r = co_await client.Patch(spec.resource, ns, name, client::PatchType::kJson,
                                   std::move(patch), opts);
    if (r.has_value()) {
      claimed.push_back(std::make_shared<const json::object>(std::move(*r)));
    } else if (r.error().code() != Code::kNotFound && first_error.ok()) {
      first_error = r.error();
    }
  }
  if (!first_error.ok()) co_return first_error;
  co_return claimed;
}

std::function<asio::awaitable<Status>()> RecheckDeletionTimestamp(client::Client& client,
                                                                  client::Resource resource,
                                                                  std::string ns, std::string name,
                                                                  std::string uid) {
  return [&client, resource, ns, name, uid]() -> asio::awaitable<Status> {
    client::Resource res = resource;
    std::string n = ns, nm = name;
    auto fresh = co_await client.Get(res, n, nm);
    if (!fresh.has_value()) co_return fresh.error();
    if (api::Uid(*fresh) != uid) {
      co_return Status::Conflict("original " + ns + "/" + name + " is gone: got uid " +
                                 std::string(api::Uid(*fresh)) + ", wanted " + uid);
    }
    if (api::IsBeingDeleted(*fresh)) {
      co_return Status::Conflict(ns + "/" + name + " has just been deleted at " +
                                 std::string(api::DeletionTimestamp(*fresh)));
    }
    co_return Status();
  };
}

namespace {

bool IsEmptyValue(const json::value& v) {
  return v.is_null() || (v.is_object() && v.as_object().empty()) ||
         (v.is_array() && v.as_array().empty());
}

void WriteCanonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      std::vector<std::pair<std::string_view, const json::value*>> kv;
      for (const auto& e : v.as_object()) {
        if (IsEmptyValue(e.value())) continue;
        kv.emplace_back(e.key(), &e.value());
      }
      std::sort(kv.begin(), kv.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      bool first = true;
      for (const auto& [k, val] : kv) {
        if (!first) out.push_back(',');
        first = false;
        out += json::serialize(json::string(k));
        out.push_back(':');
        WriteCanonical(*val, out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const json::value& e : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        WriteCanonical(e, out);
      }
      out.push_back(']');
      return;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string CanonicalJson(const json::value& v) {
  std::string out;
  WriteCanonical(v, out);
  return out;
}

uint32_t Fnv32a(std::string_view data, uint32_t seed) {
  uint32_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string SafeEncodeString(std::string_view s) {
  static constexpr std::string_view kAlphanums = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out.push_back(kAlphanums[c % kAlphanums.size()]);
  return out;
}

}  // namespace mini8s::controllers::apps
