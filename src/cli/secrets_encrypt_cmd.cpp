// `mini8s secrets-encrypt status|prepare|rotate|reencrypt|rotate-keys|enable|disable`: k3s's
// command, talking to the running server's /v1-mini8s/encrypt/ endpoints with the admin
// kubeconfig (system:masters), so no restart is needed.
#include <cstdio>
#include <string>

#include <boost/json.hpp>

#include "cli/commands.h"
#include "mini8s/client/kubeconfig.h"
#include "mini8s/common/flags.h"
#include "mini8s/common/json.h"
#include "mini8s/http/client.h"
#include "mini8s/server/encryption.h"

namespace mini8s::cli {
namespace {

namespace json = boost::json;

int Fail(const std::string& message) {
  std::fprintf(stderr, "mini8s secrets-encrypt: %s\n", message.c_str());
  return 1;
}

void PrintStatus(const json::object& s) {
  const json::value* configured = s.if_contains("configured");
  const bool enabled =
      s.contains("enabled") && s.at("enabled").is_bool() && s.at("enabled").as_bool();
  std::printf("Encryption Status: %s\n", enabled ? "Enabled" : "Disabled");
  if (configured && configured->is_bool() && !configured->as_bool()) {
    std::printf("Encryption was never set up (start the server with --secrets-encryption)\n");
    return;
  }
  auto str = [&](const char* k) -> std::string {
    const json::value* v = s.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  std::printf("Current Rotation Stage: %s\n", str("stage").c_str());
  std::printf("Server Encryption Hash: %s\n", str("configHash").c_str());
  std::printf("\nActive  Key Type  Name                                Key Hash\n");
  std::printf("------  --------  ----                                --------\n");
  if (const json::value* keys = s.if_contains("keys"); keys && keys->is_array()) {
    for (const json::value& k : keys->as_array()) {
      const json::object& o = k.as_object();
      const bool active = o.at("active").is_bool() && o.at("active").as_bool();
      std::printf(" %-6s %-9s %-35s %s\n", active ? "*" : "",
                  std::string(o.at("type").as_string()).c_str(),
                  std::string(o.at("name").as_string()).c_str(),
                  std::string(o.at("hash").as_string()).c_str());
    }
  }
}

}  // namespace

int RunSecretsEncrypt(const Args& args) {
  std::string kubeconfig;
  std::string output;
  FlagSet fs("secrets-encrypt");
  fs.SetUsage("status|prepare|rotate|reencrypt|rotate-keys|enable|disable [flags]",
              "Control secrets encryption on the running server (k3s's secrets-encrypt).\n"
              "  status       whether encryption is on, the keys and the rotation stage\n"
              "  prepare      add a new key (reads only) - stage prepare\n"
              "  rotate       make the prepared key the one that encrypts - stage rotate\n"
              "  reencrypt    re-encrypt every secret with the active key, drop the others\n"
              "  rotate-keys  prepare, rotate and reencrypt in one step\n"
              "  enable/disable  encrypt new and existing secrets, or store them in plaintext");
  fs.String("kubeconfig", &kubeconfig,
            "Admin kubeconfig (default: kubectl's lookup, then "
            "/etc/mini8s/mini8s.yaml)");
  fs.String("output", &output, "Output format for status: text or json").Short('o');
  Status ps = fs.Parse(args);
  if (!ps.ok()) return UsageError("secrets-encrypt", ps.message());
  if (fs.help_requested()) {
    std::printf("%s", fs.Help().c_str());
    return 0;
  }
  if (fs.positional().size() != 1) {
    return UsageError("secrets-encrypt",
                      "expected one command (status, prepare, rotate, "
                      "reencrypt, rotate-keys, enable, disable)");
  }
  const std::string command = fs.positional()[0];
  if (output != "" && output != "text" && output != "json") {
    return UsageError("secrets-encrypt", "--output must be text or json");
  }

  client::KubeconfigSources sources = client::KubeconfigSources::FromEnvironment();
  sources.explicit_path = kubeconfig;
  auto config = client::LoadKubeconfig(sources);
  if (!config.ok()) return Fail("kubeconfig: " + config.error().message());
  auto rest = client::ResolveRestConfig(*config);
  if (!rest.ok()) return Fail("kubeconfig: " + rest.error().message());
  http::ClientOptions co;
  co.ca_pem = rest->ca_pem;
  co.insecure_skip_verify = rest->insecure_skip_tls_verify;
  co.tls_server_name = rest->tls_server_name;
  co.client_cert_pem = rest->client_cert_pem;
  co.client_key_pem = rest->client_key_pem;
  co.request_timeout = std::chrono::minutes(30);  // re-encrypting many secrets takes a while
  co.user_agent = "mini8s-secrets-encrypt";
  auto http_client = http::BlockingClient::Create(co);
  if (!http_client.ok()) return Fail(http_client.error().message());

  http::ClientRequest req;
  std::string server = rest->server;
  while (!server.empty() && server.back() == '/') server.pop_back();
  req.url = server + std::string(server::kEncryptPathPrefix) + command;
  req.method = command == "status" ? "GET" : "POST";
  if (!rest->bearer_token.empty()) req.headers.Set("Authorization", "Bearer " + rest->bearer_token);
  auto resp = (*http_client)->Send(std::move(req));
  if (!resp.ok()) return Fail("server: " + resp.error().message());
  auto body = ParseJson(resp->body);
  if (resp->status != 200) {
    std::string msg = resp->body;
    if (body.ok() && body->is_object()) {
      if (const json::value* m = body->as_object().if_contains("message"); m && m->is_string()) {
        msg = std::string(m->as_string());
      }
    }
    return Fail(msg + " (HTTP " + std::to_string(resp->status) + ")");
  }
  if (!body.ok() || !body->is_object()) return Fail("server sent an unreadable answer");
  if (output == "json") {
    std::printf("%s\n", PrettyJson(*body).c_str());
  } else if (command == "status") {
    PrintStatus(body->as_object());
  } else {
    std::printf("secrets-encrypt %s: done\n", command.c_str());
    PrintStatus(body->as_object());
  }
  return 0;
}

}  // namespace mini8s::cli
