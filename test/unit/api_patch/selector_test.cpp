#include "mini8s/api/selector.h"

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

namespace mini8s::api {
namespace {

boost::json::value J(std::string_view text) { return boost::json::parse(text); }

const std::string kNameRegexError =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const std::string kValueRegexError =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

TEST_CASE("LabelSelector: parses every operator and prints the canonical form", "[api][unit]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"x=a", "x=a"},
      {"x==a", "x==a"},
      {"x!=a", "x!=a"},
      {"y=a,x=b", "x=b,y=a"},
      {"  x = a ,\ty!=b ", "x=a,y!=b"},
      {"x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"},
      {"x in (b,a,b)", "x in (a,b)"},
      {"x notin (a)", "x notin (a)"},
      {"!x", "!x"},
      {"x,!y", "x,!y"},
      {"x>1,y<2", "x>1,y<2"},
      {"a in (in),b=notin", "a in (in),b=notin"},
      {"x=", "x="},
      {"x in (,a)", "x in (,a)"},
      {"example.com/key=v", "example.com/key=v"},
      {"app.kubernetes.io/name in (web, api)", "app.kubernetes.io/name in (api,web)"},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    auto s = LabelSelector::Parse(c.in);
    if (!s.ok()) FAIL(s.error().ToString());
    CHECK(s->String() == c.out);
    // The canonical form parses to the same selector.
    auto again = LabelSelector::Parse(s->String());
    REQUIRE(again.ok());
    CHECK(again->requirements() == s->requirements());
  }
  CHECK(LabelSelector::Parse("").value().Empty());
  CHECK_FALSE(LabelSelector::Parse("a").value().Empty());
}

TEST_CASE("LabelSelector: syntax errors carry upstream's messages", "[api][unit]") {
  struct Case {
    const char* in;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"x=a,,y=b", "found ',', expected: identifier after ','"},
      {"x=a,", "found '', expected: identifier after ','"},
      {"x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"},
      {"x in a", "unable to parse requirement: found 'a' expected: '('"},
      {"x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"},
      {"x in (a", "unable to parse requirement: found '', expected: ',' or ')'"},
      {"x in =", "unable to parse requirement: found '=' expected: '('"},
      {"x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"},
      {"x=a b", "found 'b', expected: ',' or 'end of string'"},
      {"=a", "found '=', expected: !, identifier, or 'end of string'"},
      {"x=(", "unable to parse requirement: found '(', expected: identifier"},
      {"!=a", "found '!=', expected: !, identifier, or 'end of string'"},
      {"a$=b",
       "unable to parse requirement: <nil>: Invalid value: \"a$\": name part " + kNameRegexError},
      {"x=a$",
       "unable to parse requirement: values[0][x]: Invalid value: \"a$\": " + kValueRegexError},
      {"x in (a,-b)",
       "unable to parse requirement: values[0][x]: Invalid value: \"-b\": " + kValueRegexError},
      {"x>a",
       "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
       "operators, the value must be an integer"},
      {"a/b/c", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name " +
                    kNameRegexError +
                    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"},
      {"/a",
       "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be "
       "non-empty"},
      {"Ex.com/a",
       "unable to parse requirement: <nil>: Invalid value: \"Ex.com/a\": prefix part "
       "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
       "characters, '-' or '.', and must start and end with an alphanumeric "
       "character (e.g. 'example.com', regex used for validation is "
       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"},
      {"a/",
       "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be "
       "non-empty; name part " +
           kNameRegexError},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "unable to parse requirement: <nil>: Invalid value: "
       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": name part must be "
       "no more than 63 characters"},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    auto s = LabelSelector::Parse(c.in);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == Code::kBadRequest);
    CHECK(s.error().message() == c.message);
  }
}

TEST_CASE("LabelSelector: matching follows the operator semantics", "[api][unit]") {
  struct Case {
    const char* selector;
    StringMap labels;
    bool want;
  };
  const std::vector<Case> cases = {
      {"", {}, true},
      {"x=a", {{"x", "a"}}, true},
      {"x=a", {{"x", "b"}}, false},
      {"x=a", {}, false},
      {"x==a,y=b", {{"x", "a"}, {"y", "b"}}, true},
      {"x==a,y=b", {{"x", "a"}}, false},
      {"x!=a", {}, true},
      {"x!=a", {{"x", "b"}}, true},
      {"x!=a", {{"x", "a"}}, false},
      {"x in (a,b)", {{"x", "b"}}, true},
      {"x in (a,b)", {{"x", "c"}}, false},
      {"x in (a,b)", {}, false},
      {"x notin (a)", {}, true},
      {"x notin (a)", {{"x", "a"}}, false},
      {"x", {{"x", ""}}, true},
      {"x", {{"y", "a"}}, false},
      {"!x", {{"y", "a"}}, true},
      {"!x", {{"x", "a"}}, false},
      {"x>1", {{"x", "2"}}, true},
      {"x>1", {{"x", "1"}}, false},
      {"x>1", {{"x", "a"}}, false},
      {"x<1", {{"x", "-5"}}, true},
      {"x<1", {}, false},
      {"x=", {{"x", ""}}, true},
      {"x in (,a)", {{"x", ""}}, true},
  };
  for (const Case& c : cases) {
    INFO(c.selector);
    auto s = LabelSelector::Parse(c.selector);
    REQUIRE(s.ok());
    CHECK(s->Matches(c.labels) == c.want);
    boost::json::object json;
    for (const auto& [k, v] : c.labels) json[k] = v;
    CHECK(s->Matches(&json) == c.want);
  }
  auto s = LabelSelector::Parse("x").value();
  CHECK_FALSE(s.Matches(static_cast<const boost::json::object*>(nullptr)));
  auto non_string = J(R"({"x":1})");
  CHECK_FALSE(s.Matches(&non_string.get_object()));
  CHECK(LabelSelector::Parse("x=a,y in (b)").value().RequiresExactMatch("y") == "b");
  CHECK_FALSE(LabelSelector::Parse("x!=a").value().RequiresExactMatch("x").has_value());
}

TEST_CASE("LabelSelector: metav1.LabelSelector converts with upstream's validation",
          "[api][unit]") {
  auto sel = LabelSelector::FromLabelSelectorJson(&static_cast<const boost::json::value&>(J(
      R"({"matchLabels":{"app":"x"},"matchExpressions":[
          {"key":"tier","operator":"In","values":["web","api"]},
          {"key":"env","operator":"DoesNotExist"},
          {"key":"track","operator":"NotIn","values":["canary"]},
          {"key":"zone","operator":"Exists"}]})")));
  REQUIRE(sel.ok());
  CHECK(sel->String() == "app=x,!env,tier in (api,web),track notin (canary),zone");
  CHECK(sel->Matches(StringMap{{"app", "x"}, {"tier", "web"}, {"zone", "a"}}));
  CHECK_FALSE(sel->Matches(StringMap{{"app", "x"}, {"tier", "web"}}));
  CHECK_FALSE(sel->Matches(StringMap{{"app", "x"}, {"tier", "web"}, {"zone", "a"}, {"env", "p"}}));

  auto nothing = LabelSelector::FromLabelSelectorJson(nullptr);
  REQUIRE(nothing.ok());
  CHECK(nothing->MatchesNothing());
  CHECK_FALSE(nothing->Matches(StringMap{}));
  auto null_json = J("null");
  CHECK(LabelSelector::FromLabelSelectorJson(&null_json).value().MatchesNothing());
  auto empty = J("{}");
  auto everything = LabelSelector::FromLabelSelectorJson(&empty);
  REQUIRE(everything.ok());
  CHECK(everything->Empty());
  CHECK(everything->Matches(StringMap{{"a", "b"}}));

  struct Case {
    const char* json;
    Code code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"matchExpressions":[{"key":"a","operator":"Foo"}]})", Code::kInvalid,
       "\"Foo\" is not a valid label selector operator"},
      {R"({"matchExpressions":[{"key":"a","operator":"In"}]})", Code::kInvalid,
       "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"},
      {R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})", Code::kInvalid,
       "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"},
      {R"({"matchExpressions":[{"key":"a b","operator":"Exists"}]})", Code::kInvalid,
       "key: Invalid value: \"a b\": name part " + kNameRegexError},
      {R"({"matchLabels":{"a":"b c"}})", Code::kInvalid,
       "values[0][a]: Invalid value: \"b c\": " + kValueRegexError},
      {R"({"matchExpressions":[{"key":"-","operator":"NotIn"}]})", Code::kInvalid,
       "[key: Invalid value: \"-\": name part " + kNameRegexError +
           ", values: Invalid value: null: for 'in', 'notin' operators, values set can't be "
           "empty]"},
      {R"({"matchLabels":["a"]})", Code::kBadRequest, "matchLabels must be an object"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    auto v = J(c.json);
    auto s = LabelSelector::FromLabelSelectorJson(&v);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == c.code);
    CHECK(s.error().message() == c.message);
  }
}

TEST_CASE("LabelSelector: FromSet and NewRequirement validate", "[api][unit]") {
  auto s = LabelSelector::FromSet({{"b", "2"}, {"a", "1"}});
  REQUIRE(s.ok());
  CHECK(s->String() == "a=1,b=2");
  CHECK_FALSE(LabelSelector::FromSet({{"a", "x y"}}).ok());
  auto r = LabelSelector::NewRequirement("a", SelectorOp::kEquals, {"x", "y"});
  REQUIRE_FALSE(r.ok());
  CHECK(
      r.error().message() ==
      "values: Invalid value: [\"x\",\"y\"]: exact-match compatibility requires one single value");
  auto gt = LabelSelector::NewRequirement("a", SelectorOp::kGreaterThan, {"1", "2"});
  REQUIRE_FALSE(gt.ok());
  CHECK(gt.error().message() ==
        "values: Invalid value: [\"1\",\"2\"]: for 'Gt', 'Lt' operators, exactly one value is "
        "required");
  CHECK(ValidateLabelKey("example.com/My_Name-1.x").empty());
  CHECK(ValidateLabelValue("").empty());
  CHECK(ValidateLabelValue(std::string(64, 'a')) ==
        std::vector<std::string>{"must be no more than 63 characters"});
}

TEST_CASE("FieldSelector: parses, escapes, prints and matches like upstream", "[api][unit]") {
  auto s = FieldSelector::Parse("spec.nodeName=n1,metadata.name==x");
  REQUIRE(s.ok());
  CHECK(s->String() == "metadata.name=x,spec.nodeName=n1");
  CHECK(s->Matches({{"metadata.name", "x"}, {"spec.nodeName", "n1"}}));
  CHECK_FALSE(s->Matches({{"metadata.name", "x"}, {"spec.nodeName", "n2"}}));
  CHECK(s->RequiresExactMatch("metadata.name") == "x");
  CHECK_FALSE(s->RequiresExactMatch("status.phase").has_value());

  auto unscheduled = FieldSelector::Parse("spec.nodeName=");
  REQUIRE(unscheduled.ok());
  CHECK(unscheduled->Matches({}));
  CHECK_FALSE(unscheduled->Matches({{"spec.nodeName", "n1"}}));

  auto not_running = FieldSelector::Parse("status.phase!=Running");
  REQUIRE(not_running.ok());
  CHECK(not_running->Matches({{"status.phase", "Pending"}}));
  CHECK(not_running->Matches({}));
  CHECK_FALSE(not_running->Matches({{"status.phase", "Running"}}));
  CHECK(not_running->String() == "status.phase!=Running");

  auto escaped = FieldSelector::Parse(R"(a=x\,y\=z\\w,b!=)");
  REQUIRE(escaped.ok());
  REQUIRE(escaped->requirements().size() == 2);
  CHECK(escaped->requirements()[0].value == R"(x,y=z\w)");
  CHECK(escaped->String() == R"(a=x\,y\=z\\w,b!=)");
  CHECK(EscapeFieldValue(R"(a,b=c\)") == R"(a\,b\=c\\)");
  CHECK(UnescapeFieldValue(R"(a\,b\=c\\)").value() == R"(a,b=c\)");

  CHECK(FieldSelector::Parse("").value().Empty());
  CHECK(FieldSelector::Parse(",,").value().Empty());
  CHECK(FieldSelector::Parse("").value().Matches({{"a", "b"}}));
}

TEST_CASE("FieldSelector: errors and unsupported field labels", "[api][unit]") {
  struct Case {
    const char* in;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"abc", "invalid selector: 'abc'; can't understand 'abc'"},
      {"a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"},
      {R"(a=b\x)", R"(invalid field selector: invalid escape sequence: \x)"},
      {R"(a=b\)", R"(invalid field selector: invalid escape sequence: \)"},
      {"a=b=c", "invalid field selector: unescaped character in value: 61"},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    auto s = FieldSelector::Parse(c.in);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == Code::kBadRequest);
    CHECK(s.error().message() == c.message);
  }
  const std::vector<std::string> pod_fields = {"spec.nodeName", "status.phase"};
  CHECK(FieldSelector::Parse("metadata.name=a,metadata.namespace=b,spec.nodeName=c")
            .value()
            .CheckSupported(pod_fields)
            .ok());
  Status unsupported =
      FieldSelector::Parse("spec.nodeName=c,spec.foo=x").value().CheckSupported(pod_fields);
  CHECK(unsupported.code() == Code::kBadRequest);
  CHECK(unsupported.message() == "field label not supported: spec.foo");
}

}  // namespace
}  // namespace mini8s::api
