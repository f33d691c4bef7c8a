// Impersonate-* headers, authorized attribute by attribute.
#include "mini8s/server/impersonation.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "mini8s/server/service_account_token.h"

namespace mini8s::server {
namespace {

constexpr std::string_view kUserHeader = "Impersonate-User";
constexpr std::string_view kGroupHeader = "Impersonate-Group";
constexpr std::string_view kUidHeader = "Impersonate-Uid";
constexpr std::string_view kExtraPrefix = "Impersonate-Extra-";

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Extra keys travel percent-encoded in header names (upstream: lower-cased, then PathUnescape).
std::optional<std::string> ExtraKey(std::string_view encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '%') {
      if (i + 2 >= encoded.size()) return std::nullopt;
      int hi = HexValue(encoded[i + 1]), lo = HexValue(encoded[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

Status Check(const UserInfo& requester, const Authorizer& authorizer, std::string resource,
             std::string group, std::string ns, std::string name, std::string subresource = "") {
  Attributes a;
  a.user = requester;
  a.verb = "impersonate";
  a.resource_request = true;
  a.api_group = std::move(group);
  a.resource = std::move(resource);
  a.subresource = std::move(subresource);
  a.namespace_ = std::move(ns);
  a.name = std::move(name);
  if (authorizer.Authorize(a)) return Status::OK();
  return Status::Forbidden(ForbiddenMessage(a));
}

void AddGroup(std::vector<std::string>& groups, const std::string& g) {
  if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
}

}  // namespace

bool HasImpersonationHeaders(const http::HttpRequest& request) {
  for (const auto& [name, value] : request.headers) {
    if (StartsWithIgnoreCase(name, "Impersonate-")) return true;
  }
  return false;
}

Result<UserInfo> Impersonate(const http::HttpRequest& request, const UserInfo& requester,
                             const Authorizer& authorizer) {
  if (!HasImpersonationHeaders(request)) return requester;
  std::optional<std::string> user = request.headers.Get(kUserHeader);
  std::vector<std::string> groups = request.headers.GetAll(kGroupHeader);
  std::optional<std::string> uid = request.headers.Get(kUidHeader);
  std::map<std::string, std::vector<std::string>> extra;
  for (const auto& [name, value] : request.headers) {
    if (!StartsWithIgnoreCase(name, kExtraPrefix)) continue;
    auto key = ExtraKey(std::string_view(name).substr(kExtraPrefix.size()));
    if (!key || key->empty()) return Status::BadRequest("invalid " + name + " header");
    extra[*key].push_back(value);
  }
  if (!user || user->empty()) {
    if (!groups.empty() || uid || !extra.empty()) {
      return Status::Internal(
          "requested impersonation of groups, uid or extra without "
          "impersonating a user");
    }
    return requester;
  }

  UserInfo out;
  out.name = *user;
  std::string sa_ns, sa_name;
  if (SplitServiceAccountUsername(*user, &sa_ns, &sa_name)) {
    MINI8S_RETURN_IF_ERROR(Check(requester, authorizer, "serviceaccounts", "", sa_ns, sa_name));
    // An impersonated service account gets its groups even when none are asked for.
    if (groups.empty()) {
      for (const std::string& g : ServiceAccountGroups(sa_ns)) AddGroup(out.groups, g);
    }
  } else {
    MINI8S_RETURN_IF_ERROR(Check(requester, authorizer, "users", "", "", *user));
  }
  for (const std::string& g : groups) {
    MINI8S_RETURN_IF_ERROR(Check(requester, authorizer, "groups", "", "", g));
    AddGroup(out.groups, g);
  }
  if (uid) {
    MINI8S_RETURN_IF_ERROR(Check(requester, authorizer, "uids", "authentication.k8s.io", "", *uid));
    out.uid = *uid;
  }
  for (const auto& [key, values] : extra) {
    for (const std::string& v : values) {
      MINI8S_RETURN_IF_ERROR(
          Check(requester, authorizer, "userextras", "authentication.k8s.io", "", v, key));
    }
  }
  out.extra = std::move(extra);
  if (out.name == "system:anonymous") {
    AddGroup(out.groups, "system:unauthenticated");
  } else {
    AddGroup(out.groups, "system:authenticated");
  }
  return out;
}

}  // namespace mini8s::server
