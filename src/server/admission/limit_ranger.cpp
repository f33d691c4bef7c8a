// LimitRanger (upstream's plugin/pkg/admission/limitranger): defaults and bounds from the
// namespace's LimitRange objects.
#include <cstdio>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/quota.h"
#include "mini8s/server/admission_plugins.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;
using api::Quantity;
using api::quota::ResourceList;

constexpr std::string_view kAnnotation = "kubernetes.io/limit-ranger";

ResourceList ListAt(const json::object& o, std::string_view path) {
  return api::quota::ParseResourceList(api::GetObject(o, path));
}

// One spec.limits entry with upstream's LimitRange defaulting applied (the registry may not have
// stored it): a missing default limit is the max, a missing default request the default limit,
// else the min.
struct LimitItem {
  std::string type;
  ResourceList min, max, default_limit, default_request, ratio;
};

LimitItem ReadItem(const json::object& item) {
  LimitItem li;
  li.type = std::string(api::GetString(item, "type"));
  li.min = ListAt(item, "min");
  li.max = ListAt(item, "max");
  li.default_limit = ListAt(item, "default");
  li.default_request = ListAt(item, "defaultRequest");
  li.ratio = ListAt(item, "maxLimitRequestRatio");
  if (li.type == "Container") {
    for (const auto& [n, q] : li.max) li.default_limit.emplace(n, q);
    for (const auto& [n, q] : li.default_limit) li.default_request.emplace(n, q);
    for (const auto& [n, q] : li.min) li.default_request.emplace(n, q);
  }
  return li;
}

std::vector<LimitItem> ReadItems(const json::object& limit_range) {
  std::vector<LimitItem> out;
  if (const json::array* items = api::GetArray(limit_range, "spec.limits")) {
    for (const auto& i : *items) {
      if (i.is_object()) out.push_back(ReadItem(i.as_object()));
    }
  }
  return out;
}

// --- constraints (upstream's wording) ----------------------------------------------------------

void MinConstraint(const std::string& type, const std::string& r, const Quantity& enforced,
                   const ResourceList& req, const ResourceList& lim,
                   std::vector<std::string>& errs) {
  auto rq = req.find(r);
  auto lm = lim.find(r);
  std::string head = "minimum " + r + " usage per " + type + " is " + enforced.String();
  if (rq == req.end()) {
    errs.push_back(head + ".  No request is specified");
  } else if (rq->second.Cmp(enforced) < 0) {
    errs.push_back(head + ", but request is " + rq->second.String());
  } else if (lm != lim.end() && lm->second.Cmp(enforced) < 0) {
    errs.push_back(head + ", but limit is " + lm->second.String());
  }
}

void MaxConstraint(const std::string& type, const std::string& r, const Quantity& enforced,
                   const ResourceList& req, const ResourceList& lim,
                   std::vector<std::string>& errs) {
  auto rq = req.find(r);
  auto lm = lim.find(r);
  std::string head = "maximum " + r + " usage per " + type + " is " + enforced.String();
  if (lm == lim.end()) {
    errs.push_back(head + ".  No limit is specified");
  } else if (lm->second.Cmp(enforced) > 0) {
    errs.push_back(head + ", but limit is " + lm->second.String());
  } else if (rq != req.end() && rq->second.Cmp(enforced) > 0) {
    errs.push_back(head + ", but request is " + rq->second.String());
  }
}

// PVCs state only requests.
void MaxRequestConstraint(const std::string& type, const std::string& r, const Quantity& enforced,
                          const ResourceList& req, std::vector<std::string>& errs) {
  auto rq = req.find(r);
  std::string head = "maximum " + r + " usage per " + type + " is " + enforced.String();
  if (rq == req.end()) {
    errs.push_back(head + ".  No request is specified");
  } else if (rq->second.Cmp(enforced) > 0) {
    errs.push_back(head + ", but request is " + rq->second.String());
  }
}

void RatioConstraint(const std::string& type, const std::string& r, const Quantity& enforced,
                     const ResourceList& req, const ResourceList& lim,
                     std::vector<std::string>& errs) {
  auto rq = req.find(r);
  auto lm = lim.find(r);
  std::string head = r + " max limit to request ratio per " + type + " is " + enforced.String();
  if (rq == req.end() || rq->second.MilliValue() == 0) {
    errs.push_back(head + ", but no request is specified or request is 0");
    return;
  }
  if (lm == lim.end() || lm->second.MilliValue() == 0) {
    errs.push_back(head + ", but no limit is specified or limit is 0");
    return;
  }
  double observed =
      static_cast<double>(lm->second.MilliValue()) / static_cast<double>(rq->second.MilliValue());
  if (observed * 1000.0 > static_cast<double>(enforced.MilliValue())) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%f", observed);
    errs.push_back(head + ", but provided ratio is " + buf);
  }
}

void Bounds(const LimitItem& li, const ResourceList& req, const ResourceList& lim,
            std::vector<std::string>& errs) {
  for (const auto& [r, q] : li.min) MinConstraint(li.type, r, q, req, lim, errs);
  for (const auto& [r, q] : li.max) MaxConstraint(li.type, r, q, req, lim, errs);
  for (const auto& [r, q] : li.ratio) RatioConstraint(li.type, r, q, req, lim, errs);
}

std::vector<json::object*> MutableContainers(json::object& pod, const char* field) {
  std::vector<json::object*> out;
  json::object& spec = api::MutableObjectAt(pod, "spec");
  auto it = spec.find(field);
  if (it == spec.end() || !it->value().is_array()) return out;
  for (auto& c : it->value().as_array()) {
    if (c.is_object()) out.push_back(&c.as_object());
  }
  return out;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? std::string(sep) : "") + v[i];
  return out;
}

// Fills what the container does not state; appends "<names> request for container c" notes.
void DefaultContainer(json::object& c, const ResourceList& def_req, const ResourceList& def_lim,
                      std::string_view what, std::vector<std::string>& notes) {
  json::object& res = api::MutableObjectAt(c, "resources");
  auto fill = [&](const char* field, const ResourceList& defaults) {
    std::vector<std::string> set;
    if (defaults.empty()) return set;
    json::object& list = api::MutableObjectAt(res, field);
    for (const auto& [n, q] : defaults) {
      if (list.contains(n)) continue;
      list[n] = q.String();
      set.push_back(n);
    }
    return set;
  };
  std::vector<std::string> limits = fill("limits", def_lim);
  std::vector<std::string> requests = fill("requests", def_req);
  std::string name(api::GetString(c, "name"));
  if (!requests.empty()) {
    notes.push_back(Join(requests, ", ") + " request for " + std::string(what) + " " + name);
  }
  if (!limits.empty()) {
    notes.push_back(Join(limits, ", ") + " limit for " + std::string(what) + " " + name);
  }
}

class LimitRanger final : public AdmissionPlugin {
 public:
  explicit LimitRanger(std::shared_ptr<AdmissionObjects> objects) : objects_(std::move(objects)) {}
  std::string_view name() const override { return "LimitRanger"; }

  Status Admit(AdmissionAttributes& a) override {
    if (!a.subresource.empty() || a.object == nullptr || !a.kind.group.empty()) {
      return Status::OK();
    }
    bool pod = a.kind.kind == "Pod" && a.operation == "CREATE";
    bool pvc = a.kind.kind == "PersistentVolumeClaim" &&
               (a.operation == "CREATE" || a.operation == "UPDATE");
    if (!pod && !pvc) return Status::OK();
    if (a.old_object != nullptr && api::IsBeingDeleted(*a.old_object)) return Status::OK();
    std::vector<json::object> ranges = objects_->List("", "limitranges", a.ns);
    for (const json::object& lr : ranges) {
      std::vector<LimitItem> items = ReadItems(lr);
      if (pod) Default(*a.object, items);
      std::vector<std::string> errs =
          pod ? ValidatePod(*a.object, items) : ValidatePvc(*a.object, items);
      if (!errs.empty()) {
        // An aggregate of several errors prints as a bracketed list (upstream's utilerrors).
        std::vector<std::string> unique;
        std::set<std::string> seen;
        for (const std::string& e : errs) {
          if (seen.insert(e).second) unique.push_back(e);
        }
        std::string msg = unique.size() == 1 ? unique[0] : "[" + Join(unique, ", ") + "]";
        return AdmissionForbidden(a, msg);
      }
    }
    return Status::OK();
  }

 private:
  static void Default(json::object& pod, const std::vector<LimitItem>& items) {
    ResourceList def_req, def_lim;
    for (const LimitItem& li : items) {
      if (li.type != "Container") continue;
      for (const auto& [n, q] : li.default_request) def_req[n] = q;
      for (const auto& [n, q] : li.default_limit) def_lim[n] = q;
    }
    if (def_req.empty() && def_lim.empty()) return;
    std::vector<std::string> notes;
    for (json::object* c : MutableContainers(pod, "containers")) {
      DefaultContainer(*c, def_req, def_lim, "container", notes);
    }
    for (json::object* c : MutableContainers(pod, "initContainers")) {
      DefaultContainer(*c, def_req, def_lim, "init container", notes);
    }
    if (!notes.empty()) {
      api::SetAnnotation(pod, kAnnotation, "LimitRanger plugin set: " + Join(notes, "; "));
    }
  }

  static std::vector<std::string> ValidatePod(const json::object& pod,
                                              const std::vector<LimitItem>& items) {
    std::vector<std::string> errs;
    for (const LimitItem& li : items) {
      if (li.type == "Container") {
        for (const char* field : {"spec.containers", "spec.initContainers"}) {
          const json::array* cs = api::GetArray(pod, field);
          if (cs == nullptr) continue;
          for (const auto& c : *cs) {
            if (!c.is_object()) continue;
            Bounds(li, ListAt(c.as_object(), "resources.requests"),
                   ListAt(c.as_object(), "resources.limits"), errs);
          }
        }
      } else if (li.type == "Pod") {
        Bounds(li, api::quota::PodRequests(pod), api::quota::PodLimits(pod), errs);
      }
    }
    return errs;
  }

  static std::vector<std::string> ValidatePvc(const json::object& pvc,
                                              const std::vector<LimitItem>& items) {
    std::vector<std::string> errs;
    ResourceList req = ListAt(pvc, "spec.resources.requests");
    for (const LimitItem& li : items) {
      if (li.type != "PersistentVolumeClaim") continue;
      for (const auto& [r, q] : li.min) MinConstraint(li.type, r, q, req, {}, errs);
      for (const auto& [r, q] : li.max) MaxRequestConstraint(li.type, r, q, req, errs);
    }
    return errs;
  }

  std::shared_ptr<AdmissionObjects> objects_;
};

}  // namespace

std::shared_ptr<AdmissionPlugin> NewLimitRanger(std::shared_ptr<AdmissionObjects> objects) {
  return std::make_shared<LimitRanger>(std::move(objects));
}

}  // namespace mini8s::server
