// Small file helpers shared by the runtime's parent side (not used between clone and exec).
#pragma once

#include <string>
#include <string_view>

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

}  // namespace mini8s::runtime
