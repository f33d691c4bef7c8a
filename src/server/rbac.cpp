// RBAC rule evaluation and the subject index kept current from a store list+watch.
#include "mini8s/server/rbac.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include <boost/json/array.hpp>

#include "mini8s/api/object.h"
#include "mini8s/common/json.h"
#include "mini8s/common/logging.h"
#include "mini8s/store/store.h"

namespace mini8s::server {
namespace json = boost::json;

namespace {

bool Has(const std::vector<std::string>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

bool HasAll(const std::vector<std::string>& set, const std::vector<std::string>& want) {
  for (const auto& w : want) {
    if (!Has(set, w)) return false;
  }
  return true;
}

std::vector<std::string> Strings(const json::object& o, std::string_view field) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(field);
  if (v == nullptr || !v->is_array()) return out;
  for (const json::value& e : v->as_array()) {
    if (e.is_string()) out.emplace_back(e.as_string());
  }
  return out;
}

json::array StringArray(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// Go's %q of a []string: ["a" "b"].
std::string GoQuoteList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ' ';
    AppendJsonString(out, v[i]);
  }
  return out + "]";
}

bool NonResourceUrlMatches(const std::string& rule_url, const std::string& path) {
  if (rule_url == "*" || rule_url == path) return true;
  if (!rule_url.empty() && rule_url.back() == '*') {
    std::string_view prefix(rule_url);
    while (!prefix.empty() && prefix.back() == '*') prefix.remove_suffix(1);
    return path.compare(0, prefix.size(), prefix) == 0;
  }
  return false;
}

bool ResourceMatches(const PolicyRule& rule, const Attributes& a) {
  for (const std::string& r : rule.resources) {
    if (r == "*") return true;
    if (a.subresource.empty()) {
      if (r == a.resource) return true;
      continue;
    }
    // resource/subresource, or */subresource.
    if (r.size() == a.resource.size() + 1 + a.subresource.size() &&
        r.compare(0, a.resource.size(), a.resource) == 0 && r[a.resource.size()] == '/' &&
        r.compare(a.resource.size() + 1, std::string::npos, a.subresource) == 0) {
      return true;
    }
    if (r.size() == a.subresource.size() + 2 && r[0] == '*' && r[1] == '/' &&
        r.compare(2, std::string::npos, a.subresource) == 0) {
      return true;
    }
  }
  return false;
}

bool NonResourceUrlCovers(const std::string& owner, const std::string& sub) {
  if (owner == sub) return true;
  if (owner.empty() || owner.back() != '*') return false;
  std::string_view prefix(owner);
  while (!prefix.empty() && prefix.back() == '*') prefix.remove_suffix(1);
  return sub.compare(0, prefix.size(), prefix) == 0;
}

bool ResourceCoversAll(const std::vector<std::string>& owner, const std::vector<std::string>& sub) {
  if (Has(owner, "*") || HasAll(owner, sub)) return true;
  for (const std::string& path : sub) {
    if (Has(owner, path)) continue;
    size_t slash = path.find('/');
    if (slash == std::string::npos) return false;
    if (!Has(owner, "*/" + path.substr(slash + 1))) return false;
  }
  return true;
}

bool RuleCovers(const PolicyRule& owner, const PolicyRule& sub) {
  bool verbs = Has(owner.verbs, "*") || HasAll(owner.verbs, sub.verbs);
  bool groups = Has(owner.api_groups, "*") || HasAll(owner.api_groups, sub.api_groups);
  bool resources = ResourceCoversAll(owner.resources, sub.resources);
  bool urls = true;
  for (const std::string& u : sub.non_resource_urls) {
    bool covered = false;
    for (const std::string& o : owner.non_resource_urls)
      covered = covered || NonResourceUrlCovers(o, u);
    urls = urls && covered;
  }
  bool names = sub.resource_names.empty() ? owner.resource_names.empty()
                                          : owner.resource_names.empty() ||
                                                HasAll(owner.resource_names, sub.resource_names);
  return verbs && groups && resources && names && urls;
}

std::vector<PolicyRule> Breakdown(const PolicyRule& rule) {
  std::vector<PolicyRule> out;
  for (const auto& g : rule.api_groups) {
    for (const auto& r : rule.resources) {
      for (const auto& v : rule.verbs) {
        if (rule.resource_names.empty()) {
          out.push_back(PolicyRule{{v}, {g}, {r}, {}, {}});
        } else {
          for (const auto& n : rule.resource_names)
            out.push_back(PolicyRule{{v}, {g}, {r}, {n}, {}});
        }
      }
    }
  }
  for (const auto& u : rule.non_resource_urls) {
    for (const auto& v : rule.verbs) out.push_back(PolicyRule{{v}, {}, {}, {}, {u}});
  }
  return out;
}

struct Subject {
  std::string kind;
  std::string name;
  std::string ns;
};

// Upstream's describeSubject (a ServiceAccount is "name/namespace").
std::string DescribeSubject(const Subject& s, const std::string& binding_ns) {
  std::string name = s.name;
  if (s.kind == "ServiceAccount") name += "/" + (s.ns.empty() ? binding_ns : s.ns);
  std::string out = s.kind + " ";
  AppendJsonString(out, name);
  return out;
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

enum class ObjKind { kRole, kClusterRole, kRoleBinding, kClusterRoleBinding, kOther };

// "/registry/rbac.authorization.k8s.io/roles/ns/name" -> kRole, "ns", "name".
ObjKind ParseKey(std::string_view key, std::string& ns, std::string& name) {
  if (key.substr(0, kRbacPrefix.size()) != kRbacPrefix) return ObjKind::kOther;
  key.remove_prefix(kRbacPrefix.size());
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return ObjKind::kOther;
  std::string_view res = key.substr(0, slash);
  std::string_view rest = key.substr(slash + 1);
  bool cluster = res == "clusterroles" || res == "clusterrolebindings";
  if (cluster) {
    ns.clear();
    name = std::string(rest);
  } else {
    size_t s2 = rest.find('/');
    if (s2 == std::string_view::npos) return ObjKind::kOther;
    ns = std::string(rest.substr(0, s2));
    name = std::string(rest.substr(s2 + 1));
  }
  if (res == "roles") return ObjKind::kRole;
  if (res == "clusterroles") return ObjKind::kClusterRole;
  if (res == "rolebindings") return ObjKind::kRoleBinding;
  if (res == "clusterrolebindings") return ObjKind::kClusterRoleBinding;
  return ObjKind::kOther;
}

}  // namespace

// ---- PolicyRule ----------------------------------------------------------------------------

PolicyRule PolicyRule::FromJson(const json::object& rule) {
  PolicyRule r;
  r.verbs = Strings(rule, "verbs");
  r.api_groups = Strings(rule, "apiGroups");
  r.resources = Strings(rule, "resources");
  r.resource_names = Strings(rule, "resourceNames");
  r.non_resource_urls = Strings(rule, "nonResourceURLs");
  return r;
}

json::object PolicyRule::ToJson() const {
  json::object o;
  o["verbs"] = StringArray(verbs);
  if (!api_groups.empty()) o["apiGroups"] = StringArray(api_groups);
  if (!resources.empty()) o["resources"] = StringArray(resources);
  if (!resource_names.empty()) o["resourceNames"] = StringArray(resource_names);
  if (!non_resource_urls.empty()) o["nonResourceURLs"] = StringArray(non_resource_urls);
  return o;
}

std::string PolicyRule::CompactString() const {
  std::vector<std::string> parts;
  if (!api_groups.empty()) parts.push_back("APIGroups:" + GoQuoteList(api_groups));
  if (!resources.empty()) parts.push_back("Resources:" + GoQuoteList(resources));
  if (!non_resource_urls.empty())
    parts.push_back("NonResourceURLs:" + GoQuoteList(non_resource_urls));
  if (!resource_names.empty()) parts.push_back("ResourceNames:" + GoQuoteList(resource_names));
  if (!verbs.empty()) parts.push_back("Verbs:" + GoQuoteList(verbs));
  std::string out = "{";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + "}";
}

std::vector<PolicyRule> RulesFromJson(const json::array* rules) {
  std::vector<PolicyRule> out;
  if (rules == nullptr) return out;
  for (const json::value& r : *rules) {
    if (r.is_object()) out.push_back(PolicyRule::FromJson(r.as_object()));
  }
  return out;
}

json::array RulesToJson(const std::vector<PolicyRule>& rules) {
  json::array a;
  for (const auto& r : rules) a.emplace_back(r.ToJson());
  return a;
}

bool RuleAllows(const PolicyRule& rule, const Attributes& a) {
  if (!Has(rule.verbs, "*") && !Has(rule.verbs, a.verb)) return false;
  if (a.resource_request) {
    if (!Has(rule.api_groups, "*") && !Has(rule.api_groups, a.api_group)) return false;
    if (!ResourceMatches(rule, a)) return false;
    return rule.resource_names.empty() || Has(rule.resource_names, a.name);
  }
  for (const std::string& u : rule.non_resource_urls) {
    if (NonResourceUrlMatches(u, a.path)) return true;
  }
  return false;
}

std::vector<PolicyRule> UncoveredRules(const std::vector<PolicyRule>& owner,
                                       const std::vector<PolicyRule>& requested) {
  std::vector<PolicyRule> missing;
  for (const PolicyRule& r : requested) {
    for (PolicyRule& sub : Breakdown(r)) {
      bool covered = false;
      for (const PolicyRule& o : owner) {
        if (RuleCovers(o, sub)) {
          covered = true;
          break;
        }
      }
      if (!covered) missing.push_back(std::move(sub));
    }
  }
  return missing;
}

std::vector<PolicyRule> CompactRules(const std::vector<PolicyRule>& rules) {
  std::vector<PolicyRule> out;
  std::map<std::pair<std::string, std::string>, size_t> simple;  // (group, resource) -> out index
  for (const PolicyRule& r : rules) {
    bool is_simple = r.api_groups.size() == 1 && r.resources.size() == 1 &&
                     r.resource_names.empty() && r.non_resource_urls.empty();
    if (!is_simple) {
      out.push_back(r);
      continue;
    }
    auto key = std::make_pair(r.api_groups[0], r.resources[0]);
    auto it = simple.find(key);
    if (it == simple.end()) {
      simple.emplace(key, out.size());
      out.push_back(r);
      continue;
    }
    for (const auto& v : r.verbs) {
      if (!Has(out[it->second].verbs, v)) out[it->second].verbs.push_back(v);
    }
  }
  return out;
}

// ---- the index -------------------------------------------------------------------------------

namespace {

// Verbs as bits, so that most rules are rejected without a string compare.
constexpr uint32_t kAnyVerb = 1u << 31;
constexpr uint32_t kOtherVerb = 1u << 30;  // a verb outside the table: compare strings

uint32_t VerbBit(std::string_view v) {
  static constexpr std::string_view kVerbs[] = {
      "get",      "list", "watch",       "create", "update",  "patch", "delete", "deletecollection",
      "escalate", "bind", "impersonate", "use",    "approve", "sign",  "proxy",  "attest"};
  for (uint32_t i = 0; i < std::size(kVerbs); ++i) {
    if (kVerbs[i] == v) return 1u << i;
  }
  return 0;
}

uint32_t VerbMask(const PolicyRule& r) {
  uint32_t m = 0;
  for (const auto& v : r.verbs) {
    if (v == "*") m |= kAnyVerb;
    uint32_t b = VerbBit(v);
    m |= b != 0 ? b : kOtherVerb;
  }
  return m;
}

}  // namespace

struct RbacAuthorizer::RoleEntry {
  std::vector<PolicyRule> rules;
  std::vector<uint32_t> verb_masks;  // parallel to rules
  api::StringMap labels;
  bool aggregated = false;
  std::vector<api::LabelSelector> selectors;
};

namespace {
// The current version of one role name, shared by the bindings that reference it, so that a
// decision reaches a binding's rules without a lookup by name. Written under the index lock.
struct RoleSlot {
  std::shared_ptr<const RbacAuthorizer::RoleEntry> entry;
};
}  // namespace

struct RbacAuthorizer::Binding {
  std::string ns;  // "" for a ClusterRoleBinding
  std::string name;
  std::string role_kind;
  std::string role_name;
  std::vector<Subject> subjects;
  std::shared_ptr<RoleSlot> slot;  // null when the roleRef cannot resolve (Role in a CRB)
};

namespace {

struct Ref {
  std::shared_ptr<const RbacAuthorizer::Binding> binding;
  size_t subject = 0;  // the subject that put the binding under this key
};

using RefMap = std::unordered_map<std::string, std::vector<Ref>>;

struct Scope {
  RefMap users;   // user name (ServiceAccounts as system:serviceaccount:<ns>:<name>)
  RefMap groups;  // group name
};

}  // namespace

struct RbacAuthorizer::Index {
  using RolePtr = std::shared_ptr<const RoleEntry>;
  std::unordered_map<std::string, RolePtr> cluster_roles;
  std::unordered_map<std::string, std::unordered_map<std::string, RolePtr>> roles;  // ns, name
  std::unordered_map<std::string, std::shared_ptr<const Binding>> bindings;         // by store key
  std::unordered_map<std::string, Scope> scopes;  // binding namespace ("" cluster) -> subjects
  // "<ns>/<name>" for Roles, "/<name>" for ClusterRoles.
  std::unordered_map<std::string, std::shared_ptr<RoleSlot>> slots;

  std::shared_ptr<RoleSlot>& Slot(const std::string& ns, const std::string& name) {
    std::shared_ptr<RoleSlot>& slot = slots[ns + "/" + name];
    if (!slot) slot = std::make_shared<RoleSlot>();
    return slot;
  }

  static const RoleEntry* FindRole(const Binding& b) {
    return b.slot ? b.slot->entry.get() : nullptr;
  }

  static RefMap* MapFor(Scope& scope, const Subject& s, const std::string& binding_ns,
                        std::string& key) {
    if (s.kind == "User") {
      key = s.name;
      return &scope.users;
    }
    if (s.kind == "Group") {
      key = s.name;
      return &scope.groups;
    }
    if (s.kind == "ServiceAccount") {
      const std::string& ns = s.ns.empty() ? binding_ns : s.ns;
      if (ns.empty()) return nullptr;  // applies to no one (upstream)
      key = "system:serviceaccount:" + ns + ":" + s.name;
      return &scope.users;
    }
    return nullptr;
  }

  void AddBinding(const std::string& key, std::shared_ptr<const Binding> b) {
    RemoveBinding(key);
    Scope& scope = scopes[b->ns];
    std::string k;
    for (size_t i = 0; i < b->subjects.size(); ++i) {
      if (RefMap* m = MapFor(scope, b->subjects[i], b->ns, k)) (*m)[k].push_back(Ref{b, i});
    }
    bindings[key] = std::move(b);
  }

  void RemoveBinding(const std::string& key) {
    auto it = bindings.find(key);
    if (it == bindings.end()) return;
    std::shared_ptr<const Binding> b = it->second;
    bindings.erase(it);
    auto sc = scopes.find(b->ns);
    if (sc == scopes.end()) return;
    std::string k;
    for (const Subject& s : b->subjects) {
      RefMap* m = MapFor(sc->second, s, b->ns, k);
      if (m == nullptr) continue;
      auto e = m->find(k);
      if (e == m->end()) continue;
      std::erase_if(e->second, [&](const Ref& r) { return r.binding == b; });
      if (e->second.empty()) m->erase(e);
    }
    if (sc->second.users.empty() && sc->second.groups.empty()) scopes.erase(sc);
  }

  // Calls f(binding, subject, role) for each binding of `scope` that applies to `user`, with
  // its role (null when missing), until f returns true. Each binding once.
  template <typename F>
  bool Visit(const std::string& scope_ns, const UserInfo& user, F&& f) const {
    auto sc = scopes.find(scope_ns);
    if (sc == scopes.end()) return false;
    const Scope& scope = sc->second;
    const Binding* last = nullptr;
    auto run = [&](const std::vector<Ref>& refs) {
      for (const Ref& r : refs) {
        const Binding* b = r.binding.get();
        if (b == last) continue;
        last = b;
        if (f(*b, b->subjects[r.subject], FindRole(*b))) return true;
      }
      return false;
    };
    if (auto u = scope.users.find(user.name); u != scope.users.end() && run(u->second)) {
      return true;
    }
    for (const std::string& g : user.groups) {
      if (auto it = scope.groups.find(g); it != scope.groups.end() && run(it->second)) return true;
    }
    return false;
  }
};

namespace {

std::shared_ptr<const RbacAuthorizer::RoleEntry> ParseRole(const json::object& o, bool cluster) {
  auto e = std::make_shared<RbacAuthorizer::RoleEntry>();
  e->rules = RulesFromJson(api::GetArray(o, "rules"));
  for (const PolicyRule& r : e->rules) e->verb_masks.push_back(VerbMask(r));
  if (cluster) {
    if (const json::object* l = api::Labels(o)) {
      for (const auto& [k, v] : *l) {
        if (v.is_string()) e->labels.emplace(std::string(k), std::string(v.as_string()));
      }
    }
    if (const json::object* ar = api::GetObject(o, "aggregationRule")) {
      e->aggregated = true;
      if (const json::value* sels = ar->if_contains("clusterRoleSelectors");
          sels != nullptr && sels->is_array()) {
        for (const json::value& s : sels->as_array()) {
          auto sel = api::LabelSelector::FromLabelSelectorJson(&s);
          e->selectors.push_back(sel.ok() ? *sel : api::LabelSelector::Nothing());
        }
      }
    }
  }
  return e;
}

std::shared_ptr<RbacAuthorizer::Binding> ParseBinding(const json::object& o, const std::string& ns,
                                                      const std::string& name) {
  auto b = std::make_shared<RbacAuthorizer::Binding>();
  b->ns = ns;
  b->name = name;
  b->role_kind = std::string(api::GetString(o, "roleRef.kind"));
  b->role_name = std::string(api::GetString(o, "roleRef.name"));
  if (const json::array* subjects = api::GetArray(o, "subjects")) {
    for (const json::value& s : *subjects) {
      if (!s.is_object()) continue;
      const json::object& so = s.as_object();
      b->subjects.push_back(Subject{std::string(api::GetString(so, "kind")),
                                    std::string(api::GetString(so, "name")),
                                    std::string(api::GetString(so, "namespace"))});
    }
  }
  return b;
}

// Applies one stored value (null: deleted) to the index; true when it was a ClusterRole.
bool ApplyToIndex(RbacAuthorizer::Index& idx, const std::string& key, const std::string* value) {
  std::string ns, name;
  ObjKind kind = ParseKey(key, ns, name);
  if (kind == ObjKind::kOther) return false;
  std::optional<json::object> obj;
  if (value != nullptr) {
    auto v = ParseJson(*value);
    if (v.ok() && v->is_object()) obj = std::move(v->as_object());
  }
  switch (kind) {
    case ObjKind::kClusterRole:
      if (obj) {
        auto e = ParseRole(*obj, true);
        idx.cluster_roles[name] = e;
        idx.Slot("", name)->entry = std::move(e);
      } else {
        idx.cluster_roles.erase(name);
        idx.Slot("", name)->entry = nullptr;
      }
      return true;
    case ObjKind::kRole:
      if (obj) {
        auto e = ParseRole(*obj, false);
        idx.roles[ns][name] = e;
        idx.Slot(ns, name)->entry = std::move(e);
      } else if (auto it = idx.roles.find(ns); it != idx.roles.end()) {
        it->second.erase(name);
        if (it->second.empty()) idx.roles.erase(it);
        idx.Slot(ns, name)->entry = nullptr;
      }
      return false;
    case ObjKind::kRoleBinding:
    case ObjKind::kClusterRoleBinding:
      if (obj) {
        auto b = ParseBinding(*obj, ns, name);
        if (b->role_kind == "ClusterRole") {
          b->slot = idx.Slot("", b->role_name);
        } else if (b->role_kind == "Role" && !b->ns.empty()) {
          b->slot = idx.Slot(b->ns, b->role_name);
        }
        idx.AddBinding(key, std::move(b));
      } else {
        idx.RemoveBinding(key);
      }
      return false;
    case ObjKind::kOther:
      break;
  }
  return false;
}

}  // namespace

// ---- RbacAuthorizer --------------------------------------------------------------------------

RbacAuthorizer::RbacAuthorizer(store::Store& store)
    : store_(store), index_(std::make_unique<Index>()) {}

Result<std::unique_ptr<RbacAuthorizer>> RbacAuthorizer::Create(store::Store& store) {
  std::unique_ptr<RbacAuthorizer> a(new RbacAuthorizer(store));
  MINI8S_RETURN_IF_ERROR(a->Relist());
  a->thread_ = std::thread([p = a.get()] { p->Run(); });
  return a;
}

RbacAuthorizer::~RbacAuthorizer() {
  {
    std::lock_guard l(cv_mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard l(pump_mu_);
  if (watcher_) watcher_->Stop();
  watcher_.reset();
}

Status RbacAuthorizer::Relist() {
  auto list = store_.List(kRbacPrefix);
  if (!list.ok()) return list.error();
  auto idx = std::make_unique<Index>();
  for (const store::KeyValue& kv : list->items) ApplyToIndex(*idx, kv.key, kv.value.get());
  if (watcher_) watcher_->Stop();
  watcher_.reset();
  {
    std::unique_lock l(index_mu_);
    index_ = std::move(idx);
  }
  applied_revision_.store(list->revision);
  cluster_roles_dirty_ = true;
  auto w = store_.Watch(kRbacPrefix, list->revision);
  if (!w.ok()) return w.error();
  watcher_ = std::move(*w);
  watcher_->SetNotify([this] {
    {
      std::lock_guard l(cv_mu_);
      pending_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  });
  return Status::OK();
}

bool RbacAuthorizer::CatchUp() const {
  std::lock_guard l(pump_mu_);
  pending_.store(false, std::memory_order_release);
  if (!watcher_) return false;
  std::vector<store::EventPtr> events;
  Status s = watcher_->Drain(events);
  if (events.empty()) {
    // kUnavailable: the store closed (shutdown); nothing to relist from.
    if (!s.ok() && !stop_ && !s.Is(Code::kUnavailable)) {
      MINI8S_LOG(WARNING) << "rbac: watch ended (" << s.message() << "); relisting";
      Status r = const_cast<RbacAuthorizer*>(this)->Relist();
      if (!r.ok()) MINI8S_LOG(WARNING) << "rbac: relist: " << r.message();
      return true;
    }
    return false;
  }
  bool cluster_roles = false;
  {
    std::unique_lock il(index_mu_);
    for (const store::EventPtr& e : events) {
      const std::string* v = e->type == store::EventType::kDeleted ? nullptr : e->value.get();
      cluster_roles = ApplyToIndex(*index_, e->key, v) || cluster_roles;
    }
  }
  {
    std::lock_guard cl(cv_mu_);
    applied_revision_.store(events.back()->revision);
    if (cluster_roles) cluster_roles_dirty_ = true;
  }
  cv_.notify_all();
  return cluster_roles;
}

void RbacAuthorizer::Run() {
  while (true) {
    {
      std::unique_lock l(cv_mu_);
      cv_.wait_for(l, std::chrono::seconds(1), [&] {
        return stop_.load() || pending_.load() ||
               (cluster_roles_dirty_.load() && on_cluster_roles_);
      });
      if (stop_) return;
    }
    CatchUp();
    std::function<void()> f;
    {
      std::lock_guard l(cv_mu_);
      f = on_cluster_roles_;
    }
    if (f && cluster_roles_dirty_.exchange(false)) f();
  }
}

void RbacAuthorizer::SetOnClusterRolesChanged(std::function<void()> f) {
  {
    std::lock_guard l(cv_mu_);
    on_cluster_roles_ = std::move(f);
    cluster_roles_dirty_ = true;
  }
  cv_.notify_all();
}

bool RbacAuthorizer::WaitForRevision(int64_t revision, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (applied_revision_.load() < revision) {
    if (pending_.load()) CatchUp();
    std::unique_lock l(cv_mu_);
    if (applied_revision_.load() >= revision) break;
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout) {
      return applied_revision_.load() >= revision;
    }
  }
  return true;
}

bool RbacAuthorizer::Authorize(const Attributes& attrs) const {
  return Evaluate(attrs, /*with_reason=*/false).allowed();
}

AuthorizerDecision RbacAuthorizer::Decide(const Attributes& attrs) const {
  return Evaluate(attrs, /*with_reason=*/true);
}

AuthorizerDecision RbacAuthorizer::Evaluate(const Attributes& a, bool with_reason) const {
  if (pending_.load(std::memory_order_acquire)) CatchUp();
  std::shared_lock l(index_mu_);
  AuthorizerDecision d;
  const uint32_t verb = VerbBit(a.verb);
  const uint32_t want = kAnyVerb | (verb != 0 ? verb : kOtherVerb);
  auto check = [&](const Binding& b, const Subject& s, const RoleEntry* role) {
    if (role == nullptr) return false;
    for (size_t i = 0; i < role->rules.size(); ++i) {
      const PolicyRule& rule = role->rules[i];
      if ((role->verb_masks[i] & want) == 0 || !RuleAllows(rule, a)) continue;
      d.decision = Decision::kAllow;
      if (!with_reason) return true;
      std::string binding = b.ns.empty() ? "ClusterRoleBinding " + Quoted(b.name)
                                         : "RoleBinding " + Quoted(b.name + "/" + b.ns);
      d.reason = "RBAC: allowed by " + binding + " of " + b.role_kind + " " + Quoted(b.role_name) +
                 " to " + DescribeSubject(s, b.ns);
      return true;
    }
    return false;
  };
  if (index_->Visit("", a.user, check)) return d;
  if (!a.namespace_.empty() && index_->Visit(a.namespace_, a.user, check)) return d;
  return d;
}

std::vector<PolicyRule> RbacAuthorizer::RulesFor(const UserInfo& user, std::string_view ns) const {
  if (pending_.load(std::memory_order_acquire)) CatchUp();
  std::shared_lock l(index_mu_);
  std::vector<PolicyRule> out;
  std::set<const Binding*> seen;
  auto collect = [&](const Binding& b, const Subject&, const RoleEntry* role) {
    if (role != nullptr && seen.insert(&b).second) {
      out.insert(out.end(), role->rules.begin(), role->rules.end());
    }
    return false;
  };
  index_->Visit("", user, collect);
  if (!ns.empty()) index_->Visit(std::string(ns), user, collect);
  return out;
}

Result<std::vector<PolicyRule>> RbacAuthorizer::RoleReferenceRules(std::string_view kind,
                                                                   std::string_view name,
                                                                   std::string_view ns) const {
  if (pending_.load(std::memory_order_acquire)) CatchUp();
  std::shared_lock l(index_mu_);
  if (kind == "ClusterRole") {
    auto it = index_->cluster_roles.find(std::string(name));
    if (it == index_->cluster_roles.end()) {
      return Status::NotFound("clusterroles.rbac.authorization.k8s.io " + Quoted(name) +
                              " not found");
    }
    return it->second->rules;
  }
  if (kind == "Role") {
    auto n = index_->roles.find(std::string(ns));
    if (n != index_->roles.end()) {
      auto it = n->second.find(std::string(name));
      if (it != n->second.end()) return it->second->rules;
    }
    return Status::NotFound("roles.rbac.authorization.k8s.io " + Quoted(name) + " not found");
  }
  return Status::Invalid("unsupported role reference kind: " + Quoted(kind));
}

std::vector<RbacAuthorizer::ClusterRoleView> RbacAuthorizer::ClusterRoles() const {
  std::shared_lock l(index_mu_);
  std::vector<ClusterRoleView> out;
  out.reserve(index_->cluster_roles.size());
  for (const auto& [name, e] : index_->cluster_roles) {
    out.push_back(ClusterRoleView{name, e->labels, e->aggregated, e->selectors, e->rules});
  }
  std::sort(out.begin(), out.end(),
            [](const ClusterRoleView& a, const ClusterRoleView& b) { return a.name < b.name; });
  return out;
}

bool PrivilegedGroupAuthorizer::Authorize(const Attributes& attrs) const {
  const auto& g = attrs.user.groups;
  return std::find(g.begin(), g.end(), "system:masters") != g.end();
}

// ---- aggregation -----------------------------------------------------------------------------

Result<int> ClusterRoleAggregator::ReconcileAll() {
  std::vector<RbacAuthorizer::ClusterRoleView> roles = index_.ClusterRoles();
  int written = 0;
  for (const auto& target : roles) {
    if (!target.aggregated) continue;
    std::vector<PolicyRule> rules;
    for (const auto& source : roles) {  // sorted by name, as upstream's set.List()
      bool match = false;
      for (const api::LabelSelector& s : target.selectors)
        match = match || s.Matches(source.labels);
      if (!match) continue;
      for (const PolicyRule& r : source.rules) {
        if (std::find(rules.begin(), rules.end(), r) == rules.end()) rules.push_back(r);
      }
    }
    if (rules == target.rules) continue;
    std::string key = std::string(kRbacPrefix) + "clusterroles/" + target.name;
    auto kv = store_.Get(key);
    if (!kv.ok()) continue;  // deleted meanwhile
    auto v = ParseJson(*kv->value);
    if (!v.ok() || !v->is_object()) continue;
    v->as_object()["rules"] = RulesToJson(rules);
    auto rev = store_.Update(key, SerializeJson(*v), kv->mod_revision);
    if (!rev.ok()) {
      if (rev.error().Is(Code::kConflict) || rev.error().Is(Code::kNotFound)) continue;
      return rev.error();
    }
    ++written;
  }
  return written;
}

}  // namespace mini8s::server
