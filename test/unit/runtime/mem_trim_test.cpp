#include "runtime/mem_trim.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "testutil/temp_dir.h"

namespace mini8s::runtime {
namespace {

SmapsMapping CleanText() {
  SmapsMapping m;
  m.start = 0x400000;
  m.end = 0x800000;
  std::memcpy(m.perms, "r-xp", 5);
  m.inode = 42;
  m.named_file = true;
  m.rss_kb = 256;
  m.complete = true;
  return m;
}

TEST_CASE("Runtime trim: only read-only file mappings without private pages are dropped",
          "[runtime][unit]") {
  CHECK(IsDroppableCleanFileMapping(CleanText()));
  SmapsMapping m = CleanText();
  // Dirty page-cache pages (a binary just written) are still the file's: nothing private.
  m.private_dirty_kb = 64;
  CHECK(IsDroppableCleanFileMapping(m));
  m = CleanText();
  m.anonymous_kb = 4;  // relocated (RELRO) or otherwise copied-on-write data
  CHECK_FALSE(IsDroppableCleanFileMapping(m));
  m = CleanText();
  std::memcpy(m.perms, "rw-p", 5);
  CHECK_FALSE(IsDroppableCleanFileMapping(m));
  m = CleanText();
  m.inode = 0;
  m.named_file = false;  // anonymous memory, heap, stack, [vdso]
  CHECK_FALSE(IsDroppableCleanFileMapping(m));
  m = CleanText();
  m.locked_or_special = true;
  CHECK_FALSE(IsDroppableCleanFileMapping(m));
  m = CleanText();
  m.rss_kb = 0;  // nothing resident, nothing to do
  CHECK_FALSE(IsDroppableCleanFileMapping(m));
  m = CleanText();
  m.complete = false;  // smaps cut short before the mapping's last line
  CHECK_FALSE(IsDroppableCleanFileMapping(m));
}

// Rss of the mapping starting at `addr`, from /proc/self/smaps; -1 if there is none.
long RssKb(const void* addr) {
  char want[32];
  std::snprintf(want, sizeof want, "%lx-", reinterpret_cast<unsigned long>(addr));
  std::ifstream in("/proc/self/smaps");
  bool in_it = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(want, 0) == 0) {
      in_it = true;
    } else if (in_it && line.rfind("Rss:", 0) == 0) {
      return std::stol(line.substr(4));
    }
  }
  return -1;
}

class MappedFile {
 public:
  MappedFile(const std::string& path, size_t size, int prot) : size_(size) {
    std::vector<char> data(size);
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + i % 26);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, data.data(), size) == static_cast<ssize_t>(size));
    void* p = ::mmap(nullptr, size, prot, MAP_PRIVATE, fd, 0);
    ::close(fd);
    REQUIRE(p != MAP_FAILED);
    p_ = static_cast<char*>(p);
  }
  ~MappedFile() { ::munmap(p_, size_); }
  char* data() const { return p_; }
  // Reads every page; returns whether the content is the file's.
  bool Intact() const {
    for (size_t i = 0; i < size_; ++i) {
      if (p_[i] != static_cast<char>('a' + i % 26)) return false;
    }
    return true;
  }

 private:
  size_t size_;
  char* p_ = nullptr;
};

TEST_CASE("Runtime trim: clean file pages leave the page tables and fault back unchanged",
          "[runtime][unit]") {
  testutil::TempDir dir;
  MappedFile f(dir.path() + "/text", 64 * 4096, PROT_READ);
  REQUIRE(f.Intact());
  REQUIRE(RssKb(f.data()) >= 64 * 4);
  TrimResult r = TrimIdleMemory();
  CHECK(r.mappings > 0);
  CHECK(RssKb(f.data()) == 0);
  CHECK(f.Intact());
  CHECK(RssKb(f.data()) >= 64 * 4);
}

TEST_CASE("Runtime trim: private copies in file mappings are kept", "[runtime][unit]") {
  testutil::TempDir dir;
  // Written, then made read-only: what a relocated RELRO segment looks like.
  MappedFile relro(dir.path() + "/relro", 16 * 4096, PROT_READ | PROT_WRITE);
  relro.data()[5 * 4096] = '#';
  REQUIRE(::mprotect(relro.data(), 16 * 4096, PROT_READ) == 0);
  // Writable data: never touched, whatever it holds.
  MappedFile data(dir.path() + "/data", 16 * 4096, PROT_READ | PROT_WRITE);
  REQUIRE(data.Intact());
  data.data()[3 * 4096] = '$';
  long relro_rss = RssKb(relro.data()), data_rss = RssKb(data.data());
  REQUIRE(relro_rss > 0);
  REQUIRE(data_rss > 0);

  (void)TrimIdleMemory();
  CHECK(RssKb(relro.data()) == relro_rss);
  CHECK(RssKb(data.data()) == data_rss);
  CHECK(relro.data()[5 * 4096] == '#');
  CHECK(data.data()[3 * 4096] == '$');
}

}  // namespace
}  // namespace mini8s::runtime
