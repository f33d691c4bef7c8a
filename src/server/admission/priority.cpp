// Priority (upstream's plugin/pkg/admission/priority): pods take their priority from a
// PriorityClass, and the two system classes exist from the start.
#include <random>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/server/admission_plugins.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

constexpr std::string_view kGroup = "scheduling.k8s.io";
constexpr std::string_view kResource = "priorityclasses";
constexpr std::string_view kDefaultPreemption = "PreemptLowerPriority";

std::string PreemptionOf(const json::object& pc) {
  std::string_view p = api::GetString(pc, "preemptionPolicy");
  return std::string(p.empty() ? kDefaultPreemption : p);
}

class Priority final : public AdmissionPlugin {
 public:
  explicit Priority(std::shared_ptr<AdmissionObjects> objects) : objects_(std::move(objects)) {}
  std::string_view name() const override { return "Priority"; }

  Status Admit(AdmissionAttributes& a) override {
    if (a.object == nullptr || !a.subresource.empty()) return Status::OK();
    if (a.kind.group.empty() && a.kind.kind == "Pod" && a.operation == "CREATE") {
      return AdmitPod(a);
    }
    if (a.kind.group == kGroup && a.kind.kind == "PriorityClass" &&
        (a.operation == "CREATE" || a.operation == "UPDATE")) {
      return AdmitClass(a);
    }
    return Status::OK();
  }

 private:
  Status AdmitPod(AdmissionAttributes& a) {
    json::object& spec = api::MutableObjectAt(*a.object, "spec");
    std::string class_name(api::GetString(*a.object, "spec.priorityClassName"));
    // Pods naming no class arrive with the API defaults' priority 0 and PreemptLowerPriority
    // (api/validation/defaults.cpp): those values are not the user's, so a global default class
    // replaces them instead of conflicting with them.
    const bool api_defaulted = class_name.empty();
    int64_t priority = 0;
    std::string preemption(kDefaultPreemption);
    if (class_name.empty()) {
      // The global default class with the lowest value, when there is one.
      std::optional<json::object> best;
      for (json::object& pc : objects_->List(kGroup, kResource, "")) {
        if (!api::GetBool(pc, "globalDefault").value_or(false)) continue;
        if (!best ||
            api::GetInt(pc, "value").value_or(0) < api::GetInt(*best, "value").value_or(0)) {
          best = std::move(pc);
        }
      }
      if (best) {
        class_name = std::string(api::Name(*best));
        priority = api::GetInt(*best, "value").value_or(0);
        preemption = PreemptionOf(*best);
        spec["priorityClassName"] = class_name;
      }
    } else {
      std::optional<json::object> pc = objects_->Get(kGroup, kResource, "", class_name);
      if (!pc) {
        return AdmissionForbidden(a, "no PriorityClass with name " + class_name + " was found");
      }
      priority = api::GetInt(*pc, "value").value_or(0);
      preemption = PreemptionOf(*pc);
    }
    if (auto given = api::GetInt(*a.object, "spec.priority");
        given && *given != priority && !(api_defaulted && *given == 0)) {
      return AdmissionForbidden(
          a, "the integer value of priority (" + std::to_string(*given) +
                 ") must not be provided in pod spec; priority admission controller computed " +
                 std::to_string(priority) + " from the given PriorityClass name");
    }
    std::string_view given_policy = api::GetString(*a.object, "spec.preemptionPolicy");
    if (!given_policy.empty() && given_policy != preemption &&
        !(api_defaulted && given_policy == kDefaultPreemption)) {
      return AdmissionForbidden(
          a, "the string value of PreemptionPolicy (" + std::string(given_policy) +
                 ") must not be provided in pod spec; priority admission controller computed " +
                 preemption + " from the given PriorityClass name");
    }
    spec["priority"] = priority;
    spec["preemptionPolicy"] = preemption;
    return Status::OK();
  }

  // Only one class may be the global default.
  Status AdmitClass(AdmissionAttributes& a) {
    if (!api::GetBool(*a.object, "globalDefault").value_or(false)) return Status::OK();
    for (const json::object& pc : objects_->List(kGroup, kResource, "")) {
      if (api::Name(pc) == a.name || !api::GetBool(pc, "globalDefault").value_or(false)) continue;
      return AdmissionForbidden(a, "PriorityClass " + std::string(api::Name(pc)) +
                                       " is already marked as default. Only one default can exist");
    }
    return Status::OK();
  }

  std::shared_ptr<AdmissionObjects> objects_;
};

std::string NewUid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x4000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32),
                unsigned((a >> 16) & 0xffff), unsigned(a & 0xffff), unsigned(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

}  // namespace

std::shared_ptr<AdmissionPlugin> NewPriority(std::shared_ptr<AdmissionObjects> objects) {
  return std::make_shared<Priority>(std::move(objects));
}

Status EnsureSystemPriorityClasses(AdmissionObjects& objects, const Clock& clock) {
  struct System {
    const char* name;
    int64_t value;
    const char* description;
  };
  const System classes[] = {
      {"system-node-critical", 2000001000,
       "For pods the node cannot do without; they are never moved to another node."},
      {"system-cluster-critical", 2000000000,
       "For pods the cluster cannot do without; they may run on any node."},
  };
  for (const System& s : classes) {
    if (objects.Get(kGroup, kResource, "", s.name)) continue;
    json::object pc{{"apiVersion", "scheduling.k8s.io/v1"},
                    {"kind", "PriorityClass"},
                    {"metadata", json::object{{"name", s.name},
                                              {"uid", NewUid()},
                                              {"creationTimestamp", FormatRfc3339(clock.Now())}}},
                    {"value", s.value},
                    {"globalDefault", false},
                    {"description", s.description},
                    {"preemptionPolicy", std::string(kDefaultPreemption)}};
    Status st = objects.Create(kGroup, kResource, "", pc);
    if (!st.ok() && !st.Is(Code::kAlreadyExists)) return st;
  }
  return Status::OK();
}

}  // namespace mini8s::server
