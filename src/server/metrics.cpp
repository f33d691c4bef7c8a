// Prometheus text exposition (format 0.0.4) of the API server's figures.
#include "server/metrics.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

namespace mini8s::server {
namespace {

constexpr char kSep = '\x1f';

std::vector<std::string_view> SplitKey(std::string_view key) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (true) {
    size_t j = key.find(kSep, i);
    out.push_back(key.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

// The shortest of %.15g and %.17g that reads back as the same double (0.005, not
// 0.0050000000000000001).
std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Seconds since the epoch at which this process started (/proc/self/stat starttime + btime);
// falls back to "now" when /proc is unavailable.
double ProcessStartTime() {
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return now;
  size_t paren = line.rfind(')');  // the command name may contain spaces
  if (paren == std::string::npos) return now;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  // Field 3 (state) is the first after ')'; starttime is field 22.
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i != 22) continue;
    std::ifstream pstat("/proc/stat");
    std::string key;
    long long btime = 0;
    while (pstat >> key) {
      if (key == "btime") {
        pstat >> btime;
        break;
      }
    }
    long ticks = sysconf(_SC_CLK_TCK);
    if (btime <= 0 || ticks <= 0) return now;
    return static_cast<double>(btime) + std::stod(field) / static_cast<double>(ticks);
  }
  return now;
}

double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

void Header(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Sample(std::string& out, std::string_view name, std::string_view labels, double v) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(Num(v)).append("\n");
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

ServerMetrics::ServerMetrics() : start_time_seconds_(ProcessStartTime()) {}

void ServerMetrics::ObserveRequest(const RequestLabels& l, int code, double seconds) {
  std::string key;
  key.reserve(l.verb.size() + l.group.size() + l.version.size() + l.resource.size() +
              l.subresource.size() + l.scope.size() + 5);
  key.append(l.verb).append(1, kSep).append(l.group).append(1, kSep).append(l.version);
  key.append(1, kSep).append(l.resource).append(1, kSep).append(l.subresource);
  key.append(1, kSep).append(l.scope);
  size_t bucket = kBuckets.size();
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      bucket = i;
      break;
    }
  }
  Shard& shard = shards_[std::hash<std::thread::id>{}(std::this_thread::get_id()) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  Series& s = shard.series[std::move(key)];
  ++s.codes[code];
  if (bucket < kBuckets.size()) ++s.buckets[bucket];
  ++s.count;
  s.sum += seconds;
}

std::string ServerMetrics::Render(const store::StoreStats* st, int64_t active_watches) const {
  std::map<std::string, Series> merged;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (const auto& [key, s] : shard.series) {
      Series& m = merged[key];
      for (const auto& [code, n] : s.codes) m.codes[code] += n;
      for (size_t i = 0; i < kBuckets.size(); ++i) m.buckets[i] += s.buckets[i];
      m.count += s.count;
      m.sum += s.sum;
    }
  }
  std::string out;
  auto labels_of = [](const std::string& key) {
    auto f = SplitKey(key);
    static constexpr const char* kNames[] = {"verb", "group", "version",
                                             "resource", "subresource", "scope"};
    std::string l;
    for (size_t i = 0; i < f.size() && i < 6; ++i) {
      l.append(kNames[i]).append("=\"").append(EscapeLabelValue(f[i])).append("\",");
    }
    l.append("component=\"apiserver\"");
    return l;
  };

  Header(out, "apiserver_request_total", "counter",
         "Requests answered, by verb, resource, scope and response code.");
  for (const auto& [key, s] : merged) {
    std::map<int, uint64_t> codes(s.codes.begin(), s.codes.end());
    std::string base = labels_of(key);
    for (const auto& [code, n] : codes) {
      Sample(out, "apiserver_request_total", base + ",code=\"" + std::to_string(code) + "\"",
             static_cast<double>(n));
    }
  }
  Header(out, "apiserver_request_duration_seconds", "histogram",
         "Time from request to response, in seconds, by verb, resource and scope.");
  for (const auto& [key, s] : merged) {
    std::string base = labels_of(key);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += s.buckets[i];
      Sample(out, "apiserver_request_duration_seconds_bucket",
             base + ",le=\"" + Num(kBuckets[i]) + "\"", static_cast<double>(cumulative));
    }
    Sample(out, "apiserver_request_duration_seconds_bucket", base + ",le=\"+Inf\"",
           static_cast<double>(s.count));
    Sample(out, "apiserver_request_duration_seconds_sum", base, s.sum);
    Sample(out, "apiserver_request_duration_seconds_count", base, static_cast<double>(s.count));
  }

  Header(out, "apiserver_current_inflight_requests", "gauge",
         "Requests being served now (long-running watches excluded), by kind.");
  Sample(out, "apiserver_current_inflight_requests", "request_kind=\"readOnly\"",
         static_cast<double>(inflight_read_only.load()));
  Sample(out, "apiserver_current_inflight_requests", "request_kind=\"mutating\"",
         static_cast<double>(inflight_mutating.load()));
  Header(out, "apiserver_longrunning_requests", "gauge",
         "Long-running requests (watches) open now.");
  Sample(out, "apiserver_longrunning_requests", "verb=\"WATCH\",component=\"apiserver\"",
         static_cast<double>(active_watches));

  Header(out, "apiserver_registered_watchers", "gauge", "Watch streams open now.");
  Sample(out, "apiserver_registered_watchers", "", static_cast<double>(active_watches));
  Header(out, "apiserver_watch_requests_total", "counter", "Watch streams started.");
  Sample(out, "apiserver_watch_requests_total", "", static_cast<double>(watches_started.load()));
  Header(out, "apiserver_watch_events_total", "counter", "Events sent to watch clients.");
  Sample(out, "apiserver_watch_events_total", "", static_cast<double>(watch_events_sent.load()));
  Header(out, "apiserver_terminated_watchers_total", "counter",
         "Watchers closed because they did not keep up with their events.");
  Sample(out, "apiserver_terminated_watchers_total", "",
         static_cast<double>(watchers_terminated.load()));

  if (st) {
    auto gauge = [&](std::string_view name, std::string_view help, double v) {
      Header(out, name, "gauge", help);
      Sample(out, name, "", v);
    };
    auto counter = [&](std::string_view name, std::string_view help, double v) {
      Header(out, name, "counter", help);
      Sample(out, name, "", v);
    };
    gauge("mini8s_store_current_revision", "Store revision of the last committed change.",
          static_cast<double>(st->current_revision));
    gauge("mini8s_store_compact_revision", "Revision at or below which history was compacted.",
          static_cast<double>(st->compact_revision));
    gauge("mini8s_store_window_start_revision", "Oldest revision watches can start from.",
          static_cast<double>(st->window_start));
    gauge("mini8s_store_keys", "Live keys in the store.", static_cast<double>(st->keys));
    gauge("mini8s_store_window_events", "Events held in the in-memory watch window.",
          static_cast<double>(st->window_events));
    gauge("mini8s_store_watchers", "Store-level watchers registered now.",
          static_cast<double>(st->watchers));
    counter("mini8s_store_transactions_total", "Group commits since the store opened.",
            static_cast<double>(st->transactions));
    counter("mini8s_store_writes_total", "Acknowledged changes since the store opened.",
            static_cast<double>(st->writes));
    gauge("mini8s_store_mean_batch_size", "Writes per group commit since the store opened.",
          st->transactions ? static_cast<double>(st->writes) /
                                 static_cast<double>(st->transactions)
                           : 0.0);
    counter("mini8s_store_compaction_failures_total", "Compaction steps that failed.",
            static_cast<double>(st->compaction_failures));
    gauge("mini8s_store_db_rows", "Rows in the database (SQLite store only).",
          static_cast<double>(st->db_rows));
    gauge("mini8s_store_db_pages", "Database pages (SQLite store only).",
          static_cast<double>(st->db_pages));
    gauge("mini8s_store_db_freelist_pages", "Unused database pages (SQLite store only).",
          static_cast<double>(st->db_freelist_pages));
  }

  Header(out, "process_resident_memory_bytes", "gauge", "Memory resident now, in bytes.");
  Sample(out, "process_resident_memory_bytes", "", ResidentBytes());
  Header(out, "process_start_time_seconds", "gauge",
         "When this process started, in seconds since the epoch.");
  Sample(out, "process_start_time_seconds", "", start_time_seconds_);
  return out;
}

}  // namespace mini8s::server
