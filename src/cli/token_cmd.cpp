// `mini8s token create|list|delete|generate`: k3s's (and kubeadm's) bootstrap token commands.
// Tokens are Secrets bootstrap-token-<id> of type bootstrap.kubernetes.io/token in kube-system,
// written through the running server with the admin credentials: --kubeconfig (default
// /etc/mini8s/mini8s.yaml), or with --data-dir the admin client certificate the server keeps in
// <data-dir>/server/tls (as k3s does when no kubeconfig is given).
#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "cli/commands.h"
#include "mini8s/api/object.h"
#include "mini8s/client/kubeconfig.h"
#include "mini8s/common/clock.h"
#include "mini8s/common/flags.h"
#include "mini8s/common/json.h"
#include "mini8s/http/client.h"
#include "mini8s/http/tls_material.h"
#include "mini8s/server/bootstrap_token.h"

namespace mini8s::cli {
namespace {

namespace json = boost::json;

constexpr char kSecretsPath[] = "/api/v1/namespaces/kube-system/secrets";

int Fail(const std::string& message) {
  std::fprintf(stderr, "mini8s token: %s\n", message.c_str());
  return 1;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// kubeadm's TTL column: the remaining time rounded to a unit ("23h", "59m", "<forever>").
std::string HumanTtl(const std::optional<std::chrono::system_clock::time_point>& exp,
                     std::chrono::system_clock::time_point now) {
  if (!exp) return "<forever>";
  auto left = std::chrono::duration_cast<std::chrono::seconds>(*exp - now).count();
  if (left <= 0) return "<invalid>";
  if (left >= 48 * 3600) return std::to_string(left / 86400) + "d";
  if (left >= 3600) return std::to_string(left / 3600) + "h";
  if (left >= 60) return std::to_string(left / 60) + "m";
  return std::to_string(left) + "s";
}

class Api {
 public:
  static Result<Api> Connect(const std::string& kubeconfig, const std::string& data_dir,
                             const std::string& server_flag) {
    Api api;
    http::ClientOptions co;
    co.user_agent = "mini8s-token";
    if (kubeconfig.empty() && !data_dir.empty()) {
      const std::string tls = data_dir + "/server/tls/";
      MINI8S_ASSIGN_OR_RETURN(co.ca_pem, http::ReadPemFile(tls + "server-ca.crt"));
      MINI8S_ASSIGN_OR_RETURN(co.client_cert_pem, http::ReadPemFile(tls + "client-admin.crt"));
      MINI8S_ASSIGN_OR_RETURN(co.client_key_pem, http::ReadPemFile(tls + "client-admin.key"));
      api.server_ = server_flag.empty() ? "https://127.0.0.1:6443" : server_flag;
    } else {
      client::KubeconfigSources sources;
      sources.explicit_path = kubeconfig.empty() ? "/etc/mini8s/mini8s.yaml" : kubeconfig;
      MINI8S_ASSIGN_OR_RETURN(client::Kubeconfig config, client::LoadKubeconfig(sources));
      MINI8S_ASSIGN_OR_RETURN(client::RestConfig rest, client::ResolveRestConfig(config));
      co.ca_pem = rest.ca_pem;
      co.insecure_skip_verify = rest.insecure_skip_tls_verify;
      co.tls_server_name = rest.tls_server_name;
      co.client_cert_pem = rest.client_cert_pem;
      co.client_key_pem = rest.client_key_pem;
      api.token_ = rest.bearer_token;
      api.server_ = server_flag.empty() ? rest.server : server_flag;
    }
    while (!api.server_.empty() && api.server_.back() == '/') api.server_.pop_back();
    MINI8S_ASSIGN_OR_RETURN(api.client_, http::BlockingClient::Create(co));
    return api;
  }

  // The decoded JSON answer; a non-2xx answer becomes an error with the server's message.
  Result<json::object> Call(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    http::ClientRequest req;
    req.method = method;
    req.url = server_ + path;
    req.body = body;
    if (!body.empty()) req.headers.Set("Content-Type", "application/json");
    req.headers.Set("Accept", "application/json");
    if (!token_.empty()) req.headers.Set("Authorization", "Bearer " + token_);
    MINI8S_ASSIGN_OR_RETURN(http::ClientResponse resp, client_->Send(std::move(req)));
    auto parsed = ParseJson(resp.body);
    if (resp.status / 100 != 2) {
      std::string msg = resp.body;
      if (parsed.ok() && parsed->is_object()) {
        msg = std::string(api::GetString(parsed->as_object(), "message"));
      }
      Code code = resp.status == 404   ? Code::kNotFound
                  : resp.status == 409 ? Code::kAlreadyExists
                                       : Code::kInternal;
      return Status(code, msg + " (HTTP " + std::to_string(resp.status) + ")");
    }
    if (!parsed.ok() || !parsed->is_object()) return Status::Internal("unreadable answer");
    return std::move(parsed->as_object());
  }

 private:
  std::string server_;
  std::string token_;
  std::unique_ptr<http::BlockingClient> client_;
};

int Create(Api& api, const std::vector<std::string>& positional, std::chrono::nanoseconds ttl,
           const std::string& usages, const std::string& groups, const std::string& description) {
  server::BootstrapTokenSpec spec;
  if (positional.size() > 1) return UsageError("token", "create takes at most one token");
  if (positional.size() == 1) {
    auto t = server::ParseBootstrapToken(positional[0]);
    if (!t) {
      return Fail("the token \"" + positional[0] +
                  "\" was not of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"");
    }
    spec.token = *t;
  } else {
    spec.token = server::GenerateBootstrapToken();
  }
  spec.ttl = std::chrono::duration_cast<std::chrono::seconds>(ttl);
  spec.usages = SplitComma(usages);
  spec.groups = SplitComma(groups);
  spec.description = description;
  Status valid = server::ValidateBootstrapTokenSpec(spec);
  if (!valid.ok()) return Fail(valid.message());
  json::object secret = server::BootstrapTokenSecret(spec, RealClock::Instance().Now());
  auto created = api.Call("POST", kSecretsPath, SerializeJson(secret));
  if (!created.ok()) {
    if (created.error().Is(Code::kAlreadyExists)) {
      return Fail("a token with id \"" + spec.token.id + "\" already exists");
    }
    return Fail(created.error().message());
  }
  std::printf("%s.%s\n", spec.token.id.c_str(), spec.token.secret.c_str());
  return 0;
}

int List(Api& api) {
  auto list = api.Call("GET", kSecretsPath);
  if (!list.ok()) return Fail(list.error().message());
  const auto now = RealClock::Instance().Now();
  std::vector<server::BootstrapTokenInfo> tokens;
  if (const json::array* items = api::GetArray(*list, "items")) {
    for (const json::value& item : *items) {
      if (!item.is_object()) continue;
      auto info = server::ParseBootstrapTokenSecret(item.as_object());
      if (info.ok()) tokens.push_back(std::move(*info));
    }
  }
  if (tokens.empty()) return 0;
  std::printf("%-24s %-10s %-21s %-25s %-22s %s\n", "TOKEN", "TTL", "EXPIRES", "USAGES",
              "DESCRIPTION", "EXTRA GROUPS");
  for (const auto& t : tokens) {
    std::string expires = t.expiration ? FormatRfc3339(*t.expiration) : "<never>";
    std::string desc = t.description.empty() ? "<none>" : t.description;
    std::printf("%-24s %-10s %-21s %-25s %-22s %s\n", (t.id + "." + t.secret).c_str(),
                HumanTtl(t.expiration, now).c_str(), expires.c_str(), Join(t.usages).c_str(),
                desc.c_str(), Join(t.extra_groups).c_str());
  }
  return 0;
}

int Delete(Api& api, const std::vector<std::string>& ids) {
  if (ids.empty()) return UsageError("token", "delete needs at least one token id");
  for (const std::string& arg : ids) {
    std::string id = arg;
    if (auto t = server::ParseBootstrapToken(arg)) id = t->id;
    if (id.size() != 6 || !server::ParseBootstrapToken(id + ".0000000000000000")) {
      return Fail("given token id \"" + arg + "\" didn't match pattern \"[a-z0-9]{6}\"");
    }
    auto deleted = api.Call(
        "DELETE", std::string(kSecretsPath) + "/" + server::kBootstrapTokenSecretPrefix + id);
    if (!deleted.ok()) {
      if (deleted.error().Is(Code::kNotFound))
        return Fail("bootstrap token \"" + id + "\" not found");
      return Fail(deleted.error().message());
    }
    std::printf("bootstrap token \"%s\" deleted\n", id.c_str());
  }
  return 0;
}

}  // namespace

int RunToken(const Args& args) {
  std::string kubeconfig, data_dir, server_url, usages = "signing,authentication";
  std::string groups = server::kBootstrapDefaultGroup, description;
  std::chrono::nanoseconds ttl = std::chrono::hours(24);
  FlagSet fs("token");
  fs.SetUsage("create|list|delete|generate [flags]",
              "Manage bootstrap tokens (Secrets bootstrap-token-<id> in kube-system).\n"
              "  create [TOKEN]   create a token (random unless given) and print it\n"
              "  list             list the tokens\n"
              "  delete ID...     delete tokens by id (or by whole token)\n"
              "  generate         print a random token without creating it");
  fs.String("kubeconfig", &kubeconfig, "Admin kubeconfig (default /etc/mini8s/mini8s.yaml)");
  fs.String("data-dir", &data_dir,
            "Use the admin certificate of the server with this data dir instead of a kubeconfig")
      .Short('d');
  fs.String("server", &server_url, "API server URL (with --data-dir: https://127.0.0.1:6443)");
  fs.Duration("ttl", &ttl, "Token lifetime before it expires and is deleted (0: never)");
  fs.String("usages", &usages, "Comma-separated usages: signing, authentication");
  fs.String("groups", &groups,
            "Comma-separated extra groups the token authenticates as (system:bootstrappers:*)");
  fs.String("description", &description, "Human-friendly description of the token");
  Status ps = fs.Parse(args);
  if (!ps.ok()) return UsageError("token", ps.message());
  if (fs.help_requested()) {
    std::printf("%s", fs.Help().c_str());
    return 0;
  }
  if (fs.positional().empty()) {
    return UsageError("token", "expected a command: create, list, delete or generate");
  }
  const std::string command = fs.positional()[0];
  std::vector<std::string> rest(fs.positional().begin() + 1, fs.positional().end());
  if (command == "generate") {
    if (!rest.empty()) return UsageError("token", "generate takes no arguments");
    server::BootstrapTokenId t = server::GenerateBootstrapToken();
    std::printf("%s.%s\n", t.id.c_str(), t.secret.c_str());
    return 0;
  }
  if (command != "create" && command != "list" && command != "delete") {
    return UsageError("token", "unknown command \"" + command + "\"");
  }
  auto api = Api::Connect(kubeconfig, data_dir, server_url);
  if (!api.ok()) return Fail(api.error().message());
  if (command == "create") return Create(*api, rest, ttl, usages, groups, description);
  if (command == "list") {
    if (!rest.empty()) return UsageError("token", "list takes no arguments");
    return List(*api);
  }
  return Delete(*api, rest);
}

}  // namespace mini8s::cli
