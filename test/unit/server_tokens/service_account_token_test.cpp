#include "mini8s/server/service_account_token.h"

#include <map>
#include <mutex>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mini8s/api/object.h"
#include "mini8s/api/registry.h"
#include "mini8s/client/kubeconfig.h"
#include "mini8s/http/tls_material.h"
#include "mini8s/server/authentication_apis.h"
#include "mini8s/server/builtin_admission.h"
#include "mini8s/server/jwt.h"
#include "testutil/fake_clock.h"
#include "testutil/temp_dir.h"

namespace mini8s::server {
namespace {

namespace json = boost::json;

const std::string& Key() {
  static const std::string pem = http::GenerateKey(http::KeyType::kRsa2048)->pem;
  return pem;
}

// Core objects by "resource/ns/name", as the store would answer.
struct Objects {
  std::mutex mu;
  std::map<std::string, json::object> objects;
  void Put(const std::string& resource, const std::string& ns, const std::string& name,
           const std::string& uid, json::object extra = {}) {
    json::object o = std::move(extra);
    json::object& meta = api::MutableMetadata(o);
    meta["name"] = name;
    if (!ns.empty()) meta["namespace"] = ns;
    meta["uid"] = uid;
    std::lock_guard lock(mu);
    objects[resource + "/" + ns + "/" + name] = std::move(o);
  }
  void Remove(const std::string& resource, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu);
    objects.erase(resource + "/" + ns + "/" + name);
  }
  ObjectGetter Getter() {
    return [this](std::string_view r, std::string_view ns,
                  std::string_view name) -> Result<json::object> {
      std::lock_guard lock(mu);
      auto it = objects.find(std::string(r) + "/" + std::string(ns) + "/" + std::string(name));
      if (it == objects.end()) return Status::NotFound(std::string(name));
      return it->second;
    };
  }
};

struct Fixture {
  testutil::FakeClock clock;
  Objects objects;
  std::shared_ptr<ServiceAccountTokens> tokens;
  Fixture() {
    objects.Put("serviceaccounts", "default", "default", "sa-uid-1");
    objects.Put("pods", "default", "web", "pod-uid-1",
                json::object{
                    {"spec", json::object{{"serviceAccountName", "default"}, {"nodeName", "n1"}}}});
    objects.Put("nodes", "", "n1", "node-uid-1");
    ServiceAccountTokenOptions o;
    o.clock = &clock;
    o.ca_pem = "CA";
    auto t = ServiceAccountTokens::Create(Key(), o, objects.Getter());
    REQUIRE(t.ok());
    tokens = *t;
  }
  Result<json::object> Request(json::object spec, std::string sa = "default") {
    return tokens->HandleTokenRequest("default", sa, json::object{{"spec", std::move(spec)}});
  }
  std::string Token(json::object spec = {}) {
    auto r = Request(std::move(spec));
    REQUIRE(r.ok());
    return std::string(api::GetString(*r, "status.token"));
  }
};

TEST_CASE("ServiceAccountTokens: a TokenRequest gets upstream's claims and response",
          "[server][unit]") {
  Fixture f;
  auto r = f.Request({});
  REQUIRE(r.ok());
  CHECK(api::Kind(*r) == "TokenRequest");
  CHECK(api::GetInt(*r, "spec.expirationSeconds") == 3600);
  CHECK(api::GetString(*r, "status.expirationTimestamp") ==
        FormatRfc3339(f.clock.Now() + std::chrono::seconds(3600)));
  auto claims = jwt::UnverifiedClaims(api::GetString(*r, "status.token"));
  REQUIRE(claims.ok());
  CHECK(api::GetString(*claims, "iss") == kDefaultServiceAccountIssuer);
  CHECK(api::GetString(*claims, "sub") == "system:serviceaccount:default:default");
  CHECK(json::serialize(claims->at("aud")) == "[\"https://kubernetes.default.svc.cluster.local\"]");
  CHECK(api::GetInt(*claims, "exp") == jwt::ToNumericDate(f.clock.Now()) + 3600);
  CHECK(api::GetInt(*claims, "iat") == api::GetInt(*claims, "nbf"));
  CHECK(api::GetString(*claims, "jti").size() == 36);
  const json::object& k8s = claims->at("kubernetes.io").as_object();
  CHECK(api::GetString(k8s, "namespace") == "default");
  CHECK(api::GetString(k8s, "serviceaccount.uid") == "sa-uid-1");
}

TEST_CASE("ServiceAccountTokens: expirationSeconds below ten minutes is 422, a missing account 404",
          "[server][unit]") {
  Fixture f;
  auto r = f.Request(json::object{{"expirationSeconds", 60}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().Is(Code::kInvalid));
  CHECK(r.error().message() ==
        "TokenRequest.authentication.k8s.io \"default\" is invalid: spec.expirationSeconds: "
        "Invalid value: 60: may not specify a duration less than 10 minutes");
  CHECK(
      f.Request(json::object{{"expirationSeconds", int64_t{1} << 33}}).error().Is(Code::kInvalid));
  auto missing = f.Request({}, "ghost");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().Is(Code::kNotFound));
  CHECK(missing.error().message() == "serviceaccounts \"ghost\" not found");
}

TEST_CASE("ServiceAccountTokens: a token authenticates as its service account until it expires",
          "[server][unit]") {
  Fixture f;
  std::string token = f.Token(json::object{{"expirationSeconds", 900}});
  auto u = f.tokens->Authenticate(token, {});
  REQUIRE(u.ok());
  REQUIRE(u->has_value());
  CHECK((*u)->name == "system:serviceaccount:default:default");
  CHECK((*u)->uid == "sa-uid-1");
  CHECK((*u)->groups ==
        std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:default"});
  REQUIRE((*u)->extra.count("authentication.kubernetes.io/credential-id") == 1);
  CHECK((*u)->extra["authentication.kubernetes.io/credential-id"][0].rfind("JTI=", 0) == 0);
  f.clock.Advance(std::chrono::seconds(900 + 61));
  auto expired = f.tokens->Authenticate(token, {});
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().Is(Code::kUnauthorized));
}

TEST_CASE("ServiceAccountTokens: deleting or recreating the service account invalidates tokens",
          "[server][unit]") {
  Fixture f;
  std::string token = f.Token();
  REQUIRE(f.tokens->Authenticate(token, {}).ok());
  f.objects.Put("serviceaccounts", "default", "default", "sa-uid-2");
  auto recreated = f.tokens->Authenticate(token, {});
  REQUIRE_FALSE(recreated.ok());
  CHECK(recreated.error().message() == "service account token has been invalidated");
  f.objects.Remove("serviceaccounts", "default", "default");
  CHECK(f.tokens->Authenticate(token, {}).error().Is(Code::kUnauthorized));
}

TEST_CASE("ServiceAccountTokens: a pod-bound token names the pod and dies with it",
          "[server][unit]") {
  Fixture f;
  auto r = f.Request(json::object{
      {"boundObjectRef", json::object{{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", "web"}}}});
  REQUIRE(r.ok());
  CHECK(api::GetString(*r, "spec.boundObjectRef.uid") == "pod-uid-1");
  std::string token(api::GetString(*r, "status.token"));
  auto claims = jwt::UnverifiedClaims(token);
  const json::object& k8s = claims->at("kubernetes.io").as_object();
  CHECK(api::GetString(k8s, "pod.uid") == "pod-uid-1");
  CHECK(api::GetString(k8s, "node.name") == "n1");
  auto u = f.tokens->Authenticate(token, {});
  REQUIRE(u.ok());
  CHECK((*u)->extra["authentication.kubernetes.io/pod-name"] == std::vector<std::string>{"web"});
  CHECK((*u)->extra["authentication.kubernetes.io/pod-uid"] ==
        std::vector<std::string>{"pod-uid-1"});
  CHECK((*u)->extra["authentication.kubernetes.io/node-name"] == std::vector<std::string>{"n1"});

  SECTION("pod deleted") { f.objects.Remove("pods", "default", "web"); }
  SECTION("pod recreated with another uid") {
    f.objects.Put("pods", "default", "web", "pod-uid-2",
                  json::object{{"spec", json::object{{"serviceAccountName", "default"}}}});
  }
  SECTION("pod terminating for more than a minute") {
    f.objects.Put("pods", "default", "web", "pod-uid-1",
                  json::object{{"metadata", json::object{{"deletionTimestamp",
                                                          FormatRfc3339(f.clock.Now())}}}});
    REQUIRE(f.tokens->Authenticate(token, {}).ok());  // still in its grace minute
    f.clock.Advance(std::chrono::seconds(61));
  }
  auto gone = f.tokens->Authenticate(token, {});
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().Is(Code::kUnauthorized));
}

TEST_CASE("ServiceAccountTokens: bound object references are checked when issuing",
          "[server][unit]") {
  Fixture f;
  auto wrong_uid = f.Request(json::object{
      {"boundObjectRef", json::object{{"kind", "Pod"}, {"name", "web"}, {"uid", "other"}}}});
  CHECK(wrong_uid.error().Is(Code::kConflict));
  CHECK(f.Request(json::object{{"boundObjectRef", json::object{{"kind", "Pod"}, {"name", "nope"}}}})
            .error()
            .Is(Code::kNotFound));
  CHECK(f.Request(
             json::object{{"boundObjectRef", json::object{{"kind", "ConfigMap"}, {"name", "x"}}}})
            .error()
            .Is(Code::kInvalid));
  f.objects.Put("serviceaccounts", "default", "builder", "sa-uid-b");
  auto other_sa = f.Request(
      json::object{{"boundObjectRef", json::object{{"kind", "Pod"}, {"name", "web"}}}}, "builder");
  CHECK(other_sa.error().Is(Code::kBadRequest));
  // A Secret-bound token dies with the Secret.
  f.objects.Put("secrets", "default", "s", "secret-uid");
  std::string token =
      f.Token(json::object{{"boundObjectRef", json::object{{"kind", "Secret"}, {"name", "s"}}}});
  REQUIRE(f.tokens->Authenticate(token, {}).ok());
  f.objects.Remove("secrets", "default", "s");
  CHECK_FALSE(f.tokens->Authenticate(token, {}).ok());
}

TEST_CASE("ServiceAccountTokens: audiences must match the API's or the reviewer's",
          "[server][unit]") {
  Fixture f;
  std::string vault = f.Token(json::object{{"audiences", json::array{"vault"}}});
  auto api = f.tokens->Authenticate(vault, {});
  REQUIRE_FALSE(api.ok());
  CHECK(api.error().Is(Code::kUnauthorized));
  auto reviewed = f.tokens->Authenticate(vault, {"vault"});
  REQUIRE(reviewed.ok());
  CHECK(reviewed->has_value());
  // Another issuer's JWT is not ours: the next authenticator is asked.
  auto signer = jwt::Signer::FromPrivateKeyPem(Key());
  auto foreign = (*signer)->Sign(json::object{{"iss", "https://elsewhere"}, {"exp", 1}});
  auto r = f.tokens->Authenticate(*foreign, {});
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
  auto not_jwt = f.tokens->Authenticate("abcdef.0123456789abcdef", {});
  REQUIRE(not_jwt.ok());
  CHECK_FALSE(not_jwt->has_value());
}

TEST_CASE("ServiceAccountTokens: legacy token secrets are filled and valid while they exist",
          "[server][unit]") {
  Fixture f;
  auto reg = api::Registry::NewBuiltin();
  auto k = reg->FindResource("", "v1", "secrets");
  json::object secret{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"type", "kubernetes.io/service-account-token"},
      {"metadata", json::object{{"name", "legacy"},
                                {"namespace", "default"},
                                {"annotations", json::object{{"kubernetes.io/service-account.name",
                                                              "default"}}}}}};
  UserInfo user{"admin", "", {"system:masters"}};
  AdmissionAttributes a{"CREATE", *k, "", "default", "legacy", &secret, nullptr, user, false};
  auto plugin = f.tokens->NewLegacyTokenAdmission();
  REQUIRE(plugin->Admit(a).ok());
  CHECK(api::Annotation(secret, "kubernetes.io/service-account.uid") == "sa-uid-1");
  auto token = client::DecodeBase64(api::GetString(secret, "data.token"));
  REQUIRE(token.ok());
  CHECK(client::DecodeBase64(api::GetString(secret, "data.namespace")).value() == "default");
  CHECK(client::DecodeBase64(api::GetObject(secret, "data")->at("ca.crt").as_string()).value() ==
        "CA");
  api::MutableMetadata(secret)["uid"] = "secret-uid";
  f.objects.Put("secrets", "default", "legacy", "secret-uid", secret);
  auto u = f.tokens->Authenticate(*token, {});
  REQUIRE(u.ok());
  REQUIRE(u->has_value());
  CHECK((*u)->name == "system:serviceaccount:default:default");
  f.objects.Remove("secrets", "default", "legacy");
  CHECK(f.tokens->Authenticate(*token, {}).error().Is(Code::kUnauthorized));
  // A secret for a missing account is refused.
  api::MutableObjectAt(api::MutableMetadata(secret),
                       "annotations")["kubernetes.io/service-account.name"] = "ghost";
  secret.erase("data");
  CHECK(plugin->Admit(a).Is(Code::kInvalid));
}

json::object PodFor(std::string_view sa) {
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", json::object{{"name", "p"}, {"namespace", "default"}}},
      {"spec", json::object{{"serviceAccountName", sa},
                            {"initContainers", json::array{json::object{{"name", "i"}}}},
                            {"containers", json::array{json::object{{"name", "c"}}}}}}};
}

Status AdmitPod(AdmissionPlugin& p, json::object& pod) {
  auto reg = api::Registry::NewBuiltin();
  auto k = reg->FindResource("", "v1", "pods");
  UserInfo u{"u", "", {}};
  AdmissionAttributes a{"CREATE", *k, "", "default", "p", &pod, nullptr, u, false};
  return p.Admit(a);
}

TEST_CASE("ServiceAccount admission: pods get the kube-api-access volume unless automount is off",
          "[server][unit]") {
  Objects objects;
  objects.Put("serviceaccounts", "default", "default", "u1");
  objects.Put("serviceaccounts", "default", "quiet", "u2",
              json::object{{"automountServiceAccountToken", false}});
  auto plugin = NewServiceAccountDefaults(objects.Getter());
  json::object pod = PodFor("default");
  REQUIRE(AdmitPod(*plugin, pod).ok());
  const json::array* volumes = api::GetArray(pod, "spec.volumes");
  REQUIRE(volumes);
  REQUIRE(volumes->size() == 1);
  const json::object& v = (*volumes)[0].as_object();
  std::string name(api::GetString(v, "name"));
  CHECK(name.rfind("kube-api-access-", 0) == 0);
  CHECK(name.size() == std::string("kube-api-access-").size() + 5);
  const json::array* sources = api::GetArray(v, "projected.sources");
  REQUIRE(sources);
  REQUIRE(sources->size() == 3);
  CHECK(api::GetInt((*sources)[0].as_object(), "serviceAccountToken.expirationSeconds") == 3607);
  CHECK(api::GetString((*sources)[1].as_object(), "configMap.name") == "kube-root-ca.crt");
  for (const char* field : {"spec.containers", "spec.initContainers"}) {
    const json::object& c = (*api::GetArray(pod, field))[0].as_object();
    const json::object& m = (*api::GetArray(c, "volumeMounts"))[0].as_object();
    CHECK(api::GetString(m, "name") == name);
    CHECK(api::GetString(m, "mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount");
    CHECK(api::GetBool(m, "readOnly") == true);
  }

  json::object off = PodFor("default");
  api::MutableObjectAt(off, "spec")["automountServiceAccountToken"] = false;
  REQUIRE(AdmitPod(*plugin, off).ok());
  CHECK(api::GetArray(off, "spec.volumes") == nullptr);

  json::object quiet = PodFor("quiet");
  REQUIRE(AdmitPod(*plugin, quiet).ok());
  CHECK(api::GetArray(quiet, "spec.volumes") == nullptr);
  // The pod's own setting wins over the account's.
  json::object loud = PodFor("quiet");
  api::MutableObjectAt(loud, "spec")["automountServiceAccountToken"] = true;
  REQUIRE(AdmitPod(*plugin, loud).ok());
  CHECK(api::GetArray(loud, "spec.volumes") != nullptr);
}

TEST_CASE("authentication APIs: SelfSubjectReview and TokenReview report the user",
          "[server][unit]") {
  Fixture f;
  UserInfo me{"alice", "42", {"dev", "system:authenticated"}};
  me.extra["k"] = {"v"};
  json::object review = SelfSubjectReview(me);
  CHECK(api::GetString(review, "status.userInfo.username") == "alice");
  CHECK(api::GetArray(review, "status.userInfo.groups")->size() == 2);
  CHECK(api::GetArray(review, "status.userInfo.extra.k")->size() == 1);

  auto authn = Authenticator::FromTokens({});
  authn->AddTokenAuthenticator(f.tokens->NewAuthenticator());
  std::string token = f.Token();
  auto ok =
      TokenReview(*authn, f.tokens.get(), json::object{{"spec", json::object{{"token", token}}}});
  REQUIRE(ok.ok());
  CHECK(api::GetBool(*ok, "status.authenticated") == true);
  CHECK(api::GetString(*ok, "status.user.username") == "system:serviceaccount:default:default");
  auto wrong_aud = TokenReview(
      *authn, f.tokens.get(),
      json::object{{"spec", json::object{{"token", token}, {"audiences", json::array{"vault"}}}}});
  REQUIRE(wrong_aud.ok());
  CHECK_FALSE(api::GetBool(*wrong_aud, "status.authenticated").value_or(false));
  CHECK_FALSE(api::GetString(*wrong_aud, "status.error").empty());
  CHECK(TokenReview(*authn, f.tokens.get(), json::object{}).error().Is(Code::kBadRequest));
}

TEST_CASE("ServiceAccountTokens: the signing key is created once and kept", "[server][unit]") {
  testutil::TempDir dir;
  std::string path = dir.path() + "/service.key";
  auto first = LoadOrCreateServiceAccountKey(path);
  REQUIRE(first.ok());
  auto second = LoadOrCreateServiceAccountKey(path);
  REQUIRE(second.ok());
  CHECK(*first == *second);
  CHECK(ServiceAccountTokens::Create(*first, {}, Objects().Getter()).ok());
}

}  // namespace
}  // namespace mini8s::server
