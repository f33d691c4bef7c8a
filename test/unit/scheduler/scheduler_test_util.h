// A scheduler wired to a FakeClient, its informers and a FakeClock on one io_context, plus
// builders for nodes and pods. Tests drive the loop by hand: ScheduleAll() runs scheduling cycles
// until activeQ is empty, then lets binds and informer events settle.
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
#include "mini8s/scheduler/scheduler.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::scheduler::test {

namespace json = boost::json;

inline client::Resource kPods{"", "v1", "pods", "Pod", true};
inline client::Resource kNodes{"", "v1", "nodes", "Node", false};
inline client::Resource kPvcs{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true};
inline client::Resource kPvs{"", "v1", "persistentvolumes", "PersistentVolume", false};
inline client::Resource kClasses{"storage.k8s.io", "v1", "storageclasses", "StorageClass", false};
inline client::Resource kEvents{"", "v1", "events", "Event", true};

inline json::object Node(const std::string& name, const std::string& cpu = "4",
                         const std::string& memory = "8Gi", const std::string& pods = "110") {
  json::object n{
      {"metadata",
       json::object{{"name", name}, {"labels", json::object{{"kubernetes.io/hostname", name}}}}},
      {"spec", json::object{}},
      {"status",
       json::object{
           {"allocatable",
            json::object{
                {"cpu", cpu}, {"memory", memory}, {"ephemeral-storage", "100Gi"}, {"pods", pods}}},
           {"conditions", json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}}}};
  return n;
}

inline json::object Pod(const std::string& name, const std::string& cpu = "",
                        const std::string& memory = "") {
  json::object requests;
  if (!cpu.empty()) requests["cpu"] = cpu;
  if (!memory.empty()) requests["memory"] = memory;
  json::object c{{"name", "c"}, {"image", "busybox"}};
  if (!requests.empty()) c["resources"] = json::object{{"requests", requests}};
  return json::object{{"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                      {"spec", json::object{{"containers", json::array{c}}}},
                      {"status", json::object{{"phase", "Pending"}}}};
}

inline void SetOwner(json::object& pod, const std::string& uid) {
  api::MutableMetadata(pod)["ownerReferences"] = json::array{json::object{{"apiVersion", "apps/v1"},
                                                                          {"kind", "ReplicaSet"},
                                                                          {"name", "rs-" + uid},
                                                                          {"uid", uid},
                                                                          {"controller", true}}};
}

inline json::object& Spec(json::object& o) { return api::MutableObjectAt(o, "spec"); }

struct Fixture {
  explicit Fixture(SchedulerOptions options = {}) {
    if (options.seed == 0) options.seed = 42;
    sched = std::make_unique<Scheduler>(
        fake, io.get_executor(), clock, SchedulerInformers{pods, nodes, pvcs, pvs, classes},
        [this](const json::object& obj, std::string_view type, std::string_view reason,
               std::string message) {
          events.push_back(std::string(type) + " " + std::string(reason) + " " +
                           client::ObjectKey(obj) + " " + message);
        },
        options);
    for (client::Informer* inf : {&pods, &nodes, &pvcs, &pvs, &classes}) {
      boost::asio::co_spawn(io, inf->Run(), testutil::Rethrow);
    }
    Poll();
  }
  ~Fixture() {
    sched->Stop();
    for (client::Informer* inf : {&pods, &nodes, &pvcs, &pvs, &classes}) inf->Stop();
    Poll();
  }

  void Poll() { testutil::Poll(io); }

  json::object Create(const client::Resource& r, json::object o) {
    auto res = testutil::RunCo(io, fake.Create(r, std::move(o)));
    REQUIRE(res.has_value());
    Poll();
    return *res;
  }
  json::object Get(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto res = testutil::RunCo(io, fake.Get(r, ns, name));
    REQUIRE(res.has_value());
    return *res;
  }
  void Update(const client::Resource& r, json::object o) {
    auto res = testutil::RunCo(io, fake.Update(r, std::move(o)));
    REQUIRE(res.has_value());
    Poll();
  }
  void Delete(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto res = testutil::RunCo(io, fake.Delete(r, ns, name));
    REQUIRE(res.has_value());
    Poll();
  }
  // Runs scheduling cycles until activeQ is empty and binds have settled.
  void ScheduleAll() {
    Poll();
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      while (sched->ScheduleOne()) any = true;
      Poll();
      if (!any) break;
    }
  }
  std::string NodeOf(const std::string& name) {
    return std::string(api::GetString(Get(kPods, "default", name), "spec.nodeName"));
  }
  bool HasEvent(const std::string& text) const {
    for (const std::string& e : events) {
      if (e == text) return true;
    }
    return false;
  }

  boost::asio::io_context io;
  testutil::FakeClock clock;
  client::FakeClient fake{io.get_executor(), client::FakeClientOptions{100000, &clock}};
  client::Informer pods{fake, kPods};
  client::Informer nodes{fake, kNodes};
  client::Informer pvcs{fake, kPvcs};
  client::Informer pvs{fake, kPvs};
  client::Informer classes{fake, kClasses};
  std::vector<std::string> events;
  std::unique_ptr<Scheduler> sched;
};

}  // namespace mini8s::scheduler::test
