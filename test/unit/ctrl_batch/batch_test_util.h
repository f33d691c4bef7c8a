// A FakeClient + FakeClock + informers harness for the batch controller tests: reconciles are
// driven directly on one io_context, and pod/job state changes are made through the fake API.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/client/informer.h"
#include "mini8s/controllers/job.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers::batch_test {

namespace json = boost::json;

inline const client::Resource kPods{"", "v1", "pods", "Pod", true};
inline const client::Resource kJobs{"batch", "v1", "jobs", "Job", true};
inline const client::Resource kCronJobs{"batch", "v1", "cronjobs", "CronJob", true};

class Harness {
 public:
  Harness()
      : fake_(io_.get_executor(), client::FakeClientOptions{1000, &clock_}),
        queue_(io_.get_executor(), clock_) {}
  ~Harness() {
    queue_.ShutDown();
    for (auto& inf : informers_) inf->Stop();
    testutil::Poll(io_);
  }

  client::Informer& NewInformer(const client::Resource& res) {
    informers_.push_back(std::make_unique<client::Informer>(fake_, res));
    return *informers_.back();
  }
  void StartInformers() {
    for (auto& inf : informers_) boost::asio::co_spawn(io_, inf->Run(), testutil::Rethrow);
    testutil::Poll(io_);
  }
  EventSink Sink() {
    return [this](const json::object&, std::string_view type, std::string_view reason,
                  std::string message) {
      events_.push_back(std::string(type) + " " + std::string(reason) + " " + message);
    };
  }
  // Runs `aw` to completion and lets the informers catch up.
  template <class T>
  T Run(boost::asio::awaitable<T> aw) {
    testutil::Poll(io_);
    T out = testutil::RunCo(io_, std::move(aw));
    testutil::Poll(io_);
    return out;
  }

  json::object Create(const client::Resource& res, const std::string& text) {
    auto r = Run(fake_.Create(res, json::parse(text).as_object()));
    REQUIRE(r.has_value());
    return *r;
  }
  json::object Get(const client::Resource& res, const std::string& name) {
    auto r = Run(fake_.Get(res, "ns1", name));
    REQUIRE(r.has_value());
    return *r;
  }
  bool Exists(const client::Resource& res, const std::string& name) {
    return Run(fake_.Get(res, "ns1", name)).has_value();
  }
  std::vector<json::object> List(const client::Resource& res) {
    auto r = Run(fake_.List(res, "ns1", {}));
    REQUIRE(r.has_value());
    return r->items;
  }
  // Replaces the object's status (merged over the current one).
  json::object MergeStatus(const client::Resource& res, const std::string& name,
                           const std::string& status_json) {
    json::object obj = Get(res, name);
    json::object& st = api::MutableObjectAt(obj, "status");
    json::value patch = json::parse(status_json);
    for (auto& [k, v] : patch.as_object()) st[k] = v;
    auto r = Run(fake_.UpdateStatus(res, obj));
    REQUIRE(r.has_value());
    return *r;
  }
  json::object UpdateSpec(const client::Resource& res, const std::string& name,
                          const std::string& field, json::value value) {
    json::object obj = Get(res, name);
    api::MutableObjectAt(obj, "spec")[field] = std::move(value);
    auto r = Run(fake_.Update(res, obj));
    REQUIRE(r.has_value());
    return *r;
  }
  bool HasEvent(const std::string& prefix) const {
    for (const auto& e : events_) {
      if (e.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }
  int CountEvents(const std::string& prefix) const {
    int n = 0;
    for (const auto& e : events_) n += e.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }

  boost::asio::io_context io_;
  testutil::FakeClock clock_;
  client::FakeClient fake_;
  WorkQueue queue_;
  std::vector<std::unique_ptr<client::Informer>> informers_;
  std::vector<std::string> events_;
};

}  // namespace mini8s::controllers::batch_test
