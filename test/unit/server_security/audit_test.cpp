// The audit log: policy matching as upstream's checker, event shape, and the rotating writer.

#include "mini8s/server/audit.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/common/json.h"
#include "testutil/fake_clock.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

const char* kPolicy = R"(
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
  - level: None
    nonResourceURLs: ["/healthz*", "/version"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
  - level: Request
    resources:
      - group: ""
        resources: ["pods/log", "pods/status"]
  - level: RequestResponse
    userGroups: ["auditors"]
    namespaces: ["audited"]
    omitStages: ["ResponseStarted"]
  - level: Request
    resources:
      - group: "apps"
        resources: ["deployments"]
        resourceNames: ["web"]
  - level: Metadata
    resources:
      - group: "apps"
        resources: ["*/scale"]
  - level: None
    resources:
      - group: "apps"
)";

UserInfo User(std::string name, std::vector<std::string> groups = {}) {
  return UserInfo{std::move(name), "", std::move(groups)};
}

AuditAttributes Res(const UserInfo& u, std::string verb, std::string group, std::string resource,
                    std::string ns = "", std::string name = "", std::string sub = "") {
  AuditAttributes a;
  a.user = &u;
  a.verb = std::move(verb);
  a.resource_request = true;
  a.api_group = std::move(group);
  a.resource = std::move(resource);
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  a.subresource = std::move(sub);
  return a;
}

AuditAttributes NonRes(const UserInfo& u, std::string path) {
  AuditAttributes a;
  a.user = &u;
  a.verb = "get";
  a.path = std::move(path);
  return a;
}

std::vector<json::object> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json::object> out;
  std::string line;
  while (std::getline(in, line)) {
    auto v = ParseJson(line);
    REQUIRE(v.ok());
    out.push_back(v->as_object());
  }
  return out;
}

TEST_CASE("audit: policy rules match as upstream's checker, first match wins", "[audit][unit]") {
  auto p = AuditPolicy::Parse(kPolicy);
  REQUIRE(p.ok());
  const UserInfo proxy = User("system:kube-proxy");
  const UserInfo admin = User("admin", {"system:masters"});
  const UserInfo auditor = User("ann", {"auditors"});
  CHECK(p->Evaluate(Res(proxy, "watch", "", "endpoints")).level == AuditLevel::kNone);
  CHECK(p->Evaluate(NonRes(admin, "/healthz/etcd")).level == AuditLevel::kNone);
  CHECK(p->Evaluate(NonRes(admin, "/version")).level == AuditLevel::kNone);
  CHECK(p->Evaluate(NonRes(admin, "/versionx")).level == AuditLevel::kNone);  // no rule: None
  CHECK(p->Evaluate(Res(admin, "get", "", "secrets", "default", "s")).level ==
        AuditLevel::kMetadata);
  // "pods/log" matches only that subresource; plain pods match nothing here.
  CHECK(p->Evaluate(Res(admin, "get", "", "pods", "default", "p", "log")).level ==
        AuditLevel::kRequest);
  CHECK(p->Evaluate(Res(admin, "get", "", "pods", "default", "p")).level == AuditLevel::kNone);
  // userGroups + namespaces.
  auto d = p->Evaluate(Res(auditor, "create", "", "pods", "audited"));
  CHECK(d.level == AuditLevel::kRequestResponse);
  CHECK(d.Omits(AuditStage::kRequestReceived));  // the policy's omitStages still apply
  CHECK(d.Omits(AuditStage::kResponseStarted));
  CHECK_FALSE(d.Omits(AuditStage::kResponseComplete));
  CHECK(p->Evaluate(Res(auditor, "create", "", "pods", "other")).level == AuditLevel::kNone);
  CHECK(p->Evaluate(NonRes(auditor, "/metrics")).level == AuditLevel::kNone);
  // resourceNames, then */scale, then the group-wide None.
  CHECK(p->Evaluate(Res(admin, "update", "apps", "deployments", "default", "web")).level ==
        AuditLevel::kRequest);
  CHECK(p->Evaluate(Res(admin, "update", "apps", "deployments", "default", "api")).level ==
        AuditLevel::kNone);
  CHECK(p->Evaluate(Res(admin, "update", "apps", "deployments", "default", "api", "scale")).level ==
        AuditLevel::kMetadata);
  CHECK(p->Evaluate(Res(admin, "get", "", "configmaps", "kube-system", "x")).level ==
        AuditLevel::kMetadata);
}

TEST_CASE("audit: bad policies are rejected with the reason", "[audit][unit]") {
  auto bad_level = AuditPolicy::Parse(
      "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
      "- level: Everything\n");
  REQUIRE_FALSE(bad_level.ok());
  CHECK(bad_level.error().message().find("Everything") != std::string::npos);
  CHECK_FALSE(AuditPolicy::Parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
                                 "- level: None\n  omitStages: [Sometime]\n")
                  .ok());
  CHECK_FALSE(AuditPolicy::Parse("apiVersion: v1\nkind: ConfigMap\n").ok());
  CHECK_FALSE(AuditPolicy::Parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
                                 "- level: None\n  nonResourceURLs: ['/x']\n"
                                 "  resources: [{group: ''}]\n")
                  .ok());
  CHECK(AuditPolicy::MetadataForAll().Evaluate(NonRes(User("u"), "/x")).level ==
        AuditLevel::kMetadata);
}

TEST_CASE("audit: events have upstream's shape and secret data stays out at Metadata",
          "[audit][unit]") {
  testutil::TempDir dir;
  const std::string log = dir.File("audit.log");
  auto w = AuditLogWriter::Open(AuditLogOptions{log});
  REQUIRE(w.ok());
  auto policy = AuditPolicy::Parse(R"(
apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
- level: Metadata
  resources: [{group: "", resources: ["secrets"]}]
- level: RequestResponse
)");
  REQUIRE(policy.ok());
  testutil::FakeClock clock;
  Auditor auditor(std::move(*policy), std::move(*w), clock);
  const UserInfo admin{"admin", "u-1", {"system:masters", "system:authenticated"}};
  const UserInfo bob{"bob", "", {"devs"}};

  http::HttpRequest req;
  req.method = "POST";
  req.target = "/api/v1/namespaces/default/secrets?fieldManager=kubectl-create";
  req.path = "/api/v1/namespaces/default/secrets";
  req.remote_address = "10.0.0.7:41000";
  req.headers.Set("User-Agent", "kubectl/v1.32.0");
  req.headers.Set("X-Forwarded-For", "192.0.2.1, 10.0.0.7");
  req.body = R"({"kind":"Secret","metadata":{"name":"s"},"data":{"password":"U1VQRVJTRUNSRVQ="}})";
  auto rec =
      auditor.Begin(req, Res(admin, "create", "", "secrets", "default"), "v1", true, "", &bob);
  REQUIRE(rec);
  CHECK(rec->level() == AuditLevel::kMetadata);
  rec->ResponseComplete(201, R"({"kind":"Secret","data":{"password":"U1VQRVJTRUNSRVQ="}})");

  http::HttpRequest get;
  get.method = "GET";
  get.target = "/api/v1/namespaces/default/pods/missing";
  get.path = get.target;
  auto rec2 = auditor.Begin(get, Res(admin, "get", "", "pods", "default", "missing"), "v1", false,
                            "RBAC: no rule");
  REQUIRE(rec2);
  rec2->ResponseComplete(404, R"({"kind":"Status","apiVersion":"v1","metadata":{},)"
                              R"("status":"Failure","message":"pods \"missing\" not found",)"
                              R"("reason":"NotFound","code":404})");

  http::HttpRequest put;
  put.method = "PUT";
  put.target = "/api/v1/namespaces/default/configmaps/c";
  put.path = put.target;
  put.body = R"({"kind":"ConfigMap","metadata":{"name":"c","managedFields":[{"manager":"m"}]}})";
  auto rec3 =
      auditor.Begin(put, Res(admin, "update", "", "configmaps", "default", "c"), "v1", true, "");
  REQUIRE(rec3);
  rec3->ResponseComplete(200, R"({"kind":"ConfigMap","metadata":{"name":"c","managedFields":[]}})");
  auditor.writer()->Flush();

  const auto lines = ReadLines(log);
  REQUIRE(lines.size() == 6);  // RequestReceived + ResponseComplete each
  const json::object& rr = lines[0];
  CHECK(rr.at("kind") == "Event");
  CHECK(rr.at("apiVersion") == "audit.k8s.io/v1");
  CHECK(rr.at("stage") == "RequestReceived");
  const json::object& e = lines[1];
  CHECK(e.at("stage") == "ResponseComplete");
  CHECK(e.at("level") == "Metadata");
  CHECK(e.at("auditID") == rr.at("auditID"));
  CHECK(e.at("auditID").as_string().size() == 36);
  CHECK(e.at("auditID").as_string() == rec->audit_id().c_str());
  CHECK(e.at("verb") == "create");
  CHECK(e.at("requestURI").as_string() == req.target);
  CHECK(e.at("user").at("username") == "admin");
  CHECK(e.at("user").at("uid") == "u-1");
  CHECK(e.at("impersonatedUser").at("username") == "bob");
  CHECK(e.at("sourceIPs") == json::array{"192.0.2.1", "10.0.0.7"});
  CHECK(e.at("userAgent") == "kubectl/v1.32.0");
  // The create's name comes from the body, as upstream's LogRequestObject completes it.
  CHECK(e.at("objectRef") == json::object{{"resource", "secrets"},
                                          {"namespace", "default"},
                                          {"name", "s"},
                                          {"apiVersion", "v1"}});
  CHECK(e.at("responseStatus") == json::object{{"metadata", json::object()}, {"code", 201}});
  CHECK(e.at("annotations").at("authorization.k8s.io/decision") == "allow");
  CHECK(e.at("requestReceivedTimestamp").as_string().size() ==
        std::string("2026-01-01T00:00:00.000000Z").size());
  CHECK_FALSE(e.contains("requestObject"));
  CHECK_FALSE(e.contains("responseObject"));
  std::ifstream in(log);
  std::stringstream all;
  all << in.rdbuf();
  // Only the Metadata secret event is in the file besides the configmap: no secret data at all.
  CHECK(all.str().find("U1VQRVJTRUNSRVQ=") == std::string::npos);

  const json::object& nf = lines[3];
  CHECK(nf.at("responseStatus").at("code") == 404);
  CHECK(nf.at("responseStatus").at("reason") == "NotFound");
  CHECK(nf.at("responseStatus").at("status") == "Failure");
  CHECK(nf.at("annotations").at("authorization.k8s.io/decision") == "forbid");
  CHECK(nf.at("annotations").at("authorization.k8s.io/reason") == "RBAC: no rule");
  CHECK(nf.at("level") == "RequestResponse");
  CHECK(nf.at("responseObject").at("kind") == "Status");

  const json::object& cm = lines[5];
  CHECK(cm.at("requestObject").at("metadata").as_object().contains("name"));
  CHECK_FALSE(cm.at("requestObject").at("metadata").as_object().contains("managedFields"));
  CHECK_FALSE(cm.at("responseObject").at("metadata").as_object().contains("managedFields"));
}

TEST_CASE(
    "audit: Request level logs the request body (secret data too, as upstream), omitted "
    "stages are not written",
    "[audit][unit]") {
  testutil::TempDir dir;
  const std::string log = dir.File("a.log");
  auto w = AuditLogWriter::Open(AuditLogOptions{log});
  REQUIRE(w.ok());
  auto policy = AuditPolicy::Parse(
      "apiVersion: audit.k8s.io/v1\nkind: Policy\n"
      "omitStages: [RequestReceived]\nrules:\n- level: Request\n");
  REQUIRE(policy.ok());
  Auditor auditor(std::move(*policy), std::move(*w));
  const UserInfo admin{"admin", "", {}};
  http::HttpRequest req;
  req.method = "POST";
  req.target = "/api/v1/namespaces/default/secrets";
  req.path = req.target;
  req.body = "kind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n";
  auto rec = auditor.Begin(req, Res(admin, "create", "", "secrets", "default"), "v1", true, "");
  REQUIRE(rec);
  rec->ResponseComplete(201, R"({"kind":"Secret","stringData":{"password":"hunter2x"}})");
  http::HttpRequest watch;
  watch.method = "GET";
  watch.target = "/api/v1/pods?watch=true";
  watch.path = "/api/v1/pods";
  auto wr = auditor.Begin(watch, Res(admin, "watch", "", "pods"), "v1", true, "");
  REQUIRE(wr);
  wr->ResponseStarted(200);
  auditor.writer()->Flush();
  const auto lines = ReadLines(log);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("stage") == "ResponseComplete");
  CHECK(lines[0].at("requestObject").at("stringData").at("password") == "hunter2");
  CHECK_FALSE(lines[0].contains("responseObject"));  // Request, not RequestResponse
  CHECK(lines[1].at("stage") == "ResponseStarted");
  CHECK(lines[1].at("sourceIPs") == json::array{"127.0.0.1"});  // no peer: in-process
  CHECK(lines[1].at("verb") == "watch");
}

TEST_CASE("audit: the writer rotates by size and keeps maxbackup backups", "[audit][unit]") {
  testutil::TempDir dir;
  const std::string log = dir.File("audit.log");
  AuditLogOptions o;
  o.path = log;
  o.max_backups = 2;
  o.max_size_bytes_for_test = 100;
  auto w = AuditLogWriter::Open(o);
  REQUIRE(w.ok());
  const std::string line(60, 'x');
  for (int i = 0; i < 6; ++i) {
    (*w)->Write(line);
    (*w)->Flush();  // one line per batch, so every rotation happens
  }
  (*w)->Close();
  int backups = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    if (name != "audit.log") {
      CHECK(name.rfind("audit-", 0) == 0);
      CHECK(name.size() > 4);
      CHECK(name.substr(name.size() - 4) == ".log");
      ++backups;
    }
  }
  CHECK(backups == 2);
  CHECK(std::filesystem::file_size(log) == 61);
}

}  // namespace
}  // namespace mini8s::server
