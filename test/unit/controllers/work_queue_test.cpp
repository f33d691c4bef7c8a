#include "mini8s/controllers/work_queue.h"

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "mini8s/controllers/rate_limiter.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers {
namespace {

using namespace std::chrono_literals;
using testutil::Poll;
using testutil::RunCo;

std::unique_ptr<RateLimiter> Exponential() {
  return std::make_unique<ExponentialFailureRateLimiter>(5ms, 1000s);
}

struct Fixture {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  WorkQueue queue{io.get_executor(), clock, Exponential()};
  std::string Get() {
    auto k = RunCo(io, queue.Get());
    REQUIRE(k.has_value());
    return *k;
  }
};

TEST_CASE("WorkQueue: hands out keys FIFO and de-duplicates", "[controllers][unit]") {
  Fixture f;
  f.queue.Add("a");
  f.queue.Add("b");
  f.queue.Add("a");
  CHECK(f.queue.Len() == 2);
  CHECK(f.Get() == "a");
  CHECK(f.Get() == "b");
  CHECK(f.queue.Len() == 0);
}

TEST_CASE("WorkQueue: re-queues a key added while processing on Done", "[controllers][unit]") {
  Fixture f;
  f.queue.Add("a");
  CHECK(f.Get() == "a");
  CHECK(f.queue.IsProcessing("a"));
  f.queue.Add("a");
  f.queue.Add("a");
  CHECK(f.queue.Len() == 0);  // never handed to a second worker while processing
  f.queue.Done("a");
  CHECK(f.queue.Len() == 1);
  CHECK(f.Get() == "a");
  f.queue.Done("a");
  CHECK(f.queue.Len() == 0);
}

TEST_CASE("WorkQueue: Get waits for an Add", "[controllers][unit]") {
  Fixture f;
  std::optional<std::optional<std::string>> got;
  boost::asio::co_spawn(f.io, testutil::CaptureInto(f.queue.Get(), &got), testutil::Rethrow);
  Poll(f.io);
  CHECK(!got.has_value());
  f.queue.Add("x");
  Poll(f.io);
  REQUIRE(got.has_value());
  CHECK(*got == std::optional<std::string>("x"));
}

TEST_CASE("WorkQueue: wakes one waiter per key", "[controllers][unit]") {
  Fixture f;
  std::optional<std::optional<std::string>> g1, g2;
  boost::asio::co_spawn(f.io, testutil::CaptureInto(f.queue.Get(), &g1), testutil::Rethrow);
  boost::asio::co_spawn(f.io, testutil::CaptureInto(f.queue.Get(), &g2), testutil::Rethrow);
  Poll(f.io);
  f.queue.Add("x");
  Poll(f.io);
  CHECK(g1.has_value() + g2.has_value() == 1);
  f.queue.Add("y");
  Poll(f.io);
  REQUIRE(g1.has_value());
  REQUIRE(g2.has_value());
  CHECK(**g1 != **g2);
}

TEST_CASE("RateLimiter: exponential backoff doubles from 5ms to the cap, Forget resets",
          "[controllers][unit]") {
  ExponentialFailureRateLimiter rl(5ms, 1000s);
  CHECK(rl.When("k") == 5ms);
  CHECK(rl.When("k") == 10ms);
  CHECK(rl.When("k") == 20ms);
  CHECK(rl.When("other") == 5ms);
  CHECK(rl.NumRequeues("k") == 3);
  for (int i = 0; i < 40; ++i) (void)rl.When("k");
  CHECK(rl.When("k") == 1000s);
  rl.Forget("k");
  CHECK(rl.NumRequeues("k") == 0);
  CHECK(rl.When("k") == 5ms);
}

TEST_CASE("RateLimiter: the token bucket allows a burst then spaces keys by 1/qps",
          "[controllers][unit]") {
  testutil::FakeClock clock;
  BucketRateLimiter rl(10.0, 2, clock);
  CHECK(rl.When("a") == 0ns);
  CHECK(rl.When("b") == 0ns);
  CHECK(rl.When("c") == 100ms);
  CHECK(rl.When("d") == 200ms);
  clock.Advance(1s);
  CHECK(rl.When("e") == 0ns);
}

TEST_CASE("WorkQueue: AddRateLimited parks keys with doubling delays until the clock passes",
          "[controllers][unit]") {
  Fixture f;
  f.queue.AddRateLimited("k");
  CHECK(f.queue.Len() == 0);
  CHECK(f.queue.Waiting() == 1);
  f.clock.Advance(4ms);
  f.queue.FlushDue();
  CHECK(f.queue.Len() == 0);
  f.clock.Advance(1ms);
  f.queue.FlushDue();
  CHECK(f.queue.Len() == 1);
  CHECK(f.Get() == "k");
  f.queue.Done("k");

  f.queue.AddRateLimited("k");  // second failure: 10ms
  f.clock.Advance(9ms);
  f.queue.FlushDue();
  CHECK(f.queue.Len() == 0);
  f.clock.Advance(1ms);
  f.queue.FlushDue();
  CHECK(f.queue.Len() == 1);
  CHECK(f.queue.NumRequeues("k") == 2);
  CHECK(f.Get() == "k");
  f.queue.Done("k");

  f.queue.Forget("k");
  CHECK(f.queue.NumRequeues("k") == 0);
  f.queue.AddRateLimited("k");  // back to 5ms
  f.clock.Advance(5ms);
  f.queue.FlushDue();
  CHECK(f.queue.Len() == 1);
}

TEST_CASE("WorkQueue: AddAfter keeps the earliest deadline for a key", "[controllers][unit]") {
  Fixture f;
  f.queue.AddAfter("k", 1s);
  f.queue.AddAfter("k", 100ms);
  f.queue.AddAfter("k", 5s);
  CHECK(f.queue.Waiting() == 1);
  f.clock.Advance(100ms);
  f.queue.FlushDue();
  CHECK(f.queue.Len() == 1);
  CHECK(f.queue.Waiting() == 0);
  f.queue.AddAfter("now", 0ms);
  CHECK(f.queue.Len() == 2);
}

TEST_CASE("WorkQueue: the delay timer moves due keys without a manual flush",
          "[controllers][unit]") {
  boost::asio::io_context io;
  WorkQueue q(io.get_executor(), RealClock::Instance(), Exponential());
  q.AddRateLimited("k");  // 5ms of real time
  auto k = RunCo(io, q.Get(), std::chrono::seconds(5));
  CHECK(k == std::optional<std::string>("k"));
}

TEST_CASE("WorkQueue: ShutDown wakes waiters and ignores later adds", "[controllers][unit]") {
  Fixture f;
  std::optional<std::optional<std::string>> got;
  boost::asio::co_spawn(f.io, testutil::CaptureInto(f.queue.Get(), &got), testutil::Rethrow);
  Poll(f.io);
  f.queue.AddAfter("later", 1s);
  f.queue.ShutDown();
  Poll(f.io);
  REQUIRE(got.has_value());
  CHECK(!got->has_value());
  f.queue.Add("x");
  CHECK(f.queue.Len() == 0);
  CHECK(f.queue.Waiting() == 0);
  CHECK(!RunCo(f.io, f.queue.Get()).has_value());
}

TEST_CASE("WorkQueue: ShutDown still drains keys already queued", "[controllers][unit]") {
  Fixture f;
  f.queue.Add("a");
  f.queue.ShutDown();
  CHECK(f.Get() == "a");
  CHECK(!RunCo(f.io, f.queue.Get()).has_value());
}

}  // namespace
}  // namespace mini8s::controllers
