#include "server/audit_hook.h"

#include <optional>
#include <string>

#include <boost/json.hpp>

#include "mini8s/api/protobuf.h"
#include "mini8s/common/json.h"

namespace mini8s::server {

std::unique_ptr<AuditRecorder> BeginAudit(const ApiServerOptions& opts,
                                          const http::HttpRequest& req, const RequestInfo& info,
                                          const UserInfo& authenticated,
                                          const UserInfo* impersonated) {
  const UserInfo& acting = impersonated ? *impersonated : authenticated;
  if (!opts.auditor) return nullptr;
  // The same attributes the authorizer sees in Route.
  Attributes attrs;
  attrs.user = acting;
  attrs.path = req.path;
  AuditAttributes a;
  a.user = &authenticated;
  a.path = req.path;
  if (info.resource_request) {
    attrs.resource_request = true;
    attrs.verb = info.verb;
    attrs.api_group = info.group;
    attrs.resource = info.resource;
    attrs.subresource = info.subresource;
    attrs.namespace_ = info.namespace_;
    attrs.name = info.name;
    a.resource_request = true;
    a.verb = info.verb;
    a.api_group = info.group;
    a.resource = info.resource;
    a.subresource = info.subresource;
    a.namespace_ = info.namespace_;
    a.name = info.name;
  } else {
    const std::string& m = req.method;
    attrs.verb = m == "GET" || m == "HEAD" ? "get"
                 : m == "POST"             ? "post"
                 : m == "PUT"              ? "put"
                 : m == "DELETE"           ? "delete"
                                           : "patch";
    a.verb = attrs.verb;
  }
  // Cheap: None for most requests under a typical policy, before any authorizer call.
  const AuditLevel level = opts.auditor->policy().Evaluate(a).level;
  if (level == AuditLevel::kNone) return nullptr;
  AuthorizerDecision d = opts.authorizer->Decide(attrs);
  // kubectl sends core kinds as protobuf: the audit log wants the object (requestObject, and a
  // create's name for the objectRef).
  std::optional<std::string> decoded;
  if ((level >= AuditLevel::kRequest || (info.resource_request && info.name.empty())) &&
      api::HasProtobufMagic(req.body)) {
    auto v = api::DecodeProtobuf(*opts.registry, req.body);
    if (v.ok()) decoded = SerializeJson(*v);
  }
  return opts.auditor->Begin(req, a, info.version, d.allowed(), d.reason, impersonated,
                             decoded ? &*decoded : nullptr);
}

}  // namespace mini8s::server
