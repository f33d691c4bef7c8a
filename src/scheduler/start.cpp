// StartScheduler lives apart from scheduler.cpp so that tests of the Scheduler class link without
// the controller manager.
#include <chrono>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mini8s/controllers/manager.h"
#include "mini8s/scheduler/scheduler.h"

namespace mini8s::scheduler {

namespace asio = boost::asio;

namespace {

// Coroutine parameters live in the coroutine frame, so the scheduler stays alive as long as this
// runs (the context drops the spawning lambda once spawned). It returns only when the scheduler
// has stopped and none of its API writes is still pending.
asio::awaitable<void> RunScheduler(std::shared_ptr<Scheduler> scheduler) {
  co_await scheduler->Run();
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  while (scheduler->writes_in_flight() > 0) {
    timer.expires_after(std::chrono::milliseconds(10));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
}

// Run has no view of the context; this turns the context's shutdown into Stop.
asio::awaitable<void> StopWithContext(std::shared_ptr<Scheduler> scheduler,
                                      controllers::ControllerContext* ctx) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  while (!ctx->stopping()) {
    timer.expires_after(std::chrono::milliseconds(200));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  scheduler->Stop();
}

}  // namespace

Status StartScheduler(controllers::ControllerContext& ctx) {
  namespace res = controllers::resources;
  SchedulerInformers informers{
      ctx.informers.For(res::Pods()),
      ctx.informers.For(res::Nodes()),
      ctx.informers.For(res::PersistentVolumeClaims()),
      ctx.informers.For(res::PersistentVolumes()),
      ctx.informers.For(res::StorageClasses()),
  };
  controllers::EventRecorder& recorder = ctx.events(kDefaultSchedulerName);
  EventSink sink = [&recorder](const boost::json::object& obj, std::string_view type,
                               std::string_view reason, std::string message) {
    recorder.Event(obj, type, reason, std::move(message));
  };
  auto scheduler =
      std::make_shared<Scheduler>(ctx.client, ctx.executor, ctx.clock, informers, std::move(sink));
  controllers::ControllerContext* context = &ctx;
  ctx.Spawn([scheduler]() { return RunScheduler(scheduler); });
  ctx.Spawn([scheduler, context]() { return StopWithContext(scheduler, context); });
  return Status::OK();
}

}  // namespace mini8s::scheduler
