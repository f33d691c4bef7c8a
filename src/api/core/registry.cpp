#include "mini8s/api/registry.h"

#include <algorithm>
#include <string>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <utility>

#include "api/core/builtin_tables.h"
#include "api/core/kinds.h"
#include "api/core/registry_impl.h"

namespace mini8s::api {
namespace {

const char* Str(int32_t index) { return gen::kStrings[index]; }

std::vector<std::string> StrList(int32_t offset) {
  std::vector<std::string> out;
  int32_t count = gen::kLists[offset];
  out.reserve(count);
  for (int32_t i = 0; i < count; ++i) out.emplace_back(Str(gen::kLists[offset + 1 + i]));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

namespace detail {

const Schema* BuiltinArena::FindDefinition(std::string_view name) const {
  const gen::DefRow* begin = gen::kDefs;
  const gen::DefRow* end = gen::kDefs + gen::kDefCount;
  const gen::DefRow* it = std::lower_bound(
      begin, end, name,
      [](const gen::DefRow& row, std::string_view n) { return Str(row.name) < n; });
  if (it == end || Str(it->name) != name) return nullptr;
  return &nodes[it->node];
}

std::shared_ptr<const BuiltinArena> BuildBuiltinArena() {
  auto arena = std::make_shared<BuiltinArena>();
  arena->nodes.resize(gen::kNodeCount);  // never resized again: pointers below stay valid
  for (size_t i = 0; i < gen::kNodeCount; ++i) {
    const gen::NodeRow& row = gen::kNodes[i];
    Schema& s = arena->nodes[i];
    s.type = row.type;
    s.format = Str(row.format);
    s.definition = Str(row.definition);
    s.required = StrList(row.required);
    s.properties.reserve(row.prop_count);
    for (int32_t p = row.prop_begin; p < row.prop_begin + row.prop_count; ++p) {
      const gen::PropRow& prop = gen::kProps[p];
      s.properties.push_back(Property{Str(prop.name), &arena->nodes[prop.node], prop.proto_tag});
    }
    if (row.items >= 0) s.items = &arena->nodes[row.items];
    if (row.additional >= 0) s.additional_properties = &arena->nodes[row.additional];
    s.preserve_unknown_fields = (row.flags & gen::kFlagPreserveUnknown) != 0;
    s.embedded_resource = (row.flags & gen::kFlagEmbeddedResource) != 0;
    s.nullable = (row.flags & gen::kFlagNullable) != 0;
    s.list_type = Str(row.list_type);
    s.list_map_keys = StrList(row.list_map_keys);
    s.map_type = Str(row.map_type);
    s.patch_strategy = Str(row.patch_strategy);
    s.patch_merge_key = Str(row.patch_merge_key);
    std::vector<std::string> gvks = StrList(row.gvks);
    for (size_t g = 0; g + 2 < gvks.size(); g += 3) {
      s.group_version_kinds.push_back(GroupVersionKind{gvks[g], gvks[g + 1], gvks[g + 2]});
    }
  }
  return arena;
}

}  // namespace detail

namespace {

std::string GvKey(std::string_view group, std::string_view version, std::string_view name) {
  std::string key;
  key.reserve(group.size() + version.size() + name.size() + 2);
  key.append(group).append("/").append(version).append("/").append(name);
  return key;
}

// Kubernetes version priority (as discovery orders versions): GA before beta before alpha, higher
// numbers first within each; anything else last, alphabetically. Returns a sortable key.
std::tuple<int, int, int, std::string> VersionPriority(std::string_view v) {
  auto number = [](std::string_view s, size_t& pos) {
    int n = 0;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 6) {
      n = n * 10 + (s[pos++] - '0');
    }
    return pos == start ? -1 : n;
  };
  size_t pos = 1;
  int major = v.size() > 1 && v[0] == 'v' ? number(v, pos) : -1;
  if (major >= 0) {
    if (pos == v.size()) return {0, -major, 0, ""};
    for (auto [tag, rank] : {std::pair{std::string_view("beta"), 1}, {"alpha", 2}}) {
      if (v.substr(pos, tag.size()) == tag) {
        size_t p = pos + tag.size();
        int minor = number(v, p);
        if (minor >= 0 && p == v.size()) return {rank, -major, -minor, ""};
      }
    }
  }
  return {3, 0, 0, std::string(v)};
}

bool KindLess(const KindInfoConstSharedPtr& a, const KindInfoConstSharedPtr& b) {
  return std::tie(a->group, a->version, a->kind) < std::tie(b->group, b->version, b->kind);
}

// Immutable lookup indexes over one set of kinds; replaced as a whole when CRDs change.
struct Index {
  std::vector<KindInfoConstSharedPtr> kinds;  // sorted by (group, version, kind)
  std::map<std::string, KindInfoConstSharedPtr, std::less<>> by_kind;      // "g/v/Kind"
  std::map<std::string, KindInfoConstSharedPtr, std::less<>> by_resource;  // "g/v/lowername"
  // Group preference order for group-less lookups: core, then built-in groups in table order,
  // then custom groups in the order they were added.
  std::vector<std::string> group_order;

  static std::shared_ptr<const Index> Build(std::vector<KindInfoConstSharedPtr> kinds,
                                            std::vector<std::string> group_order) {
    auto index = std::make_shared<Index>();
    std::stable_sort(kinds.begin(), kinds.end(), KindLess);
    index->kinds = std::move(kinds);
    index->group_order = std::move(group_order);
    for (const auto& k : index->kinds) {
      index->by_kind.emplace(GvKey(k->group, k->version, k->kind), k);
    }
    // Plurals win over singulars, singulars over short names, short names over kind names.
    for (int pass = 0; pass < 4; ++pass) {
      for (const auto& k : index->kinds) {
        if (k->subresource_only) continue;
        auto add = [&](std::string_view name) {
          if (!name.empty())
            index->by_resource.emplace(GvKey(k->group, k->version, Lower(name)), k);
        };
        if (pass == 0) add(k->plural);
        if (pass == 1) add(k->singular);
        if (pass == 2) {
          for (const auto& s : k->short_names) add(s);
        }
        if (pass == 3) add(k->kind);
      }
    }
    return index;
  }
};

class RegistryImpl final : public Registry {
 public:
  RegistryImpl(std::shared_ptr<const detail::BuiltinArena> builtin,
               std::vector<KindInfoConstSharedPtr> builtin_kinds)
      : builtin_(std::move(builtin)), builtin_kinds_(std::move(builtin_kinds)) {
    for (const auto& k : builtin_kinds_) {
      if (std::find(builtin_groups_.begin(), builtin_groups_.end(), k->group) ==
          builtin_groups_.end()) {
        builtin_groups_.push_back(k->group);
      }
    }
    index_ = Index::Build(builtin_kinds_, builtin_groups_);
  }

  KindInfoConstSharedPtr FindKind(std::string_view group, std::string_view version,
                                  std::string_view kind) const override {
    auto index = Snapshot();
    auto it = index->by_kind.find(GvKey(group, version, kind));
    return it == index->by_kind.end() ? nullptr : it->second;
  }

  KindInfoConstSharedPtr FindResource(std::string_view group, std::string_view version,
                                      std::string_view resource) const override {
    auto index = Snapshot();
    auto it = index->by_resource.find(GvKey(group, version, Lower(resource)));
    return it == index->by_resource.end() ? nullptr : it->second;
  }

  KindInfoConstSharedPtr FindByApiVersionKind(std::string_view api_version,
                                              std::string_view kind) const override {
    size_t slash = api_version.find('/');
    if (slash == std::string_view::npos) return FindKind("", api_version, kind);
    return FindKind(api_version.substr(0, slash), api_version.substr(slash + 1), kind);
  }

  std::vector<KindInfoConstSharedPtr> FindResourceInAnyGroup(
      std::string_view resource) const override {
    auto index = Snapshot();
    std::string name = Lower(resource);
    std::vector<KindInfoConstSharedPtr> out;
    auto collect = [&](std::string_view n, std::string_view only_group, bool group_suffix) {
      for (const auto& group : index->group_order) {
        if (group_suffix && group != only_group) continue;
        // Within a group, the preferred version first.
        std::vector<KindInfoConstSharedPtr> matches;
        for (const auto& k : index->kinds) {
          if (k->group != group || k->subresource_only) continue;
          auto it = index->by_resource.find(GvKey(k->group, k->version, n));
          if (it != index->by_resource.end() &&
              std::find(matches.begin(), matches.end(), it->second) == matches.end()) {
            matches.push_back(it->second);
          }
        }
        std::stable_sort(matches.begin(), matches.end(), [](const auto& a, const auto& b) {
          return VersionPriority(a->version) < VersionPriority(b->version);
        });
        out.insert(out.end(), matches.begin(), matches.end());
      }
    };
    collect(name, "", false);
    if (out.empty()) {
      // "deployments.apps", "foos.example.com": the part after the first dot names the group.
      size_t dot = name.find('.');
      if (dot != std::string::npos) {
        collect(std::string_view(name).substr(0, dot), std::string_view(name).substr(dot + 1),
                true);
      }
    }
    return out;
  }

  std::vector<KindInfoConstSharedPtr> Kinds() const override { return Snapshot()->kinds; }

  const Schema* FindDefinition(std::string_view name) const override {
    return builtin_->FindDefinition(name);
  }

  Status AddCustomResource(const boost::json::value& crd) override {
    auto built = detail::BuildCustomKinds(crd, builtin_);
    if (!built.has_value()) return built.error();
    detail::CustomKinds& custom = *built;
    for (const auto& k : custom.kinds) {
      for (const auto& b : builtin_kinds_) {
        if (b->group == k->group && b->version == k->version &&
            (b->kind == k->kind || b->plural == k->plural)) {
          return Status::Invalid("spec.group: Invalid value: \"" + k->group + "\": " + k->group +
                                 "/" + k->version + " " + k->plural +
                                 " is served by a built-in kind");
        }
      }
    }
    std::unique_lock lock(mu_);
    custom_[custom.crd_name] = {custom.group, std::vector<KindInfoConstSharedPtr>(
                                                  custom.kinds.begin(), custom.kinds.end())};
    if (std::find(custom_groups_.begin(), custom_groups_.end(), custom.group) ==
        custom_groups_.end()) {
      custom_groups_.push_back(custom.group);
    }
    RebuildLocked();
    return Status::OK();
  }

  Status RemoveCustomResource(std::string_view crd_name) override {
    std::unique_lock lock(mu_);
    auto it = custom_.find(crd_name);
    if (it == custom_.end()) {
      return Status::NotFound("customresourcedefinitions.apiextensions.k8s.io \"" +
                              std::string(crd_name) + "\" not found");
    }
    custom_.erase(it);
    RebuildLocked();
    return Status::OK();
  }

 private:
  std::shared_ptr<const Index> Snapshot() const {
    std::shared_lock lock(mu_);
    return index_;
  }

  void RebuildLocked() {
    std::vector<KindInfoConstSharedPtr> all = builtin_kinds_;
    std::vector<std::string> groups = builtin_groups_;
    for (const auto& [name, crd] : custom_) {
      all.insert(all.end(), crd.kinds.begin(), crd.kinds.end());
    }
    for (const auto& g : custom_groups_) {
      bool used = false;
      for (const auto& [name, crd] : custom_) used = used || crd.group == g;
      if (used && std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
    }
    index_ = Index::Build(std::move(all), std::move(groups));
  }

  const std::shared_ptr<const detail::BuiltinArena> builtin_;
  const std::vector<KindInfoConstSharedPtr> builtin_kinds_;
  std::vector<std::string> builtin_groups_;  // set in the constructor only

  mutable std::shared_mutex mu_;
  std::shared_ptr<const Index> index_;  // GUARDED_BY(mu_)
  struct Crd {
    std::string group;
    std::vector<KindInfoConstSharedPtr> kinds;
  };
  std::map<std::string, Crd, std::less<>> custom_;  // GUARDED_BY(mu_); by CRD name
  std::vector<std::string> custom_groups_;          // GUARDED_BY(mu_); first-added order
};

std::vector<KindInfoConstSharedPtr> BuildBuiltinKinds(
    const std::shared_ptr<const detail::BuiltinArena>& arena) {
  std::vector<KindInfoConstSharedPtr> kinds;
  kinds.reserve(gen::kResourceCount);
  for (size_t i = 0; i < gen::kResourceCount; ++i) {
    const gen::ResourceRow& row = gen::kResources[i];
    auto info = std::make_shared<KindInfo>();
    info->group = gen::kStrings[row.group];
    info->version = gen::kStrings[row.version];
    info->kind = gen::kStrings[row.kind];
    info->list_kind = row.subresource_only ? std::string() : info->kind + "List";
    info->plural = gen::kStrings[row.plural];
    info->singular = row.subresource_only ? std::string() : Lower(info->kind);
    info->namespaced = row.namespaced;
    info->subresource_only = row.subresource_only;
    info->verbs = StrList(row.verbs);
    for (int32_t s = row.sub_begin; s < row.sub_begin + row.sub_count; ++s) {
      const gen::SubresourceRow& sub = gen::kSubresources[s];
      SubresourceInfo si;
      si.name = gen::kStrings[sub.name];
      si.group = gen::kStrings[sub.group];
      si.version = gen::kStrings[sub.version];
      si.kind = gen::kStrings[sub.kind];
      si.verbs = StrList(sub.verbs);
      info->subresources.push_back(si.name);
      info->subresource_info.push_back(std::move(si));
    }
    info->schema = &arena->nodes[row.node];
    info->schema_arena = arena;
    detail::ApplyBuiltinKindFacts(*info);
    kinds.push_back(std::move(info));
  }
  return kinds;
}

}  // namespace

std::vector<KindInfoConstSharedPtr> Registry::FindResourceInAnyGroup(
    std::string_view resource) const {
  std::vector<KindInfoConstSharedPtr> out;
  auto collect = [&](std::string_view name, const std::string* only_group) {
    for (const auto& k : Kinds()) {  // sorted by group: core ("") first
      if (only_group != nullptr && k->group != *only_group) continue;
      auto found = FindResource(k->group, k->version, name);
      if (found && std::find(out.begin(), out.end(), found) == out.end()) out.push_back(found);
    }
  };
  collect(resource, nullptr);
  size_t dot = resource.find('.');
  if (out.empty() && dot != std::string_view::npos) {
    std::string group = Lower(resource.substr(dot + 1));
    collect(resource.substr(0, dot), &group);
  }
  return out;
}

std::shared_ptr<Registry> Registry::NewBuiltin() {
  auto arena = detail::BuildBuiltinArena();
  return std::make_shared<RegistryImpl>(arena, BuildBuiltinKinds(arena));
}

}  // namespace mini8s::api
