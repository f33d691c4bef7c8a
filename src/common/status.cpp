#include "mini8s/common/status.h"

#include <cerrno>
#include <cstring>

namespace mini8s {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kConflict: return "Conflict";
    case Code::kInvalid: return "Invalid";
    case Code::kBadRequest: return "BadRequest";
    case Code::kUnauthorized: return "Unauthorized";
    case Code::kForbidden: return "Forbidden";
    case Code::kMethodNotAllowed: return "MethodNotAllowed";
    case Code::kNotAcceptable: return "NotAcceptable";
    case Code::kUnsupportedMedia: return "UnsupportedMediaType";
    case Code::kExpired: return "Expired";
    case Code::kGone: return "Gone";
    case Code::kTooManyRequests: return "TooManyRequests";
    case Code::kTimeout: return "Timeout";
    case Code::kUnavailable: return "ServiceUnavailable";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kCancelled: return "Cancelled";
    case Code::kInternal: return "InternalError";
  }
  return "Unknown";
}

Status::Status(Code code, std::string message, int sys_errno) {
  if (code != Code::kOk) rep_ = std::make_unique<Rep>(Rep{code, sys_errno, std::move(message)});
}

Status::Status(const Status& other)
    : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
  return *this;
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

Status Status::FromErrno(int err, std::string_view what, std::string_view detail) {
  Code code = Code::kInternal;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case EACCES:
    case EPERM: code = Code::kForbidden; break;
    case EINVAL: code = Code::kInvalid; break;
    case ETIMEDOUT: code = Code::kTimeout; break;
    case EAGAIN: code = Code::kUnavailable; break;
    default: break;
  }
  std::string msg(what);
  if (!detail.empty()) {
    msg += " \"";
    msg += detail;
    msg += "\"";
  }
  msg += ": ";
  msg += std::strerror(err);
  return Status(code, std::move(msg), err);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(CodeName(rep_->code));
  s += ": ";
  s += rep_->message;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return Status();
  std::string msg(context);
  msg += ": ";
  msg += rep_->message;
  return Status(rep_->code, std::move(msg), rep_->sys_errno);
}

}  // namespace mini8s
