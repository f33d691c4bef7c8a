#include "mini8s/controllers/cron_schedule.h"

#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "mini8s/common/clock.h"

namespace mini8s::controllers {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

TimePoint T(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  REQUIRE(t.has_value());
  return *t;
}

std::string Fmt(std::optional<TimePoint> t) { return t ? FormatRfc3339(*t) : "never"; }

// The next time after `from` as UTC RFC 3339.
std::string NextOf(const std::string& spec, const std::string& from, const TimeZone& zone = {},
                   DstRepeat repeat = DstRepeat::kTwice) {
  auto s = CronSchedule::Parse(spec);
  REQUIRE(s.has_value());
  return Fmt(s->Next(T(from), zone, repeat));
}

const TimeZone& Zone(const std::string& name) {
  static std::map<std::string, TimeZone> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto tz = TimeZone::Load(name);
    REQUIRE(tz.has_value());
    it = cache.emplace(name, std::move(*tz)).first;
  }
  return it->second;
}

TEST_CASE("CronSchedule: rejects malformed schedules, @every and TZ prefixes",
          "[ctrl_batch][unit]") {
  for (const char* bad : {"",
                          "* * * *",
                          "* * * * * *",
                          "60 * * * *",
                          "* 24 * * *",
                          "* * 0 * *",
                          "* * 32 * *",
                          "* * * 0 *",
                          "* * * 13 *",
                          "* * * * 7",
                          "5-1 * * * *",
                          "*/0 * * * *",
                          "1/2/3 * * * *",
                          "1-2-3 * * * *",
                          "a * * * *",
                          "-1 * * * *",
                          "* * * FOO *",
                          "@every 5m",
                          "@every",
                          "@fortnightly",
                          "@daily extra",
                          "TZ=UTC 0 * * * *",
                          "CRON_TZ=Europe/Berlin 0 * * * *"}) {
    INFO(bad);
    CHECK_FALSE(CronSchedule::Parse(bad).has_value());
  }
  auto tz = CronSchedule::Parse("TZ=America/New_York 0 5 * * *");
  REQUIRE_FALSE(tz.has_value());
  CHECK(tz.error().message().find("timeZone") != std::string::npos);
}

TEST_CASE("CronSchedule: steps, ranges, lists and names", "[ctrl_batch][unit]") {
  CHECK(NextOf("*/15 * * * *", "2012-07-09T14:46:00Z") == "2012-07-09T15:00:00Z");
  CHECK(NextOf("*/15 * * * *", "2012-07-09T14:59:59Z") == "2012-07-09T15:00:00Z");
  // The next minute strictly after: at 15:00 exactly, the following quarter.
  CHECK(NextOf("*/15 * * * *", "2012-07-09T15:00:00Z") == "2012-07-09T15:15:00Z");
  CHECK(NextOf("5/15 * * * *", "2012-07-09T15:06:00Z") == "2012-07-09T15:20:00Z");
  CHECK(NextOf("5/15 * * * *", "2012-07-09T15:51:00Z") == "2012-07-09T16:05:00Z");
  CHECK(NextOf("20-35/15 * * * *", "2012-07-09T15:45:00Z") == "2012-07-09T16:20:00Z");
  CHECK(NextOf("20-35/15 * * * *", "2012-07-09T23:45:00Z") == "2012-07-10T00:20:00Z");
  CHECK(NextOf("0,30 9-17 * * MON-FRI", "2012-07-06T17:30:00Z") == "2012-07-09T09:00:00Z");
  CHECK(NextOf("0 0 * jul,Aug sun", "2012-06-01T00:00:00Z") == "2012-07-01T00:00:00Z");
  CHECK(NextOf("0 0 9 Apr-Oct ?", "2012-07-09T23:35:00Z") == "2012-08-09T00:00:00Z");
  CHECK(NextOf("0 0 * Feb Mon", "2012-07-09T23:35:00Z") == "2013-02-04T00:00:00Z");
  CHECK(NextOf("? * * * *", "2012-07-09T23:35:00Z") == "2012-07-09T23:36:00Z");
  CHECK(NextOf("59 23 31 12 *", "2012-12-31T23:59:00Z") == "2013-12-31T23:59:00Z");
}

TEST_CASE("CronSchedule: descriptors expand to their five-field forms", "[ctrl_batch][unit]") {
  const std::string from = "2012-07-09T15:04:00Z";  // a Monday
  CHECK(NextOf("@hourly", from) == "2012-07-09T16:00:00Z");
  CHECK(NextOf("@daily", from) == "2012-07-10T00:00:00Z");
  CHECK(NextOf("@midnight", from) == "2012-07-10T00:00:00Z");
  CHECK(NextOf("@weekly", from) == "2012-07-15T00:00:00Z");
  CHECK(NextOf("@monthly", from) == "2012-08-01T00:00:00Z");
  CHECK(NextOf("@yearly", from) == "2013-01-01T00:00:00Z");
  CHECK(NextOf("@annually", from) == "2013-01-01T00:00:00Z");
}

TEST_CASE("CronSchedule: day-of-month and day-of-week match either unless one is a star",
          "[ctrl_batch][unit]") {
  auto matches = [](const std::string& spec, CivilTime c) {
    auto s = CronSchedule::Parse(spec);
    REQUIRE(s.has_value());
    return s->Matches(c);
  };
  const CivilTime sun_jul_15{2012, 7, 15, 0, 0, 0};
  const CivilTime fri_jun_15{2012, 6, 15, 0, 0, 0};
  const CivilTime wed_aug_1{2012, 8, 1, 0, 0, 0};
  const CivilTime mon_jul_9{2012, 7, 9, 0, 0, 0};
  CHECK(sun_jul_15.weekday() == 0);
  CHECK(matches("0 0 1,15 * Sun", sun_jul_15));
  CHECK(matches("0 0 1,15 * Sun", fri_jun_15));
  CHECK(matches("0 0 1,15 * Sun", wed_aug_1));
  CHECK_FALSE(matches("0 0 1,15 * Sun", mon_jul_9));
  // A star (or ?) in either field: both must match.
  CHECK_FALSE(matches("0 0 * * Mon", sun_jul_15));
  CHECK_FALSE(matches("0 0 1,15 * *", mon_jul_9));
  CHECK(matches("0 0 1,15 * ?", sun_jul_15));
  // A stepped star is not a star any more (robfig/cron #70).
  CHECK(matches("0 0 */10 * Sun", sun_jul_15));
  CHECK(matches("0 0 */2 * Sun", sun_jul_15));
  // */1 still is.
  CHECK_FALSE(matches("0 0 */1 * Mon", sun_jul_15));
  CHECK(NextOf("0 0 13 * FRI", "2026-01-01T00:00:00Z") == "2026-01-02T00:00:00Z");
}

TEST_CASE("CronSchedule: Feb 29 only in leap years and impossible dates never fire",
          "[ctrl_batch][unit]") {
  CHECK(NextOf("0 0 29 2 *", "2026-01-01T00:00:00Z") == "2028-02-29T00:00:00Z");
  CHECK(NextOf("0 0 29 2 *", "2028-02-29T00:00:00Z") == "2032-02-29T00:00:00Z");
  // 2100 is not a leap year, and 2104 lies beyond the five-year search horizon (robfig/cron).
  CHECK(NextOf("0 0 29 2 *", "2096-03-01T00:00:00Z") == "never");
  CHECK(NextOf("0 0 30 2 *", "2026-01-01T00:00:00Z") == "never");
  CHECK(NextOf("0 0 31 4 *", "2026-01-01T00:00:00Z") == "never");
  CHECK(NextOf("0 0 31 * *", "2026-04-01T00:00:00Z") == "2026-05-31T00:00:00Z");
}

TEST_CASE("CronSchedule: America/New_York spring forward skips the missing hour",
          "[ctrl_batch][unit]") {
  const TimeZone& ny = Zone("America/New_York");
  // 2026-03-08 02:00 EST jumps to 03:00 EDT: a 02:30 daily run does not happen that day.
  CHECK(NextOf("30 2 * * *", "2026-03-07T08:00:00Z", ny) == "2026-03-09T06:30:00Z");
  CHECK(NextOf("30 2 * * *", "2026-03-06T08:00:00Z", ny) == "2026-03-07T07:30:00Z");
  // Hourly: 01:00 EST is followed by 03:00 EDT, one real hour later.
  CHECK(NextOf("0 * * * *", "2026-03-08T06:00:00Z", ny) == "2026-03-08T07:00:00Z");
  CHECK(NextOf("0 1 * * *", "2026-03-08T06:00:00Z", ny) == "2026-03-09T05:00:00Z");
  // robfig/cron's own case: 02:30 on March 11 is missing in 2012, next is 2013.
  CHECK(NextOf("30 2 11 Mar ?", "2012-03-11T05:00:00Z", ny) == "2013-03-11T06:30:00Z");
}

TEST_CASE("CronSchedule: America/New_York fall back fires a repeated time twice, or once",
          "[ctrl_batch][unit]") {
  const TimeZone& ny = Zone("America/New_York");
  // 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens at 05:30Z and at 06:30Z.
  CHECK(NextOf("30 1 * * *", "2026-11-01T04:00:00Z", ny) == "2026-11-01T05:30:00Z");
  CHECK(NextOf("30 1 * * *", "2026-11-01T05:30:00Z", ny) == "2026-11-01T06:30:00Z");
  CHECK(NextOf("30 1 * * *", "2026-11-01T06:30:00Z", ny) == "2026-11-02T06:30:00Z");
  CHECK(NextOf("30 1 * * *", "2026-11-01T05:30:00Z", ny, DstRepeat::kOnce) ==
        "2026-11-02T06:30:00Z");
  // From 01:45 EDT the next 01:30 is the EST one (robfig/cron's test).
  CHECK(NextOf("30 1 * * *", "2026-11-01T05:45:00Z", ny) == "2026-11-01T06:30:00Z");
  // Times outside the repeated hour are unaffected.
  CHECK(NextOf("30 2 * * *", "2026-11-01T04:00:00Z", ny) == "2026-11-01T07:30:00Z");
  CHECK(NextOf("0 * * * *", "2026-11-01T05:00:00Z", ny) == "2026-11-01T06:00:00Z");
  CHECK(NextOf("0 * * * *", "2026-11-01T05:00:00Z", ny, DstRepeat::kOnce) ==
        "2026-11-01T07:00:00Z");
}

TEST_CASE("CronSchedule: Europe/Berlin transitions skip and repeat 02:30", "[ctrl_batch][unit]") {
  const TimeZone& berlin = Zone("Europe/Berlin");
  // 2026-03-29 02:00 CET -> 03:00 CEST.
  CHECK(NextOf("30 2 * * *", "2026-03-28T12:00:00Z", berlin) == "2026-03-30T00:30:00Z");
  // 2026-10-25 03:00 CEST -> 02:00 CET.
  CHECK(NextOf("30 2 * * *", "2026-10-24T12:00:00Z", berlin) == "2026-10-25T00:30:00Z");
  CHECK(NextOf("30 2 * * *", "2026-10-25T00:30:00Z", berlin) == "2026-10-25T01:30:00Z");
  CHECK(NextOf("30 2 * * *", "2026-10-25T00:30:00Z", berlin, DstRepeat::kOnce) ==
        "2026-10-26T01:30:00Z");
  CHECK(NextOf("0 12 * * *", "2026-07-01T00:00:00Z", berlin) == "2026-07-01T10:00:00Z");
  CHECK(NextOf("0 12 * * *", "2026-12-01T00:00:00Z", berlin) == "2026-12-01T11:00:00Z");
}

TEST_CASE("TimeZone: offsets from TZif data and the POSIX footer", "[ctrl_batch][unit]") {
  const TimeZone& ny = Zone("America/New_York");
  auto unix = [](const std::string& s) {
    return std::chrono::duration_cast<std::chrono::seconds>(T(s).time_since_epoch()).count();
  };
  CHECK(ny.OffsetAt(unix("2026-07-01T12:00:00Z")) == -4 * 3600);
  CHECK(ny.OffsetAt(unix("2026-01-01T12:00:00Z")) == -5 * 3600);
  // Far beyond any listed transition: the footer rule decides.
  CHECK(ny.OffsetAt(unix("2090-07-01T12:00:00Z")) == -4 * 3600);
  CHECK(ny.OffsetAt(unix("2090-12-01T12:00:00Z")) == -5 * 3600);
  CHECK(ny.FormatRfc3339(unix("2026-03-08T07:00:00Z")) == "2026-03-08T03:00:00-04:00");
  CHECK(ny.FromCivil({2026, 3, 8, 2, 30, 0}).empty());
  CHECK(ny.FromCivil({2026, 11, 1, 1, 30, 0}).size() == 2);
  CHECK(ny.FromCivil({2026, 6, 1, 1, 30, 0}).size() == 1);
  const TimeZone& tokyo = Zone("Asia/Tokyo");
  CHECK(tokyo.OffsetAt(unix("2026-07-01T12:00:00Z")) == 9 * 3600);
  CHECK(NextOf("0 9 * * *", "2026-07-01T00:00:00Z", tokyo) == "2026-07-02T00:00:00Z");
  CHECK(TimeZone().FormatRfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(TimeZone::Load("").has_value());
  CHECK(TimeZone::Load("UTC").has_value());
  CHECK(TimeZone::Load("Mars/Olympus_Mons").error().code() == Code::kNotFound);
  CHECK(TimeZone::Load("../../etc/passwd").error().code() == Code::kInvalid);
  CHECK(TimeZone::Load("/etc/passwd").error().code() == Code::kInvalid);
  CHECK_FALSE(TimeZone::FromTzif("bad", "not a tzif file at all, certainly not").has_value());
}

}  // namespace
}  // namespace mini8s::controllers

namespace mini8s::controllers {
namespace {

// Next agrees with a minute-by-minute scan: with kTwice every instant whose wall time matches
// fires; with kOnce only the first instant of each wall time does.
TEST_CASE("CronSchedule: Next matches a brute-force scan across DST transitions",
          "[ctrl_batch][unit]") {
  struct Window {
    const char* zone;
    const char* from;
  };
  const Window windows[] = {{"America/New_York", "2026-03-07T00:00:00Z"},
                            {"America/New_York", "2026-10-31T00:00:00Z"},
                            {"Europe/Berlin", "2026-03-28T00:00:00Z"},
                            {"Europe/Berlin", "2026-10-24T00:00:00Z"},
                            {"Australia/Lord_Howe", "2026-04-04T00:00:00Z"}};
  const char* specs[] = {"*/15 * * * *", "30 1 * * *",    "0 2 * * *",
                         "0 * * * *",    "*/7 1-3 * * *", "30 2 * * 0"};
  for (const Window& w : windows) {
    const TimeZone& zone = Zone(w.zone);
    const int64_t start =
        std::chrono::duration_cast<std::chrono::seconds>(T(w.from).time_since_epoch()).count();
    const int64_t end = start + 3 * 86400;
    for (const char* spec : specs) {
      for (DstRepeat repeat : {DstRepeat::kTwice, DstRepeat::kOnce}) {
        INFO(w.zone << " " << spec << (repeat == DstRepeat::kOnce ? " once" : " twice"));
        auto sched = CronSchedule::Parse(spec);
        REQUIRE(sched.has_value());
        std::vector<int64_t> expected, actual;
        for (int64_t t = start + 60; t < end; t += 60) {
          CivilTime c = zone.ToCivil(t);
          if (!sched->Matches(c)) continue;
          if (repeat == DstRepeat::kOnce && zone.FromCivil(c).front() != t) continue;
          expected.push_back(t);
        }
        TimePoint cur{std::chrono::seconds(start)};
        for (;;) {
          auto next = sched->Next(cur, zone, repeat);
          REQUIRE(next);
          int64_t n =
              std::chrono::duration_cast<std::chrono::seconds>(next->time_since_epoch()).count();
          if (n >= end) break;
          actual.push_back(n);
          cur = *next;
        }
        CHECK(actual == expected);
      }
    }
  }
}

}  // namespace
}  // namespace mini8s::controllers
