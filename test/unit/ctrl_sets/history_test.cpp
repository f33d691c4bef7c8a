#include "mini8s/controllers/history.h"

#include <string>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"

namespace mini8s::controllers::history {
namespace {

namespace json = boost::json;

json::object Set(const std::string& image) {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web",)"
                     R"("namespace":"ns","uid":"u-1"},"spec":{"replicas":3,"template":{"metadata":)"
                     R"({"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":")" +
                     image + R"("}]}}}})")
      .as_object();
}

TEST_CASE("History: FNV-1 and the safe alphabet match Go's hash/fnv and rand.SafeEncodeString",
          "[ctrl_sets][unit]") {
  CHECK(Fnv32("") == 0x811c9dc5u);
  CHECK(Fnv32("a") == 0x050c5d7eu);
  CHECK(Fnv32("foobar") == 0x31f0b262u);
  // Every byte maps onto "bcdfghjklmnpqrstvwxz2456789" by value modulo 27.
  CHECK(SafeEncodeString("0123") == "4567");
  CHECK(SafeEncodeString("") == "");
}

TEST_CASE("History: canonical JSON sorts keys at every level and escapes like Go",
          "[ctrl_sets][unit]") {
  json::value v = json::parse(R"({"b":1,"a":{"z":"<&>","y":[{"d":1,"c":2}]}})");
  CHECK(CanonicalJson(v) == R"({"a":{"y":[{"c":2,"d":1}],"z":"\u003c\u0026\u003e"},"b":1})");
}

TEST_CASE("History: the template patch replaces the template and applies back onto the set",
          "[ctrl_sets][unit]") {
  json::object set = Set("nginx:1");
  json::object patch = TemplatePatch(set);
  CHECK(CanonicalJson(patch) ==
        R"({"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},)"
        R"("spec":{"containers":[{"image":"nginx:1","name":"c"}]}}}})");

  json::object rev = NewControllerRevision(
      set, "StatefulSet", api::GetObject(set, "spec.template.metadata.labels"), patch, 1, 0);
  std::string hash(api::Label(rev, kControllerRevisionHashLabel).value_or(""));
  CHECK(api::Name(rev) == "web-" + hash);
  CHECK(hash == HashControllerRevision(rev, 0));
  CHECK(hash != HashControllerRevision(rev, 1));  // the collision probe changes the name
  CHECK(api::Label(rev, "app").value_or("") == "web");
  CHECK(api::ControllerOf(rev)->uid == "u-1");
  CHECK(RevisionNumber(rev) == 1);

  // Applying an older revision onto a changed set restores its template only.
  json::object changed = Set("nginx:2");
  changed["spec"].as_object()["replicas"] = 5;
  auto applied = ApplyRevision(changed, rev);
  REQUIRE(applied.has_value());
  CHECK(CanonicalJson(applied->at("spec").at("template")) ==
        CanonicalJson(set.at("spec").at("template")));
  CHECK(applied->at("spec").at("replicas") == 5);

  // Equality is hash and data, not the revision number or other labels.
  json::object again = NewControllerRevision(set, "StatefulSet", nullptr, TemplatePatch(set), 7, 0);
  CHECK(EqualRevision(rev, again));
  json::object other =
      NewControllerRevision(changed, "StatefulSet", nullptr, TemplatePatch(changed), 2, 0);
  CHECK(!EqualRevision(rev, other));
  CHECK(api::Name(other) != api::Name(rev));
}

TEST_CASE("History: names are cut to 223 characters of prefix", "[ctrl_sets][unit]") {
  std::string long_name(300, 'a');
  CHECK(ControllerRevisionName(long_name, "h").size() == 225);
  CHECK(ControllerRevisionName("web", "abc") == "web-abc");
}

TEST_CASE("History: revisions sort by number and the next number follows the highest",
          "[ctrl_sets][unit]") {
  auto mk = [](const std::string& name, int64_t n) {
    json::object o;
    api::SetName(o, name);
    o["revision"] = n;
    return std::make_shared<const json::object>(std::move(o));
  };
  std::vector<client::ObjectPtr> revs{mk("c", 3), mk("a", 1), mk("b", 2)};
  SortControllerRevisions(revs);
  CHECK(api::Name(*revs[0]) == "a");
  CHECK(api::Name(*revs[2]) == "c");
  CHECK(NextRevision(revs) == 4);
  CHECK(NextRevision({}) == 1);
}

}  // namespace
}  // namespace mini8s::controllers::history
