// The max-in-flight limit through a real ApiServer over loopback: limits of one, and a create
// held in admission so that the next request arrives over the limit.
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "mini8s/http/client.h"
#include "mini8s/http/server.h"
#include "mini8s/server/api_server.h"
#include "mini8s/store/mem_store.h"

namespace mini8s::server {
namespace {

// Holds CREATEs of objects named "slow" until released.
class Gate : public AdmissionPlugin {
 public:
  std::string_view name() const override { return "Gate"; }
  Status Admit(AdmissionAttributes& attrs) override {
    if (attrs.name == "slow") {
      entered.set_value();
      release.get_future().wait();
    }
    return Status::OK();
  }
  std::promise<void> entered;
  std::promise<void> release;
};

TEST_CASE("server inflight: over the limit a request gets 429 with Retry-After, masters do not",
          "[server][integration]") {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  auto store = store::MemStore::Create({}, RealClock::Instance());
  auto gate = std::make_shared<Gate>();
  ApiServerOptions o;
  o.registry = api::Registry::NewBuiltin();
  o.store = store.get();
  o.authenticator = Authenticator::FromTokens(
      {{"admin", UserInfo{"admin", "", {"system:masters"}}}, {"user", UserInfo{"x", "", {}}}});
  o.admission = {gate};
  o.worker_threads = 2;
  o.max_requests_inflight = 1;
  o.max_mutating_requests_inflight = 1;
  auto api = std::move(*ApiServer::Create(std::move(o)));
  REQUIRE(api->EnsureDefaultNamespaces().ok());
  auto server = std::move(*http::Server::Create(ioc.get_executor(), {}, api->handler()));
  server->Start();
  std::thread io([&] { ioc.run(); });

  auto send = [&](http::BlockingClient& c, const std::string& method, const std::string& path,
                  const std::string& token, const std::string& name = "") {
    http::ClientRequest r;
    r.method = method;
    r.url = server->url() + path;
    r.headers.Set("Authorization", "Bearer " + token);
    if (!name.empty()) {
      r.headers.Set("Content-Type", "application/json");
      r.body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"("}})";
    }
    auto resp = c.Send(std::move(r));
    REQUIRE(resp.ok());
    return *resp;
  };
  const std::string cms = "/api/v1/namespaces/default/configmaps";
  auto slow_client = std::move(*http::BlockingClient::Create());
  auto client = std::move(*http::BlockingClient::Create());

  // The admin's create takes the one mutating slot (masters count while under the limit).
  std::future<http::ClientResponse> slow = std::async(
      std::launch::async, [&] { return send(*slow_client, "POST", cms, "admin", "slow"); });
  gate->entered.get_future().wait();

  auto refused = send(*client, "POST", cms, "user", "other");
  CHECK(refused.status == 429);
  CHECK(refused.headers.GetOr("Retry-After") == "1");
  CHECK(refused.body == "Too many requests, please try again later.\n");
  CHECK(refused.headers.GetOr("Content-Type") == "text/plain; charset=utf-8");
  // Masters are served over the limit.
  CHECK(send(*client, "POST", cms, "admin", "masters").status == 201);
  // Reads have their own limit: a read is authorized (403 for x on a resource), not refused.
  CHECK(send(*client, "GET", "/api", "user").status == 200);
  CHECK(send(*client, "GET", cms, "user").status == 403);

  gate->release.set_value();
  CHECK(slow.get().status == 201);
  // The slot came back: the same request is now refused by authorization, not the limit.
  CHECK(send(*client, "POST", cms, "user", "other").status == 403);

  api->Stop();
  server.reset();
  work.reset();
  ioc.stop();
  io.join();
}

}  // namespace
}  // namespace mini8s::server
