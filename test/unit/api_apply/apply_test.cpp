#include "mini8s/api/apply.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "mini8s/api/registry.h"
#include "mini8s/common/json.h"

namespace mini8s::api {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

// Path lookups on an object without copying it into a temporary json::value.
const json::value* Find(const json::object& o, std::string_view path) {
  size_t dot = path.find('.');
  const json::value* v = o.if_contains(path.substr(0, dot));
  if (v == nullptr || dot == std::string_view::npos) return v;
  return JsonFind(*v, path.substr(dot + 1));
}
json::value* Find(json::object& o, std::string_view path) {
  return const_cast<json::value*>(Find(static_cast<const json::object&>(o), path));
}
std::optional<std::string_view> Str(const json::object& o, std::string_view path) {
  const json::value* v = Find(o, path);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}
std::optional<std::string_view> Str(const json::value& v, std::string_view path) {
  return JsonGetString(v, path);
}
std::optional<int64_t> Int(const json::object& o, std::string_view path) {
  const json::value* v = Find(o, path);
  if (v == nullptr) return std::nullopt;
  return JsonGetInt(*v, "");
}
const json::array* Arr(const json::object& o, std::string_view path) {
  const json::value* v = Find(o, path);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

const Schema* SchemaFor(std::string_view group, std::string_view kind) {
  static const std::shared_ptr<Registry> registry = Registry::NewBuiltin();
  auto info = registry->FindKind(group, "v1", kind);
  REQUIRE(info != nullptr);
  return info->schema;
}
const Schema* Deployment() { return SchemaFor("apps", "Deployment"); }

json::object Obj(std::string_view text) {
  auto v = ParseJson(text);
  REQUIRE(v.has_value());
  return v.value().get_object();
}

system_clock::time_point At(int seconds, int millis = 0) {
  // 2026-11-25T20:00:00Z plus the offset.
  return system_clock::time_point(std::chrono::seconds(1795636800 + seconds)) +
         std::chrono::milliseconds(millis);
}

const json::array& Managed(const json::object& obj) {
  const json::array* mf = Arr(obj, "metadata.managedFields");
  REQUIRE(mf != nullptr);
  return *mf;
}

// The entry of `manager` (and operation), or nullptr.
const json::object* Entry(const json::object& obj, std::string_view manager,
                          std::string_view operation) {
  const json::array* mf = Arr(obj, "metadata.managedFields");
  if (mf == nullptr) return nullptr;
  for (const auto& e : *mf) {
    if (Str(e, "manager") == manager && Str(e, "operation") == operation) {
      return &e.get_object();
    }
  }
  return nullptr;
}

std::string Fields(const json::object& obj, std::string_view manager,
                   std::string_view operation = "Apply") {
  const json::object* e = Entry(obj, manager, operation);
  REQUIRE(e != nullptr);
  return SerializeJson(e->at("fieldsV1"));
}

ApplyResult MustApply(const Schema* schema, const json::object* live, std::string_view config,
                      std::string_view manager, int t = 0, bool force = false,
                      std::string_view api_version = "apps/v1") {
  auto r = ServerSideApply(schema, live, Obj(config), manager, force, api_version, At(t));
  if (!r.has_value()) FAIL(r.error().ToString());
  return std::move(r).value();
}

constexpr std::string_view kDeploy = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"x","namespace":"default"},
  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"x"}},
    "template":{"metadata":{"labels":{"app":"x"}},
      "spec":{"containers":[{"env":[{"name":"A","value":"1"}],"image":"nginx:1.3","name":"c",
                             "ports":[{"containerPort":80}]}]}}}})";

TEST_CASE("apply: creating a Deployment records kubectl's Apply entry as upstream encodes it",
          "[api_apply][unit]") {
  ApplyResult r = MustApply(Deployment(), nullptr, kDeploy, "kubectl", 0);
  CHECK(r.changed);
  CHECK(Int(r.object, "spec.replicas") == 2);
  CHECK(Str(r.object, "spec.template.spec.containers[0].image") == "nginx:1.3");
  const json::array& mf = Managed(r.object);
  REQUIRE(mf.size() == 1);
  CHECK(SerializeJson(mf[0]) ==
        R"({"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1",)"
        R"("time":"2026-11-25T20:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{)"
        R"("f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},)"
        R"("f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:env":{"k:{\"name\":\"A\"}":)"
        R"({".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:name":{},"f:ports":{)"
        R"("k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}})");
}

TEST_CASE("apply: timestamps have second precision", "[api_apply][unit]") {
  auto r =
      ServerSideApply(Deployment(), nullptr, Obj(kDeploy), "kubectl", false, "apps/v1", At(5, 987));
  REQUIRE(r.has_value());
  CHECK(Str(Managed(r.value().object)[0], "time") == "2026-11-25T20:00:05Z");
}

TEST_CASE("apply: re-applying the same configuration changes nothing", "[api_apply][unit]") {
  ApplyResult first = MustApply(Deployment(), nullptr, kDeploy, "kubectl", 0);
  ApplyResult again = MustApply(Deployment(), &first.object, kDeploy, "kubectl", 60);
  CHECK_FALSE(again.changed);
  CHECK(again.object == first.object);  // including the entry's time
}

TEST_CASE("apply: changing a field updates the object and the entry's time", "[api_apply][unit]") {
  ApplyResult first = MustApply(Deployment(), nullptr, kDeploy, "kubectl", 0);
  std::string changed(kDeploy);
  changed.replace(changed.find("\"replicas\":2"), 12, "\"replicas\":5");
  ApplyResult r = MustApply(Deployment(), &first.object, changed, "kubectl", 60);
  CHECK(r.changed);
  CHECK(Int(r.object, "spec.replicas") == 5);
  CHECK(Str(Managed(r.object)[0], "time") == "2026-11-25T20:01:00Z");
  CHECK(Fields(r.object, "kubectl") == Fields(first.object, "kubectl"));
}

// A Deployment created by `kubectl apply` (client-side): kubectl-client-side-apply owns it all.
json::object CreatedClientSide() {
  json::object obj = Obj(kDeploy);
  Status st = UpdateManagedFields(Deployment(), nullptr, obj, "kubectl-client-side-apply",
                                  "apps/v1", At(0));
  REQUIRE(st.ok());
  return obj;
}

TEST_CASE("apply: changing a field another manager owns is a conflict with upstream's message",
          "[api_apply][unit]") {
  json::object live = CreatedClientSide();
  std::vector<FieldManagerConflict> conflicts;
  auto r = ServerSideApply(Deployment(), &live, Obj(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":3}})"),
                           "kubectl", false, "apps/v1", At(10), "", &conflicts);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Code::kConflict);
  CHECK(r.error().message() ==
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using "
        "apps/v1: .spec.replicas");
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].field == ".spec.replicas");
  CHECK(
      SerializeJson(FieldManagerConflictCauses(conflicts)) ==
      R"([{"reason":"FieldManagerConflict","message":"conflict with \"kubectl-client-side-apply\" using apps/v1","field":".spec.replicas"}])");
}

TEST_CASE("apply: several conflicts are listed by manager", "[api_apply][unit]") {
  json::object live = CreatedClientSide();
  auto r = ServerSideApply(Deployment(), &live, Obj(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":3,
      "template":{"spec":{"containers":[{"name":"c","image":"nginx:2"}]}}}})"),
                           "kubectl", false, "apps/v1", At(10));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() ==
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using "
        "apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image");
}

TEST_CASE("apply: force takes ownership from the other manager", "[api_apply][unit]") {
  json::object live = CreatedClientSide();
  ApplyResult r = MustApply(Deployment(), &live, R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"x"},"spec":{"replicas":3}})",
                            "kubectl", 10, /*force=*/true);
  CHECK(Int(r.object, "spec.replicas") == 3);
  CHECK(Fields(r.object, "kubectl") == R"({"f:spec":{"f:replicas":{}}})");
  CHECK(Fields(r.object, "kubectl-client-side-apply", "Update").find("f:replicas") ==
        std::string::npos);
  CHECK(Fields(r.object, "kubectl-client-side-apply", "Update").find("f:selector") !=
        std::string::npos);
  // Apply entries come before Update entries.
  CHECK(Str(Managed(r.object)[0], "operation") == "Apply");
}

TEST_CASE("apply: applying the same value as another manager shares the field",
          "[api_apply][unit]") {
  constexpr std::string_view kOne = R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"m"},"data":{"a":"1","b":"2"}})";
  constexpr std::string_view kTwo = R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"m"},"data":{"a":"1"}})";
  const Schema* cm = SchemaFor("", "ConfigMap");
  ApplyResult one = MustApply(cm, nullptr, kOne, "one", 0, false, "v1");
  ApplyResult two = MustApply(cm, &one.object, kTwo, "two", 1, false, "v1");
  CHECK_FALSE(two.changed);
  CHECK(Fields(two.object, "two") == R"({"f:data":{"f:a":{}}})");

  // "one" stops applying both keys: "b" was its alone and goes, "a" is shared and stays.
  ApplyResult three = MustApply(cm, &two.object, R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"m"}})",
                                "one", 2, false, "v1");
  CHECK(SerializeJson(three.object.at("data")) == R"({"a":"1"})");
  CHECK(Entry(three.object, "one", "Apply") == nullptr);
  CHECK(Fields(three.object, "two") == R"({"f:data":{"f:a":{}}})");
}

TEST_CASE("apply: containers merge by name and a dropped container is removed",
          "[api_apply][unit]") {
  const Schema* pod = SchemaFor("", "Pod");
  ApplyResult a = MustApply(pod, nullptr, R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i1"}]}})",
                            "a", 0, false, "v1");
  ApplyResult b = MustApply(pod, &a.object, R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"d","image":"i2"}]}})",
                            "b", 1, false, "v1");
  const json::array* cs = Arr(b.object, "spec.containers");
  REQUIRE(cs != nullptr);
  REQUIRE(cs->size() == 2);
  CHECK(Str((*cs)[0], "name") == "c");
  CHECK(Str((*cs)[1], "name") == "d");

  ApplyResult a2 = MustApply(pod, &b.object, R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"e","image":"i3"}]}})",
                             "a", 2, false, "v1");
  cs = Arr(a2.object, "spec.containers");
  REQUIRE(cs != nullptr);
  REQUIRE(cs->size() == 2);
  CHECK(Str((*cs)[0], "name") == "d");
  CHECK(Str((*cs)[1], "name") == "e");
}

TEST_CASE("apply: ports are keyed by containerPort and protocol", "[api_apply][unit]") {
  const Schema* pod = SchemaFor("", "Pod");
  ApplyResult r = MustApply(pod, nullptr, R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i",
      "ports":[{"containerPort":53,"protocol":"UDP"},{"containerPort":53}]}]}})",
                            "a", 0, false, "v1");
  CHECK(Arr(r.object, "spec.containers[0].ports")->size() == 2);
  std::string f = Fields(r.object, "a");
  CHECK(f.find(R"(k:{\"containerPort\":53,\"protocol\":\"TCP\"})") != std::string::npos);
  CHECK(f.find(R"(k:{\"containerPort\":53,\"protocol\":\"UDP\"})") != std::string::npos);

  auto dup = ServerSideApply(pod, nullptr, Obj(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"c"},{"name":"c"}]}})"),
                             "a", false, "v1", At(0));
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().code() == Code::kBadRequest);
  CHECK(dup.error().message().find("duplicate entries for key [name=\"c\"]") != std::string::npos);
}

TEST_CASE("apply: a list item without its key is a bad request", "[api_apply][unit]") {
  auto r = ServerSideApply(Deployment(), nullptr, Obj(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x","namespace":"default"},
      "spec":{"template":{"spec":{"containers":[{"image":"i"}]}}}})"),
                           "kubectl", false, "apps/v1", At(0));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Code::kBadRequest);
  CHECK(r.error().message() ==
        "failed to create typed patch object (default/x; apps/v1, Kind=Deployment): "
        ".spec.template.spec.containers: element 0: associative list with keys has an element "
        "that omits key field \"name\" (and doesn't have default value)");
}

TEST_CASE("apply: finalizers are a set owned item by item", "[api_apply][unit]") {
  const Schema* cm = SchemaFor("", "ConfigMap");
  ApplyResult a = MustApply(cm, nullptr, R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"m","finalizers":["x/a"]}})",
                            "a", 0, false, "v1");
  ApplyResult b = MustApply(cm, &a.object, R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"m","finalizers":["x/b"]}})",
                            "b", 1, false, "v1");
  CHECK(SerializeJson(*Find(b.object, "metadata.finalizers")) == R"(["x/a","x/b"])");
  CHECK(Fields(b.object, "b") == R"({"f:metadata":{"f:finalizers":{"v:\"x/b\"":{}}}})");
  ApplyResult a2 = MustApply(cm, &b.object, R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"m"}})",
                             "a", 2, false, "v1");
  CHECK(SerializeJson(*Find(a2.object, "metadata.finalizers")) == R"(["x/b"])");
}

TEST_CASE("apply: atomic lists are replaced and owned as a whole", "[api_apply][unit]") {
  const Schema* pod = SchemaFor("", "Pod");
  ApplyResult a = MustApply(pod, nullptr, R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"c","args":["1","2"]}]}})",
                            "a", 0, false, "v1");
  CHECK(Fields(a.object, "a").find(R"("f:args":{})") != std::string::npos);
  auto b = ServerSideApply(pod, &a.object, Obj(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"c","args":["3"]}]}})"),
                           "b", false, "v1", At(1));
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().message() ==
        "Apply failed with 1 conflict: conflict with \"a\": "
        ".spec.containers[name=\"c\"].args");
  ApplyResult own = MustApply(pod, &a.object, R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"c","args":["3"]}]}})",
                              "a", 1, false, "v1");
  CHECK(SerializeJson(*Find(own.object, "spec.containers[0].args")) == R"(["3"])");
}

TEST_CASE("apply: granular maps merge by key, atomic maps are one field", "[api_apply][unit]") {
  ApplyResult a = MustApply(Deployment(), nullptr, kDeploy, "a", 0);
  ApplyResult b = MustApply(Deployment(), &a.object, R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x","labels":{"team":"t"}},
      "spec":{"template":{"metadata":{"labels":{"tier":"web"}}}}})",
                            "b", 1);
  CHECK(SerializeJson(*Find(b.object, "spec.template.metadata.labels")) ==
        R"({"app":"x","tier":"web"})");
  // The selector is atomic: a different matchLabels is a conflict on .spec.selector itself.
  auto c = ServerSideApply(Deployment(), &b.object, Obj(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x"},
      "spec":{"selector":{"matchLabels":{"app":"x","tier":"web"}}}})"),
                           "b", false, "apps/v1", At(2));
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().message() == "Apply failed with 1 conflict: conflict with \"a\": .spec.selector");
}

TEST_CASE("apply: a patch with managedFields or another apiVersion is a bad request",
          "[api_apply][unit]") {
  auto r =
      ServerSideApply(Deployment(), nullptr, Obj(R"({"apiVersion":"apps/v1","kind":"Deployment",
                               "metadata":{"name":"x","managedFields":[]}})"),
                      "k", false, "apps/v1", At(0));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() == "metadata.managedFields must be nil");
  r = ServerSideApply(Deployment(), nullptr,
                      Obj(R"({"apiVersion":"apps/v1beta1","kind":"Deployment"})"), "k", false,
                      "apps/v1", At(0));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Code::kBadRequest);
  CHECK(r.error().message() ==
        "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, "
        "expected: apps/v1");
}

TEST_CASE("apply: status is not owned through the main resource", "[api_apply][unit]") {
  ApplyResult r = MustApply(Deployment(), nullptr, R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":1},
      "status":{"replicas":4}})",
                            "a", 0);
  CHECK(Fields(r.object, "a") == R"({"f:spec":{"f:replicas":{}}})");
}

TEST_CASE("apply: fields of an untracked object belong to before-first-apply",
          "[api_apply][unit]") {
  json::object live = Obj(kDeploy);  // never tracked: no managedFields
  auto r = ServerSideApply(Deployment(), &live, Obj(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":7}})"),
                           "kubectl", false, "apps/v1", At(0));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() ==
        "Apply failed with 1 conflict: conflict with "
        "\"before-first-apply\" using apps/v1: .spec.replicas");
}

TEST_CASE("update: create records kubectl-create's fields as upstream does", "[api_apply][unit]") {
  json::object obj = CreatedClientSide();
  CHECK(Fields(obj, "kubectl-client-side-apply", "Update") ==
        R"({"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":)"
        R"({".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},)"
        R"("f:env":{".":{},"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}},)"
        R"("f:image":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,)"
        R"(\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}})");
  CHECK(SerializeJson(Managed(obj)[0].at("apiVersion")) == R"("apps/v1")");
}

TEST_CASE("update: a merge patch makes its manager own just the fields it changed",
          "[api_apply][unit]") {
  json::object old_obj = CreatedClientSide();
  json::object next = old_obj;
  next["spec"].get_object()["replicas"] = 4;
  Find(next, "metadata")->get_object()["labels"] = json::object{{"a", "b"}};
  REQUIRE(
      UpdateManagedFields(Deployment(), &old_obj, next, "kubectl-patch", "apps/v1", At(30)).ok());
  CHECK(Fields(next, "kubectl-patch", "Update") ==
        R"({"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{"f:replicas":{}}})");
  CHECK(Str(*Entry(next, "kubectl-patch", "Update"), "time") == "2026-11-25T20:00:30Z");
  CHECK(Fields(next, "kubectl-client-side-apply", "Update").find("f:replicas") ==
        std::string::npos);

  // A write that changes nothing adds no entry and keeps the times.
  json::object same = next;
  REQUIRE(UpdateManagedFields(Deployment(), &next, same, "kubectl-edit", "apps/v1", At(40)).ok());
  CHECK(same == next);
}

TEST_CASE("update: an existing object without managed fields stays untracked",
          "[api_apply][unit]") {
  json::object old_obj = Obj(kDeploy);
  json::object next = old_obj;
  next["spec"].get_object()["replicas"] = 9;
  REQUIRE(UpdateManagedFields(Deployment(), &old_obj, next, "kubectl-edit", "apps/v1", At(1)).ok());
  CHECK(Find(next, "metadata.managedFields") == nullptr);
}

TEST_CASE("update: removing a field removes it from every manager", "[api_apply][unit]") {
  json::object old_obj = CreatedClientSide();
  json::object next = old_obj;
  next["spec"].get_object().erase("replicas");
  REQUIRE(UpdateManagedFields(Deployment(), &old_obj, next, "kubectl-edit", "apps/v1", At(1)).ok());
  CHECK(Fields(next, "kubectl-client-side-apply", "Update").find("f:replicas") ==
        std::string::npos);
  CHECK(Entry(next, "kubectl-edit", "Update") == nullptr);
}

TEST_CASE(
    "update: managedFields sent by the client: absent and [] keep, [{}] resets, a valid "
    "list replaces",
    "[api_apply][unit]") {
  json::object old_obj = CreatedClientSide();
  const json::value live_mf = *Find(old_obj, "metadata.managedFields");

  json::object absent = old_obj;
  Find(absent, "metadata")->get_object().erase("managedFields");
  REQUIRE(UpdateManagedFields(Deployment(), &old_obj, absent, "m", "apps/v1", At(1)).ok());
  CHECK(*Find(absent, "metadata.managedFields") == live_mf);

  json::object empty = old_obj;
  Find(empty, "metadata")->get_object()["managedFields"] = json::array();
  REQUIRE(UpdateManagedFields(Deployment(), &old_obj, empty, "m", "apps/v1", At(1)).ok());
  CHECK(*Find(empty, "metadata.managedFields") == live_mf);

  json::object reset = old_obj;
  Find(reset, "metadata")->get_object()["managedFields"] = json::array{json::object()};
  REQUIRE(UpdateManagedFields(Deployment(), &old_obj, reset, "m", "apps/v1", At(1)).ok());
  CHECK(Find(reset, "metadata.managedFields") == nullptr);

  json::object replaced = old_obj;
  Find(replaced, "metadata")->get_object()["managedFields"] =
      ParseJson(
          R"([{"manager":"other","operation":"Update","apiVersion":"apps/v1",
           "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{}}}}])")
          .value();
  REQUIRE(UpdateManagedFields(Deployment(), &old_obj, replaced, "m", "apps/v1", At(1)).ok());
  REQUIRE(Managed(replaced).size() == 1);
  CHECK(Str(Managed(replaced)[0], "manager") == "other");
}

TEST_CASE("update: undecodable live managedFields are an internal error", "[api_apply][unit]") {
  json::object old_obj = Obj(R"({"metadata":{"name":"x","managedFields":[{"manager":"m",
      "operation":"Bogus","apiVersion":"v1","fieldsType":"FieldsV1"}]}})");
  json::object next = old_obj;
  Status st = UpdateManagedFields(Deployment(), &old_obj, next, "m", "apps/v1", At(0));
  CHECK(st.code() == Code::kInternal);
  CHECK(st.message() == "failed to decode managed fields: operation must be `Apply` or `Update`");
}

TEST_CASE("managed fields: validation reports upstream's field errors", "[api_apply][unit]") {
  CHECK(ValidateManagedFields(CreatedClientSide()).ok());
  Status st = ValidateManagedFields(Obj(R"({"metadata":{"managedFields":[
      {"manager":"m","operation":"Patch","apiVersion":"v1","fieldsType":"FieldsV1"}]}})"));
  CHECK(st.code() == Code::kInvalid);
  CHECK(st.message() ==
        "metadata.managedFields[0].operation: Invalid value: \"Patch\": must be "
        "`Apply` or `Update`");
  st = ValidateManagedFields(Obj(R"({"metadata":{"managedFields":[
      {"manager":"m","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1",
       "fieldsV1":{"q:x":{}}}]}})"));
  CHECK(st.code() == Code::kBadRequest);
}

TEST_CASE("field manager: derived from the User-Agent and validated", "[api_apply][unit]") {
  CHECK(FieldManagerFromUserAgent("kubectl/v1.32.0 (linux/amd64) kubernetes/abc") == "kubectl");
  CHECK(FieldManagerFromUserAgent("curl") == "curl");
  CHECK(FieldManagerFromUserAgent("a\tb/1") == "ab");
  CHECK(FieldManagerFromUserAgent(std::string(200, 'x')).size() == 128);
  CHECK(ValidateFieldManager("kubectl").ok());
  CHECK(ValidateFieldManager(std::string(129, 'x')).code() == Code::kInvalid);
}

TEST_CASE("update: more than ten Update managers fold the oldest into ancient-changes",
          "[api_apply][unit]") {
  const Schema* cm = SchemaFor("", "ConfigMap");
  json::object obj = Obj(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"m","labels":{"c":"1"}}})");
  REQUIRE(UpdateManagedFields(cm, nullptr, obj, "creator", "v1", At(0)).ok());
  for (int i = 0; i < 11; ++i) {
    json::object next = obj;
    next["data"].emplace_object()["k" + std::to_string(i)] = "v";
    if (i > 0) {
      const json::object& old_data = obj.at("data").get_object();
      for (const auto& kv : old_data) next["data"].get_object()[kv.key()] = kv.value();
    }
    REQUIRE(UpdateManagedFields(cm, &obj, next, "m" + std::to_string(i), "v1", At(i + 1)).ok());
    obj = std::move(next);
  }
  // 12 Update entries: the three oldest (creator, m0, m1) share one bucket.
  const json::array& mf = Managed(obj);
  REQUIRE(mf.size() == 10);
  const json::object* ancient = Entry(obj, "ancient-changes", "Update");
  REQUIRE(ancient != nullptr);
  CHECK(SerializeJson(ancient->at("fieldsV1")) ==
        R"({"f:data":{".":{},"f:k0":{},"f:k1":{}},"f:metadata":{"f:labels":{".":{},"f:c":{}}}})");
  CHECK(Str(*ancient, "time") == "2026-11-25T20:00:02Z");
  CHECK(Entry(obj, "m0", "Update") == nullptr);
  CHECK(Entry(obj, "m2", "Update") != nullptr);
}

TEST_CASE("apply: a second manager sharing values changes only managedFields",
          "[api_apply][unit]") {
  ApplyResult a = MustApply(Deployment(), nullptr, kDeploy, "a", 0);
  CHECK(a.managed_fields_changed);
  ApplyResult same = MustApply(Deployment(), &a.object, kDeploy, "a", 5);
  CHECK_FALSE(same.changed);
  CHECK_FALSE(same.managed_fields_changed);
  ApplyResult b = MustApply(Deployment(), &a.object, kDeploy, "b", 5);
  CHECK_FALSE(b.changed);
  CHECK(b.managed_fields_changed);
  CHECK(Fields(b.object, "b") == Fields(a.object, "a"));
}

TEST_CASE("apply: a created object keeps the applied content and no stray nulls",
          "[api_apply][unit]") {
  ApplyResult r = MustApply(Deployment(), nullptr, kDeploy, "kubectl", 0);
  json::object expected = Obj(kDeploy);
  expected["status"] = json::object();  // the zero Deployment's status, as upstream returns it
  expected["spec"].get_object()["strategy"] = json::object();
  json::object got = r.object;
  got["metadata"].get_object().erase("managedFields");
  CHECK(SerializeJson(got) == SerializeJson(expected));
  CHECK(json::value(got) == json::value(expected));
}

TEST_CASE("apply: the status subresource owns status, not spec", "[api_apply][unit]") {
  ApplyResult a = MustApply(Deployment(), nullptr, kDeploy, "kubectl", 0);
  auto r = ServerSideApply(Deployment(), &a.object, Obj(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"x"},"status":{"replicas":2}})"),
                           "ctrl", false, "apps/v1", At(1), "status");
  REQUIRE(r.has_value());
  CHECK(Int(r.value().object, "status.replicas") == 2);
  const json::object* e = Entry(r.value().object, "ctrl", "Apply");
  REQUIRE(e != nullptr);
  CHECK(Str(*e, "subresource") == "status");
  CHECK(SerializeJson(e->at("fieldsV1")) == R"({"f:status":{"f:replicas":{}}})");
}

// What `kubectl apply` (client-side) creates: the manifest plus its last-applied annotation.
json::object CreatedWithLastApplied() {
  json::object obj = Obj(kDeploy);
  json::object manifest = obj;
  manifest["metadata"].get_object()["annotations"] = json::object();
  obj["metadata"].get_object()["annotations"] = json::object{
      {"kubectl.kubernetes.io/last-applied-configuration", SerializeJson(manifest) + "\n"}};
  REQUIRE(
      UpdateManagedFields(Deployment(), nullptr, obj, "kubectl-client-side-apply", "apps/v1", At(0))
          .ok());
  return obj;
}

constexpr std::string_view kReplicas3 = R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"x"},"spec":{"replicas":3}})";

TEST_CASE("apply: kubectl moving from client-side apply may change last-applied fields",
          "[api_apply][unit]") {
  json::object live = CreatedWithLastApplied();
  ApplyResult r = MustApply(Deployment(), &live, kReplicas3, "kubectl", 10);
  CHECK(Int(r.object, "spec.replicas") == 3);
  CHECK(Fields(r.object, "kubectl") == R"({"f:spec":{"f:replicas":{}}})");
  // The annotation now records what kubectl applied: sorted keys, trailing newline.
  const json::value* la = Find(r.object, "metadata.annotations")
                              ->get_object()
                              .if_contains("kubectl.kubernetes.io/last-applied-configuration");
  REQUIRE(la != nullptr);
  CHECK(la->get_string() ==
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"x\"},"
        "\"spec\":{\"replicas\":3}}\n");

  // Another manager gets the conflict, and so does kubectl for a field changed since.
  auto other =
      ServerSideApply(Deployment(), &live, Obj(kReplicas3), "other", false, "apps/v1", At(10));
  REQUIRE_FALSE(other.has_value());
  CHECK(other.error().code() == Code::kConflict);

  json::object edited = live;
  edited["spec"].get_object()["replicas"] = 5;
  REQUIRE(UpdateManagedFields(Deployment(), &live, edited, "kubectl-edit", "apps/v1", At(5)).ok());
  auto again =
      ServerSideApply(Deployment(), &edited, Obj(kReplicas3), "kubectl", false, "apps/v1", At(10));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().message() ==
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: "
        ".spec.replicas");
}

TEST_CASE("update: a list set to null loses its items' owners", "[api_apply][unit]") {
  json::object old_obj = CreatedClientSide();
  json::object next = old_obj;
  Find(next, "spec.template.spec.containers")->get_array()[0].get_object()["ports"] = nullptr;
  REQUIRE(UpdateManagedFields(Deployment(), &old_obj, next, "kubectl-edit", "apps/v1", At(1)).ok());
  std::string f = Fields(next, "kubectl-client-side-apply", "Update");
  CHECK(f.find("containerPort") == std::string::npos);
  CHECK(f.find(R"("f:ports":{})") != std::string::npos);  // the field itself is still there
  CHECK(f.find(R"("f:image":{})") != std::string::npos);
}

TEST_CASE("apply: Service ports are keyed by port and protocol", "[api_apply][unit]") {
  const Schema* svc = SchemaFor("", "Service");
  ApplyResult a = MustApply(svc, nullptr, R"({"apiVersion":"v1","kind":"Service",
      "metadata":{"name":"s"},"spec":{"ports":[{"port":53,"protocol":"UDP","name":"dns"}]}})",
                            "a", 0, false, "v1");
  ApplyResult b = MustApply(svc, &a.object, R"({"apiVersion":"v1","kind":"Service",
      "metadata":{"name":"s"},"spec":{"ports":[{"port":53,"name":"dns-tcp"}]}})",
                            "b", 1, false, "v1");
  CHECK(Arr(b.object, "spec.ports")->size() == 2);
  CHECK(Fields(b.object, "b") ==
        R"({"f:spec":{"f:ports":{"k:{\"port\":53,\"protocol\":\"TCP\"}":{".":{},"f:name":{},)"
        R"("f:port":{}}}}})");
}

TEST_CASE("apply: without a schema maps are granular and lists atomic", "[api_apply][unit]") {
  ApplyResult a = MustApply(nullptr, nullptr, R"({"apiVersion":"x.io/v1","kind":"T",
      "metadata":{"name":"t"},"spec":{"m":{"a":1},"l":[1,2]}})",
                            "a", 0, false, "x.io/v1");
  // Nothing is a declared field, so every map entry is a member in its own right (upstream).
  CHECK(Fields(a.object, "a") == R"({"f:spec":{".":{},"f:l":{},"f:m":{".":{},"f:a":{}}}})");
  ApplyResult b = MustApply(nullptr, &a.object, R"({"apiVersion":"x.io/v1","kind":"T",
      "metadata":{"name":"t"},"spec":{"m":{"b":2}}})",
                            "b", 1, false, "x.io/v1");
  CHECK(SerializeJson(*Find(b.object, "spec.m")) == R"({"a":1,"b":2})");
  auto c = ServerSideApply(nullptr, &b.object, Obj(R"({"apiVersion":"x.io/v1","kind":"T",
      "metadata":{"name":"t"},"spec":{"l":[3]}})"),
                           "b", false, "x.io/v1", At(2));
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().message() == "Apply failed with 1 conflict: conflict with \"a\": .spec.l");
}

}  // namespace
}  // namespace mini8s::api
