// Shared fixture pieces for the DaemonSet/StatefulSet controller tests: a FakeClient on a
// single-threaded io_context with a FakeClock, informers over it, and a loop that feeds the work
// queue's keys to Reconcile directly (no runner, no timers, no sleeps).
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "controllers/sets/sets_util.h"
#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/client/informer.h"
#include "mini8s/controllers/controller.h"
#include "mini8s/controllers/history.h"
#include "mini8s/controllers/work_queue.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers::testing {

namespace json = boost::json;
using client::ObjectPtr;

inline json::object Parse(std::string_view text) { return json::parse(text).as_object(); }

// The base every test builds on: fake API, clock, queue, event log.
struct FakeCluster {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient fake{io.get_executor(), client::FakeClientOptions{1000, &clock}};
  WorkQueue queue{io.get_executor(), clock};
  std::vector<std::string> events;
  std::vector<client::Informer*> informers;

  SetEventFunc Recorder() {
    return [this](const json::object&, std::string_view type, std::string_view reason,
                  std::string message) {
      events.push_back(std::string(type) + " " + std::string(reason) + " " + message);
    };
  }

  void StartInformers() {
    for (client::Informer* inf : informers) {
      boost::asio::co_spawn(io, inf->Run(), testutil::Rethrow);
    }
    testutil::Poll(io);
    for (client::Informer* inf : informers) REQUIRE(inf->HasSynced());
  }

  void StopInformers() {
    queue.ShutDown();
    for (client::Informer* inf : informers) inf->Stop();
    testutil::Poll(io);
  }

  json::object Create(const client::Resource& r, json::object obj) {
    auto out = testutil::RunCo(io, fake.Create(r, std::move(obj)));
    REQUIRE(out.has_value());
    testutil::Poll(io);
    return *out;
  }

  json::object Get(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto out = testutil::RunCo(io, fake.Get(r, ns, name));
    REQUIRE(out.has_value());
    return *out;
  }

  bool Exists(const client::Resource& r, const std::string& ns, const std::string& name) {
    return testutil::RunCo(io, fake.Get(r, ns, name)).has_value();
  }

  std::vector<json::object> List(const client::Resource& r, const std::string& ns,
                                 const std::string& selector = "") {
    client::ListOptions lo;
    lo.label_selector = selector;
    auto out = testutil::RunCo(io, fake.List(r, ns, lo));
    REQUIRE(out.has_value());
    return out->items;
  }

  // Applies `mutate` to the stored object and writes it back (spec/metadata).
  json::object Update(const client::Resource& r, const std::string& ns, const std::string& name,
                      const std::function<void(json::object&)>& mutate) {
    json::object obj = Get(r, ns, name);
    mutate(obj);
    auto out = testutil::RunCo(io, fake.Update(r, std::move(obj)));
    REQUIRE(out.has_value());
    testutil::Poll(io);
    return *out;
  }

  void Delete(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto out = testutil::RunCo(io, fake.Delete(r, ns, name));
    REQUIRE(out.has_value());
    testutil::Poll(io);
  }

  // Marks a pod Running and Ready (what the agent would report).
  void MakeReady(const std::string& ns, const std::string& name) {
    json::object pod = Get(sets::PodsResource(), ns, name);
    pod["status"] = Parse(R"({"phase":"Running","conditions":[{"type":"Ready","status":"True",)"
                          R"("lastTransitionTime":"2025-01-01T00:00:00Z"}]})");
    auto out = testutil::RunCo(io, fake.UpdateStatus(sets::PodsResource(), std::move(pod)));
    REQUIRE(out.has_value());
    testutil::Poll(io);
  }

  // Feeds queued keys to `ctl` until the queue is empty; returns how many reconciles ran.
  int Drain(Controller& ctl, int max = 100) {
    int n = 0;
    for (; n < max; ++n) {
      testutil::Poll(io);
      if (queue.Len() == 0) break;
      auto key = testutil::RunCo(io, queue.Get());
      REQUIRE(key.has_value());
      auto r = testutil::RunCo(io, ctl.Reconcile(*key));
      INFO("reconcile " << *key << ": " << (r.has_value() ? "ok" : r.error().ToString()));
      CHECK(r.has_value());
      queue.Forget(*key);
      queue.Done(*key);
    }
    testutil::Poll(io);
    return n;
  }

  int CountEvents(std::string_view prefix) const {
    return static_cast<int>(std::count_if(events.begin(), events.end(), [&](const std::string& e) {
      return e.rfind(prefix, 0) == 0;
    }));
  }
};

}  // namespace mini8s::controllers::testing
