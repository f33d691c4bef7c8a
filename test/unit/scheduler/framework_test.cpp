#include "scheduler/framework.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

namespace mini8s::scheduler {
namespace {

namespace json = boost::json;

NodeInfo LabeledNode(const std::string& name, api::StringMap labels) {
  NodeInfo n;
  n.name = name;
  n.labels = std::move(labels);
  return n;
}

NodeSelectorTerm Expr(std::string key, std::string op, std::vector<std::string> values) {
  NodeSelectorTerm t;
  t.expressions.push_back({std::move(key), std::move(op), std::move(values)});
  return t;
}

TEST_CASE("Framework: node selector operators follow upstream semantics", "[scheduler][unit]") {
  NodeInfo n = LabeledNode("n1", {{"zone", "a"}, {"cores", "8"}});
  CHECK(MatchesNodeSelectorTerm(Expr("zone", "In", {"a", "b"}), n));
  CHECK_FALSE(MatchesNodeSelectorTerm(Expr("zone", "In", {"b"}), n));
  CHECK(MatchesNodeSelectorTerm(Expr("zone", "NotIn", {"b"}), n));
  CHECK_FALSE(MatchesNodeSelectorTerm(Expr("zone", "NotIn", {"a"}), n));
  CHECK(MatchesNodeSelectorTerm(Expr("missing", "NotIn", {"a"}), n));
  CHECK(MatchesNodeSelectorTerm(Expr("zone", "Exists", {}), n));
  CHECK_FALSE(MatchesNodeSelectorTerm(Expr("gpu", "Exists", {}), n));
  CHECK(MatchesNodeSelectorTerm(Expr("gpu", "DoesNotExist", {}), n));
  CHECK_FALSE(MatchesNodeSelectorTerm(Expr("zone", "DoesNotExist", {}), n));
  CHECK(MatchesNodeSelectorTerm(Expr("cores", "Gt", {"4"}), n));
  CHECK_FALSE(MatchesNodeSelectorTerm(Expr("cores", "Gt", {"8"}), n));
  CHECK(MatchesNodeSelectorTerm(Expr("cores", "Lt", {"9"}), n));
  CHECK_FALSE(MatchesNodeSelectorTerm(Expr("zone", "Lt", {"9"}), n));  // not an integer
  NodeSelectorTerm field;
  field.fields.push_back({"metadata.name", "In", {"n1"}});
  CHECK(MatchesNodeSelectorTerm(field, n));
  field.fields[0].op = "NotIn";
  CHECK_FALSE(MatchesNodeSelectorTerm(field, n));
  CHECK_FALSE(MatchesNodeSelectorTerm(NodeSelectorTerm{}, n));  // an empty term matches nothing
  // Terms are ORed, requirements within a term ANDed.
  NodeSelectorTerm both = Expr("zone", "In", {"a"});
  both.expressions.push_back({"cores", "Gt", {"16"}});
  CHECK_FALSE(MatchesNodeSelectorTerms({both}, n));
  CHECK(MatchesNodeSelectorTerms({both, Expr("cores", "Lt", {"16"})}, n));
}

TEST_CASE("Framework: the NodeName filter only passes the requested node", "[scheduler][unit]") {
  PodInfo pod;
  pod.node_name = "n2";
  FilterResult r;
  CHECK_FALSE(FilterNodeName(pod, LabeledNode("n1", {}), r));
  CHECK(r.reasons == std::vector<std::string>{"node(s) didn't match the requested node name"});
  CHECK(r.unresolvable);
  FilterResult ok;
  CHECK(FilterNodeName(pod, LabeledNode("n2", {}), ok));
}

TEST_CASE("Framework: tolerations match taints by key, value, operator and effect",
          "[scheduler][unit]") {
  Taint t{"k", "v", "NoSchedule"};
  CHECK(Tolerates({{"k", false, "v", "NoSchedule"}}, t));
  CHECK(Tolerates({{"k", false, "v", ""}}, t));
  CHECK(Tolerates({{"k", true, "", ""}}, t));
  CHECK(Tolerates({{"", true, "", ""}}, t));
  CHECK_FALSE(Tolerates({{"k", false, "other", ""}}, t));
  CHECK_FALSE(Tolerates({{"k", true, "", "NoExecute"}}, t));
}

TEST_CASE("Framework: pod requests take max(init containers), sidecars and overhead",
          "[scheduler][unit]") {
  json::value pod = json::parse(R"({"metadata":{"name":"p","namespace":"ns"},"spec":{
    "containers":[{"name":"a","resources":{"requests":{"cpu":"200m","memory":"64Mi"}}},
                  {"name":"b"}],
    "initContainers":[{"name":"i1","resources":{"requests":{"cpu":"1","memory":"1Gi"}}},
                      {"name":"side","restartPolicy":"Always","resources":{"requests":{"cpu":"100m"}}}],
    "overhead":{"cpu":"50m"}}})");
  PodInfoPtr p = ParsePod(pod.as_object());
  CHECK(p->requests.milli_cpu == 1050);  // max(200+100, 1000) + 50
  CHECK(p->requests.memory == 1024LL * 1024 * 1024);
  // Scoring counts unset requests as 100m / 200Mi per container.
  CHECK(p->non0_cpu == 1050);
  CHECK(p->non0_mem == 1024LL * 1024 * 1024);
}

TEST_CASE("Framework: FitErrorMessage sorts reasons and counts nodes", "[scheduler][unit]") {
  std::vector<FilterResult> statuses(3);
  statuses[0].reasons = {"Insufficient cpu", "Insufficient memory"};
  statuses[1].reasons = {"Insufficient cpu"};
  statuses[2].reasons = {"node(s) were unschedulable"};
  statuses[2].unresolvable = true;
  CHECK(FitErrorMessage(3, statuses, "", false, false) ==
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable, 2 "
        "Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for "
        "scheduling, 2 No preemption victims found for incoming pod.");
}

}  // namespace
}  // namespace mini8s::scheduler
