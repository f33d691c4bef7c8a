// ServerMetrics on its own: series merging across threads, cumulative buckets, label escaping.
#include "server/metrics.h"

#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace mini8s::server {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST_CASE("server metrics: requests from many threads merge into one series per label set",
          "[server][unit]") {
  ServerMetrics m;
  RequestLabels l{"GET", "", "v1", "pods", "", "resource"};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) m.ObserveRequest(l, i % 5 == 0 ? 404 : 200, 0.01);
    });
  }
  for (auto& t : threads) t.join();
  std::string text = m.Render(nullptr, 0);
  const std::string base = "verb=\"GET\",group=\"\",version=\"v1\",resource=\"pods\","
                           "subresource=\"\",scope=\"resource\",component=\"apiserver\"";
  CHECK(HasLine(text, "apiserver_request_total{" + base + ",code=\"200\"} 800"));
  CHECK(HasLine(text, "apiserver_request_total{" + base + ",code=\"404\"} 200"));
  CHECK(HasLine(text, "apiserver_request_duration_seconds_count{" + base + "} 1000"));
  // Buckets are cumulative: 0.01 s lands in le=0.025 and every bucket above it.
  CHECK(HasLine(text, "apiserver_request_duration_seconds_bucket{" + base + ",le=\"0.005\"} 0"));
  CHECK(HasLine(text, "apiserver_request_duration_seconds_bucket{" + base + ",le=\"0.025\"} 1000"));
  CHECK(HasLine(text, "apiserver_request_duration_seconds_bucket{" + base + ",le=\"60\"} 1000"));
  CHECK(HasLine(text, "apiserver_request_duration_seconds_bucket{" + base + ",le=\"+Inf\"} 1000"));
  CHECK(text.find("mini8s_store_keys") == std::string::npos);  // no store given
}

TEST_CASE("server metrics: slow requests count only in +Inf, store figures and escaping",
          "[server][unit]") {
  ServerMetrics m;
  m.ObserveRequest({"LIST", "", "v1", "pods", "", "cluster"}, 200, 120.0);
  m.watch_events_sent += 7;
  store::StoreStats st;
  st.keys = 12;
  st.transactions = 4;
  st.writes = 10;
  std::string text = m.Render(&st, 3);
  const std::string base = "verb=\"LIST\",group=\"\",version=\"v1\",resource=\"pods\","
                           "subresource=\"\",scope=\"cluster\",component=\"apiserver\"";
  CHECK(HasLine(text, "apiserver_request_duration_seconds_bucket{" + base + ",le=\"60\"} 0"));
  CHECK(HasLine(text, "apiserver_request_duration_seconds_bucket{" + base + ",le=\"+Inf\"} 1"));
  CHECK(HasLine(text, "apiserver_request_duration_seconds_sum{" + base + "} 120"));
  CHECK(HasLine(text, "apiserver_watch_events_total 7"));
  CHECK(HasLine(text, "apiserver_registered_watchers 3"));
  CHECK(HasLine(text, "mini8s_store_keys 12"));
  CHECK(HasLine(text, "mini8s_store_mean_batch_size 2.5"));
  CHECK(HasLine(text, "# TYPE apiserver_request_duration_seconds histogram"));
  CHECK(EscapeLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace mini8s::server
