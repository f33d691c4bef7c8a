#include "runtime/mem_trim.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

namespace mini8s::runtime {
namespace {

// How many droppable mappings one pass handles (the supervisor has about 20).
constexpr size_t kMaxRanges = 256;

struct Range {
  uintptr_t start, end;
};

bool IsHeader(std::string_view line) {
  if (line.empty()) return false;
  char c = line[0];
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// The next blank-separated token of `s`, consumed.
std::string_view Token(std::string_view& s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string_view::npos) {
    s = {};
    return {};
  }
  s.remove_prefix(b);
  size_t e = s.find(' ');
  std::string_view t = s.substr(0, e);
  s.remove_prefix(e == std::string_view::npos ? s.size() : e);
  return t;
}

template <typename T>
T Number(std::string_view s, int base = 10) {
  T v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v, base);
  return v;
}

// "start-end perms offset dev inode [path]"
void ParseHeader(std::string_view line, SmapsMapping& m) {
  m = SmapsMapping();
  std::string_view range = Token(line);
  size_t dash = range.find('-');
  if (dash == std::string_view::npos) return;
  m.start = Number<uintptr_t>(range.substr(0, dash), 16);
  m.end = Number<uintptr_t>(range.substr(dash + 1), 16);
  std::string_view perms = Token(line);
  std::memcpy(m.perms, perms.data(), std::min(perms.size(), sizeof m.perms - 1));
  Token(line);  // offset
  Token(line);  // device
  m.inode = Number<uint64_t>(Token(line));
  std::string_view path = Token(line);
  m.named_file = !path.empty() && path[0] == '/';
}

// "Key:   123 kB" and "VmFlags: rd ex mr ..."
void ParseField(std::string_view line, SmapsMapping& m) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string_view key = line.substr(0, colon);
  std::string_view rest = line.substr(colon + 1);
  if (key == "VmFlags") {
    m.complete = true;
    for (std::string_view f = Token(rest); !f.empty(); f = Token(rest)) {
      // mlocked pages cannot be dropped; io/pf mappings are not page-cache memory; um/uw are
      // registered with userfaultfd.
      if (f == "lo" || f == "io" || f == "pf" || f == "um" || f == "uw") m.locked_or_special = true;
    }
    return;
  }
  uint64_t* slot = key == "Rss"             ? &m.rss_kb
                   : key == "Private_Dirty" ? &m.private_dirty_kb
                   : key == "Shared_Dirty"  ? &m.shared_dirty_kb
                   : key == "Anonymous"     ? &m.anonymous_kb
                                            : nullptr;
  if (slot != nullptr) *slot = Number<uint64_t>(Token(rest));
}

}  // namespace

bool IsDroppableCleanFileMapping(const SmapsMapping& m) {
  // Not Private_Dirty == 0: that also counts page-cache pages that are dirty because the file
  // was written recently (a binary just built or installed), which only this process maps.
  // Unmapping those loses nothing (the dirty bit moves to the page cache). Anonymous counts
  // exactly the private copy-on-write pages, which MADV_DONTNEED would discard.
  // A mapping cut short (a failed read) might lack its Anonymous line: never dropped.
  return m.complete && m.end > m.start && m.rss_kb > 0 && m.perms[1] != 'w' && m.inode != 0 &&
         m.named_file && m.anonymous_kb == 0 && !m.locked_or_special;
}

namespace {

// Reads /proc/self/smaps into `ranges`; returns how many, or 0 if it cannot be read.
size_t DroppableRanges(Range* ranges, size_t max, size_t* rss_kb) {
  size_t n = 0;
  int fd = ::open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  // Lines are parsed from a fixed buffer: no allocation, so nothing is left on the heap.
  char buf[8192];
  size_t have = 0;
  bool skipping = false;  // inside a line longer than the buffer (a long path): drop the rest
  bool in_mapping = false;
  SmapsMapping cur;
  auto finish = [&] {
    if (in_mapping && IsDroppableCleanFileMapping(cur) && n < max) {
      ranges[n++] = {cur.start, cur.end};
      *rss_kb += cur.rss_kb;
    }
    in_mapping = false;
  };
  auto line = [&](std::string_view l) {
    if (IsHeader(l)) {
      finish();
      ParseHeader(l, cur);
      in_mapping = true;
    } else if (in_mapping) {
      ParseField(l, cur);
    }
  };
  for (;;) {
    ssize_t r = ::read(fd, buf + have, sizeof buf - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    have += static_cast<size_t>(r);
    size_t pos = 0;
    for (;;) {
      const char* nl = static_cast<const char*>(std::memchr(buf + pos, '\n', have - pos));
      if (nl == nullptr) break;
      size_t len = static_cast<size_t>(nl - (buf + pos));
      if (!skipping) line(std::string_view(buf + pos, len));
      skipping = false;
      pos += len + 1;
    }
    if (pos == 0 && have == sizeof buf) {
      // One line fills the buffer: its start (the header fields) is all that matters.
      if (!skipping) line(std::string_view(buf, have));
      skipping = true;
      have = 0;
      continue;
    }
    std::memmove(buf, buf + pos, have - pos);
    have -= pos;
  }
  ::close(fd);
  finish();
  return n;
}

// Raw system calls: after libc's text is dropped, calling its wrappers would fault it back in.
#if defined(__x86_64__)
long Syscall3(long nr, long a, long b, long c) {
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "0"(nr), "D"(a), "S"(b), "d"(c)
               : "rcx", "r11", "memory");
  return ret;  // -errno on failure
}
#else
long Syscall3(long nr, long a, long b, long c) {
  long r = ::syscall(nr, a, b, c);
  return r < 0 ? -errno : r;
}
#endif

// The drop and, when `fds` is given, the poll that follows it, in one small function without
// calls into libc: what runs between the last madvise and the poll is what stays mapped.
__attribute__((noinline)) long DropThenPoll(const Range* ranges, size_t n, size_t* dropped,
                                            pollfd* fds, nfds_t nfds) {
  for (size_t i = 0; i < n; ++i) {
    long r = Syscall3(SYS_madvise, static_cast<long>(ranges[i].start),
                      static_cast<long>(ranges[i].end - ranges[i].start), MADV_DONTNEED);
    if (r == 0) ++*dropped;
  }
  if (fds == nullptr) return 0;
  return Syscall3(SYS_poll, reinterpret_cast<long>(fds), static_cast<long>(nfds), -1);
}

}  // namespace

TrimResult TrimIdleMemory() {
  // Free heap first: it runs malloc code, whose pages the drop below then takes away again.
  ::malloc_trim(0);
  TrimResult result;
  Range ranges[kMaxRanges];
  size_t n = DroppableRanges(ranges, kMaxRanges, &result.rss_kb);
  DropThenPoll(ranges, n, &result.mappings, nullptr, 0);
  return result;
}

int TrimThenPoll(pollfd* fds, nfds_t nfds) {
  ::malloc_trim(0);
  Range ranges[kMaxRanges];
  size_t rss_kb = 0, dropped = 0;
  size_t n = DroppableRanges(ranges, kMaxRanges, &rss_kb);
  long r = DropThenPoll(ranges, n, &dropped, fds, nfds);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<int>(r);
}

}  // namespace mini8s::runtime
