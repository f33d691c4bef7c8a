// Trimming an idle process's resident set (the pod supervisor, docs/design/runtime.md "Memory").
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>

namespace mini8s::runtime {

// What a mapping of /proc/<pid>/smaps says about whether its pages may be dropped.
struct SmapsMapping {
  uintptr_t start = 0, end = 0;
  char perms[5] = "----";  // "r-xp"
  uint64_t inode = 0;
  bool named_file = false;  // the path is a file's ("/usr/lib/..."), not "[heap]" or empty
  uint64_t rss_kb = 0, private_dirty_kb = 0, shared_dirty_kb = 0, anonymous_kb = 0;
  bool locked_or_special = false;  // VmFlags lo (mlocked), io / pf (not page-cache memory)
  bool complete = false;  // its last line (VmFlags) was read: no field is missing
};

// True if dropping every page of `m` from the page tables (MADV_DONTNEED) loses no data: a
// read-only mapping of a file without anonymous (private copy-on-write) pages, which relocated
// data such as libc's RELRO has. Its resident pages are then all page-cache pages: a later touch
// maps them again. Writable, mlocked and special mappings and incomplete entries are refused.
bool IsDroppableCleanFileMapping(const SmapsMapping& m);

struct TrimResult {
  size_t mappings = 0;  // mappings madvised
  size_t rss_kb = 0;    // their resident size before
};

// Returns free heap memory to the kernel (malloc_trim), then drops the file-backed pages of this
// process from its page tables (binary text and .rodata, libc and ld.so code) with
// MADV_DONTNEED on every mapping of /proc/self/smaps that IsDroppableCleanFileMapping accepts.
// For an idle process: the pages it touches again fault back in. Allocates nothing after
// malloc_trim, so that it leaves few pages behind. No other thread may write into read-only
// mappings meanwhile (mprotect + write); the supervisor is single-threaded.
TrimResult TrimIdleMemory();

// TrimIdleMemory(), then poll(fds, nfds, -1) without touching anything else: the drop and the
// poll are raw system calls from one small function, so that no libc code and little of the
// binary is faulted back in before the next event. Returns as poll(2).
int TrimThenPoll(pollfd* fds, nfds_t nfds);

}  // namespace mini8s::runtime
