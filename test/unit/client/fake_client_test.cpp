#include "mini8s/client/fake_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "testutil/fake_clock.h"
#include "unit/client/co_test_util.h"

namespace mini8s::client {
namespace {

namespace json = boost::json;
using testutil::RunCo;

const Resource kPods{"", "v1", "pods", "Pod", true};
const Resource kNodes{"", "v1", "nodes", "Node", false};

json::object Pod(std::string ns, std::string name, std::string labels_json = "{}") {
  auto v = json::parse(R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name +
                       R"(","labels":)" + labels_json + R"(},"spec":{"containers":[]}})");
  return v.as_object();
}

struct Fixture {
  boost::asio::io_context io;
  testutil::FakeClock clock;
  FakeClient client{io.get_executor(), FakeClientOptions{1000, &clock}};
};

TEST_CASE("FakeClient: create stamps server fields and get returns the object", "[client][unit]") {
  Fixture f;
  auto created = RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a")));
  REQUIRE(created.has_value());
  CHECK(api::Kind(*created) == "Pod");
  CHECK(api::ApiVersion(*created) == "v1");
  CHECK(!api::Uid(*created).empty());
  CHECK(api::ResourceVersion(*created) == "1");
  CHECK(api::Generation(*created) == 1);
  CHECK(api::CreationTimestamp(*created) == FormatRfc3339(f.clock.Now()));

  auto got = RunCo(f.io, f.client.Get(kPods, "ns1", "a"));
  REQUIRE(got.has_value());
  CHECK(*got == *created);

  auto missing = RunCo(f.io, f.client.Get(kPods, "ns1", "zz"));
  REQUIRE(!missing.has_value());
  CHECK(missing.error().code() == Code::kNotFound);
  CHECK(missing.error().message() == "pods \"zz\" not found");
}

TEST_CASE("FakeClient: rejects duplicate names and stale updates", "[client][unit]") {
  Fixture f;
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a"))).has_value());
  auto dup = RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a")));
  REQUIRE(!dup.has_value());
  CHECK(dup.error().code() == Code::kAlreadyExists);
  CHECK(dup.error().message() == "pods \"a\" already exists");

  auto v1 = *RunCo(f.io, f.client.Get(kPods, "ns1", "a"));
  json::object u1 = v1;
  api::SetLabel(u1, "x", "1");
  auto updated = RunCo(f.io, f.client.Update(kPods, u1));
  REQUIRE(updated.has_value());
  CHECK(api::ResourceVersion(*updated) == "2");

  json::object stale = v1;  // still carries resourceVersion 1
  api::SetLabel(stale, "x", "2");
  auto conflict = RunCo(f.io, f.client.Update(kPods, stale));
  REQUIRE(!conflict.has_value());
  CHECK(conflict.error().code() == Code::kConflict);
  CHECK(conflict.error().message().find("the object has been modified") != std::string::npos);
}

TEST_CASE("FakeClient: generateName, generation and the status subresource", "[client][unit]") {
  Fixture f;
  json::object p = Pod("ns1", "");
  api::MutableMetadata(p).erase("name");
  api::MutableMetadata(p)["generateName"] = "web-";
  auto created = RunCo(f.io, f.client.Create(kPods, p));
  REQUIRE(created.has_value());
  std::string name(api::Name(*created));
  CHECK(name.rfind("web-", 0) == 0);
  CHECK(name.size() == 9);

  // A main-resource update cannot change status; spec changes bump generation.
  json::object u = *created;
  u["status"] = json::parse(R"({"phase":"Running"})");
  u["spec"].as_object()["nodeName"] = "n1";
  auto updated = *RunCo(f.io, f.client.Update(kPods, u));
  CHECK(updated.if_contains("status") == nullptr);
  CHECK(api::Generation(updated) == 2);

  json::object s = updated;
  s["status"] = json::parse(R"({"phase":"Running"})");
  s["spec"].as_object()["nodeName"] = "ignored";
  auto status_updated = *RunCo(f.io, f.client.UpdateStatus(kPods, s));
  CHECK(api::GetString(status_updated, "status.phase") == "Running");
  CHECK(api::GetString(status_updated, "spec.nodeName") == "n1");
  CHECK(api::Generation(status_updated) == 2);
}

TEST_CASE("FakeClient: lists with selectors and pages", "[client][unit]") {
  Fixture f;
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a", R"({"app":"web"})"))).has_value());
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "b", R"({"app":"db"})"))).has_value());
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns2", "c", R"({"app":"web"})"))).has_value());

  auto all = *RunCo(f.io, f.client.List(kPods, "", ListOptions{}));
  CHECK(all.items.size() == 3);
  CHECK(all.resource_version == "3");

  auto ns1 = *RunCo(f.io, f.client.List(kPods, "ns1", ListOptions{}));
  CHECK(ns1.items.size() == 2);

  ListOptions web;
  web.label_selector = "app=web";
  auto webs = *RunCo(f.io, f.client.List(kPods, "", web));
  REQUIRE(webs.items.size() == 2);
  CHECK(api::Name(webs.items[0]) == "a");
  CHECK(api::Name(webs.items[1]) == "c");

  ListOptions by_name;
  by_name.field_selector = "metadata.name=b";
  auto bs = *RunCo(f.io, f.client.List(kPods, "", by_name));
  REQUIRE(bs.items.size() == 1);
  CHECK(api::Name(bs.items[0]) == "b");

  ListOptions page;
  page.limit = 2;
  auto p1 = *RunCo(f.io, f.client.List(kPods, "", page));
  CHECK(p1.items.size() == 2);
  REQUIRE(!p1.continue_token.empty());
  page.continue_token = p1.continue_token;
  auto p2 = *RunCo(f.io, f.client.List(kPods, "", page));
  REQUIRE(p2.items.size() == 1);
  CHECK(api::Name(p2.items[0]) == "c");
  CHECK(p2.continue_token.empty());

  ListOptions bad;
  bad.label_selector = "a b";
  CHECK(RunCo(f.io, f.client.List(kPods, "", bad)).error().code() == Code::kBadRequest);
}

TEST_CASE("FakeClient: patches and deletes with finalizers", "[client][unit]") {
  Fixture f;
  json::object p = Pod("ns1", "a");
  api::MutableMetadata(p)["finalizers"] = json::array{"example.com/hold"};
  REQUIRE(RunCo(f.io, f.client.Create(kPods, p)).has_value());

  auto merged = RunCo(f.io, f.client.Patch(kPods, "ns1", "a", PatchType::kMerge,
                                           R"({"metadata":{"labels":{"k":"v"}}})", {}));
  REQUIRE(merged.has_value());
  CHECK(api::Label(*merged, "k") == std::optional<std::string_view>("v"));

  auto jp = RunCo(
      f.io, f.client.Patch(kPods, "ns1", "a", PatchType::kJson,
                           R"([{"op":"replace","path":"/metadata/labels/k","value":"w"}])", {}));
  REQUIRE(jp.has_value());
  CHECK(api::Label(*jp, "k") == std::optional<std::string_view>("w"));

  auto del = RunCo(f.io, f.client.Delete(kPods, "ns1", "a"));
  REQUIRE(del.has_value());
  CHECK(api::IsBeingDeleted(*del));
  REQUIRE(RunCo(f.io, f.client.Get(kPods, "ns1", "a")).has_value());

  // Removing the last finalizer completes the delete.
  auto gone = RunCo(f.io, f.client.Patch(kPods, "ns1", "a", PatchType::kMerge,
                                         R"({"metadata":{"finalizers":null}})", {}));
  REQUIRE(gone.has_value());
  CHECK(RunCo(f.io, f.client.Get(kPods, "ns1", "a")).error().code() == Code::kNotFound);

  // Preconditions.
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "b"))).has_value());
  DeleteOptions pre;
  pre.precondition_uid = "not-the-uid";
  CHECK(RunCo(f.io, f.client.Delete(kPods, "ns1", "b", pre)).error().code() == Code::kConflict);
  CHECK(RunCo(f.io, f.client.Delete(kPods, "ns1", "b")).has_value());
  CHECK(RunCo(f.io, f.client.Delete(kPods, "ns1", "b")).error().code() == Code::kNotFound);
}

TEST_CASE("FakeClient: cluster-scoped resources ignore the namespace", "[client][unit]") {
  Fixture f;
  auto node = json::parse(R"({"metadata":{"name":"n1"}})").as_object();
  REQUIRE(RunCo(f.io, f.client.Create(kNodes, node)).has_value());
  CHECK(RunCo(f.io, f.client.Get(kNodes, "", "n1")).has_value());
  CHECK(RunCo(f.io, f.client.List(kNodes, "", {}))->items.size() == 1);
  CHECK(RunCo(f.io, f.client.List(kPods, "", {}))->items.empty());
}

std::optional<WatchEvent> NextEvent(Fixture& f, WatchStream& w) {
  auto r = RunCo(f.io, w.Next());
  REQUIRE(r.has_value());
  return *r;
}

TEST_CASE("FakeClient: watch replays from a version and streams live events", "[client][unit]") {
  Fixture f;
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a"))).has_value());  // rv 1
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "b"))).has_value());  // rv 2

  ListOptions from;
  from.resource_version = "1";
  auto w = RunCo(f.io, f.client.Watch(kPods, "", from));
  REQUIRE(w.has_value());
  auto e1 = NextEvent(f, **w);
  REQUIRE(e1);
  CHECK(e1->type == WatchEventType::kAdded);
  CHECK(api::Name(e1->object) == "b");

  REQUIRE(RunCo(f.io, f.client.Delete(kPods, "ns1", "a")).has_value());  // rv 3
  auto e2 = NextEvent(f, **w);
  REQUIRE(e2);
  CHECK(e2->type == WatchEventType::kDeleted);
  CHECK(api::Name(e2->object) == "a");
  CHECK(api::ResourceVersion(e2->object) == "3");

  f.client.CloseWatches();
  CHECK(!NextEvent(f, **w).has_value());
}

TEST_CASE("FakeClient: watch from a compacted version is kExpired", "[client][unit]") {
  Fixture f;
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a"))).has_value());
  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "b"))).has_value());
  f.client.CompactWatchWindow();
  ListOptions from;
  from.resource_version = "1";
  auto w = RunCo(f.io, f.client.Watch(kPods, "", from));
  REQUIRE(!w.has_value());
  CHECK(w.error().code() == Code::kExpired);
  from.resource_version = "2";
  CHECK(RunCo(f.io, f.client.Watch(kPods, "", from)).has_value());
}

TEST_CASE("FakeClient: watch with a selector turns transitions into adds and deletes",
          "[client][unit]") {
  Fixture f;
  auto a = *RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a", R"({"app":"web"})")));
  ListOptions sel;
  sel.label_selector = "app=web";
  sel.resource_version = a.at("metadata").at("resourceVersion").as_string().c_str();
  auto w = std::move(RunCo(f.io, f.client.Watch(kPods, "", sel))).value();

  json::object moved = a;
  api::SetLabel(moved, "app", "db");
  REQUIRE(RunCo(f.io, f.client.Update(kPods, moved)).has_value());
  auto e1 = NextEvent(f, *w);
  REQUIRE(e1);
  CHECK(e1->type == WatchEventType::kDeleted);

  REQUIRE(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "b", R"({"app":"web"})"))).has_value());
  auto e2 = NextEvent(f, *w);
  REQUIRE(e2);
  CHECK(e2->type == WatchEventType::kAdded);
  CHECK(api::Name(e2->object) == "b");
}

TEST_CASE("FakeClient: injected failures and the action log", "[client][unit]") {
  Fixture f;
  f.client.FailNext("create", Status::Forbidden("nope"));
  auto r = RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a")));
  CHECK(r.error().code() == Code::kForbidden);
  CHECK(RunCo(f.io, f.client.Create(kPods, Pod("ns1", "a"))).has_value());
  REQUIRE(f.client.actions().size() == 2);
  CHECK(f.client.actions()[1] == "create pods ns1/a");
}

}  // namespace
}  // namespace mini8s::client
