#include "mini8s/api/table.h"

#include <chrono>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/registry.h"
#include "unit/api_table/table_test_util.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;
using testing::Cell;
using testing::Kind;
using testing::Now;
using testing::RowJson;
using namespace std::chrono_literals;

constexpr std::string_view kRunningPod = R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "x", "namespace": "default", "uid": "u1", "resourceVersion": "500",
               "creationTimestamp": "2026-01-01T11:55:00Z", "labels": {"app": "x"}},
  "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "nginx"}]},
  "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
             "conditions": [{"type": "Ready", "status": "True"}],
             "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0,
                                    "state": {"running": {"startedAt": "2026-01-01T11:55:01Z"}}}]}
})";

TEST_CASE("Table: a pod list renders upstream's columns, cells and PartialObjectMetadata rows",
          "[api_table][unit]") {
  KindInfoConstSharedPtr pods = Kind("", "v1", "Pod");
  json::value pod = json::parse(kRunningPod);
  TableOptions opts;
  opts.now = Now();
  json::object t = BuildTable(*pods, {&pod.as_object()}, opts, "1001", "c1");

  CHECK(t.at("kind") == "Table");
  CHECK(t.at("apiVersion") == "meta.k8s.io/v1");
  CHECK(json::serialize(t.at("metadata")) == R"({"resourceVersion":"1001","continue":"c1"})");
  const json::array& defs = t.at("columnDefinitions").as_array();
  std::vector<std::string> names;
  for (const json::value& d : defs) names.emplace_back(d.at("name").as_string());
  CHECK(names == std::vector<std::string>{"Name", "Ready", "Status", "Restarts", "Age", "IP",
                                          "Node", "Nominated Node", "Readiness Gates"});
  CHECK(defs[0].at("format") == "name");
  CHECK(defs[1].at("format") == "");
  CHECK(defs[0].at("priority") == 0);
  CHECK(defs[5].at("priority") == 1);
  CHECK(defs[0].as_object().contains("description"));

  const json::array& rows = t.at("rows").as_array();
  REQUIRE(rows.size() == 1);
  CHECK(json::serialize(rows[0].at("cells")) ==
        R"(["x","1/1","Running","0","5m","10.0.0.5","node1","<none>","<none>"])");
  const json::object& object = rows[0].at("object").as_object();
  CHECK(object.at("kind") == "PartialObjectMetadata");
  CHECK(object.at("apiVersion") == "meta.k8s.io/v1");
  CHECK(object.at("metadata") == pod.at("metadata"));
  CHECK(!object.contains("spec"));
}

TEST_CASE("Table: includeObject None gives a null object and Object the whole object",
          "[api_table][unit]") {
  KindInfoConstSharedPtr pods = Kind("", "v1", "Pod");
  json::value pod = json::parse(kRunningPod);
  TableOptions opts;
  opts.now = Now();
  opts.include_object = TableOptions::IncludeObject::kNone;
  json::object none = BuildTable(*pods, {&pod.as_object()}, opts);
  CHECK(none.at("rows").as_array()[0].at("object").is_null());

  opts.include_object = TableOptions::IncludeObject::kObject;
  json::object full = BuildTable(*pods, {&pod.as_object()}, opts);
  CHECK(full.at("rows").as_array()[0].at("object") == pod);
}

TEST_CASE("Table: noHeaders nulls the column definitions; empty list metadata stays empty",
          "[api_table][unit]") {
  KindInfoConstSharedPtr pods = Kind("", "v1", "Pod");
  TableOptions opts;
  opts.now = Now();
  opts.no_headers = true;
  json::object t = BuildTable(*pods, {}, opts);
  CHECK(t.at("columnDefinitions").is_null());
  CHECK(t.at("rows").as_array().empty());
  CHECK(t.at("metadata").as_object().empty());
}

TEST_CASE("Table: every cell printer the registry names is implemented", "[api_table][unit]") {
  size_t checked = 0;
  for (const KindInfoConstSharedPtr& k : testing::SharedRegistry()->Kinds()) {
    for (const TableColumn& col : k->columns) {
      if (col.printer.empty()) continue;
      INFO(k->ApiVersion() << " " << k->kind << " column " << col.name);
      CHECK(HasCellPrinter(col.printer));
      ++checked;
    }
  }
  CHECK(checked > 150);
  CHECK_FALSE(HasCellPrinter("pod.no_such_cell"));
}

TEST_CASE("Table: every built-in kind renders a row of the right width from an empty object",
          "[api_table][unit]") {
  // Printers must tolerate missing fields the way upstream's typed zero values do.
  json::object empty;
  for (const KindInfoConstSharedPtr& k : testing::SharedRegistry()->Kinds()) {
    INFO(k->ApiVersion() << " " << k->kind);
    std::vector<json::value> cells = RowCells(*k, empty, Now());
    CHECK(cells.size() == k->columns.size());
  }
}

TEST_CASE("Table: kinds without upstream printers show Name and an RFC 3339 Created At",
          "[api_table][unit]") {
  KindInfoConstSharedPtr lr = Kind("", "v1", "LimitRange");
  CHECK(RowJson(*lr, R"({"metadata":{"name":"l","creationTimestamp":"2025-03-04T05:06:07Z"}})") ==
        R"(["l","2025-03-04T05:06:07Z"])");
  CHECK(lr->columns[1].type == "date");
  KindInfoConstSharedPtr role = Kind("rbac.authorization.k8s.io", "v1", "Role");
  CHECK(RowJson(*role, R"({"metadata":{"name":"r"}})") == R"(["r","0001-01-01T00:00:00Z"])");
}

TEST_CASE("Table: AGE is upstream's HumanDuration at every boundary", "[api_table][unit]") {
  struct Case {
    std::chrono::nanoseconds d;
    const char* want;
  };
  using std::chrono::days;
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  const Case cases[] = {
      {-2s, "<invalid>"},    {-1500ms, "0s"},
      {-1s, "0s"},           {0s, "0s"},
      {999ms, "0s"},         {5s, "5s"},
      {119s, "119s"},        {120s, "2m"},
      {182s, "3m2s"},        {599s, "9m59s"},
      {600s, "10m"},         {179min + 59s, "179m"},
      {180min, "3h"},        {3h + 5min, "3h5m"},
      {7h + 59min, "7h59m"}, {8h, "8h"},
      {47h, "47h"},          {48h, "2d"},
      {51h, "2d3h"},         {days(7) + hours(23), "7d23h"},
      {days(8), "8d"},       {days(45), "45d"},
      {days(729), "729d"},   {days(730), "2y"},
      {days(740), "2y10d"},  {days(365 * 8 - 1), "7y364d"},
      {days(365 * 8), "8y"}, {days(365 * 20 + 100), "20y"},
  };
  for (const Case& c : cases) {
    INFO(c.d.count() << "ns");
    CHECK(HumanDuration(c.d) == c.want);
  }
}

TEST_CASE("Table: an unset or unparsable creationTimestamp ages as <unknown>",
          "[api_table][unit]") {
  KindInfoConstSharedPtr cm = Kind("", "v1", "ConfigMap");
  CHECK(Cell(*cm, R"({"metadata":{"name":"a"}})", "Age") == "<unknown>");
  CHECK(Cell(*cm, R"({"metadata":{"name":"a","creationTimestamp":"garbage"}})", "Age") ==
        "<unknown>");
  CHECK(Cell(*cm, R"({"metadata":{"name":"a","creationTimestamp":"2024-01-01T12:00:00Z"}})",
             "Age") == "2y1d");
}

TEST_CASE("Table: JSONPath handles fields, indexes, filters and quoted keys", "[api_table][unit]") {
  json::value doc = json::parse(R"({
    "spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 443}]},
    "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
    "status": {"conditions": [{"type": "Synced", "status": "False"},
                              {"type": "Ready", "status": "True", "n": 2}]}})");
  auto eval = [&](std::string_view p) -> std::string {
    const json::value* v = EvalJsonPath(doc, p);
    return v == nullptr ? "<nil>" : json::serialize(*v);
  };
  CHECK(eval(".spec.replicas") == "3");
  CHECK(eval("{.spec.replicas}") == "3");
  CHECK(eval("spec.replicas") == "3");
  CHECK(eval(".spec.ports[1].port") == "443");
  CHECK(eval(".spec.ports[-1].port") == "443");
  CHECK(eval(".spec.ports[2].port") == "<nil>");
  CHECK(eval(".spec.ports[*].port") == "80");
  CHECK(eval(R"(.status.conditions[?(@.type=="Ready")].status)") == R"("True")");
  CHECK(eval(R"(.status.conditions[?(@.type=='Synced')].status)") == R"("False")");
  CHECK(eval(R"(.status.conditions[?(@.type!="Synced")].type)") == R"("Ready")");
  CHECK(eval(R"(.status.conditions[?(@.n==2)].type)") == R"("Ready")");
  CHECK(eval(R"(.status.conditions[?(@.type=="Nope")].status)") == "<nil>");
  CHECK(eval(R"(.metadata.labels['app.kubernetes.io/name'])") == R"("web")");
  CHECK(eval(R"(.metadata.labels.app\.kubernetes\.io/name)") == R"("web")");
  CHECK(eval(".spec.missing.deeper") == "<nil>");
  CHECK(eval(".spec.replicas[") == "<nil>");
  CHECK(eval("..replicas") == "<nil>");
}

json::value CrdWithColumns(bool with_columns) {
  std::string columns = with_columns ? R"(,
        "additionalPrinterColumns": [
          {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
          {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
          {"name": "Ready", "type": "string",
           "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
          {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
          {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
          {"name": "Tags", "type": "string", "jsonPath": ".spec.tags"},
          {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"},
          {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}])"
                                     : "";
  std::string plural = with_columns ? "widgets" : "gadgets";
  std::string kind = with_columns ? "Widget" : "Gadget";
  return json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": ")" +
                     plural + R"(.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
      "names": {"plural": ")" +
                     plural + R"(", "singular": "x", "kind": ")" + kind + R"("},
      "versions": [{"name": "v1", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object",
                   "x-kubernetes-preserve-unknown-fields": true}})" +
                     columns + "}]}}");
}

TEST_CASE("Table: CRD printer columns follow upstream's custom resource table convertor",
          "[api_table][unit]") {
  std::shared_ptr<Registry> reg = Registry::NewBuiltin();
  REQUIRE(reg->AddCustomResource(CrdWithColumns(true)).ok());
  KindInfoConstSharedPtr k = reg->FindKind("example.com", "v1", "Widget");
  REQUIRE(k != nullptr);
  constexpr std::string_view kObj = R"({"apiVersion":"example.com/v1","kind":"Widget",
    "metadata":{"name":"w","creationTimestamp":"2026-01-01T11:00:00Z"},
    "spec":{"cronSpec":"* * * * */5","replicas":2.0,"ratio":1,"paused":false,
            "tags":["a","b"]},
    "status":{"conditions":[{"type":"Ready","status":"True"}],
              "startedAt":"2026-01-01T11:59:30Z"}})";
  CHECK(RowJson(*k, kObj) ==
        R"(["w","* * * * */5",2,"True",1E0,false,"[\"a\",\"b\"]","30s","60m"])");
  // Missing values are null cells; wrong types too, except that "string" prints anything.
  CHECK(RowJson(*k, R"({"metadata":{"name":"w"},"spec":{"replicas":"two","cronSpec":5,
                        "paused":"yes"},"status":{"startedAt":"yesterday"}})") ==
        R"(["w","5",null,null,null,null,null,"<invalid>",null])");

  TableOptions opts;
  opts.now = Now();
  json::value obj = json::parse(kObj);
  json::object t = BuildTable(*k, {&obj.as_object()}, opts);
  const json::array& defs = t.at("columnDefinitions").as_array();
  REQUIRE(defs.size() == 9);
  CHECK(defs[4].at("name") == "Ratio");
  CHECK(defs[4].at("type") == "number");
  CHECK(defs[4].at("priority") == 1);
}

TEST_CASE("Table: a CRD without printer columns shows Name and Age", "[api_table][unit]") {
  std::shared_ptr<Registry> reg = Registry::NewBuiltin();
  REQUIRE(reg->AddCustomResource(CrdWithColumns(false)).ok());
  KindInfoConstSharedPtr k = reg->FindKind("example.com", "v1", "Gadget");
  REQUIRE(k != nullptr);
  CHECK(RowJson(*k, R"({"metadata":{"name":"g","creationTimestamp":"2025-12-30T12:00:00Z"}})") ==
        R"(["g","2d"])");
}

}  // namespace
}  // namespace mini8s::api
