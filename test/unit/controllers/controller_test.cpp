#include "mini8s/controllers/controller.h"

#include <map>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/client/informer.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testutil::Poll;
using testutil::RunCo;

const client::Resource kPods{"", "v1", "pods", "Pod", true};

// Records every reconcile; fails keys listed in `fail_times` that many times.
class RecordingController final : public Controller {
 public:
  explicit RecordingController(const client::Informer& inf) : informer_(inf) {}
  std::string_view name() const override { return "recording"; }
  boost::asio::awaitable<Result<Requeue>> Reconcile(std::string key) override {
    ++calls[key];
    bool exists = informer_.indexer().Get(std::string_view(key)) != nullptr;
    seen_deleted[key] = !exists;
    if (fail_times[key] > 0) {
      --fail_times[key];
      co_return Status::Unavailable("try later");
    }
    co_return Requeue{};
  }
  std::map<std::string, int> calls;
  std::map<std::string, int> fail_times;
  std::map<std::string, bool> seen_deleted;

 private:
  const client::Informer& informer_;
};

json::object Pod(std::string name) {
  return json::parse(R"({"metadata":{"namespace":"ns1","name":")" + name + R"("}})").as_object();
}

TEST_CASE("ControllerRunner: reconciles informer keys and retries failures with backoff",
          "[controllers][unit]") {
  boost::asio::io_context io, io2;
  testutil::FakeClock clock;
  client::FakeClient fake(io.get_executor());
  REQUIRE(RunCo(io2, fake.Create(kPods, Pod("a"))).has_value());
  REQUIRE(RunCo(io2, fake.Create(kPods, Pod("bad"))).has_value());

  client::Informer informer(fake, kPods);
  WorkQueue queue(io.get_executor(), clock,
                  std::make_unique<ExponentialFailureRateLimiter>(5ms, 1000s));
  informer.AddEventHandlers(EnqueueHandlers(queue));
  RecordingController ctl(informer);
  ctl.fail_times["ns1/bad"] = 2;
  ControllerRunner runner(ctl, queue, {&informer});

  boost::asio::co_spawn(io, informer.Run(), testutil::Rethrow);
  boost::asio::co_spawn(io, runner.Run(), testutil::Rethrow);
  Poll(io);
  REQUIRE(informer.HasSynced());
  // The runner polls for sync on a short timer.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ctl.calls["ns1/a"] == 0 && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(100ms);
  }
  Poll(io);
  CHECK(runner.started());
  CHECK(ctl.calls["ns1/a"] == 1);
  CHECK(ctl.calls["ns1/bad"] == 1);
  CHECK(queue.NumRequeues("ns1/bad") == 1);
  CHECK(queue.NumRequeues("ns1/a") == 0);

  // First retry after 5ms, second after 10ms more, then success forgets the key.
  clock.Advance(5ms);
  queue.FlushDue();
  Poll(io);
  CHECK(ctl.calls["ns1/bad"] == 2);
  clock.Advance(9ms);
  queue.FlushDue();
  Poll(io);
  CHECK(ctl.calls["ns1/bad"] == 2);
  clock.Advance(1ms);
  queue.FlushDue();
  Poll(io);
  CHECK(ctl.calls["ns1/bad"] == 3);
  CHECK(queue.NumRequeues("ns1/bad") == 0);

  // A delete enqueues the key; the cache no longer has the object.
  REQUIRE(RunCo(io2, fake.Delete(kPods, "ns1", "a")).has_value());
  Poll(io);
  CHECK(ctl.calls["ns1/a"] == 2);
  CHECK(ctl.seen_deleted["ns1/a"]);
  CHECK(runner.stats().errors == 2);

  queue.ShutDown();
  informer.Stop();
  Poll(io);
}

TEST_CASE("ControllerRunner: owner handlers enqueue the controlling owner's key",
          "[controllers][unit]") {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  WorkQueue queue(io.get_executor(), clock);
  auto h = EnqueueOwnerHandlers(queue, "ReplicaSet");
  auto pod = std::make_shared<const json::object>(
      json::parse(R"({"metadata":{"namespace":"ns1","name":"p","ownerReferences":[
        {"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs1","uid":"u1","controller":true}]}})")
          .as_object());
  auto orphan = std::make_shared<const json::object>(
      json::parse(R"({"metadata":{"namespace":"ns1","name":"q"}})").as_object());
  h.on_add(pod);
  h.on_add(orphan);
  CHECK(queue.Len() == 1);
  CHECK(RunCo(io, queue.Get()) == std::optional<std::string>("ns1/rs1"));
}

}  // namespace
}  // namespace mini8s::controllers
