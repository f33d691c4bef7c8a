#include "server/inflight.h"

#include <algorithm>

#include "server/internal.h"

namespace mini8s::server {

InflightLimiter::Slot InflightLimiter::Enter(std::string_view method, const RequestInfo& info) {
  Slot slot;
  if (IsLongRunning(info)) return slot;
  // Upstream's nonMutatingRequestVerbs; a non-resource request's verb is its lower-cased method.
  bool read_only;
  if (info.resource_request) {
    read_only = info.verb == "get" || info.verb == "list" || info.verb == "watch";
  } else {
    read_only = method == "GET";
  }
  const int max = read_only ? max_read_only_ : max_mutating_;
  if (max <= 0) return slot;
  std::atomic<int64_t>& counter = read_only ? read_only_ : mutating_;
  if (counter.fetch_add(1, std::memory_order_relaxed) >= max) {
    counter.fetch_sub(1, std::memory_order_relaxed);
    slot.over_limit_ = true;
    return slot;
  }
  slot.counter_ = &counter;
  return slot;
}

bool IsLongRunning(const RequestInfo& info) {
  if (!info.resource_request) return false;
  if (info.verb == "watch" || info.verb == "proxy") return true;
  const std::string& s = info.subresource;
  return s == "attach" || s == "exec" || s == "proxy" || s == "log" || s == "portforward";
}

bool ExemptFromInflightLimit(const UserInfo& user) {
  return std::find(user.groups.begin(), user.groups.end(), "system:masters") != user.groups.end();
}

Reply TooManyRequestsReply() {
  // Upstream answers with http.Error: plain text, not a metav1.Status; client-go turns any 429
  // into a TooManyRequests StatusError and honours Retry-After.
  Reply r;
  r.status = 429;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.Set("X-Content-Type-Options", "nosniff");
  r.headers.Set("Retry-After", "1");
  r.body = "Too many requests, please try again later.\n";
  return r;
}

}  // namespace mini8s::server
