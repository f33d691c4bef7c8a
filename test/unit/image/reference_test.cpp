#include <catch2/catch.hpp>

#include "mini8s/image/image.h"

namespace mini8s::image {
namespace {

TEST_CASE("image reference normalizes short docker hub names", "[image][unit]") {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"busybox", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io/library/busybox:1.36"},
      {"library/busybox", "docker.io/library/busybox:latest"},
      {"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
      {"rancher/mirrored-pause:3.6", "docker.io/rancher/mirrored-pause:3.6"},
      {"localhost/foo", "localhost/foo:latest"},
      {"127.0.0.1:5000/busybox:1", "127.0.0.1:5000/busybox:1"},
      {"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"},
      {"a.b/c__d/e-f--g.h:V_1.0-x", "a.b/c__d/e-f--g.h:V_1.0-x"},
      {"[::1]:5000/x", "[::1]:5000/x:latest"},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    Result<Reference> r = ParseReference(c.in);
    REQUIRE(r.ok());
    CHECK(r->String() == c.out);
  }
}

TEST_CASE("image reference keeps a digest and omits the default tag with it", "[image][unit]") {
  std::string d = "sha256:" + std::string(64, 'a');
  Result<Reference> r = ParseReference("busybox@" + d);
  REQUIRE(r.ok());
  CHECK(r->tag.empty());
  CHECK(r->digest == d);
  CHECK(r->String() == "docker.io/library/busybox@" + d);
  Result<Reference> both = ParseReference("quay.io/a/b:1@" + d);
  REQUIRE(both.ok());
  CHECK(both->String() == "quay.io/a/b:1@" + d);
}

TEST_CASE("image reference rejects malformed input with a reason", "[image][unit]") {
  const char* bad[] = {"",     "Busybox", "busybox:",         "busybox:-x",     "a//b",
                       "-a/b", "a/b-",    "busybox@sha256:1", "x@md5:0",        "host:port/a:b:c",
                       "a b",  ":tag",    "a..b/c",           "example.com:x/a"};
  for (const char* in : bad) {
    INFO(in);
    Result<Reference> r = ParseReference(in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().Is(Code::kInvalid));
    CHECK(r.error().message().find("invalid image reference") != std::string::npos);
  }
  CHECK_FALSE(ParseReference(std::string(300, 'a')).ok());
}

TEST_CASE("image digests and chain ids follow the OCI definitions", "[image][unit]") {
  CHECK(DigestOf("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(ValidateDigest(DigestOf("x")).ok());
  CHECK_FALSE(ValidateDigest("sha256:ABC").ok());
  std::vector<std::string> ids{DigestOf("a"), DigestOf("b"), DigestOf("c")};
  std::vector<std::string> chain = ChainIds(ids);
  REQUIRE(chain.size() == 3);
  CHECK(chain[0] == ids[0]);
  CHECK(chain[1] == DigestOf(ids[0] + " " + ids[1]));
  CHECK(chain[2] == DigestOf(chain[1] + " " + ids[2]));
}

TEST_CASE("image registries.yaml parses k3s mirrors and configs", "[image][unit]") {
  Result<RegistriesConfig> c = ParseRegistriesConfig(R"(
mirrors:
  docker.io:
    endpoint:
      - "http://127.0.0.1:5000"
      - "https://mirror.example.com"
configs:
  "127.0.0.1:5000":
    auth:
      username: u
      password: p
    tls:
      ca_file: /etc/ca.pem
      insecure_skip_verify: true
)");
  REQUIRE(c.ok());
  REQUIRE(c->mirrors["docker.io"].size() == 2);
  CHECK(c->mirrors["docker.io"][0] == "http://127.0.0.1:5000");
  CHECK(c->configs["127.0.0.1:5000"].auth.username == "u");
  CHECK(c->configs["127.0.0.1:5000"].tls.ca_file == "/etc/ca.pem");
  CHECK(c->configs["127.0.0.1:5000"].tls.insecure_skip_verify);
  CHECK(ParseRegistriesConfig("").ok());
  CHECK_FALSE(ParseRegistriesConfig("mirrors: [1, 2").ok());
  CHECK_FALSE(ParseRegistriesConfig("- a\n- b\n").ok());
}

}  // namespace
}  // namespace mini8s::image
