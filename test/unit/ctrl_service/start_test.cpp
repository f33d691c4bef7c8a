// The start functions wire the controllers into a ControllerContext: with all of them running on
// a FakeClient, a fresh cluster converges to the `kubernetes` service, its endpoints, the
// local-path StorageClass, and endpoints for a user's service.
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/controllers/endpoints.h"
#include "mini8s/controllers/local_path.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/service_lb.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

TEST_CASE("Start functions: a fresh cluster converges with every controller running",
          "[ctrl_service][unit]") {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClientOptions opts;
  opts.clock = &clock;
  client::FakeClient fake(io.get_executor(), opts);
  ClusterConfig config;
  config.api_server_host = "10.0.0.5";
  {
    ControllerContext ctx(fake, io.get_executor(), clock, config);
    REQUIRE(StartKubernetesServiceController(ctx).ok());
    REQUIRE(StartEndpointsController(ctx).ok());
    REQUIRE(StartEndpointSliceController(ctx).ok());
    REQUIRE(StartServiceLbController(ctx).ok());
    REQUIRE(StartLocalPathProvisioner(ctx).ok());
    auto svc = json::parse(R"({"metadata":{"namespace":"default","name":"web"},
        "spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})")
                   .as_object();
    REQUIRE(testutil::RunCo(io, fake.Create(resources::Services(), svc)).has_value());
    auto pod = json::parse(R"({"metadata":{"namespace":"default","name":"p","labels":{"app":"web"}},
        "spec":{"containers":[{"name":"c"}]},
        "status":{"phase":"Running","podIP":"10.42.0.7",
                  "conditions":[{"type":"Ready","status":"True"}]}})")
                   .as_object();
    REQUIRE(testutil::RunCo(io, fake.Create(resources::Pods(), pod)).has_value());
    ctx.Start();

    auto done = [&] {
      auto ep = testutil::RunCo(io, fake.Get(resources::Endpoints(), "default", "web"));
      auto k = testutil::RunCo(io, fake.Get(resources::Endpoints(), "default", "kubernetes"));
      auto sc = testutil::RunCo(io, fake.Get(resources::StorageClasses(), "", "local-path"));
      return ep.has_value() && k.has_value() && sc.has_value();
    };
    // Runners poll their informers' sync on a short real-time timer; bounded wait.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(20ms);
    CHECK(done());
    auto ep = testutil::RunCo(io, fake.Get(resources::Endpoints(), "default", "web"));
    REQUIRE(ep.has_value());
    CHECK(
        json::serialize(*api::FindPath(*ep, "subsets")) ==
        R"([{"addresses":[{"ip":"10.42.0.7","targetRef":{"kind":"Pod","namespace":"default","name":"p","uid":")" +
            std::string(
                api::Uid(*testutil::RunCo(io, fake.Get(resources::Pods(), "default", "p")))) +
            R"("}}],"ports":[{"port":80,"protocol":"TCP"}]}])");
    auto k = testutil::RunCo(io, fake.Get(resources::Services(), "default", "kubernetes"));
    REQUIRE(k.has_value());
    CHECK(api::GetString(*k, "spec.clusterIP") == "10.43.0.1");
    ctx.Stop();
    io.run_for(50ms);
  }
  io.run_for(50ms);
}

}  // namespace
}  // namespace mini8s::controllers
