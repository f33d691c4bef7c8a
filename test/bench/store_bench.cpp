// mini8s_store_bench: durable write throughput with group commit against a raw SQLite anchor,
// and watch fan-out latency. Prints figures; never fails on timing.
//
//   mini8s_store_bench [dir] [seconds-per-case]
//
// `dir` (default: a fresh directory under $TMPDIR or /tmp) should be on the disk you care about:
// every figure here is bounded by that disk's fsync latency.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "mini8s/common/logging.h"
#include "mini8s/store/mem_store.h"
#include "mini8s/store/sqlite_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using mini8s::store::EventPtr;
using mini8s::store::Store;
using mini8s::store::StoreOptions;
using mini8s::store::Watcher;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "store_bench: %s failed\n", what);
    std::exit(1);
  }
}

// Raw SQLite: one row per transaction, the same schema, WAL and synchronous=FULL.
double RawSqliteTxPerSecond(const std::string& path, double seconds) {
  sqlite3* db = nullptr;
  Check(sqlite3_open(path.c_str(), &db) == SQLITE_OK, "sqlite3_open");
  Check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE kine (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
                     " created INTEGER NOT NULL, deleted INTEGER NOT NULL,"
                     " create_revision INTEGER NOT NULL, prev_revision INTEGER NOT NULL,"
                     " lease INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL DEFAULT 0,"
                     " value BLOB, old_value BLOB);"
                     "CREATE UNIQUE INDEX u ON kine(name, prev_revision);",
                     nullptr, nullptr, nullptr) == SQLITE_OK,
        "raw schema");
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, "
                     "value) VALUES (?1, 1, 0, 0, 0, ?2)",
                     -1, &insert, nullptr);
  sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr);
  const std::string value(1024, 'v');
  // Warm-up: grow the WAL past its checkpoint size once, so the measured commits reuse it as
  // they do in steady state (appending to a growing file makes every fsync slower).
  Check(sqlite3_exec(db,
                     "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                     "WHERE i < 6000) INSERT INTO kine(name, created, deleted, create_revision, "
                     "prev_revision, value) SELECT '/warmup/' || i, 1, 0, 0, 0, zeroblob(1024) "
                     "FROM n; COMMIT; PRAGMA wal_checkpoint(PASSIVE);",
                     nullptr, nullptr, nullptr) == SQLITE_OK,
        "raw warm-up");
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  int64_t n = 0;
  while (Clock::now() < end) {
    const std::string key = "/registry/raw/" + std::to_string(n);
    sqlite3_step(begin);
    sqlite3_reset(begin);
    sqlite3_bind_text(insert, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(insert, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    Check(sqlite3_step(insert) == SQLITE_DONE, "raw insert");
    sqlite3_reset(insert);
    Check(sqlite3_step(commit) == SQLITE_DONE, "raw commit");
    sqlite3_reset(commit);
    ++n;
  }
  const double rate = static_cast<double>(n) / Seconds(Clock::now() - start);
  sqlite3_finalize(begin);
  sqlite3_finalize(insert);
  sqlite3_finalize(commit);
  sqlite3_close(db);
  return rate;
}

struct WriteFigures {
  double creates_per_second = 0;
  double writes_per_transaction = 0;
};

WriteFigures StoreCreatesPerSecond(const std::string& path, int threads, double seconds) {
  StoreOptions o;
  auto opened = mini8s::store::SqliteStore::Open(path, o);
  Check(opened.has_value(), "SqliteStore::Open");
  Store& store = **opened;
  const std::string value(1024, 'v');
  {
    // The same warm-up as the anchor: 6,000 writes from 64 threads, then measure.
    std::vector<std::thread> warm;
    for (int t = 0; t < 64; ++t) {
      warm.emplace_back([&, t] {
        for (int i = 0; i < 6000 / 64; ++i) {
          Check(store.Create("/warmup/" + std::to_string(t) + "/" + std::to_string(i), value)
                    .has_value(),
                "Create");
        }
      });
    }
    for (auto& w : warm) w.join();
  }
  const auto warm_stats = store.Stats();
  std::atomic<bool> go{false};
  std::atomic<int64_t> total{0};
  const auto duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> workers;
  Clock::time_point start;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      const auto end = start + duration;
      int64_t n = 0;
      std::string key;
      while (Clock::now() < end) {
        key = "/registry/bench/" + std::to_string(t) + "/" + std::to_string(n);
        Check(store.Create(key, value).has_value(), "Create");
        ++n;
      }
      total += n;
    });
  }
  start = Clock::now();
  go = true;
  for (auto& w : workers) w.join();
  const double elapsed = Seconds(Clock::now() - start);
  auto stats = store.Stats();
  WriteFigures f;
  f.creates_per_second = static_cast<double>(total.load()) / elapsed;
  const uint64_t txs = stats.transactions - warm_stats.transactions;
  f.writes_per_transaction =
      txs ? static_cast<double>(stats.writes - warm_stats.writes) / static_cast<double>(txs) : 0;
  return f;
}

// Fans events out to `n_watchers` watchers consumed by a few threads through notify callbacks,
// the way the API server will: the callback only queues the watcher for its executor.
struct LatencyFigures {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  size_t samples = 0;
  int events = 0;
};

LatencyFigures WatchLatency(Store& store, int n_watchers, double seconds) {
  constexpr int kConsumers = 1;  // the API server runs one I/O thread by default
  struct Consumer {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<int> ready;
    std::vector<double> samples_ms;
  };
  std::vector<std::unique_ptr<Consumer>> consumers;
  for (int i = 0; i < kConsumers; ++i) consumers.push_back(std::make_unique<Consumer>());
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < n_watchers; ++i) {
    auto w = store.Watch("/registry/lat/", 0);
    Check(w.has_value(), "Watch");
    watchers.push_back(std::move(w).value());
  }
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> want{0};
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::atomic<bool> stop{false};
  for (int i = 0; i < n_watchers; ++i) {
    Consumer* c = consumers[static_cast<size_t>(i % kConsumers)].get();
    watchers[static_cast<size_t>(i)]->SetNotify([c, i] {
      bool wake;
      {
        std::lock_guard lock(c->mu);
        wake = c->ready.empty();  // as an executor does: signal only when it may be idle
        c->ready.push_back(i);
      }
      if (wake) c->cv.notify_one();
    });
  }
  std::vector<std::thread> threads;
  for (int ci = 0; ci < kConsumers; ++ci) {
    threads.emplace_back([&, ci] {
      Consumer& c = *consumers[static_cast<size_t>(ci)];
      std::vector<EventPtr> events;
      while (true) {
        int idx;
        {
          std::unique_lock lock(c.mu);
          c.cv.wait(lock, [&] { return stop.load() || !c.ready.empty(); });
          if (c.ready.empty()) return;
          idx = c.ready.front();
          c.ready.pop_front();
        }
        events.clear();
        (void)watchers[static_cast<size_t>(idx)]->Drain(events);
        const auto now = Clock::now().time_since_epoch().count();
        for (const auto& ev : events) {
          const int64_t sent = std::stoll(*ev->value);
          c.samples_ms.push_back(static_cast<double>(now - sent) / 1e6);
        }
        if (received.fetch_add(static_cast<int64_t>(events.size())) +
                static_cast<int64_t>(events.size()) >=
            want.load()) {
          std::lock_guard lock(done_mu);
          done_cv.notify_one();
        }
      }
    });
  }

  LatencyFigures f;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    want = received.load() + n_watchers;
    const std::string sent = std::to_string(Clock::now().time_since_epoch().count());
    Check(store.Create("/registry/lat/" + std::to_string(f.events), sent).has_value(), "Create");
    ++f.events;
    std::unique_lock lock(done_mu);
    done_cv.wait_for(lock, std::chrono::seconds(2), [&] { return received.load() >= want.load(); });
  }
  stop = true;
  for (auto& c : consumers) c->cv.notify_all();
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& c : consumers) all.insert(all.end(), c->samples_ms.begin(), c->samples_ms.end());
  std::sort(all.begin(), all.end());
  f.samples = all.size();
  if (!all.empty()) {
    f.p50_ms = all[all.size() / 2];
    f.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    f.max_ms = all.back();
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  mini8s::log::SetMinLevel(mini8s::log::Level::kWarning);
  std::string dir;
  bool made = false;
  if (argc > 1) {
    dir = argv[1];
  } else {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mini8s-store-bench-XXXXXX";
    Check(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    dir = tmpl;
    made = true;
  }
  const double secs = argc > 2 ? std::atof(argv[2]) : 3.0;
  std::printf(
      "mini8s store benchmark in %s (%.1f s per case, 1 KiB values, WAL, "
      "synchronous=FULL)\n",
      dir.c_str(), secs);

  // This machine's fsync latency drifts by 10x from one second to the next, so each store case
  // is measured right after its own anchor run.
  for (int threads : {1, 16, 64}) {
    const std::string tag = std::to_string(threads);
    const double raw = RawSqliteTxPerSecond(dir + "/raw-" + tag + ".db", secs);
    auto f = StoreCreatesPerSecond(dir + "/store-" + tag + ".db", threads, secs);
    std::printf(
        "  %2d writers: SqliteStore %8.0f creates/s (%5.1f writes per commit) | raw SQLite "
        "1 row/tx anchor %6.0f tx/s | ratio %5.1fx\n",
        threads, f.creates_per_second, f.writes_per_transaction, raw, f.creates_per_second / raw);
  }

  {
    StoreOptions o;
    auto mem = mini8s::store::MemStore::Create(o);
    auto f = WatchLatency(*mem, 1000, secs);
    std::printf(
        "  watch delivery to 1000 watchers, MemStore (write call -> received, bounds "
        "commit -> received):\n      p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%d events, "
        "%zu deliveries)\n",
        f.p50_ms, f.p99_ms, f.max_ms, f.events, f.samples);
  }
  {
    StoreOptions o;
    auto opened = mini8s::store::SqliteStore::Open(dir + "/watch.db", o);
    Check(opened.has_value(), "SqliteStore::Open");
    auto f = WatchLatency(**opened, 1000, secs);
    std::printf(
        "  watch delivery to 1000 watchers, SqliteStore (write call -> received, "
        "includes the fsync):\n      p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%d events, "
        "%zu deliveries)\n",
        f.p50_ms, f.p99_ms, f.max_ms, f.events, f.samples);
  }
  if (made) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
