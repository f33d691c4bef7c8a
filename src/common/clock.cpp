#include "mini8s/common/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace mini8s {
namespace {

using std::chrono::system_clock;

std::string Format(system_clock::time_point t, int digits) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  int64_t secs = ns / 1000000000;
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    secs -= 1;
  }
  // Calendar arithmetic rather than gmtime_r: glibc's gmtime_r initializes the time zone first,
  // which reads /etc/localtime once in every process (each `mini8s runtime` call pays it).
  const std::chrono::sys_seconds t_secs{std::chrono::seconds(secs)};
  const auto day = std::chrono::floor<std::chrono::days>(t_secs);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss hms(t_secs - day);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(hms.hours().count()),
                        static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<size_t>(n));
  if (digits > 0) {
    char f[16];
    std::snprintf(f, sizeof f, "%09lld", static_cast<long long>(frac));
    out += '.';
    out.append(f, static_cast<size_t>(digits));
  }
  out += 'Z';
  return out;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

RealClock& RealClock::Instance() {
  static RealClock clock;
  return clock;
}

std::string FormatRfc3339(system_clock::time_point t) { return Format(t, 0); }
std::string FormatRfc3339Micro(system_clock::time_point t) { return Format(t, 6); }
std::string FormatRfc3339Nano(system_clock::time_point t) { return Format(t, 9); }

Result<system_clock::time_point> ParseRfc3339(std::string_view s) {
  auto bad = [&] { return Status::Invalid("invalid RFC 3339 time \"" + std::string(s) + "\""); };
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad();
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int ndig = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (ndig < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++ndig;
      }
      ++pos;
    }
    if (ndig == 0) return bad();
    while (ndig++ < 9) nanos *= 10;
  }
  int offset_secs = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om)) {
      return bad();
    }
    offset_secs = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  // Month and day are in range (checked above); a day past the month's end and second 60 carry
  // over as timegm would, without timegm's time-zone initialization.
  const std::chrono::sys_days date =
      std::chrono::sys_days(std::chrono::year(y) / std::chrono::month(static_cast<unsigned>(mo)) /
                            1) +
      std::chrono::days(d - 1);
  int64_t epoch = static_cast<int64_t>(date.time_since_epoch().count()) * 86400 + h * 3600 +
                  mi * 60 + sec - offset_secs;
  // A nanosecond time_point spans only the years 1678-2262; converting a later time (upstream
  // allows up to 9999) would overflow int64, so such times are refused rather than wrapped.
  constexpr int64_t kMaxSecs =
      std::chrono::duration_cast<std::chrono::seconds>(system_clock::duration::max()).count() - 1;
  if (epoch > kMaxSecs || epoch < -kMaxSecs) return bad();
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      std::chrono::seconds(epoch) + std::chrono::nanoseconds(nanos)));
}

}  // namespace mini8s
