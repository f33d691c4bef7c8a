#include "cli/control_plane.h"

#include <boost/asio/post.hpp>

#include "mini8s/common/logging.h"
#include "mini8s/controllers/cronjob.h"
#include "mini8s/controllers/daemonset.h"
#include "mini8s/controllers/deployment.h"
#include "mini8s/controllers/endpoints.h"
#include "mini8s/controllers/garbage_collector.h"
#include "mini8s/controllers/job.h"
#include "mini8s/controllers/local_path.h"
#include "mini8s/controllers/namespace.h"
#include "mini8s/controllers/node.h"
#include "mini8s/controllers/quota.h"
#include "mini8s/controllers/replicaset.h"
#include "mini8s/controllers/service_lb.h"
#include "mini8s/controllers/serviceaccount.h"
#include "mini8s/controllers/statefulset.h"
#include "mini8s/scheduler/scheduler.h"

namespace mini8s::cli {

namespace asio = boost::asio;

ControlPlane::ControlPlane() : io_(std::make_unique<asio::io_context>()) {
  guard_.emplace(io_->get_executor());
}

Result<std::unique_ptr<ControlPlane>> ControlPlane::Start(server::ApiServer& api,
                                                          ControlPlaneOptions options) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  // One identity for the in-process components until RBAC gives each its own
  // (system:kube-controller-manager, system:kube-scheduler).
  cp->client_ = api.NewLocalClient(
      server::UserInfo{"system:kube-controller-manager", "", {"system:masters",
                                                              "system:authenticated"}});
  cp->ctx_ = std::make_unique<controllers::ControllerContext>(
      *cp->client_, cp->io_->get_executor(), RealClock::Instance(), options.config);
  controllers::ControllerContext& ctx = *cp->ctx_;

  using StartFn = Status (*)(controllers::ControllerContext&);
  struct Entry {
    const char* name;
    StartFn start;
  };
  std::vector<Entry> entries;
  if (!options.disable_controller_manager) {
    entries = {
        {"deployment", controllers::StartDeploymentController},
        {"replicaset", controllers::StartReplicaSetController},
        {"daemonset", controllers::StartDaemonSetController},
        {"statefulset", controllers::StartStatefulSetController},
        {"job", controllers::StartJobController},
        {"ttl-after-finished", controllers::StartTtlAfterFinishedController},
        {"cronjob", controllers::StartCronJobController},
        {"kubernetes-service", controllers::StartKubernetesServiceController},
        {"endpoints", controllers::StartEndpointsController},
        {"endpointslice", controllers::StartEndpointSliceController},
        {"servicelb", controllers::StartServiceLbController},
        {"local-path-provisioner", controllers::StartLocalPathProvisioner},
        {"serviceaccount", controllers::StartServiceAccountController},
        {"root-ca-cert-publisher", controllers::StartRootCaPublisher},
        {"node-ipam", controllers::StartNodeIpamController},
        {"resourcequota",
         [](controllers::ControllerContext& c) {
           return controllers::StartResourceQuotaController(c);
         }},
    };
  }
  if (options.disable_servicelb || options.disable_local_storage) {
    std::erase_if(entries, [&](const Entry& e) {
      return (options.disable_servicelb && std::string_view(e.name) == "servicelb") ||
             (options.disable_local_storage &&
              std::string_view(e.name) == "local-path-provisioner");
    });
  }
  if (!options.disable_scheduler) entries.push_back({"scheduler", scheduler::StartScheduler});
  for (const Entry& e : entries) {
    Status s = e.start(ctx);
    if (!s.ok()) return Status(s.code(), std::string(e.name) + ": " + s.message());
  }
  if (!options.disable_controller_manager) {
    controllers::NodeLifecycleOptions nlo;
    nlo.grace_period = options.node_monitor_grace_period;
    MINI8S_RETURN_IF_ERROR(controllers::StartNodeLifecycleController(ctx, nlo));
    // Their kind catalogs follow CRDs through the CRD informer (the server's registry would only
    // be rescanned periodically).
    MINI8S_RETURN_IF_ERROR(controllers::StartGarbageCollector(ctx));
    MINI8S_RETURN_IF_ERROR(controllers::StartNamespaceController(ctx));
  }
  asio::post(*cp->io_, [&ctx] { ctx.Start(); });
  cp->thread_ = std::thread([io = cp->io_.get()] { io->run(); });
  MINI8S_LOG(INFO) << "controllers started: " << entries.size() + 3;
  return cp;
}

ControlPlane::~ControlPlane() { Stop(); }

void ControlPlane::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!thread_.joinable()) return;
  // Queues shut down and informers stop; the io_context runs out of work once every worker and
  // watch has ended. Whatever has not ended after the grace period is cut off.
  asio::post(*io_, [this] {
    ctx_->Stop();
    guard_.reset();
  });
  // Periodic loops (resyncs, repair timers) may not notice for seconds; a short grace keeps
  // `mini8s server` quick to stop.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!io_->stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  bool drained = io_->stopped();
  io_->stop();
  thread_.join();
  if (!drained) {
    // Destroying suspended coroutines now could touch objects already gone; the process is
    // exiting, so leave them.
    (void)ctx_.release();
    (void)client_.release();
    (void)io_.release();
  }
}

}  // namespace mini8s::cli
