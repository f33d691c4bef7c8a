// A FakeClient, a FakeClock and informers on one io_context, for driving this module's
// controllers' Reconcile directly.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/client/informer.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/work_queue.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers::testing {

namespace json = boost::json;

class Env {
 public:
  Env() : fake(io.get_executor(), Options(clock)), queue(io.get_executor(), clock) {}
  ~Env() {
    queue.ShutDown();
    for (auto& [k, inf] : informers_) inf->Stop();
    testutil::Poll(io);
  }

  client::Informer& Inf(const client::Resource& r) {
    auto& slot = informers_[r.resource];
    if (!slot) {
      slot = std::make_unique<client::Informer>(fake, r);
      slot->AddIndex(std::string(client::kNamespaceIndex), client::IndexByNamespace);
    }
    return *slot;
  }
  void Start() {
    for (auto& [k, inf] : informers_) {
      boost::asio::co_spawn(io, inf->Run(), testutil::Rethrow);
    }
    testutil::Poll(io);
  }
  template <class T>
  T Run(boost::asio::awaitable<T> aw) {
    T out = testutil::RunCo(io, std::move(aw));
    testutil::Poll(io);
    return out;
  }
  json::object Create(const client::Resource& r, std::string_view text) {
    auto got = Run(fake.Create(r, json::parse(text).as_object()));
    REQUIRE(got.has_value());
    return *got;
  }
  json::object Create(const client::Resource& r, json::object obj) {
    auto got = Run(fake.Create(r, std::move(obj)));
    REQUIRE(got.has_value());
    return *got;
  }
  Result<json::object> Get(const client::Resource& r, std::string ns, std::string name) {
    return Run(fake.Get(r, std::move(ns), std::move(name)));
  }
  std::vector<json::object> List(const client::Resource& r, std::string ns = "") {
    auto got = Run(fake.List(r, std::move(ns), client::ListOptions{}));
    REQUIRE(got.has_value());
    return got->items;
  }
  // Reconciles until the queue has nothing for `ctl` (bounded).
  template <class C>
  void Drain(C& ctl, int limit = 20) {
    for (int i = 0; i < limit && queue.Len() > 0; ++i) {
      auto key = testutil::RunCo(io, queue.Get());
      REQUIRE(key.has_value());
      auto r = Run(ctl.Reconcile(*key));
      queue.Done(*key);
      REQUIRE(r.has_value());
    }
  }

  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient fake;
  WorkQueue queue;

 private:
  static client::FakeClientOptions Options(testutil::FakeClock& clock) {
    client::FakeClientOptions o;
    o.clock = &clock;
    return o;
  }
  std::map<std::string, std::unique_ptr<client::Informer>> informers_;
};

}  // namespace mini8s::controllers::testing
