// Prometheus text-format metrics of the API server (/metrics): request counts and latencies by
// verb and resource, in-flight and long-running gauges, watch, store and process figures.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mini8s/store/store.h"

namespace mini8s::server {

// The labels of one request series (upstream's apiserver_request_total label set, without
// dry_run). Values must already be bounded (known verbs and registered resources only) so a
// client cannot grow the series set without limit.
struct RequestLabels {
  std::string_view verb;  // upstream's reported verb: GET LIST WATCH POST PUT PATCH APPLY DELETE
  std::string_view group, version, resource, subresource;
  std::string_view scope;  // resource | namespace | cluster | "" (non-resource)
};

class ServerMetrics {
 public:
  ServerMetrics();

  // Records one finished request. Lock-striped by thread: each worker thread normally touches
  // only its own shard, so there is no global lock on the hot path.
  void ObserveRequest(const RequestLabels& labels, int code, double seconds);

  // Gauges and counters bumped directly by the request path and the watch sessions.
  std::atomic<int64_t> inflight_read_only{0};
  std::atomic<int64_t> inflight_mutating{0};
  std::atomic<uint64_t> watch_events_sent{0};
  std::atomic<uint64_t> watches_started{0};
  std::atomic<uint64_t> watchers_terminated{0};  // cut off for being too slow

  // The exposition text. `store` may be null (no store figures).
  std::string Render(const store::StoreStats* store, int64_t active_watches) const;

  // Upstream's histogram buckets for apiserver_request_duration_seconds.
  static constexpr std::array<double, 23> kBuckets = {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8,
                                                      1.0,   1.25,  1.5,  2.0, 3.0, 4.0, 5.0, 6.0,
                                                      8.0,   10.0,  15.0, 20.0, 30.0, 45.0, 60.0};

 private:
  struct Series {
    std::unordered_map<int, uint64_t> codes;
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative per bucket
    uint64_t count = 0;
    double sum = 0;
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Series> series;  // key: labels joined by '\x1f'
  };
  static constexpr size_t kShards = 16;
  std::array<Shard, kShards> shards_;
  double start_time_seconds_;
};

// Escapes a Prometheus label value (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view v);

}  // namespace mini8s::server
