#include "mini8s/common/unique_fd.h"

#include <unistd.h>

namespace mini8s {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) {
    // close() must not be retried on EINTR on Linux: the fd is already released.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace mini8s
