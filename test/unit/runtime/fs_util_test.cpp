#include "runtime/fs_util.h"

#include <unistd.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace mini8s::runtime {
namespace {

using Views = std::vector<std::string_view>;

TEST_CASE("Runtime fields: blanks, newlines and repeated separators split", "[runtime][unit]") {
  CHECK(Fields("  cpu memory\n\tpids  \n") == Views{"cpu", "memory", "pids"});
  CHECK(Fields("").empty());
  CHECK(Fields(" \n ").empty());
  CHECK(Fields("/pods//pod1/app/", "/") == Views{"pods", "pod1", "app"});
  CHECK(Fields("rw,memory", ",") == Views{"rw", "memory"});
}

TEST_CASE("Runtime proc stat: fields count from after the command name", "[runtime][unit]") {
  // A command name may hold blanks and parentheses; only the last ')' ends it.
  std::string stat = "42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 98765 0";
  CHECK(ProcStatField(stat, 3) == "S");
  CHECK(ProcStatField(stat, 4) == "1");
  CHECK(ProcStatField(stat, 20) == "3");
  CHECK(ProcStatField(stat, 22) == "98765");
  CHECK(ProcStatField(stat, 40).empty());
  CHECK(ProcStatField("no paren here", 3).empty());
}

TEST_CASE("Runtime proc stat: this process reads as running, with its parent and threads", "[runtime][unit]") {
  auto stat = ReadFile("/proc/self/stat");
  REQUIRE(stat.ok());
  CHECK(ProcStatField(*stat, 3) == "R");
  CHECK(std::stoi(std::string(ProcStatField(*stat, 20))) >= 1);
  CHECK(ProcStatField(*stat, 4) == std::to_string(::getppid()));
}

}  // namespace
}  // namespace mini8s::runtime
