#include "mini8s/controllers/daemonset.h"

#include <map>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "unit/ctrl_sets/sets_test_util.h"

namespace mini8s::controllers {
namespace {

using namespace testing;  // NOLINT
namespace json = boost::json;

struct DsEnv : FakeCluster {
  client::Informer daemonsets{fake, sets::DaemonSetsResource()};
  client::Informer pods{fake, sets::PodsResource()};
  client::Informer nodes{fake, sets::NodesResource()};
  client::Informer revisions{fake, history::ControllerRevisionsResource()};
  DaemonSetController ctl{fake, {daemonsets, pods, nodes, revisions}, queue, clock, Recorder()};

  DsEnv() {
    informers = {&daemonsets, &pods, &nodes, &revisions};
    ctl.RegisterHandlers();
    StartInformers();
  }
  ~DsEnv() { StopInformers(); }

  void AddNode(const std::string& name, const std::string& labels_json = "{}",
               const std::string& taints_json = "[]") {
    Create(sets::NodesResource(),
           Parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
                 R"(","labels":)" + labels_json + R"(},"spec":{"taints":)" + taints_json + "}}"));
  }

  // node name -> pods targeting it (by the controller's node affinity).
  std::map<std::string, std::vector<json::object>> PodsByNode() {
    std::map<std::string, std::vector<json::object>> out;
    for (json::object& p : List(sets::PodsResource(), "default")) {
      auto node = sets::GetTargetNodeName(p);
      REQUIRE(node.has_value());
      out[*node].push_back(std::move(p));
    }
    return out;
  }

  void ReadyAll() {
    for (const json::object& p : List(sets::PodsResource(), "default")) {
      if (api::GetString(p, "status.phase") != "Running") {
        MakeReady("default", std::string(api::Name(p)));
      }
    }
  }
};

json::object DaemonSet(const std::string& extra_spec = "", const std::string& pod_extra = "") {
  return Parse(
      R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"default"},)"
      R"("spec":{"selector":{"matchLabels":{"app":"agent"}},)" +
      extra_spec + R"("template":{"metadata":{"labels":{"app":"agent"}},"spec":{)" + pod_extra +
      R"("containers":[{"name":"a","image":"agent:1"}]}}}})");
}

TEST_CASE("DaemonSet: lands one pod per eligible node, honouring selectors, taints and tolerations",
          "[ctrl_sets][unit]") {
  DsEnv env;
  env.AddNode("n1", R"({"disk":"ssd"})");
  env.AddNode("n2", R"({"disk":"ssd"})",
              R"([{"key":"dedicated","value":"infra","effect":"NoSchedule"}])");
  env.AddNode("n3", R"({"disk":"hdd"})");
  // Automatic DaemonSet toleration.
  env.AddNode("n4", R"({"disk":"ssd"})",
              R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}])");
  // Tolerated by the template.
  env.AddNode("n5", R"({"disk":"ssd"})", R"([{"key":"foo","value":"x","effect":"NoExecute"}])");
  // PreferNoSchedule does not block.
  env.AddNode("n6", R"({"disk":"ssd"})", R"([{"key":"soft","effect":"PreferNoSchedule"}])");
  // Excluded by required node affinity.
  env.AddNode("n7", R"({"disk":"ssd","zone":"b"})");
  env.Create(
      sets::DaemonSetsResource(),
      DaemonSet(
          "",
          R"("nodeSelector":{"disk":"ssd"},)"
          R"("tolerations":[{"key":"foo","operator":"Exists"}],)"
          R"("affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":)"
          R"({"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["b"]}]}]}}},)"));
  env.Drain(env.ctl);

  auto by_node = env.PodsByNode();
  std::set<std::string> nodes;
  for (const auto& [n, pods] : by_node) {
    nodes.insert(n);
    CHECK(pods.size() == 1);
  }
  CHECK(nodes == std::set<std::string>{"n1", "n4", "n5", "n6"});

  const json::object& pod = by_node["n1"][0];
  CHECK(api::GenerateName(pod) == "agent-");
  CHECK(api::ControllerOf(pod)->kind == "DaemonSet");
  CHECK(api::Label(pod, "pod-template-generation").value_or("") == "1");
  std::string hash(api::Label(pod, "controller-revision-hash").value_or(""));
  CHECK(!hash.empty());
  // Pinned to its node by the scheduler through required node affinity, not spec.nodeName.
  CHECK(api::GetString(pod, "spec.nodeName").empty());
  const json::array* terms =
      api::GetArray(pod,
                    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                    "nodeSelectorTerms");
  REQUIRE(terms != nullptr);
  REQUIRE(terms->size() == 1);
  CHECK(json::serialize(terms->at(0)) ==
        R"({"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]})");
  std::set<std::string> tolerated;
  for (const json::value& t : *api::GetArray(pod, "spec.tolerations")) {
    tolerated.insert(std::string(api::GetString(t.as_object(), "key")) + ":" +
                     std::string(api::GetString(t.as_object(), "effect")));
  }
  CHECK(tolerated.count("node.kubernetes.io/not-ready:NoExecute") == 1);
  CHECK(tolerated.count("node.kubernetes.io/unreachable:NoExecute") == 1);
  CHECK(tolerated.count("node.kubernetes.io/disk-pressure:NoSchedule") == 1);
  CHECK(tolerated.count("node.kubernetes.io/memory-pressure:NoSchedule") == 1);
  CHECK(tolerated.count("node.kubernetes.io/pid-pressure:NoSchedule") == 1);
  CHECK(tolerated.count("node.kubernetes.io/unschedulable:NoSchedule") == 1);
  CHECK(tolerated.count("node.kubernetes.io/network-unavailable:NoSchedule") == 0);
  CHECK(tolerated.count("foo:") == 1);

  // The ControllerRevision the pods point at.
  auto revs = env.List(history::ControllerRevisionsResource(), "default");
  REQUIRE(revs.size() == 1);
  CHECK(api::Name(revs[0]) == "agent-" + hash);
  CHECK(api::GetInt(revs[0], "revision") == 1);
  CHECK(api::Label(revs[0], "controller-revision-hash").value_or("") == hash);
  CHECK(api::GetString(revs[0], "data.spec.template.$patch") == "replace");
  CHECK(api::ControllerOf(revs[0])->name == "agent");

  json::object ds = env.Get(sets::DaemonSetsResource(), "default", "agent");
  CHECK(api::GetInt(ds, "status.desiredNumberScheduled") == 4);
  CHECK(api::GetInt(ds, "status.currentNumberScheduled") == 4);
  CHECK(api::GetInt(ds, "status.numberMisscheduled") == 0);
  CHECK(api::GetInt(ds, "status.numberReady") == 0);
  CHECK(api::GetInt(ds, "status.updatedNumberScheduled") == 4);
  CHECK(api::GetInt(ds, "status.numberUnavailable") == 4);
  CHECK(api::GetInt(ds, "status.observedGeneration") == 1);
  CHECK(env.CountEvents("Normal SuccessfulCreate Created pod: agent-") == 4);

  env.ReadyAll();
  env.Drain(env.ctl);
  ds = env.Get(sets::DaemonSetsResource(), "default", "agent");
  CHECK(api::GetInt(ds, "status.numberReady") == 4);
  CHECK(api::GetInt(ds, "status.numberAvailable") == 4);
  CHECK(!api::GetInt(ds, "status.numberUnavailable").has_value());
}

TEST_CASE("DaemonSet: adds a pod when a node appears and removes it when the node stops matching",
          "[ctrl_sets][unit]") {
  DsEnv env;
  env.AddNode("n1", R"({"role":"edge"})");
  env.Create(sets::DaemonSetsResource(), DaemonSet("", R"("nodeSelector":{"role":"edge"},)"));
  env.Drain(env.ctl);
  CHECK(env.PodsByNode().size() == 1);

  env.AddNode("n2", R"({"role":"edge"})");
  env.AddNode("n3", R"({"role":"core"})");
  env.Drain(env.ctl);
  auto by_node = env.PodsByNode();
  CHECK(by_node.size() == 2);
  CHECK(by_node.count("n2") == 1);

  // A label change makes n3 eligible and n1 ineligible.
  env.Update(sets::NodesResource(), "", "n3",
             [](json::object& n) { api::SetLabel(n, "role", "edge"); });
  env.Update(sets::NodesResource(), "", "n1",
             [](json::object& n) { api::SetLabel(n, "role", "core"); });
  env.Drain(env.ctl);
  by_node = env.PodsByNode();
  CHECK(by_node.count("n1") == 0);
  CHECK(by_node.count("n3") == 1);
  CHECK(by_node.size() == 2);
  CHECK(env.CountEvents("Normal SuccessfulDelete Deleted pod: agent-") == 1);

  // An untolerated NoExecute taint evicts; NoSchedule alone would only stop new pods.
  env.Update(sets::NodesResource(), "", "n2", [](json::object& n) {
    api::MutableObjectAt(n, "spec")["taints"] =
        json::parse(R"([{"key":"maint","effect":"NoSchedule"}])");
  });
  env.Drain(env.ctl);
  CHECK(env.PodsByNode().count("n2") == 1);
  env.Update(sets::NodesResource(), "", "n2", [](json::object& n) {
    api::MutableObjectAt(n, "spec")["taints"] =
        json::parse(R"([{"key":"maint","effect":"NoExecute"}])");
  });
  env.Drain(env.ctl);
  CHECK(env.PodsByNode().count("n2") == 0);
  json::object ds = env.Get(sets::DaemonSetsResource(), "default", "agent");
  CHECK(api::GetInt(ds, "status.desiredNumberScheduled") == 1);
  CHECK(api::GetInt(ds, "status.currentNumberScheduled") == 1);
}

TEST_CASE("DaemonSet: a deleted or failed daemon pod is replaced", "[ctrl_sets][unit]") {
  DsEnv env;
  env.AddNode("n1");
  env.Create(sets::DaemonSetsResource(), DaemonSet());
  env.Drain(env.ctl);
  auto pods = env.List(sets::PodsResource(), "default");
  REQUIRE(pods.size() == 1);
  std::string first(api::Name(pods[0]));
  env.Delete(sets::PodsResource(), "default", first);
  env.Drain(env.ctl);
  pods = env.List(sets::PodsResource(), "default");
  REQUIRE(pods.size() == 1);
  CHECK(api::Name(pods[0]) != first);

  // A Failed pod is killed (with a Warning) and recreated.
  json::object failed = pods[0];
  failed["status"] = Parse(R"({"phase":"Failed"})");
  REQUIRE(testutil::RunCo(env.io, env.fake.UpdateStatus(sets::PodsResource(), failed)).has_value());
  env.Drain(env.ctl);
  pods = env.List(sets::PodsResource(), "default");
  REQUIRE(pods.size() == 1);
  CHECK(api::Name(pods[0]) != api::Name(failed));
  CHECK(env.CountEvents("Warning FailedDaemonPod Found failed daemon pod default/") == 1);
}

TEST_CASE("DaemonSet: rolling update never has more than maxUnavailable pods down",
          "[ctrl_sets][unit]") {
  DsEnv env;
  for (std::string n : {"n1", "n2", "n3", "n4"}) env.AddNode(n);
  env.Create(
      sets::DaemonSetsResource(),
      DaemonSet(
          R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1}},)"));
  env.Drain(env.ctl);
  env.ReadyAll();
  env.Drain(env.ctl);
  std::string old_hash(
      api::Label(env.List(sets::PodsResource(), "default")[0], "controller-revision-hash")
          .value_or(""));

  env.Update(sets::DaemonSetsResource(), "default", "agent", [](json::object& ds) {
    api::MutableObjectAt(ds, "spec.template.spec")["containers"] =
        json::parse(R"([{"name":"a","image":"agent:2"}])");
  });

  std::string new_hash;
  for (int round = 0; round < 10; ++round) {
    env.Drain(env.ctl);
    auto by_node = env.PodsByNode();
    int available = 0;
    int updated = 0;
    for (const auto& [node, pods] : by_node) {
      for (const json::object& p : pods) {
        std::string h(api::Label(p, "controller-revision-hash").value_or(""));
        if (h != old_hash) {
          ++updated;
          new_hash = h;
        }
        if (sets::IsPodReady(p)) ++available;
      }
    }
    INFO("round " << round);
    CHECK(available >= 3);  // 4 nodes, maxUnavailable 1
    CHECK(by_node.size() == 4);
    if (updated == 4 && available == 4) break;
    env.ReadyAll();
  }
  json::object ds = env.Get(sets::DaemonSetsResource(), "default", "agent");
  CHECK(api::GetInt(ds, "status.updatedNumberScheduled") == 4);
  CHECK(api::GetInt(ds, "status.numberAvailable") == 4);
  CHECK(api::GetInt(ds, "status.observedGeneration") == 2);
  for (const json::object& p : env.List(sets::PodsResource(), "default")) {
    CHECK(api::Label(p, "controller-revision-hash").value_or("") == new_hash);
    CHECK(api::Label(p, "pod-template-generation").value_or("") == "2");
  }
  auto revs = env.List(history::ControllerRevisionsResource(), "default");
  REQUIRE(revs.size() == 2);
  std::map<std::string, int64_t> numbers;
  for (const auto& r : revs) {
    numbers[std::string(api::Label(r, "controller-revision-hash").value_or(""))] =
        *api::GetInt(r, "revision");
  }
  CHECK(numbers[old_hash] == 1);
  CHECK(numbers[new_hash] == 2);
}

TEST_CASE("DaemonSet: OnDelete leaves old pods until they are deleted", "[ctrl_sets][unit]") {
  DsEnv env;
  env.AddNode("n1");
  env.AddNode("n2");
  env.Create(sets::DaemonSetsResource(), DaemonSet(R"("updateStrategy":{"type":"OnDelete"},)"));
  env.Drain(env.ctl);
  env.ReadyAll();
  env.Update(sets::DaemonSetsResource(), "default", "agent", [](json::object& ds) {
    api::MutableObjectAt(ds, "spec.template.metadata.labels")["v"] = "2";
  });
  env.Drain(env.ctl);
  auto pods = env.List(sets::PodsResource(), "default");
  REQUIRE(pods.size() == 2);
  for (const auto& p : pods) CHECK(api::Label(p, "pod-template-generation").value_or("") == "1");
  env.Delete(sets::PodsResource(), "default", std::string(api::Name(pods[0])));
  env.Drain(env.ctl);
  int gen2 = 0;
  for (const auto& p : env.List(sets::PodsResource(), "default")) {
    if (api::Label(p, "pod-template-generation").value_or("") == "2") ++gen2;
  }
  CHECK(gen2 == 1);
}

TEST_CASE("DaemonSet: rolling update with maxSurge starts the new pod before removing the old",
          "[ctrl_sets][unit]") {
  DsEnv env;
  for (std::string n : {"n1", "n2", "n3"}) env.AddNode(n);
  env.Create(
      sets::DaemonSetsResource(),
      DaemonSet(
          R"("updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},)"));
  env.Drain(env.ctl);
  env.ReadyAll();
  env.Drain(env.ctl);
  env.Update(sets::DaemonSetsResource(), "default", "agent", [](json::object& ds) {
    api::MutableObjectAt(ds, "spec.template.metadata.labels")["v"] = "2";
  });
  bool saw_two_on_a_node = false;
  for (int round = 0; round < 12; ++round) {
    env.Drain(env.ctl);
    auto by_node = env.PodsByNode();
    int surged_nodes = 0;
    int updated = 0;
    for (const auto& [node, pods] : by_node) {
      int ready = 0;
      for (const json::object& p : pods) {
        if (sets::IsPodReady(p)) ++ready;
        if (api::Label(p, "pod-template-generation").value_or("") == "2") ++updated;
      }
      INFO("round " << round << " node " << node);
      CHECK(ready >= 1);  // 100% availability
      CHECK(pods.size() <= 2);
      if (pods.size() == 2) ++surged_nodes;
    }
    CHECK(surged_nodes <= 1);  // maxSurge 1
    if (surged_nodes == 1) saw_two_on_a_node = true;
    if (updated == 3 && surged_nodes == 0) break;
    env.ReadyAll();
  }
  CHECK(saw_two_on_a_node);
  json::object ds = env.Get(sets::DaemonSetsResource(), "default", "agent");
  CHECK(api::GetInt(ds, "status.updatedNumberScheduled") == 3);
  CHECK(env.List(sets::PodsResource(), "default").size() == 3);
}

TEST_CASE("DaemonSet: revision history is trimmed but revisions of live pods are kept",
          "[ctrl_sets][unit]") {
  DsEnv env;
  env.AddNode("n1");
  env.Create(sets::DaemonSetsResource(),
             DaemonSet(R"("revisionHistoryLimit":1,"updateStrategy":{"type":"OnDelete"},)"));
  env.Drain(env.ctl);
  std::string live_hash(
      api::Label(env.List(sets::PodsResource(), "default")[0], "controller-revision-hash")
          .value_or(""));
  for (int v = 2; v <= 4; ++v) {
    env.Update(sets::DaemonSetsResource(), "default", "agent", [v](json::object& ds) {
      api::MutableObjectAt(ds, "spec.template.metadata.labels")["v"] = std::to_string(v);
    });
    env.Drain(env.ctl);
  }
  auto revs = env.List(history::ControllerRevisionsResource(), "default");
  std::map<int64_t, std::string> by_number;
  for (const auto& r : revs) {
    by_number[*api::GetInt(r, "revision")] =
        std::string(api::Label(r, "controller-revision-hash").value_or(""));
  }
  REQUIRE(by_number.size() == 2);
  CHECK(by_number.begin()->first == 1);
  CHECK(by_number.begin()->second == live_hash);  // a pod still runs it
  CHECK(by_number.rbegin()->first == 4);
}

TEST_CASE("DaemonSet: placement predicates follow upstream's NodeShouldRunDaemonPod",
          "[ctrl_sets][unit]") {
  json::object ds = DaemonSet();
  auto node = [](const std::string& taints) {
    return Parse(R"({"metadata":{"name":"n"},"spec":{"taints":)" + taints + "}}");
  };
  auto p = NodeShouldRunDaemonPod(node("[]"), ds);
  CHECK((p.should_run && p.should_continue_running));
  p = NodeShouldRunDaemonPod(node(R"([{"key":"k","effect":"NoSchedule"}])"), ds);
  CHECK((!p.should_run && p.should_continue_running));
  p = NodeShouldRunDaemonPod(node(R"([{"key":"k","effect":"NoExecute"}])"), ds);
  CHECK((!p.should_run && !p.should_continue_running));
  // not-ready NoExecute is tolerated automatically.
  p = NodeShouldRunDaemonPod(
      node(R"([{"key":"node.kubernetes.io/not-ready","effect":"NoExecute"}])"), ds);
  CHECK(p.should_run);
  // network-unavailable only for hostNetwork pods.
  auto netnode =
      node(R"([{"key":"node.kubernetes.io/network-unavailable","effect":"NoSchedule"}])");
  CHECK(!NodeShouldRunDaemonPod(netnode, ds).should_run);
  CHECK(NodeShouldRunDaemonPod(netnode, DaemonSet("", R"("hostNetwork":true,)")).should_run);
}

}  // namespace
}  // namespace mini8s::controllers
