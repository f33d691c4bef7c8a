#include "mini8s/controllers/quota.h"

#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/quota.h"
#include "mini8s/client/client.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;
namespace quota = api::quota;

namespace resources {
client::Resource ResourceQuotas() { return {"", "v1", "resourcequotas", "ResourceQuota", true}; }
}  // namespace resources

namespace {

// The served version of the built-in groups a count/<resource>.<group> quota may name; other
// groups (custom resources) are listed at v1.
std::string VersionOf(std::string_view group) {
  if (group == "autoscaling") return "v2";
  return "v1";
}

}  // namespace

ResourceQuotaController::ResourceQuotaController(ControllerContext& ctx)
    : ctx_(ctx),
      quotas_(ctx.informers.For(resources::ResourceQuotas())),
      pods_(ctx.informers.For(resources::Pods())),
      services_(ctx.informers.For(resources::Services())),
      pvcs_(ctx.informers.For(resources::PersistentVolumeClaims())),
      queue_(ctx.NewQueue()) {
  // A quota is recounted when it appears and when its spec.hard differs from status.hard, not
  // on every status write: a recount racing an admission charge (object not stored yet) would
  // undo the charge.
  client::EventHandlers qh;
  qh.on_add = [this](const client::ObjectPtr& q) { queue_.Add(client::ObjectKey(*q)); };
  qh.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& q) {
    const json::value* spec_hard = api::FindPath(*q, "spec.hard");
    const json::value* status_hard = api::FindPath(*q, "status.hard");
    if ((spec_hard == nullptr) != (status_hard == nullptr) ||
        (spec_hard != nullptr && *spec_hard != *status_hard)) {
      queue_.Add(client::ObjectKey(*q));
    }
  };
  quotas_.AddEventHandlers(std::move(qh));
  // Usage changes when objects go or change; creates were charged by admission already, but a
  // recount on add also catches objects created while no quota was watching.
  auto by_namespace = [this]() {
    client::EventHandlers h;
    h.on_add = [this](const client::ObjectPtr& o) { EnqueueNamespace(api::Namespace(*o)); };
    h.on_update = [this](const client::ObjectPtr& old_obj, const client::ObjectPtr& o) {
      // Status-only churn (pod phases) matters only when the pod became terminal.
      auto spec_of = [](const json::object& x) {
        const json::value* v = api::FindPath(x, "spec");
        return v ? *v : json::value();
      };
      if (api::GetString(*old_obj, "status.phase") != api::GetString(*o, "status.phase") ||
          spec_of(*old_obj) != spec_of(*o) ||
          api::IsBeingDeleted(*old_obj) != api::IsBeingDeleted(*o)) {
        EnqueueNamespace(api::Namespace(*o));
      }
    };
    h.on_delete = [this](const client::DeletedObject& d) {
      if (d.object) EnqueueNamespace(api::Namespace(*d.object));
    };
    return h;
  };
  pods_.AddEventHandlers(by_namespace());
  services_.AddEventHandlers(by_namespace());
  pvcs_.AddEventHandlers(by_namespace());
}

void ResourceQuotaController::EnqueueNamespace(std::string_view ns) {
  for (const auto& q : quotas_.indexer().List()) {
    if (api::Namespace(*q) == ns) queue_.Add(client::ObjectKey(*q));
  }
}

void ResourceQuotaController::EnqueueAll() {
  for (const std::string& key : quotas_.indexer().Keys()) queue_.Add(key);
}

asio::awaitable<Result<Requeue>> ResourceQuotaController::Reconcile(std::string key) {
  client::ObjectPtr cached = quotas_.indexer().Get(key);
  if (!cached) co_return Requeue{};
  const json::object& q = *cached;
  std::string ns(api::Namespace(q));
  quota::ResourceList hard = quota::ParseResourceList(api::GetObject(q, "spec.hard"));
  std::set<std::string, std::less<>> names = quota::Names(hard);
  // List every source once, then count.
  std::map<std::string, std::vector<json::object>> listed;
  for (const std::string& n : names) {
    auto src = quota::SourceOf(n);
    if (!src) continue;
    std::string id = src->group + "/" + src->resource;
    if (listed.count(id)) continue;
    client::Resource r{src->group, src->group.empty() ? "v1" : VersionOf(src->group), src->resource,
                       "", true};
    client::ListOptions all;  // a local: GCC 12 mishandles temporaries in co_await arguments
    auto list = co_await ctx_.client.List(r, ns, all);
    if (!list.ok()) {
      // A resource this server does not serve counts nothing (as upstream's missing evaluator).
      if (list.error().Is(Code::kNotFound)) {
        listed[id] = {};
        continue;
      }
      co_return list.error();
    }
    listed[id] = std::move(list->items);
  }
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(ctx_.clock.Now().time_since_epoch()).count();
  quota::ResourceList used = quota::ComputeUsage(
      names, [&](const quota::GroupResource& gr) { return listed[gr.group + "/" + gr.resource]; },
      now, &q);
  json::object status{{"hard", quota::ToJson(hard)}, {"used", quota::ToJson(used)}};
  const json::value* current = api::FindPath(q, "status");
  if (current != nullptr && *current == json::value(status)) co_return Requeue{};
  json::object updated = q;
  updated["status"] = std::move(status);
  client::Resource quotas = resources::ResourceQuotas();
  auto written = co_await ctx_.client.UpdateStatus(quotas, std::move(updated));
  if (!written.ok()) {
    if (written.error().Is(Code::kNotFound)) co_return Requeue{};
    co_return written.error();  // a conflict: admission charged meanwhile; count again
  }
  co_return Requeue{};
}

namespace {

asio::awaitable<void> ResyncLoop(ControllerContext* ctx, ResourceQuotaController* c,
                                 std::chrono::seconds period) {
  asio::steady_timer timer(ctx->executor);
  auto last = std::chrono::steady_clock::now();
  while (!ctx->stopping() && !c->queue().shutting_down()) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ctx->stopping() || c->queue().shutting_down()) break;
    if (std::chrono::steady_clock::now() - last >= period) {
      last = std::chrono::steady_clock::now();
      c->EnqueueAll();
    }
  }
}

}  // namespace

Status StartResourceQuotaController(ControllerContext& ctx, std::chrono::seconds resync) {
  auto c = std::make_unique<ResourceQuotaController>(ctx);
  ResourceQuotaController* raw = c.get();
  WorkQueue& q = c->queue();
  std::vector<const client::Informer*> synced{&c->quotas()};
  ctx.Run(std::move(c), q, std::move(synced));
  ControllerContext* cp = &ctx;
  ctx.Spawn([cp, raw, resync]() { return ResyncLoop(cp, raw, resync); });
  return Status::OK();
}

}  // namespace mini8s::controllers
