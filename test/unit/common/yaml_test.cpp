#include "mini8s/common/yaml.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "mini8s/common/json.h"

namespace mini8s {
namespace {

namespace bj = boost::json;

// YAML -> compact JSON text, for compact expectations.
std::string Y2J(std::string_view yaml) {
  auto r = ParseYaml(yaml);
  INFO(yaml);
  if (!r.has_value()) FAIL(r.error().ToString());
  return SerializeJson(*r);
}

std::string YamlError(std::string_view yaml, const YamlParseOptions& options = {}) {
  auto r = ParseYaml(yaml, options);
  INFO(yaml);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Code::kBadRequest);
  return r.error().message();
}

std::string J2Y(std::string_view json) {
  auto r = ParseJson(json);
  REQUIRE(r.has_value());
  return ToYaml(*r);
}

TEST_CASE("Yaml: quoted scalars are strings, unquoted ones are typed like go-yaml v2",
          "[common][unit]") {
  CHECK(Y2J("a: 1\nb: \"1\"\nc: '1'\nd: 1.5\ne: -7\nf: +3") ==
        R"({"a":1,"b":"1","c":"1","d":1.5,"e":-7,"f":3})");
  CHECK(Y2J("a: true\nb: false\nc: True\nd: FALSE\ne: \"true\"") ==
        R"({"a":true,"b":false,"c":true,"d":false,"e":"true"})");
  CHECK(Y2J("a: hello world\nb: nginx:1.25\nc: 10.0.0.1\nd: 1.2.3") ==
        R"({"a":"hello world","b":"nginx:1.25","c":"10.0.0.1","d":"1.2.3"})");
}

TEST_CASE("Yaml: YAML 1.1 booleans yes/no/on/off/y/n resolve as in go-yaml v2", "[common][unit]") {
  CHECK(Y2J("a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: N\ng: 'yes'\nh: yEs") ==
        R"({"a":true,"b":false,"c":true,"d":false,"e":true,"f":false,"g":"yes","h":"yEs"})");
  // Keys go through the same resolution: an unquoted `on` or `y` key becomes "true".
  CHECK(Y2J("on: push\n'n': 2") == R"({"true":"push","n":2})");
  CHECK(Y2J("y: 1") == R"({"true":1})");
}

TEST_CASE("Yaml: null, ~ and empty values are null", "[common][unit]") {
  CHECK(Y2J("a: null\nb: ~\nc:\nd: Null\ne: NULL\nf: \"null\"\ng: nulL") ==
        R"({"a":null,"b":null,"c":null,"d":null,"e":null,"f":"null","g":"nulL"})");
  CHECK(Y2J("") == "null");
  CHECK(Y2J("# just a comment\n") == "null");
}

TEST_CASE("Yaml: integers keep 64-bit precision; Go base prefixes and underscores apply",
          "[common][unit]") {
  CHECK(Y2J("a: 12345678901234567890\nb: 9223372036854775807\nc: -9223372036854775808") ==
        R"({"a":12345678901234567890,"b":9223372036854775807,"c":-9223372036854775808})");
  CHECK(Y2J("a: 0x1F\nb: 017\nc: 0o17\nd: 0b101\ne: 1_000\nf: -0x10\ng: 08\nh: 0") ==
        R"({"a":31,"b":15,"c":15,"d":5,"e":1000,"f":-16,"g":8,"h":0})");
  // Beyond uint64 the value is a float, as in go-yaml.
  CHECK(Y2J("a: 123456789012345678901234567890") == R"({"a":1.2345678901234568e+29})");
}

TEST_CASE("Yaml: floats reach JSON as Go writes them, so integral floats become integers",
          "[common][unit]") {
  bj::value v = *ParseYaml("a: 1.0\nb: 1e3\nc: .5\nd: -2.50\ne: 1e21\nf: 6.02e-30");
  CHECK(v.at("a").is_int64());
  CHECK(v.at("a").as_int64() == 1);
  CHECK(v.at("b").as_int64() == 1000);
  CHECK(v.at("c").as_double() == 0.5);
  CHECK(SerializeJson(v) == R"({"a":1,"b":1000,"c":0.5,"d":-2.5,"e":1e+21,"f":6.02e-30})");
  // A float that overflows stays a string (go-yaml's ParseFloat fails), NaN/Inf are errors.
  CHECK(Y2J("a: 1e400") == R"({"a":"1e400"})");
  CHECK(YamlError("a: .nan").find("line 1, column 4") == 0);
  CHECK(YamlError("a: -.inf").find("JSON has no NaN or Inf") != std::string::npos);
}

TEST_CASE("Yaml: timestamps and other look-alikes stay strings", "[common][unit]") {
  CHECK(
      Y2J("a: 2024-01-02\nb: 2024-01-02T03:04:05Z\nc: 12:30\nd: 1.2.3.4\ne: 0x\nf: 1e") ==
      R"({"a":"2024-01-02","b":"2024-01-02T03:04:05Z","c":"12:30","d":"1.2.3.4","e":"0x","f":"1e"})");
}

TEST_CASE("Yaml: explicit tags are honoured", "[common][unit]") {
  CHECK(Y2J("a: !!str 12\nb: !!int \"12\"\nc: !!float 2\nd: !!bool \"yes\"\ne: !custom 5\n"
            "f: !!binary aGVsbG8=") == R"({"a":"12","b":12,"c":2,"d":true,"e":"5","f":"hello"})");
  CHECK(YamlError("a: !!int abc").find("cannot decode `abc` as a !!int") != std::string::npos);
}

TEST_CASE("Yaml: non-string keys become strings as sigs.k8s.io/yaml converts them",
          "[common][unit]") {
  CHECK(Y2J("1: a\n1.5: b\ntrue: c\n0x10: d\n2024-01-01: e") ==
        R"({"1":"a","1.5":"b","true":"c","16":"d","2024-01-01":"e"})");
  CHECK(Y2J(".inf: a\n.nan: b\n3.14159265358979: c") ==
        R"({".inf":"a",".nan":"b","3.1415927":"c"})");
  CHECK(YamlError("~: 1") == "line 1, column 1: unsupported map key: null");
  CHECK(YamlError("? [1]\n: 2").find("invalid map key") != std::string::npos);
}

TEST_CASE("Yaml: block scalars honour literal, folded and chomping indicators", "[common][unit]") {
  const char* yaml =
      "lit: |\n  line1\n  line2\n"
      "strip: |-\n  line1\n  line2\n\n"
      "keep: |+\n  x\n\n"
      "fold: >\n  a\n  b\n\n  c\n"
      "foldstrip: >-\n  a\n  b\n"
      "indented: |2\n    four\n  two\n"
      "last: end\n";
  bj::value v = *ParseYaml(yaml);
  CHECK(v.at("lit").as_string() == "line1\nline2\n");
  CHECK(v.at("strip").as_string() == "line1\nline2");
  CHECK(v.at("keep").as_string() == "x\n\n");
  CHECK(v.at("fold").as_string() == "a b\nc\n");
  CHECK(v.at("foldstrip").as_string() == "a b");
  CHECK(v.at("indented").as_string() == "  four\ntwo\n");
  CHECK(v.at("last").as_string() == "end");
}

TEST_CASE("Yaml: comments, flow collections and multi-line quoted strings", "[common][unit]") {
  CHECK(Y2J("# head\na: [1, two, {x: z}] # trailing\nb: {c: d}\nc: \"multi\n  line\"\n") ==
        R"({"a":[1,"two",{"x":"z"}],"b":{"c":"d"},"c":"multi line"})");
  // `y` is a YAML 1.1 boolean even inside a flow mapping.
  CHECK(Y2J("a: {x: y}") == R"({"a":{"x":true}})");
  CHECK(Y2J("a: 'it''s'\nb: \"tab\\tnl\\n\\u00e9\"") == R"({"a":"it's","b":"tab\tnl\né"})");
  CHECK(Y2J("a: x # not part\nb: x#part") == R"({"a":"x","b":"x#part"})");
}

TEST_CASE("Yaml: anchors, aliases and merge keys", "[common][unit]") {
  const char* yaml =
      "base: &base {cpu: 1, mem: 2}\n"
      "extra: &extra {disk: 3, cpu: 9}\n"
      "one:\n  <<: *base\n  mem: 5\n"
      "many:\n  <<: [*base, *extra]\n"
      "list: &l [a, b]\n"
      "again: *l\n";
  CHECK(Y2J(yaml) ==
        R"({"base":{"cpu":1,"mem":2},"extra":{"disk":3,"cpu":9},"one":{"cpu":1,"mem":5},)"
        R"("many":{"disk":3,"cpu":1,"mem":2},"list":["a","b"],"again":["a","b"]})");
  CHECK(YamlError("a: {<<: [1]}").find("map merge requires map") != std::string::npos);
  CHECK(YamlError("a: &a [*a]").find("anchor value contains itself") != std::string::npos);
  CHECK(YamlError("a: *nope").find("line 1") == 0);
}

TEST_CASE("Yaml: alias bombs are refused", "[common][unit]") {
  std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    yaml += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) yaml += std::string(i ? ", *" : "*") + prev;
    yaml += "]\n";
    prev = c;
  }
  CHECK(YamlError(yaml).find("excessive aliasing") != std::string::npos);
}

TEST_CASE("Yaml: duplicate keys are errors by default and reportable otherwise", "[common][unit]") {
  CHECK(YamlError("a: 1\nb: 2\na: 3\n") ==
        "line 3, column 1: mapping key \"a\" already defined at line 1");
  std::vector<std::string> dups;
  YamlParseOptions lax;
  lax.reject_duplicate_keys = false;
  lax.duplicate_fields = &dups;
  auto r = ParseYaml("metadata:\n  name: a\n  name: b\nitems:\n- x: 1\n  x: 2\n", lax);
  REQUIRE(r.has_value());
  CHECK(r->at("metadata").at("name").as_string() == "b");
  CHECK(dups == std::vector<std::string>{"metadata.name", "items[0].x"});
}

TEST_CASE("Yaml: multi-document streams split on --- and skip empty documents", "[common][unit]") {
  const char* stream =
      "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\n---\n\n---\nnull\n---\n"
      "apiVersion: v1\nkind: Secret\n...\n";
  auto docs = ParseYamlDocuments(stream);
  REQUIRE(docs.has_value());
  REQUIRE(docs->size() == 2);
  CHECK((*docs)[0].at("kind").as_string() == "ConfigMap");
  CHECK((*docs)[1].at("kind").as_string() == "Secret");
  CHECK(YamlError("a: 1\n---\nb: 2\n").find("expected a single YAML document") == 0);
}

TEST_CASE("Yaml: malformed input gives line and column, never a crash", "[common][unit]") {
  CHECK(YamlError("a: \"abc\nb: 1\n") ==
        "line 1, column 4: found unexpected end of stream while scanning a quoted scalar");
  CHECK(YamlError("x: 1\na: 'abc\n").rfind("line 2, column 4: found unexpected end of stream", 0) ==
        0);
  CHECK(YamlError("a:\n\tb: 1\n").rfind("line 2, column 3: found a tab character", 0) == 0);
  CHECK(YamlError("a:\n  b: 1\n c: 2\n").rfind("line 3, column 2:", 0) == 0);
  CHECK(YamlError("a: [1, 2\n").rfind("line 2, column 1:", 0) == 0);
  CHECK(YamlError("a: {b: 1\n").rfind("line ", 0) == 0);
  CHECK(YamlError("- a\nb: c\n") == "line 2, column 1: did not find expected <document start>");
  CHECK(ParseYamlDocuments("a: 1\n...\n# c\nb: 2\n...\n")->size() == 2);
  CHECK(YamlError(std::string(100000, '[')).find("nesting too deep") != std::string::npos);
}

TEST_CASE("Yaml: ToYaml writes a Deployment exactly as kubectl -o yaml does", "[common][unit]") {
  const char* json = R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"default","labels":{"app":"web"},
      "annotations":{"deployment.kubernetes.io/revision":"1"},
      "creationTimestamp":"2024-01-02T03:04:05Z","generation":1,"resourceVersion":"123",
      "uid":"0b5c1f7e-1111-2222-3333-444455556666"},
    "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"nginx","image":"nginx:1.25","args":["--port","8080"],
          "ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{}}],
          "restartPolicy":"Always","terminationGracePeriodSeconds":30,"tolerations":[]}}},
    "status":{"availableReplicas":3,"conditions":[{"type":"Available","status":"True"}]}})";
  CHECK(J2Y(json) ==
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  annotations:\n"
        "    deployment.kubernetes.io/revision: \"1\"\n"
        "  creationTimestamp: \"2024-01-02T03:04:05Z\"\n"
        "  generation: 1\n"
        "  labels:\n"
        "    app: web\n"
        "  name: web\n"
        "  namespace: default\n"
        "  resourceVersion: \"123\"\n"
        "  uid: 0b5c1f7e-1111-2222-3333-444455556666\n"
        "spec:\n"
        "  replicas: 3\n"
        "  selector:\n"
        "    matchLabels:\n"
        "      app: web\n"
        "  template:\n"
        "    metadata:\n"
        "      creationTimestamp: null\n"
        "      labels:\n"
        "        app: web\n"
        "    spec:\n"
        "      containers:\n"
        "      - args:\n"
        "        - --port\n"
        "        - \"8080\"\n"
        "        image: nginx:1.25\n"
        "        name: nginx\n"
        "        ports:\n"
        "        - containerPort: 80\n"
        "          protocol: TCP\n"
        "        resources: {}\n"
        "      restartPolicy: Always\n"
        "      terminationGracePeriodSeconds: 30\n"
        "      tolerations: []\n"
        "status:\n"
        "  availableReplicas: 3\n"
        "  conditions:\n"
        "  - status: \"True\"\n"
        "    type: Available\n");
}

TEST_CASE("Yaml: ToYaml writes multi-line ConfigMap data as literal blocks", "[common][unit]") {
  const char* json = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},
    "data":{"nginx.conf":"server {\n  listen 80;\n}\n","strip":"a\nb","keep":"x\n\n",
            "lead":"  indented\nnext\n","trailing":"bad \nspace","empty":""}})";
  CHECK(J2Y(json) ==
        "apiVersion: v1\n"
        "data:\n"
        "  empty: \"\"\n"
        "  keep: |+\n"
        "    x\n"
        "\n"
        "  lead: |2\n"
        "      indented\n"
        "    next\n"
        "  nginx.conf: |\n"
        "    server {\n"
        "      listen 80;\n"
        "    }\n"
        "  strip: |-\n"
        "    a\n"
        "    b\n"
        "  trailing: \"bad \\nspace\"\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: cfg\n");
}

TEST_CASE("Yaml: ToYaml quotes strings only when a plain scalar would change meaning",
          "[common][unit]") {
  CHECK(J2Y(R"(["1","true","yes","on","n","~","null","","1.5","0x1F","1e3","2024-01-01",
                "12:30","-","- a","a: b","a #b","#c","*x","&x","!x","|","@x","`x","%x",
                "{x}","[x]","'q'","\"dq\"","it's","plain text","a:b","x#y","-x","tab\tx",
                " lead","trail ","é","😀","---x"])") ==
        "- \"1\"\n- \"true\"\n- \"yes\"\n- \"on\"\n- \"n\"\n- \"~\"\n- \"null\"\n- \"\"\n"
        "- \"1.5\"\n- \"0x1F\"\n- \"1e3\"\n- \"2024-01-01\"\n- \"12:30\"\n- '-'\n- '- a'\n"
        "- 'a: b'\n- 'a #b'\n- '#c'\n- '*x'\n- '&x'\n- '!x'\n- '|'\n- '@x'\n- '`x'\n- '%x'\n"
        "- '{x}'\n- '[x]'\n- '''q'''\n- '\"dq\"'\n- it's\n- plain text\n- a:b\n- x#y\n- -x\n"
        "- \"tab\\tx\"\n- ' lead'\n- 'trail '\n- é\n- \"\\U0001F600\"\n- '---x'\n");
}

TEST_CASE("Yaml: ToYaml sorts keys as go-yaml does and formats numbers like Go", "[common][unit]") {
  CHECK(J2Y(R"({"b":1,"a10":2,"a2":3,"A":4,"_x":5,"1":6,"a":{"z":[],"y":{}}})") ==
        "_x: 5\n\"1\": 6\nA: 4\na:\n  \"y\": {}\n  z: []\na2: 3\na10: 2\nb: 1\n");
  CHECK(J2Y(R"({"f":1.5,"g":1.0,"h":1e21,"i":0.000001,"j":12345678901234567890,"k":-3,
                "l":true,"m":null})") ==
        "f: 1.5\ng: 1\nh: 1e+21\ni: 1e-06\nj: 12345678901234567890\nk: -3\nl: true\nm: null\n");
  CHECK(J2Y("[[1, 2], [[3]], {}]") == "- - 1\n  - 2\n- - - 3\n- {}\n");
  CHECK(J2Y("{}") == "{}\n");
  CHECK(J2Y("[]") == "[]\n");
}

TEST_CASE("Yaml: ToYaml folds long strings at column 80 like go-yaml", "[common][unit]") {
  std::string words;
  for (int i = 0; i < 30; ++i) words += (i ? " word" : "word") + std::to_string(i);
  bj::value v = {{"description", words}};
  std::string out = ToYaml(v);
  CHECK(out ==
        "description: word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11\n"
        "  word12 word13 word14 word15 word16 word17 word18 word19 word20 word21 word22 word23\n"
        "  word24 word25 word26 word27 word28 word29\n");
  CHECK(ParseYaml(out)->at("description").as_string() == words);
}

TEST_CASE("Yaml: ToYaml output reads back to the same JSON", "[common][unit]") {
  const char* json = R"({"a":"x\n\n","b":" lead","c":"trail ","d":"a: b","e":"1","f":[{},[],""],
    "g":{"h":"multi\nline\ttab"},"i":"it's \"quoted\"","j":"ü","k":12345678901234567890,
    "l":-0.5,"m":"#not comment","n":"- dash","o":"long text with many words that goes on and on )"
                     R"(and on past the eighty column limit so that it must be folded: yes it must",
    "p":"\u0001ctl","q":"tail\n","r":"\n\nlead breaks"})";
  bj::value original = *ParseJson(json);
  // Keys that cannot be simple keys: multi-line, and longer than 128 bytes ("? key" form).
  original.as_object()["multi\nline key"] = 1;
  original.as_object()[std::string(130, 'k')] = bj::array{1, 2};
  // LS (U+2028) is a line break to YAML 1.1 but content to 1.2 readers: written escaped.
  original.as_object()["ls"] = "a\u2028b";
  std::string yaml = ToYaml(original);
  CHECK(yaml.find("ls: \"a\\Lb\"\n") != std::string::npos);
  CHECK(yaml.find("? |-\n  multi\n  line key\n: 1\n") != std::string::npos);
  auto back = ParseYaml(yaml);
  INFO(yaml);
  REQUIRE(back.has_value());
  CHECK(ToYaml(*back) == yaml);
  CHECK(*back == original);
}

TEST_CASE("Yaml: input that stalls yaml-cpp is an error, not an endless loop", "[common][unit]") {
  // yaml-cpp 0.7 reports empty documents at one position forever for `--- ,` (found by
  // test/fuzz/yaml); a request body like this used to hang a server worker at full CPU.
  for (const char* text : {"--- ,", "--- ,\n", "a: 1\n--- ,\n"}) {
    auto one = ParseYaml(text);
    REQUIRE_FALSE(one.ok());
    CHECK(one.error().code() == Code::kBadRequest);
    CHECK(one.error().message() == "yaml: the parser made no progress");
    auto docs = ParseYamlDocuments(text);
    REQUIRE_FALSE(docs.ok());
  }
  // Legitimate empty and repeated documents still parse.
  auto docs = ParseYamlDocuments("---\n---\na: 1\n---\n");
  REQUIRE(docs.ok());
  CHECK(docs->size() == 1);
}

TEST_CASE("Yaml: YamlPlainScalarIsNotString flags strings that need quotes", "[common][unit]") {
  for (const char* s : {"1", "-1", "1.5", "true", "No", "off", "", "~", "null", "2024-01-01",
                        "1:30", "0o7", ".5", ".inf"}) {
    INFO(s);
    CHECK(YamlPlainScalarIsNotString(s));
  }
  for (const char* s : {"hello", "1.2.3", "0x", "a1", "nginx:1.25", "yess", "<<", "2024-13-01"}) {
    INFO(s);
    CHECK_FALSE(YamlPlainScalarIsNotString(s));
  }
}

}  // namespace
}  // namespace mini8s
