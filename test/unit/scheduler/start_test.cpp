#include <chrono>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "mini8s/controllers/manager.h"
#include "mini8s/scheduler/scheduler.h"
#include "unit/scheduler/scheduler_test_util.h"

namespace mini8s::scheduler::test {
namespace {

// The real loop (Run) on a ControllerContext: it waits for the shared informers, binds, records
// events through the context's recorder and stops with the context. Bounded by real time because
// Run's idle wake-ups are real timers.
TEST_CASE("StartScheduler: schedules through a ControllerContext and stops with it",
          "[scheduler][unit]") {
  boost::asio::io_context io;
  client::FakeClient fake(io.get_executor());
  auto node = testutil::RunCo(io, fake.Create(kNodes, Node("n1")));
  REQUIRE(node.has_value());
  {
    controllers::ControllerContext ctx(fake, io.get_executor(), RealClock::Instance());
    REQUIRE(StartScheduler(ctx).ok());
    ctx.Start();
    auto pod = testutil::RunCo(io, fake.Create(kPods, Pod("p", "100m")));
    REQUIRE(pod.has_value());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string bound;
    while (bound.empty() && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(50));
      auto got = testutil::RunCo(io, fake.Get(kPods, "default", "p"));
      REQUIRE(got.has_value());
      bound = std::string(api::GetString(*got, "spec.nodeName"));
    }
    CHECK(bound == "n1");
    ctx.Stop();
    io.restart();
    io.run_for(std::chrono::seconds(1));
    bool scheduled_event = false;
    for (const std::string& e : ctx.events(kDefaultSchedulerName).recorded()) {
      if (e == "Normal Scheduled Successfully assigned default/p to n1") scheduled_event = true;
    }
    CHECK(scheduled_event);
  }
  io.restart();
  io.poll();
}

}  // namespace
}  // namespace mini8s::scheduler::test
