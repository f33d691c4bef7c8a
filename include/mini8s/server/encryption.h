// Secrets encryption at rest (k3s's --secrets-encryption and `secrets-encrypt`;
// docs/design/secrets-encryption.md). Keys live in Kubernetes' EncryptionConfiguration format
// at <data-dir>/server/cred/encryption-config.json: one aesgcm provider listing keys (the first
// writes, all read) and identity (reads plaintext written before encryption was enabled). The
// store applies the SecretsTransformer when it writes rows to and loads rows from SQLite, so
// memory, reads and watches see plaintext and the database sees
// "k8s:enc:aesgcm:v1:<key name>:" + nonce + ciphertext + tag, authenticated with the row's key.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mini8s/common/result.h"
#include "mini8s/http/message.h"
#include "mini8s/server/auth.h"
#include "mini8s/store/store.h"

namespace mini8s::server {

// Where the API server keeps Secrets (rest.cpp's Prefix for core/secrets).
inline constexpr std::string_view kSecretsStoragePrefix = "/registry/core/secrets/";
// The supervisor endpoints `mini8s secrets-encrypt` talks to (system:masters only).
inline constexpr std::string_view kEncryptPathPrefix = "/v1-mini8s/encrypt/";
inline constexpr std::string_view kEncryptedValuePrefix = "k8s:enc:aesgcm:v1:";

struct EncryptionKey {
  std::string name;
  std::string secret;  // 32 raw bytes (AES-256)
};

struct EncryptionConfig {
  // aesgcm is the first provider (new values are encrypted); false: identity first (new values
  // are written in plaintext, the keys still read old ones).
  bool enabled = true;
  std::vector<EncryptionKey> keys;  // keys[0] encrypts when enabled

  // Parses an EncryptionConfiguration (JSON; apiserver.config.k8s.io/v1) whose resources include
  // secrets with aesgcm and/or identity providers. kInvalid names the problem.
  static Result<EncryptionConfig> Parse(std::string_view text);
  std::string Serialize() const;
  // A new random key named aesgcmkey-<UTC time>, unique among `keys`.
  EncryptionKey NewKey() const;
};

std::string EncryptionConfigPath(const std::string& data_dir);

// The ValueTransformer for keys under kSecretsStoragePrefix. Thread-safe; SetConfig swaps the
// keys atomically for later calls.
class SecretsTransformer final : public store::ValueTransformer {
 public:
  explicit SecretsTransformer(EncryptionConfig config);
  void SetConfig(EncryptionConfig config);
  std::shared_ptr<const EncryptionConfig> config() const;

  bool Applies(std::string_view key) const override;
  Result<std::string> ToStorage(std::string_view key, std::string_view value) const override;
  Result<std::string> FromStorage(std::string_view key, std::string_view stored,
                                  bool* stale) const override;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const EncryptionConfig> config_;
};

// For values a transformer could not read (kept in memory as stored): the API error to report
// instead of "not JSON" (upstream: "no matching key"), or nullopt for other values.
std::optional<std::string> UndecryptableValueError(std::string_view value);

// Loads <data-dir>/server/cred/encryption-config.json. Absent: with `enable`, writes a new one
// with a fresh key (mode 0600); without, returns null (encryption was never set up). Present and
// `enable` on a config whose identity provider comes first: aesgcm is made first again.
Result<std::shared_ptr<SecretsTransformer>> LoadSecretsEncryption(const std::string& data_dir,
                                                                  bool enable);

// The `secrets-encrypt` operations on the running server. Stages as k3s names them: start,
// prepare, rotate, reencrypt_active, reencrypt_finished. Operations run one at a time.
class EncryptionService {
 public:
  // `transformer` null: encryption was never set up; status says so and the rest fail.
  EncryptionService(std::string data_dir, std::shared_ptr<SecretsTransformer> transformer,
                    store::Store& store, std::shared_ptr<const Authenticator> authenticator);

  // {enabled, stage, configHash, keys: [{name, type, active, hash}]}.
  boost::json::object StatusObject() const;
  // prepare | rotate | reencrypt | rotate-keys | enable | disable. Returns the status after it.
  Result<boost::json::object> Run(std::string_view command);
  // Rewrites every stored Secret whose stored form is stale (plaintext, an old key); at start.
  Result<store::RewriteStats> Reencrypt();

  // Serves kEncryptPathPrefix: GET status, POST <command>; x509/token users in system:masters.
  http::HttpResponse Handle(const http::HttpRequest& request);

 private:
  Status SaveConfig(const EncryptionConfig& config);
  Status SaveStage(const std::string& stage);
  Result<boost::json::object> RunLocked(std::string_view command);
  // Rewrites with the current keys; on success drops every key but the first.
  Status ReencryptAndDropOldKeys();

  const std::string data_dir_;
  const std::shared_ptr<SecretsTransformer> transformer_;
  store::Store& store_;
  const std::shared_ptr<const Authenticator> authenticator_;
  std::mutex op_mu_;
  mutable std::mutex stage_mu_;
  std::string stage_;
};

}  // namespace mini8s::server
