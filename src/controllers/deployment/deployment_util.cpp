// Deployment helpers that have no I/O: hashing, template equality, IntOrString scaling and the
// rollout fenceposts (upstream's deployment/util and intstr).
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include <boost/json/value.hpp>

#include "controllers/deployment/apps_util.h"
#include "mini8s/api/object.h"
#include "mini8s/controllers/deployment.h"

namespace mini8s::controllers::deployment {

namespace json = boost::json;

namespace {

json::value WithoutHashLabel(const json::value& tmpl) {
  json::value copy = tmpl;
  if (!copy.is_object()) return copy;
  json::value* meta = copy.as_object().if_contains("metadata");
  if (meta == nullptr || !meta->is_object()) return copy;
  json::value* labels = meta->as_object().if_contains("labels");
  if (labels != nullptr && labels->is_object()) labels->as_object().erase(kPodTemplateHashLabel);
  return copy;
}

}  // namespace

std::string ComputePodTemplateHash(const json::value& pod_template,
                                   std::optional<int32_t> collision_count) {
  uint32_t h = apps::Fnv32a(apps::CanonicalJson(pod_template));
  if (collision_count) {
    // Upstream appends the count as 8 little-endian bytes (the low 4 carry the value).
    std::string bytes(8, '\0');
    auto v = static_cast<uint32_t>(*collision_count);
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    h = apps::Fnv32a(bytes, h);
  }
  return apps::SafeEncodeString(std::to_string(h));
}

bool EqualIgnoreHash(const json::value& a, const json::value& b) {
  return apps::CanonicalJson(WithoutHashLabel(a)) == apps::CanonicalJson(WithoutHashLabel(b));
}

Result<int32_t> ScaledValue(const json::value* v, int32_t total, bool round_up) {
  if (v == nullptr || v->is_null()) return 0;
  if (v->is_int64()) return static_cast<int32_t>(v->as_int64());
  if (v->is_uint64()) return static_cast<int32_t>(v->as_uint64());
  if (v->is_string()) {
    std::string_view s = v->as_string();
    if (s.empty() || s.back() != '%') {
      return Status::Invalid(
          "invalid value for IntOrString: invalid type: string is not a "
          "percentage");
    }
    s.remove_suffix(1);
    int64_t pct = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), pct);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      return Status::Invalid("invalid value \"" + std::string(v->as_string()) + "\"");
    }
    double scaled = static_cast<double>(pct) * static_cast<double>(total) / 100.0;
    return static_cast<int32_t>(round_up ? std::ceil(scaled) : std::floor(scaled));
  }
  return Status::Invalid("invalid value for IntOrString: invalid type: neither int nor percentage");
}

Result<std::pair<int32_t, int32_t>> ResolveFenceposts(const json::value* max_surge,
                                                      const json::value* max_unavailable,
                                                      int32_t desired) {
  Result<int32_t> surge = ScaledValue(max_surge, desired, true);
  if (!surge.has_value()) return surge.error();
  Result<int32_t> unavailable = ScaledValue(max_unavailable, desired, false);
  if (!unavailable.has_value()) return unavailable.error();
  if (*surge == 0 && *unavailable == 0) {
    // Validation forbids both zero; should it happen anyway, let the rollout make progress.
    return std::pair<int32_t, int32_t>{0, 1};
  }
  return std::pair<int32_t, int32_t>{*surge, *unavailable};
}

namespace {

bool IsRollingUpdate(const json::object& d) {
  std::string_view type = api::GetString(d, "spec.strategy.type");
  return type.empty() || type == "RollingUpdate";
}

std::pair<int32_t, int32_t> Fenceposts(const json::object& d) {
  static const json::value kDefault("25%");
  const json::value* surge = api::FindPath(d, "spec.strategy.rollingUpdate.maxSurge");
  const json::value* unavail = api::FindPath(d, "spec.strategy.rollingUpdate.maxUnavailable");
  if (surge == nullptr) surge = &kDefault;
  if (unavail == nullptr) unavail = &kDefault;
  auto r = ResolveFenceposts(surge, unavail, apps::SpecReplicas(d));
  if (!r.has_value()) return {0, 1};  // validation rejects these; never wedge the rollout
  return *r;
}

}  // namespace

int32_t MaxSurge(const json::object& d) {
  if (!IsRollingUpdate(d)) return 0;
  return Fenceposts(d).first;
}

int32_t MaxUnavailable(const json::object& d) {
  int32_t replicas = apps::SpecReplicas(d);
  if (!IsRollingUpdate(d) || replicas == 0) return 0;
  int32_t u = Fenceposts(d).second;
  return u > replicas ? replicas : u;
}

}  // namespace mini8s::controllers::deployment
