#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout to every test run: deps, build, ctest.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/packaging/install-deps.sh"
"$src/packaging/build.sh"
ctest --test-dir "${MINI8S_BUILD_DIR:-$src/build}" -j2 --output-on-failure "$@"
