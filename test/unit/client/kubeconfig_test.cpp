#include "mini8s/client/kubeconfig.h"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "testutil/temp_dir.h"

namespace mini8s::client {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64-encoded.
constexpr char kConfig[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==
- name: remote
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: certs/ca.crt
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: bot
  user:
    tokenFile: token
contexts:
- name: dev
  context:
    cluster: local
    user: admin
    namespace: team-a
- name: ops
  context:
    cluster: remote
    user: bot
)";

TEST_CASE("Kubeconfig: parses clusters, users, contexts and decodes data fields",
          "[client][unit]") {
  auto cfg = Kubeconfig::Parse(kConfig, "test", "/base");
  REQUIRE(cfg.has_value());
  CHECK(cfg->current_context == "dev");
  REQUIRE(cfg->clusters.size() == 2);
  CHECK(cfg->clusters[0].certificate_authority_data == "-----BEGIN CERTIFICATE-----\nCA\n");
  CHECK(cfg->clusters[1].certificate_authority == "/base/certs/ca.crt");
  CHECK(cfg->clusters[1].insecure_skip_tls_verify);
  CHECK(cfg->FindUser("admin")->client_certificate_data == "CERT");
  CHECK(cfg->FindUser("admin")->client_key_data == "KEY");
  CHECK(cfg->FindUser("bot")->token_file == "/base/token");
  CHECK(cfg->FindContext("dev")->ns == "team-a");

  auto rc = ResolveRestConfig(*cfg);
  REQUIRE(rc.has_value());
  CHECK(rc->server == "https://127.0.0.1:6443");
  CHECK(rc->ca_pem == "-----BEGIN CERTIFICATE-----\nCA\n");
  CHECK(rc->client_cert_pem == "CERT");
  CHECK(rc->client_key_pem == "KEY");
  CHECK(rc->ns == "team-a");
}

TEST_CASE("Kubeconfig: resolves file references relative to the file", "[client][unit]") {
  testutil::TempDir dir;
  Write(dir.File("config"), kConfig);
  std::ofstream(dir.File("token")) << "s3cret\n";
  std::filesystem::create_directories(dir.File("certs"));
  Write(dir.File("certs/ca.crt"), "CA-PEM");
  auto cfg = Kubeconfig::LoadFile(dir.File("config"));
  REQUIRE(cfg.has_value());
  auto rc = ResolveRestConfig(*cfg, "ops");
  REQUIRE(rc.has_value());
  CHECK(rc->ca_pem == "CA-PEM");
  CHECK(rc->bearer_token == "s3cret");
  CHECK(rc->insecure_skip_tls_verify);
  CHECK(rc->ns == "default");
}

TEST_CASE("Kubeconfig: errors name the file and the field", "[client][unit]") {
  auto bad_yaml = Kubeconfig::Parse("clusters: [\n", "/x/config");
  REQUIRE(!bad_yaml.has_value());
  CHECK(bad_yaml.error().code() == Code::kInvalid);
  CHECK(bad_yaml.error().message().rfind("error loading config file \"/x/config\": ", 0) == 0);

  auto bad_b64 = Kubeconfig::Parse(
      "clusters:\n- name: c\n  cluster:\n    certificate-authority-data: '***'\n", "f");
  REQUIRE(!bad_b64.has_value());
  CHECK(bad_b64.error().message().find(
            "clusters[0].cluster.certificate-authority-data: illegal base64 data") !=
        std::string::npos);

  auto not_list = Kubeconfig::Parse("users: {}\n", "f");
  REQUIRE(!not_list.has_value());
  CHECK(not_list.error().message().find("users: expected a list") != std::string::npos);

  auto no_name = Kubeconfig::Parse("contexts:\n- context: {cluster: c}\n", "f");
  REQUIRE(!no_name.has_value());
  CHECK(no_name.error().message().find("contexts[0].name: Required value") != std::string::npos);

  auto cfg = *Kubeconfig::Parse(kConfig, "f");
  auto missing = ResolveRestConfig(cfg, "nope");
  REQUIRE(!missing.has_value());
  CHECK(missing.error().message() == "context \"nope\" does not exist");
  auto unreadable = ResolveRestConfig(cfg, "ops");  // certs/ca.crt relative to nothing
  CHECK(!unreadable.has_value());
}

TEST_CASE("Kubeconfig: loading follows kubectl's precedence and merge", "[client][unit]") {
  testutil::TempDir dir;
  Write(dir.File("a"), R"(current-context: a
clusters: [{name: shared, cluster: {server: "https://a"}}]
contexts: [{name: a, context: {cluster: shared}}]
)");
  Write(dir.File("b"), R"(current-context: b
clusters: [{name: shared, cluster: {server: "https://b"}}, {name: onlyb, cluster: {server: "https://ob"}}]
contexts: [{name: b, context: {cluster: onlyb}}]
)");
  KubeconfigSources s;
  s.env_kubeconfig = dir.File("missing") + ":" + dir.File("a") + ":" + dir.File("b");
  s.system_path = dir.File("system");
  auto merged = LoadKubeconfig(s);
  REQUIRE(merged.has_value());
  CHECK(merged->current_context == "a");
  CHECK(merged->FindCluster("shared")->server == "https://a");
  CHECK(merged->FindCluster("onlyb") != nullptr);
  CHECK(ResolveRestConfig(*merged, "b")->server == "https://ob");

  // Without $KUBECONFIG: ~/.kube/config, then the system file.
  KubeconfigSources d;
  d.home = dir.File("home");
  d.system_path = dir.File("b");
  auto fallback = LoadKubeconfig(d);
  REQUIRE(fallback.has_value());
  CHECK(fallback->current_context == "b");
  std::filesystem::create_directories(dir.File("home/.kube"));
  Write(dir.File("home/.kube/config"), "current-context: home\n");
  CHECK(LoadKubeconfig(d)->current_context == "home");

  // --kubeconfig wins and must exist.
  KubeconfigSources e;
  e.explicit_path = dir.File("nope");
  CHECK(LoadKubeconfig(e).error().code() == Code::kNotFound);

  KubeconfigSources none;
  none.system_path = dir.File("nothing");
  CHECK(LoadKubeconfig(none).error().code() == Code::kNotFound);
}

TEST_CASE("DecodeBase64: decodes standard base64 with optional padding and rejects junk",
          "[client][unit]") {
  CHECK(*DecodeBase64("aGVsbG8=") == "hello");
  CHECK(*DecodeBase64("aGVsbG8") == "hello");
  CHECK(*DecodeBase64("aGVs\nbG8=") == "hello");
  CHECK(!DecodeBase64("a$==").has_value());
  CHECK(!DecodeBase64("aGVsbG8=x").has_value());
}

}  // namespace
}  // namespace mini8s::client
