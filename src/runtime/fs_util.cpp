#include "runtime/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "mini8s/common/unique_fd.h"

namespace mini8s::runtime {

Status WriteFile(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", path);
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return Status::FromErrno(errno, "write " + std::string(value), path);
  if (static_cast<size_t>(n) != value.size()) return Status::Internal("short write to " + path);
  return Status();
}

Status WriteFileAtomic(const std::string& path, std::string_view value, unsigned mode) {
  // The writer's pid in the temporary's name: two processes may replace the same file at once
  // (the cgroup hierarchy cache); the last rename wins and neither sees a torn file.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Status::FromErrno(errno, "open", tmp);
  size_t off = 0;
  while (off < value.size()) {
    ssize_t n = ::write(fd.get(), value.data() + off, value.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return Status::FromErrno(err, "write", tmp);
    }
    off += static_cast<size_t>(n);
  }
  fd.Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno(err, "rename", path);
  }
  return Status();
}

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status MkdirAll(const std::string& path, unsigned mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Status();
  if (errno != ENOENT) return Status::FromErrno(errno, "mkdir", path);
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return Status::FromErrno(ENOENT, "mkdir", path);
  MINI8S_RETURN_IF_ERROR(MkdirAll(path.substr(0, slash), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir", path);
  }
  return Status();
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Status::FromErrno(ec.value(), "remove", path);
  return Status();
}

std::vector<std::string_view> Fields(std::string_view s, std::string_view seps) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = s.find_first_not_of(seps, i);
    if (start == std::string_view::npos) break;
    size_t end = s.find_first_of(seps, start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    i = end;
  }
  return out;
}

std::string_view ProcStatField(std::string_view stat, int n) {
  size_t rparen = stat.rfind(')');
  if (rparen == std::string_view::npos || n < 3) return {};
  std::vector<std::string_view> f = Fields(stat.substr(rparen + 1));
  size_t i = static_cast<size_t>(n - 3);
  return i < f.size() ? f[i] : std::string_view();
}

}  // namespace mini8s::runtime
