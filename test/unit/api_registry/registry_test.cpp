#include "mini8s/api/registry.h"

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

namespace mini8s::api {
namespace {

const Schema* Path(const Schema* s, std::initializer_list<std::string_view> steps) {
  for (std::string_view step : steps) {
    if (s == nullptr) return nullptr;
    if (step == "[]") {
      s = s->items;
    } else {
      s = s->Child(step);
    }
  }
  return s;
}

TEST_CASE("Registry: kinds are found by every name form", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  auto pod = reg->FindKind("", "v1", "Pod");
  REQUIRE(pod != nullptr);
  CHECK(pod->plural == "pods");
  CHECK(pod->singular == "pod");
  CHECK(pod->list_kind == "PodList");
  CHECK(pod->namespaced);
  CHECK(pod->ApiVersion() == "v1");
  for (std::string_view name : {"pods", "pod", "po", "Pod", "PODS", "Po"}) {
    INFO(name);
    CHECK(reg->FindResource("", "v1", name) == pod);
  }
  CHECK(reg->FindByApiVersionKind("v1", "Pod") == pod);
  CHECK(reg->FindByApiVersionKind("apps/v1", "Pod") == nullptr);

  auto deploy = reg->FindByApiVersionKind("apps/v1", "Deployment");
  REQUIRE(deploy != nullptr);
  CHECK(reg->FindResource("apps", "v1", "deploy") == deploy);
  CHECK(reg->FindResource("apps", "v1", "deployments") == deploy);
  CHECK(reg->FindResource("", "v1", "deployments") == nullptr);
  CHECK(reg->FindKind("apps", "v1", "Nope") == nullptr);

  auto crd = reg->FindResource("apiextensions.k8s.io", "v1", "crds");
  REQUIRE(crd != nullptr);
  CHECK(crd->kind == "CustomResourceDefinition");
  CHECK_FALSE(crd->namespaced);
  CHECK(reg->FindResource("apiextensions.k8s.io", "v1", "crd") == crd);
}

TEST_CASE("Registry: group-less lookups prefer core and accept resource.group",
          "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  auto events = reg->FindResourceInAnyGroup("ev");
  REQUIRE(events.size() == 2);
  CHECK(events[0]->group.empty());
  CHECK(events[1]->group == "events.k8s.io");
  auto hpa = reg->FindResourceInAnyGroup("hpa");
  REQUIRE(hpa.size() == 1);
  CHECK(hpa[0]->version == "v2");
  auto deploy = reg->FindResourceInAnyGroup("deployments.apps");
  REQUIRE(deploy.size() == 1);
  CHECK(deploy[0]->kind == "Deployment");
  CHECK(reg->FindResourceInAnyGroup("nonsense").empty());
}

TEST_CASE("Registry: scope, verbs and subresources come from the OpenAPI paths",
          "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  auto node = reg->FindKind("", "v1", "Node");
  REQUIRE(node != nullptr);
  CHECK_FALSE(node->namespaced);
  CHECK(node->HasSubresource("status"));
  CHECK(node->HasSubresource("proxy"));
  auto pod = reg->FindKind("", "v1", "Pod");
  for (std::string_view verb :
       {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}) {
    CHECK(pod->HasVerb(verb));
  }
  for (std::string_view sub : {"status", "log", "exec", "attach", "portforward", "binding",
                               "eviction", "ephemeralcontainers"}) {
    INFO(sub);
    CHECK(pod->HasSubresource(sub));
  }
  REQUIRE(pod->subresource_info.size() == pod->subresources.size());
  for (const SubresourceInfo& s : pod->subresource_info) {
    if (s.name == "eviction") {
      CHECK(s.group == "policy");
      CHECK(s.kind == "Eviction");
      CHECK(s.verbs == std::vector<std::string>{"create"});
    }
    if (s.name == "exec") CHECK(s.verbs == std::vector<std::string>{"create", "get"});
  }
  auto deploy = reg->FindKind("apps", "v1", "Deployment");
  REQUIRE(deploy->HasSubresource("scale"));
  auto scale = std::find_if(deploy->subresource_info.begin(), deploy->subresource_info.end(),
                            [](const SubresourceInfo& s) { return s.name == "scale"; });
  CHECK(scale->group == "autoscaling");
  CHECK(scale->version == "v1");
  CHECK(scale->kind == "Scale");
  CHECK(scale->verbs == std::vector<std::string>{"get", "patch", "update"});
  CHECK(deploy->scale_spec_replicas_path == ".spec.replicas");
  CHECK(deploy->scale_status_replicas_path == ".status.replicas");

  auto binding = reg->FindResource("", "v1", "bindings");
  REQUIRE(binding != nullptr);
  CHECK(binding->verbs == std::vector<std::string>{"create"});
  auto review = reg->FindResource("authorization.k8s.io", "v1", "selfsubjectaccessreviews");
  REQUIRE(review != nullptr);
  CHECK(review->verbs == std::vector<std::string>{"create"});
  CHECK_FALSE(review->namespaced);
}

TEST_CASE("Registry: subresource bodies have a GVK and schema but no resource",
          "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  for (auto [group, kind] : {std::pair{"autoscaling", "Scale"},
                             {"policy", "Eviction"},
                             {"authentication.k8s.io", "TokenRequest"}}) {
    INFO(kind);
    auto k = reg->FindKind(group, "v1", kind);
    REQUIRE(k != nullptr);
    CHECK(k->subresource_only);
    CHECK(k->plural.empty());
    CHECK(k->verbs.empty());
    REQUIRE(k->schema != nullptr);
    CHECK(k->schema->FindProperty("metadata") != nullptr);
  }
  CHECK(reg->FindResource("autoscaling", "v1", "scale") == nullptr);
  CHECK(reg->FindResource("autoscaling", "v1", "Scale") == nullptr);
}

TEST_CASE("Registry: schemas carry list, map and patch metadata", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  const Schema* pod = reg->FindKind("", "v1", "Pod")->schema;
  REQUIRE(pod != nullptr);
  CHECK(pod->definition == "io.k8s.api.core.v1.Pod");
  CHECK(pod->group_version_kinds == std::vector<GroupVersionKind>{{"", "v1", "Pod"}});
  const Schema* delete_options =
      reg->FindDefinition("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions");
  REQUIRE(delete_options != nullptr);
  CHECK(delete_options->group_version_kinds.size() > 10);
  const Schema* containers = Path(pod, {"spec", "containers"});
  REQUIRE(containers != nullptr);
  CHECK(containers->type == Type::kArray);
  CHECK(containers->patch_merge_key == "name");
  CHECK(containers->patch_strategy == "merge");
  CHECK(containers->list_type == "map");
  CHECK(containers->list_map_keys == std::vector<std::string>{"name"});
  REQUIRE(containers->items != nullptr);
  CHECK(containers->items->definition == "io.k8s.api.core.v1.Container");
  CHECK(std::count(containers->items->required.begin(), containers->items->required.end(),
                   "name") == 1);

  const Schema* port_name = Path(containers, {"[]", "ports", "[]", "containerPort"});
  REQUIRE(port_name != nullptr);
  CHECK(port_name->type == Type::kInteger);
  CHECK(port_name->format == "int32");
  const Schema* probe_port = Path(containers, {"[]", "livenessProbe", "httpGet", "port"});
  REQUIRE(probe_port != nullptr);
  CHECK(probe_port->type == Type::kIntOrString);

  const Schema* limits = Path(containers, {"[]", "resources", "limits"});
  REQUIRE(limits != nullptr);
  CHECK(limits->IsMap());
  CHECK(limits->additional_properties->type == Type::kQuantity);

  const Schema* svc = reg->FindKind("", "v1", "Service")->schema;
  const Schema* ports = Path(svc, {"spec", "ports"});
  REQUIRE(ports != nullptr);
  CHECK(ports->patch_merge_key == "port");
  CHECK(ports->patch_strategy == "merge");
  CHECK(ports->list_map_keys == std::vector<std::string>{"port", "protocol"});
  const Schema* target_port = Path(ports, {"[]", "targetPort"});
  REQUIRE(target_port != nullptr);
  CHECK(target_port->type == Type::kIntOrString);

  const Schema* secret_data = Path(reg->FindKind("", "v1", "Secret")->schema, {"data"});
  REQUIRE(secret_data != nullptr);
  REQUIRE(secret_data->IsMap());
  CHECK(secret_data->additional_properties->type == Type::kString);
  CHECK(secret_data->additional_properties->format == "byte");

  // A $ref with its own patch strategy gets its own node; the shared definition stays plain.
  const Schema* strategy =
      Path(reg->FindKind("apps", "v1", "Deployment")->schema, {"spec", "strategy"});
  REQUIRE(strategy != nullptr);
  CHECK(strategy->patch_strategy == "retainKeys");
  CHECK(strategy->definition == "io.k8s.api.apps.v1.DeploymentStrategy");
  const Schema* shared = reg->FindDefinition("io.k8s.api.apps.v1.DeploymentStrategy");
  REQUIRE(shared != nullptr);
  CHECK(shared->patch_strategy.empty());
  CHECK(shared->FindProperty("rollingUpdate") != nullptr);

  const Schema* meta = reg->FindDefinition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  REQUIRE(meta != nullptr);
  CHECK(Path(pod, {"metadata"}) == meta);
  CHECK(Path(meta, {"creationTimestamp"})->format == "date-time");
  CHECK(Path(meta, {"finalizers"})->patch_strategy == "merge");
  CHECK(Path(meta, {"ownerReferences"})->patch_merge_key == "uid");
  CHECK(reg->FindDefinition("io.k8s.nothing") == nullptr);
}

TEST_CASE("Registry: metrics kinds are described by hand", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  auto pm = reg->FindResource("metrics.k8s.io", "v1beta1", "pods");
  REQUIRE(pm != nullptr);
  CHECK(pm->kind == "PodMetrics");
  CHECK(pm->verbs == std::vector<std::string>{"get", "list"});
  const Schema* usage = Path(pm->schema, {"containers", "[]", "usage"});
  REQUIRE(usage != nullptr);
  CHECK(usage->additional_properties->type == Type::kQuantity);
  auto nm = reg->FindResource("metrics.k8s.io", "v1beta1", "nodes");
  REQUIRE(nm != nullptr);
  CHECK_FALSE(nm->namespaced);
  CHECK(Path(nm->schema, {"usage"})->IsMap());
  CHECK(Path(nm->schema, {"timestamp"})->format == "date-time");
}

TEST_CASE("Registry: Kinds lists every kind in group, version, kind order",
          "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  auto kinds = reg->Kinds();
  CHECK(kinds.size() == 47);
  for (size_t i = 1; i < kinds.size(); ++i) {
    const auto& a = *kinds[i - 1];
    const auto& b = *kinds[i];
    CHECK(std::tie(a.group, a.version, a.kind) < std::tie(b.group, b.version, b.kind));
  }
  for (const auto& k : kinds) {
    INFO(k->kind);
    CHECK(k->schema != nullptr);
    CHECK(k->schema_arena != nullptr);
  }
}

std::vector<std::string> ColumnNames(const KindInfo& k, int max_priority) {
  std::vector<std::string> out;
  for (const TableColumn& c : k.columns) {
    if (c.priority <= max_priority) out.push_back(c.name);
  }
  return out;
}

TEST_CASE("Registry: Table columns follow upstream's printers", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  using V = std::vector<std::string>;
  auto pod = reg->FindKind("", "v1", "Pod");
  CHECK(ColumnNames(*pod, 0) == V{"Name", "Ready", "Status", "Restarts", "Age"});
  CHECK(ColumnNames(*pod, 1) == V{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                  "Nominated Node", "Readiness Gates"});
  CHECK(pod->columns[0].format == "name");
  CHECK(pod->columns[1].format.empty());
  CHECK(pod->columns[1].printer == "pod.ready");
  CHECK(ColumnNames(*reg->FindKind("apps", "v1", "Deployment"), 1) ==
        V{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"});
  CHECK(ColumnNames(*reg->FindKind("", "v1", "Service"), 1) ==
        V{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"});
  CHECK(ColumnNames(*reg->FindKind("", "v1", "Node"), 1) ==
        V{"Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image",
          "Kernel-Version", "Container-Runtime"});
  CHECK(ColumnNames(*reg->FindKind("", "v1", "Event"), 0) ==
        V{"Last Seen", "Type", "Reason", "Object", "Message"});
  CHECK(ColumnNames(*reg->FindKind("events.k8s.io", "v1", "Event"), 0) ==
        V{"Last Seen", "Type", "Reason", "Object", "Message"});
  auto rs = reg->FindKind("apps", "v1", "ReplicaSet");
  CHECK(rs->columns[1].type == "integer");
  CHECK(rs->columns[1].json_path == ".spec.replicas");
  // Kinds without upstream printers get upstream's default table.
  CHECK(ColumnNames(*reg->FindKind("rbac.authorization.k8s.io", "v1", "Role"), 1) ==
        V{"Name", "Created At"});
  CHECK(reg->FindKind("rbac.authorization.k8s.io", "v1", "Role")->columns[1].type == "date");
  CHECK(ColumnNames(*reg->FindKind("authorization.k8s.io", "v1", "SubjectAccessReview"), 1) ==
        V{"Name", "Created At"});
  for (const auto& k : reg->Kinds()) {
    INFO(k->kind);
    if (k->subresource_only) {
      CHECK(k->columns.empty());
      continue;
    }
    REQUIRE_FALSE(k->columns.empty());
    bool has_name = false;
    for (const TableColumn& c : k->columns) {
      CHECK_FALSE(c.printer.empty());
      CHECK((c.type == "string" || c.type == "integer" || c.type == "boolean" || c.type == "date" ||
             c.type == "number"));
      has_name = has_name || c.format == "name";
    }
    CHECK(has_name);
  }
}

TEST_CASE("Registry: short names, categories and selectable fields", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  using V = std::vector<std::string>;
  const std::pair<const char*, const char*> short_names[] = {{"po", "pods"},
                                                             {"svc", "services"},
                                                             {"deploy", "deployments"},
                                                             {"rs", "replicasets"},
                                                             {"ds", "daemonsets"},
                                                             {"sts", "statefulsets"},
                                                             {"cm", "configmaps"},
                                                             {"ns", "namespaces"},
                                                             {"no", "nodes"},
                                                             {"sa", "serviceaccounts"},
                                                             {"ev", "events"},
                                                             {"pv", "persistentvolumes"},
                                                             {"pvc", "persistentvolumeclaims"},
                                                             {"quota", "resourcequotas"},
                                                             {"limits", "limitranges"},
                                                             {"ep", "endpoints"},
                                                             {"ing", "ingresses"},
                                                             {"netpol", "networkpolicies"},
                                                             {"hpa", "horizontalpodautoscalers"},
                                                             {"cj", "cronjobs"},
                                                             {"pdb", "poddisruptionbudgets"},
                                                             {"pc", "priorityclasses"},
                                                             {"sc", "storageclasses"},
                                                             {"crd", "customresourcedefinitions"},
                                                             {"crds", "customresourcedefinitions"}};
  for (auto [short_name, plural] : short_names) {
    INFO(short_name);
    auto found = reg->FindResourceInAnyGroup(short_name);
    REQUIRE_FALSE(found.empty());
    CHECK(found[0]->plural == plural);
  }
  V all;
  for (const auto& k : reg->Kinds()) {
    if (std::find(k->categories.begin(), k->categories.end(), "all") != k->categories.end()) {
      all.push_back(k->plural);
    }
  }
  std::sort(all.begin(), all.end());
  CHECK(all == V{"cronjobs", "daemonsets", "deployments", "horizontalpodautoscalers", "jobs",
                 "pods", "replicasets", "services", "statefulsets"});
  auto pod = reg->FindKind("", "v1", "Pod");
  for (std::string_view f : {"spec.nodeName", "status.phase", "status.podIP", "spec.hostNetwork"}) {
    CHECK(std::find(pod->selectable_fields.begin(), pod->selectable_fields.end(), f) !=
          pod->selectable_fields.end());
  }
  CHECK(reg->FindKind("", "v1", "Node")->selectable_fields == V{"spec.unschedulable"});
  CHECK(reg->FindKind("", "v1", "Secret")->selectable_fields == V{"type"});
  CHECK(reg->FindKind("batch", "v1", "Job")->selectable_fields == V{"status.successful"});
  CHECK(reg->FindKind("", "v1", "ConfigMap")->selectable_fields.empty());
  // Every selectable field (other than Event's "source", which upstream maps to
  // source.component) names a field the schema has.
  for (const auto& k : reg->Kinds()) {
    for (const std::string& f : k->selectable_fields) {
      INFO(k->kind << " " << f);
      const Schema* s = k->schema;
      std::string_view rest = f;
      while (s != nullptr && !rest.empty()) {
        size_t dot = rest.find('.');
        s = s->Child(rest.substr(0, dot));
        rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
      }
      if (f != "status.successful") CHECK(s != nullptr);  // Job's is status.succeeded
    }
  }
  for (std::string_view plural : {"deployments", "replicasets", "statefulsets"}) {
    auto k = reg->FindResourceInAnyGroup(plural)[0];
    CHECK(k->HasSubresource("scale"));
    CHECK(k->scale_spec_replicas_path == ".spec.replicas");
  }
}

TEST_CASE("Registry: protobuf field numbers are merged into properties", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  const Schema* pod = reg->FindKind("", "v1", "Pod")->schema;
  CHECK(pod->FindProperty("metadata")->proto_tag == 1);
  CHECK(pod->FindProperty("spec")->proto_tag == 2);
  CHECK(pod->FindProperty("status")->proto_tag == 3);
  CHECK(pod->FindProperty("kind")->proto_tag == 0);  // TypeMeta is not a protobuf field
  const Schema* container = reg->FindDefinition("io.k8s.api.core.v1.Container");
  REQUIRE(container != nullptr);
  CHECK(container->FindProperty("name")->proto_tag == 1);
  CHECK(container->FindProperty("image")->proto_tag == 2);
}

TEST_CASE("Registry: lookups stay consistent while CRDs come and go", "[api_registry][unit]") {
  auto reg = Registry::NewBuiltin();
  const boost::json::value crd = boost::json::parse(R"({
      "metadata": {"name": "widgets.example.com"},
      "spec": {"group": "example.com", "scope": "Cluster",
               "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
               "versions": [{"name": "v1", "served": true, "storage": true,
                             "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {
                                 "size": {"type": "integer"}}}}}}}]}})");
  std::atomic<bool> stop{false};
  std::atomic<int> seen{0};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      if (auto w = reg->FindResource("example.com", "v1", "wd")) {
        // A snapshot is complete and its schema usable even if the CRD is removed meanwhile.
        if (w->schema->Child("spec")->Child("size")->type != Type::kInteger) ++bad;
        ++seen;
      }
      if (reg->FindKind("", "v1", "Pod") == nullptr) ++bad;
    }
  });
  for (int i = 0; i < 200; ++i) {
    REQUIRE(reg->AddCustomResource(crd).ok());
    REQUIRE(reg->RemoveCustomResource("widgets.example.com").ok());
  }
  REQUIRE(reg->AddCustomResource(crd).ok());
  while (seen.load() == 0) std::this_thread::yield();
  stop = true;
  reader.join();
  CHECK(bad.load() == 0);
}

// Not an assertion on time (that would be flaky): prints what building the built-in registry
// costs, for the design note and the server's start-up budget.
TEST_CASE("Registry: building the built-in registry is cheap", "[api_registry][unit]") {
  auto cpu_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  };
  struct mallinfo2 before = mallinfo2();
  double cpu_start = cpu_ms();
  auto start = std::chrono::steady_clock::now();
  auto reg = Registry::NewBuiltin();
  auto end = std::chrono::steady_clock::now();
  double cpu = cpu_ms() - cpu_start;
  struct mallinfo2 after = mallinfo2();
  double ms = std::chrono::duration<double, std::milli>(end - start).count();
  size_t heap_kib = (after.uordblks - before.uordblks) / 1024;
  std::printf("NewBuiltin: %zu kinds in %.2f ms CPU (%.2f ms wall), %zu KiB of heap\n",
              reg->Kinds().size(), cpu, ms, heap_kib);
  CHECK(reg->Kinds().size() == 47);
  CHECK(heap_kib < 4096);  // a generous ceiling: the registry must stay small
}

}  // namespace
}  // namespace mini8s::api
