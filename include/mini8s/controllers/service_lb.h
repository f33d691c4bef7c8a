// ServiceLB (k3s's klipper-lb, status part only): every Service of type LoadBalancer without a
// spec.loadBalancerClass gets status.loadBalancer.ingress listing the addresses of the ready
// nodes (their ExternalIPs when any node has one, else their InternalIPs; IPv4 only, sorted),
// each with ipMode VIP. When some node carries the label svccontroller.k3s.cattle.io/enablelb,
// only nodes with enablelb=true serve (k3s's node pools). A service that stops being a
// LoadBalancer has its ingress cleared. The node data path (NodePort/LB rules) is net/'s job.
//
// Concurrency: lives on the executor of its informers and queue.
#pragma once

#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

inline constexpr std::string_view kEnableLbLabel = "svccontroller.k3s.cattle.io/enablelb";

class ServiceLbController final : public Controller {
 public:
  // Every reference must outlive the controller; handlers enqueue service keys, and any node
  // change enqueues every LoadBalancer service.
  ServiceLbController(client::Client& client, client::Informer& services, client::Informer& nodes,
                      WorkQueue& queue);
  std::string_view name() const override { return "servicelb-controller"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override;

  // The ingress list for a LoadBalancer service given the current nodes.
  boost::json::array Ingress() const;

 private:
  client::Client& client_;
  client::Informer& services_;
  client::Informer& nodes_;
};

Status StartServiceLbController(ControllerContext& ctx);

}  // namespace mini8s::controllers
