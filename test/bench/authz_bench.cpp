// RBAC authorizer bench: decision latency with 1,000 roles and 1,000 bindings (plus the
// bootstrap policy) in the index. Prints figures; never fails on timing.
//   cmake --build BUILD --target mini8s_authz_bench && BUILD/test/bench/mini8s_authz_bench [n]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "mini8s/common/json.h"
#include "mini8s/server/rbac.h"
#include "mini8s/store/mem_store.h"
#include "mini8s/store/store.h"

namespace json = boost::json;
using namespace mini8s;
using SteadyClock = std::chrono::steady_clock;

namespace {

json::object Rule(std::vector<std::string> verbs, std::string group, std::string resource) {
  json::array v, g{group}, r{resource};
  for (auto& s : verbs) v.emplace_back(s);
  return json::object{{"verbs", v}, {"apiGroups", g}, {"resources", r}};
}

void Put(store::Store& s, const std::string& key, const json::object& o) {
  auto r = s.Create(key, SerializeJson(o));
  if (!r.ok()) {
    std::fprintf(stderr, "create %s: %s\n", key.c_str(), r.error().message().c_str());
    std::exit(1);
  }
}

void Report(const char* what, std::vector<int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) { return ns[std::min(ns.size() - 1, size_t(p * double(ns.size())))]; };
  std::printf("%-44s n=%zu p50=%lldns p90=%lldns p99=%lldns max=%lldns\n", what, ns.size(),
              (long long)pct(0.50), (long long)pct(0.90), (long long)pct(0.99),
              (long long)ns.back());
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int decisions = 200000;
  auto store = store::MemStore::Create();
  if (!server::ReconcileBootstrapPolicy(*store).ok()) return 1;
  const std::string prefix(server::kRbacPrefix);
  const std::vector<std::string> resources = {"pods",        "configmaps", "secrets", "services",
                                              "deployments", "jobs",       "leases",  "events"};
  for (int i = 0; i < n; ++i) {
    std::string name = "role-" + std::to_string(i);
    const std::string& res = resources[i % resources.size()];
    json::array rules{Rule({"get", "list", "watch"}, i % 2 ? "apps" : "", res),
                      Rule({"create", "update"}, "", res + "/status"), Rule({"get"}, "", "nodes")};
    Put(*store, prefix + "clusterroles/" + name,
        json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                     {"kind", "ClusterRole"},
                     {"metadata", json::object{{"name", name}}},
                     {"rules", rules}});
  }
  // Half ClusterRoleBindings, half RoleBindings over 50 namespaces; users and groups mixed.
  for (int i = 0; i < n; ++i) {
    std::string name = "binding-" + std::to_string(i);
    json::array subjects{
        json::object{{"kind", "User"}, {"name", "user-" + std::to_string(i)}},
        json::object{{"kind", "Group"}, {"name", "group-" + std::to_string(i % 20)}}};
    json::object o{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                   {"metadata", json::object{{"name", name}}},
                   {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                            {"kind", "ClusterRole"},
                                            {"name", "role-" + std::to_string(i)}}},
                   {"subjects", subjects}};
    if (i % 2 == 0) {
      o["kind"] = "ClusterRoleBinding";
      Put(*store, prefix + "clusterrolebindings/" + name, o);
    } else {
      std::string ns = "ns-" + std::to_string(i % 50);
      o["kind"] = "RoleBinding";
      o["metadata"].as_object()["namespace"] = ns;
      Put(*store, prefix + "rolebindings/" + ns + "/" + name, o);
    }
  }
  auto t0 = SteadyClock::now();
  auto rbac = server::RbacAuthorizer::Create(*store);
  auto t1 = SteadyClock::now();
  if (!rbac.ok()) return 1;
  std::printf("index: %d roles + %d bindings (+ bootstrap policy) built in %.2f ms\n", n, n,
              std::chrono::duration<double, std::milli>(t1 - t0).count());

  std::mt19937 rng(42);
  std::vector<server::Attributes> reqs;
  for (int i = 0; i < 1024; ++i) {
    int u = int(rng() % unsigned(n));
    server::Attributes a;
    a.user = {"user-" + std::to_string(u),
              "",
              {"group-" + std::to_string(rng() % 40), "system:authenticated"}};
    a.resource_request = true;
    a.verb = (rng() % 3 == 0) ? "delete" : "get";
    a.api_group = (u % 2) ? "apps" : "";
    a.resource = resources[rng() % resources.size()];
    a.namespace_ = "ns-" + std::to_string(rng() % 60);
    a.name = "x";
    reqs.push_back(std::move(a));
  }
  int allowed = 0;
  std::vector<int64_t> lat;
  lat.reserve(decisions);
  for (int i = 0; i < decisions; ++i) {
    const auto& a = reqs[size_t(i) % reqs.size()];
    auto s = SteadyClock::now();
    bool ok = (*rbac)->Authorize(a);
    auto e = SteadyClock::now();
    allowed += ok;
    lat.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count());
  }
  Report("Authorize (mixed allow/deny, resource)", lat);
  std::printf("  allowed %d of %d\n", allowed, decisions);

  lat.clear();
  server::Attributes path;
  path.user = {"user-7", "", {"system:authenticated"}};
  path.verb = "get";
  path.path = "/apis/apps/v1";
  for (int i = 0; i < decisions; ++i) {
    auto s = SteadyClock::now();
    bool ok = (*rbac)->Authorize(path);
    auto e = SteadyClock::now();
    allowed += ok;
    lat.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count());
  }
  Report("Authorize (discovery path via group)", lat);

  lat.clear();
  for (int i = 0; i < 20000; ++i) {
    const auto& a = reqs[size_t(i) % reqs.size()];
    auto s = SteadyClock::now();
    server::AuthorizerDecision d = (*rbac)->Decide(a);
    auto e = SteadyClock::now();
    allowed += d.allowed();
    lat.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count());
  }
  Report("Decide (with reason string)", lat);

  // How fast a binding change reaches decisions (store write to applied in the index).
  lat.clear();
  for (int i = 0; i < 200; ++i) {
    std::string name = "late-" + std::to_string(i);
    json::object o{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                   {"kind", "ClusterRoleBinding"},
                   {"metadata", json::object{{"name", name}}},
                   {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                            {"kind", "ClusterRole"},
                                            {"name", "role-1"}}},
                   {"subjects", json::array{json::object{{"kind", "User"}, {"name", name}}}}};
    auto s = SteadyClock::now();
    auto rev = store->Create(prefix + "clusterrolebindings/" + name, SerializeJson(o));
    if (!rev.ok() || !(*rbac)->WaitForRevision(*rev, std::chrono::seconds(5))) return 1;
    auto e = SteadyClock::now();
    lat.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(e - s).count());
  }
  Report("binding create -> visible to decisions", lat);
  std::printf("(timings from a shared 2-core machine; figures only, never asserted)\n");
  return allowed < 0 ? 1 : 0;
}
