#include "mini8s/controllers/cron_schedule.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace mini8s::controllers {

// ---- civil time ---------------------------------------------------------------------------------

namespace {

// Howard Hinnant's days_from_civil / civil_from_days (public-domain algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yy + (m <= 2));
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

int CivilTime::weekday() const {
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  // 1970-01-01 was a Thursday (4).
  return static_cast<int>(((days % 7) + 11) % 7);
}

int64_t CivilToUnix(const CivilTime& c) {
  return DaysFromCivil(c.year, static_cast<unsigned>(c.month), static_cast<unsigned>(c.day)) *
             86400 +
         c.hour * 3600 + c.minute * 60 + c.second;
}

CivilTime UnixToCivil(int64_t unix_seconds) {
  CivilTime c;
  int64_t days = FloorDiv(unix_seconds, 86400);
  int64_t rem = unix_seconds - days * 86400;
  CivilFromDays(days, c.year, c.month, c.day);
  c.hour = static_cast<int>(rem / 3600);
  c.minute = static_cast<int>(rem / 60 % 60);
  c.second = static_cast<int>(rem % 60);
  return c;
}

// ---- time zones ---------------------------------------------------------------------------------

// The POSIX TZ string of a TZif footer, e.g. "EST5EDT,M3.2.0,M11.1.0" or "<+0330>-3:30".
struct TimeZone::Rule {
  int32_t std_offset = 0;  // UTC offset (east positive)
  int32_t dst_offset = 0;
  bool has_dst = false;
  struct Date {
    char kind = 'M';  // 'M' month.week.day, 'J' julian 1-365 without Feb 29, 'N' zero-based day
    int month = 0, week = 0, wday = 0, day = 0;
    int32_t time = 7200;  // seconds after local midnight (may be negative or > 24h)
  };
  Date start, end;

  // Local midnight (as unix seconds of a UTC civil date) of the rule date in `year`.
  static int64_t DayOf(const Date& d, int year) {
    if (d.kind == 'J') {
      int n = d.day;  // 1..365, Feb 29 never counted
      int64_t base = DaysFromCivil(year, 1, 1);
      int64_t day = base + n - 1;
      if (IsLeap(year) && n >= 60) ++day;
      return day * 86400;
    }
    if (d.kind == 'N') return (DaysFromCivil(year, 1, 1) + d.day) * 86400;
    // Day `wday` of week `week` (5 = last) of `month`.
    int64_t first = DaysFromCivil(year, static_cast<unsigned>(d.month), 1);
    int first_wday = static_cast<int>(((first % 7) + 11) % 7);
    int mday = 1 + (d.wday - first_wday + 7) % 7 + (d.week - 1) * 7;
    int dim = DaysInMonth(year, d.month);
    while (mday > dim) mday -= 7;
    return (first + mday - 1) * 86400;
  }

  int32_t OffsetAt(int64_t t) const {
    if (!has_dst) return std_offset;
    int year = UnixToCivil(t + std_offset).year;
    int64_t start_t = DayOf(start, year) + start.time - std_offset;
    int64_t end_t = DayOf(end, year) + end.time - dst_offset;
    if (start_t < end_t) {
      return (t >= start_t && t < end_t) ? dst_offset : std_offset;
    }
    return (t >= end_t && t < start_t) ? std_offset : dst_offset;
  }
};

namespace {

bool ParseTzName(std::string_view& s) {
  if (!s.empty() && s[0] == '<') {
    auto close = s.find('>');
    if (close == std::string_view::npos) return false;
    s.remove_prefix(close + 1);
    return true;
  }
  size_t n = 0;
  while (n < s.size() && std::isalpha(static_cast<unsigned char>(s[n]))) ++n;
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

bool ParseNum(std::string_view& s, int& out) {
  size_t n = 0;
  out = 0;
  while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) {
    out = out * 10 + (s[n] - '0');
    ++n;
  }
  s.remove_prefix(n);
  return n > 0;
}

// [+-]hh[:mm[:ss]] in seconds.
bool ParseHms(std::string_view& s, int32_t& out) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int h = 0, m = 0, sec = 0;
  if (!ParseNum(s, h)) return false;
  if (!s.empty() && s[0] == ':') {
    s.remove_prefix(1);
    if (!ParseNum(s, m)) return false;
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      if (!ParseNum(s, sec)) return false;
    }
  }
  out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

bool ParseRuleDate(std::string_view& s, TimeZone::Rule& rule, bool start);

}  // namespace

// Declared after Rule is complete.
namespace {
bool ParseRuleDate(std::string_view& s, TimeZone::Rule& rule, bool start) {
  TimeZone::Rule::Date& d = start ? rule.start : rule.end;
  if (s.empty()) return false;
  if (s[0] == 'M') {
    s.remove_prefix(1);
    d.kind = 'M';
    if (!ParseNum(s, d.month) || s.empty() || s[0] != '.') return false;
    s.remove_prefix(1);
    if (!ParseNum(s, d.week) || s.empty() || s[0] != '.') return false;
    s.remove_prefix(1);
    if (!ParseNum(s, d.wday)) return false;
    if (d.month < 1 || d.month > 12 || d.week < 1 || d.week > 5 || d.wday > 6) return false;
  } else if (s[0] == 'J') {
    s.remove_prefix(1);
    d.kind = 'J';
    if (!ParseNum(s, d.day) || d.day < 1 || d.day > 365) return false;
  } else {
    d.kind = 'N';
    if (!ParseNum(s, d.day) || d.day > 365) return false;
  }
  if (!s.empty() && s[0] == '/') {
    s.remove_prefix(1);
    if (!ParseHms(s, d.time)) return false;
  }
  return true;
}
}  // namespace

TimeZone::TimeZone() : name_("UTC") {}

namespace {

int64_t ReadBE(std::string_view data, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(data[pos + i]);
  if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

}  // namespace

Result<TimeZone> TimeZone::FromTzif(std::string name, std::string_view data) {
  auto bad = [&](std::string_view why) {
    return Status::Invalid("time zone " + name + ": malformed TZif data: " + std::string(why));
  };
  if (data.size() < 44 || data.substr(0, 4) != "TZif") return bad("no TZif header");
  char version = data[4];
  auto counts = [&](size_t at, std::array<int64_t, 6>& c) {
    for (int i = 0; i < 6; ++i) c[i] = ReadBE(data, at + 20 + 4 * i, 4);
  };
  std::array<int64_t, 6> c{};  // isut, isstd, leap, time, type, char
  counts(0, c);
  for (int64_t v : c) {
    if (v < 0) return bad("negative count");
  }
  size_t pos = 44;
  int time_size = 4;
  auto block_size = [&](const std::array<int64_t, 6>& k, int ts) {
    return static_cast<size_t>(k[3] * ts + k[3] + k[4] * 6 + k[5] + k[2] * (ts + 4) + k[1] + k[0]);
  };
  if (version >= '2') {
    pos += block_size(c, 4);
    if (data.size() < pos + 44 || data.substr(pos, 4) != "TZif") return bad("no v2 header");
    counts(pos, c);
    pos += 44;
    time_size = 8;
  }
  if (data.size() < pos + block_size(c, time_size)) return bad("truncated");
  if (c[4] == 0) return bad("no local time types");
  TimeZone tz;
  tz.name_ = std::move(name);
  const size_t times_at = pos;
  const size_t idx_at = times_at + static_cast<size_t>(c[3]) * time_size;
  const size_t types_at = idx_at + static_cast<size_t>(c[3]);
  std::vector<int32_t> type_offsets;
  for (int64_t i = 0; i < c[4]; ++i) {
    type_offsets.push_back(static_cast<int32_t>(ReadBE(data, types_at + i * 6, 4)));
  }
  tz.initial_offset_ = type_offsets[0];
  for (int64_t i = 0; i < c[3]; ++i) {
    int64_t t = ReadBE(data, times_at + i * time_size, time_size);
    auto idx = static_cast<unsigned char>(data[idx_at + i]);
    if (idx >= type_offsets.size()) return bad("type index out of range");
    tz.transitions_.push_back(t);
    tz.offsets_.push_back(type_offsets[idx]);
  }
  if (!std::is_sorted(tz.transitions_.begin(), tz.transitions_.end())) {
    return bad("transitions out of order");
  }
  pos += block_size(c, time_size);
  if (version >= '2' && pos < data.size() && data[pos] == '\n') {
    auto end = data.find('\n', pos + 1);
    if (end != std::string_view::npos && end > pos + 1) {
      std::string_view s = data.substr(pos + 1, end - pos - 1);
      auto rule = std::make_shared<Rule>();
      int32_t std_west = 0;
      if (!ParseTzName(s) || !ParseHms(s, std_west)) return bad("footer: standard time");
      rule->std_offset = -std_west;
      if (!s.empty()) {
        rule->has_dst = true;
        if (!ParseTzName(s)) return bad("footer: dst name");
        rule->dst_offset = rule->std_offset + 3600;
        if (!s.empty() && s[0] != ',') {
          int32_t dst_west = 0;
          if (!ParseHms(s, dst_west)) return bad("footer: dst offset");
          rule->dst_offset = -dst_west;
        }
        if (s.empty() || s[0] != ',') return bad("footer: dst without rule");
        s.remove_prefix(1);
        if (!ParseRuleDate(s, *rule, true) || s.empty() || s[0] != ',') {
          return bad("footer: start rule");
        }
        s.remove_prefix(1);
        if (!ParseRuleDate(s, *rule, false) || !s.empty()) return bad("footer: end rule");
      }
      tz.rule_ = std::move(rule);
    }
  }
  return tz;
}

Result<TimeZone> TimeZone::Load(std::string_view name, std::string_view zoneinfo_dir) {
  if (name.empty() || name == "UTC") return TimeZone();
  if (name.front() == '/' || name.find("..") != std::string_view::npos ||
      name.find('\\') != std::string_view::npos) {
    return Status::Invalid("invalid time zone name " + std::string(name));
  }
  std::string path = std::string(zoneinfo_dir) + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("unknown time zone " + std::string(name));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return FromTzif(std::string(name), data);
}

int32_t TimeZone::OffsetAt(int64_t t) const {
  if (transitions_.empty()) return rule_ ? rule_->OffsetAt(t) : initial_offset_;
  if (t < transitions_.front()) return initial_offset_;
  if (t >= transitions_.back() && rule_) return rule_->OffsetAt(t);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

CivilTime TimeZone::ToCivil(int64_t t) const { return UnixToCivil(t + OffsetAt(t)); }

std::optional<int64_t> TimeZone::NextTransitionAfter(int64_t t) const {
  if (!transitions_.empty() && t < transitions_.back()) {
    return *std::upper_bound(transitions_.begin(), transitions_.end(), t);
  }
  if (!rule_ || !rule_->has_dst) return std::nullopt;
  if (!transitions_.empty() && t < transitions_.front()) return transitions_.front();
  std::optional<int64_t> best;
  int year = UnixToCivil(t + rule_->std_offset).year;
  for (int y = year - 1; y <= year + 1; ++y) {
    for (int64_t x : {Rule::DayOf(rule_->start, y) + rule_->start.time - rule_->std_offset,
                      Rule::DayOf(rule_->end, y) + rule_->end.time - rule_->dst_offset}) {
      if (x > t && (!best || x < *best)) best = x;
    }
  }
  return best;
}

bool TimeZone::StableAround(int64_t t, int64_t margin) const {
  auto next = NextTransitionAfter(t - margin);
  return !next || *next > t + margin;
}

std::vector<int64_t> TimeZone::FromCivil(const CivilTime& c) const {
  const int64_t local = CivilToUnix(c);
  // An instant t with local time `c` satisfies t = local - offset(t), and UTC offsets lie within
  // +-15 h: every offset in effect in that span is a candidate, valid when it maps back.
  constexpr int64_t kSpan = 15 * 3600;
  std::vector<int32_t> offsets{OffsetAt(local - kSpan)};
  for (auto next = NextTransitionAfter(local - kSpan); next && *next <= local + kSpan;
       next = NextTransitionAfter(*next)) {
    offsets.push_back(OffsetAt(*next));
  }
  std::sort(offsets.begin(), offsets.end());
  offsets.erase(std::unique(offsets.begin(), offsets.end()), offsets.end());
  std::vector<int64_t> out;
  for (int32_t o : offsets) {
    int64_t t = local - o;
    if (OffsetAt(t) == o) out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string TimeZone::FormatRfc3339(int64_t t) const {
  int32_t off = OffsetAt(t);
  CivilTime c = UnixToCivil(t + off);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  std::string out = buf;
  if (off == 0) return out + "Z";
  int32_t a = off < 0 ? -off : off;
  std::snprintf(buf, sizeof(buf), "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return out + buf;
}

// ---- cron ---------------------------------------------------------------------------------------

namespace {

struct Bounds {
  int min;
  int max;
  const char* const* names;  // lower-case, index = value - names_base
  int names_count;
  int names_base;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDowNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr Bounds kMinute{0, 59, nullptr, 0, 0};
constexpr Bounds kHour{0, 23, nullptr, 0, 0};
constexpr Bounds kDom{1, 31, nullptr, 0, 0};
constexpr Bounds kMonth{1, 12, kMonthNames, 12, 1};
constexpr Bounds kDow{0, 6, kDowNames, 7, 0};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

Result<int> ParseNumber(std::string_view s) {
  if (s.empty()) return Status::Invalid("empty number");
  if (s[0] == '-') return Status::Invalid("negative number (" + std::string(s) + ") not allowed");
  int v = 0;
  for (char ch : s) {
    if (!std::isdigit(static_cast<unsigned char>(ch))) {
      return Status::Invalid("failed to parse int from " + std::string(s));
    }
    v = v * 10 + (ch - '0');
    if (v > 1000000) return Status::Invalid("number out of range: " + std::string(s));
  }
  return v;
}

Result<int> ParseValue(std::string_view s, const Bounds& b) {
  if (b.names != nullptr) {
    std::string lower;
    for (char ch : s)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    for (int i = 0; i < b.names_count; ++i) {
      if (lower == b.names[i]) return i + b.names_base;
    }
  }
  return ParseNumber(s);
}

// Sets the bits of one comma-separated part; `star` reports a bare * or ? (step 1).
Status ParseRange(std::string_view expr, const Bounds& b, uint64_t& bits, bool& star) {
  auto range_and_step = Split(expr, '/');
  if (range_and_step.size() > 2) return Status::Invalid("too many slashes: " + std::string(expr));
  auto low_high = Split(range_and_step[0], '-');
  if (low_high.size() > 2) return Status::Invalid("too many hyphens: " + std::string(expr));
  int start = 0, end = 0, step = 1;
  bool is_star = false;
  if (low_high[0] == "*" || low_high[0] == "?") {
    if (low_high.size() > 1) return Status::Invalid("too many hyphens: " + std::string(expr));
    start = b.min;
    end = b.max;
    is_star = true;
  } else {
    Result<int> s = ParseValue(low_high[0], b);
    if (!s.has_value()) return s.error();
    start = end = *s;
    if (low_high.size() == 2) {
      Result<int> e = ParseValue(low_high[1], b);
      if (!e.has_value()) return e.error();
      end = *e;
    }
  }
  if (range_and_step.size() == 2) {
    Result<int> st = ParseNumber(range_and_step[1]);
    if (!st.has_value()) return st.error();
    step = *st;
    // "N/step" means N through the field's maximum.
    if (low_high.size() == 1 && !is_star) end = b.max;
    if (step > 1) is_star = false;
  }
  if (start < b.min) {
    return Status::Invalid("beginning of range (" + std::to_string(start) + ") below minimum (" +
                           std::to_string(b.min) + "): " + std::string(expr));
  }
  if (end > b.max) {
    return Status::Invalid("end of range (" + std::to_string(end) + ") above maximum (" +
                           std::to_string(b.max) + "): " + std::string(expr));
  }
  if (start > end) {
    return Status::Invalid("beginning of range (" + std::to_string(start) +
                           ") beyond end of range (" + std::to_string(end) +
                           "): " + std::string(expr));
  }
  if (step == 0) {
    return Status::Invalid("step of range should be a positive number: " + std::string(expr));
  }
  for (int i = start; i <= end; i += step) bits |= uint64_t{1} << i;
  star = star || is_star;
  return Status::OK();
}

Status ParseField(std::string_view field, const Bounds& b, uint64_t& bits, bool& star) {
  for (std::string_view part : Split(field, ',')) {
    Status s = ParseRange(part, b, bits, star);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view spec) {
  std::vector<std::string> fields;
  {
    std::istringstream in{std::string(spec)};
    std::string f;
    while (in >> f) fields.push_back(f);
  }
  if (fields.empty()) return Status::Invalid("empty spec string");
  if (fields[0].rfind("TZ=", 0) == 0 || fields[0].rfind("CRON_TZ=", 0) == 0) {
    return Status::Invalid("cannot use TZ or CRON_TZ in schedule, use the timeZone field instead");
  }
  if (fields[0][0] == '@') {
    if (fields.size() != 1) return Status::Invalid("unexpected fields after " + fields[0]);
    static const std::pair<const char*, const char*> kDescriptors[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    for (const auto& [name, expansion] : kDescriptors) {
      if (fields[0] == name) return Parse(expansion);
    }
    if (fields[0] == "@every") {
      return Status::Invalid("@every is not supported in CronJob schedules");
    }
    return Status::Invalid("unrecognized descriptor: " + fields[0]);
  }
  if (fields.size() != 5) {
    return Status::Invalid("expected exactly 5 fields, found " + std::to_string(fields.size()) +
                           ": " + std::string(spec));
  }
  CronSchedule s;
  uint64_t minutes = 0, hours = 0, dom = 0, months = 0, dow = 0;
  bool ignored = false;
  Status st = ParseField(fields[0], kMinute, minutes, ignored);
  if (st.ok()) st = ParseField(fields[1], kHour, hours, ignored);
  if (st.ok()) st = ParseField(fields[2], kDom, dom, s.dom_star_);
  if (st.ok()) st = ParseField(fields[3], kMonth, months, ignored);
  if (st.ok()) st = ParseField(fields[4], kDow, dow, s.dow_star_);
  if (!st.ok()) return st;
  s.minutes_ = minutes;
  s.hours_ = static_cast<uint32_t>(hours);
  s.dom_ = static_cast<uint32_t>(dom);
  s.months_ = static_cast<uint16_t>(months);
  s.dow_ = static_cast<uint8_t>(dow);
  return s;
}

bool CronSchedule::DayMatches(const CivilTime& c) const {
  bool dom_match = (dom_ >> c.day) & 1U;
  bool dow_match = (dow_ >> c.weekday()) & 1U;
  if (dom_star_ || dow_star_) return dom_match && dow_match;
  return dom_match || dow_match;
}

bool CronSchedule::Matches(const CivilTime& c) const {
  return ((months_ >> c.month) & 1U) && DayMatches(c) && ((hours_ >> c.hour) & 1U) &&
         ((minutes_ >> c.minute) & 1U);
}

std::optional<std::chrono::system_clock::time_point> CronSchedule::Next(
    std::chrono::system_clock::time_point after, const TimeZone& zone, DstRepeat repeat) const {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const int64_t after_s = FloorDiv(
      duration_cast<std::chrono::nanoseconds>(after.time_since_epoch()).count(), 1'000'000'000);
  // Civil times and instants are not in the same order around a fall-back transition (01:00 EST
  // comes after 01:45 EDT), so the scan starts a few wall-clock hours early and keeps the
  // smallest instant after `after` among candidates up to a few hours past the first hit.
  // Only near a transition; elsewhere wall-clock order is instant order.
  constexpr int64_t kSlack = 4 * 3600;
  constexpr int64_t kMargin = 30 * 3600;
  auto slack_at = [&](int64_t t) { return zone.StableAround(t, kMargin) ? 0 : kSlack; };
  int64_t local_start = CivilToUnix(zone.ToCivil(after_s)) - slack_at(after_s);
  CivilTime start = UnixToCivil(local_start);
  const int year_limit = zone.ToCivil(after_s).year + 5;
  std::optional<int64_t> best;
  int64_t stop_local = 0;

  int64_t day = DaysFromCivil(start.year, static_cast<unsigned>(start.month),
                              static_cast<unsigned>(start.day));
  for (;; ++day) {
    CivilTime c;
    CivilFromDays(day, c.year, c.month, c.day);
    if (c.year > year_limit) break;
    if (best && day * 86400 > stop_local) break;
    if (!((months_ >> c.month) & 1U) || !DayMatches(c)) continue;
    const int64_t day_start = day * 86400;
    for (int h = 0; h < 24; ++h) {
      if (!((hours_ >> h) & 1U)) continue;
      if (day_start + h * 3600 + 3599 < local_start) continue;
      for (int m = 0; m < 60; ++m) {
        if (!((minutes_ >> m) & 1U)) continue;
        c.hour = h;
        c.minute = m;
        c.second = 0;
        int64_t local = CivilToUnix(c);
        if (local < local_start) continue;
        if (best && local > stop_local) break;
        std::vector<int64_t> instants = zone.FromCivil(c);
        if (repeat == DstRepeat::kOnce && instants.size() > 1) instants.resize(1);
        for (int64_t t : instants) {
          if (t > after_s && (!best || t < *best)) {
            best = t;
            stop_local = CivilToUnix(zone.ToCivil(t)) + slack_at(t);
          }
        }
      }
    }
  }
  if (!best) return std::nullopt;
  return std::chrono::system_clock::time_point(seconds(*best));
}

}  // namespace mini8s::controllers
