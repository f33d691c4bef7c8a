// Hand-built schema trees with the patch metadata of the built-in types that matter for
// strategic merge patch tests (the facts in kubectl-wire.md §4.6). Nodes live in a deque so
// their addresses are stable.
#pragma once

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "mini8s/api/schema.h"

namespace mini8s::api::testing {

class TestSchemas {
 public:
  TestSchemas() {
    const Schema* str = Leaf(Type::kString);
    const Schema* integer = Leaf(Type::kInteger);
    const Schema* str_map = Map(str);

    Schema* owner_ref = Object({{"uid", str}, {"name", str}, {"kind", str}});
    Schema* meta = Object({{"name", str},
                           {"namespace", str},
                           {"labels", str_map},
                           {"annotations", str_map},
                           {"finalizers", List(str, "merge", "")},
                           {"ownerReferences", List(owner_ref, "merge", "uid")}});

    Schema* env = Object({{"name", str}, {"value", str}, {"valueFrom", Object({})}});
    Schema* port = Object({{"containerPort", integer}, {"protocol", str}, {"name", str}});
    Schema* mount = Object({{"mountPath", str}, {"name", str}});
    Schema* container = Object({{"name", str},
                                {"image", str},
                                {"args", List(str, "", "")},
                                {"command", List(str, "", "")},
                                {"env", List(env, "merge", "name")},
                                {"ports", List(port, "merge", "containerPort")},
                                {"volumeMounts", List(mount, "merge", "mountPath")},
                                {"resources", Object({{"limits", str_map}})}});
    Schema* volume = Object({{"name", str},
                             {"configMap", Object({{"name", str}})},
                             {"secret", Object({{"secretName", str}})},
                             {"emptyDir", Object({})}});
    Schema* toleration = Object({{"key", str}, {"operator", str}, {"value", str}});
    pod_spec = Object({{"containers", List(container, "merge", "name")},
                       {"initContainers", List(container, "merge", "name")},
                       {"volumes", List(volume, "merge,retainKeys", "name")},
                       {"tolerations", List(toleration, "", "")},
                       {"nodeSelector", str_map},
                       {"nodeName", str}});
    Schema* condition = Object({{"type", str}, {"status", str}, {"reason", str}});
    pod = Object(
        {{"apiVersion", str},
         {"kind", str},
         {"metadata", meta},
         {"spec", pod_spec},
         {"status", Object({{"phase", str}, {"conditions", List(condition, "merge", "type")}})}});

    Schema* template_spec = Object({{"metadata", meta}, {"spec", pod_spec}});
    Schema* strategy =
        Object({{"type", str},
                {"rollingUpdate", Object({{"maxSurge", Leaf(Type::kIntOrString)},
                                          {"maxUnavailable", Leaf(Type::kIntOrString)}})}});
    strategy->patch_strategy = "retainKeys";
    Schema* selector = Object({{"matchLabels", str_map}});
    // No built-in map field has strategy "replace"; this made-up one covers it.
    Schema* replaced = Object({{"matchLabels", str_map}});
    replaced->patch_strategy = "replace";
    deployment = Object({{"apiVersion", str},
                         {"kind", str},
                         {"metadata", meta},
                         {"spec", Object({{"replicas", integer},
                                          {"selector", selector},
                                          {"replacedMap", replaced},
                                          {"strategy", strategy},
                                          {"template", template_spec}})}});
  }

  const Schema* pod = nullptr;
  const Schema* deployment = nullptr;
  const Schema* pod_spec = nullptr;

 private:
  Schema* New(Type t) {
    nodes_.emplace_back();
    nodes_.back().type = t;
    return &nodes_.back();
  }
  const Schema* Leaf(Type t) { return New(t); }
  const Schema* Map(const Schema* values) {
    Schema* s = New(Type::kObject);
    s->additional_properties = values;
    return s;
  }
  Schema* List(const Schema* items, std::string strategy, std::string key) {
    Schema* s = New(Type::kArray);
    s->items = items;
    s->patch_strategy = std::move(strategy);
    s->patch_merge_key = std::move(key);
    return s;
  }
  Schema* Object(std::vector<std::pair<std::string, const Schema*>> props) {
    Schema* s = New(Type::kObject);
    for (auto& [name, child] : props) s->properties.push_back(Property{name, child, 0});
    return s;
  }

  std::deque<Schema> nodes_;
};

}  // namespace mini8s::api::testing
