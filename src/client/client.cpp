#include "mini8s/client/client.h"

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/schema.h"
#include "mini8s/common/json.h"

namespace mini8s::client {

namespace json = boost::json;

Resource Resource::FromKind(const api::KindInfo& kind) {
  return Resource{kind.group, kind.version, kind.plural, kind.kind, kind.namespaced};
}

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

std::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
  }
  return "ADDED";
}

int HttpCodeOf(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kConflict:
      return 409;
    case Code::kInvalid:
      return 422;
    case Code::kBadRequest:
      return 400;
    case Code::kUnauthorized:
      return 401;
    case Code::kForbidden:
      return 403;
    case Code::kMethodNotAllowed:
      return 405;
    case Code::kNotAcceptable:
      return 406;
    case Code::kUnsupportedMedia:
      return 415;
    case Code::kExpired:
      return 410;
    case Code::kGone:
      return 410;
    case Code::kTooManyRequests:
      return 429;
    case Code::kTimeout:
      return 504;
    case Code::kUnavailable:
      return 503;
    case Code::kResourceExhausted:
      return 403;
    case Code::kCancelled:
      return 499;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

std::string_view ReasonOf(Code code) {
  switch (code) {
    case Code::kOk:
      return "";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kConflict:
      return "Conflict";
    case Code::kInvalid:
      return "Invalid";
    case Code::kBadRequest:
      return "BadRequest";
    case Code::kUnauthorized:
      return "Unauthorized";
    case Code::kForbidden:
      return "Forbidden";
    case Code::kMethodNotAllowed:
      return "MethodNotAllowed";
    case Code::kNotAcceptable:
      return "NotAcceptable";
    case Code::kUnsupportedMedia:
      return "UnsupportedMediaType";
    case Code::kExpired:
      return "Expired";
    case Code::kGone:
      return "Gone";
    case Code::kTooManyRequests:
      return "TooManyRequests";
    case Code::kTimeout:
      return "Timeout";
    case Code::kUnavailable:
      return "ServiceUnavailable";
    case Code::kResourceExhausted:
      return "Forbidden";
    case Code::kCancelled:
      return "Cancelled";
    case Code::kInternal:
      return "InternalError";
  }
  return "InternalError";
}

namespace {

std::optional<Code> CodeFromReason(std::string_view reason) {
  static constexpr std::pair<std::string_view, Code> kReasons[] = {
      {"NotFound", Code::kNotFound},
      {"AlreadyExists", Code::kAlreadyExists},
      {"Conflict", Code::kConflict},
      {"Invalid", Code::kInvalid},
      {"BadRequest", Code::kBadRequest},
      {"Unauthorized", Code::kUnauthorized},
      {"Forbidden", Code::kForbidden},
      {"MethodNotAllowed", Code::kMethodNotAllowed},
      {"NotAcceptable", Code::kNotAcceptable},
      {"UnsupportedMediaType", Code::kUnsupportedMedia},
      {"Expired", Code::kExpired},
      {"Gone", Code::kGone},
      {"TooManyRequests", Code::kTooManyRequests},
      {"Timeout", Code::kTimeout},
      {"ServerTimeout", Code::kTimeout},
      {"ServiceUnavailable", Code::kUnavailable},
      {"InternalError", Code::kInternal},
  };
  for (const auto& [name, code] : kReasons) {
    if (name == reason) return code;
  }
  return std::nullopt;
}

Code CodeFromHttp(int status) {
  switch (status) {
    case 400:
      return Code::kBadRequest;
    case 401:
      return Code::kUnauthorized;
    case 403:
      return Code::kForbidden;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kMethodNotAllowed;
    case 406:
      return Code::kNotAcceptable;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kExpired;
    case 415:
      return Code::kUnsupportedMedia;
    case 422:
      return Code::kInvalid;
    case 429:
      return Code::kTooManyRequests;
    case 503:
      return Code::kUnavailable;
    case 504:
      return Code::kTimeout;
    default:
      return Code::kInternal;
  }
}

}  // namespace

Status StatusFromStatusObject(const json::object& status) {
  std::string_view reason = api::GetString(status, "reason");
  std::string message(api::GetString(status, "message"));
  int code = static_cast<int>(api::GetInt(status, "code").value_or(500));
  std::optional<Code> c = CodeFromReason(reason);
  Code mapped = c ? *c : CodeFromHttp(code);
  // An apiserver "Gone" for a too-old resourceVersion is the relist signal too.
  if (code == 410 && mapped == Code::kGone) mapped = Code::kExpired;
  if (message.empty()) message = std::string(reason.empty() ? "unknown error" : reason);
  return Status(mapped, std::move(message));
}

Status StatusFromResponse(int http_status, std::string_view body) {
  auto parsed = ParseJson(body);
  if (parsed.has_value() && parsed->is_object() &&
      api::Kind(parsed->as_object()) == std::string_view("Status")) {
    json::object obj = parsed->as_object();
    if (!obj.contains("code")) obj["code"] = http_status;
    return StatusFromStatusObject(obj);
  }
  std::string msg = "the server responded with status " + std::to_string(http_status);
  if (!body.empty() && body.size() < 512) msg += ": " + std::string(body);
  return Status(CodeFromHttp(http_status), std::move(msg));
}

std::string ObjectKey(const json::object& object) {
  std::string_view ns = api::Namespace(object);
  std::string_view name = api::Name(object);
  if (ns.empty()) return std::string(name);
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append("/").append(name);
  return key;
}

std::pair<std::string, std::string> SplitObjectKey(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

boost::asio::awaitable<Result<json::object>> Client::Create(Resource resource,
                                                            json::object object) {
  // Temporaries of class type as coroutine arguments inside co_await are destroyed twice by
  // GCC 12: always pass named values.
  WriteOptions options;
  auto result = co_await Create(std::move(resource), std::move(object), std::move(options));
  co_return result;
}

boost::asio::awaitable<Result<json::object>> Client::Update(Resource resource,
                                                            json::object object) {
  WriteOptions options;
  std::string subresource;
  auto result = co_await Update(std::move(resource), std::move(object), std::move(subresource),
                                std::move(options));
  co_return result;
}

boost::asio::awaitable<Result<json::object>> Client::UpdateStatus(Resource resource,
                                                                  json::object object) {
  WriteOptions options;
  std::string subresource = "status";
  auto result = co_await Update(std::move(resource), std::move(object), std::move(subresource),
                                std::move(options));
  co_return result;
}

boost::asio::awaitable<Result<json::object>> Client::Delete(Resource resource, std::string ns,
                                                            std::string name) {
  DeleteOptions options;
  auto result =
      co_await Delete(std::move(resource), std::move(ns), std::move(name), std::move(options));
  co_return result;
}

}  // namespace mini8s::client
