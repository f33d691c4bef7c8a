#!/usr/bin/env bash
# Installs everything mini8s needs to build and test, from Debian 12's archive only.
# Idempotent and fast when everything is present: apt runs only if a package is missing.
set -euo pipefail

# Build dependencies (STYLE §1: Boost must be 1.81 by name; Debian's default libboost-dev is 1.74).
BUILD_PKGS=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 libyaml-cpp-dev libssl-dev libnl-3-dev libnl-route-3-dev
  libarchive-dev libseccomp-dev catch2
  libzstd-dev liblz4-dev libacl1-dev  # libarchive's dependencies, linked statically (runtime.md)
)
# What the tests drive: real clients, a real registry, the runc anchor, network tools.
TEST_PKGS=(
  curl ca-certificates openssl file tzdata iproute2 procps psmisc util-linux python3
  python3-kubernetes
  runc busybox-static
  docker-registry skopeo umoci apache2-utils zstd  # test/unit/image: real registry e2e
  qemu-system-x86 cpio xz-utils  # test/vm: the unified cgroup v2 guest
  etcd-server clang-14 libclang-rt-14-dev  # test/bench api_bench anchor; test/fuzz (libFuzzer)
)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
