// The controller manager's shared pieces (kube-controller-manager's shape in one process):
// SharedInformers (one informer per resource, shared by every controller that reads it),
// EventRecorder (core/v1 Events with upstream's de-duplication by count), and ControllerContext,
// which is what every controller factory receives. A controller is started by a factory
// `Status StartXxx(ControllerContext& ctx)` that creates its work queue, registers informer
// handlers through ctx.informers, and hands its Controller to ctx.Run(); the manager starts the
// informers afterwards and stops everything on shutdown.
//
// Concurrency: everything here lives on ctx.executor (one strand / single-threaded io_context).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/client/client.h"
#include "mini8s/client/informer.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/status.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/work_queue.h"

namespace mini8s::controllers {

// Well-known resources, spelled once.
namespace resources {
client::Resource Pods();
client::Resource Nodes();
client::Resource Namespaces();
client::Resource Services();
client::Resource Endpoints();
client::Resource EndpointSlices();
client::Resource ConfigMaps();
client::Resource Secrets();
client::Resource ServiceAccounts();
client::Resource Events();
client::Resource Leases();
client::Resource PersistentVolumes();
client::Resource PersistentVolumeClaims();
client::Resource StorageClasses();
client::Resource Deployments();
client::Resource ReplicaSets();
client::Resource DaemonSets();
client::Resource StatefulSets();
client::Resource ControllerRevisions();
client::Resource Jobs();
client::Resource CronJobs();
}  // namespace resources

// One informer per resource across all namespaces. Every informer carries the namespace and owner
// indexes; pods also carry the node index (spec.nodeName).
class SharedInformers {
 public:
  SharedInformers(client::Client& client, boost::asio::any_io_executor executor,
                  client::InformerOptions defaults = {});
  ~SharedInformers();
  SharedInformers(const SharedInformers&) = delete;
  SharedInformers& operator=(const SharedInformers&) = delete;

  // The informer for `resource`, created on first use. Stable address until destruction.
  client::Informer& For(const client::Resource& resource);
  // An informer over only the objects `field_selector` selects (e.g. "metadata.name=x"), shared
  // by everyone asking for the same resource and selector: a controller that needs one object
  // per namespace then neither caches nor decodes every other object of the resource.
  client::Informer& ForFieldSelector(const client::Resource& resource,
                                     std::string_view field_selector);
  // Co_spawns Run for every informer not yet started (call after all controllers registered;
  // informers asked for later are started by calling Start again).
  void Start();
  void Stop();
  bool AllSynced() const;

 private:
  client::Client& client_;
  boost::asio::any_io_executor executor_;
  client::InformerOptions defaults_;
  struct Entry {
    std::unique_ptr<client::Informer> informer;
    bool started = false;
  };
  std::map<std::string, Entry, std::less<>> informers_;  // by group/version/resource
};

// Records core/v1 Events the way client-go's recorder does: the object reference, reason,
// message, type Normal|Warning, source component; a repeat of the same (object, reason, message)
// within the aggregation window bumps count and lastTimestamp instead of creating a new Event.
// Writes are fire-and-forget coroutines on the executor; failures are logged, never fatal.
class EventRecorder {
 public:
  EventRecorder(client::Client& client, boost::asio::any_io_executor executor, const Clock& clock,
                std::string component);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // `object` is the involved object (apiVersion/kind/metadata are read). type is "Normal" or
  // "Warning".
  void Event(const boost::json::object& object, std::string_view type, std::string_view reason,
             std::string message);
  // The most recent events (at least the last 2,048) as "<type> <reason> <message>" (tests).
  const std::vector<std::string>& recorded() const { return recorded_; }

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::vector<std::string> recorded_;
};

// Cluster facts controllers need (from the server's flags).
struct ClusterConfig {
  std::string cluster_cidr = "10.42.0.0/16";
  std::string service_cidr = "10.43.0.0/16";
  std::string cluster_dns = "10.43.0.10";
  std::string cluster_domain = "cluster.local";
  std::string ca_bundle_pem;     // published as kube-root-ca.crt in every namespace
  std::string api_server_host;   // address:port endpoints of the `kubernetes` service
  int api_server_port = 6443;
  std::string data_dir = "/var/lib/mini8s";
};

// What every controller factory receives.
class ControllerContext {
 public:
  ControllerContext(client::Client& client, boost::asio::any_io_executor executor,
                    const Clock& clock, ClusterConfig config = {});
  ~ControllerContext();
  ControllerContext(const ControllerContext&) = delete;
  ControllerContext& operator=(const ControllerContext&) = delete;

  client::Client& client;
  boost::asio::any_io_executor executor;
  const Clock& clock;
  ClusterConfig config;
  SharedInformers informers;
  EventRecorder& events(std::string_view component);

  // A new work queue owned by the context (rate-limited with the default limiter, on the clock).
  WorkQueue& NewQueue();
  // Takes ownership of `controller` and runs it with `workers` workers over `queue` once
  // `synced_by` have synced. Runners start when Start() is called (or at once after it).
  void Run(std::unique_ptr<Controller> controller, WorkQueue& queue,
           std::vector<const client::Informer*> synced_by, int workers = 1);
  // Runs a free-standing loop (a periodic resync, an allocator repair); it should end once
  // stopping() is true. The callable is kept alive as long as the context.
  void Spawn(std::function<boost::asio::awaitable<void>()> loop);
  // Starts informers and every registered runner.
  void Start();
  // Shuts every queue down and stops informers.
  void Stop();
  bool stopping() const { return stopping_; }

 private:
  struct Running;
  std::vector<std::unique_ptr<WorkQueue>> queues_;
  std::vector<std::unique_ptr<Running>> running_;
  std::vector<std::function<boost::asio::awaitable<void>()>> loops_;
  std::size_t loops_started_ = 0;
  std::map<std::string, std::unique_ptr<EventRecorder>, std::less<>> recorders_;
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace mini8s::controllers
