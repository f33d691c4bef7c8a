// The computed authentication APIs (upstream's authentication.k8s.io and the TokenRequest
// subresource): serviceaccounts/<name>/token, tokenreviews and selfsubjectreviews, served through
// ApiServer::AddComputedResource.
#pragma once

#include <memory>

#include "mini8s/server/api_server.h"
#include "mini8s/server/auth.h"
#include "mini8s/server/service_account_token.h"

namespace mini8s::server {

// Registers the three handlers on `api`. `authenticator` answers TokenReviews (every bearer-token
// kind it knows); `tokens` issues TokenRequests and checks audience-scoped TokenReviews. Call
// before the server takes requests.
void InstallAuthenticationApis(ApiServer& api, std::shared_ptr<const Authenticator> authenticator,
                               std::shared_ptr<const ServiceAccountTokens> tokens);

// The pieces, for tests.
Result<boost::json::object> TokenReview(const Authenticator& authenticator,
                                        const ServiceAccountTokens* tokens,
                                        const boost::json::object& body);
boost::json::object SelfSubjectReview(const UserInfo& user);
boost::json::object UserInfoJson(const UserInfo& user);

}  // namespace mini8s::server
