#include "mini8s/controllers/manager.h"

#include <unistd.h>

#include <cstdio>
#include <deque>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"

namespace mini8s::controllers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace resources {
client::Resource Pods() { return {"", "v1", "pods", "Pod", true}; }
client::Resource Nodes() { return {"", "v1", "nodes", "Node", false}; }
client::Resource Namespaces() { return {"", "v1", "namespaces", "Namespace", false}; }
client::Resource Services() { return {"", "v1", "services", "Service", true}; }
client::Resource Endpoints() { return {"", "v1", "endpoints", "Endpoints", true}; }
client::Resource EndpointSlices() {
  return {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true};
}
client::Resource ConfigMaps() { return {"", "v1", "configmaps", "ConfigMap", true}; }
client::Resource Secrets() { return {"", "v1", "secrets", "Secret", true}; }
client::Resource ServiceAccounts() { return {"", "v1", "serviceaccounts", "ServiceAccount", true}; }
client::Resource Events() { return {"", "v1", "events", "Event", true}; }
client::Resource Leases() { return {"coordination.k8s.io", "v1", "leases", "Lease", true}; }
client::Resource PersistentVolumes() {
  return {"", "v1", "persistentvolumes", "PersistentVolume", false};
}
client::Resource PersistentVolumeClaims() {
  return {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true};
}
client::Resource StorageClasses() {
  return {"storage.k8s.io", "v1", "storageclasses", "StorageClass", false};
}
client::Resource Deployments() { return {"apps", "v1", "deployments", "Deployment", true}; }
client::Resource ReplicaSets() { return {"apps", "v1", "replicasets", "ReplicaSet", true}; }
client::Resource DaemonSets() { return {"apps", "v1", "daemonsets", "DaemonSet", true}; }
client::Resource StatefulSets() { return {"apps", "v1", "statefulsets", "StatefulSet", true}; }
client::Resource ControllerRevisions() {
  return {"apps", "v1", "controllerrevisions", "ControllerRevision", true};
}
client::Resource Jobs() { return {"batch", "v1", "jobs", "Job", true}; }
client::Resource CronJobs() { return {"batch", "v1", "cronjobs", "CronJob", true}; }
}  // namespace resources

namespace {

void LogFailure(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& err) {
    MINI8S_LOG(ERROR) << what << " ended by an exception: " << err.what();
  }
}

std::string ResourceKey(const client::Resource& r) {
  return r.group + "/" + r.version + "/" + r.resource;
}

}  // namespace

// ---- SharedInformers ----

SharedInformers::SharedInformers(client::Client& client, asio::any_io_executor executor,
                                 client::InformerOptions defaults)
    : client_(client), executor_(std::move(executor)), defaults_(std::move(defaults)) {}

SharedInformers::~SharedInformers() { Stop(); }

client::Informer& SharedInformers::For(const client::Resource& resource) {
  return ForFieldSelector(resource, "");
}

client::Informer& SharedInformers::ForFieldSelector(const client::Resource& resource,
                                                    std::string_view field_selector) {
  std::string key = ResourceKey(resource);
  if (!field_selector.empty()) key += "?fieldSelector=" + std::string(field_selector);
  auto it = informers_.find(key);
  if (it != informers_.end()) return *it->second.informer;
  client::InformerOptions opts = defaults_;
  opts.field_selector = std::string(field_selector);
  auto inf = std::make_unique<client::Informer>(client_, resource, opts);
  inf->AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
  inf->AddIndex(std::string(client::kOwnerIndex), client::IndexByOwnerUid);
  inf->AddIndex(std::string(client::kOrphanIndex), client::IndexOrphansByNamespace);
  if (resource.group.empty() && resource.resource == "pods") {
    inf->AddIndex(std::string(client::kNodeIndex), client::IndexByNodeName);
  }
  auto& entry = informers_[key];
  entry.informer = std::move(inf);
  return *entry.informer;
}

void SharedInformers::Start() {
  for (auto& [key, entry] : informers_) {
    if (entry.started) continue;
    entry.started = true;
    client::Informer* inf = entry.informer.get();
    asio::co_spawn(executor_, inf->Run(),
                   [key = key](std::exception_ptr e) { LogFailure("informer " + key, e); });
  }
}

void SharedInformers::Stop() {
  for (auto& [key, entry] : informers_) entry.informer->Stop();
}

bool SharedInformers::AllSynced() const {
  for (const auto& [key, entry] : informers_) {
    if (entry.started && !entry.informer->HasSynced()) return false;
  }
  return true;
}

// ---- EventRecorder ----

struct EventRecorder::Impl {
  client::Client* client = nullptr;
  asio::any_io_executor executor;
  const Clock* clock = nullptr;
  std::string component;
  std::string host;
  // (involved uid, reason, message, type) -> the Event's name and namespace and its count, so a
  // repeat bumps count instead of creating another object (client-go's EventCorrelator).
  struct Seen {
    std::string ns, name;
    int64_t count = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::map<std::string, Seen> seen;
  // Writes wait here and are sent by at most kMaxWriters coroutines, in order: client-go's
  // broadcaster sends one event at a time from a bounded channel. Unbounded fire-and-forget
  // writes opened a connection per concurrent event on the agent (a TLS handshake each) and let a
  // count bump overtake the create it bumps.
  struct Pending {
    std::string seen_key;
    json::object event;
    bool bump = false;
  };
  std::deque<Pending> queue;
  int writers = 0;
  bool stopped = false;
};

EventRecorder::EventRecorder(client::Client& client, asio::any_io_executor executor,
                             const Clock& clock, std::string component)
    : impl_(std::make_shared<Impl>()) {
  impl_->client = &client;
  impl_->executor = std::move(executor);
  impl_->clock = &clock;
  impl_->component = std::move(component);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) impl_->host = host;
}

EventRecorder::~EventRecorder() { impl_->stopped = true; }

namespace {

// Events waiting beyond this are dropped (client-go's broadcaster drops beyond 1,000 queued;
// a ReplicaSet scaled to 3,000 records 3,000 at once here).
constexpr std::size_t kMaxQueuedEvents = 10000;
constexpr int kMaxWriters = 4;

asio::awaitable<void> WriteEvent(std::shared_ptr<EventRecorder::Impl> impl, std::string seen_key,
                                 json::object event, bool bump) {
  if (impl->stopped) co_return;
  client::Resource res = resources::Events();
  if (bump) {
    auto& s = impl->seen[seen_key];
    std::string now = FormatRfc3339(impl->clock->Now());
    std::string patch = json::serialize(json::object{
        {"count", s.count}, {"lastTimestamp", now}});
    std::string ns = s.ns, name = s.name;
    client::PatchOptions opts;  // a temporary here is freed twice by GCC 12 (seen crashing)
    auto r = co_await impl->client->Patch(res, ns, name, client::PatchType::kMerge,
                                          std::move(patch), opts);
    if (r.has_value() || r.error().code() != Code::kNotFound) co_return;
    // The Event expired (TTL) or was deleted: create it afresh below.
    if (impl->stopped) co_return;
  }
  auto created = co_await impl->client->Create(res, std::move(event));
  if (impl->stopped) co_return;
  if (!created.has_value()) {
    MINI8S_VLOG(2) << "event not recorded: " << created.error().ToString();
    impl->seen.erase(seen_key);
  }
}

asio::awaitable<void> DrainEvents(std::shared_ptr<EventRecorder::Impl> impl) {
  while (!impl->queue.empty() && !impl->stopped) {
    EventRecorder::Impl::Pending next = std::move(impl->queue.front());
    impl->queue.pop_front();
    co_await WriteEvent(impl, std::move(next.seen_key), std::move(next.event), next.bump);
  }
  impl->writers--;
}

}  // namespace

void EventRecorder::Event(const json::object& object, std::string_view type,
                          std::string_view reason, std::string message) {
  // Bounded: a long-running server records events forever; tests look at the recent ones.
  if (recorded_.size() >= 4096) recorded_.erase(recorded_.begin(), recorded_.begin() + 2048);
  recorded_.push_back(std::string(type) + " " + std::string(reason) + " " + message);
  if (impl_->stopped) return;
  std::string uid(api::Uid(object));
  std::string ns(api::Namespace(object));
  std::string name(api::Name(object));
  std::string seen_key = uid + "\x1f" + std::string(reason) + "\x1f" + message + "\x1f" +
                         std::string(type);
  // Events of cluster-scoped objects live in "default", as upstream records them.
  std::string event_ns = ns.empty() ? "default" : ns;
  auto now_mono = impl_->clock->Monotonic();
  auto it = impl_->seen.find(seen_key);
  // Upstream aggregates repeats within 10 minutes.
  bool bump = it != impl_->seen.end() && now_mono - it->second.last < std::chrono::minutes(10);
  std::string now = FormatRfc3339(impl_->clock->Now());
  json::object ev;
  if (bump) {
    it->second.count++;
    it->second.last = now_mono;
  } else {
    // Upstream names events <object>.<hex of the time in ns>.
    auto ns_since = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        impl_->clock->Now().time_since_epoch())
                        .count();
    char suffix[32];
    std::snprintf(suffix, sizeof(suffix), "%llx", static_cast<unsigned long long>(ns_since));
    std::string ev_name = name + "." + suffix;
    impl_->seen[seen_key] = Impl::Seen{event_ns, ev_name, 1, now_mono};
    json::object involved{{"kind", object.contains("kind") ? object.at("kind") : json::value("")},
                          {"namespace", ns},
                          {"name", name},
                          {"uid", uid},
                          {"apiVersion", object.contains("apiVersion") ? object.at("apiVersion")
                                                                       : json::value("")}};
    std::string_view rv = api::ResourceVersion(object);
    if (!rv.empty()) involved["resourceVersion"] = std::string(rv);
    json::object source{{"component", impl_->component}};
    ev = json::object{
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", json::object{{"name", ev_name}, {"namespace", event_ns}}},
        {"involvedObject", std::move(involved)},
        {"reason", std::string(reason)},
        {"message", message},
        {"type", std::string(type)},
        {"source", std::move(source)},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"count", 1},
        {"reportingComponent", impl_->component},
        {"reportingInstance", impl_->host},
    };
  }
  if (impl_->queue.size() >= kMaxQueuedEvents) {
    MINI8S_VLOG(2) << "event dropped, " << impl_->queue.size() << " waiting: " << reason;
  } else {
    impl_->queue.push_back(Impl::Pending{seen_key, std::move(ev), bump});
    if (impl_->writers < kMaxWriters) {
      impl_->writers++;
      asio::co_spawn(impl_->executor, DrainEvents(impl_), [impl = impl_](std::exception_ptr e) {
        if (e) impl->writers--;  // a throw skipped DrainEvents' own decrement
        LogFailure("event recorder", e);
      });
    }
  }
  // Keep the correlation map bounded.
  if (impl_->seen.size() > 4096) {
    for (auto s = impl_->seen.begin(); s != impl_->seen.end();) {
      if (now_mono - s->second.last > std::chrono::minutes(10)) {
        s = impl_->seen.erase(s);
      } else {
        ++s;
      }
    }
  }
}

// ---- ControllerContext ----

struct ControllerContext::Running {
  std::unique_ptr<Controller> controller;
  std::unique_ptr<ControllerRunner> runner;
  bool started = false;
};

ControllerContext::ControllerContext(client::Client& c, asio::any_io_executor ex,
                                     const Clock& clk, ClusterConfig cfg)
    : client(c),
      executor(ex),
      clock(clk),
      config(std::move(cfg)),
      informers(c, ex, [] {
        client::InformerOptions o;
        o.drop_managed_fields = true;  // as kube-controller-manager's informers
        return o;
      }()) {}

ControllerContext::~ControllerContext() { Stop(); }

EventRecorder& ControllerContext::events(std::string_view component) {
  auto it = recorders_.find(component);
  if (it != recorders_.end()) return *it->second;
  auto rec = std::make_unique<EventRecorder>(client, executor, clock, std::string(component));
  auto& ref = *rec;
  recorders_.emplace(std::string(component), std::move(rec));
  return ref;
}

WorkQueue& ControllerContext::NewQueue() {
  queues_.push_back(std::make_unique<WorkQueue>(executor, clock));
  return *queues_.back();
}

void ControllerContext::Run(std::unique_ptr<Controller> controller, WorkQueue& queue,
                            std::vector<const client::Informer*> synced_by, int workers) {
  auto r = std::make_unique<Running>();
  r->runner = std::make_unique<ControllerRunner>(*controller, queue, std::move(synced_by), workers);
  r->controller = std::move(controller);
  running_.push_back(std::move(r));
  if (started_) Start();
}

void ControllerContext::Spawn(std::function<asio::awaitable<void>()> loop) {
  loops_.push_back(std::move(loop));
  if (started_) Start();
}

void ControllerContext::Start() {
  if (stopping_) return;
  started_ = true;
  informers.Start();
  for (auto& r : running_) {
    if (r->started) continue;
    r->started = true;
    asio::co_spawn(executor, r->runner->Run(),
                   [name = std::string(r->controller->name())](std::exception_ptr e) {
                     LogFailure(name, e);
                   });
  }
  // The callables stay alive with the context: a coroutine lambda's frame refers to its closure.
  for (; loops_started_ < loops_.size(); ++loops_started_) {
    asio::co_spawn(executor, loops_[loops_started_](),
                   [](std::exception_ptr e) { LogFailure("controller loop", e); });
  }
}

void ControllerContext::Stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& q : queues_) q->ShutDown();
  informers.Stop();
}

}  // namespace mini8s::controllers
