// Simulated nodes joining a real in-process API server over HTTPS: CA pinning, per-node
// certificates, the node authorizer, node IPAM, and pods reported Running / Succeeded / removed.
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/agent/join_client.h"
#include "mini8s/agent/sim_agent.h"
#include "mini8s/api/object.h"
#include "mini8s/client/rest_client.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/node.h"
#include "mini8s/http/server.h"
#include "mini8s/server/api_server.h"
#include "mini8s/server/bootstrap.h"
#include "mini8s/server/join.h"
#include "mini8s/server/node_authorizer.h"
#include "mini8s/store/mem_store.h"
#include "testutil/temp_dir.h"
#include "unit/client/co_test_util.h"

namespace mini8s::agent {
namespace {

namespace json = boost::json;
using testutil::RunCo;

const client::Resource kPods{"", "v1", "pods", "Pod", true};
const client::Resource kNodes{"", "v1", "nodes", "Node", false};

// The server: API + join endpoints on one TLS port, on a thread of its own.
class TestServer {
 public:
  TestServer() : work_(ioc_.get_executor()) {
    server::BootstrapOptions bo;
    bo.data_dir = dir_.path();
    auto c = server::EnsureServerCredentials(bo);
    REQUIRE(c.ok());
    creds_ = *c;
    store_ = store::MemStore::Create({}, RealClock::Instance());
    server::ApiServerOptions o;
    o.registry = api::Registry::NewBuiltin();
    o.store = store_.get();
    o.authenticator = server::Authenticator::FromTokens({});
    o.authorizer = std::make_shared<server::UnionAuthorizer>(
        std::vector<std::shared_ptr<const server::Authorizer>>{
            std::make_shared<server::MastersAuthorizer>(),
            std::make_shared<server::NodeAuthorizer>(server::PodNodeFromStore(*store_))});
    o.worker_threads = 2;
    api_ = std::move(*server::ApiServer::Create(std::move(o)));
    REQUIRE(api_->EnsureDefaultNamespaces().ok());
    server::JoinServiceOptions jo;
    jo.data_dir = dir_.path();
    jo.passwords = &passwords_;
    auto j = server::JoinService::Create(jo);
    REQUIRE(j.ok());
    join_ = std::move(*j);

    http::ServerOptions so;
    so.bind_address = "127.0.0.1";
    http::ServerTlsOptions tls;
    tls.cert_chain_pem = creds_.serving_cert_pem + creds_.server_ca_pem;
    tls.key_pem = creds_.serving_key_pem;
    tls.client_ca_pem = creds_.client_ca_pem;
    so.tls = tls;
    server::JoinService* join = join_.get();
    server::ApiServer* api = api_.get();
    auto s = http::Server::Create(ioc_.get_executor(), so,
                                  [join, api](http::HttpRequest req, http::Responder resp) {
                                    if (auto r = join->HandleJoin(req)) {
                                      resp.Send(std::move(*r));
                                      return;
                                    }
                                    api->Handle(std::move(req), std::move(resp));
                                  });
    REQUIRE(s.ok());
    server_ = std::move(*s);
    server_->Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TestServer() {
    api_->Stop();
    server_.reset();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }
  const server::ServerCredentials& creds() const { return creds_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  testutil::TempDir dir_;
  server::ServerCredentials creds_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<server::ApiServer> api_;
  server::MemNodePasswordStore passwords_;
  std::unique_ptr<server::JoinService> join_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

std::unique_ptr<client::RestClient> Client(boost::asio::io_context& io, const TestServer& s,
                                           const std::string& cert, const std::string& key) {
  client::RestConfig rc;
  rc.server = s.url();
  rc.ca_pem = s.creds().server_ca_pem;
  rc.client_cert_pem = cert;
  rc.client_key_pem = key;
  auto c = client::RestClient::Create(io.get_executor(), rc);
  REQUIRE(c.ok());
  return std::move(*c);
}

// Runs `io` until `done` holds or `limit` passes.
template <class F>
bool RunUntil(boost::asio::io_context& io, F done,
              std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }
  return done();
}

json::object Pod(const std::string& name, const std::string& node, bool job) {
  json::object p{{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", json::object{{"namespace", "default"}, {"name", name}}},
                 {"spec", json::object{{"nodeName", node},
                                       {"containers", json::array{json::object{
                                                          {"name", "c"}, {"image", "busybox"}}}}}}};
  if (job) {
    p["metadata"].as_object()["ownerReferences"] = json::array{json::object{
        {"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "j"}, {"uid", "0000-job"}}};
  }
  return p;
}

TEST_CASE(
    "simulated agent: nodes join over TLS, get CIDRs, and run pods through their own "
    "identities",
    "[agent][integration]") {
  TestServer srv;
  boost::asio::io_context io;
  auto admin = Client(io, srv, srv.creds().admin_cert_pem, srv.creds().admin_key_pem);

  // The control-plane side the simulation needs: node IPAM.
  controllers::ControllerContext ctx(*admin, io.get_executor(), RealClock::Instance());
  REQUIRE(controllers::StartNodeIpamController(ctx).ok());
  ctx.Start();

  SimulatedAgentOptions o;
  o.server_url = srv.url();
  o.token = srv.creds().node_token;
  o.data_dir = srv.dir() + "/agent-data";
  o.node_prefix = "sim-test";
  o.count = 3;
  o.node_ip = "192.0.2.44";
  o.kubelet.job_duration = std::chrono::milliseconds(200);
  o.kubelet.max_grace = std::chrono::milliseconds(100);
  auto sim = RunCo(io, SimulatedAgent::Start(io.get_executor(), o), std::chrono::seconds(30));
  REQUIRE(sim.ok());
  CHECK((*sim)->node_names() == std::vector<std::string>{"sim-test-0", "sim-test-1", "sim-test-2"});

  // Every node registers, gets a podCIDR, and is Ready.
  std::map<std::string, std::string> cidrs;
  bool all = RunUntil(io, [&] {
    auto list = RunCo(io, admin->List(kNodes, "", {}));
    if (!list.ok()) return false;
    cidrs.clear();
    for (const auto& n : list->items) {
      std::string_view cidr = api::GetString(n, "spec.podCIDR");
      if (!cidr.empty()) cidrs[std::string(api::Name(n))] = std::string(cidr);
    }
    return cidrs.size() == 3;
  });
  REQUIRE(all);
  std::set<std::string> distinct;
  for (const auto& [n, c] : cidrs) distinct.insert(c);
  CHECK(distinct.size() == 3);

  // A pod bound to a node runs there with an IP from that node's CIDR.
  REQUIRE(RunCo(io, admin->Create(kPods, Pod("web", "sim-test-1", false))).ok());
  REQUIRE(RunCo(io, admin->Create(kPods, Pod("batch", "sim-test-2", true))).ok());
  json::object web;
  REQUIRE(RunUntil(io, [&] {
    auto p = RunCo(io, admin->Get(kPods, "default", "web"));
    if (!p.ok() || api::GetString(*p, "status.phase") != "Running") return false;
    web = *p;
    return true;
  }));
  std::string ip(api::GetString(web, "status.podIP"));
  std::string prefix = cidrs["sim-test-1"].substr(0, cidrs["sim-test-1"].rfind('.') + 1);
  CHECK(ip.rfind(prefix, 0) == 0);
  CHECK(api::GetString(web, "status.hostIP") == "192.0.2.44");

  // The Job's pod succeeds; a deleted pod goes away.
  CHECK(RunUntil(io, [&] {
    auto p = RunCo(io, admin->Get(kPods, "default", "batch"));
    return p.ok() && api::GetString(*p, "status.phase") == "Succeeded";
  }));
  REQUIRE(RunCo(io, admin->Delete(kPods, "default", "web")).ok());
  CHECK(RunUntil(io, [&] {
    auto p = RunCo(io, admin->Get(kPods, "default", "web"));
    return !p.ok() && p.error().code() == Code::kNotFound;
  }));

  // The node identity: a node may write its own Node, not another one; the name is protected by
  // the node password.
  auto join = RunCo(io, JoinClient::Connect(io.get_executor(), srv.url(), srv.creds().node_token));
  REQUIRE(join.ok());
  auto pw = LoadOrCreateNodePassword(o.data_dir + "/agent/simulated/sim-test-0/password");
  REQUIRE(pw.ok());
  auto creds = RunCo(io, (*join)->NodeCertificate("sim-test-0", *pw, ""));
  REQUIRE(creds.ok());
  auto as_node = Client(io, srv, creds->cert_pem, creds->key_pem);
  std::string label = R"({"metadata":{"labels":{"test":"x"}}})";
  client::PatchOptions po;
  CHECK(RunCo(io, as_node->Patch(kNodes, "", "sim-test-0", client::PatchType::kMerge, label, po))
            .ok());
  auto other =
      RunCo(io, as_node->Patch(kNodes, "", "sim-test-1", client::PatchType::kMerge, label, po));
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code() == Code::kForbidden);
  auto stolen = RunCo(io, (*join)->NodeCertificate("sim-test-0", "not-the-password", ""));
  REQUIRE_FALSE(stolen.ok());
  CHECK(stolen.error().code() == Code::kForbidden);

  // A token pinned to another CA is refused before any credential is sent.
  std::string wrong = "K10" + std::string(64, '0') + "::node:x";
  auto pinned = RunCo(io, JoinClient::Connect(io.get_executor(), srv.url(), wrong));
  REQUIRE_FALSE(pinned.ok());
  CHECK(pinned.error().message().find("does not match") != std::string::npos);

  (*sim)->Stop();
  ctx.Stop();
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
}

// `mini8s agent --simulate` used to crash on SIGTERM: the agent (its clients' pooled TLS
// connections) was destroyed after the io_context it was registered with. The runner is what the
// command runs; shut down while its nodes heartbeat, it must drain and tear down cleanly.
TEST_CASE("simulated agent: the runner shuts down cleanly while its nodes heartbeat",
          "[agent][integration]") {
  TestServer srv;
  SimulatedAgentOptions o;
  o.server_url = srv.url();
  o.token = srv.creds().node_token;
  o.data_dir = srv.dir() + "/agent-data";
  o.node_prefix = "sim-stop";
  o.count = 2;
  o.node_ip = "192.0.2.45";
  o.node_template.heartbeat_interval = std::chrono::milliseconds(100);
  const auto drain_timeout = std::chrono::seconds(10);
  SimulatedAgentRunner runner(o, drain_timeout);
  Status result = Status::Internal("Run did not return");
  std::thread agent_thread([&] { result = runner.Run(/*handle_signals=*/false); });

  // Both nodes registered and hold a Lease: every loop (watch, heartbeats, kubelet) is running.
  boost::asio::io_context io;
  auto admin = Client(io, srv, srv.creds().admin_cert_pem, srv.creds().admin_key_pem);
  const client::Resource leases{"coordination.k8s.io", "v1", "leases", "Lease", true};
  bool up = RunUntil(io, [&] {
    auto list = RunCo(io, admin->List(leases, "kube-node-lease", {}));
    return list.ok() && list->items.size() == 2;
  });
  // Some requests in flight when the shutdown comes.
  CHECK(RunCo(io, admin->Create(kPods, Pod("web", "sim-stop-0", false))).ok());
  auto asked = std::chrono::steady_clock::now();
  runner.Shutdown();
  agent_thread.join();
  auto took = std::chrono::steady_clock::now() - asked;
  CHECK(up);
  CHECK(result.ok());
  CHECK(runner.drained());
  CHECK(took < drain_timeout);
}

TEST_CASE("simulated agent: a shutdown requested before the join completes stops the nodes at once",
          "[agent][integration]") {
  TestServer srv;
  SimulatedAgentOptions o;
  o.server_url = srv.url();
  o.token = srv.creds().node_token;
  o.data_dir = srv.dir() + "/agent-data";
  o.node_prefix = "sim-early";
  o.count = 1;
  o.node_ip = "192.0.2.46";
  SimulatedAgentRunner runner(o, std::chrono::seconds(10));
  runner.Shutdown();  // queued ahead of the join: it lands while the agent does not exist yet
  auto started = std::chrono::steady_clock::now();
  Status result = runner.Run(/*handle_signals=*/false);
  CHECK(result.ok());  // the join finished during the drain, and its loops were stopped
  CHECK(runner.drained());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
}

// Figures, not assertions on time: run by hand with
//   mini8s_agent_integration_tests "[bench]" (MINI8S_SIM_NODES / MINI8S_SIM_PODS to resize).
TEST_CASE("simulated agent: join, register and run pods at scale",
          "[agent][integration][.][bench]") {
  const int nodes =
      std::getenv("MINI8S_SIM_NODES") ? std::atoi(std::getenv("MINI8S_SIM_NODES")) : 100;
  const int pods =
      std::getenv("MINI8S_SIM_PODS") ? std::atoi(std::getenv("MINI8S_SIM_PODS")) : 1000;
  TestServer srv;
  boost::asio::io_context io;
  auto admin = Client(io, srv, srv.creds().admin_cert_pem, srv.creds().admin_key_pem);
  controllers::ControllerContext ctx(*admin, io.get_executor(), RealClock::Instance());
  REQUIRE(controllers::StartNodeIpamController(ctx).ok());
  ctx.Start();
  SimulatedAgentOptions o;
  o.server_url = srv.url();
  o.token = srv.creds().node_token;
  o.data_dir = srv.dir() + "/agent-data";
  o.node_prefix = "sim";
  o.count = nodes;
  o.node_ip = "192.0.2.44";
  auto t0 = std::chrono::steady_clock::now();
  auto sim = RunCo(io, SimulatedAgent::Start(io.get_executor(), o), std::chrono::seconds(120));
  REQUIRE(sim.ok());
  auto t1 = std::chrono::steady_clock::now();
  REQUIRE(RunUntil(
      io,
      [&] {
        auto list = RunCo(io, admin->List(kNodes, "", {}));
        if (!list.ok()) return false;
        int with_cidr = 0;
        for (const auto& n : list->items) with_cidr += !api::GetString(n, "spec.podCIDR").empty();
        return with_cidr == nodes;
      },
      std::chrono::seconds(120)));
  auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < pods; ++i) {
    REQUIRE(RunCo(io, admin->Create(kPods, Pod("p" + std::to_string(i),
                                               "sim-" + std::to_string(i % nodes), false)))
                .ok());
  }
  auto t3 = std::chrono::steady_clock::now();
  REQUIRE(RunUntil(
      io,
      [&] {
        auto list = RunCo(io, admin->List(kPods, "default", {}));
        if (!list.ok()) return false;
        int running = 0;
        for (const auto& p : list->items) running += api::GetString(p, "status.phase") == "Running";
        return running == pods;
      },
      std::chrono::seconds(300)));
  auto t4 = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  long rss_kb = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    long pages = 0, resident = 0;
    if (std::fscanf(f, "%ld %ld", &pages, &resident) == 2) rss_kb = resident * 4;
    std::fclose(f);
  }
  std::printf(
      "simulated nodes: %d joined in %lld ms, all with podCIDRs after %lld ms more; "
      "%d pods created in %lld ms, all Running %lld ms later; process RSS %ld KiB "
      "(server + agent)\n",
      nodes, static_cast<long long>(ms(t1 - t0)), static_cast<long long>(ms(t2 - t1)), pods,
      static_cast<long long>(ms(t3 - t2)), static_cast<long long>(ms(t4 - t3)), rss_kb);
  (*sim)->Stop();
  ctx.Stop();
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
}

}  // namespace
}  // namespace mini8s::agent
