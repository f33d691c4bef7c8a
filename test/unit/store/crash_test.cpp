// Crash test: a child process writes under concurrent load and reports every acknowledged write
// to the parent over a pipe; the parent SIGKILLs it at a random moment and checks that every
// acknowledged write survived and that the database is intact.

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "store_test_util.h"

namespace mini8s::store {
namespace {

constexpr int kWriterThreads = 6;

std::string ValueFor(const std::string& key, bool updated) {
  return key + (updated ? "#updated#" : "#created#") + std::string(200, 'p');
}

void Report(int fd, char op, const std::string& key, Revision rev) {
  const std::string line = std::string(1, op) + " " + key + " " + std::to_string(rev) + "\n";
  // One write per line: below PIPE_BUF, so lines from several threads never interleave.
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

[[noreturn]] void ChildMain(const std::string& path, int run, int fd) {
  StoreOptions o;
  o.watch_window = 100;  // keep compaction busy during the load, too
  o.compaction_batch = 50;
  o.maintenance_interval = std::chrono::milliseconds(2);
  auto opened = SqliteStore::Open(path, o);
  if (!opened.has_value()) {
    const std::string line = "E " + opened.error().ToString() + "\n";
    (void)::write(fd, line.data(), line.size());
    _exit(2);
  }
  Store& store = **opened;
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriterThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        const std::string key =
            "/crash/" + std::to_string(run) + "/" + std::to_string(t) + "/" + std::to_string(i);
        auto c = store.Create(key, ValueFor(key, false));
        if (!c.has_value()) _exit(4);
        Report(fd, 'C', key, *c);
        if (i % 3 == 0) {
          auto u = store.Update(key, ValueFor(key, true), *c);
          if (!u.has_value()) _exit(5);
          Report(fd, 'U', key, *u);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

struct Acked {
  Revision created = 0;
  Revision updated = 0;
};

TEST_CASE("SqliteStore: every acknowledged write survives SIGKILL under concurrent load",
          "[store][unit][crash]") {
  testutil::TempDir dir;
  const std::string path = dir.File("state.db");
  std::random_device rd;
  const unsigned seed = rd();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kill_after_ms(20, 600);

  for (int run = 0; run < 5; ++run) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      ChildMain(path, run, fds[1]);
    }
    ::close(fds[1]);

    std::string data;
    char buf[65536];
    bool killed = false;
    std::chrono::steady_clock::time_point kill_at{};
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (true) {
      const auto now = std::chrono::steady_clock::now();
      if (!killed && kill_at != std::chrono::steady_clock::time_point{} && now >= kill_at) {
        REQUIRE(::kill(pid, SIGKILL) == 0);
        killed = true;
      }
      if (!killed && now >= give_up) {
        ::kill(pid, SIGKILL);
        FAIL("the child never acknowledged a write: " << data);
      }
      pollfd p{fds[0], POLLIN, 0};
      ::poll(&p, 1, 5);
      if (p.revents & (POLLIN | POLLHUP)) {
        const ssize_t n = ::read(fds[0], buf, sizeof(buf));
        if (n <= 0) break;  // the child is gone and everything it wrote has been read
        data.append(buf, static_cast<size_t>(n));
        if (kill_at == std::chrono::steady_clock::time_point{}) {
          kill_at =
              std::chrono::steady_clock::now() + std::chrono::milliseconds(kill_after_ms(rng));
        }
      }
    }
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO("child output: " << data.substr(0, 300));
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    std::map<std::string, Acked> acked;
    std::istringstream lines(data);
    std::string line;
    size_t n_acked = 0;
    Revision max_rev = 0;
    while (std::getline(lines, line)) {
      if (lines.eof()) break;  // a torn last line was never fully reported
      std::istringstream fields(line);
      char op = 0;
      std::string key;
      Revision rev = 0;
      fields >> op >> key >> rev;
      REQUIRE((op == 'C' || op == 'U'));
      (op == 'C' ? acked[key].created : acked[key].updated) = rev;
      max_rev = std::max(max_rev, rev);
      ++n_acked;
    }
    REQUIRE(n_acked > 0);

    auto reopened = SqliteStore::Open(path);
    INFO(reopened.status().ToString());
    REQUIRE(reopened.has_value());
    Store& store = **reopened;
    CHECK(store.CheckIntegrity().ok());
    CHECK(store.CurrentRevision() >= max_rev);
    size_t missing = 0;
    for (const auto& [key, a] : acked) {
      auto got = store.Get(key);
      if (!got.has_value()) {
        ++missing;
        continue;
      }
      REQUIRE(got->create_revision == a.created);
      if (a.updated != 0) {
        CHECK(got->mod_revision == a.updated);
        CHECK(*got->value == ValueFor(key, true));
      } else if (got->mod_revision == a.created) {
        CHECK(*got->value == ValueFor(key, false));
      } else {
        // The update committed but the child died before reporting it.
        CHECK(got->mod_revision > a.created);
        CHECK(*got->value == ValueFor(key, true));
      }
    }
    CHECK(missing == 0);
    UNSCOPED_INFO("run " << run << ": " << n_acked << " acknowledged writes verified");
  }
}

}  // namespace
}  // namespace mini8s::store
