// Shared fixture for the ctrl_core tests: a FakeClient behind a thin client that applies delete
// propagation policies the way the API server does (rest.cpp adds the `foregroundDeletion` or
// `orphan` finalizer before marking the object deleted; FakeClient ignores the policy), a
// ControllerContext on one io_context and a FakeClock, and helpers that drive work queues until
// nothing is left to do, without sleeping.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/common/check.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/manager.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers::testing {

namespace json = boost::json;

// Delegates to a FakeClient; Delete with propagation Foreground or Orphan first adds the
// matching finalizer, as the server's DELETE handler does.
class PropagatingClient final : public client::Client {
 public:
  explicit PropagatingClient(client::FakeClient& fake) : fake_(fake) {}
  using Client::Create;
  using Client::Delete;
  using Client::Update;

  boost::asio::awaitable<Result<json::object>> Get(client::Resource r, std::string ns,
                                                   std::string name) override {
    auto out = co_await fake_.Get(std::move(r), std::move(ns), std::move(name));
    co_return out;
  }
  boost::asio::awaitable<Result<client::ObjectList>> List(client::Resource r, std::string ns,
                                                          client::ListOptions o) override {
    auto out = co_await fake_.List(std::move(r), std::move(ns), std::move(o));
    co_return out;
  }
  boost::asio::awaitable<Result<json::object>> Create(client::Resource r, json::object obj,
                                                      client::WriteOptions o) override {
    auto out = co_await fake_.Create(std::move(r), std::move(obj), std::move(o));
    co_return out;
  }
  boost::asio::awaitable<Result<json::object>> Update(client::Resource r, json::object obj,
                                                      std::string sub,
                                                      client::WriteOptions o) override {
    if (serve_finalize && sub == "finalize" && r.resource == "namespaces") {
      // The server's PUT namespaces/<name>/finalize: only spec.finalizers changes.
      ++finalize_calls;
      std::string none;
      std::string name(api::Name(obj));
      auto cur = co_await fake_.Get(r, none, name);
      if (!cur.has_value()) co_return cur.error();
      json::object next = *cur;
      const json::value* fin = api::FindPath(obj, "spec.finalizers");
      api::MutableObjectAt(next, "spec")["finalizers"] = fin ? *fin : json::value(json::array());
      api::SetResourceVersion(next, api::ResourceVersion(obj));
      std::string plain;
      auto out =
          co_await fake_.Update(std::move(r), std::move(next), std::move(plain), std::move(o));
      co_return out;
    }
    auto out = co_await fake_.Update(std::move(r), std::move(obj), std::move(sub), std::move(o));
    co_return out;
  }
  boost::asio::awaitable<Result<json::object>> Patch(client::Resource r, std::string ns,
                                                     std::string name, client::PatchType t,
                                                     std::string patch,
                                                     client::PatchOptions o) override {
    auto out = co_await fake_.Patch(std::move(r), std::move(ns), std::move(name), t,
                                    std::move(patch), std::move(o));
    co_return out;
  }
  boost::asio::awaitable<Result<json::object>> Delete(client::Resource r, std::string ns,
                                                      std::string name,
                                                      client::DeleteOptions o) override {
    std::string finalizer;
    if (o.propagation_policy == "Foreground") finalizer = "foregroundDeletion";
    if (o.propagation_policy == "Orphan") finalizer = "orphan";
    if (!finalizer.empty()) {
      auto cur = co_await fake_.Get(r, ns, name);
      if (!cur.has_value()) co_return cur.error();
      if (!o.precondition_uid.empty() && api::Uid(*cur) != o.precondition_uid) {
        co_return Status::Conflict("Precondition failed: UID");
      }
      if (!api::HasFinalizer(*cur, finalizer)) {
        json::array fins;
        for (const auto& f : api::Finalizers(*cur)) fins.emplace_back(f);
        fins.emplace_back(finalizer);
        json::object meta{{"finalizers", std::move(fins)}};
        std::string body = json::serialize(json::object{{"metadata", std::move(meta)}});
        client::PatchOptions po;
        auto p = co_await fake_.Patch(r, ns, name, client::PatchType::kMerge, std::move(body),
                                      std::move(po));
        if (!p.has_value()) co_return p.error();
        o.precondition_resource_version.clear();
      }
    }
    auto out = co_await fake_.Delete(std::move(r), std::move(ns), std::move(name), std::move(o));
    co_return out;
  }
  boost::asio::awaitable<Result<std::unique_ptr<client::WatchStream>>> Watch(
      client::Resource r, std::string ns, client::ListOptions o) override {
    auto out = co_await fake_.Watch(std::move(r), std::move(ns), std::move(o));
    co_return out;
  }

  // Serve namespaces/<name>/finalize as the API server does (FakeClient answers 404).
  bool serve_finalize = false;
  int finalize_calls = 0;

 private:
  client::FakeClient& fake_;
};

struct Fixture {
  explicit Fixture(ClusterConfig config = {})
      : fake(io.get_executor(), client::FakeClientOptions{1000, &clock}),
        client(fake),
        ctx(client, io.get_executor(), clock, std::move(config)) {}

  // Runs a client call to completion.
  template <class T>
  T Run(boost::asio::awaitable<T> aw) {
    return testutil::RunCo(io, std::move(aw));
  }

  json::object Create(client::Resource r, json::object obj) {
    auto out = Run(client.Create(std::move(r), std::move(obj)));
    MINI8S_CHECK(out.has_value()) << out.error().ToString();
    return *out;
  }
  Result<json::object> Get(client::Resource r, std::string ns, std::string name) {
    return Run(client.Get(std::move(r), std::move(ns), std::move(name)));
  }
  bool Exists(client::Resource r, std::string ns, std::string name) {
    return Get(std::move(r), std::move(ns), std::move(name)).has_value();
  }
  Result<json::object> Delete(client::Resource r, std::string ns, std::string name,
                              std::string policy = "") {
    client::DeleteOptions o;
    o.propagation_policy = std::move(policy);
    return Run(client.Delete(std::move(r), std::move(ns), std::move(name), std::move(o)));
  }
  Result<json::object> MergePatch(client::Resource r, std::string ns, std::string name,
                                  std::string patch) {
    client::PatchOptions o;
    return Run(client.Patch(std::move(r), std::move(ns), std::move(name), client::PatchType::kMerge,
                            std::move(patch), std::move(o)));
  }

  // Starts every informer registered so far and lets them list and watch.
  void StartInformers() {
    ctx.informers.Start();
    testutil::Poll(io);
    MINI8S_CHECK(ctx.informers.AllSynced()) << "informers did not sync";
  }

  // A worker over `queue` (no informer gating: the test starts the informers itself).
  struct Worker {
    Controller* controller;
    WorkQueue* queue;
    std::unique_ptr<ControllerRunner> runner;
  };
  void AddWorker(Controller& controller, WorkQueue& queue) {
    workers.push_back(Worker{&controller, &queue,
                             std::make_unique<ControllerRunner>(
                                 controller, queue, std::vector<const client::Informer*>{})});
  }

  // Processes queued keys until every queue is empty; keys parked for later (backoff, requeue
  // after) are released by advancing the fake clock by `step` while `max_time_steps` allows.
  // Returns the number of keys processed.
  int Drain(int max_time_steps = 0, std::chrono::milliseconds step = std::chrono::seconds(1)) {
    int processed = 0;
    for (int round = 0; round < 10000; ++round) {
      testutil::Poll(io);
      bool progressed = false;
      for (auto& w : workers) {
        while (w.queue->Len() > 0) {
          MINI8S_CHECK(testutil::RunCo(io, w.runner->ProcessNextItem()));
          ++processed;
          progressed = true;
          testutil::Poll(io);
        }
      }
      if (progressed) continue;
      bool parked = false;
      for (auto& w : workers) parked = parked || w.queue->Waiting() > 0;
      if (!parked || max_time_steps-- <= 0) break;
      clock.Advance(step);
      for (auto& w : workers) w.queue->FlushDue();
    }
    return processed;
  }

  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient fake;
  PropagatingClient client;
  ControllerContext ctx;
  std::vector<Worker> workers;
};

// {"apiVersion", "kind", "metadata": {"name", "namespace"}} plus `extra` fields.
inline json::object Obj(std::string_view api_version, std::string_view kind, std::string_view ns,
                        std::string_view name, json::object extra = {}) {
  json::object o{{"apiVersion", api_version}, {"kind", kind}};
  json::object meta{{"name", name}};
  if (!ns.empty()) meta["namespace"] = ns;
  o["metadata"] = std::move(meta);
  for (auto& [k, v] : extra) o[k] = v;
  return o;
}

// Appends an ownerReference to `owner` (as created) to `obj`.
inline json::object OwnedBy(json::object obj, const json::object& owner, bool controller = true,
                            bool block = true) {
  api::OwnerReference ref;
  ref.api_version = std::string(api::ApiVersion(owner));
  ref.kind = std::string(api::Kind(owner));
  ref.name = std::string(api::Name(owner));
  ref.uid = std::string(api::Uid(owner));
  ref.controller = controller;
  ref.block_owner_deletion = block;
  std::vector<api::OwnerReference> refs = api::OwnerReferences(obj);
  refs.push_back(ref);
  api::SetOwnerReferences(obj, refs);
  return obj;
}

}  // namespace mini8s::controllers::testing
