// Cell printers for workload kinds (apps, batch, autoscaling), following upstream's v1.32
// printers: deployments, replica sets, daemon sets, stateful sets, controller revisions, jobs,
// cron jobs and horizontal pod autoscalers.
#include <algorithm>
#include <cctype>

#include "api/table/printers.h"

namespace mini8s::api::table {
namespace {

namespace json = boost::json;
using json::value;

value IntCell(const RowContext& r, std::string_view path) { return value(Int(r.obj, path)); }

// Pod-template kinds: spec.template.spec; the selector is spec.selector.
value TemplateContainers(const RowContext& r) {
  return value(ContainerNames(Obj(r.obj, "spec.template.spec")));
}
value TemplateImages(const RowContext& r) {
  return value(ContainerImages(Obj(r.obj, "spec.template.spec")));
}
// Deployment prints selector.String() as is ("" when empty); the others use FormatLabelSelector.
value Selector(const RowContext& r) {
  return value(FormatLabelSelector(At(r.obj, "spec.selector"), Str(r.obj, "kind") != "Deployment"));
}

// spec.replicas defaults to 1 for Deployments, ReplicaSets and StatefulSets.
value DeploymentReady(const RowContext& r) {
  return value(std::to_string(Int(r.obj, "status.readyReplicas")) + "/" +
               std::to_string(Int(r.obj, "spec.replicas", 1)));
}
value DeploymentUpToDate(const RowContext& r) { return IntCell(r, "status.updatedReplicas"); }
value DeploymentAvailable(const RowContext& r) { return IntCell(r, "status.availableReplicas"); }

value ReplicaSetDesired(const RowContext& r) { return value(Int(r.obj, "spec.replicas", 1)); }
value ReplicaSetCurrent(const RowContext& r) { return IntCell(r, "status.replicas"); }
value ReplicaSetReady(const RowContext& r) { return IntCell(r, "status.readyReplicas"); }

value DaemonSetDesired(const RowContext& r) { return IntCell(r, "status.desiredNumberScheduled"); }
value DaemonSetCurrent(const RowContext& r) { return IntCell(r, "status.currentNumberScheduled"); }
value DaemonSetReady(const RowContext& r) { return IntCell(r, "status.numberReady"); }
value DaemonSetUpToDate(const RowContext& r) { return IntCell(r, "status.updatedNumberScheduled"); }
value DaemonSetAvailable(const RowContext& r) { return IntCell(r, "status.numberAvailable"); }
value DaemonSetNodeSelector(const RowContext& r) {
  return value(FormatLabels(Obj(r.obj, "spec.template.spec.nodeSelector")));
}

value StatefulSetReady(const RowContext& r) {
  return value(std::to_string(Int(r.obj, "status.readyReplicas")) + "/" +
               std::to_string(Int(r.obj, "spec.replicas", 1)));
}

// "<kind>.<group>/<name>" of the controlling owner, lower-cased kind and group.
value ControllerRevisionController(const RowContext& r) {
  for (const value& v : Arr(r.obj, "metadata.ownerReferences")) {
    const json::object& ref = AsObj(v);
    if (!Bool(ref, "controller")) continue;
    std::string api_version = Str(ref, "apiVersion");
    size_t slash = api_version.find('/');
    std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    std::string gk = Str(ref, "kind");
    if (!group.empty()) gk += "." + group;
    std::transform(gk.begin(), gk.end(), gk.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return value(gk.empty() ? Str(ref, "name") : gk + "/" + Str(ref, "name"));
  }
  return value("<none>");
}
value ControllerRevisionRevision(const RowContext& r) { return IntCell(r, "revision"); }

// --- jobs --------------------------------------------------------------------------------------

value JobStatus(const RowContext& r) {
  const json::array& conds = Arr(r.obj, "status.conditions");
  // Upstream's order; SuccessCriteriaMet has no status of its own (it shows as Running).
  if (ConditionTrue(conds, "Complete")) return value("Complete");
  if (ConditionTrue(conds, "Failed")) return value("Failed");
  if (Has(r.obj, "metadata.deletionTimestamp")) return value("Terminating");
  if (ConditionTrue(conds, "Suspended")) return value("Suspended");
  if (ConditionTrue(conds, "FailureTarget")) return value("FailureTarget");
  return value("Running");
}

value JobCompletions(const RowContext& r) {
  const std::string succeeded = std::to_string(Int(r.obj, "status.succeeded"));
  if (Has(r.obj, "spec.completions")) {
    return value(succeeded + "/" + std::to_string(Int(r.obj, "spec.completions")));
  }
  int64_t parallelism = Int(r.obj, "spec.parallelism");
  if (parallelism > 1) return value(succeeded + "/1 of " + std::to_string(parallelism));
  return value(succeeded + "/1");
}

value JobDuration(const RowContext& r) {
  std::optional<std::chrono::system_clock::time_point> start =
      ParseTime(Str(r.obj, "status.startTime"));
  if (!start) return value("");
  std::optional<std::chrono::system_clock::time_point> done =
      ParseTime(Str(r.obj, "status.completionTime"));
  return value(SinceTime(*start, done ? *done : r.now));
}

// --- cron jobs ---------------------------------------------------------------------------------

value CronJobSchedule(const RowContext& r) { return value(Str(r.obj, "spec.schedule")); }
value CronJobTimezone(const RowContext& r) {
  if (!Has(r.obj, "spec.timeZone")) return value("<none>");
  return value(Str(r.obj, "spec.timeZone"));
}
// printBoolPtr: the cell is a string even though the column type is boolean.
value CronJobSuspend(const RowContext& r) {
  const value* v = At(r.obj, "spec.suspend");
  if (v == nullptr || !v->is_bool()) return value("<unset>");
  return value(v->get_bool() ? "True" : "False");
}
value CronJobActive(const RowContext& r) {
  return value(static_cast<int64_t>(Count(r.obj, "status.active")));
}
value CronJobLastSchedule(const RowContext& r) {
  if (!Has(r.obj, "status.lastScheduleTime")) return value("<none>");
  return value(Since(Str(r.obj, "status.lastScheduleTime"), r.now));
}
value CronJobContainers(const RowContext& r) {
  return value(ContainerNames(Obj(r.obj, "spec.jobTemplate.spec.template.spec")));
}
value CronJobImages(const RowContext& r) {
  return value(ContainerImages(Obj(r.obj, "spec.jobTemplate.spec.template.spec")));
}
value CronJobSelector(const RowContext& r) {
  return value(FormatLabelSelector(At(r.obj, "spec.jobTemplate.spec.selector")));
}

// --- horizontal pod autoscalers ----------------------------------------------------------------

value HpaReference(const RowContext& r) {
  return value(Str(r.obj, "spec.scaleTargetRef.kind") + "/" +
               Str(r.obj, "spec.scaleTargetRef.name"));
}

std::string Percent(const json::object& o, std::string_view path, std::string_view absent) {
  if (!Has(o, path)) return std::string(absent);
  return std::to_string(Int(o, path)) + "%";
}

// One metric of formatHPAMetrics: "<current>/<target>" with "(avg)" and "name: " decorations.
std::string FormatMetric(const json::object& spec, const json::object* status) {
  const std::string type = Str(spec, "type");
  auto cur = [&](std::string_view path) -> std::string {
    if (status == nullptr || !Has(*status, path)) return "<unknown>";
    return QuantityString(At(*status, path));
  };
  if (type == "External" || type == "Object") {
    const std::string src = type == "External" ? "external" : "object";
    if (Has(spec, src + ".target.averageValue")) {
      return cur(src + ".current.averageValue") + "/" +
             QuantityString(At(spec, src + ".target.averageValue")) + " (avg)";
    }
    std::string current = status != nullptr && Has(*status, src)
                              ? QuantityString(At(*status, src + ".current.value"))
                              : "<unknown>";
    return current + "/" + QuantityString(At(spec, src + ".target.value"));
  }
  if (type == "Pods") {
    std::string current = status != nullptr && Has(*status, "pods")
                              ? QuantityString(At(*status, "pods.current.averageValue"))
                              : "<unknown>";
    return current + "/" + QuantityString(At(spec, "pods.target.averageValue"));
  }
  if (type == "Resource" || type == "ContainerResource") {
    const std::string src = type == "Resource" ? "resource" : "containerResource";
    const std::string name = Str(spec, src + ".name");
    const std::string prefix = name + ": ";  // upstream omits the container's name
    if (Has(spec, src + ".target.averageValue")) {
      std::string current = status != nullptr && Has(*status, src)
                                ? QuantityString(At(*status, src + ".current.averageValue"))
                                : "<unknown>";
      return prefix + current + "/" + QuantityString(At(spec, src + ".target.averageValue"));
    }
    std::string current = status != nullptr && Has(*status, src)
                              ? Percent(*status, src + ".current.averageUtilization", "<unknown>")
                              : "<unknown>";
    return prefix + current + "/" + Percent(spec, src + ".target.averageUtilization", "<auto>");
  }
  return "<unknown type>";
}

value HpaTargets(const RowContext& r) {
  std::vector<std::string> list;
  if (Has(r.obj, "spec.metrics") || !Has(r.obj, "spec.targetCPUUtilizationPercentage")) {
    // autoscaling/v2. Upstream's v2 defaulting gives a metric-less HPA 80% CPU utilization.
    const json::array& specs = Arr(r.obj, "spec.metrics");
    const json::array& statuses = Arr(r.obj, "status.currentMetrics");
    if (specs.empty() && Str(r.obj, "apiVersion") == "autoscaling/v2") {
      json::object def{
          {"type", "Resource"},
          {"resource",
           {{"name", "cpu"}, {"target", {{"type", "Utilization"}, {"averageUtilization", 80}}}}}};
      list.push_back(FormatMetric(def, statuses.empty() ? nullptr : &AsObj(statuses[0])));
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      list.push_back(
          FormatMetric(AsObj(specs[i]), i < statuses.size() ? &AsObj(statuses[i]) : nullptr));
    }
  } else {
    // autoscaling/v1: one CPU utilization target.
    std::string current = Percent(r.obj, "status.currentCPUUtilizationPercentage", "<unknown>");
    list.push_back("cpu: " + current + "/" +
                   Percent(r.obj, "spec.targetCPUUtilizationPercentage", "<auto>"));
  }
  if (list.empty()) return value("<none>");
  constexpr size_t kMax = 2;
  if (list.size() > kMax) {
    size_t more = list.size() - kMax;
    list.resize(kMax);
    return value(Join(list, ", ") + " + " + std::to_string(more) + " more...");
  }
  return value(Join(list, ", "));
}

value HpaMinPods(const RowContext& r) {
  if (!Has(r.obj, "spec.minReplicas")) return value("<unset>");
  return value(std::to_string(Int(r.obj, "spec.minReplicas")));
}
value HpaMaxPods(const RowContext& r) { return IntCell(r, "spec.maxReplicas"); }
value HpaReplicas(const RowContext& r) { return IntCell(r, "status.currentReplicas"); }

}  // namespace

std::vector<PrinterEntry> WorkloadPrinters() {
  return {
      {"template.containers", TemplateContainers},
      {"template.images", TemplateImages},
      {"selector", Selector},
      {"deployment.ready", DeploymentReady},
      {"deployment.up_to_date", DeploymentUpToDate},
      {"deployment.available", DeploymentAvailable},
      {"replicaset.desired", ReplicaSetDesired},
      {"replicaset.current", ReplicaSetCurrent},
      {"replicaset.ready", ReplicaSetReady},
      {"daemonset.desired", DaemonSetDesired},
      {"daemonset.current", DaemonSetCurrent},
      {"daemonset.ready", DaemonSetReady},
      {"daemonset.up_to_date", DaemonSetUpToDate},
      {"daemonset.available", DaemonSetAvailable},
      {"daemonset.node_selector", DaemonSetNodeSelector},
      {"statefulset.ready", StatefulSetReady},
      {"controllerrevision.controller", ControllerRevisionController},
      {"controllerrevision.revision", ControllerRevisionRevision},
      {"job.status", JobStatus},
      {"job.completions", JobCompletions},
      {"job.duration", JobDuration},
      {"cronjob.schedule", CronJobSchedule},
      {"cronjob.timezone", CronJobTimezone},
      {"cronjob.suspend", CronJobSuspend},
      {"cronjob.active", CronJobActive},
      {"cronjob.last_schedule", CronJobLastSchedule},
      {"cronjob.containers", CronJobContainers},
      {"cronjob.images", CronJobImages},
      {"cronjob.selector", CronJobSelector},
      {"hpa.reference", HpaReference},
      {"hpa.targets", HpaTargets},
      {"hpa.min_pods", HpaMinPods},
      {"hpa.max_pods", HpaMaxPods},
      {"hpa.replicas", HpaReplicas},
  };
}

}  // namespace mini8s::api::table
