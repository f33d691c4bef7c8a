// The scheduler's compact view of pods and nodes, and its filter and score plugins (private).
//
// Every pod and node is decoded from JSON once, into PodInfo / NodeInfo, when the informer
// delivers it; filters and scores then read only these structs, so one scheduling decision costs
// O(nodes) comparisons of integers and short strings and never copies JSON. The plugins follow
// upstream's in-tree plugins (pkg/scheduler/framework/plugins) in semantics and in the reason
// strings they report, which users read in `kubectl describe pod`.
//
// Thread-compatible value types; the Scheduler confines them to its executor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/api/selector.h"

namespace mini8s::scheduler {

inline constexpr std::string_view kHostnameLabel = "kubernetes.io/hostname";
inline constexpr std::string_view kZoneLabel = "topology.kubernetes.io/zone";
inline constexpr std::string_view kSelectedNodeAnnotation = "volume.kubernetes.io/selected-node";
inline constexpr int64_t kMaxNodeScore = 100;

// Requests or allocatable, in the units upstream's framework.Resource uses.
struct Resources {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  int64_t pods = 0;
  // Extended and hugepages resources, sorted by name (few per pod, so a vector beats a map).
  std::vector<std::pair<std::string, int64_t>> scalar;

  int64_t Scalar(std::string_view name) const;
  void AddScalar(std::string_view name, int64_t v);
  void Add(const Resources& r, int sign = 1);
  // Per-resource maximum (init containers).
  void Max(const Resources& r);
  bool IsZero() const;
};

// Decodes a ResourceList (`{"cpu":"500m","memory":"1Gi"}`); bad quantities are skipped.
Resources ParseResourceList(const boost::json::object* list);

struct Toleration {
  std::string key;
  bool exists = false;  // operator Exists (else Equal)
  std::string value;
  std::string effect;  // "" = every effect
};

struct Taint {
  std::string key;
  std::string value;
  std::string effect;
};

bool Tolerates(const std::vector<Toleration>& tolerations, const Taint& taint);

// A node selector requirement (matchExpressions / matchFields).
struct NodeSelectorRequirement {
  std::string key;
  std::string op;  // In NotIn Exists DoesNotExist Gt Lt
  std::vector<std::string> values;
};

struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> expressions;
  std::vector<NodeSelectorRequirement> fields;  // only metadata.name is a valid field
};

struct PreferredTerm {
  int32_t weight = 0;
  NodeSelectorTerm term;
};

// A pod (anti-)affinity term with its namespaces resolved.
struct PodAffinityTerm {
  api::LabelSelector selector;
  std::vector<std::string> namespaces;  // empty with all_namespaces=false: never (see below)
  bool all_namespaces = false;          // namespaceSelector: {}
  std::string topology_key;
  int32_t weight = 0;  // preferred terms

  bool Matches(std::string_view ns, const api::StringMap& labels) const;
};

struct SpreadConstraint {
  int32_t max_skew = 1;
  std::string topology_key;
  bool do_not_schedule = true;  // whenUnsatisfiable
  api::LabelSelector selector;
};

struct HostPort {
  std::string ip;  // "0.0.0.0" when unset
  std::string protocol;
  int32_t port = 0;
};

struct PodInfo {
  std::string key;  // ns/name
  std::string ns;
  std::string name;
  std::string uid;
  std::string node_name;  // spec.nodeName
  std::string scheduler_name;
  api::StringMap labels;
  int32_t priority = 0;
  bool preempt_never = false;
  bool terminal = false;  // phase Succeeded or Failed: holds no resources
  bool being_deleted = false;

  Resources requests;
  int64_t non0_cpu = 0;  // requests with upstream's defaults for unset cpu/memory (scoring)
  int64_t non0_mem = 0;

  std::vector<std::pair<std::string, std::string>> node_selector;
  std::optional<std::vector<NodeSelectorTerm>> required_node_affinity;
  std::vector<PreferredTerm> preferred_node_affinity;
  std::vector<Toleration> tolerations;
  std::vector<HostPort> host_ports;

  std::vector<PodAffinityTerm> required_affinity;
  std::vector<PodAffinityTerm> required_anti_affinity;
  std::vector<PodAffinityTerm> preferred_affinity;
  std::vector<PodAffinityTerm> preferred_anti_affinity;
  std::vector<SpreadConstraint> spread;

  std::string controller_uid;       // the controller ownerReference, for the default spread
  std::vector<std::string> claims;  // PVC names

  bool HasPodAffinity() const {
    return !required_affinity.empty() || !required_anti_affinity.empty() ||
           !preferred_affinity.empty() || !preferred_anti_affinity.empty();
  }
};
using PodInfoPtr = std::shared_ptr<const PodInfo>;

PodInfoPtr ParsePod(const boost::json::object& pod);

// One node and what the scheduler has placed on it (bound and assumed pods).
struct NodeInfo {
  std::string name;
  api::StringMap labels;
  bool unschedulable = false;
  std::vector<Taint> taints;  // including a synthetic not-ready taint (see ParseNode)
  Resources allocatable;

  Resources requested;
  int64_t non0_cpu = 0;
  int64_t non0_mem = 0;
  std::vector<HostPort> used_ports;
  std::vector<PodInfoPtr> pods;
  std::unordered_map<std::string, int32_t> by_controller;  // controller uid -> pods here
  int32_t with_affinity = 0;       // pods here with any pod (anti-)affinity term
  int32_t with_required_anti = 0;  // pods here with required anti-affinity

  void AddPod(const PodInfoPtr& pod);
  void RemovePod(const PodInfo& pod);
  std::string_view Label(std::string_view key) const;
};

// Decodes the node's own fields (allocatable, labels, taints, readiness); keeps nothing of the
// pods. A node whose Ready condition is not True gets the taint the node lifecycle controller
// would put on it (node.kubernetes.io/not-ready or /unreachable, NoSchedule), so only pods that
// tolerate it (as upstream) land there.
void ParseNode(const boost::json::object& node, NodeInfo& out);

bool MatchesNodeSelectorTerms(const std::vector<NodeSelectorTerm>& terms, const NodeInfo& node);
bool MatchesNodeSelectorTerm(const NodeSelectorTerm& term, const NodeInfo& node);
std::vector<NodeSelectorTerm> ParseNodeSelectorTerms(const boost::json::array* terms);

// ---- filters -----------------------------------------------------------------------------

// Upstream's reason strings.
inline constexpr std::string_view kReasonNodeName = "node(s) didn't match the requested node name";
inline constexpr std::string_view kReasonUnschedulable = "node(s) were unschedulable";
inline constexpr std::string_view kReasonNodeAffinity =
    "node(s) didn't match Pod's node affinity/selector";
inline constexpr std::string_view kReasonPorts =
    "node(s) didn't have free ports for the requested pod ports";
inline constexpr std::string_view kReasonTooManyPods = "Too many pods";
inline constexpr std::string_view kReasonAffinityRules = "node(s) didn't match pod affinity rules";
inline constexpr std::string_view kReasonAntiAffinityRules =
    "node(s) didn't match pod anti-affinity rules";
inline constexpr std::string_view kReasonExistingAntiAffinity =
    "node(s) didn't satisfy existing pods anti-affinity rules";
inline constexpr std::string_view kReasonSpread =
    "node(s) didn't match pod topology spread constraints";
inline constexpr std::string_view kReasonSpreadMissingLabel =
    "node(s) didn't match pod topology spread constraints (missing required label)";
inline constexpr std::string_view kReasonVolumeNodeConflict =
    "node(s) had volume node affinity conflict";

// A filter's verdict for one node: empty reasons = fits. `unresolvable` mirrors upstream's
// UnschedulableAndUnresolvable (preemption cannot help).
struct FilterResult {
  std::vector<std::string> reasons;
  bool unresolvable = false;
  bool ok() const { return reasons.empty(); }
};

bool FilterNodeName(const PodInfo& pod, const NodeInfo& node, FilterResult& out);
bool FilterUnschedulable(const PodInfo& pod, const NodeInfo& node, FilterResult& out);
bool FilterNodeAffinity(const PodInfo& pod, const NodeInfo& node, FilterResult& out);
bool FilterTaints(const PodInfo& pod, const NodeInfo& node, FilterResult& out);
bool FilterPorts(const PodInfo& pod, const NodeInfo& node, FilterResult& out);
// Appends every insufficient resource (upstream reports all of them).
bool FilterResources(const PodInfo& pod, const NodeInfo& node, FilterResult& out);

// Inter-pod affinity and topology spread need cluster-wide counts, computed once per pod
// (upstream's PreFilter state) and then checked per node in O(terms).
struct TopologyCounts {
  // "<topology key>\x01<value>" -> matching pods.
  std::unordered_map<std::string, int64_t> counts;
  void Add(std::string_view key, std::string_view value);
  int64_t Get(std::string_view key, std::string_view value) const;
};

struct AffinityState {
  // Topology domains (key, value) holding a pod whose required anti-affinity matches the pod.
  std::set<std::pair<std::string, std::string>> existing_anti;
  TopologyCounts affinity;       // per (key, value): pods matching all of the pod's terms
  TopologyCounts anti_affinity;  // pods matching any required anti-affinity term
  bool any_affinity_match = false;
  bool self_matches_affinity = false;
};

// `nodes` is every node in the cache.
AffinityState ComputeAffinityState(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes);
bool FilterInterPodAffinity(const PodInfo& pod, const AffinityState& state, const NodeInfo& node,
                            FilterResult& out);

struct SpreadState {
  // Per hard constraint: counts by topology value over eligible nodes, and the minimum.
  std::vector<std::map<std::string, int64_t, std::less<>>> counts;
  std::vector<int64_t> min;
  std::vector<size_t> constraint_index;  // into pod.spread
};
SpreadState ComputeSpreadState(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes);
bool FilterSpread(const PodInfo& pod, const SpreadState& state, const NodeInfo& node,
                  FilterResult& out);

// ---- scores (raw; normalized by the scheduler across feasible nodes) ----------------------

// Default plugin weights (upstream's default profile).
inline constexpr int64_t kWeightTaintToleration = 3;
inline constexpr int64_t kWeightNodeAffinity = 2;
inline constexpr int64_t kWeightResourcesFit = 1;
inline constexpr int64_t kWeightBalanced = 1;
inline constexpr int64_t kWeightInterPodAffinity = 2;
inline constexpr int64_t kWeightSpread = 2;

// LeastAllocated over cpu and memory (weights 1 and 1), 0..100.
int64_t ScoreLeastAllocated(const PodInfo& pod, const NodeInfo& node);
// BalancedAllocation, 0..100.
int64_t ScoreBalanced(const PodInfo& pod, const NodeInfo& node);
// Sum of the weights of matching preferred node affinity terms (normalized later).
int64_t ScoreNodeAffinity(const PodInfo& pod, const NodeInfo& node);
// Count of PreferNoSchedule taints the pod does not tolerate (normalized, reversed, later).
int64_t ScoreTaints(const PodInfo& pod, const NodeInfo& node);

// PodTopologySpread scoring over `feasible` (raw counts taken over `all`): the pod's
// ScheduleAnyway constraints, or, when it has no constraints of its own and a controller, the
// system defaults (hostname maxSkew 3, zone maxSkew 5) over pods of the same controller.
// Returns normalized 0..100 scores, one per feasible node.
std::vector<int64_t> ScoreSpread(const PodInfo& pod, const std::vector<const NodeInfo*>& feasible,
                                 const std::vector<const NodeInfo*>& all);
// Preferred inter-pod affinity (both directions) plus existing pods' required affinity;
// normalized 0..100, one per feasible node.
std::vector<int64_t> ScoreInterPodAffinity(const PodInfo& pod,
                                           const std::vector<const NodeInfo*>& feasible,
                                           const std::vector<const NodeInfo*>& all);

// Normalizes `scores` in place to 0..100 as upstream's DefaultNormalizeScore.
void NormalizeScores(std::vector<int64_t>& scores, bool reverse);

// Upstream's FitError text: "0/3 nodes are available: 1 Insufficient cpu, 2 ... . preemption: ..."
// `statuses` holds one FilterResult per rejected node; `prefilter` is a PreFilter rejection
// (then node reasons are not listed).
std::string FitErrorMessage(size_t num_nodes, const std::vector<FilterResult>& statuses,
                            const std::string& prefilter, bool prefilter_unresolvable,
                            bool preempt_never);

}  // namespace mini8s::scheduler
