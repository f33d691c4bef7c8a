#include "mini8s/common/clock.h"

#include <catch2/catch.hpp>

#include "testutil/fake_clock.h"

namespace mini8s {
namespace {

using std::chrono::system_clock;

TEST_CASE("Clock: RFC 3339 formats in UTC at second, micro and nano precision", "[common][unit]") {
  system_clock::time_point t{std::chrono::seconds(1764099722) + std::chrono::nanoseconds(123456789)};
  CHECK(FormatRfc3339(t) == "2025-11-25T19:42:02Z");
  CHECK(FormatRfc3339Micro(t) == "2025-11-25T19:42:02.123456Z");
  CHECK(FormatRfc3339Nano(t) == "2025-11-25T19:42:02.123456789Z");
}

TEST_CASE("Clock: RFC 3339 parses fractions and offsets, and rejects garbage", "[common][unit]") {
  auto t = ParseRfc3339("2025-11-25T19:42:02.5Z");
  REQUIRE(t.has_value());
  CHECK(FormatRfc3339Micro(*t) == "2025-11-25T19:42:02.500000Z");
  auto off = ParseRfc3339("2025-11-25T21:42:02+02:00");
  REQUIRE(off.has_value());
  CHECK(FormatRfc3339(*off) == "2025-11-25T19:42:02Z");
  CHECK_FALSE(ParseRfc3339("2025-11-25").has_value());
  CHECK_FALSE(ParseRfc3339("2025-13-25T19:42:02Z").has_value());
  CHECK_FALSE(ParseRfc3339("2025-11-25T19:42:02Zjunk").has_value());
  CHECK(ParseRfc3339("nope").error().code() == Code::kInvalid);
}

TEST_CASE("Clock: RFC 3339 calendar edges: leap days, pre-1970, day and second carry-over",
          "[common][unit]") {
  auto round_trip = [](std::string_view text) {
    auto t = ParseRfc3339(text);
    return t.has_value() ? FormatRfc3339(*t) : std::string("invalid");
  };
  CHECK(round_trip("2024-02-29T23:59:59Z") == "2024-02-29T23:59:59Z");
  CHECK(round_trip("2000-03-01T00:00:00Z") == "2000-03-01T00:00:00Z");
  CHECK(round_trip("1969-12-31T23:59:59Z") == "1969-12-31T23:59:59Z");
  CHECK(round_trip("1970-01-01T00:00:00Z") == "1970-01-01T00:00:00Z");
  CHECK(round_trip("1900-01-01T12:00:00Z") == "1900-01-01T12:00:00Z");
  // As timegm: a day past the month's end and a leap second carry into what follows.
  CHECK(round_trip("2023-02-30T00:00:00Z") == "2023-03-02T00:00:00Z");
  CHECK(round_trip("2016-12-31T23:59:60Z") == "2017-01-01T00:00:00Z");
  CHECK(round_trip("2024-01-01T00:30:00+01:00") == "2023-12-31T23:30:00Z");
  // Fractions of a second before 1970 still format the whole second below them.
  system_clock::time_point before{std::chrono::seconds(-1) + std::chrono::milliseconds(250)};
  CHECK(FormatRfc3339Micro(before) == "1969-12-31T23:59:59.250000Z");
}

TEST_CASE("FakeClock: moves only when advanced", "[common][unit]") {
  testutil::FakeClock clock;
  auto a = clock.Now();
  auto m = clock.Monotonic();
  clock.Advance(std::chrono::seconds(40));
  CHECK(clock.Now() - a == std::chrono::seconds(40));
  CHECK(clock.Monotonic() - m == std::chrono::seconds(40));
}

}  // namespace
}  // namespace mini8s

namespace mini8s {
namespace {

TEST_CASE("Clock: RFC 3339 times beyond the nanosecond range are refused, not wrapped",
          "[common][unit]") {
  // Year 9999 is a valid RFC 3339 time, but int64 nanoseconds end in 2262: converting it used to
  // overflow into a time in the past.
  CHECK_FALSE(ParseRfc3339("9999-12-31T23:59:59Z").has_value());
  CHECK_FALSE(ParseRfc3339("1000-01-01T00:00:00Z").has_value());
  auto near_end = ParseRfc3339("2262-01-01T00:00:00Z");
  REQUIRE(near_end.has_value());
  CHECK(FormatRfc3339(*near_end) == "2262-01-01T00:00:00Z");
}

}  // namespace
}  // namespace mini8s
