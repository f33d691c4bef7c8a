#include "runtime/supervisor_proto.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

namespace mini8s::runtime::proto {
namespace {

struct SocketPair {
  SocketPair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    a.Reset(sv[0]);
    b.Reset(sv[1]);
  }
  UniqueFd a, b;
};

TEST_CASE("Supervisor protocol: frames are taken only when complete", "[runtime][unit]") {
  std::string buf("\0\0\0\5hel", 7);
  std::string body;
  bool too_large = true;
  CHECK_FALSE(TakeFrame(buf, body, &too_large));
  CHECK_FALSE(too_large);
  buf += "lo";
  buf += std::string("\0\0\0\2{}", 6);
  REQUIRE(TakeFrame(buf, body, &too_large));
  CHECK(body == "hello");
  REQUIRE(TakeFrame(buf, body, &too_large));
  CHECK(body == "{}");
  CHECK(buf.empty());
  std::string huge("\x7f\0\0\0", 4);
  CHECK_FALSE(TakeFrame(huge, body, &too_large));
  CHECK(too_large);
}

TEST_CASE("Supervisor protocol: back-to-back frames survive one read and fds travel along",
          "[runtime][unit]") {
  SocketPair s;
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd r(p[0]), w(p[1]);
  // The reply and an exec's exit message can arrive in one read: the second must not be lost.
  REQUIRE(SendFrame(s.a.get(), R"({"ok":true})", {w.get()}).ok());
  REQUIRE(SendFrame(s.a.get(), R"({"exit":{}})").ok());
  std::string pending;
  std::vector<UniqueFd> fds;
  auto first = RecvFrame(s.b.get(), pending, &fds);
  REQUIRE(first.ok());
  CHECK(*first == R"({"ok":true})");
  REQUIRE(fds.size() == 1);
  REQUIRE(::write(fds[0].get(), "x", 1) == 1);  // the received fd is the pipe's write end
  char c = 0;
  REQUIRE(::read(r.get(), &c, 1) == 1);
  CHECK(c == 'x');
  auto second = RecvFrame(s.b.get(), pending, nullptr);
  REQUIRE(second.ok());
  CHECK(*second == R"({"exit":{}})");
  s.a.Reset();
  CHECK(RecvFrame(s.b.get(), pending, nullptr).error().code() == Code::kUnavailable);
}

TEST_CASE("Supervisor protocol: a large body crosses several reads", "[runtime][unit]") {
  SocketPair s;
  std::string big(300000, 'y');
  // The socket buffer is smaller than the frame: send from a child process.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(SendFrame(s.a.get(), big).ok() ? 0 : 1);
  std::string pending;
  auto got = RecvFrame(s.b.get(), pending, nullptr);
  REQUIRE(got.ok());
  CHECK(*got == big);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(status == 0);
}

}  // namespace
}  // namespace mini8s::runtime::proto
