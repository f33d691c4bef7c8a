// Bounded fuzzing of the common decoders that see untrusted bytes (request bodies, manifests,
// flag values): every input must come back as a value or a Status, never a crash or an exception.
#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "mini8s/common/flags.h"
#include "mini8s/common/json.h"
#include "mini8s/common/yaml.h"
#include "unit/common/fuzz_util.h"

namespace mini8s {
namespace {

constexpr int kCases = 3000;

const std::vector<std::string> kJsonSeeds = {
    R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"x":"y"}},)"
    R"("spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80}]}]}})",
    R"([1,-2,3.5,1e300,18446744073709551615,true,false,null,"\u00e9\ud83d\ude00"])",
    R"({"a":{"a":{"a":[[[{"b":"c"}]]]}},"a":1})",
};

const std::vector<std::string> kYamlSeeds = {
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: {x: y}\nspec:\n  containers:\n"
    "  - name: c\n    image: i\n    args: [\"a\", 'b', c]\n",
    "a: &x {b: [1, 2.5, ~, yes, 0x1F, .inf]}\nc: *x\nd: |\n  text\n  more\n---\n- !!str 1\n- ? k\n"
    "  : v\n",
    "x:\n  - - - {a: [b, {c: d}]}\n<<: {m: 1}\n\"q\": 'r'\n",
};

const std::vector<std::string> kDict = {
    "{",   "}",       "[",     "]",  ":",    ",",   "\"",          "'",  "-",    "\n",
    "  ",  "&a",      "*a",    "!!", "<<",   "---", "...",         "?",  "|",    ">",
    "\\u", "\\ud800", "1e999", "-0", "null", "#",   "%YAML 1.2\n", "\t", "\xff", "\xc3"};

TEST_CASE("Fuzz: mutated JSON texts parse to a value or a Status and round-trip when valid",
          "[common][unit]") {
  testing::Mutator m(1234, kDict);
  int ok = 0;
  for (int i = 0; i < kCases; ++i) {
    std::string in = m.Mutate(kJsonSeeds[m.Below(kJsonSeeds.size())]);
    std::vector<std::string> dups;
    JsonParseOptions opts;
    opts.duplicate_fields = &dups;
    try {
      auto r = ParseJson(in, opts);
      if (r.has_value()) {
        ++ok;
        // Whatever we accept we must be able to write and read back.
        auto again = ParseJson(SerializeJson(*r));
        REQUIRE(again.has_value());
        (void)PrettyJson(*r);
        (void)ToYaml(*r);
      }
    } catch (const std::exception& e) {
      FAIL("exception escaped for input " << in << ": " << e.what());
    }
  }
  CHECK(ok > 0);  // the fuzzer must exercise the success path too
}

TEST_CASE("Fuzz: mutated YAML texts parse to a value or a Status", "[common][unit]") {
  testing::Mutator m(5678, kDict);
  int ok = 0;
  for (int i = 0; i < kCases; ++i) {
    std::string in = m.Mutate(kYamlSeeds[m.Below(kYamlSeeds.size())]);
    try {
      YamlParseOptions opts;
      opts.reject_duplicate_keys = (i % 2) == 0;
      std::vector<std::string> dups;
      opts.duplicate_fields = &dups;
      auto r = ParseYaml(in, opts);
      if (r.has_value()) {
        ++ok;
        (void)ToYaml(*r);
        (void)SerializeJson(*r);
      }
      (void)ParseYamlDocuments(in, opts);
    } catch (const std::exception& e) {
      FAIL("exception escaped for input " << in << ": " << e.what());
    }
  }
  CHECK(ok > 0);
}

TEST_CASE("Fuzz: mutated Go durations parse to a value or a Status", "[common][unit]") {
  testing::Mutator m(91, {"ns", "us", "µs", "ms", "s", "m", "h", ".", "-", "+", "9999999999"});
  const std::vector<std::string> seeds = {"1h30m", "300ms", "-1.5h", "2562047h47m16.854775807s",
                                          "0",     ".5s"};
  for (int i = 0; i < kCases; ++i) {
    std::string in = m.Mutate(seeds[m.Below(seeds.size())]);
    try {
      auto r = ParseGoDuration(in);
      if (r.has_value()) (void)FormatGoDuration(*r);
    } catch (const std::exception& e) {
      FAIL("exception escaped for input " << in << ": " << e.what());
    }
  }
}

TEST_CASE("Json: nesting at the depth limit parses, serializes and is destroyed without a crash",
          "[common][unit]") {
  std::string deep(kMaxJsonDepth, '[');
  deep.append(kMaxJsonDepth, ']');
  auto r = ParseJson(deep);
  REQUIRE(r.has_value());
  CHECK(SerializeJson(*r).size() == deep.size());
  std::string deeper(kMaxJsonDepth + 1, '[');
  deeper.append(kMaxJsonDepth + 1, ']');
  CHECK_FALSE(ParseJson(deeper).has_value());
}

TEST_CASE("Yaml: very deep nesting is a Status, not a stack overflow", "[common][unit]") {
  std::string deep(100000, '[');
  deep.append(100000, ']');
  auto r = ParseYaml(deep);
  CHECK_FALSE(r.has_value());
  std::string block;
  for (int i = 0; i < 20000; ++i) block += "- ";
  block += "x\n";
  auto b = ParseYaml(block);
  CHECK_FALSE(b.has_value());
}

TEST_CASE("Json: dotted path with an index that overflows size_t finds nothing", "[common][unit]") {
  auto v = ParseJson(R"({"a":[10,20]})");
  REQUIRE(v.has_value());
  // 2^64 + 1 wraps to 1 if the index parse overflows.
  CHECK(JsonFind(*v, "a[18446744073709551617]") == nullptr);
  CHECK(JsonFind(*v, "a[1]") != nullptr);
}

}  // namespace
}  // namespace mini8s

namespace mini8s {
namespace {

// A body repeating one key many times deep inside an object: reporting a deep path for every
// repetition would cost time and memory quadratic in the body size.
std::string DeepDuplicates(std::size_t depth, std::size_t repeats, bool yaml) {
  std::string text;
  if (yaml) {
    for (std::size_t i = 0; i < depth; ++i) text += "a: {";
    for (std::size_t i = 0; i < repeats; ++i) text += "k: 1, ";
    text += "k: 1";
    text.append(depth, '}');
    return text;
  }
  for (std::size_t i = 0; i < depth; ++i) text += "{\"a\":";
  text += "{";
  for (std::size_t i = 0; i < repeats; ++i) text += "\"k\":1,";
  text += "\"k\":1}";
  text.append(depth, '}');
  return text;
}

TEST_CASE("Json: reported duplicate fields are capped so repeated keys stay linear",
          "[common][unit]") {
  std::vector<std::string> dups;
  JsonParseOptions opts;
  opts.duplicate_fields = &dups;
  auto r = ParseJson(DeepDuplicates(2000, 50000, false), opts);
  REQUIRE(r.has_value());
  CHECK(dups.size() == 1000);
  CHECK(dups.front().substr(0, 4) == "a.a.");
  // Rejecting still names the first duplicate.
  JsonParseOptions strict;
  strict.reject_duplicate_keys = true;
  auto s = ParseJson(R"({"a":{"b":1,"b":2}})", strict);
  REQUIRE_FALSE(s.has_value());
  CHECK_THAT(s.error().message(), Catch::Contains("duplicate field \"a.b\""));
}

TEST_CASE("Yaml: reported duplicate fields are capped so repeated keys stay linear",
          "[common][unit]") {
  std::vector<std::string> dups;
  YamlParseOptions opts;
  opts.reject_duplicate_keys = false;
  opts.duplicate_fields = &dups;
  auto r = ParseYaml(DeepDuplicates(50, 5000, true), opts);
  REQUIRE(r.has_value());
  CHECK(dups.size() == 1000);
}

}  // namespace
}  // namespace mini8s

namespace mini8s {
namespace {

TEST_CASE("Json: objects nested to the depth limit serialize and copy", "[common][unit]") {
  std::string text;
  for (std::size_t i = 0; i + 1 < kMaxJsonDepth; ++i) text += R"({"a":)";
  text += "1";
  text.append(kMaxJsonDepth - 1, '}');
  auto v = ParseJson(text);
  REQUIRE(v.has_value());
  CHECK(SerializeJson(*v) == text);
  // PrettyJson and ToYaml are not run at this depth: they indent every level, so their output is
  // quadratic in the depth (100-200 MB here) and takes seconds; they do not crash.
  boost::json::value copy = *v;
  CHECK(SerializeJson(copy) == text);  // not ==: Boost's operator== is quadratic in the depth
}

}  // namespace
}  // namespace mini8s
