// Status: the outcome of an operation that can fail in an expected way.
//
// A Status is OK or (code, errno, message). OK is a null pointer, so it is free to copy and test
// (leveldb's design). Codes map 1:1 onto Kubernetes StatusReasons / HTTP codes at the API edge.
// Thread-compatible: const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace mini8s {

enum class Code : uint8_t {
  kOk = 0,
  kNotFound,           // 404 NotFound
  kAlreadyExists,      // 409 AlreadyExists
  kConflict,           // 409 Conflict (CAS mismatch)
  kInvalid,            // 422 Invalid
  kBadRequest,         // 400 BadRequest
  kUnauthorized,       // 401
  kForbidden,          // 403
  kMethodNotAllowed,   // 405
  kNotAcceptable,      // 406
  kUnsupportedMedia,   // 415
  kExpired,            // 410 Expired (watch window)
  kGone,               // 410 Gone
  kTooManyRequests,    // 429
  kTimeout,            // 504 / deadline
  kUnavailable,        // 503 (store closed, shutting down)
  kResourceExhausted,  // quota / limits
  kCancelled,
  kInternal,           // 500
};

// The canonical spelling of a code, e.g. "NotFound".
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, int sys_errno = 0);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status Invalid(std::string msg) { return {Code::kInvalid, std::move(msg)}; }
  static Status BadRequest(std::string msg) { return {Code::kBadRequest, std::move(msg)}; }
  static Status Unauthorized(std::string msg) { return {Code::kUnauthorized, std::move(msg)}; }
  static Status Forbidden(std::string msg) { return {Code::kForbidden, std::move(msg)}; }
  static Status Expired(std::string msg) { return {Code::kExpired, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {Code::kTimeout, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {Code::kCancelled, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) {
    return {Code::kResourceExhausted, std::move(msg)};
  }

  // A failed syscall, rendered crun-style: `mount "/run/x": Permission denied`.
  // ENOENT maps to kNotFound, EEXIST to kAlreadyExists, EACCES/EPERM to kForbidden,
  // everything else to kInternal; sys_errno() keeps the original errno.
  static Status FromErrno(int err, std::string_view what, std::string_view detail = {});

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  int sys_errno() const { return rep_ ? rep_->sys_errno : 0; }
  const std::string& message() const;
  bool Is(Code c) const { return code() == c; }

  // "NotFound: pods \"x\" not found" (or "OK").
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  struct Rep {
    Code code;
    int sys_errno;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

}  // namespace mini8s

// Envoy's RETURN_IF_NOT_OK. Works for expressions yielding a Status.
#define MINI8S_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    ::mini8s::Status mini8s_status_ = (expr);          \
    if (!mini8s_status_.ok()) return mini8s_status_;   \
  } while (0)
