// The controller manager and scheduler of `mini8s server`, in-process: one thread running an
// io_context with every controller on a LocalClient (no HTTP), as kube-controller-manager and
// kube-scheduler would run against kube-apiserver.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "mini8s/common/result.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/server/api_server.h"

namespace mini8s::cli {

struct ControlPlaneOptions {
  controllers::ClusterConfig config;
  bool disable_controller_manager = false;
  bool disable_scheduler = false;
  bool disable_servicelb = false;      // --disable servicelb
  bool disable_local_storage = false;  // --disable local-storage
  std::chrono::seconds node_monitor_grace_period{40};
};

class ControlPlane {
 public:
  // Starts every controller and the scheduler on a thread of their own. `api` must outlive it.
  static Result<std::unique_ptr<ControlPlane>> Start(server::ApiServer& api,
                                                     ControlPlaneOptions options);
  ~ControlPlane();  // Stop()
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Stops the controllers and joins the thread. Idempotent.
  void Stop();

 private:
  ControlPlane();
  // Heap-held so that a shutdown that does not drain in time can leave them to the process exit
  // instead of destroying coroutine frames under live objects.
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<controllers::ControllerContext> ctx_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace mini8s::cli
