// The Store contract, run against both MemStore and SqliteStore.

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "store_test_util.h"
#include "testutil/fake_clock.h"

namespace mini8s::store {
namespace {

using testing::Barrier;
using testing::MemFactory;
using testing::QuietOptions;
using testing::SqliteFactory;
using testing::TakeEvents;
using testing::Val;

TEMPLATE_TEST_CASE("Store: create assigns increasing revisions and rejects an existing key",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  CHECK(store->CurrentRevision() == 0);
  auto r1 = store->Create("/registry/pods/default/a", "A");
  REQUIRE(r1.has_value());
  auto r2 = store->Create("/registry/pods/default/b", "B");
  REQUIRE(r2.has_value());
  CHECK(*r2 > *r1);
  CHECK(store->CurrentRevision() == *r2);

  auto dup = store->Create("/registry/pods/default/a", "again");
  REQUIRE_FALSE(dup.has_value());
  CHECK(dup.error().code() == Code::kAlreadyExists);
  CHECK(store->CurrentRevision() == *r2);

  auto got = store->Get("/registry/pods/default/a");
  REQUIRE(got.has_value());
  CHECK(Val(*got) == "A");
  CHECK(got->create_revision == *r1);
  CHECK(got->mod_revision == *r1);
  CHECK(store->Get("/registry/pods/default/zzz").error().code() == Code::kNotFound);
  CHECK(store->Create("", "x").error().code() == Code::kInvalid);
}

TEMPLATE_TEST_CASE("Store: update is a compare-and-swap on the mod revision", "[store][unit]",
                   MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  const Revision created = store->Create("/k", "v1").value();

  auto stale = store->Update("/k", "v2", created + 100);
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == Code::kConflict);
  CHECK(Val(store->Get("/k").value()) == "v1");

  const Revision updated = store->Update("/k", "v2", created).value();
  CHECK(updated > created);
  auto got = store->Get("/k").value();
  CHECK(Val(got) == "v2");
  CHECK(got.create_revision == created);
  CHECK(got.mod_revision == updated);

  // The old token no longer matches: the GuaranteedUpdate caller re-reads and retries.
  CHECK(store->Update("/k", "v3", created).error().code() == Code::kConflict);
  CHECK(store->Update("/k", "v3", 0).has_value());  // unconditional
  CHECK(store->Update("/missing", "v", 0).error().code() == Code::kNotFound);
}

TEMPLATE_TEST_CASE("Store: delete returns the deleted value and a key can be re-created",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  const Revision c1 = store->Create("/k", "v1").value();

  CHECK(store->Delete("/k", c1 + 5).error().code() == Code::kConflict);
  auto del = store->Delete("/k", c1);
  REQUIRE(del.has_value());
  CHECK(del->revision > c1);
  CHECK(Val(del->deleted) == "v1");
  CHECK(del->deleted.mod_revision == c1);
  CHECK(store->Get("/k").error().code() == Code::kNotFound);
  CHECK(store->Delete("/k").error().code() == Code::kNotFound);

  const Revision c2 = store->Create("/k", "v2").value();
  auto got = store->Get("/k").value();
  CHECK(got.create_revision == c2);
  CHECK(Val(got) == "v2");
  // Delete and re-create again: the persisted rows must stay unique per (key, prev revision).
  REQUIRE(store->Delete("/k").has_value());
  REQUIRE(store->Create("/k", "v3").has_value());
  CHECK(store->Delete("/k", 0).has_value());
}

TEMPLATE_TEST_CASE("Store: list pages with limit and continue stay at the first page's revision",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(store->Create("/a/" + std::to_string(i), "v" + std::to_string(i)).has_value());
  }
  REQUIRE(store->Create("/b/x", "other").has_value());
  REQUIRE(store->Create("/a", "not under /a/").has_value());
  CHECK(store->Count("/a/") == 10);

  ListOptions opts;
  opts.limit = 4;
  auto p1 = store->List("/a/", opts).value();
  REQUIRE(p1.items.size() == 4);
  CHECK(p1.more);
  const Revision snapshot = p1.revision;
  CHECK(snapshot == store->CurrentRevision());

  // Changes after the first page must not show in later pages.
  const Revision r5 = store->Get("/a/5").value().mod_revision;
  REQUIRE(store->Update("/a/5", "changed", r5).has_value());
  REQUIRE(store->Delete("/a/6").has_value());
  REQUIRE(store->Create("/a/55", "new").has_value());
  REQUIRE(store->Delete("/a/0").has_value());  // already listed

  std::vector<KeyValue> all = p1.items;
  ListResult page = p1;
  while (page.more) {
    opts.continue_after = page.items.back().key;
    opts.revision = snapshot;
    page = store->List("/a/", opts).value();
    CHECK(page.revision == snapshot);
    all.insert(all.end(), page.items.begin(), page.items.end());
  }
  REQUIRE(all.size() == 10);
  for (int i = 0; i < 10; ++i) {
    CHECK(all[static_cast<size_t>(i)].key == "/a/" + std::to_string(i));
    CHECK(Val(all[static_cast<size_t>(i)]) == "v" + std::to_string(i));
  }
  CHECK(all[5].mod_revision == r5);

  // The current state has the changes.
  auto now = store->List("/a/").value();
  CHECK(now.items.size() == 9);
  CHECK_FALSE(now.more);
  CHECK(now.revision == store->CurrentRevision());

  // An exact limit reports no more items.
  ListOptions exact;
  exact.limit = 9;
  CHECK_FALSE(store->List("/a/", exact).value().more);
  exact.limit = -1;
  CHECK(store->List("/a/", exact).error().code() == Code::kInvalid);
}

TEMPLATE_TEST_CASE("Store: list and watch outside the window are Expired, in the future Timeout",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  StoreOptions o = QuietOptions();
  o.watch_window = 5;
  auto store = f.Open(o, clock);
  for (int i = 0; i < 20; ++i) REQUIRE(store->Create("/k/" + std::to_string(i), "v").has_value());
  const Revision cur = store->CurrentRevision();

  ListOptions at;
  at.revision = cur - 5;  // the oldest revision the window can reconstruct
  CHECK(store->List("/k/", at).value().items.size() == 15);
  CHECK(store->Watch("/k/", cur - 5).has_value());
  at.revision = cur - 6;
  CHECK(store->List("/k/", at).error().code() == Code::kExpired);
  auto w = store->Watch("/k/", cur - 6);
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().code() == Code::kExpired);

  at.revision = cur + 1;
  CHECK(store->List("/k/", at).error().code() == Code::kTimeout);
  CHECK(store->Watch("/k/", cur + 1).error().code() == Code::kTimeout);
}

TEMPLATE_TEST_CASE("Store: a watch replays the window in order with previous values",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  const Revision start = store->Create("/other", "x").value();
  const Revision c = store->Create("/p/a", "1").value();
  const Revision u = store->Update("/p/a", "2", c).value();
  const Revision d = store->Delete("/p/a", u).value().revision;

  auto w = store->Watch("/p/", start).value();
  auto evs = TakeEvents(*w, 3);
  CHECK(evs[0]->type == EventType::kAdded);
  CHECK(evs[0]->revision == c);
  CHECK(*evs[0]->value == "1");
  CHECK(evs[0]->prev_value == nullptr);
  CHECK(evs[1]->type == EventType::kModified);
  CHECK(evs[1]->revision == u);
  CHECK(*evs[1]->value == "2");
  CHECK(*evs[1]->prev_value == "1");
  CHECK(evs[1]->prev_revision == c);
  CHECK(evs[2]->type == EventType::kDeleted);
  CHECK(evs[2]->revision == d);
  CHECK(*evs[2]->value == "2");
  CHECK(*evs[2]->prev_value == "2");
  CHECK(evs[2]->create_revision == c);
  CHECK(w->TryNext().value() == nullptr);

  // Live events follow the replay.
  const Revision live = store->Create("/p/b", "3").value();
  auto more = TakeEvents(*w, 1);
  CHECK(more[0]->revision == live);
  w->Stop();
  CHECK(w->Next(std::chrono::milliseconds(1)).error().code() == Code::kCancelled);
}

TEMPLATE_TEST_CASE(
    "Store: list then watch from its revision has no gap and no duplicate under "
    "concurrent writers",
    "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  StoreOptions o = QuietOptions();
  o.watcher_queue_limit = 100000;
  auto store = f.Open(o, clock);
  constexpr int kThreads = 4;
  constexpr int kKeys = 20;
  constexpr int kOps = 150;
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < kOps; ++i) {
        const std::string key = "/w/" + std::to_string((t * 7 + i) % kKeys);
        auto cur = store->Get(key);
        if (!cur.has_value()) {
          (void)store->Create(key, std::to_string(t) + ":" + std::to_string(i));
        } else if (i % 5 == 0) {
          (void)store->Delete(key, cur->mod_revision);
        } else {
          (void)store->Update(key, std::to_string(t) + ":" + std::to_string(i), cur->mod_revision);
        }
      }
    });
  }
  go = true;
  // List in the middle of the churn, then watch from the list's revision.
  while (store->CurrentRevision() < 50) std::this_thread::yield();
  auto list = store->List("/w/").value();
  auto w = store->Watch("/w/", list.revision).value();
  for (auto& t : writers) t.join();
  const Revision final_rev = store->CurrentRevision();

  std::map<std::string, std::string> state;
  for (const auto& kv : list.items) state[kv.key] = *kv.value;
  Revision last = list.revision;
  while (last < final_rev) {
    auto ev = w->Next(std::chrono::seconds(5));
    REQUIRE(ev.has_value());
    REQUIRE(*ev != nullptr);
    const Event& e = **ev;
    REQUIRE(e.revision > last);  // increasing: no duplicate, in order
    // No gap: every event applies to the state it expects.
    if (e.type == EventType::kAdded) {
      CHECK(state.count(e.key) == 0);
      state[e.key] = *e.value;
    } else {
      REQUIRE(state.count(e.key) == 1);
      CHECK(state[e.key] == *e.prev_value);
      if (e.type == EventType::kDeleted) {
        state.erase(e.key);
      } else {
        state[e.key] = *e.value;
      }
    }
    last = e.revision;
  }
  auto final_list = store->List("/w/").value();
  std::map<std::string, std::string> expected;
  for (const auto& kv : final_list.items) expected[kv.key] = *kv.value;
  CHECK(state == expected);
}

TEMPLATE_TEST_CASE("Store: a subscriber that falls behind is cut off, others are not",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  StoreOptions o = QuietOptions();
  o.watcher_queue_limit = 5;
  auto store = f.Open(o, clock);
  auto slow = store->Watch("/s/", 0).value();
  auto fast = store->Watch("/s/", 0).value();
  int notified = 0;
  fast->SetNotify([&] { ++notified; });
  for (int i = 0; i < 12; ++i) {
    REQUIRE(store->Create("/s/" + std::to_string(i), "v").has_value());
    Barrier(*store);
    auto ev = fast->TryNext();
    REQUIRE(ev.has_value());
    REQUIRE(*ev != nullptr);
  }
  CHECK(notified == 12);  // once per empty -> ready transition
  // The slow watcher gets what was queued, then the error; it never holds more than the limit.
  std::vector<EventPtr> got;
  Status end = Status::OK();
  while (true) {
    auto ev = slow->Next(std::chrono::milliseconds(10));
    if (!ev.has_value()) {
      end = ev.error();
      break;
    }
    REQUIRE(*ev != nullptr);
    got.push_back(*ev);
  }
  CHECK(got.size() == 5);
  CHECK(end.code() == Code::kResourceExhausted);
  CHECK_THAT(end.message(), Catch::Contains("fell behind"));
  CHECK(store->Stats().watchers == 2);
  slow.reset();
  CHECK(store->Stats().watchers == 1);
}

TEMPLATE_TEST_CASE("Store: a replaying watcher that the window overtakes is cut off without a gap",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  StoreOptions o = QuietOptions();
  o.watch_window = 300;
  auto store = f.Open(o, clock);
  const Revision start = store->Create("/r/0", "v").value();
  for (int i = 1; i < 300; ++i) REQUIRE(store->Create("/r/" + std::to_string(i), "v").has_value());
  auto w = store->Watch("/r/", start).value();
  auto first = TakeEvents(*w, 1);  // replay began; it reads the window in chunks
  for (int i = 300; i < 700; ++i) {
    REQUIRE(store->Create("/r/" + std::to_string(i), "v").has_value());
  }
  // The rest of the replay left the window; live events must not be delivered after the hole.
  std::vector<Revision> revs;
  Status end;
  while (true) {
    auto ev = w->Next(std::chrono::milliseconds(10));
    if (!ev.has_value()) {
      end = ev.error();
      break;
    }
    if (*ev) revs.push_back((*ev)->revision);
  }
  CHECK(end.code() == Code::kResourceExhausted);
  CHECK(revs.size() < 299);
  for (size_t i = 0; i < revs.size(); ++i) {
    REQUIRE(revs[i] == first[0]->revision + 1 + Revision(i));
  }
}

TEMPLATE_TEST_CASE("Store: the notify callback fires for pending data and at the end",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  REQUIRE(store->Create("/x", "v").has_value());
  const Revision r = store->Create("/n/a", "v").value();
  auto w = store->Watch("/n/", r - 1).value();
  std::atomic<int> calls{0};
  w->SetNotify([&] { ++calls; });
  CHECK(calls == 1);  // replay pending at registration
  std::vector<EventPtr> out;
  REQUIRE(w->Drain(out).ok());
  CHECK(out.size() == 1);
  REQUIRE(store->Create("/n/b", "v").has_value());
  REQUIRE(store->Create("/n/c", "v").has_value());
  Barrier(*store);
  CHECK(calls == 2);  // still ready after b, so c does not notify again
  REQUIRE(w->Drain(out).ok());
  CHECK(out.size() == 3);
  store->Close();
  CHECK(calls == 3);
  out.clear();
  CHECK(w->Drain(out).code() == Code::kUnavailable);
  CHECK(store->Create("/n/d", "v").error().code() == Code::kUnavailable);
  CHECK(store->Watch("/n/", 0).error().code() == Code::kUnavailable);
}

TEMPLATE_TEST_CASE("Store: a watcher's progress revision only covers what it delivered",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  const Revision r0 = store->Create("/x/0", "v").value();
  auto w = store->Watch("/p/", 0).value();
  CHECK(w->ProgressRevision() == r0);
  const Revision other = store->Create("/x/1", "v").value();  // not under the prefix
  Barrier(*store);
  CHECK(w->ProgressRevision() == other);
  const Revision mine = store->Create("/p/a", "v").value();
  REQUIRE(store->Create("/x/2", "v").has_value());
  Barrier(*store);
  CHECK(w->ProgressRevision() == other);  // /p/a is still queued
  auto ev = TakeEvents(*w, 1);
  CHECK(ev[0]->revision == mine);
  CHECK(w->ProgressRevision() == store->CurrentRevision());
}

TEMPLATE_TEST_CASE("Store: compaction keeps the watch window", "[store][unit]", MemFactory,
                   SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  StoreOptions o = QuietOptions();
  o.watch_window = 10;
  o.compaction_batch = 7;
  auto store = f.Open(o, clock);
  Revision rev = store->Create("/c/k", "0").value();
  for (int i = 1; i < 50; ++i) rev = store->Update("/c/k", std::to_string(i), rev).value();
  REQUIRE(store->Compact().ok());
  auto st = store->Stats();
  CHECK(st.compact_revision == st.window_start);
  CHECK(st.window_start == rev - 10);
  auto w = store->Watch("/c/", rev - 10).value();
  auto evs = TakeEvents(*w, 10);
  CHECK(*evs.front()->prev_value == "39");
  CHECK(*evs.back()->value == "49");

  // An explicit revision shrinks the window.
  REQUIRE(store->Compact(rev - 2).ok());
  CHECK(store->Watch("/c/", rev - 3).error().code() == Code::kExpired);
  CHECK(store->Watch("/c/", rev - 2).has_value());
  CHECK(store->Compact(rev + 1).code() == Code::kInvalid);
}

TEMPLATE_TEST_CASE("Store: TTL keys expire on the store's clock with a DELETED event",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  REQUIRE(store->Create("/events/a", "a", 10).has_value());
  const Revision b = store->Create("/events/b", "b", 20).value();
  REQUIRE(store->Create("/events/keep", "k").has_value());
  auto w = store->Watch("/events/", 0).value();

  clock.Advance(std::chrono::seconds(9));
  CHECK(store->ExpireDueKeys().value() == 0);
  clock.Advance(std::chrono::seconds(1));
  CHECK(store->ExpireDueKeys().value() == 1);
  auto ev = TakeEvents(*w, 1);
  CHECK(ev[0]->type == EventType::kDeleted);
  CHECK(ev[0]->key == "/events/a");
  CHECK(store->Get("/events/a").error().code() == Code::kNotFound);

  // A write renews (or removes) the TTL, as an etcd put with a new lease does.
  REQUIRE(store->Update("/events/b", "b2", b, 30).has_value());
  clock.Advance(std::chrono::seconds(25));
  CHECK(store->ExpireDueKeys().value() == 0);
  clock.Advance(std::chrono::seconds(5));
  CHECK(store->ExpireDueKeys().value() == 1);
  CHECK(store->Count("/events/") == 1);
  clock.Advance(std::chrono::hours(1));
  CHECK(store->ExpireDueKeys().value() == 0);
}

TEMPLATE_TEST_CASE("Store: many keys falling due at once expire in bounded transactions",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  StoreOptions o = QuietOptions();
  o.max_batch = 4;
  auto store = f.Open(o, clock);
  for (int i = 0; i < 10; ++i)
    REQUIRE(store->Create("/e/" + std::to_string(i), "v", 5).has_value());
  const auto before = store->Stats();
  clock.Advance(std::chrono::seconds(5));
  CHECK(store->ExpireDueKeys().value() == 10);
  const auto after = store->Stats();
  CHECK(after.keys == 0);
  CHECK(after.transactions - before.transactions == 3);
}

TEMPLATE_TEST_CASE("Store: concurrent writers are all acknowledged with unique revisions",
                   "[store][unit]", MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  constexpr int kThreads = 16;
  constexpr int kPerThread = 60;
  std::vector<std::vector<Revision>> revs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store->Create("/c/" + std::to_string(t) + "/" + std::to_string(i), "v");
        if (r.has_value()) revs[static_cast<size_t>(t)].push_back(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<Revision> all;
  for (const auto& v : revs) {
    CHECK(v.size() == kPerThread);
    CHECK(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  CHECK(all.size() == kThreads * kPerThread);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == kThreads * kPerThread);
  CHECK(store->Count("/c/") == kThreads * kPerThread);
  auto st = store->Stats();
  CHECK(st.writes == kThreads * kPerThread);
  CHECK(st.transactions <= st.writes);
}

}  // namespace
}  // namespace mini8s::store

namespace mini8s::store::testing {
namespace {

TEMPLATE_TEST_CASE("Store: a huge TTL saturates instead of wrapping into the past", "[store][unit]",
                   MemFactory, SqliteFactory) {
  TestType f;
  testutil::FakeClock clock;
  auto store = f.Open(QuietOptions(), clock);
  REQUIRE(store->Create("/events/forever", "v", std::numeric_limits<int64_t>::max()).has_value());
  REQUIRE(
      store->Create("/events/long", "v", std::numeric_limits<int64_t>::max() / 1000).has_value());
  clock.Advance(std::chrono::hours(24 * 365));
  CHECK(store->ExpireDueKeys().value() == 0);
  CHECK(store->Count("/events/") == 2);
}

}  // namespace
}  // namespace mini8s::store::testing
