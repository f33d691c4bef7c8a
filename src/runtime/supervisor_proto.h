// Framing of the pod supervisor's socket protocol (include/mini8s/runtime/supervisor.h): a 4-byte
// big-endian length, then that many bytes of JSON; fds ride along as SCM_RIGHTS on the frame's
// first bytes. Shared by the supervisor and its client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"
#include "mini8s/common/unique_fd.h"

namespace mini8s::runtime::proto {

constexpr uint32_t kMaxFrame = 4u << 20;
constexpr int kMaxFds = 8;

// Sends one frame (blocking until written, also on a non-blocking socket), with `fds` attached.
Status SendFrame(int sock, std::string_view body, const std::vector<int>& fds = {});
// Receives one frame, blocking; `pending` carries bytes read past it to the next call. Fds that
// arrive are appended to `fds` (closed if null). kUnavailable on EOF before a complete frame.
Result<std::string> RecvFrame(int sock, std::string& pending, std::vector<UniqueFd>* fds);
// One recvmsg(2) of whatever is available: appends bytes to `buf` and fds to `fds`. Returns the
// byte count, 0 on EOF, or -1 with errno (EAGAIN when nothing is there).
long RecvSome(int sock, std::string& buf, std::vector<UniqueFd>& fds);
// If `buf` starts with a complete frame, moves its body to `body` and returns true.
bool TakeFrame(std::string& buf, std::string& body, bool* too_large);

}  // namespace mini8s::runtime::proto
