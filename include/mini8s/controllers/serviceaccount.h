// ServiceAccountsController and RootCaPublisher: the two per-namespace "ensure" controllers of
// upstream (pkg/controller/serviceaccount's ServiceAccountsController and
// pkg/controller/certificates/rootcacertpublisher). Keys are namespace names.
//  - ServiceAccountsController: every Active namespace has a ServiceAccount `default`; it is
//    created when a namespace appears and recreated when deleted. Namespaces that are not Active
//    are left alone.
//  - RootCaPublisher: every namespace has a ConfigMap `kube-root-ca.crt` whose data is exactly
//    {"ca.crt": <ClusterConfig.ca_bundle_pem>} and which carries the kubernetes.io/description
//    annotation; it is recreated when deleted and rewritten when changed. Creation in a
//    namespace that is gone or terminating is not retried.
//
// Concurrency: both run on the context's executor and read only their informer caches before
// writing.
#pragma once

#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "mini8s/client/informer.h"
#include "mini8s/common/result.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

class ControllerContext;

inline constexpr std::string_view kDefaultServiceAccountName = "default";
inline constexpr std::string_view kRootCaConfigMapName = "kube-root-ca.crt";
inline constexpr std::string_view kDescriptionAnnotation = "kubernetes.io/description";

class ServiceAccountsController final : public Controller {
 public:
  // `ctx` must outlive the controller; registers namespace and serviceaccount handlers.
  explicit ServiceAccountsController(ControllerContext& ctx);
  std::string_view name() const override { return "serviceaccount"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  WorkQueue& queue() { return queue_; }
  const client::Informer& namespaces() const { return namespaces_; }
  const client::Informer& service_accounts() const { return service_accounts_; }

 private:
  ControllerContext& ctx_;
  client::Informer& namespaces_;
  client::Informer& service_accounts_;
  WorkQueue& queue_;
};

class RootCaPublisher final : public Controller {
 public:
  // `ctx` must outlive the publisher; the bundle is ctx.config.ca_bundle_pem.
  explicit RootCaPublisher(ControllerContext& ctx);
  std::string_view name() const override { return "root-ca-cert-publisher"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  WorkQueue& queue() { return queue_; }
  const client::Informer& namespaces() const { return namespaces_; }
  const client::Informer& config_maps() const { return config_maps_; }

 private:
  ControllerContext& ctx_;
  client::Informer& namespaces_;
  client::Informer& config_maps_;
  WorkQueue& queue_;
};

Status StartServiceAccountController(ControllerContext& ctx);
// kInvalid when ctx.config.ca_bundle_pem is empty (there would be nothing to publish).
Status StartRootCaPublisher(ControllerContext& ctx);

}  // namespace mini8s::controllers
