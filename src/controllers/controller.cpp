#include "mini8s/controllers/controller.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/logging.h"

namespace mini8s::controllers {

namespace asio = boost::asio;

client::EventHandlers EnqueueHandlers(WorkQueue& queue) {
  client::EventHandlers h;
  h.on_add = [&queue](const client::ObjectPtr& obj) { queue.Add(client::ObjectKey(*obj)); };
  h.on_update = [&queue](const client::ObjectPtr&, const client::ObjectPtr& obj) {
    queue.Add(client::ObjectKey(*obj));
  };
  h.on_delete = [&queue](const client::DeletedObject& del) { queue.Add(del.key); };
  return h;
}

client::EventHandlers EnqueueOwnerHandlers(WorkQueue& queue, std::string owner_kind) {
  auto enqueue = [&queue, owner_kind](const boost::json::object& obj) {
    auto owner = api::ControllerOf(obj);
    if (!owner || owner->kind != owner_kind) return;
    std::string_view ns = api::Namespace(obj);
    queue.Add(ns.empty() ? owner->name : std::string(ns) + "/" + owner->name);
  };
  client::EventHandlers h;
  h.on_add = [enqueue](const client::ObjectPtr& obj) { enqueue(*obj); };
  h.on_update = [enqueue](const client::ObjectPtr& old_obj, const client::ObjectPtr& obj) {
    enqueue(*old_obj);  // an owner change must wake the old owner too
    enqueue(*obj);
  };
  h.on_delete = [enqueue](const client::DeletedObject& del) {
    if (del.object) enqueue(*del.object);
  };
  return h;
}

ControllerRunner::ControllerRunner(Controller& controller, WorkQueue& queue,
                                   std::vector<const client::Informer*> informers, int workers)
    : controller_(controller),
      queue_(queue),
      informers_(std::move(informers)),
      workers_(workers < 1 ? 1 : workers) {}

asio::awaitable<bool> ControllerRunner::ProcessNextItem() {
  std::optional<std::string> key = co_await queue_.Get();
  if (!key) co_return false;
  ++stats_.reconciles;
  Result<Requeue> r = co_await controller_.Reconcile(*key);
  if (!r.has_value()) {
    ++stats_.errors;
    MINI8S_LOG(WARNING) << controller_.name() << ": reconcile " << *key
                        << " failed (will retry): " << r.error().ToString();
    queue_.AddRateLimited(*key);
  } else if (r->requeue && r->after.count() > 0) {
    queue_.Forget(*key);
    queue_.AddAfter(*key, r->after);
  } else if (r->requeue) {
    queue_.AddRateLimited(*key);
  } else {
    queue_.Forget(*key);
  }
  queue_.Done(*key);
  co_return true;
}

asio::awaitable<void> ControllerRunner::Worker() {
  // co_await stays out of the loop condition: GCC 12 miscompiles it there (SIGILL).
  for (;;) {
    bool more = co_await ProcessNextItem();
    if (!more) break;
  }
}

asio::awaitable<void> ControllerRunner::Run() {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer poll(ex);
  // WaitForCacheSync: informers expose no completion signal, so poll briefly.
  for (;;) {
    bool all = true;
    for (const auto* inf : informers_) all = all && inf->HasSynced();
    if (all || queue_.shutting_down()) break;
    poll.expires_after(std::chrono::milliseconds(10));
    auto [ec] = co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
  }
  started_ = true;
  for (int i = 1; i < workers_; ++i) {
    asio::co_spawn(ex, Worker(), [name = std::string(controller_.name())](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& err) {
        MINI8S_LOG(ERROR) << name << ": worker ended by an exception: " << err.what();
      }
    });
  }
  co_await Worker();
}

}  // namespace mini8s::controllers
