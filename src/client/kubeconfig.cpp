#include "mini8s/client/kubeconfig.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "mini8s/common/yaml.h"

namespace mini8s::client {

namespace json = boost::json;

Result<std::string> DecodeBase64(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding) return Status::Invalid("illegal base64 data");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return Status::Invalid("illegal base64 data");  // a dangling sextet
  return out;
}

namespace {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno(errno, "open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool FileExists(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

std::string ResolvePath(std::string_view base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  std::string out(base_dir);
  if (out.back() != '/') out.push_back('/');
  return out + path;
}

// Reads the string field `key` of `obj`; "" when absent. kInvalid when present but not a string.
Result<std::string> Str(const json::object& obj, std::string_view key, const std::string& where) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string())
    return Status::Invalid(where + "." + std::string(key) + ": expected a string");
  return std::string(v->as_string());
}

Result<bool> Bool(const json::object& obj, std::string_view key, const std::string& where) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return false;
  if (!v->is_bool())
    return Status::Invalid(where + "." + std::string(key) + ": expected a boolean");
  return v->as_bool();
}

Result<std::string> Data(const json::object& obj, std::string_view key, const std::string& where) {
  MINI8S_ASSIGN_OR_RETURN(std::string raw, Str(obj, key, where));
  if (raw.empty()) return raw;
  auto decoded = DecodeBase64(raw);
  if (!decoded.has_value()) {
    return Status::Invalid(where + "." + std::string(key) + ": " + decoded.error().message());
  }
  return std::move(decoded).value();
}

// Visits each {name, <inner>: {...}} entry of the list `list_key`.
template <class Fn>
Status ForEachNamed(const json::object& root, std::string_view list_key, std::string_view inner,
                    Fn fn) {
  const json::value* list = root.if_contains(list_key);
  if (list == nullptr || list->is_null()) return Status();
  if (!list->is_array()) return Status::Invalid(std::string(list_key) + ": expected a list");
  std::size_t i = 0;
  for (const json::value& item : list->as_array()) {
    std::string where = std::string(list_key) + "[" + std::to_string(i++) + "]";
    if (!item.is_object()) return Status::Invalid(where + ": expected a mapping");
    const json::object& entry = item.as_object();
    MINI8S_ASSIGN_OR_RETURN(std::string name, Str(entry, "name", where));
    if (name.empty()) return Status::Invalid(where + ".name: Required value");
    const json::value* body = entry.if_contains(inner);
    json::object empty;
    if (body != nullptr && !body->is_null() && !body->is_object()) {
      return Status::Invalid(where + "." + std::string(inner) + ": expected a mapping");
    }
    const json::object& b = (body && body->is_object()) ? body->as_object() : empty;
    MINI8S_RETURN_IF_ERROR(fn(std::move(name), b, where + "." + std::string(inner)));
  }
  return Status();
}

}  // namespace

Result<Kubeconfig> Kubeconfig::Parse(std::string_view yaml, std::string_view source,
                                     std::string_view base_dir) {
  auto parsed = ParseYaml(yaml);
  std::string src(source);
  if (!parsed.has_value()) {
    return Status::Invalid("error loading config file \"" + src +
                           "\": " + parsed.error().message());
  }
  Kubeconfig cfg;
  if (parsed->is_null()) return cfg;  // an empty file is an empty config, as kubectl treats it
  if (!parsed->is_object()) {
    return Status::Invalid("error loading config file \"" + src + "\": expected a mapping");
  }
  const json::object& root = parsed->as_object();
  Status s = [&]() -> Status {
    MINI8S_ASSIGN_OR_RETURN(cfg.current_context, Str(root, "current-context", "config"));
    MINI8S_RETURN_IF_ERROR(ForEachNamed(
        root, "clusters", "cluster",
        [&](std::string name, const json::object& c, const std::string& where) -> Status {
          KubeCluster k;
          k.name = std::move(name);
          MINI8S_ASSIGN_OR_RETURN(k.server, Str(c, "server", where));
          MINI8S_ASSIGN_OR_RETURN(k.certificate_authority, Str(c, "certificate-authority", where));
          k.certificate_authority = ResolvePath(base_dir, k.certificate_authority);
          MINI8S_ASSIGN_OR_RETURN(k.certificate_authority_data,
                                  Data(c, "certificate-authority-data", where));
          MINI8S_ASSIGN_OR_RETURN(k.insecure_skip_tls_verify,
                                  Bool(c, "insecure-skip-tls-verify", where));
          MINI8S_ASSIGN_OR_RETURN(k.tls_server_name, Str(c, "tls-server-name", where));
          cfg.clusters.push_back(std::move(k));
          return Status();
        }));
    MINI8S_RETURN_IF_ERROR(ForEachNamed(
        root, "users", "user",
        [&](std::string name, const json::object& u, const std::string& where) -> Status {
          KubeUser k;
          k.name = std::move(name);
          MINI8S_ASSIGN_OR_RETURN(k.client_certificate, Str(u, "client-certificate", where));
          k.client_certificate = ResolvePath(base_dir, k.client_certificate);
          MINI8S_ASSIGN_OR_RETURN(k.client_certificate_data,
                                  Data(u, "client-certificate-data", where));
          MINI8S_ASSIGN_OR_RETURN(k.client_key, Str(u, "client-key", where));
          k.client_key = ResolvePath(base_dir, k.client_key);
          MINI8S_ASSIGN_OR_RETURN(k.client_key_data, Data(u, "client-key-data", where));
          MINI8S_ASSIGN_OR_RETURN(k.token, Str(u, "token", where));
          MINI8S_ASSIGN_OR_RETURN(k.token_file, Str(u, "tokenFile", where));
          k.token_file = ResolvePath(base_dir, k.token_file);
          cfg.users.push_back(std::move(k));
          return Status();
        }));
    MINI8S_RETURN_IF_ERROR(ForEachNamed(
        root, "contexts", "context",
        [&](std::string name, const json::object& c, const std::string& where) -> Status {
          KubeContext k;
          k.name = std::move(name);
          MINI8S_ASSIGN_OR_RETURN(k.cluster, Str(c, "cluster", where));
          MINI8S_ASSIGN_OR_RETURN(k.user, Str(c, "user", where));
          MINI8S_ASSIGN_OR_RETURN(k.ns, Str(c, "namespace", where));
          cfg.contexts.push_back(std::move(k));
          return Status();
        }));
    return Status();
  }();
  if (!s.ok()) return Status::Invalid("error loading config file \"" + src + "\": " + s.message());
  return cfg;
}

Result<Kubeconfig> Kubeconfig::LoadFile(const std::string& path) {
  MINI8S_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? std::string(".") : path.substr(0, slash + 1);
  return Parse(text, path, dir);
}

void Kubeconfig::MergeFrom(const Kubeconfig& other) {
  if (current_context.empty()) current_context = other.current_context;
  for (const auto& c : other.clusters) {
    if (!FindCluster(c.name)) clusters.push_back(c);
  }
  for (const auto& u : other.users) {
    if (!FindUser(u.name)) users.push_back(u);
  }
  for (const auto& c : other.contexts) {
    if (!FindContext(c.name)) contexts.push_back(c);
  }
}

const KubeCluster* Kubeconfig::FindCluster(std::string_view name) const {
  for (const auto& c : clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const KubeUser* Kubeconfig::FindUser(std::string_view name) const {
  for (const auto& u : users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const KubeContext* Kubeconfig::FindContext(std::string_view name) const {
  for (const auto& c : contexts) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

KubeconfigSources KubeconfigSources::FromEnvironment() {
  KubeconfigSources s;
  if (const char* kc = std::getenv("KUBECONFIG")) s.env_kubeconfig = std::string(kc);
  if (const char* home = std::getenv("HOME")) s.home = home;
  return s;
}

Result<Kubeconfig> LoadKubeconfig(const KubeconfigSources& sources) {
  if (!sources.explicit_path.empty()) return Kubeconfig::LoadFile(sources.explicit_path);
  std::vector<std::string> files;
  if (sources.env_kubeconfig && !sources.env_kubeconfig->empty()) {
    std::string_view list = *sources.env_kubeconfig;
    while (!list.empty()) {
      auto colon = list.find(':');
      std::string_view item = list.substr(0, colon);
      if (!item.empty()) files.emplace_back(item);
      if (colon == std::string_view::npos) break;
      list.remove_prefix(colon + 1);
    }
  } else {
    if (!sources.home.empty()) files.push_back(sources.home + "/.kube/config");
    files.push_back(sources.system_path);
  }
  Kubeconfig merged;
  bool any = false;
  for (const auto& f : files) {
    if (!FileExists(f)) continue;  // kubectl skips missing $KUBECONFIG entries
    MINI8S_ASSIGN_OR_RETURN(Kubeconfig one, Kubeconfig::LoadFile(f));
    merged.MergeFrom(one);
    any = true;
    // Without $KUBECONFIG only the first existing default file is used.
    if (!sources.env_kubeconfig || sources.env_kubeconfig->empty()) break;
  }
  if (!any) {
    return Status::NotFound(
        "no configuration has been provided: set --kubeconfig or $KUBECONFIG, or create "
        "~/.kube/config (a mini8s server writes " +
        sources.system_path + ")");
  }
  return merged;
}

Result<RestConfig> ResolveRestConfig(const Kubeconfig& config, std::string_view context) {
  std::string name(context.empty() ? std::string_view(config.current_context) : context);
  if (name.empty()) {
    return Status::Invalid("invalid configuration: no current context is set");
  }
  const KubeContext* ctx = config.FindContext(name);
  if (ctx == nullptr) return Status::Invalid("context \"" + name + "\" does not exist");
  const KubeCluster* cluster = config.FindCluster(ctx->cluster);
  if (cluster == nullptr) {
    return Status::Invalid("invalid configuration: cluster \"" + ctx->cluster + "\" of context \"" +
                           name + "\" was not found");
  }
  if (cluster->server.empty()) {
    return Status::Invalid("invalid configuration: no server found for cluster \"" + cluster->name +
                           "\"");
  }
  RestConfig rc;
  rc.server = cluster->server;
  while (!rc.server.empty() && rc.server.back() == '/') rc.server.pop_back();
  rc.insecure_skip_tls_verify = cluster->insecure_skip_tls_verify;
  rc.tls_server_name = cluster->tls_server_name;
  if (!cluster->certificate_authority_data.empty()) {
    rc.ca_pem = cluster->certificate_authority_data;
  } else if (!cluster->certificate_authority.empty()) {
    MINI8S_ASSIGN_OR_RETURN(rc.ca_pem, ReadWholeFile(cluster->certificate_authority));
  }
  if (!ctx->ns.empty()) rc.ns = ctx->ns;
  if (!ctx->user.empty()) {
    const KubeUser* user = config.FindUser(ctx->user);
    if (user == nullptr) {
      return Status::Invalid("invalid configuration: user \"" + ctx->user + "\" of context \"" +
                             name + "\" was not found");
    }
    if (!user->client_certificate_data.empty()) {
      rc.client_cert_pem = user->client_certificate_data;
    } else if (!user->client_certificate.empty()) {
      MINI8S_ASSIGN_OR_RETURN(rc.client_cert_pem, ReadWholeFile(user->client_certificate));
    }
    if (!user->client_key_data.empty()) {
      rc.client_key_pem = user->client_key_data;
    } else if (!user->client_key.empty()) {
      MINI8S_ASSIGN_OR_RETURN(rc.client_key_pem, ReadWholeFile(user->client_key));
    }
    if (rc.client_cert_pem.empty() != rc.client_key_pem.empty()) {
      return Status::Invalid("invalid configuration: user \"" + user->name +
                             "\" needs both a client certificate and a client key");
    }
    if (!user->token.empty()) {
      rc.bearer_token = user->token;
    } else if (!user->token_file.empty()) {
      MINI8S_ASSIGN_OR_RETURN(std::string tok, ReadWholeFile(user->token_file));
      while (!tok.empty() && (tok.back() == '\n' || tok.back() == '\r' || tok.back() == ' ')) {
        tok.pop_back();
      }
      rc.bearer_token = std::move(tok);
    }
  }
  return rc;
}

}  // namespace mini8s::client
