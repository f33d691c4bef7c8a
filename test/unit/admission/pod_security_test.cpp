#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "unit/admission/admission_fixture.h"

namespace mini8s::server {
namespace {

using testing::AdmissionFixture;
using testing::Container;
using testing::Obj;
using testing::Pod;
namespace json = boost::json;

json::object Namespace(std::string_view name, json::object labels) {
  return Obj(
      "v1", "Namespace", "", name,
      json::object{{"metadata", json::object{{"name", name}, {"labels", std::move(labels)}}}});
}

// A pod that meets the restricted level.
json::object RestrictedPod(std::string_view ns, std::string_view name) {
  json::object sc{{"allowPrivilegeEscalation", false},
                  {"runAsNonRoot", true},
                  {"seccompProfile", json::object{{"type", "RuntimeDefault"}}},
                  {"capabilities", json::object{{"drop", json::array{"ALL"}}}}};
  return Pod(ns, name, json::array{Container("c", {{"securityContext", sc}})});
}

std::string Eval(PodSecurityLevel level, const json::object& pod) {
  const json::object* meta = api::Metadata(pod);
  return EvaluatePodSecurity(level, meta ? *meta : json::object(), *api::GetObject(pod, "spec"));
}

TEST_CASE("PodSecurity: an ordinary pod passes baseline and fails restricted with every reason",
          "[admission][unit]") {
  json::object pod = Pod("ns", "p", json::array{Container("c")});
  CHECK(Eval(PodSecurityLevel::kPrivileged, pod).empty());
  CHECK(Eval(PodSecurityLevel::kBaseline, pod).empty());
  CHECK(Eval(PodSecurityLevel::kRestricted, pod) ==
        "allowPrivilegeEscalation != false (container \"c\" must set "
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
        "\"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod "
        "or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or "
        "container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
        "\"Localhost\")");
  CHECK(Eval(PodSecurityLevel::kRestricted, RestrictedPod("ns", "r")).empty());
}

TEST_CASE("PodSecurity: baseline checks in upstream's order and words", "[admission][unit]") {
  json::object sc{
      {"privileged", true},
      {"capabilities", json::object{{"add", json::array{"SYS_ADMIN", "NET_ADMIN", "CHOWN"}}}},
      {"procMount", "Unmasked"},
      {"seLinuxOptions", json::object{{"type", "spc_t"}, {"user", "root"}}},
      {"seccompProfile", json::object{{"type", "Unconfined"}}},
      {"appArmorProfile", json::object{{"type", "Unconfined"}}}};
  json::object c = Container(
      "a", {{"securityContext", sc},
            {"ports", json::array{json::object{{"containerPort", 80}, {"hostPort", 8080}},
                                  json::object{{"containerPort", 443}, {"hostPort", 443}}}}});
  json::object pod = Pod(
      "ns", "p",
      json::array{c, Container("b", {{"securityContext", json::object{{"privileged", true}}}})},
      json::object{
          {"hostNetwork", true},
          {"hostPID", true},
          {"volumes",
           json::array{json::object{{"name", "root"}, {"hostPath", json::object{{"path", "/"}}}}}},
          {"securityContext",
           json::object{
               {"sysctls", json::array{json::object{{"name", "kernel.msgmax"}, {"value", "1"}}}},
               {"windowsOptions", json::object{{"hostProcess", true}}}}}});
  CHECK(
      Eval(PodSecurityLevel::kBaseline, pod) ==
      "forbidden AppArmor profile (container \"a\" must not set AppArmor profile type to "
      "\"Unconfined\"), non-default capabilities (container \"a\" must not include \"NET_ADMIN\", "
      "\"SYS_ADMIN\" in securityContext.capabilities.add), host namespaces (hostNetwork=true, "
      "hostPID=true), hostPath volumes (volume \"root\"), hostPort (container \"a\" uses hostPorts "
      "443, 8080), privileged (containers \"a\", \"b\" must not set "
      "securityContext.privileged=true), "
      "procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\"), "
      "seLinuxOptions (container \"a\" set forbidden securityContext.seLinuxOptions: type "
      "\"spc_t\"; user may not be set), seccompProfile (container \"a\" must not set "
      "securityContext.seccompProfile.type to \"Unconfined\"), forbidden sysctls (kernel.msgmax), "
      "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)");
}

TEST_CASE("PodSecurity: restricted volume types and runAsUser 0", "[admission][unit]") {
  json::object pod = RestrictedPod("ns", "p");
  json::object& spec = api::MutableObjectAt(pod, "spec");
  spec["volumes"] = json::array{
      json::object{{"name", "data"}, {"emptyDir", json::object{}}},
      json::object{{"name", "share"}, {"nfs", json::object{{"server", "x"}, {"path", "/"}}}},
      json::object{{"name", "host"}, {"hostPath", json::object{{"path", "/"}}}}};
  spec["securityContext"] = json::object{{"runAsUser", 0}};
  CHECK(Eval(PodSecurityLevel::kRestricted, pod) ==
        "restricted volume types (volumes \"share\", \"host\" use restricted volume types "
        "\"hostPath\", \"nfs\"), runAsUser=0 (pod must not set runAsUser=0)");
}

TEST_CASE("PodSecurity: enforce refuses pods with upstream's message and warn adds a warning",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "namespaces", "",
        Namespace("locked", {{"pod-security.kubernetes.io/enforce", "restricted"}}));
  f.Put("", "namespaces", "",
        Namespace("warned", {{"pod-security.kubernetes.io/enforce", "baseline"},
                             {"pod-security.kubernetes.io/warn", "restricted"},
                             {"pod-security.kubernetes.io/warn-version", "v1.30"}}));
  f.Put("", "namespaces", "", Namespace("open", {}));
  auto p = NewPodSecurity(f.objects);
  const api::KindInfo& pods = f.Kind("", "v1", "pods");

  json::object priv =
      Pod("locked", "x",
          json::array{Container("c", {{"securityContext", json::object{{"privileged", true}}}})});
  Status s = f.Admit(*p, "CREATE", pods, "locked", &priv);
  CHECK(s.code() == Code::kForbidden);
  CHECK(s.message().rfind(
            "pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": privileged "
            "(container \"c\" must not set securityContext.privileged=true), "
            "allowPrivilegeEscalation != false (container \"c\" must set "
            "securityContext.allowPrivilegeEscalation=false)",
            0) == 0);
  json::object good = RestrictedPod("locked", "good");
  CHECK(f.Admit(*p, "CREATE", pods, "locked", &good).ok());
  CHECK(f.warnings.empty());

  json::object plain = Pod("warned", "plain", json::array{Container("c")});
  REQUIRE(f.Admit(*p, "CREATE", pods, "warned", &plain).ok());
  REQUIRE(f.warnings.size() == 1);
  CHECK(f.warnings[0].rfind(
            "would violate PodSecurity \"restricted:v1.30\": allowPrivilegeEscalation != false",
            0) == 0);
  // baseline enforce still refuses a privileged pod there.
  json::object priv2 =
      Pod("warned", "x",
          json::array{Container("c", {{"securityContext", json::object{{"privileged", true}}}})});
  CHECK(f.Admit(*p, "CREATE", pods, "warned", &priv2)
            .message()
            .find("violates PodSecurity \"baseline:latest\": privileged") != std::string::npos);

  f.warnings.clear();
  CHECK(f.Admit(*p, "CREATE", pods, "open", &priv).ok());
  CHECK(f.warnings.empty());
}

TEST_CASE("PodSecurity: audit mode records annotations for the audit log", "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "namespaces", "",
        Namespace("audited", {{"pod-security.kubernetes.io/audit", "baseline"}}));
  auto p = NewPodSecurity(f.objects);
  json::object pod =
      Pod("audited", "x", json::array{Container("c")}, json::object{{"hostPID", true}});
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("", "v1", "pods"), "audited", &pod).ok());
  CHECK(f.warnings.empty());
  REQUIRE(f.audit.size() == 2);
  CHECK(f.audit[0] == std::make_pair(std::string("pod-security.kubernetes.io/enforce-policy"),
                                     std::string("privileged:latest")));
  CHECK(f.audit[1] == std::make_pair(std::string("pod-security.kubernetes.io/audit-violations"),
                                     std::string("would violate PodSecurity \"baseline:latest\": "
                                                 "host namespaces (hostPID=true)")));
}

TEST_CASE("PodSecurity: workloads are only warned, by their pod template", "[admission][unit]") {
  AdmissionFixture f;
  f.Put("", "namespaces", "",
        Namespace("locked", {{"pod-security.kubernetes.io/enforce", "restricted"}}));
  auto p = NewPodSecurity(f.objects);
  json::object tmpl{
      {"metadata", json::object{{"labels", json::object{{"app", "w"}}}}},
      {"spec",
       json::object{
           {"containers", json::array{Container(
                              "c", {{"securityContext", json::object{{"privileged", true}}}})}}}}};
  json::object deploy = Obj("apps/v1", "Deployment", "locked", "web",
                            json::object{{"spec", json::object{{"template", tmpl}}}});
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("apps", "v1", "deployments"), "locked", &deploy).ok());
  REQUIRE(f.warnings.size() == 1);
  CHECK(f.warnings[0].rfind(
            "would violate PodSecurity \"restricted:latest\": privileged (container \"c\"", 0) ==
        0);
  f.warnings.clear();
  json::object cron =
      Obj("batch/v1", "CronJob", "locked", "nightly",
          json::object{
              {"spec", json::object{{"jobTemplate",
                                     json::object{{"spec", json::object{{"template", tmpl}}}}}}}});
  REQUIRE(f.Admit(*p, "CREATE", f.Kind("batch", "v1", "cronjobs"), "locked", &cron).ok());
  CHECK(f.warnings.size() == 1);
}

TEST_CASE("PodSecurity: tightening a namespace warns about the pods already there",
          "[admission][unit]") {
  AdmissionFixture f;
  f.Put(
      "", "pods", "team",
      Pod("team", "a",
          json::array{Container("c", {{"securityContext", json::object{{"privileged", true}}}})}));
  f.Put(
      "", "pods", "team",
      Pod("team", "b",
          json::array{Container("c", {{"securityContext", json::object{{"privileged", true}}}})}));
  f.Put("", "pods", "team", RestrictedPod("team", "c"));
  auto p = NewPodSecurity(f.objects);
  json::object old = Namespace("team", {});
  json::object now = Namespace("team", {{"pod-security.kubernetes.io/enforce", "baseline"}});
  REQUIRE(f.Admit(*p, "UPDATE", f.Kind("", "v1", "namespaces"), "", &now, &old).ok());
  REQUIRE(f.warnings.size() == 2);
  CHECK(f.warnings[0] ==
        "existing pods in namespace \"team\" violate the new PodSecurity enforce level "
        "\"baseline:latest\"");
  CHECK(f.warnings[1] == "a (and 1 other pod): privileged");
}

}  // namespace
}  // namespace mini8s::server
