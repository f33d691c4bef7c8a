// x509 and static-token authentication; the system:masters authorizer.
#include "mini8s/server/auth.h"

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "mini8s/http/tls_material.h"

namespace mini8s::server {
namespace {

constexpr char kAuthenticated[] = "system:authenticated";

// Splits one CSV line with double-quoted fields ("a,b" stays one field).
std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == ',' && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && s[b] == ' ') ++b;
  return s.substr(b);
}

void AddAuthenticated(UserInfo& u) {
  if (std::find(u.groups.begin(), u.groups.end(), kAuthenticated) == u.groups.end()) {
    u.groups.push_back(kAuthenticated);
  }
}

// The user a verified client certificate names, or why it names none. Parsing the PEM and the
// X.509 structure with OpenSSL 3 costs more than the rest of a GET (two thirds of the server's CPU
// in the API bench), and a connection presents the same certificate on every request, so results
// are cached by the certificate's PEM text: the outcome is a pure function of it (the chain was
// verified at the handshake). Bounded: cleared when full, as distinct client certificates are few.
Result<UserInfo> UserFromCertificate(const std::string& cert_pem) {
  static std::mutex mu;
  static std::unordered_map<std::string, Result<UserInfo>> cache;
  constexpr std::size_t kMaxEntries = 1024;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(cert_pem); it != cache.end()) return it->second;
  }
  Result<UserInfo> user = [&]() -> Result<UserInfo> {
    auto info = http::InspectCertificate(cert_pem);
    if (!info.ok() || info->common_name.empty()) {
      return Status::Unauthorized("client certificate without a common name");
    }
    if (!info->client_auth) return Status::Unauthorized("certificate not for client auth");
    UserInfo u{info->common_name, "", info->organizations};
    AddAuthenticated(u);
    return u;
  }();
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxEntries) cache.clear();
  cache.emplace(cert_pem, user);
  return user;
}

}  // namespace

Result<std::unique_ptr<Authenticator>> Authenticator::Create(const std::string& token_auth_file) {
  std::map<std::string, UserInfo> tokens;
  if (!token_auth_file.empty()) {
    std::ifstream in(token_auth_file);
    if (!in) return Status::Invalid("cannot read token auth file " + token_auth_file);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      line = Trim(line);
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> f = SplitCsv(line);
      if (f.size() < 3 || f[0].empty() || f[1].empty()) {
        return Status::Invalid(token_auth_file + ":" + std::to_string(n) +
                               ": want token,user,uid[,\"group1,group2\"]");
      }
      UserInfo u{Trim(f[1]), Trim(f[2]), {}};
      if (f.size() > 3) {
        for (const std::string& g : SplitCsv(f[3])) {
          if (!Trim(g).empty()) u.groups.push_back(Trim(g));
        }
      }
      tokens[Trim(f[0])] = std::move(u);
    }
  }
  return FromTokens(std::move(tokens));
}

std::unique_ptr<Authenticator> Authenticator::FromTokens(std::map<std::string, UserInfo> tokens) {
  auto a = std::make_unique<Authenticator>();
  for (auto& [_, u] : tokens) AddAuthenticated(u);
  a->tokens_ = std::move(tokens);
  return a;
}

Result<std::optional<UserInfo>> Authenticator::Authenticate(
    const http::HttpRequest& request) const {
  if (auto auth = request.headers.Get("Authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (auth->size() > kBearer.size() &&
        http::EqualsIgnoreCase(std::string_view(*auth).substr(0, kBearer.size()), kBearer)) {
      // As upstream's bearer-token authenticator: the second space-separated field is the token,
      // so "Bearer  <token>" (two spaces) carries an empty token and is refused.
      std::string_view rest = std::string_view(*auth).substr(kBearer.size());
      const std::string token(rest.substr(0, rest.find(' ')));
      if (token.empty()) return Status::Unauthorized("empty bearer token");
      auto it = tokens_.find(token);
      if (it != tokens_.end()) return std::optional<UserInfo>(it->second);
      for (const auto& a : token_authenticators_) {
        MINI8S_ASSIGN_OR_RETURN(std::optional<UserInfo> u, a->AuthenticateToken(token));
        if (u) {
          AddAuthenticated(*u);
          return u;
        }
      }
      return Status::Unauthorized("invalid bearer token");
    }
  }
  if (request.tls && !request.tls->certificate_chain_pem.empty()) {
    if (!request.tls->certificate_verified) return Status::Unauthorized("unverified certificate");
    MINI8S_ASSIGN_OR_RETURN(UserInfo u,
                            UserFromCertificate(request.tls->certificate_chain_pem.front()));
    return std::optional<UserInfo>(std::move(u));
  }
  return std::optional<UserInfo>();
}

AuthorizerDecision Authorizer::Decide(const Attributes& attrs) const {
  return {Authorize(attrs) ? Decision::kAllow : Decision::kNoOpinion, ""};
}

bool MastersAuthorizer::Authorize(const Attributes& attrs) const {
  const auto& g = attrs.user.groups;
  if (std::find(g.begin(), g.end(), "system:masters") != g.end()) return true;
  if (!attrs.resource_request && attrs.verb == "get") {
    // What upstream's system:discovery and system:public-info-viewer roles allow everyone.
    const std::string& p = attrs.path;
    return p == "/api" || p.rfind("/api/", 0) == 0 || p == "/apis" || p.rfind("/apis/", 0) == 0 ||
           p == "/version" || p.rfind("/openapi", 0) == 0 || p == "/healthz" || p == "/livez" ||
           p == "/readyz";
  }
  return false;
}

std::string ForbiddenMessage(const Attributes& a) {
  std::string who = "User \"" + a.user.name + "\" cannot " + a.verb;
  if (!a.resource_request) return "forbidden: " + who + " path \"" + a.path + "\"";
  std::string qres = a.api_group.empty() ? a.resource : a.resource + "." + a.api_group;
  std::string res = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  std::string subject = a.name.empty() ? qres : qres + " \"" + a.name + "\"";
  std::string scope = a.namespace_.empty() ? " at the cluster scope"
                                           : " in the namespace \"" + a.namespace_ + "\"";
  return subject + " is forbidden: " + who + " resource \"" + res + "\" in API group \"" +
         a.api_group + "\"" + scope;
}

}  // namespace mini8s::server
