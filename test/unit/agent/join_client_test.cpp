// Join tokens and CA pinning, as the agent checks them.
#include "mini8s/agent/join_client.h"

#include <catch2/catch.hpp>

#include "mini8s/agent/sim_agent.h"
#include "mini8s/http/tls_material.h"
#include "testutil/temp_dir.h"

namespace mini8s::agent {
namespace {

const std::string kHash(64, 'a');

TEST_CASE("join token: the K10 form carries the CA hash, user and password", "[agent][unit]") {
  auto t = ParseJoinToken("K10" + kHash + "::server:s3cret\n");
  REQUIRE(t.ok());
  CHECK(t->secure());
  CHECK(t->ca_hash == kHash);
  CHECK(t->username == "server");
  CHECK(t->password == "s3cret");
}

TEST_CASE("join token: K10 without a user, and bare secrets, default to the node user",
          "[agent][unit]") {
  auto a = ParseJoinToken("K10" + kHash + "::s3cret");
  REQUIRE(a.ok());
  CHECK(a->username == "node");
  CHECK(a->password == "s3cret");
  auto b = ParseJoinToken("abcdef.0123456789abcdef");
  REQUIRE(b.ok());
  CHECK_FALSE(b->secure());
  CHECK(b->username == "node");
  CHECK(b->password == "abcdef.0123456789abcdef");
}

TEST_CASE("join token: malformed tokens are rejected", "[agent][unit]") {
  CHECK(ParseJoinToken("K10abc::node:x").error().code() == Code::kInvalid);  // short hash
  CHECK(ParseJoinToken("K10" + std::string(64, 'G') + "::node:x").error().code() ==
        Code::kInvalid);                                                             // not hex
  CHECK(ParseJoinToken("K10" + kHash + "node:x").error().code() == Code::kInvalid);  // no ::
  CHECK(ParseJoinToken("K10" + kHash + "::node:").error().code() == Code::kInvalid);
  CHECK(ParseJoinToken("K10" + kHash + ":::x").error().code() == Code::kInvalid);
  CHECK(ParseJoinToken("").error().code() == Code::kInvalid);
}

TEST_CASE("join token: the CA pin matches only the exact bundle", "[agent][unit]") {
  auto ca = http::GenerateSelfSignedCa("test-ca");
  REQUIRE(ca.ok());
  auto other = http::GenerateSelfSignedCa("other-ca");
  REQUIRE(other.ok());
  auto t = ParseJoinToken("K10" + http::CaBundleSha256Hex(ca->cert_pem) + "::node:pw");
  REQUIRE(t.ok());
  CHECK(CheckCaPin(*t, ca->cert_pem).ok());
  Status bad = CheckCaPin(*t, other->cert_pem);
  CHECK(bad.code() == Code::kInvalid);
  CHECK(bad.message().find("does not match") != std::string::npos);
  CHECK_FALSE(CheckCaPin(*t, ca->cert_pem + "\n").ok());  // byte for byte, as k3s hashes it
  auto bare = ParseJoinToken("pw");
  REQUIRE(bare.ok());
  CHECK(CheckCaPin(*bare, other->cert_pem).ok());  // trust on first use
}

TEST_CASE("join token: node passwords are random and kept across restarts", "[agent][unit]") {
  CHECK(NewNodePassword().size() == 32);
  CHECK(NewNodePassword() != NewNodePassword());
  testutil::TempDir dir;
  auto first = LoadOrCreateNodePassword(dir.File("a/b/password"));
  REQUIRE(first.ok());
  auto again = LoadOrCreateNodePassword(dir.File("a/b/password"));
  REQUIRE(again.ok());
  CHECK(*first == *again);
}

}  // namespace
}  // namespace mini8s::agent
