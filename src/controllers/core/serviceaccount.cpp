#include "mini8s/controllers/serviceaccount.h"

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/manager.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kRootCaDescription =
    "The CA bundle that verifies the API server's serving certificate for clients inside the "
    "cluster (kubernetes.default.svc or the service IP). Published by the root CA publisher; "
    "other uses are not guaranteed.";

bool IsActive(const client::Informer& namespaces, std::string_view name) {
  client::ObjectPtr ns = namespaces.indexer().Get(name);
  return ns != nullptr && api::GetString(*ns, "status.phase") == "Active";
}

// Creating content in a namespace that is gone or terminating fails for good: do not retry.
bool NamespaceGoneOrTerminating(const Status& s) {
  return s.Is(Code::kNotFound) || s.Is(Code::kForbidden);
}

}  // namespace

// ---- ServiceAccountsController ----

ServiceAccountsController::ServiceAccountsController(ControllerContext& ctx)
    : ctx_(ctx),
      namespaces_(ctx.informers.For(resources::Namespaces())),
      service_accounts_(ctx.informers.For(resources::ServiceAccounts())),
      queue_(ctx.NewQueue()) {
  WorkQueue* q = &queue_;
  client::EventHandlers ns_handlers;
  ns_handlers.on_add = [q](const client::ObjectPtr& ns) { q->Add(std::string(api::Name(*ns))); };
  ns_handlers.on_update = [q](const client::ObjectPtr&, const client::ObjectPtr& ns) {
    q->Add(std::string(api::Name(*ns)));
  };
  namespaces_.AddEventHandlers(std::move(ns_handlers));
  client::EventHandlers sa_handlers;
  sa_handlers.on_delete = [q](const client::DeletedObject& del) {
    if (del.object) q->Add(std::string(api::Namespace(*del.object)));
  };
  service_accounts_.AddEventHandlers(std::move(sa_handlers));
}

asio::awaitable<Result<Requeue>> ServiceAccountsController::Reconcile(std::string key) {
  // Only Active namespaces get content (a terminating one would refuse it anyway).
  if (!IsActive(namespaces_, key)) co_return Requeue{};
  if (service_accounts_.indexer().Get(key, kDefaultServiceAccountName) != nullptr) {
    co_return Requeue{};
  }
  json::object sa{
      {"apiVersion", "v1"},
      {"kind", "ServiceAccount"},
      {"metadata", json::object{{"name", kDefaultServiceAccountName}, {"namespace", key}}}};
  client::Resource res = resources::ServiceAccounts();
  auto created = co_await ctx_.client.Create(std::move(res), std::move(sa));
  if (created.has_value() || created.error().Is(Code::kAlreadyExists) ||
      NamespaceGoneOrTerminating(created.error())) {
    co_return Requeue{};
  }
  co_return created.error();
}

Status StartServiceAccountController(ControllerContext& ctx) {
  auto c = std::make_unique<ServiceAccountsController>(ctx);
  WorkQueue& q = c->queue();
  std::vector<const client::Informer*> synced{&c->namespaces(), &c->service_accounts()};
  ctx.Run(std::move(c), q, std::move(synced));
  return Status::OK();
}

// ---- RootCaPublisher ----

RootCaPublisher::RootCaPublisher(ControllerContext& ctx)
    : ctx_(ctx),
      namespaces_(ctx.informers.For(resources::Namespaces())),
      // Only the configmaps it publishes: every other configmap write would otherwise be sent
      // to, decoded and cached by the control plane for nothing.
      config_maps_(ctx.informers.ForFieldSelector(
          resources::ConfigMaps(), "metadata.name=" + std::string(kRootCaConfigMapName))),
      queue_(ctx.NewQueue()) {
  WorkQueue* q = &queue_;
  client::EventHandlers ns_handlers;
  ns_handlers.on_add = [q](const client::ObjectPtr& ns) { q->Add(std::string(api::Name(*ns))); };
  ns_handlers.on_update = [q](const client::ObjectPtr&, const client::ObjectPtr& ns) {
    if (api::GetString(*ns, "status.phase") == "Active") q->Add(std::string(api::Name(*ns)));
  };
  namespaces_.AddEventHandlers(std::move(ns_handlers));
  auto ours = [q](const json::object& cm) {
    if (api::Name(cm) == kRootCaConfigMapName) q->Add(std::string(api::Namespace(cm)));
  };
  client::EventHandlers cm_handlers;
  cm_handlers.on_update = [ours](const client::ObjectPtr&, const client::ObjectPtr& cm) {
    ours(*cm);
  };
  cm_handlers.on_delete = [ours](const client::DeletedObject& del) {
    if (del.object) ours(*del.object);
  };
  config_maps_.AddEventHandlers(std::move(cm_handlers));
}

asio::awaitable<Result<Requeue>> RootCaPublisher::Reconcile(std::string key) {
  if (!IsActive(namespaces_, key)) co_return Requeue{};
  const std::string& bundle = ctx_.config.ca_bundle_pem;
  json::object want_data{{"ca.crt", bundle}};
  client::Resource res = resources::ConfigMaps();
  client::ObjectPtr cm = config_maps_.indexer().Get(key, kRootCaConfigMapName);
  if (cm == nullptr) {
    json::object obj{
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         json::object{{"name", kRootCaConfigMapName},
                      {"namespace", key},
                      {"annotations", json::object{{kDescriptionAnnotation, kRootCaDescription}}}}},
        {"data", std::move(want_data)}};
    auto created = co_await ctx_.client.Create(std::move(res), std::move(obj));
    if (created.has_value() || created.error().Is(Code::kAlreadyExists) ||
        NamespaceGoneOrTerminating(created.error())) {
      co_return Requeue{};
    }
    co_return created.error();
  }
  const json::object* data = api::GetObject(*cm, "data");
  bool data_ok = data != nullptr && *data == want_data && !cm->contains("binaryData");
  bool described = !api::Annotation(*cm, kDescriptionAnnotation).value_or("").empty();
  if (data_ok && described) co_return Requeue{};
  json::object upd = *cm;  // a copy: cached objects are never modified
  upd["data"] = std::move(want_data);
  upd.erase("binaryData");
  api::SetAnnotation(upd, kDescriptionAnnotation, kRootCaDescription);
  auto updated = co_await ctx_.client.Update(std::move(res), std::move(upd));
  if (updated.has_value() || updated.error().Is(Code::kNotFound)) co_return Requeue{};
  co_return updated.error();
}

Status StartRootCaPublisher(ControllerContext& ctx) {
  if (ctx.config.ca_bundle_pem.empty()) {
    return Status::Invalid("root CA publisher: ClusterConfig.ca_bundle_pem is empty");
  }
  auto c = std::make_unique<RootCaPublisher>(ctx);
  WorkQueue& q = c->queue();
  std::vector<const client::Informer*> synced{&c->namespaces(), &c->config_maps()};
  ctx.Run(std::move(c), q, std::move(synced));
  return Status::OK();
}

}  // namespace mini8s::controllers
