#include "runtime/supervisor_proto.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace mini8s::runtime::proto {

Status SendFrame(int sock, std::string_view body, const std::vector<int>& fds) {
  if (body.size() > kMaxFrame) return Status::Invalid("supervisor message too large");
  if (fds.size() > static_cast<size_t>(kMaxFds)) return Status::Invalid("too many fds");
  std::string buf(4, '\0');
  uint32_t n = static_cast<uint32_t>(body.size());
  buf[0] = static_cast<char>(n >> 24);
  buf[1] = static_cast<char>(n >> 16);
  buf[2] = static_cast<char>(n >> 8);
  buf[3] = static_cast<char>(n);
  buf.append(body);
  size_t off = 0;
  bool fds_sent = fds.empty();
  while (off < buf.size()) {
    iovec iov{buf.data() + off, buf.size() - off};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    if (!fds_sent) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t w = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd p{sock, POLLOUT, 0};
      ::poll(&p, 1, 1000);
      continue;
    }
    if (w < 0) return Status::FromErrno(errno, "send to supervisor socket");
    fds_sent = true;
    off += static_cast<size_t>(w);
  }
  return Status();
}

long RecvSome(int sock, std::string& buf, std::vector<UniqueFd>& fds) {
  char data[65536];
  iovec iov{data, sizeof data};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  buf.append(data, static_cast<size_t>(n));
  return n;
}

bool TakeFrame(std::string& buf, std::string& body, bool* too_large) {
  *too_large = false;
  if (buf.size() < 4) return false;
  const auto* b = reinterpret_cast<const unsigned char*>(buf.data());
  uint32_t n = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  if (n > kMaxFrame) {
    *too_large = true;
    return false;
  }
  if (buf.size() < 4 + n) return false;
  body.assign(buf, 4, n);
  buf.erase(0, 4 + n);
  return true;
}

Result<std::string> RecvFrame(int sock, std::string& buf, std::vector<UniqueFd>* fds) {
  std::string body;
  std::vector<UniqueFd> got;
  for (;;) {
    bool too_large = false;
    if (TakeFrame(buf, body, &too_large)) break;
    if (too_large) return Status::Internal("supervisor message too large");
    long n = RecvSome(sock, buf, got);
    if (n < 0 && errno == EAGAIN) {
      pollfd p{sock, POLLIN, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (n < 0) return Status::FromErrno(errno, "read from supervisor socket");
    if (n == 0) return Status::Unavailable("supervisor closed the connection");
  }
  if (fds != nullptr) {
    for (UniqueFd& f : got) fds->push_back(std::move(f));
  }
  return body;
}

}  // namespace mini8s::runtime::proto
