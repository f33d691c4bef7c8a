// TokenRequest, TokenReview and SelfSubjectReview.
#include "mini8s/server/authentication_apis.h"

#include <algorithm>

#include <boost/json.hpp>

#include "mini8s/api/object.h"
#include "mini8s/server/jwt.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

json::object UserInfoJson(const UserInfo& user) {
  json::object u{{"username", user.name}};
  if (!user.uid.empty()) u["uid"] = user.uid;
  if (!user.groups.empty()) u["groups"] = Strings(user.groups);
  if (!user.extra.empty()) {
    json::object extra;
    for (const auto& [k, v] : user.extra) extra[k] = Strings(v);
    u["extra"] = std::move(extra);
  }
  return u;
}

json::object SelfSubjectReview(const UserInfo& user) {
  return json::object{{"kind", "SelfSubjectReview"},
                      {"apiVersion", "authentication.k8s.io/v1"},
                      {"metadata", json::object{{"creationTimestamp", nullptr}}},
                      {"status", json::object{{"userInfo", UserInfoJson(user)}}}};
}

Result<json::object> TokenReview(const Authenticator& authenticator,
                                 const ServiceAccountTokens* tokens, const json::object& body) {
  std::string token(api::GetString(body, "spec.token"));
  if (token.empty())
    return Status::BadRequest("token is required for TokenReview in authentication");
  std::vector<std::string> audiences;
  if (const json::array* a = api::GetArray(body, "spec.audiences")) {
    for (const json::value& v : *a) {
      if (v.is_string()) audiences.emplace_back(v.as_string());
    }
  }
  json::object spec;
  if (const json::object* s = api::GetObject(body, "spec")) spec = *s;
  json::object status{{"user", json::object{}}};
  Result<std::optional<UserInfo>> user = std::optional<UserInfo>();
  std::vector<std::string> granted = audiences;
  bool decided = false;
  if (tokens != nullptr && !audiences.empty() && jwt::LooksLikeJwt(token)) {
    user = tokens->Authenticate(token, audiences);
    decided = !user.ok() || user->has_value();
  }
  if (!decided) {
    http::HttpRequest req;
    req.headers.Set("Authorization", "Bearer " + token);
    user = authenticator.Authenticate(req);
    // Tokens not bound to an audience are valid for the API server's own audiences only.
    if (!audiences.empty() && user.ok() && user->has_value()) {
      const std::vector<std::string> api_auds =
          tokens != nullptr ? tokens->api_audiences() : std::vector<std::string>();
      std::erase_if(granted, [&](const std::string& a) {
        return std::find(api_auds.begin(), api_auds.end(), a) == api_auds.end();
      });
      if (granted.empty()) user = Status::Unauthorized("token audiences are invalid");
    }
  }
  if (user.ok() && user->has_value()) {
    status["authenticated"] = true;
    status["user"] = UserInfoJson(**user);
    if (!audiences.empty()) {
      status["audiences"] = Strings(granted);
    } else if (tokens != nullptr) {
      status["audiences"] = Strings(tokens->api_audiences());
    }
  } else if (!user.ok()) {
    status["error"] = "[invalid bearer token, " + user.error().message() + "]";
  }
  json::object meta;
  if (const json::object* m = api::GetObject(body, "metadata")) meta = *m;
  meta["creationTimestamp"] = nullptr;
  return json::object{{"kind", "TokenReview"},
                      {"apiVersion", "authentication.k8s.io/v1"},
                      {"metadata", meta},
                      {"spec", spec},
                      {"status", status}};
}

void InstallAuthenticationApis(ApiServer& api, std::shared_ptr<const Authenticator> authenticator,
                               std::shared_ptr<const ServiceAccountTokens> tokens) {
  if (tokens) {
    api.AddComputedResource("", "serviceaccounts", "token",
                            [tokens](ComputedRequest& r) -> Result<json::object> {
                              return tokens->HandleTokenRequest(r.ns, r.name, r.body);
                            });
  }
  api.AddComputedResource("authentication.k8s.io", "tokenreviews", "",
                          [authenticator, tokens](ComputedRequest& r) -> Result<json::object> {
                            return TokenReview(*authenticator, tokens.get(), r.body);
                          });
  api.AddComputedResource(
      "authentication.k8s.io", "selfsubjectreviews", "",
      [](ComputedRequest& r) -> Result<json::object> { return SelfSubjectReview(r.user); });
}

}  // namespace mini8s::server
