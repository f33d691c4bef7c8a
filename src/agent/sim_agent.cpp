// N simulated nodes in one process: one join and one client identity per node, shared loops.
#include "mini8s/agent/sim_agent.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "mini8s/agent/join_client.h"
#include "mini8s/client/rest_client.h"
#include "mini8s/common/logging.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/work_queue.h"
#include "mini8s/http/tls_material.h"

namespace mini8s::agent {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

void LogFailure(const std::string& what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& err) {
    MINI8S_LOG(ERROR) << what << " ended by an exception: " << err.what();
  }
}

}  // namespace

Result<std::string> LoadOrCreateNodePassword(const std::string& path) {
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string pw = ss.str();
    while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
    if (!pw.empty()) return pw;
  }
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Status::Internal("cannot create the directory of " + path + ": " + ec.message());
  std::string pw = NewNodePassword();
  MINI8S_RETURN_IF_ERROR(http::WritePemFile(path, pw + "\n", 0600));
  return pw;
}

struct SimulatedAgent::Impl {
  SimulatedAgentOptions options;
  std::vector<std::string> names;
  std::vector<std::unique_ptr<client::RestClient>> clients;  // one identity per node
  std::unique_ptr<client::Informer> pods;
  std::unique_ptr<controllers::WorkQueue> queue;
  std::unique_ptr<SimulatedKubelet> kubelet;
  std::unique_ptr<controllers::ControllerRunner> runner;
  std::vector<std::unique_ptr<NodeAgent>> agents;
  std::vector<std::unique_ptr<controllers::EventRecorder>> recorders;  // "kubelet", per node
};

SimulatedAgent::SimulatedAgent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SimulatedAgent::~SimulatedAgent() { Stop(); }

void SimulatedAgent::Stop() {
  if (!impl_) return;
  for (auto& a : impl_->agents) a->Stop();
  if (impl_->pods) impl_->pods->Stop();
  if (impl_->queue) impl_->queue->ShutDown();
}

std::vector<std::string> SimulatedAgent::node_names() const { return impl_->names; }

asio::awaitable<Result<std::unique_ptr<SimulatedAgent>>> SimulatedAgent::Start(
    asio::any_io_executor executor, SimulatedAgentOptions options) {
  if (options.count < 1) co_return Status::Invalid("--simulate needs at least one node");
  auto joined = co_await JoinClient::Connect(executor, options.server_url, options.token);
  if (!joined.ok()) co_return joined.error();
  JoinClient& join = **joined;
  auto info = co_await join.Config();
  if (!info.ok()) co_return info.error();
  MINI8S_LOG(INFO) << "joined " << options.server_url << " (cluster CIDR " << info->cluster_cidr
                   << ", service CIDR " << info->service_cidr << ")";

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const Clock& clock = *options.clock;
  for (int i = 0; i < options.count; ++i) {
    std::string name = options.node_prefix + "-" + std::to_string(i);
    auto password =
        LoadOrCreateNodePassword(options.data_dir + "/agent/simulated/" + name + "/password");
    if (!password.ok()) co_return password.error();
    auto creds = co_await join.NodeCertificate(name, *password, options.node_ip);
    if (!creds.ok()) co_return Status(creds.error().code(), name + ": " + creds.error().message());
    client::RestConfig rc;
    rc.server = options.server_url;
    rc.ca_pem = creds->server_ca_pem;
    rc.client_cert_pem = creds->cert_pem;
    rc.client_key_pem = creds->key_pem;
    client::RestClientOptions ro;
    ro.user_agent = "mini8s-agent/" + name;
    // A kubelet talks to the server over one (HTTP/2) connection; a hollow node keeping eight
    // idle TLS connections would cost the server ~0.5 MiB per node that no real node costs.
    ro.max_idle_connections = 2;
    auto rest = client::RestClient::Create(executor, rc, ro);
    if (!rest.ok()) co_return rest.error();
    impl->clients.push_back(std::move(*rest));
    impl->names.push_back(name);
  }

  // One pod watch for all simulated nodes (node 0's identity may read every pod).
  client::InformerOptions io;
  io.drop_managed_fields = true;  // the kubelet never reads them; a large share of each pod
  impl->pods = std::make_unique<client::Informer>(
      *impl->clients.front(), client::Resource{"", "v1", "pods", "Pod", true}, io);
  impl->queue = std::make_unique<controllers::WorkQueue>(executor, clock);
  impl->kubelet =
      std::make_unique<SimulatedKubelet>(*impl->pods, *impl->queue, clock, options.kubelet);
  for (std::size_t i = 0; i < impl->names.size(); ++i) {
    const std::string& name = impl->names[i];
    impl->recorders.push_back(std::make_unique<controllers::EventRecorder>(
        *impl->clients[i], executor, clock, "kubelet"));
    impl->kubelet->AddNode(name, *impl->clients[i], options.node_ip, impl->recorders.back().get());
    NodeAgentOptions no = options.node_template;
    no.node_name = name;
    no.node_ip = options.node_ip;
    no.annotations["mini8s.io/simulated"] = "true";
    auto agent = std::make_unique<NodeAgent>(*impl->clients[i], executor, clock, no);
    SimulatedKubelet* kubelet = impl->kubelet.get();
    agent->SetEventRecorder(impl->recorders.back().get());
    agent->OnPodCidr([kubelet, name](const std::string& cidr) { kubelet->SetPodCidr(name, cidr); });
    impl->agents.push_back(std::move(agent));
  }
  impl->runner = std::make_unique<controllers::ControllerRunner>(
      *impl->kubelet, *impl->queue, std::vector<const client::Informer*>{impl->pods.get()}, 4);

  asio::co_spawn(executor, impl->pods->Run(),
                 [](std::exception_ptr e) { LogFailure("pod informer", e); });
  for (auto& a : impl->agents) {
    asio::co_spawn(executor, a->Run(),
                   [n = a->node_name()](std::exception_ptr e) { LogFailure("node " + n, e); });
  }
  asio::co_spawn(executor, impl->runner->Run(),
                 [](std::exception_ptr e) { LogFailure("simulated kubelet", e); });
  MINI8S_LOG(INFO) << "simulating " << impl->names.size() << " nodes: " << impl->names.front()
                   << (impl->names.size() > 1 ? " .. " + impl->names.back() : std::string());
  co_return std::unique_ptr<SimulatedAgent>(new SimulatedAgent(std::move(impl)));
}

SimulatedAgentRunner::SimulatedAgentRunner(SimulatedAgentOptions options,
                                           std::chrono::milliseconds drain_timeout)
    : options_(std::move(options)), drain_timeout_(drain_timeout) {}

SimulatedAgentRunner::~SimulatedAgentRunner() {
  // Run normally leaves nothing behind; this covers a runner destroyed without Run.
  agent_.reset();
}

asio::awaitable<void> SimulatedAgentRunner::Start() {
  auto r = co_await SimulatedAgent::Start(io_.get_executor(), options_);
  if (!r.ok()) {
    start_status_ = r.error();
    io_.stop();
    co_return;
  }
  agent_ = std::move(*r);
  start_status_ = Status::OK();
  if (shutting_down_) agent_->Stop();  // the shutdown came while joining
}

void SimulatedAgentRunner::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  MINI8S_LOG(INFO) << "shutting down";
  if (agent_) agent_->Stop();
  io_.stop();  // ends Run's first phase; the drain follows
}

void SimulatedAgentRunner::Shutdown() {
  asio::post(io_, [this] { BeginShutdown(); });
}

Status SimulatedAgentRunner::Run(bool handle_signals) {
  asio::co_spawn(io_, Start(), [this](std::exception_ptr e) {
    if (!e) return;
    LogFailure("simulated agent start", e);
    start_status_ = Status::Internal("simulated agent start ended by an exception");
    io_.stop();
  });
  std::optional<asio::signal_set> signals;
  if (handle_signals) {
    signals.emplace(io_, SIGINT, SIGTERM);
    signals->async_wait([this, &signals](const boost::system::error_code& ec, int) {
      if (ec) return;
      // Back to the default action: a second signal ends the process at once.
      boost::system::error_code ignored;
      signals->clear(ignored);
      BeginShutdown();
    });
  }
  io_.run();
  if (start_status_ && !start_status_->ok()) return *start_status_;
  if (signals) signals->cancel();  // its pending wait would keep the drain from finishing
  // Drain: the loops were told to stop; run until none is left (run_for returns early, with the
  // io_context stopped, once it is out of work).
  io_.restart();
  io_.run_for(drain_timeout_);
  drained_ = io_.stopped();
  if (drained_) {
    // Nothing refers to the agent any more: its clients close their pooled connections while
    // the reactor they are registered with still exists; then run what their teardown posted.
    agent_.reset();
    io_.restart();
    io_.poll();
  } else {
    // Coroutines are still suspended inside the agent's clients and must never resume once it is
    // gone, so the io_context is not run again; their frames go with it.
    MINI8S_LOG(WARNING) << "simulated agent: loops still running after " << drain_timeout_.count()
                        << " ms; stopping anyway";
    io_.stop();
    agent_.reset();
  }
  signals.reset();
  if (!start_status_) return Status::Cancelled("interrupted while joining");
  return *start_status_;  // the join may also have failed during the drain
}

}  // namespace mini8s::agent
