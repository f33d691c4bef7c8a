// Kubernetes RBAC (DESIGN §3 "Security", docs/design/rbac.md): Role, ClusterRole (with
// aggregationRule), RoleBinding and ClusterRoleBinding evaluated exactly as upstream's RBAC
// authorizer does, from an in-memory index that a store list+watch keeps current (subject ->
// bindings -> role rules), never from a scan of every binding.
//
//   RbacAuthorizer            the authorizer and rule resolver (RulesFor, roleRef rules).
//   ClusterRoleAggregator     keeps the rules of aggregated ClusterRoles equal to the union of
//                             the rules of the ClusterRoles their selectors match.
//   ReconcileBootstrapPolicy  creates upstream's default roles and bindings and adds back what
//                             is missing from those marked autoupdate.
//   RbacEscalationAdmission   refuses roles and bindings that grant what the user does not hold
//                             (unless it has `escalate` / `bind`; system:masters bypasses).
//   RegisterAccessReviews     Subject/LocalSubject/SelfSubjectAccessReview and
//                             SelfSubjectRulesReview on an ApiServer.
//
// Thread-safe unless noted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/api/selector.h"
#include "mini8s/common/result.h"
#include "mini8s/server/admission.h"
#include "mini8s/server/auth.h"

namespace mini8s::store {
class Store;
class Watcher;
}  // namespace mini8s::store

namespace mini8s::server {

class ApiServer;

inline constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";
inline constexpr std::string_view kRbacPrefix = "/registry/rbac.authorization.k8s.io/";
inline constexpr std::string_view kAutoUpdateAnnotation =
    "rbac.authorization.kubernetes.io/autoupdate";

// rbac.authorization.k8s.io/v1 PolicyRule.
struct PolicyRule {
  std::vector<std::string> verbs;
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> resource_names;
  std::vector<std::string> non_resource_urls;

  static PolicyRule FromJson(const boost::json::object& rule);
  boost::json::object ToJson() const;
  // Upstream's CompactString: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`.
  std::string CompactString() const;
  bool operator==(const PolicyRule&) const = default;
};

std::vector<PolicyRule> RulesFromJson(const boost::json::array* rules);
boost::json::array RulesToJson(const std::vector<PolicyRule>& rules);

// Upstream's RuleAllows: verbs, apiGroups, resources (with `resource/subresource` and
// `*/subresource`), resourceNames for resource requests; verbs and nonResourceURLs (a trailing
// `*` is a prefix match) for the others. `*` matches everything in each list.
bool RuleAllows(const PolicyRule& rule, const Attributes& attrs);

// Upstream's validation.Covers: the rules of `requested`, broken down to one verb, group,
// resource and name each, that no rule of `owner` covers (empty: covered).
std::vector<PolicyRule> UncoveredRules(const std::vector<PolicyRule>& owner,
                                       const std::vector<PolicyRule>& requested);
// Upstream's CompactRules: simple rules on the same group and resource merged into one rule.
std::vector<PolicyRule> CompactRules(const std::vector<PolicyRule>& rules);

// The index and authorizer. Create() lists /registry/rbac.authorization.k8s.io/ and starts a
// thread that applies the watch's events (relisting when the watch ends); Decide() also applies
// events already delivered, so a decision right after an acknowledged write normally sees it.
class RbacAuthorizer final : public Authorizer {
 public:
  // `store` must outlive the authorizer.
  static Result<std::unique_ptr<RbacAuthorizer>> Create(store::Store& store);
  ~RbacAuthorizer() override;
  RbacAuthorizer(const RbacAuthorizer&) = delete;
  RbacAuthorizer& operator=(const RbacAuthorizer&) = delete;

  bool Authorize(const Attributes& attrs) const override;
  // kAllow with upstream's reason (`RBAC: allowed by ...`), else kNoOpinion.
  AuthorizerDecision Decide(const Attributes& attrs) const override;

  // The rules `user` holds in `ns` (cluster role bindings, plus role bindings of `ns`), in
  // binding order, as upstream's rule resolver.
  std::vector<PolicyRule> RulesFor(const UserInfo& user, std::string_view ns) const;
  // The rules of a binding's roleRef (kind Role in `ns`, or ClusterRole); kNotFound with
  // upstream's message when the role does not exist.
  Result<std::vector<PolicyRule>> RoleReferenceRules(std::string_view kind, std::string_view name,
                                                     std::string_view ns) const;

  struct ClusterRoleView {
    std::string name;
    api::StringMap labels;
    bool aggregated = false;                    // has an aggregationRule
    std::vector<api::LabelSelector> selectors;  // its clusterRoleSelectors
    std::vector<PolicyRule> rules;
  };
  // Every ClusterRole of the index, sorted by name (the aggregator's input).
  std::vector<ClusterRoleView> ClusterRoles() const;

  // Called on the index thread after events that changed a ClusterRole were applied, and once
  // at once (the aggregator hangs here). Must not destroy the authorizer.
  void SetOnClusterRolesChanged(std::function<void()> f);

  // Blocks until the index has applied the change at store revision `revision` (a revision
  // returned by a write under kRbacPrefix) or `timeout` passed; false on timeout.
  bool WaitForRevision(int64_t revision, std::chrono::milliseconds timeout) const;

  struct Index;
  struct Binding;
  struct RoleEntry;

 private:
  explicit RbacAuthorizer(store::Store& store);
  AuthorizerDecision Evaluate(const Attributes& attrs, bool with_reason) const;
  Status Relist();
  // Applies every event the watch has delivered; true when one touched a ClusterRole.
  bool CatchUp() const;
  void Run();

  store::Store& store_;
  mutable std::mutex pump_mu_;  // serializes draining the watch and relisting
  mutable std::unique_ptr<store::Watcher> watcher_;
  mutable std::shared_mutex index_mu_;
  mutable std::unique_ptr<Index> index_;  // GUARDED_BY(index_mu_)
  mutable std::atomic<bool> pending_{false};
  mutable std::atomic<bool> cluster_roles_dirty_{false};
  mutable std::atomic<int64_t> applied_revision_{0};
  mutable std::condition_variable_any cv_;
  mutable std::mutex cv_mu_;
  std::atomic<bool> stop_{false};
  std::function<void()> on_cluster_roles_;  // GUARDED_BY(cv_mu_)
  std::thread thread_;
};

// system:masters may do everything (upstream's privileged-group authorizer, first in the
// chain so the server's own clients do not depend on the RBAC index).
class PrivilegedGroupAuthorizer final : public Authorizer {
 public:
  bool Authorize(const Attributes& attrs) const override;
};

// Upstream's clusterrole-aggregation controller over the index: for each ClusterRole with an
// aggregationRule, rules = the de-duplicated union, in name order, of the rules of every
// ClusterRole one of its selectors matches. Writes straight to the store (compare-and-swap).
class ClusterRoleAggregator {
 public:
  ClusterRoleAggregator(store::Store& store, const RbacAuthorizer& index)
      : store_(store), index_(index) {}
  // Updates every aggregated ClusterRole whose rules differ; returns how many were written.
  Result<int> ReconcileAll();

 private:
  store::Store& store_;
  const RbacAuthorizer& index_;
};

// Upstream's bootstrap policy (a subset of its controller roles): the default ClusterRoles
// and ClusterRoleBindings, as JSON objects with their labels and autoupdate annotation.
std::vector<boost::json::object> BootstrapClusterRoles();
std::vector<boost::json::object> BootstrapClusterRoleBindings();

// Creates missing bootstrap roles and bindings; for existing ones not annotated
// autoupdate=false adds back missing rules (or aggregation selectors), labels, annotations and
// subjects, and recreates a binding whose roleRef changed. Returns a line per change.
Result<std::vector<std::string>> ReconcileBootstrapPolicy(store::Store& store);

// Escalation prevention for roles, clusterroles, rolebindings and clusterrolebindings.
// `authorizer` (the server's whole chain) answers the escalate and bind checks; `rbac`
// resolves the rules the user holds.
class RbacEscalationAdmission final : public AdmissionPlugin {
 public:
  RbacEscalationAdmission(std::shared_ptr<const Authorizer> authorizer,
                          std::shared_ptr<const RbacAuthorizer> rbac)
      : authorizer_(std::move(authorizer)), rbac_(std::move(rbac)) {}
  std::string_view name() const override { return "RBACEscalation"; }
  Status Admit(AdmissionAttributes& attrs) override;

 private:
  std::shared_ptr<const Authorizer> authorizer_;
  std::shared_ptr<const RbacAuthorizer> rbac_;
};

// Registers the authorization.k8s.io reviews on `server`: subjectaccessreviews,
// localsubjectaccessreviews, selfsubjectaccessreviews (decided by `authorizer`) and
// selfsubjectrulesreviews (rules from `rbac`; incomplete for node users, whose access the
// Node authorizer decides).
void RegisterAccessReviews(ApiServer& server, std::shared_ptr<const Authorizer> authorizer,
                           std::shared_ptr<const RbacAuthorizer> rbac);

// Pure functions behind the review handlers (for tests): the response object for a request
// body. `requester` is the authenticated user (self reviews); `ns` the URL's namespace.
Result<boost::json::object> SubjectAccessReview(const Authorizer& authorizer, std::string_view kind,
                                                const UserInfo& requester, std::string_view ns,
                                                boost::json::object body);
Result<boost::json::object> SelfSubjectRulesReview(const RbacAuthorizer& rbac,
                                                   const UserInfo& requester,
                                                   boost::json::object body);

}  // namespace mini8s::server
