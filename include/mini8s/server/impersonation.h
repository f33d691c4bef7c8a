// User impersonation (upstream's WithImpersonation filter): the Impersonate-User,
// Impersonate-Group, Impersonate-Uid and Impersonate-Extra-<key> headers let an authorized user act
// as another. Each requested attribute is authorized separately with verb "impersonate" on
// users / serviceaccounts / groups (API group "") and uids / userextras/<key>
// (authentication.k8s.io), as upstream does.
//
// Thread-safe (pure function of its arguments).
#pragma once

#include <optional>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/server/auth.h"

namespace mini8s::server {

// Whether `request` carries any Impersonate-* header.
bool HasImpersonationHeaders(const http::HttpRequest& request);

// The user `requester` acts as: `requester` itself when no Impersonate-* header is present, else
// the impersonated user (groups from the headers plus system:authenticated, or
// system:unauthenticated for system:anonymous; service-account users also get their
// service-account groups). kForbidden with upstream's message (`users "x" is forbidden: User "u"
// cannot impersonate resource "users" in API group "" at the cluster scope`) for the first
// attribute the authorizer refuses; kInternal (upstream answers 500) when groups, a uid or extras
// are requested without a user.
Result<UserInfo> Impersonate(const http::HttpRequest& request, const UserInfo& requester,
                             const Authorizer& authorizer);

}  // namespace mini8s::server
