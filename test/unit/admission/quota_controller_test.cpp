#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/controllers/manager.h"
#include "mini8s/controllers/quota.h"
#include "unit/ctrl_core/ctrl_core_fixture.h"

namespace mini8s::controllers {
namespace {

namespace json = boost::json;
using testing::Fixture;
using testing::Obj;

std::string UsedOf(const json::object& q, std::string_view name) {
  const json::object* used = api::GetObject(q, "status.used");
  if (used == nullptr) return "<none>";
  auto it = used->find(name);
  return it != used->end() && it->value().is_string() ? std::string(it->value().as_string())
                                                      : "<none>";
}

json::object PodObj(std::string_view name, std::string_view cpu, std::string_view phase) {
  json::object c{{"name", "c"},
                 {"image", "x"},
                 {"resources", json::object{{"requests", json::object{{"cpu", cpu}}}}}};
  return Obj("v1", "Pod", "ns1", name,
             json::object{{"spec", json::object{{"containers", json::array{c}}}},
                          {"status", json::object{{"phase", phase}}}});
}

struct QuotaFixture : Fixture {
  QuotaFixture() : ctl(ctx) { AddWorker(ctl, ctl.queue()); }
  ResourceQuotaController ctl;
};

TEST_CASE("ResourceQuotaController: status is a full recount and follows deletions",
          "[ctrl_quota][unit]") {
  QuotaFixture f;
  f.Create(resources::Pods(), PodObj("run", "200m", "Running"));
  f.Create(resources::Pods(), PodObj("done", "1", "Succeeded"));
  f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "ns1", "a"));
  f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "other", "b"));
  f.Create(
      resources::ResourceQuotas(),
      Obj("v1", "ResourceQuota", "ns1", "q",
          json::object{
              {"spec", json::object{{"hard", json::object{{"pods", "2"},
                                                          {"requests.cpu", "1"},
                                                          {"count/configmaps", "3"},
                                                          {"count/deployments.apps", "1"}}}}}}));
  f.StartInformers();
  f.Drain();
  auto q = f.Get(resources::ResourceQuotas(), "ns1", "q");
  REQUIRE(q.has_value());
  CHECK(UsedOf(*q, "pods") == "1");
  CHECK(UsedOf(*q, "requests.cpu") == "200m");
  CHECK(UsedOf(*q, "count/configmaps") == "1");
  CHECK(UsedOf(*q, "count/deployments.apps") == "0");
  CHECK(api::GetObject(*q, "status.hard") != nullptr);
  CHECK(*api::FindPath(*q, "status.hard") == *api::FindPath(*q, "spec.hard"));

  // A pod going away is given back.
  REQUIRE(f.Delete(resources::Pods(), "ns1", "run").has_value());
  f.Drain();
  q = f.Get(resources::ResourceQuotas(), "ns1", "q");
  CHECK(UsedOf(*q, "pods") == "0");
  CHECK(UsedOf(*q, "requests.cpu") == "0");

  // Kinds without event handlers are caught by the periodic recount.
  f.Create(resources::ConfigMaps(), Obj("v1", "ConfigMap", "ns1", "c"));
  f.Drain();
  CHECK(UsedOf(*f.Get(resources::ResourceQuotas(), "ns1", "q"), "count/configmaps") == "1");
  f.ctl.EnqueueAll();
  f.Drain();
  CHECK(UsedOf(*f.Get(resources::ResourceQuotas(), "ns1", "q"), "count/configmaps") == "2");
}

}  // namespace
}  // namespace mini8s::controllers
