// The start functions wire both controllers into a ControllerContext over its shared informers.
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "controllers/sets/sets_util.h"
#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/controllers/daemonset.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/statefulset.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

TEST_CASE("Start functions: DaemonSet and StatefulSet controllers run in a ControllerContext",
          "[ctrl_sets][unit]") {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClientOptions opts;
  opts.clock = &clock;
  client::FakeClient fake(io.get_executor(), opts);
  {
    ControllerContext ctx(fake, io.get_executor(), clock);
    REQUIRE(StartDaemonSetController(ctx).ok());
    REQUIRE(StartStatefulSetController(ctx).ok());
    auto node = json::parse(R"({"metadata":{"name":"n1"}})").as_object();
    REQUIRE(testutil::RunCo(io, fake.Create(resources::Nodes(), node)).has_value());
    auto ds = json::parse(R"({"metadata":{"namespace":"default","name":"agent"},
        "spec":{"selector":{"matchLabels":{"app":"agent"}},
                "template":{"metadata":{"labels":{"app":"agent"}},
                            "spec":{"containers":[{"name":"a","image":"a"}]}}}})")
                  .as_object();
    REQUIRE(testutil::RunCo(io, fake.Create(resources::DaemonSets(), ds)).has_value());
    auto sts = json::parse(R"({"metadata":{"namespace":"default","name":"db"},
        "spec":{"replicas":1,"serviceName":"db","selector":{"matchLabels":{"app":"db"}},
                "template":{"metadata":{"labels":{"app":"db"}},
                            "spec":{"containers":[{"name":"d","image":"d"}]}}}})")
                   .as_object();
    REQUIRE(testutil::RunCo(io, fake.Create(resources::StatefulSets(), sts)).has_value());
    ctx.Start();

    auto count_pods = [&] {
      auto pods = testutil::RunCo(io, fake.List(resources::Pods(), "default", {}));
      return pods.has_value() ? pods->items.size() : 0;
    };
    // Runners poll their informers' sync on a short real-time timer; bounded wait.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (count_pods() < 2 && std::chrono::steady_clock::now() < deadline) io.run_for(20ms);
    CHECK(count_pods() == 2);
    CHECK(testutil::RunCo(io, fake.Get(resources::Pods(), "default", "db-0")).has_value());
    ctx.Stop();
    io.run_for(50ms);
  }
  io.run_for(50ms);
}

}  // namespace
}  // namespace mini8s::controllers
