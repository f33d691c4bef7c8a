#include "mini8s/controllers/namespace.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <vector>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/kind_catalog.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr int kMaxConflictRetries = 5;
// Upstream's default wait for content that still has finalizers.
constexpr int64_t kFinalizerEstimateSeconds = 15;

// The condition types the controller maintains, in upstream's order, with the reason and message
// of their "nothing wrong" (status False) variant.
struct ConditionDefault {
  const char* type;
  const char* ok_reason;
  const char* ok_message;
};
constexpr ConditionDefault kConditions[] = {
    {"NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered",
     "All resources successfully discovered"},
    {"NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions",
     "All legacy kube types successfully parsed"},
    {"NamespaceDeletionContentFailure", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"},
    {"NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"},
    {"NamespaceFinalizersRemaining", "ContentHasNoFinalizers",
     "All content-preserving finalizers finished"},
};

struct Condition {
  std::string type, reason, message;
};

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Sets each maintained condition to its failure in `failures` or to its OK variant; the
// transition time moves only when the status flips. Returns true if anything changed.
bool UpdateConditions(json::object& ns, const std::vector<Condition>& failures,
                      const std::string& now) {
  json::object& status = api::MutableObjectAt(ns, "status");
  json::value& conds_v = status["conditions"];
  if (!conds_v.is_array()) conds_v = json::array();
  json::array& conds = conds_v.as_array();
  bool changed = false;
  for (const ConditionDefault& d : kConditions) {
    Condition want{d.type, d.ok_reason, d.ok_message};
    std::string want_status = "False";
    for (const Condition& f : failures) {
      if (f.type == d.type) {
        want = f;
        want_status = "True";
      }
    }
    json::object* old = nullptr;
    for (auto& c : conds) {
      if (c.is_object() && StringField(c.as_object(), "type") == d.type) old = &c.as_object();
    }
    if (old == nullptr) {
      conds.push_back(json::object{{"type", want.type},
                                   {"status", want_status},
                                   {"lastTransitionTime", now},
                                   {"reason", want.reason},
                                   {"message", want.message}});
      changed = true;
      continue;
    }
    if (StringField(*old, "status") != want_status || StringField(*old, "reason") != want.reason ||
        StringField(*old, "message") != want.message) {
      if (StringField(*old, "status") != want_status) (*old)["lastTransitionTime"] = now;
      (*old)["status"] = want_status;
      (*old)["reason"] = want.reason;
      (*old)["message"] = want.message;
      changed = true;
    }
  }
  return changed;
}

bool Finalized(const json::object& ns) {
  const json::array* f = api::GetArray(ns, "spec.finalizers");
  return f == nullptr || f->empty();
}

// spec.finalizers without ours, sorted and de-duplicated as upstream writes them.
void DropOurFinalizer(json::object& ns) {
  std::set<std::string> rest;
  if (const json::array* f = api::GetArray(ns, "spec.finalizers")) {
    for (const auto& v : *f) {
      if (v.is_string() && v.as_string() != kNamespaceFinalizer)
        rest.insert(std::string(v.as_string()));
    }
  }
  json::array out;
  for (const auto& s : rest) out.emplace_back(s);
  api::MutableObjectAt(ns, "spec")["finalizers"] = std::move(out);
}

std::string GvrString(const client::Resource& r) {
  return r.group + "/" + r.version + ", Resource=" + r.resource;
}

std::string Join(std::vector<std::string> parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace

struct NamespaceController::Totals {
  int64_t estimate = 0;
  std::map<std::string, int> remaining;   // "<resource>.<group>" -> count
  std::map<std::string, int> finalizers;  // finalizer -> count
};

asio::awaitable<Result<json::object>> FinalizeNamespace(client::Client& client, json::object ns) {
  client::Resource res = resources::Namespaces();
  if constexpr (kUseFinalizeSubresource) {
    json::object body = ns;
    client::WriteOptions opts;
    std::string subresource = "finalize";
    auto r = co_await client.Update(res, std::move(body), std::move(subresource), std::move(opts));
    if (r.has_value() || !r.error().Is(Code::kNotFound)) co_return r;
    // 404: either the namespace is gone or the subresource is not served.
    std::string cluster_scope;
    std::string name(api::Name(ns));
    auto live = co_await client.Get(res, cluster_scope, name);
    if (!live.has_value()) co_return r;
  }
  client::WriteOptions opts;
  std::string subresource;
  co_return co_await client.Update(std::move(res), std::move(ns), std::move(subresource),
                                   std::move(opts));
}

NamespaceController::NamespaceController(ControllerContext& ctx,
                                         std::shared_ptr<KindCatalog> catalog)
    : ctx_(ctx),
      catalog_(std::move(catalog)),
      informer_(ctx.informers.For(resources::Namespaces())),
      queue_(ctx.NewQueue()) {
  WorkQueue* q = &queue_;
  // Only namespaces being deleted need work. Mini8s has one API server, so upstream's 5 s delay
  // (for HA servers to observe the deletion) is not needed.
  client::EventHandlers h;
  h.on_add = [q](const client::ObjectPtr& ns) {
    if (api::IsBeingDeleted(*ns)) q->Add(std::string(api::Name(*ns)));
  };
  h.on_update = [q](const client::ObjectPtr& old_ns, const client::ObjectPtr& ns) {
    if (!api::IsBeingDeleted(*ns)) return;
    // Status-only changes are the controller's own writes: requeues already cover them.
    auto same = [&](std::string_view path) {
      const json::value* a = api::FindPath(*old_ns, path);
      const json::value* b = api::FindPath(*ns, path);
      return (a == nullptr) == (b == nullptr) && (a == nullptr || *a == *b);
    };
    if (api::IsBeingDeleted(*old_ns) && same("spec") && same("metadata.finalizers")) return;
    q->Add(std::string(api::Name(*ns)));
  };
  informer_.AddEventHandlers(std::move(h));
}

asio::awaitable<Result<json::object>> NamespaceController::UpdateStatus(json::object ns) {
  client::Resource res = resources::Namespaces();
  co_return co_await ctx_.client.UpdateStatus(std::move(res), std::move(ns));
}

asio::awaitable<Status> NamespaceController::DeleteResourceContent(client::Resource resource,
                                                                   std::string ns, Totals* totals) {
  client::Client& client = ctx_.client;
  client::ListOptions list_opts;
  auto listed = co_await client.List(resource, ns, list_opts);
  if (!listed.has_value()) {
    // A kind that is not served (a CRD being removed) has nothing to delete.
    if (listed.error().Is(Code::kNotFound)) co_return Status::OK();
    co_return listed.error();
  }
  // Graceful pods: the longest grace period of a pod still running (upstream's estimate).
  int64_t estimate = 0;
  bool pods = resource.group.empty() && resource.resource == "pods";
  std::vector<std::string> errors;
  for (const json::object& item : listed->items) {
    if (pods) {
      std::string_view phase = api::GetString(item, "status.phase");
      if (phase != "Succeeded" && phase != "Failed") {
        estimate =
            std::max(estimate, api::GetInt(item, "spec.terminationGracePeriodSeconds").value_or(0));
      }
    }
    if (api::IsBeingDeleted(item)) continue;
    client::DeleteOptions opts;
    opts.propagation_policy = "Background";
    opts.precondition_uid = std::string(api::Uid(item));
    std::string name(api::Name(item));
    auto d = co_await client.Delete(resource, ns, name, opts);
    if (!d.has_value() && !d.error().Is(Code::kNotFound) && !d.error().Is(Code::kConflict)) {
      errors.push_back(d.error().message());
    }
  }
  if (!errors.empty()) co_return Status::Unavailable(Join(std::move(errors), ", "));

  auto left = co_await client.List(resource, ns, list_opts);
  if (!left.has_value()) {
    if (left.error().Is(Code::kNotFound)) co_return Status::OK();
    co_return left.error();
  }
  if (left->items.empty()) co_return Status::OK();
  std::map<std::string, int> finalizers;
  for (const json::object& item : left->items) {
    for (const std::string& f : api::Finalizers(item)) ++finalizers[f];
  }
  totals->remaining[resource.resource + "." + resource.group] +=
      static_cast<int>(left->items.size());
  for (const auto& [f, n] : finalizers) totals->finalizers[f] += n;
  if (estimate == 0 && !finalizers.empty()) estimate = kFinalizerEstimateSeconds;
  totals->estimate = std::max(totals->estimate, estimate);
  if (estimate == 0) {
    co_return Status::Unavailable("unexpected items still remain in namespace: " + ns +
                                  " for gvr: " + GvrString(resource));
  }
  co_return Status::OK();
}

asio::awaitable<Result<Requeue>> NamespaceController::Reconcile(std::string key) {
  client::Client& client = ctx_.client;
  const client::Resource ns_res = resources::Namespaces();
  const std::string cluster_scope;
  // Several writers edit a terminating namespace: always start from the live object.
  auto got = co_await client.Get(ns_res, cluster_scope, key);
  if (!got.has_value()) {
    if (got.error().Is(Code::kNotFound)) co_return Requeue{};
    co_return got.error();
  }
  json::object ns = std::move(*got);
  if (!api::IsBeingDeleted(ns)) co_return Requeue{};
  const std::string uid(api::Uid(ns));

  // 1. Terminating.
  for (int attempt = 0; api::GetString(ns, "status.phase") != "Terminating"; ++attempt) {
    json::object upd = ns;
    api::MutableObjectAt(upd, "status")["phase"] = "Terminating";
    auto w = co_await UpdateStatus(std::move(upd));
    if (w.has_value()) {
      ns = std::move(*w);
      break;
    }
    if (w.error().Is(Code::kNotFound)) co_return Requeue{};
    if (!w.error().Is(Code::kConflict) || attempt + 1 >= kMaxConflictRetries) co_return w.error();
    auto again = co_await client.Get(ns_res, cluster_scope, key);
    if (!again.has_value()) {
      if (again.error().Is(Code::kNotFound)) co_return Requeue{};
      co_return again.error();
    }
    if (api::Uid(*again) != uid)
      co_return Status::Conflict("namespace uid has changed across retries");
    ns = std::move(*again);
  }
  if (!api::IsBeingDeleted(ns) || Finalized(ns)) co_return Requeue{};

  // 2. Delete the content of every namespaced kind.
  std::vector<Condition> failures;
  std::vector<std::string> errors;
  Status discovery = catalog_->Complete();
  if (!discovery.ok()) {
    failures.push_back(
        {"NamespaceDeletionDiscoveryFailure", "DiscoveryFailed", discovery.message()});
    errors.push_back(discovery.message());
  }
  Totals totals;
  std::vector<std::string> content_errors;
  for (const client::Resource& r : catalog_->Resources({"delete", "list"}, true)) {
    Status s = co_await DeleteResourceContent(r, key, &totals);
    if (!s.ok()) content_errors.push_back(s.message());
  }
  if (!content_errors.empty()) {
    std::vector<std::string> sorted = content_errors;
    std::sort(sorted.begin(), sorted.end());
    failures.push_back({"NamespaceDeletionContentFailure", "ContentDeletionFailed",
                        "Failed to delete all resource types, " + std::to_string(sorted.size()) +
                            " remaining: " + Join(sorted, ", ")});
    errors.insert(errors.end(), content_errors.begin(), content_errors.end());
  }
  if (!totals.remaining.empty()) {
    std::vector<std::string> parts;
    for (const auto& [gr, n] : totals.remaining) {
      parts.push_back(gr + " has " + std::to_string(n) + " resource instances");
    }
    std::sort(parts.begin(), parts.end());
    failures.push_back({"NamespaceContentRemaining", "SomeResourcesRemain",
                        "Some resources are remaining: " + Join(parts, ", ")});
  }
  if (!totals.finalizers.empty()) {
    std::vector<std::string> parts;
    for (const auto& [f, n] : totals.finalizers) {
      parts.push_back(f + " in " + std::to_string(n) + " resource instances");
    }
    std::sort(parts.begin(), parts.end());
    failures.push_back(
        {"NamespaceFinalizersRemaining", "SomeFinalizersRemain",
         "Some content in the namespace has finalizers remaining: " + Join(parts, ", ")});
  }

  // 3. Conditions (always written when they changed, so a recovery shows too).
  json::object with_conditions = ns;
  if (UpdateConditions(with_conditions, failures, FormatRfc3339(ctx_.clock.Now()))) {
    auto w = co_await UpdateStatus(std::move(with_conditions));
    if (w.has_value()) {
      ns = std::move(*w);
    } else {
      MINI8S_LOG(WARNING) << "namespace controller: couldn't update status conditions of " << key
                          << ": " << w.error().ToString();
    }
  }
  if (!errors.empty()) co_return Status::Unavailable(Join(std::move(errors), "; "));

  // 4. Wait for graceful deletions and finalizers.
  if (totals.estimate > 0) {
    MINI8S_VLOG(2) << "namespace controller: some content remains in namespace " << key
                   << ", estimate " << totals.estimate << " seconds before it is removed";
    co_return Requeue{true, std::chrono::seconds(totals.estimate / 2 + 1)};
  }

  // 5. Finalize.
  for (int attempt = 0;; ++attempt) {
    json::object fin = ns;
    DropOurFinalizer(fin);
    auto w = co_await FinalizeNamespace(client, std::move(fin));
    if (w.has_value() || w.error().Is(Code::kNotFound)) break;
    if (!w.error().Is(Code::kConflict) || attempt + 1 >= kMaxConflictRetries) co_return w.error();
    auto again = co_await client.Get(ns_res, cluster_scope, key);
    if (!again.has_value()) {
      if (again.error().Is(Code::kNotFound)) break;
      co_return again.error();
    }
    if (api::Uid(*again) != uid)
      co_return Status::Conflict("namespace uid has changed across retries");
    ns = std::move(*again);
    if (Finalized(ns)) break;
  }
  co_return Requeue{};
}

Status StartNamespaceController(ControllerContext& ctx) {
  return StartNamespaceController(ctx, KindCatalog::ForContext(ctx));
}

Status StartNamespaceController(ControllerContext& ctx, std::shared_ptr<KindCatalog> catalog) {
  if (!catalog) return Status::Invalid("namespace controller: no kind catalog");
  auto c = std::make_unique<NamespaceController>(ctx, std::move(catalog));
  WorkQueue& q = c->queue();
  const client::Informer* inf = &c->informer();
  ctx.Run(std::move(c), q, {inf});
  return Status::OK();
}

}  // namespace mini8s::controllers
