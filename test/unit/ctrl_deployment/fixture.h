// Test fixture for the ReplicaSet and Deployment controllers: a FakeClient and FakeClock on one
// io_context, a ControllerContext whose informers feed both controllers, and a "kubelet" that
// marks pods ready by writing their status. Reconciles are driven by hand (Drain), never by
// sleeping.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/client/fake_client.h"
#include "mini8s/common/clock.h"
#include "mini8s/controllers/deployment.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/replicaset.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::controllers::testing {

namespace json = boost::json;
using testutil::Poll;
using testutil::RunCo;

inline json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

struct Env {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient fake{io.get_executor(), client::FakeClientOptions{100000, &clock}};
  ControllerContext ctx{fake, io.get_executor(), clock};
  WorkQueue& rs_queue = ctx.NewQueue();
  ReplicaSetController rsc{ctx, rs_queue};
  WorkQueue* d_queue = nullptr;
  std::unique_ptr<DeploymentController> dc;
  std::vector<std::string> errors;

  explicit Env(bool with_deployments = true) {
    if (with_deployments) {
      d_queue = &ctx.NewQueue();
      dc = std::make_unique<DeploymentController>(ctx, *d_queue);
    }
    ctx.informers.Start();
    Poll(io);
  }
  ~Env() {
    ctx.Stop();
    Poll(io);
  }

  // Lets informers catch up, then reconciles queued keys until every queue is empty.
  // Errors are recorded (and not retried) so a test sees them.
  void Drain(int max_rounds = 200) {
    for (int round = 0; round < max_rounds; ++round) {
      Poll(io);
      bool did = false;
      did = Step(rs_queue, rsc) || did;
      if (dc) did = Step(*d_queue, *dc) || did;
      if (!did) {
        Poll(io);
        if (rs_queue.Len() == 0 && (!d_queue || d_queue->Len() == 0)) return;
      }
    }
  }

  bool Step(WorkQueue& q, Controller& c) {
    if (q.Len() == 0) return false;
    std::optional<std::string> key = RunCo(io, q.Get());
    if (!key) return false;
    Result<Requeue> r = RunCo(io, c.Reconcile(*key));
    if (!r.has_value())
      errors.push_back(std::string(c.name()) + " " + *key + ": " + r.error().ToString());
    q.Done(*key);
    return true;
  }

  // Advances the clock and releases keys parked with AddAfter that are now due.
  template <class D>
  void Advance(D d) {
    clock.Advance(d);
    rs_queue.FlushDue();
    if (d_queue) d_queue->FlushDue();
  }

  json::object Create(const client::Resource& r, json::object obj) {
    auto res = RunCo(io, fake.Create(r, std::move(obj)));
    MINI8S_CHECK(res.has_value()) << res.error().ToString();
    return *res;
  }
  json::object Get(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto res = RunCo(io, fake.Get(r, ns, name));
    MINI8S_CHECK(res.has_value()) << res.error().ToString();
    return *res;
  }
  std::vector<json::object> List(const client::Resource& r, const std::string& selector = "") {
    client::ListOptions opts;
    opts.label_selector = selector;
    auto res = RunCo(io, fake.List(r, "ns", opts));
    MINI8S_CHECK(res.has_value()) << res.error().ToString();
    return res->items;
  }
  json::object Patch(const client::Resource& r, const std::string& name, const std::string& merge) {
    auto res = RunCo(
        io, fake.Patch(r, "ns", name, client::PatchType::kMerge, merge, client::PatchOptions{}));
    MINI8S_CHECK(res.has_value()) << res.error().ToString();
    return *res;
  }

  std::vector<json::object> Pods(const std::string& selector = "") {
    return List(resources::Pods(), selector);
  }
  std::vector<json::object> ActivePods(const std::string& selector = "") {
    std::vector<json::object> out;
    for (auto& p : Pods(selector)) {
      if (!api::IsBeingDeleted(p)) out.push_back(std::move(p));
    }
    return out;
  }
  std::vector<json::object> ReplicaSets() { return List(resources::ReplicaSets()); }

  // The kubelet's part: running and Ready since now. `which` picks the pods (all by default).
  int MarkReady(const std::function<bool(const json::object&)>& which = nullptr) {
    int n = 0;
    for (auto& p : Pods()) {
      if (which && !which(p)) continue;
      const json::array* conds = api::GetArray(p, "status.conditions");
      bool ready = false;
      if (conds) {
        for (const auto& c : *conds) {
          if (c.as_object().at("type") == "Ready" && c.as_object().at("status") == "True") {
            ready = true;
          }
        }
      }
      if (ready) continue;
      json::object st{{"phase", "Running"},
                      {"conditions", json::array{json::object{
                                         {"type", "Ready"},
                                         {"status", "True"},
                                         {"lastTransitionTime", FormatRfc3339(clock.Now())}}}}};
      p["status"] = std::move(st);
      auto r = RunCo(io, fake.UpdateStatus(resources::Pods(), p));
      MINI8S_CHECK(r.has_value()) << r.error().ToString();
      ++n;
    }
    return n;
  }

  // Events recorded by a controller, as "<type> <reason> <message>".
  const std::vector<std::string>& Events(const std::string& component) {
    return ctx.events(component).recorded();
  }
};

inline bool OwnedBy(const json::object& obj, const json::object& owner) {
  auto ref = api::ControllerOf(obj);
  return ref && ref->uid == api::Uid(owner);
}

inline int64_t IntAt(const json::object& obj, const char* path) {
  return api::GetInt(obj, path).value_or(0);
}

inline std::string ConditionField(const json::object& obj, const std::string& type,
                                  const std::string& field) {
  if (const json::array* conds = api::GetArray(obj, "status.conditions")) {
    for (const auto& c : *conds) {
      if (api::GetString(c.as_object(), "type") == type) {
        return std::string(api::GetString(c.as_object(), field));
      }
    }
  }
  return "";
}

}  // namespace mini8s::controllers::testing
