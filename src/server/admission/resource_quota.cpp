// ResourceQuota admission (upstream's plugin/pkg/admission/resourcequota): charges creates, and
// service and PVC updates, against the namespace's quotas and records the charge in
// status.used before the object is written, so two requests cannot both take the last unit.
#include <chrono>
#include <map>
#include <mutex>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/quota.h"
#include "mini8s/server/admission_plugins.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;
namespace quota = api::quota;
using quota::ResourceList;
using NameSet = std::set<std::string, std::less<>>;

constexpr int kWriteRetries = 5;

class ResourceQuotaAdmission final : public AdmissionPlugin {
 public:
  ResourceQuotaAdmission(std::shared_ptr<AdmissionObjects> objects, const Clock& clock)
      : objects_(std::move(objects)), clock_(clock) {}
  std::string_view name() const override { return "ResourceQuota"; }

  Status Admit(AdmissionAttributes& a) override {
    if (a.ns.empty() || !a.subresource.empty() || a.object == nullptr) return Status::OK();
    quota::GroupResource gr{a.kind.group, a.kind.plural};
    if (gr.group.empty() && gr.resource == "resourcequotas") return Status::OK();
    // Most namespaces have no quota: answer before computing usage (every create, events
    // included, comes here) and without serializing their creates.
    if (objects_->List("", "resourcequotas", a.ns).empty()) return Status::OK();
    ResourceList delta;
    if (a.operation == "CREATE") {
      delta = quota::Usage(gr, *a.object, Now());
    } else if (a.operation == "UPDATE" && a.old_object != nullptr && gr.group.empty() &&
               (gr.resource == "services" || gr.resource == "persistentvolumeclaims")) {
      // Only growth is charged; shrinking is returned by the controller's recount.
      delta = quota::Subtract(quota::Usage(gr, *a.object, Now()),
                              quota::Usage(gr, *a.old_object, Now()));
      for (auto it = delta.begin(); it != delta.end();) {
        it = it->second.Sign() <= 0 ? delta.erase(it) : std::next(it);
      }
    } else {
      return Status::OK();
    }
    bool is_pod_create = gr.group.empty() && gr.resource == "pods" && a.operation == "CREATE";
    if (delta.empty() && !is_pod_create) return Status::OK();

    std::lock_guard<std::mutex> ns_lock(NamespaceMutex(std::string(a.ns)));
    std::vector<std::pair<std::string, ResourceList>> charged;
    std::set<std::string> done;
    for (int attempt = 0;; ++attempt) {
      bool conflict = false;
      for (json::object& q : objects_->List("", "resourcequotas", a.ns)) {
        std::string qname(api::Name(q));
        if (done.count(qname)) continue;
        ResourceList hard = quota::ParseResourceList(api::GetObject(q, "spec.hard"));
        NameSet tracked;
        for (const auto& kv : hard) {
          if (quota::Tracks(gr, kv.first)) tracked.insert(kv.first);
        }
        if (tracked.empty() || !quota::InScope(q, gr, *a.object)) continue;
        if (is_pod_create) {
          std::string missing = quota::PodConstraints(*a.object, tracked);
          if (!missing.empty()) {
            Rollback(a.ns, charged);
            return AdmissionForbidden(a, "failed quota: " + qname + ": " + missing);
          }
        }
        ResourceList requested = quota::RemoveZeros(quota::Mask(delta, tracked));
        if (requested.empty()) continue;
        ResourceList used = quota::ParseResourceList(api::GetObject(q, "status.used"));
        NameSet unknown;
        for (const std::string& n : quota::Names(hard)) {
          if (!used.count(n)) unknown.insert(n);
        }
        if (!unknown.empty()) {
          // The controller has not counted yet: count now.
          for (auto& [n, v] : Recount(a.ns, unknown, q)) used[n] = v;
        }
        ResourceList new_usage = quota::Add(used, requested);
        NameSet exceeded = quota::Exceeded(quota::Mask(new_usage, quota::Names(requested)),
                                           quota::Mask(hard, tracked));
        if (!exceeded.empty()) {
          Rollback(a.ns, charged);
          return AdmissionForbidden(
              a, "exceeded quota: " + qname +
                     ", requested: " + quota::PrettyPrint(quota::Mask(requested, exceeded)) +
                     ", used: " + quota::PrettyPrint(quota::Mask(used, exceeded)) +
                     ", limited: " + quota::PrettyPrint(quota::Mask(hard, exceeded)));
        }
        if (a.dry_run) continue;
        json::object& status = api::MutableObjectAt(q, "status");
        status["hard"] = quota::ToJson(hard);
        status["used"] = quota::ToJson(quota::Mask(new_usage, quota::Names(hard)));
        auto written = objects_->Update("", "resourcequotas", a.ns, q);
        if (!written.ok()) {
          if (written.error().Is(Code::kConflict) || written.error().Is(Code::kNotFound)) {
            conflict = true;  // another writer (the controller): evaluate this quota again
            continue;
          }
          Rollback(a.ns, charged);
          return Status::Internal("quota " + qname + ": " + written.error().message());
        }
        done.insert(qname);
        charged.emplace_back(qname, requested);
      }
      if (!conflict) break;
      if (attempt + 1 >= kWriteRetries) {
        Rollback(a.ns, charged);
        return AdmissionForbidden(a, "unable to update quota status in namespace " +
                                         std::string(a.ns) + " (conflicting writes)");
      }
    }
    if (!charged.empty()) {
      std::lock_guard<std::mutex> l(mu_);
      pending_[&a] = Pending{std::string(a.ns), std::move(charged)};
    }
    return Status::OK();
  }

  void Committed(const AdmissionAttributes& a, bool committed) override {
    Pending p;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = pending_.find(&a);
      if (it == pending_.end()) return;
      p = std::move(it->second);
      pending_.erase(it);
    }
    if (committed) return;
    std::lock_guard<std::mutex> ns_lock(NamespaceMutex(p.ns));
    Rollback(p.ns, p.charged);
  }

 private:
  struct Pending {
    std::string ns;
    std::vector<std::pair<std::string, ResourceList>> charged;
  };

  int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch())
        .count();
  }

  std::mutex& NamespaceMutex(const std::string& ns) {
    std::lock_guard<std::mutex> l(mu_);
    return ns_mu_[ns];  // std::map nodes are stable; namespaces are few
  }

  ResourceList Recount(std::string_view ns, const NameSet& names, const json::object& q) {
    return quota::ComputeUsage(
        names,
        [&](const quota::GroupResource& gr) { return objects_->List(gr.group, gr.resource, ns); },
        Now(), &q);
  }

  // Gives back what a request took when it did not go through (caller holds the ns lock).
  void Rollback(std::string_view ns,
                const std::vector<std::pair<std::string, ResourceList>>& charged) {
    for (const auto& [qname, requested] : charged) {
      for (int attempt = 0; attempt < kWriteRetries; ++attempt) {
        std::optional<json::object> q = objects_->Get("", "resourcequotas", ns, qname);
        if (!q) break;
        ResourceList used = quota::ParseResourceList(api::GetObject(*q, "status.used"));
        for (const auto& [n, v] : requested) {
          auto it = used.find(n);
          if (it == used.end()) continue;
          (void)it->second.Sub(v);
          if (it->second.Sign() < 0) it->second = api::Quantity();
        }
        api::MutableObjectAt(*q, "status")["used"] = quota::ToJson(used);
        if (objects_->Update("", "resourcequotas", ns, *q).ok()) break;
      }
    }
  }

  std::shared_ptr<AdmissionObjects> objects_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, std::mutex> ns_mu_;                // GUARDED_BY(mu_)
  std::map<const AdmissionAttributes*, Pending> pending_;  // GUARDED_BY(mu_)
};

}  // namespace

std::shared_ptr<AdmissionPlugin> NewResourceQuota(std::shared_ptr<AdmissionObjects> objects,
                                                  const Clock& clock) {
  return std::make_shared<ResourceQuotaAdmission>(std::move(objects), clock);
}

}  // namespace mini8s::server
