#include "mini8s/api/quantity.h"

#include <catch2/catch.hpp>

namespace mini8s::api {
namespace {

Quantity Q(std::string_view s) {
  auto q = Quantity::Parse(s);
  REQUIRE(q.has_value());
  return *q;
}

TEST_CASE("Quantity: parses every form and prints upstream's canonical string",
          "[api_validation][unit]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"0", "0"},
      {"100m", "100m"},
      {"1000m", "1"},
      {"0.1", "100m"},
      {"1.5", "1500m"},
      {"1e3", "1e3"},
      {"1.1e3", "1100"},
      {"12e6", "12e6"},
      {"1.5Gi", "1536Mi"},
      {"1Gi", "1Gi"},
      {"1024Ki", "1Mi"},
      {"0.5Gi", "512Mi"},
      {"1536", "1536"},
      {"2000", "2k"},
      {"12Mi", "12Mi"},
      {"16Mi", "16Mi"},
      {"0.5Ki", "512"},
      {"1n", "1n"},
      {"0.0000000001", "1n"},
      {"-1", "-1"},
      {"-100m", "-100m"},
      {"10M", "10M"},
      {"1000k", "1M"},
      {"1.5M", "1500k"},
      {"500Mi", "500Mi"},
      {"1Ti", "1Ti"},
      {"5e-3", "5e-3"},
      {"0.001", "1m"},
      {"1E", "1E"},
      {"2Ei", "2Ei"},
      {"0Ki", "0"},
      {"1.0", "1"},
      {"1.23456789", "1234567890n"},
      {"100000000000000000000", "100E"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(Q(c.in).String() == c.out);
  }
}

TEST_CASE("Quantity: canonical strings print back verbatim and alternates canonicalize",
          "[api_validation][unit]") {
  // Upstream's documented canonical forms, each with an equivalent spelling ("" = none).
  struct Case {
    const char* canonical;
    const char* alternate;
  };
  const Case cases[] = {
      {"1Gi", "1024Mi"},
      {"300Mi", "307200Ki"},
      {"6Ki", ""},
      {"1001Gi", "1025024Mi"},
      {"1Ti", "1024Gi"},
      {"5", "5000m"},
      {"500m", "0.5"},
      {"1G", "1000M"},
      {"1G", "0.001T"},
      {"1m", "1000u"},
      {"80m", ""},
      {"1080m", "1.08"},
      {"1080m", "1080000000n"},
      {"300M", ""},
      {"1T", ""},
      {"1234567M", ""},
      {"1234567m", ""},
      {"3k", ""},
      {"1025", ""},
      {"0", "00"},
      {"1e9", ".001e12"},
      {"1e-3", "0.001e0"},
      {"1e-9", "1000e-12"},
      {"80e-3", ""},
      {"300e6", ""},
      {"1e12", ""},
      {"3e3", ""},
      {"1n", ""},
      {"80n", ""},
      {"1080n", ""},
      {"1u", ""},
      {"80u", ""},
      {"1080u", ""},
  };
  for (const auto& c : cases) {
    INFO(c.canonical);
    CHECK(Q(c.canonical).String() == c.canonical);
    if (*c.alternate != 0) {
      INFO(c.alternate);
      CHECK(Q(c.alternate).String() == c.canonical);
      CHECK(Q(c.alternate) == Q(c.canonical));
    }
  }
}

TEST_CASE("Quantity: malformed input gets upstream's messages", "[api_validation][unit]") {
  const std::string wrong =
      "quantities must match the regular expression "
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  for (const char* bad : {"", "abc", "1.2.3", "1Z", "1 Gi", "1.5e3x"}) {
    INFO(bad);
    auto q = Quantity::Parse(bad);
    REQUIRE_FALSE(q.has_value());
    CHECK(q.error().message() == wrong);
  }
  for (const char* bad : {"1ki", "1e", "1Mm", "1iK", "--1"}) {
    INFO(bad);
    auto q = Quantity::Parse(bad);
    REQUIRE_FALSE(q.has_value());
    CHECK(q.error().message() == "unable to parse quantity's suffix");
  }
}

TEST_CASE("Quantity: Value and MilliValue round away from zero", "[api_validation][unit]") {
  CHECK(Q("1.5").MilliValue() == 1500);
  CHECK(Q("1.5").Value() == 2);
  CHECK(Q("100m").Value() == 1);
  CHECK(Q("100m").MilliValue() == 100);
  CHECK(Q("1n").MilliValue() == 1);
  CHECK(Q("-1.5").Value() == -2);
  CHECK(Q("1Gi").Value() == 1073741824);
  CHECK(Q("2k").Value() == 2000);
  CHECK(Q("1e3").MilliValue() == 1000000);
  CHECK(Q("0").Value() == 0);
}

TEST_CASE("Quantity: comparison is exact across suffixes and scales", "[api_validation][unit]") {
  CHECK(Q("1000m") == Q("1"));
  CHECK(Q("1Gi") > Q("1G"));
  CHECK(Q("1Ki") == Q("1024"));
  CHECK(Q("100m") < Q("0.2"));
  CHECK(Q("-1") < Q("0"));
  CHECK(Q("-2") < Q("-1"));
  CHECK(Q("1e30").Cmp(Q("1n")) == 1);
  CHECK(Q("1.5Gi") == Q("1536Mi"));
}

TEST_CASE("Quantity: Add and Sub are exact and reset the cached text", "[api_validation][unit]") {
  Quantity a = Q("100m");
  REQUIRE(a.Add(Q("900m")));
  CHECK(a.String() == "1");
  Quantity b = Q("1");
  REQUIRE(b.Sub(Q("100m")));
  CHECK(b.String() == "900m");
  Quantity zero;
  REQUIRE(zero.Add(Q("1Gi")));
  CHECK(zero.String() == "1Gi");  // a zero takes the format of what is added
  Quantity mem = Q("512Mi");
  REQUIRE(mem.Add(Q("512Mi")));
  CHECK(mem.String() == "1Gi");
  CHECK(Quantity::FromMilli(1500).String() == "1500m");
  CHECK(Quantity::FromInt(2048, Quantity::Format::kBinarySI).String() == "2Ki");
}

}  // namespace
}  // namespace mini8s::api
