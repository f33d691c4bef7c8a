// SqliteStore-specific behaviour: persistence, start-up errors, bounded file size.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "store_test_util.h"
#include "testutil/fake_clock.h"

namespace mini8s::store {
namespace {

using testing::QuietOptions;
using testing::SqliteFactory;
using testing::TakeEvents;
using testing::Val;

int64_t CountRows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST_CASE("SqliteStore: state, revisions, TTLs and the watch window survive close and reopen",
          "[store][unit]") {
  SqliteFactory f;
  testutil::FakeClock clock;
  Revision c, u, d, last;
  {
    auto store = f.Open(QuietOptions(), clock);
    REQUIRE(store->Create("/other", "x").has_value());
    c = store->Create("/p/a", "1").value();
    u = store->Update("/p/a", "2", c).value();
    REQUIRE(store->Create("/p/b", "b").has_value());
    d = store->Delete("/p/b").value().revision;
    REQUIRE(store->Create("/p/b", "b-again").has_value());
    last = store->Create("/ttl/x", "x", 60).value();
  }
  auto store = f.Open(QuietOptions(), clock);
  CHECK(store->CurrentRevision() == last);
  auto a = store->Get("/p/a").value();
  CHECK(Val(a) == "2");
  CHECK(a.create_revision == c);
  CHECK(a.mod_revision == u);
  CHECK(Val(store->Get("/p/b").value()) == "b-again");

  // The window was rebuilt from the log, previous values included.
  auto w = store->Watch("/p/", c - 1).value();
  auto evs = TakeEvents(*w, 5);
  CHECK(evs[1]->type == EventType::kModified);
  CHECK(*evs[1]->prev_value == "1");
  CHECK(evs[3]->type == EventType::kDeleted);
  CHECK(evs[3]->revision == d);
  CHECK(*evs[3]->value == "b");
  CHECK(evs[4]->type == EventType::kAdded);

  // Revisions continue after the last one and the TTL is still honoured.
  CHECK(store->Create("/p/c", "c").value() == last + 1);
  clock.Advance(std::chrono::seconds(61));
  CHECK(store->ExpireDueKeys().value() == 1);
  CHECK(store->Get("/ttl/x").error().code() == Code::kNotFound);
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("SqliteStore: a database in use by another store is refused, naming the path",
          "[store][unit]") {
  SqliteFactory f;
  testutil::FakeClock clock;
  auto first = f.Open(QuietOptions(), clock);
  auto second = SqliteStore::Open(f.path(), QuietOptions(), clock);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code() == Code::kUnavailable);
  CHECK_THAT(second.error().message(), Catch::Contains(f.path()));
  CHECK_THAT(second.error().message(), Catch::Contains("pid " + std::to_string(::getpid())));
  first->Close();
  CHECK(SqliteStore::Open(f.path(), QuietOptions(), clock).has_value());
}

TEST_CASE("SqliteStore: missing or unwritable locations give an error naming the path",
          "[store][unit]") {
  testutil::TempDir dir;
  testutil::FakeClock clock;
  SECTION("missing directory") {
    const std::string path = dir.File("nope/state.db");
    auto r = SqliteStore::Open(path, QuietOptions(), clock);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Code::kNotFound);
    CHECK_THAT(r.error().message(), Catch::Contains(path));
  }
  SECTION("parent is a file") {
    std::ofstream(dir.File("file")) << "x";
    const std::string path = dir.File("file/state.db");
    auto r = SqliteStore::Open(path, QuietOptions(), clock);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message(), Catch::Contains(path));
  }
  SECTION("database path is a directory") {
    const std::string path = dir.File("db");
    REQUIRE(::mkdir(path.c_str(), 0700) == 0);
    auto r = SqliteStore::Open(path, QuietOptions(), clock);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message(), Catch::Contains(path));
  }
  SECTION("directory not writable") {
    // Root ignores permission bits, so use sysfs there: it refuses new files even to root.
    std::string path = "/sys/mini8s-store-test/state.db";
    std::string ro = dir.File("ro");
    if (::geteuid() == 0) {
      path = "/sys/mini8s-store-test.db";
    } else {
      REQUIRE(::mkdir(ro.c_str(), 0500) == 0);
      path = ro + "/state.db";
    }
    auto r = SqliteStore::Open(path, QuietOptions(), clock);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Code::kForbidden);
    CHECK_THAT(r.error().message(), Catch::Contains(path));
    ::chmod(ro.c_str(), 0700);
  }
}

TEST_CASE("SqliteStore: a corrupt database is reported and left untouched", "[store][unit]") {
  SqliteFactory f;
  testutil::FakeClock clock;
  SECTION("not a database at all") {
    std::ofstream(f.path()) << std::string(8192, 'z');
    auto r = SqliteStore::Open(f.path(), QuietOptions(), clock);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Code::kInternal);
    CHECK_THAT(r.error().message(), Catch::Contains(f.path()));
    CHECK_THAT(r.error().message(), Catch::Contains("corrupt"));
    std::ifstream in(f.path());
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(content == std::string(8192, 'z'));
  }
  SECTION("damaged pages") {
    {
      auto store = f.Open(QuietOptions(), clock);
      for (int i = 0; i < 400; ++i) {
        REQUIRE(store->Create("/k/" + std::to_string(i), std::string(500, 'v')).has_value());
      }
    }  // closing checkpoints the WAL into the main file
    struct stat st {};
    REQUIRE(::stat(f.path().c_str(), &st) == 0);
    REQUIRE(st.st_size > 16 * 4096);
    const int fd = ::open(f.path().c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    const std::string junk(4096 * 4, '\x5a');
    REQUIRE(::pwrite(fd, junk.data(), junk.size(), 4096 * 3) == static_cast<ssize_t>(junk.size()));
    ::close(fd);
    auto r = SqliteStore::Open(f.path(), QuietOptions(), clock);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Code::kInternal);
    CHECK_THAT(r.error().message(), Catch::Contains(f.path()));
    CHECK_THAT(r.error().message(), Catch::Contains("corrupt"));
  }
}

TEST_CASE("SqliteStore: compaction bounds the rows and the file under steady churn",
          "[store][unit]") {
  SqliteFactory f;
  testutil::FakeClock clock;
  StoreOptions o = QuietOptions();
  o.watch_window = 200;
  o.compaction_batch = 500;
  auto store = f.Open(o, clock);
  const std::string value(1024, 'x');
  constexpr int kKeys = 5;
  std::vector<Revision> revs(kKeys);
  for (int k = 0; k < kKeys; ++k)
    revs[k] = store->Create("/churn/" + std::to_string(k), value).value();
  auto churn = [&](int rounds) {
    for (int i = 0; i < rounds; ++i) {
      for (int k = 0; k < kKeys; ++k) {
        revs[k] = store->Update("/churn/" + std::to_string(k), value, revs[k]).value();
      }
    }
    // Deletes and re-creates leave tombstones, which compaction removes too.
    REQUIRE(store->Delete("/churn/0", revs[0]).has_value());
    revs[0] = store->Create("/churn/0", value).value();
  };
  churn(400);
  auto before = store->Stats();
  CHECK(before.db_rows > 2000);
  REQUIRE(store->Compact().ok());
  auto after = store->Stats();
  CHECK(after.compact_revision == after.window_start);
  // Only the window's rows and each key's newest row remain.
  CHECK(after.db_rows <= o.watch_window + kKeys + 1);
  CHECK(after.db_pages < before.db_pages / 4);

  // More churn with compaction between: the file stays the same size.
  uint64_t max_pages = 0;
  for (int round = 0; round < 5; ++round) {
    churn(400);
    REQUIRE(store->Compact().ok());
    auto st = store->Stats();
    max_pages = std::max(max_pages, st.db_pages);
    CHECK(st.db_rows <= o.watch_window + kKeys + 1);
  }
  CHECK(max_pages <= after.db_pages + 50);
  CHECK(store->CheckIntegrity().ok());
  store->Close();
  // The rows left still rebuild the same state.
  auto reopened = f.Open(o, clock);
  CHECK(reopened->Count("/churn/") == kKeys);
  CHECK(reopened->Get("/churn/0").value().mod_revision == revs[0]);
  CHECK(CountRows(f.path(), "SELECT value FROM mini8s_meta WHERE key = 'compact_revision'") ==
        reopened->Stats().compact_revision);
}

TEST_CASE("SqliteStore: background maintenance compacts and expires without being asked",
          "[store][unit]") {
  SqliteFactory f;
  testutil::FakeClock clock;
  StoreOptions o;
  o.watch_window = 50;
  o.compaction_batch = 100;
  o.maintenance_interval = std::chrono::milliseconds(5);
  auto store = f.Open(o, clock);
  Revision r = store->Create("/bg/k", "v").value();
  for (int i = 0; i < 500; ++i) r = store->Update("/bg/k", "v", r).value();
  REQUIRE(store->Create("/bg/ttl", "v", 1).has_value());
  clock.Advance(std::chrono::seconds(2));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  StoreStats st;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    st = store->Stats();
  } while ((st.compact_revision < st.window_start || st.keys != 1) &&
           std::chrono::steady_clock::now() < deadline);
  CHECK(st.compact_revision == st.window_start);
  CHECK(st.keys == 1);
  CHECK(st.db_rows <= 52);
}

}  // namespace
}  // namespace mini8s::store
