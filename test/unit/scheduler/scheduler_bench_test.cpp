// Throughput of the scheduling loop against FakeClient: 100 nodes, 3,000 pods, binds and informer
// events included. Hidden tag: run by hand (`mini8s_scheduler_unit_tests "[.bench]"`); it prints
// the figure and never fails on timing.
#include <chrono>
#include <ctime>
#include <iostream>

#include <catch2/catch.hpp>

#include "unit/scheduler/scheduler_test_util.h"

namespace mini8s::scheduler::test {
namespace {

TEST_CASE("Scheduler bench: 3000 pods onto 100 nodes", "[scheduler][.bench]") {
  Fixture f;
  for (int i = 0; i < 100; ++i) {
    json::object n = Node("node-" + std::to_string(i), "32", "128Gi", "110");
    api::SetLabel(n, "topology.kubernetes.io/zone", "zone-" + std::to_string(i % 3));
    f.Create(kNodes, n);
  }
  for (int i = 0; i < 3000; ++i) {
    json::object p = Pod("pod-" + std::to_string(i), "100m", "128Mi");
    api::SetLabel(p, "app", "app-" + std::to_string(i % 30));
    SetOwner(p, "rs-" + std::to_string(i % 30));
    auto r = testutil::RunCo(f.io, f.fake.Create(kPods, std::move(p)));
    REQUIRE(r.has_value());
  }
  f.Poll();
  REQUIRE(f.sched->active_pods() == 3000);
  auto start = std::chrono::steady_clock::now();
  std::clock_t cpu_start = std::clock();
  f.ScheduleAll();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::cout << "scheduler bench: " << f.sched->stats().bound << " pods bound in " << secs
            << " s wall, " << cpu << " s CPU = " << static_cast<int>(f.sched->stats().bound / secs)
            << " pods/s wall, " << static_cast<int>(f.sched->stats().bound / cpu)
            << " pods/s per CPU second (100 nodes)" << std::endl;
  CHECK(f.sched->stats().bound == 3000);
}

}  // namespace
}  // namespace mini8s::scheduler::test
