// Cron schedules and IANA time zones for the CronJob controller.
//
// CronSchedule parses the standard five-field cron syntax the Kubernetes CronJob API accepts
// (robfig/cron v3's ParseStandard): minute hour day-of-month month day-of-week, with `*`, `?`
// (day fields only), ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (a to the field's maximum),
// lists, case-insensitive names JAN-DEC and SUN-SAT, and the descriptors @yearly @annually
// @monthly @weekly @daily @midnight @hourly. `@every` and `TZ=`/`CRON_TZ=` prefixes are rejected:
// Kubernetes takes the zone from spec.timeZone instead. Day-of-month and day-of-week combine as in
// cron: if either field is a bare `*`/`?` (or `*/1`) both must match, otherwise either may match.
//
// Next(t) returns the first scheduled instant strictly after t, evaluated in the schedule's zone.
// DST: a wall time that does not exist (spring forward) is skipped. A wall time that occurs twice
// (fall back) fires at both instants by default, which is what robfig/cron v3 and therefore
// kube-controller-manager do; DstRepeat::kOnce fires only at the first.
//
// TimeZone reads TZif files (RFC 8536, versions 1-4) from the system zoneinfo directory, including
// the POSIX TZ footer that governs instants after the last listed transition. GCC 12's
// libstdc++ has no std::chrono::tzdb, hence the reader.
//
// Thread-compatible values; Load reads the filesystem.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s::controllers {

// A civil (wall-clock) date and time, without zone.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday() const;  // 0 = Sunday
  friend bool operator==(const CivilTime&, const CivilTime&) = default;
};

// Seconds since the epoch of a civil time read as UTC, and back.
int64_t CivilToUnix(const CivilTime& c);
CivilTime UnixToCivil(int64_t unix_seconds);

class TimeZone {
 public:
  // The UTC zone.
  TimeZone();
  // Loads an IANA zone by name ("America/New_York") from `zoneinfo_dir`. "" and "UTC" give UTC
  // without touching the filesystem. kInvalid for names that are not zone names (absolute
  // paths, "..") and for malformed files; kNotFound when no such zone exists.
  static Result<TimeZone> Load(std::string_view name,
                               std::string_view zoneinfo_dir = "/usr/share/zoneinfo");
  // Parses TZif bytes directly (tests).
  static Result<TimeZone> FromTzif(std::string name, std::string_view data);

  const std::string& name() const { return name_; }
  // The UTC offset in seconds at an instant.
  int32_t OffsetAt(int64_t unix_seconds) const;
  CivilTime ToCivil(int64_t unix_seconds) const;
  // Every instant whose local time is `c`: none in a gap, two in an overlap (earlier first).
  std::vector<int64_t> FromCivil(const CivilTime& c) const;
  // The first instant after `t` at which the offset changes, if any.
  std::optional<int64_t> NextTransitionAfter(int64_t t) const;
  // True when the offset does not change within `margin` seconds either side of `t`.
  bool StableAround(int64_t t, int64_t margin) const;
  // RFC 3339 with this zone's offset ("2026-03-08T03:00:00-04:00"; "Z" for offset 0).
  std::string FormatRfc3339(int64_t unix_seconds) const;

  struct Rule;  // the POSIX TZ footer (implementation detail)

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // ascending
  std::vector<int32_t> offsets_;      // offset in effect from transitions_[i]
  int32_t initial_offset_ = 0;        // before the first transition
  std::shared_ptr<const Rule> rule_;  // after the last transition, when present
};

enum class DstRepeat : uint8_t { kTwice, kOnce };

class CronSchedule {
 public:
  // kInvalid with a message naming the offending field.
  static Result<CronSchedule> Parse(std::string_view spec);

  // The first matching instant strictly after `after` (whole seconds; the sub-second part of
  // `after` is dropped), or nullopt when nothing matches within five years (e.g. "0 0 30 2 *").
  std::optional<std::chrono::system_clock::time_point> Next(
      std::chrono::system_clock::time_point after, const TimeZone& zone,
      DstRepeat repeat = DstRepeat::kTwice) const;

  // Whether a civil time matches (seconds ignored).
  bool Matches(const CivilTime& c) const;

 private:
  bool DayMatches(const CivilTime& c) const;
  uint64_t minutes_ = 0;  // bit i: minute i
  uint32_t hours_ = 0;
  uint32_t dom_ = 0;     // bits 1..31
  uint16_t months_ = 0;  // bits 1..12
  uint8_t dow_ = 0;      // bits 0..6
  bool dom_star_ = false;
  bool dow_star_ = false;
};

}  // namespace mini8s::controllers
