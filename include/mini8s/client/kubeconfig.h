// Kubeconfig: kubectl's client configuration files (clientcmd). Loading follows kubectl:
// --kubeconfig alone when given; else every existing file of $KUBECONFIG (':'-separated), merged so
// that the first file to define a name (or current-context) wins; else ~/.kube/config; else
// mini8s's /etc/mini8s/mini8s.yaml (DESIGN §5). Relative file paths inside a file are resolved
// against that file's directory. *-data fields are base64 and are decoded at load time.
//
// Thread-compatible values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mini8s/common/result.h"

namespace mini8s::client {

struct KubeCluster {
  std::string name;
  std::string server;                      // "https://127.0.0.1:6443"
  std::string certificate_authority;       // file path (absolute after loading)
  std::string certificate_authority_data;  // decoded PEM
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
};

struct KubeUser {
  std::string name;
  std::string client_certificate;       // file path
  std::string client_certificate_data;  // decoded PEM
  std::string client_key;               // file path
  std::string client_key_data;          // decoded PEM
  std::string token;
  std::string token_file;  // file path
};

struct KubeContext {
  std::string name;
  std::string cluster;
  std::string user;
  std::string ns;  // "namespace"
};

struct Kubeconfig {
  std::vector<KubeCluster> clusters;
  std::vector<KubeUser> users;
  std::vector<KubeContext> contexts;
  std::string current_context;

  // Parses one file's text. `source` names it in error messages; `base_dir` resolves relative
  // paths ("" leaves them as written). kInvalid with the source and the offending field.
  static Result<Kubeconfig> Parse(std::string_view yaml, std::string_view source = "<input>",
                                  std::string_view base_dir = "");
  // Reads and parses a file (kNotFound when it does not exist).
  static Result<Kubeconfig> LoadFile(const std::string& path);
  // Adds the entries of `other` whose names are not defined yet (kubectl's merge: first wins).
  void MergeFrom(const Kubeconfig& other);

  const KubeCluster* FindCluster(std::string_view name) const;
  const KubeUser* FindUser(std::string_view name) const;
  const KubeContext* FindContext(std::string_view name) const;
};

// Where configuration comes from. FromEnvironment() reads $KUBECONFIG and $HOME.
struct KubeconfigSources {
  std::string explicit_path;                  // --kubeconfig
  std::optional<std::string> env_kubeconfig;  // $KUBECONFIG
  std::string home;                           // $HOME
  std::string system_path = "/etc/mini8s/mini8s.yaml";
  static KubeconfigSources FromEnvironment();
};

// Loads by kubectl's precedence (see the file comment). kNotFound when no file exists.
Result<Kubeconfig> LoadKubeconfig(const KubeconfigSources& sources);

// Everything needed to talk to one API server, resolved from a context.
struct RestConfig {
  std::string server;
  std::string ca_pem;  // empty: the system trust store
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string bearer_token;
  std::string ns = "default";  // the context's namespace
};

// Resolves `context` (or current-context when empty), reading referenced files. kInvalid with
// kubectl's wording for a missing context, cluster, user or server.
Result<RestConfig> ResolveRestConfig(const Kubeconfig& config, std::string_view context = "");

// Standard base64 (padding optional, whitespace ignored). kInvalid on bad input.
Result<std::string> DecodeBase64(std::string_view in);

}  // namespace mini8s::client
