// Small file helpers shared by the runtime's parent side (not used between clone and exec).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s::runtime {

// Writes `value` with one write(2) to an existing file (cgroup and proc files need that).
Status WriteFile(const std::string& path, std::string_view value);
// Replaces `path` atomically (write to a temporary, fsync-free rename) with mode 0600 or `mode`.
Status WriteFileAtomic(const std::string& path, std::string_view value, unsigned mode = 0600);
Result<std::string> ReadFile(const std::string& path);
// mkdir -p; existing directories are fine.
Status MkdirAll(const std::string& path, unsigned mode = 0755);
// Removes a directory tree that holds no mount points (state directories).
Status RemoveTree(const std::string& path);

// The non-empty pieces of `s` between any of the characters in `seps` (default: blanks and
// newlines). The runtime parses proc and cgroup files with these rather than iostreams: every
// `mini8s runtime` call and every pod supervisor would otherwise map the stream and locale code
// for a few dozen fields (docs/design/runtime.md, "Memory").
std::vector<std::string_view> Fields(std::string_view s, std::string_view seps = " \t\n");
// Field `n` of a /proc/<pid>/stat text, numbered as in proc(5) (3 = state, 22 = start time),
// counted after the last ')' so that a command name with blanks cannot shift it; "" if absent.
std::string_view ProcStatField(std::string_view stat, int n);

}  // namespace mini8s::runtime
