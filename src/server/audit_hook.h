// The API server's call into the audit log (audit.h), kept out of api_server.cpp.
#pragma once

#include <memory>

#include "mini8s/http/message.h"
#include "mini8s/server/api_server.h"
#include "mini8s/server/audit.h"
#include "server/internal.h"

namespace mini8s::server {

// Starts auditing an authenticated request (null when auditing is off or the policy says None).
// `authenticated` is who sent it; `impersonated` who it acts as, if it impersonates someone
// (impersonatedUser). Asks the authorizer for the decision annotations.
std::unique_ptr<AuditRecorder> BeginAudit(const ApiServerOptions& opts,
                                          const http::HttpRequest& req, const RequestInfo& info,
                                          const UserInfo& authenticated,
                                          const UserInfo* impersonated);

}  // namespace mini8s::server
